// Slurm's job states in skyhop's attempt states. Pure: the provider gathers what Slurm
// says (squeue, scontrol, sacct) and what the runner wrote in the attempt directory,
// and this decides. Every state Slurm 22.05–24.x documents is named here; an unknown
// one is treated as still pending, never as ended (ending it would let the controller
// start a second copy beside a job that may still run).
import type {AttemptState} from '../../model/attempt.js'

/** Slurm states in which the job is waiting and holds nothing. */
const WAITING = new Set(['PENDING', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD', 'SPECIAL_EXIT_HOLD'])
/** Slurm states in which the job holds its allocation. */
const HOLDING = new Set([
  'RUNNING',
  'COMPLETING',
  'SIGNALING',
  'STAGE_OUT',
  'RESIZING',
  'SUSPENDED',
  'STOPPED',
  'UPDATE_DB',
  'POWER_UP_NODE',
])
/** Slurm states after which the job never runs again under this id (except by requeue). */
export const SLURM_FINAL_STATES: ReadonlySet<string> = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'NODE_FAIL',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
  'OUT_OF_MEMORY',
  'SPECIAL_EXIT',
  'REVOKED',
])

export interface SlurmObservation {
  /** Long state name from squeue/scontrol/sacct, e.g. `PENDING`, `OUT_OF_MEMORY`. */
  state: string
  reason: string | null
  /** The batch script's exit code (128+N when killed by signal N), when Slurm knows it. */
  slurmExitCode: number | null
  /** Times Slurm requeued the job since it was submitted. */
  restarts: number
  /** Set when Slurm chose this job for preemption (scontrol's PreemptTime). */
  preemptTime: string | null
  startedAt: string | null
  endedAt: string | null
}

/** What the runner left in the attempt directory. */
export interface RunnerObservation {
  /** The job's own exit code (exit_code), once written. */
  exitCode: number | null
  /**
   * The job's status as its own shell wrote it (job.status), and when: what is left when
   * the runner died before writing exit_code. Trusted only once Slurm says the job is over
   * (the runner's keeper then waited for the job), never while the runner may still be
   * finishing (a checkpoint upload comes between the two files).
   */
  jobStatus?: number | null
  jobStatusAt?: string | null
  /** The stop-request skyhop wrote before signalling: cancel or preempt. */
  stopRequest: 'cancel' | 'preempt' | null
  /** The runner recorded a cancel. */
  cancelled: boolean
  /** The runner recorded an interruption notice (e.g. Slurm's preemption SIGTERM). */
  noticed: boolean
  /** When the runner began the job (setup or run), if it did. */
  startedAt: string | null
  endedAt: string | null
  /**
   * When the stop began (ISO): the runner's first notice or cancel, or for a gang the
   * earliest of every rank's, the stop request's and the gang notice's. Unset: unknown.
   */
  stoppedAt?: string | null
}

export interface MappedState {
  state: AttemptState
  exitCode: number | null
  reason: string | null
  startedAt: string | null
  endedAt: string | null
}

const REASON_TEXT: Record<string, string> = {
  Priority: 'waiting for higher-priority jobs',
  Resources: 'waiting for resources',
  PartitionDown: 'the partition is DOWN',
  PartitionInactive: 'the partition is INACTIVE',
  PartitionNodeLimit: 'more nodes than the partition allows',
  PartitionTimeLimit: 'longer than the partition allows',
  BeginTime: 'not before its begin time',
  ReqNodeNotAvail: 'a required node is unavailable',
  NodeDown: 'a node it needs is down',
  JobHeldUser: 'held by the user',
  JobHeldAdmin: 'held by an administrator',
  QOSMaxJobsPerUserLimit: 'QOS limit on jobs per user',
  AssocMaxJobsLimit: 'association limit on jobs',
  Dependency: 'waiting for a dependency',
  Reservation: 'waiting for its reservation',
  Licenses: 'waiting for licenses',
  NonZeroExitCode: 'non-zero exit code',
  OutOfMemory: 'out of memory',
}

/** Slurm's reason code with a few words of explanation: `Resources (waiting for resources)`. */
export function describeReason(reason: string | null): string | null {
  if (reason === null) return null
  const key = reason.split(/[,\s]/)[0]
  const text = REASON_TEXT[key]
  return text ? `${reason} (${text})` : reason
}

/**
 * Decides an attempt's state. `restartsAtLaunch` is the restart count when skyhop
 * submitted the job (0): a higher count means Slurm requeued it, which for skyhop is
 * the end of this attempt by preemption; the controller then cancels the requeued job
 * (cleanup) and relaunches where it wants.
 */
export function mapSlurmState(slurm: SlurmObservation, seen: RunnerObservation, restartsAtLaunch = 0): MappedState {
  const state = slurm.state.toUpperCase().replace(/\+$/, '')
  const runner = SLURM_FINAL_STATES.has(state) ? withJobStatus(seen) : seen
  const startedAt = runner.startedAt ?? slurm.startedAt
  const exitCode = runner.exitCode ?? slurm.slurmExitCode
  const ended = (s: AttemptState, reason: string | null, code: number | null = exitCode): MappedState => ({
    state: s,
    exitCode: code,
    reason,
    startedAt,
    endedAt: runner.endedAt ?? slurm.endedAt ?? null,
  })

  const cancelled = runner.cancelled || runner.stopRequest === 'cancel'
  const requeued = slurm.restarts > restartsAtLaunch

  if ((requeued || state === 'REQUEUED') && !cancelled) {
    return ended('PREEMPTED', `requeued by Slurm (restart ${slurm.restarts}; now ${state}${slurm.reason ? `, ${slurm.reason}` : ''})`)
  }

  if (WAITING.has(state)) {
    return {
      state: 'PENDING',
      exitCode: null,
      reason: describeReason(slurm.reason) ?? (state === 'PENDING' ? 'queued; not scheduled yet' : state),
      startedAt: null,
      endedAt: null,
    }
  }
  if (state === 'CONFIGURING' || state === 'POWER_UP_NODE') {
    return {state: 'PROVISIONING', exitCode: null, reason: 'nodes are booting (CONFIGURING)', startedAt: null, endedAt: null}
  }
  if (HOLDING.has(state)) {
    let reason: string | null = null
    if (state === 'SUSPENDED' || state === 'STOPPED') reason = `${state}: holds its nodes but does not run`
    else if (state === 'COMPLETING') reason = 'COMPLETING: processes are ending'
    if (cancelled) reason = 'stopping (cancel requested)'
    else if (runner.noticed || slurm.preemptTime) reason = 'stopping (interruption notice; in its grace window)'
    return {state: 'RUNNING', exitCode: null, reason, startedAt, endedAt: null}
  }

  if (SLURM_FINAL_STATES.has(state)) {
    if (cancelled) return ended('CANCELLED', state === 'CANCELLED' ? 'cancelled' : `cancelled; Slurm says ${state}`)
    const preempted = state === 'PREEMPTED' || runner.stopRequest === 'preempt' || runner.noticed || slurm.preemptTime !== null
    if (preempted) {
      const how = exitCode === null ? '' : `; exit ${exitCode}`
      return ended('PREEMPTED', `preempted by Slurm (${state}${slurm.preemptTime ? `, notice at ${slurm.preemptTime}` : ''})${how}`)
    }
    // The batch script's status is the runner's (its keeper's), not the job's: a runner that
    // recorded no exit code, with no job.status either, died before the job finished (killed
    // while it waited to start the job, or the runner failed before it): the job's end is
    // unknown, so the attempt is LOST and relaunched, never FAILED with the runner's 137.
    if (runner.exitCode === null && (state === 'COMPLETED' || state === 'FAILED' || state === 'SPECIAL_EXIT')) {
      const how = slurm.slurmExitCode === null ? state : `${state}, exit ${slurm.slurmExitCode}`
      return ended('LOST', `the runner ended (${how}) before the job finished: neither it nor the job recorded an exit code`, null)
    }
    switch (state) {
      case 'COMPLETED':
        return ended(exitCode === null || exitCode === 0 ? 'SUCCEEDED' : 'FAILED', exitCode ? `exit ${exitCode}` : null, exitCode ?? 0)
      case 'FAILED':
      case 'SPECIAL_EXIT':
        return ended('FAILED', exitCode === null ? state : `exit ${exitCode}`)
      case 'OUT_OF_MEMORY':
        return ended('FAILED', 'OUT_OF_MEMORY: the job used more memory than it asked for')
      case 'TIMEOUT':
        return ended('FAILED', 'TIMEOUT: the job reached its time limit')
      case 'CANCELLED':
        return ended('CANCELLED', `cancelled outside skyhop${slurm.reason ? ` (${slurm.reason})` : ''}`)
      case 'DEADLINE':
        return ended('CANCELLED', 'DEADLINE: Slurm ended the job at its deadline')
      case 'REVOKED':
        return ended('CANCELLED', 'REVOKED: the job ran on another cluster of the federation')
      case 'NODE_FAIL':
        return ended('LOST', 'NODE_FAIL: a node of the job failed', runner.exitCode)
      case 'BOOT_FAIL':
        return ended('LOST', 'BOOT_FAIL: a node of the job failed to boot', runner.exitCode)
    }
  }
  return {state: 'PENDING', exitCode: null, reason: `unknown Slurm state ${state}`, startedAt: null, endedAt: null}
}

/** When Slurm no longer knows the job (past MinJobAge, no accounting): the runner's files are all we have. */
export function mapForgotten(seen: RunnerObservation, jobId: string): MappedState {
  const runner = withJobStatus(seen)
  const base = {startedAt: runner.startedAt, endedAt: runner.endedAt}
  if (runner.exitCode === null) {
    return {...base, state: 'LOST', exitCode: null, reason: `Slurm no longer knows job ${jobId} and the runner recorded no exit code`}
  }
  if (runner.cancelled || runner.stopRequest === 'cancel')
    return {...base, state: 'CANCELLED', exitCode: runner.exitCode, reason: 'cancelled'}
  if (runner.noticed || runner.stopRequest === 'preempt') {
    return {...base, state: 'PREEMPTED', exitCode: runner.exitCode, reason: `preempted; exit ${runner.exitCode}`}
  }
  const ok = runner.exitCode === 0
  return {...base, state: ok ? 'SUCCEEDED' : 'FAILED', exitCode: runner.exitCode, reason: ok ? null : `exit ${runner.exitCode}`}
}

/**
 * Each rank of a gang (one Slurm job over N nodes, one runner per node) as a poll result of
 * its own, for gangPoll (providers/gang.ts). `job` is the job's mapping (mapSlurmState or
 * mapForgotten over the head's files with every rank's notices), `attempt` what all ranks
 * observed together. Slurm tells nothing per node that skyhop needs: a rank has ended when
 * its runner wrote its exit code. A rank that ends while the gang is being stopped (a
 * request, or a notice at any rank) ended by the stop, not by failing.
 */
export function slurmRankResults(job: MappedState, attempt: RunnerObservation, ranks: RunnerObservation[]): MappedState[] {
  const jobEnded = !['PENDING', 'PROVISIONING', 'RUNNING'].includes(job.state)
  const stopAt = attempt.stoppedAt ?? null
  const stopping = attempt.noticed || attempt.cancelled || attempt.stopRequest !== null
  return ranks.map((seen) => {
    const runner = jobEnded ? withJobStatus(seen) : seen
    if (runner.exitCode !== null) {
      // A rank that ended before the stop began (a failure the controller then cleaned up
      // after) keeps its own story; one that ended after it was stopped with the gang.
      const before = stopAt !== null && runner.endedAt !== null && runner.endedAt < stopAt
      const own = before ? {...runner, stopRequest: null} : runner
      return mapForgotten(
        stopping && !before
          ? {
              ...runner,
              stopRequest: attempt.stopRequest,
              noticed: runner.noticed || attempt.noticed,
              cancelled: runner.cancelled || attempt.cancelled,
            }
          : own,
        '',
      )
    }
    const base = {exitCode: null, startedAt: runner.startedAt, endedAt: null}
    if (jobEnded) {
      // The job is over and this rank's runner never said how it ended: Slurm stopped it.
      const state = job.state === 'SUCCEEDED' ? 'FAILED' : job.state
      return {...base, state, reason: 'its runner recorded no exit code', endedAt: job.endedAt}
    }
    if (job.state !== 'RUNNING') return {...base, state: job.state, reason: job.reason}
    if (runner.startedAt === null) return {...base, state: 'PROVISIONING', reason: 'its runner has not started the job yet'}
    return {...base, state: 'RUNNING', reason: job.reason}
  })
}

/**
 * The runner's observation with the job's own status standing in for the exit code the
 * runner did not write (it was killed while the job ran on). For a job that is over: the
 * job's status is then the truth, and without it a finished job would count as LOST and run
 * again.
 */
export function withJobStatus(runner: RunnerObservation): RunnerObservation {
  if (runner.exitCode !== null || runner.jobStatus === undefined || runner.jobStatus === null) return runner
  return {...runner, exitCode: runner.jobStatus, endedAt: runner.endedAt ?? runner.jobStatusAt ?? null}
}
