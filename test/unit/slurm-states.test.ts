// Every Slurm job state, mapped onto skyhop's attempt states, together with what the
// runner left in the attempt directory; and sbatch's refusals onto the error taxonomy.
import {expect} from 'chai'

import {ProviderError} from '../../src/errors.js'
import {gangPoll} from '../../src/providers/gang.js'
import {queryError, submitError} from '../../src/providers/slurm/commands.js'
import {
  describeReason,
  mapForgotten,
  mapSlurmState,
  slurmRankResults,
  type RunnerObservation,
  type SlurmObservation,
} from '../../src/providers/slurm/states.js'

const slurm = (state: string, extra: Partial<SlurmObservation> = {}): SlurmObservation => ({
  state,
  reason: null,
  slurmExitCode: null,
  restarts: 0,
  preemptTime: null,
  startedAt: '2026-11-27T22:00:00.000Z',
  endedAt: null,
  ...extra,
})

const runner = (extra: Partial<RunnerObservation> = {}): RunnerObservation => ({
  exitCode: null,
  stopRequest: null,
  cancelled: false,
  noticed: false,
  startedAt: null,
  endedAt: null,
  ...extra,
})

describe('slurm state mapping', () => {
  it("takes the job's own status (job.status) once the job is over and its runner died without exit_code", () => {
    const orphan = runner({startedAt: '2026-11-27T22:00:01.000Z', jobStatus: 0, jobStatusAt: '2026-11-27T22:00:09.000Z'})
    // The step's exit (the keeper's) agrees; the job's own file is what decides.
    const done = mapSlurmState(slurm('COMPLETED', {slurmExitCode: 0}), orphan)
    expect(done).to.include({state: 'SUCCEEDED', exitCode: 0, endedAt: '2026-11-27T22:00:09.000Z'})
    const failed = mapSlurmState(slurm('FAILED', {slurmExitCode: 137}), {...orphan, jobStatus: 3})
    expect(failed).to.include({state: 'FAILED', exitCode: 3, reason: 'exit 3'})
    expect(mapForgotten({...orphan, jobStatus: 3}, '7')).to.include({state: 'FAILED', exitCode: 3})
    // While Slurm still runs the job the runner may be finishing (a checkpoint upload): not over yet.
    expect(mapSlurmState(slurm('RUNNING'), orphan).state).to.equal('RUNNING')
    // Without the job's status either, the attempt is lost as before.
    expect(mapForgotten(runner(), '7').state).to.equal('LOST')
  })

  it('maps waiting states to PENDING with the reason explained', () => {
    for (const state of ['PENDING', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD']) {
      const r = mapSlurmState(slurm(state, {reason: 'Resources'}), runner())
      expect(r.state, state).to.equal('PENDING')
      expect(r.startedAt, state).to.equal(null)
    }
    expect(mapSlurmState(slurm('PENDING', {reason: 'Priority'}), runner()).reason).to.equal('Priority (waiting for higher-priority jobs)')
    expect(mapSlurmState(slurm('PENDING', {reason: 'PartitionDown'}), runner()).reason).to.equal('PartitionDown (the partition is DOWN)')
    expect(mapSlurmState(slurm('PENDING'), runner()).reason).to.equal('queued; not scheduled yet')
    expect(describeReason('ReqNodeNotAvail, UnavailableNodes:vm')).to.equal(
      'ReqNodeNotAvail, UnavailableNodes:vm (a required node is unavailable)',
    )
    expect(describeReason('SomethingNew')).to.equal('SomethingNew')
  })

  it('maps CONFIGURING to PROVISIONING', () => {
    expect(mapSlurmState(slurm('CONFIGURING'), runner()).state).to.equal('PROVISIONING')
  })

  it('maps every state that holds the allocation to RUNNING, saying why where it matters', () => {
    for (const state of ['RUNNING', 'COMPLETING', 'SIGNALING', 'STAGE_OUT', 'RESIZING', 'SUSPENDED', 'STOPPED']) {
      expect(mapSlurmState(slurm(state), runner()).state, state).to.equal('RUNNING')
    }
    expect(mapSlurmState(slurm('SUSPENDED'), runner()).reason).to.match(/^SUSPENDED/)
    expect(mapSlurmState(slurm('RUNNING'), runner({noticed: true})).reason).to.match(/interruption notice/)
    expect(mapSlurmState(slurm('RUNNING'), runner({stopRequest: 'cancel'})).reason).to.match(/cancel requested/)
    expect(mapSlurmState(slurm('RUNNING'), runner()).exitCode).to.equal(null)
  })

  it("maps COMPLETED and FAILED with the runner's exit code (or the job's status), never the runner's own death", () => {
    expect(mapSlurmState(slurm('COMPLETED', {slurmExitCode: 0}), runner({exitCode: 0}))).to.include({
      state: 'SUCCEEDED',
      exitCode: 0,
      reason: null,
    })
    expect(mapSlurmState(slurm('FAILED', {slurmExitCode: 3, reason: 'NonZeroExitCode'}), runner({exitCode: 3}))).to.include({
      state: 'FAILED',
      exitCode: 3,
    })
  })

  it('a runner killed before the job started (no exit_code, no job.status) is LOST, not FAILED with its own 137', () => {
    // The keeper exits with the runner's status when the job never started: Slurm says FAILED 137.
    const killed = mapSlurmState(slurm('FAILED', {slurmExitCode: 137}), runner())
    expect(killed).to.include({state: 'LOST', exitCode: null})
    expect(killed.reason).to.match(/before the job finished/)
    expect(mapSlurmState(slurm('SPECIAL_EXIT', {slurmExitCode: 9}), runner())).to.include({state: 'LOST', exitCode: null})
    expect(mapSlurmState(slurm('COMPLETED', {slurmExitCode: 0}), runner())).to.include({state: 'LOST', exitCode: null})
    // The job's own status still wins when there is one.
    expect(mapSlurmState(slurm('FAILED', {slurmExitCode: 137}), runner({jobStatus: 42}))).to.include({state: 'FAILED', exitCode: 42})
    // A cancel or preemption without an exit code stays what was asked.
    expect(mapSlurmState(slurm('FAILED', {slurmExitCode: 137}), runner({stopRequest: 'cancel'})).state).to.equal('CANCELLED')
    expect(mapSlurmState(slurm('FAILED', {slurmExitCode: 137}), runner({stopRequest: 'preempt'})).state).to.equal('PREEMPTED')
  })

  it('maps TIMEOUT and OUT_OF_MEMORY to FAILED with the cause', () => {
    expect(mapSlurmState(slurm('TIMEOUT'), runner())).to.include({state: 'FAILED', reason: 'TIMEOUT: the job reached its time limit'})
    expect(mapSlurmState(slurm('OUT_OF_MEMORY', {slurmExitCode: 0}), runner())).to.include({state: 'FAILED'})
    expect(mapSlurmState(slurm('OUT_OF_MEMORY'), runner()).reason).to.match(/^OUT_OF_MEMORY/)
  })

  it("maps NODE_FAIL and BOOT_FAIL to LOST: no exit code of the job's own, relaunch elsewhere", () => {
    expect(mapSlurmState(slurm('NODE_FAIL', {slurmExitCode: 0}), runner())).to.include({state: 'LOST', exitCode: null})
    expect(mapSlurmState(slurm('BOOT_FAIL'), runner()).state).to.equal('LOST')
    expect(mapSlurmState(slurm('BOOT_FAIL'), runner()).reason).to.match(/^BOOT_FAIL/)
  })

  it('maps CANCELLED: by skyhop, by someone else, and DEADLINE and REVOKED', () => {
    expect(mapSlurmState(slurm('CANCELLED'), runner({stopRequest: 'cancel', cancelled: true, exitCode: 0}))).to.include({
      state: 'CANCELLED',
      reason: 'cancelled',
    })
    expect(mapSlurmState(slurm('COMPLETED'), runner({cancelled: true, exitCode: 0}))).to.include({state: 'CANCELLED', exitCode: 0})
    expect(mapSlurmState(slurm('CANCELLED', {reason: 'JobHeldUser'}), runner()).reason).to.equal('cancelled outside skyhop (JobHeldUser)')
    expect(mapSlurmState(slurm('DEADLINE'), runner()).state).to.equal('CANCELLED')
    expect(mapSlurmState(slurm('REVOKED'), runner()).state).to.equal('CANCELLED')
  })

  it("maps PREEMPTED, and any end after a preemption notice, to PREEMPTED with the job's exit code", () => {
    expect(mapSlurmState(slurm('PREEMPTED'), runner()).state).to.equal('PREEMPTED')
    // Ended inside the grace: Slurm says COMPLETED or FAILED, its PreemptTime or the runner's notice tells.
    expect(mapSlurmState(slurm('COMPLETED', {preemptTime: '2026-11-27T22:59:58.000Z'}), runner({exitCode: 0}))).to.include({
      state: 'PREEMPTED',
      exitCode: 0,
    })
    expect(mapSlurmState(slurm('FAILED', {slurmExitCode: 143}), runner({noticed: true, exitCode: 143}))).to.include({
      state: 'PREEMPTED',
      exitCode: 143,
    })
    // skyhop preempt delivers the notice the same way.
    expect(mapSlurmState(slurm('CANCELLED'), runner({stopRequest: 'preempt'})).state).to.equal('PREEMPTED')
  })

  it('maps a job Slurm requeued after preemption (restart count up) to PREEMPTED, whatever state it is in now', () => {
    for (const state of ['COMPLETING', 'PENDING', 'REQUEUED', 'RUNNING', 'CANCELLED']) {
      const r = mapSlurmState(slurm(state, {restarts: 1, reason: state === 'PENDING' ? 'BeginTime' : null}), runner())
      expect(r.state, state).to.equal('PREEMPTED')
      expect(r.reason, state).to.match(/^requeued by Slurm \(restart 1; now /)
    }
    // Unless skyhop itself cancelled it.
    expect(mapSlurmState(slurm('CANCELLED', {restarts: 1}), runner({stopRequest: 'cancel'})).state).to.equal('CANCELLED')
    // A requeue skyhop already knew of at launch does not count.
    expect(mapSlurmState(slurm('RUNNING', {restarts: 1}), runner(), 1).state).to.equal('RUNNING')
  })

  it('never ends an attempt on a state it does not know', () => {
    expect(mapSlurmState(slurm('SOME_FUTURE_STATE'), runner())).to.include({
      state: 'PENDING',
      reason: 'unknown Slurm state SOME_FUTURE_STATE',
    })
  })

  it("decides from the runner's files alone once Slurm forgot the job", () => {
    expect(mapForgotten(runner({exitCode: 0}), '7')).to.include({state: 'SUCCEEDED', exitCode: 0})
    expect(mapForgotten(runner({exitCode: 2}), '7')).to.include({state: 'FAILED', exitCode: 2})
    expect(mapForgotten(runner({exitCode: 143, noticed: true}), '7').state).to.equal('PREEMPTED')
    expect(mapForgotten(runner({exitCode: 143, cancelled: true}), '7').state).to.equal('CANCELLED')
    expect(mapForgotten(runner(), '7')).to.include({state: 'LOST', exitCode: null})
    expect(mapForgotten(runner(), '7').reason).to.match(/no longer knows job 7/)
  })
})

describe('slurm errors', () => {
  const fail = (stderr: string) => ({code: 1, stdout: '', stderr})

  it('blocks the partition (a zone) when sbatch says it cannot run there', () => {
    // Captured from the test cluster.
    for (const [stderr, code] of [
      ['sbatch: error: invalid partition specified: nosuch\nallocation failure: Invalid partition name specified\n', 'InvalidPartition'],
      ['sbatch: error: Batch job submission failed: Required partition not available (inactive or drain)\n', 'PartitionUnavailable'],
      ['allocation failure: Requested node configuration is not available\n', 'NodeConfigUnavailable'],
      ['sbatch: error: Invalid generic resource (gres) specification\n', 'GresUnavailable'],
    ] as const) {
      const e = submitError(fail(stderr), 'low')
      expect(e.category, stderr).to.equal('capacity')
      expect(e.scope, stderr).to.equal('zone')
      expect(e.backendCode, stderr).to.equal(code)
      expect(e.message).to.match(/^slurm: partition low: /)
    }
  })

  it('maps limits, access and an unreachable controller', () => {
    expect(
      submitError(
        fail(
          "sbatch: error: QOSMaxSubmitJobPerUserLimit\nsbatch: error: Batch job submission failed: Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)\n",
        ),
        'low',
      ),
    ).to.include({category: 'quota', scope: 'region'})
    expect(
      submitError(fail('sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified\n'), 'low'),
    ).to.include({category: 'auth', scope: 'zone'})
    const unreachable = submitError(
      fail('sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)\n'),
      'low',
    )
    expect(unreachable).to.be.instanceOf(ProviderError)
    expect(unreachable).to.include({category: 'unavailable', scope: 'provider', code: 'SLURM_UNREACHABLE'})
    expect(unreachable.message).to.equal(
      'slurm: cannot reach slurmctld (sbatch: Batch job submission failed: Unable to contact slurm controller (connect failure))',
    )
    expect(submitError(fail('sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying\n'), 'low').category).to.equal(
      'transient',
    )
  })

  it('maps failed queries: unreachable is unavailable, anything else transient', () => {
    expect(queryError('squeue', fail('slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n'))).to.include({
      category: 'unavailable',
      scope: 'provider',
    })
    expect(queryError('sinfo', fail('sinfo: error: Socket timed out on send/recv operation\n'))).to.include({
      category: 'transient',
      code: 'SLURM_BUSY',
    })
    expect(queryError('squeue', fail('squeue: error: something else\n'))).to.include({category: 'transient', code: 'SLURM_COMMAND_FAILED'})
  })
})

describe('slurm gang state (one job, one runner per node)', () => {
  const started = '2026-11-27T22:00:01.000Z'
  const ended = '2026-11-27T22:05:00.000Z'
  /** The gang's result as the provider computes it: the job's mapping, then each rank's, then gang.ts's rule. */
  const gang = (state: string, ranks: RunnerObservation[], extra: Partial<SlurmObservation> = {}) => {
    const attempt = {
      ...ranks[0],
      noticed: ranks.some((r) => r.noticed),
      cancelled: ranks.some((r) => r.cancelled),
    }
    const job = mapSlurmState(slurm(state, extra), attempt)
    return gangPoll(slurmRankResults(job, attempt, ranks))
  }

  it('is PENDING while queued and until every rank has started, RUNNING once all run', () => {
    const queued = gang('PENDING', [runner(), runner()], {reason: 'Resources'})
    expect(queued.state).to.equal('PENDING')
    expect(queued.nodes!.map((n) => n.state)).to.deep.equal(['PENDING', 'PENDING'])
    const half = gang('RUNNING', [runner({startedAt: started}), runner()])
    expect(half.state).to.equal('PENDING')
    expect(half.reason).to.match(/1 of 2 ranks running; rank 1: its runner has not started/)
    const all = gang('RUNNING', [runner({startedAt: started}), runner({startedAt: started})])
    expect(all.state).to.equal('RUNNING')
    expect(all.nodes!.map((n) => n.state)).to.deep.equal(['RUNNING', 'RUNNING'])
  })

  it('fails the gang when one rank exits non-zero, while the others still run', () => {
    const r = gang('RUNNING', [runner({startedAt: started}), runner({startedAt: started, exitCode: 3, endedAt: ended})])
    expect(r.state).to.equal('FAILED')
    expect(r.exitCode).to.equal(3)
    expect(r.reason).to.match(/^rank 1: exit 3/)
    expect(r.nodes!.map((n) => `${n.rank}:${n.state}`)).to.deep.equal(['0:RUNNING', '1:FAILED'])
  })

  it('a rank ending non-zero while the gang is being stopped is part of the stop, not a failure', () => {
    // Rank 0 got the notice; rank 1 died of its peers' going before its runner read the gang notice.
    const r = gang('COMPLETED', [
      runner({startedAt: started, noticed: true, exitCode: 0, endedAt: ended}),
      runner({startedAt: started, exitCode: 1, endedAt: ended}),
    ])
    expect(r.state).to.equal('PREEMPTED')
    expect(r.exitCode).to.equal(0)
    const cancelled = gang('CANCELLED', [
      runner({startedAt: started, stopRequest: 'cancel', exitCode: 143, endedAt: ended}),
      runner({startedAt: started, stopRequest: 'cancel', exitCode: 143, endedAt: ended}),
    ])
    expect(cancelled.state).to.equal('CANCELLED')
  })

  it("takes the head's exit code as the job's, and fails a gang one of whose ranks never wrote its own", () => {
    const ok = gang('COMPLETED', [
      runner({startedAt: started, exitCode: 0, endedAt: ended}),
      runner({startedAt: started, exitCode: 0, endedAt: ended}),
    ])
    expect(ok).to.deep.include({state: 'SUCCEEDED', exitCode: 0})
    const silent = gang('COMPLETED', [runner({startedAt: started, exitCode: 0, endedAt: ended}), runner({startedAt: started})])
    expect(silent.state).to.equal('FAILED')
    expect(silent.reason).to.match(/^rank 1: its runner recorded no exit code/)
  })

  it('a rank that failed before the gang was stopped stays FAILED after the cleanup that followed', () => {
    // Rank 1 failed at 22:01; the controller then cancelled the rest (stop request, then Slurm's SIGTERM at rank 0).
    const rank0 = runner({
      startedAt: started,
      stopRequest: 'cancel',
      cancelled: true,
      exitCode: 143,
      endedAt: ended,
      stoppedAt: '2026-11-27T22:01:05.000Z',
    })
    const rank1 = runner({startedAt: started, stopRequest: 'cancel', exitCode: 3, endedAt: '2026-11-27T22:01:00.000Z'})
    const attempt = {...rank0, cancelled: true, stoppedAt: '2026-11-27T22:01:05.000Z'}
    const r = gangPoll(slurmRankResults(mapSlurmState(slurm('CANCELLED'), attempt), attempt, [rank0, rank1]))
    expect(r.nodes!.map((n) => n.state)).to.deep.equal(['CANCELLED', 'FAILED'])
    expect(r.state).to.equal('FAILED')
    expect(r.reason).to.match(/^rank 1: exit 3/)
  })

  it('a gang Slurm requeued after preemption is PREEMPTED at every rank', () => {
    const r = gang('PENDING', [runner({startedAt: started}), runner({startedAt: started})], {restarts: 1})
    expect(r.state).to.equal('PREEMPTED')
    expect(r.nodes!.map((n) => n.state)).to.deep.equal(['PREEMPTED', 'PREEMPTED'])
  })
})
