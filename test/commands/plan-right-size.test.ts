// `plan` right-sizing through the built CLI (docs/planner.md#right-sizing): a job's earlier
// runs, recorded in the real store with what they used (as the controller records them from
// the runner's samples; test/integration/usage-local.test.ts covers that half), make the next
// plan of the same job say what it measured and name the cheaper configuration, and
// --right-size plan it.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {loadJobFile} from '../../src/job/load.js'
import type {UsageSummary} from '../../src/model/usage.js'
import {usageFingerprint} from '../../src/providers/usage-samples.js'
import {Store} from '../../src/state/store.js'
import {parseEnvelope, runCli, tempHome} from '../helpers/cli.js'

const JOB = 'name: trainer\nresources: {accelerators: H100:1}\nrun: python train.py\n'

function history(home: string, file: string, runs: number, usage: Partial<UsageSummary>): void {
  const spec = loadJobFile(file).spec
  const store = Store.open(home)
  try {
    for (let i = 0; i < runs; i++) {
      const job = store.createJob({name: spec.name, file, spec})
      const a = store.recordAttemptIntent({
        jobId: job.id,
        provider: 'aws',
        region: 'us-east-1',
        zone: null,
        instanceType: 'p5.4xlarge',
        accelerator: 'H100',
        acceleratorCount: 1,
        spot: false,
        pricePerHour: 6.88,
        currency: 'USD',
        onDemandPricePerHour: 6.88,
      })!
      store.updateAttempt(a.id, {state: 'SUCCEEDED', startedAt: '2026-12-01T10:00:00.000Z', endedAt: '2026-12-01T12:00:00.000Z'})
      const summary: UsageSummary = {
        samples: 720,
        firstAt: '2026-12-01T10:00:10.000Z',
        lastAt: '2026-12-01T12:00:00.000Z',
        cpuBusy: 0.95,
        cores: 16,
        memPeakMiB: 6000,
        memTotalMiB: 256_000,
        accelerators: 1,
        acceleratorTool: 'nvidia-smi',
        acceleratorBusy: 0.02,
        acceleratorMemPeakMiB: 22_000,
        acceleratorMemTotalMiB: 81_559,
        last: null,
        ...usage,
      }
      store.recordUsage({attemptId: a.id, jobId: job.id, jobName: spec.name, fingerprint: usageFingerprint(spec), summary})
    }
  } finally {
    store.close()
  }
}

function plan(home: string, file: string, extra: string[] = []) {
  const r = runCli(['plan', file, '--all-providers', '--json', ...extra], {home})
  expect(r.code, r.stderr).to.equal(0)
  return parseEnvelope(r.stdout).result
}

describe('plan: right-sizing from earlier runs', function () {
  this.timeout(60_000)

  it('says nothing without earlier runs of the same job', () => {
    const home = tempHome()
    const file = join(home, 'job.yaml')
    writeFileSync(file, JOB)
    expect(plan(home, file).rightSize).to.equal(null)
  })

  it('names a CPU-only offer when the accelerator idled beside saturated CPUs, and --right-size plans it', () => {
    const home = tempHome()
    const file = join(home, 'job.yaml')
    writeFileSync(file, JOB)
    history(home, file, 3, {})
    // Of the providers skyhop launches on, the bundled catalog sells no CPU-only machine of 16
    // cores (only Azure's small ones): a catalog file with AWS's, at its list prices.
    const catalog = join(home, 'catalog.json')
    writeFileSync(
      catalog,
      JSON.stringify({
        offers: [
          {
            provider: 'aws',
            region: 'us-east-1',
            instanceType: 'p5.4xlarge',
            accelerator: {name: 'H100', count: 1},
            vcpus: 16,
            memoryGiB: 256,
            price: {onDemand: 6.88, currency: 'USD'},
          },
          {
            provider: 'aws',
            region: 'us-east-1',
            instanceType: 'c7i.4xlarge',
            vcpus: 16,
            memoryGiB: 32,
            price: {onDemand: 0.714, currency: 'USD'},
          },
        ],
      }),
    )
    const before = plan(home, file, ['--catalog', catalog])
    expect(before.chosen.accelerator.name).to.match(/^H100/)
    const rs = before.rightSize
    expect(rs.applied).to.equal(false)
    expect(rs.measured).to.equal('3 runs used ≤ 21 GB of 80 GB and were 2% busy while the CPUs were 95% busy')
    expect(rs.options.map((o: {kind: string}) => o.kind)).to.include('cpu-only')
    expect(rs.text).to.match(/^3 runs used ≤ 21 GB of 80 GB and were 2% busy while the CPUs were 95% busy: .+ would cost \d+% less$/)
    for (const o of rs.options) expect(o.candidate.estimatedCostUsd).to.be.lessThan(before.chosen.estimatedCostUsd)
    const text = runCli(['plan', file, '--all-providers', '--catalog', catalog], {home})
    expect(text.stdout).to.include('Right-sizing: 3 runs used')
    expect(text.stdout).to.include('(plan --right-size plans it)')

    const after = plan(home, file, ['--right-size', '--catalog', catalog])
    expect(after.rightSize.applied).to.equal(true)
    expect(after.chosen.estimatedCostUsd).to.equal(rs.options[0].candidate.estimatedCostUsd)
    expect(after.assumptions.at(-1)).to.match(/^right-sized: /)
  })

  it('suggests a smaller accelerator when memory was mostly unused, none when the runs were busy and full', () => {
    const home = tempHome()
    const file = join(home, 'job.yaml')
    writeFileSync(file, JOB)
    history(home, file, 2, {acceleratorBusy: 0.31, cpuBusy: 0.2})
    const rs = plan(home, file).rightSize
    expect(rs.measured).to.equal('2 runs used ≤ 21 GB of 80 GB and were 31% busy')
    expect(rs.options.map((o: {kind: string}) => o.kind)).to.deep.equal(['smaller-accelerators'])
    expect(rs.options[0].candidate.accelerator.name).not.to.match(/^H100/)

    const busyHome = tempHome()
    const busyFile = join(busyHome, 'job.yaml')
    writeFileSync(busyFile, JOB)
    history(busyHome, busyFile, 2, {acceleratorBusy: 0.93, acceleratorMemPeakMiB: 78_000, cpuBusy: 0.3})
    const busy = plan(busyHome, busyFile).rightSize
    expect(busy.options).to.deep.equal([])
    expect(busy.text).to.equal(null)
  })

  it('does not count runs of a changed job (another fingerprint)', () => {
    const home = tempHome()
    const file = join(home, 'job.yaml')
    writeFileSync(file, JOB)
    history(home, file, 3, {})
    writeFileSync(file, JOB.replace('train.py', 'train2.py'))
    expect(plan(home, file).rightSize).to.equal(null)
  })
})
