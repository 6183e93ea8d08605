// Right-sizing's pure half (src/planner/right-size.ts): what earlier runs say the job needs,
// the smaller requests worth planning, and the advice from the planned variants.
import {expect} from 'chai'

import type {JobSpec} from '../../../src/model/job-spec.js'
import type {UsageObservation, UsageSummary} from '../../../src/model/usage.js'
import {measuredText, rightSizeAdvice, rightSizeVariants, usageNeed} from '../../../src/planner/right-size.js'
import type {Candidate} from '../../../src/planner/types.js'

function run(summary: Partial<UsageSummary>, runSeconds = 3600, count = 1): UsageObservation {
  return {
    attemptId: `a${Math.random()}`,
    jobName: 'j',
    fingerprint: 'f',
    provider: 'aws',
    accelerator: 'H100',
    acceleratorCount: count,
    runSeconds,
    summary: {
      samples: 360,
      firstAt: null,
      lastAt: null,
      cpuBusy: 0.3,
      cores: 16,
      memPeakMiB: 4096,
      memTotalMiB: 131072,
      accelerators: count,
      acceleratorTool: 'nvidia-smi',
      acceleratorBusy: 0.3,
      acceleratorMemPeakMiB: 22528,
      acceleratorMemTotalMiB: 81920,
      last: null,
      ...summary,
    },
  }
}

const JOB = {
  name: 'j',
  run: 'python train.py',
  resources: {
    accelerators: [{names: ['H100-80GB'], vendors: ['nvidia'], memoryGB: null, count: {min: 8, max: 8}, text: 'H100:8'}],
    acceleratorOrder: 'any',
    runtimes: ['cuda'],
    cpus: null,
    memoryGB: null,
    diskGB: null,
  },
} as unknown as JobSpec

const candidate = (cost: number | null, accelerator: {name: string; count: number} | null, instanceType = 'x') =>
  ({estimatedCostUsd: cost, accelerator, instanceType, provider: 'aws'}) as unknown as Candidate

describe('right-sizing (pure)', () => {
  it('needs at least one run with 3 samples, and weights busy shares by run time', () => {
    expect(usageNeed([])).to.equal(null)
    expect(usageNeed([run({samples: 2})])).to.equal(null)
    // 1 h at 10% and 3 h at 50%: (0.1 + 1.5) / 4 = 40%.
    const need = usageNeed([run({acceleratorBusy: 0.1}, 3600), run({acceleratorBusy: 0.5, acceleratorMemPeakMiB: 30720}, 3 * 3600)])!
    expect(need.runs).to.equal(2)
    expect(need.acceleratorBusy).to.be.closeTo(0.4, 1e-9)
    expect(need.acceleratorMemPeakMiB).to.equal(30720)
    expect(measuredText(need)).to.equal('2 runs used ≤ 30 GB of 80 GB and were 40% busy')
  })

  it('plans fewer and smaller devices for 8 GPUs at 31% with 22 GB of 80 GB used', () => {
    const need = usageNeed([run({acceleratorBusy: 0.31}, 3600, 8)])!
    const variants = rightSizeVariants(JOB, need)
    expect(variants.map((v) => v.kind)).to.deep.equal(['fewer-accelerators', 'smaller-accelerators'])
    // 8 × 0.31 / 0.8 = 3.1 → 4 devices.
    expect(variants[0].spec.resources.accelerators[0].count).to.deep.equal({min: 4, max: 4})
    // 22 GB × 1.25 = 27.5 → 28 GB, NVIDIA (the vendor the job named), up to twice the devices the work needs.
    expect(variants[1].spec.resources.accelerators).to.deep.equal([
      {names: null, vendors: ['nvidia'], memoryGB: {min: 28}, count: {min: 1, max: 8}, text: 'any accelerator with ≥ 28 GB'},
    ])
    // The job itself is not changed.
    expect(JOB.resources.accelerators[0].count).to.deep.equal({min: 8, max: 8})
  })

  it("plans a CPU-only machine when the accelerators idled beside saturated CPUs, within the job's runtimes", () => {
    const need = usageNeed([run({acceleratorBusy: 0.02, cpuBusy: 0.97, cores: 16, memPeakMiB: 8192})])!
    // The job runs on cuda only: no CPU machine for it.
    expect(rightSizeVariants(JOB, need).map((v) => v.kind)).not.to.include('cpu-only')
    const anyStack = {...JOB, resources: {...JOB.resources, runtimes: ['cuda', 'cpu']}} as JobSpec
    const cpu = rightSizeVariants(anyStack, need).find((v) => v.kind === 'cpu-only')!
    expect(cpu.spec.resources.accelerators).to.deep.equal([])
    expect(cpu.spec.resources.runtimes).to.deep.equal(['cuda', 'cpu'])
    expect(cpu.spec.resources.cpus).to.deep.equal({value: 16, atLeast: true})
    expect(cpu.spec.resources.memoryGB).to.deep.equal({value: 10, atLeast: true})
  })

  it('proposes nothing for busy runs that filled the memory, or a job that asked for no accelerator', () => {
    const busy = usageNeed([run({acceleratorBusy: 0.9, acceleratorMemPeakMiB: 78000})])!
    expect(rightSizeVariants(JOB, busy)).to.deep.equal([])
    const cpuJob = {...JOB, resources: {...JOB.resources, accelerators: []}} as JobSpec
    expect(rightSizeVariants(cpuJob, usageNeed([run({acceleratorBusy: 0.01, cpuBusy: 0.99})])!)).to.deep.equal([])
  })

  it('names the cheapest variant more than 5% below the choice, with the saving', () => {
    const need = usageNeed([
      run({acceleratorBusy: 0.31}, 3600, 8),
      run({acceleratorBusy: 0.31}, 3600, 8),
      run({acceleratorBusy: 0.31}, 3600, 8),
    ])!
    const [fewer, smaller] = rightSizeVariants(JOB, need)
    const advice = rightSizeAdvice(need, candidate(100, {name: 'H100', count: 8}), [
      {variant: fewer, best: candidate(50, {name: 'H100', count: 4})},
      {variant: smaller, best: candidate(42, {name: 'L4', count: 2})},
    ])
    expect(advice.text).to.equal('3 runs used ≤ 22 GB of 80 GB and were 31% busy: L4:2 would cost 58% less')
    expect(advice.options.map((o) => o.kind)).to.deep.equal(['smaller-accelerators', 'fewer-accelerators'])
    const marginal = rightSizeAdvice(need, candidate(100, {name: 'H100', count: 8}), [{variant: fewer, best: candidate(97, null)}])
    expect(marginal.options).to.deep.equal([])
    expect(marginal.text).to.equal(null)
  })
})
