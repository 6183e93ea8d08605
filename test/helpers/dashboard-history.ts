// A richer history than the local provider can make on this machine, written straight into
// a home's state store (as store-writer.ts does) with the store's own clock set back: a
// training job preempted on AWS spot, failed over past a GCP zone out of capacity, finished
// on Alibaba Cloud; a Slurm job preempted on the low partition and running on high; a
// sweep half done; a service with two replicas. The dashboard's tests and its screenshot
// (scripts/dashboard-screenshot.ts) draw it. No controller holds these jobs: nothing in
// them is cancelled.
import {ServiceStore} from '../../src/state/services.js'
import {Store} from '../../src/state/store.js'
import {testJobSpec} from './job-spec.js'

export interface DashboardHistory {
  train: {id: string; name: string}
  eval: {id: string; name: string}
  sweep: {id: string; name: string}
  service: {id: string; name: string}
}

const MIN = 60_000

export function writeDashboardHistory(home: string, now: Date = new Date()): DashboardHistory {
  let at = now.getTime() - 190 * MIN
  const clock = () => new Date(at)
  const iso = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * MIN).toISOString()
  const store = Store.open(home, {clock})
  try {
    const a100 = {accelerator: 'A100-80GB', acceleratorCount: 8}
    const train = store.createJob({name: 'train-llama', file: null, spec: testJobSpec({name: 'train-llama', run: 'python train.py'})})
    at = now.getTime() - 185 * MIN
    const a1 = store.recordAttemptIntent({
      jobId: train.id,
      provider: 'aws',
      region: 'us-east-1',
      zone: 'us-east-1a',
      instanceType: 'p4de.24xlarge',
      ...a100,
      spot: true,
      pricePerHour: 12.4,
      currency: 'USD',
      onDemandPricePerHour: 40.97,
    })!
    store.updateAttempt(a1.id, {state: 'RUNNING', launchedAt: iso(184), startedAt: iso(181)}, {kind: 'attempt-running'})
    store.setJobState(train.id, 'RUNNING', {kind: 'job-running', attemptId: a1.id})
    at = now.getTime() - 120 * MIN
    store.updateAttempt(
      a1.id,
      {state: 'PREEMPTED', endedAt: iso(120), releasedAt: iso(119), reason: 'spot interruption notice (120 s grace)'},
      {kind: 'attempt-preempted'},
    )
    store.setJobState(train.id, 'RECOVERING', {kind: 'job-recovering'})
    at = now.getTime() - 119 * MIN
    const a2 = store.recordAttemptIntent({
      jobId: train.id,
      provider: 'gcp',
      region: 'us-central1',
      zone: 'us-central1-a',
      instanceType: 'a2-ultragpu-8g',
      ...a100,
      spot: true,
      pricePerHour: 11.1,
      currency: 'USD',
      onDemandPricePerHour: 40.2,
    })!
    store.updateAttempt(
      a2.id,
      {state: 'FAILED', endedAt: iso(118.5), reason: 'ZONE_RESOURCE_POOL_EXHAUSTED: no capacity in us-central1-a'},
      {kind: 'attempt-launch-failed'},
    )
    at = now.getTime() - 118 * MIN
    const a3 = store.recordAttemptIntent({
      jobId: train.id,
      provider: 'aliyun',
      region: 'cn-hangzhou',
      zone: 'cn-hangzhou-h',
      instanceType: 'ecs.gn7e-c16g1.32xlarge',
      ...a100,
      spot: false,
      pricePerHour: 244.1,
      currency: 'CNY',
      onDemandPricePerHour: 244.1,
    })!
    store.updateAttempt(a3.id, {state: 'RUNNING', launchedAt: iso(117), startedAt: iso(115)}, {kind: 'attempt-running'})
    store.setJobState(train.id, 'RUNNING', {kind: 'job-running', attemptId: a3.id})
    at = now.getTime() - 20 * MIN
    store.updateAttempt(a3.id, {state: 'SUCCEEDED', endedAt: iso(20), releasedAt: iso(19), exitCode: 0}, {kind: 'attempt-ended'})
    store.setJobState(train.id, 'SUCCEEDED', {kind: 'job-succeeded'}, {exitCode: 0})

    at = now.getTime() - 150 * MIN
    const evalJob = store.createJob({name: 'eval-v100', file: null, spec: testJobSpec({name: 'eval-v100', run: 'python eval.py'})})
    const b1 = store.recordAttemptIntent({
      jobId: evalJob.id,
      provider: 'slurm',
      region: 'skyhop',
      zone: 'low',
      instanceType: 'low',
      accelerator: 'V100',
      acceleratorCount: 2,
      spot: true,
      pricePerHour: 0,
      currency: 'USD',
      onDemandPricePerHour: 0,
    })!
    store.updateAttempt(b1.id, {state: 'RUNNING', launchedAt: iso(149), startedAt: iso(146)}, {kind: 'attempt-running'})
    store.setJobState(evalJob.id, 'RUNNING', {kind: 'job-running', attemptId: b1.id})
    at = now.getTime() - 70 * MIN
    store.updateAttempt(b1.id, {state: 'PREEMPTED', endedAt: iso(70), releasedAt: iso(70), reason: 'preempted by a job of partition high'})
    const b2 = store.recordAttemptIntent({
      jobId: evalJob.id,
      provider: 'slurm',
      region: 'skyhop',
      zone: 'high',
      instanceType: 'high',
      accelerator: 'V100',
      acceleratorCount: 2,
      spot: false,
      pricePerHour: 0,
      currency: 'USD',
      onDemandPricePerHour: 0,
    })!
    store.updateAttempt(b2.id, {state: 'RUNNING', launchedAt: iso(69), startedAt: iso(68)}, {kind: 'attempt-running'})
    store.setJobState(evalJob.id, 'RUNNING', {kind: 'job-running', attemptId: b2.id})

    at = now.getTime() - 100 * MIN
    const base = testJobSpec({name: 'grid', run: 'python sweep.py'})
    const sweepSpec = {...base, matrix: {lr: [0.1, 0.01, 0.001], batch: [32, 64]}} as typeof base
    const {sweep, jobs} = store.createSweep(
      {
        name: 'lr-grid',
        file: null,
        spec: sweepSpec,
        budgetUsd: 50,
        options: {maxParallel: 2, budget: {amount: 50, currency: 'USD'}},
        plan: null,
      },
      [0.1, 0.01, 0.001].flatMap((lr) =>
        [32, 64].map((batch) => ({name: `lr-grid-${lr}-${batch}`, file: null, spec: base, matrix: {lr, batch}})),
      ),
    )
    jobs.forEach((job, i) => {
      if (i >= 4) return
      at = now.getTime() - (95 - i * 20) * MIN
      const a = store.recordAttemptIntent({
        jobId: job.id,
        provider: 'aws',
        region: 'us-west-2',
        zone: `us-west-2${'abcd'[i]}`,
        instanceType: 'g5.xlarge',
        accelerator: 'A10G',
        acceleratorCount: 1,
        spot: true,
        pricePerHour: 0.42,
        currency: 'USD',
        onDemandPricePerHour: 1.006,
      })!
      store.updateAttempt(a.id, {state: 'RUNNING', launchedAt: new Date(at).toISOString(), startedAt: new Date(at + MIN).toISOString()})
      store.setJobState(job.id, 'RUNNING', {kind: 'job-running', attemptId: a.id})
      if (i < 3) {
        at += 18 * MIN
        store.updateAttempt(a.id, {
          state: 'SUCCEEDED',
          endedAt: new Date(at).toISOString(),
          releasedAt: new Date(at).toISOString(),
          exitCode: 0,
        })
        store.setJobState(job.id, 'SUCCEEDED', {kind: 'job-succeeded'}, {exitCode: 0})
      }
    })

    at = now.getTime() - 60 * MIN
    const services = new ServiceStore(store, clock)
    const svcSpec = testJobSpec({name: 'chat', run: 'vllm serve'})
    const svc = services.createService({name: 'chat', file: null, spec: svcSpec})
    services.setEndpoint(svc.id, 'http://127.0.0.1:30080')
    services.setTarget(svc.id, 2)
    for (const [zone, spot] of [
      ['us-east-1b', true],
      ['us-east-1c', false],
    ] as const) {
      const r = services.recordReplicaIntent({
        serviceId: svc.id,
        version: 1,
        provider: 'aws',
        region: 'us-east-1',
        zone,
        instanceType: 'g6.xlarge',
        accelerator: 'L4',
        acceleratorCount: 1,
        spot,
        pricePerHour: spot ? 0.32 : 0.805,
        currency: 'USD',
        onDemandPricePerHour: 0.805,
        address: null,
      })
      services.updateReplica(r.id, {state: 'READY', launchedAt: iso(59), readyAt: iso(57), address: `http://10.0.0.${r.n}:8000`})
    }
    return {
      train: {id: train.id, name: train.name},
      eval: {id: evalJob.id, name: evalJob.name},
      sweep: {id: sweep.id, name: sweep.name},
      service: {id: svc.id, name: svc.name},
    }
  } finally {
    store.close()
  }
}
