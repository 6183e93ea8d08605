// Small hand-made catalogs and jobs for the planner's tests: every figure is chosen so
// the expected result can be worked out by hand in the test that uses it.
import type {Accelerator, Offer} from '../../../src/model/catalog.js'
import type {AcceleratorRequest, JobSpec} from '../../../src/model/job-spec.js'
import type {PlanInput} from '../../../src/planner/types.js'
import {testJobSpec} from '../../helpers/job-spec.js'

export const NOW = new Date('2025-01-01T00:00:00Z')

export function hoursFromNow(h: number): string {
  return new Date(NOW.getTime() + h * 3_600_000).toISOString()
}

function acc(name: string, vendor: string, runtime: Accelerator['runtime'], tflops: number | null, memoryGB = 80): Accelerator {
  return {
    name,
    aliases: [],
    vendor,
    memoryGB: {value: memoryGB, confidence: 'high', source: 'test'},
    memoryBandwidthTBs: {value: null, confidence: null, source: null},
    denseTflops16: {value: tflops, confidence: tflops === null ? null : 'high', source: tflops === null ? null : 'test datasheet'},
    fp32Tflops: {value: null, confidence: null, source: null},
    runtime,
    k8sResource: null,
    notes: null,
  }
}

export const REGISTRY: Record<string, Accelerator> = {
  SLOW: acc('SLOW', 'nvidia', 'cuda', 100, 40),
  FAST: acc('FAST', 'nvidia', 'cuda', 300, 80),
  H100: acc('H100', 'nvidia', 'cuda', 989, 80),
  Ascend910B: acc('Ascend910B', 'huawei', 'cann', 320, 64),
  MLU370: acc('MLU370', 'cambricon', 'neuware', 96, 48),
  MYSTERY: acc('MYSTERY', 'nvidia', 'cuda', null, 24),
}
export const resolve = (name: string): Accelerator | undefined => REGISTRY[name]

export function request(
  text: string,
  names: string[] | null,
  count: number | [number, number] = 1,
  extra: Partial<AcceleratorRequest> = {},
): AcceleratorRequest {
  const [min, max] = Array.isArray(count) ? count : [count, count]
  return {names, vendors: null, memoryGB: null, count: {min, max}, text, ...extra}
}

export function job(overrides: Omit<Partial<JobSpec>, 'resources'> & {resources?: Partial<JobSpec['resources']>} = {}): JobSpec {
  const {resources, ...rest} = overrides
  return testJobSpec({
    name: 'test-job',
    run: 'python train.py',
    spot: 'on-demand',
    work: {reference: {name: 'SLOW', count: 1}, hours: 10},
    recovery: {graceSeconds: 30},
    idleTimeoutSeconds: 60,
    ...(rest as Partial<JobSpec>),
    resources: {accelerators: [request('SLOW:1', ['SLOW'], 1)], ...resources},
  })
}

export function offer(o: Partial<Offer> & {acc?: string | null; count?: number; od?: number | null; spot?: number | null}): Offer {
  const {acc: name = 'SLOW', count = 1, od = 1, spot = null, ...rest} = o
  return {
    provider: 'aws',
    region: 'us-east-1',
    zone: null,
    instanceType: `${name ?? 'cpu'}x${count}`,
    accelerator: name === null ? null : {name, count},
    vcpus: 8 * Math.max(1, count),
    memoryGiB: 64 * Math.max(1, count),
    price: {onDemand: od, spot, currency: 'USD'},
    priceStatus: 'list',
    expectedQueueMinutes: null,
    preemptionRatePerHour: null,
    capacity: null,
    noticeSeconds: null,
    source: 'test catalog',
    asOf: '2025-01-01',
    confidence: 'high',
    ...rest,
  }
}

export function input(j: JobSpec, offers: Offer[], extra: Partial<PlanInput> = {}): PlanInput {
  return {job: j, offers, accelerators: resolve, now: NOW, enabledProviders: null, fx: {cnyPerUsd: 7.2}, ...extra}
}
