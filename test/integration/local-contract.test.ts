// The local provider through the provider contract kit (skyhop/provider runProviderContract),
// the same check a plugin's provider passes: real processes, nothing mocked. The machine
// cannot refuse a launch for capacity, quota or credentials, so those steps are skipped.
import {expect} from 'chai'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {Offer} from '../../src/model/catalog.js'
import {runProviderContract} from '../../src/provider.js'
import {LocalProvider} from '../../src/providers/local/local-provider.js'
import {testJobSpec} from '../helpers/job-spec.js'

describe('local provider: the provider contract kit', function () {
  this.timeout(60_000)
  let home: string

  beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'skyhop-local-contract-'))))
  afterEach(() => rmSync(home, {recursive: true, force: true}))

  it('passes every step it can be asked (no injected refusals on this machine)', async () => {
    let n = 0
    const provider = new LocalProvider({home})
    const steps = await runProviderContract({
      provider,
      request(run) {
        n += 1
        const attemptId = `att-${process.pid}-c${n}`
        return {
          jobId: 'job-contract',
          jobName: 'contract',
          attemptId,
          attempt: 1,
          restartCount: 0,
          idempotencyKey: `key-${attemptId}`,
          spec: testJobSpec({name: 'contract', run}),
          offer: {} as Offer,
          spot: false,
          env: {},
          checkpointDir: join(home, 'checkpoints', 'job-contract'),
          checkpointSync: null,
          graceSeconds: 5,
        }
      },
      pollMs: 50,
    })
    expect(steps.filter((s) => !s.skipped).map((s) => s.step)).to.include.members([
      'check',
      'launch is idempotent',
      'launch → SUCCEEDED, logs, cleanup twice',
      'listOwned finds a running attempt',
      'cancel → CANCELLED, cleanup releases it',
      'preempt notice → PREEMPTED',
    ])
    expect(steps.filter((s) => s.skipped).map((s) => s.step)).to.deep.equal([
      'capacity error mapped',
      'quota error mapped',
      'auth error mapped',
    ])
  })
})
