// A gang's state from its nodes' states: the one rule every provider that gang-launches
// uses (docs/job-contract.md#multi-node-jobs). The head's exit code is the job's; a rank
// that fails (ends non-zero without having been stopped) fails the gang; the gang runs
// only when every rank runs; a lost rank loses the gang; a gang that was stopped ends
// when its last rank does.
import type {AttemptState, NodePoll, PollResult} from '../model/attempt.js'

const ENDED: ReadonlySet<AttemptState> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'PREEMPTED', 'LOST'])

const latest = (times: Array<string | null>): string | null =>
  times.reduce<string | null>((a, b) => (b === null ? a : a === null || Date.parse(b) > Date.parse(a) ? b : a), null)

/** `results` in rank order (rank 0, the head, first). */
export function gangPoll(results: readonly PollResult[]): PollResult {
  if (results.length === 0) throw new Error('a gang has at least one node')
  const nodes: NodePoll[] = results.map((r, rank) => ({rank, state: r.state, exitCode: r.exitCode, reason: r.reason}))
  const head = results[0]
  const everyStarted = results.every((r) => r.startedAt !== null)
  // The gang started when its last rank did: before that, nothing can run across it.
  const startedAt = everyStarted ? latest(results.map((r) => r.startedAt)) : null
  const about = (rank: number, reason: string | null) => `rank ${rank}: ${reason ?? results[rank].state.toLowerCase()}`

  const failed = nodes.find((n) => n.state === 'FAILED')
  if (failed) {
    const code = head.state === 'FAILED' ? head.exitCode : failed.exitCode
    return {
      state: 'FAILED',
      exitCode: code,
      reason: about(failed.rank, failed.reason),
      startedAt,
      endedAt: results[failed.rank].endedAt,
      nodes,
    }
  }
  const lost = nodes.find((n) => n.state === 'LOST')
  if (lost) return {state: 'LOST', exitCode: null, reason: about(lost.rank, lost.reason), startedAt, endedAt: null, nodes}

  if (nodes.every((n) => ENDED.has(n.state))) {
    const endedAt = latest(results.map((r) => r.endedAt))
    const preempted = nodes.find((n) => n.state === 'PREEMPTED')
    if (preempted)
      return {state: 'PREEMPTED', exitCode: head.exitCode, reason: about(preempted.rank, preempted.reason), startedAt, endedAt, nodes}
    const cancelled = nodes.find((n) => n.state === 'CANCELLED')
    if (cancelled)
      return {state: 'CANCELLED', exitCode: head.exitCode, reason: about(cancelled.rank, cancelled.reason), startedAt, endedAt, nodes}
    return {state: 'SUCCEEDED', exitCode: head.exitCode, reason: null, startedAt, endedAt, nodes}
  }

  const running = nodes.filter((n) => n.state === 'RUNNING').length
  const ended = nodes.filter((n) => ENDED.has(n.state)).length
  if (ended > 0 || running === nodes.length) {
    // Ranks that ended well (or were stopped) wait for the rest; a rank's own note (stopping) is the gang's.
    const note = nodes.find((n) => n.state === 'RUNNING' && n.reason !== null)
    const reason = note ? about(note.rank, note.reason) : ended > 0 ? `${ended} of ${nodes.length} ranks ended; waiting for the rest` : null
    return {state: 'RUNNING', exitCode: null, reason, startedAt, endedAt: null, nodes}
  }
  const waiting = nodes.find((n) => n.state !== 'RUNNING')!
  return {
    state: 'PENDING',
    exitCode: null,
    reason: `${running} of ${nodes.length} ranks running; ${about(waiting.rank, waiting.reason)}`,
    startedAt: null,
    endedAt: null,
    nodes,
  }
}
