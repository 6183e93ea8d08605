// The `logs` service: a job's output, attempt after attempt.
import {UsageError} from '../errors.js'
import type {Provider} from '../providers/provider.js'
import {TERMINAL_ATTEMPT_STATES, type AttemptState, type LaunchHandle} from '../model/attempt.js'
import type {AttemptRecord} from '../model/records.js'
import type {Store} from '../state/store.js'
import {TERMINAL_JOB_STATES} from '../model/records.js'
import type {ServiceContext} from './context.js'
import {providerFor} from './jobs.js'

export interface LogLine {
  attempt: number
  line: string
}

/**
 * Log lines of a job: the given attempt, or the latest; with `follow`, keeps going into
 * the next attempt after a recovery until the job ends.
 */
export async function* jobLogs(
  store: Store,
  providers: ReadonlyMap<string, Provider>,
  ref: string,
  options: {
    follow: boolean
    attempt?: number
    node?: number | 'all'
    signal?: AbortSignal
    sleep?: (ms: number) => Promise<void>
    /** Told when an attempt gave no line and why (a cloud attempt whose output stayed on its instance). */
    note?: (message: string) => void
  },
): AsyncGenerator<LogLine> {
  const job = store.findJob(ref)
  const nodes = Math.max(1, job.spec.nodes)
  if (typeof options.node === 'number' && options.node >= nodes) {
    throw new UsageError(
      `job ${job.name} has no node ${options.node}: it runs on ${nodes === 1 ? 'one node (rank 0)' : `${nodes} nodes (ranks 0 to ${nodes - 1})`}`,
      {
        code: 'NODE_NOT_FOUND',
      },
    )
  }
  // A gang's head by default; one node's output is rank 0's whatever was asked.
  const node = nodes === 1 ? undefined : options.node
  const logOptions = {follow: options.follow, signal: options.signal, ...(node === undefined ? {} : {node})}
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)))
  const withHandle = () => store.listAttempts(job.id).filter((a) => a.handle)
  let attempts = withHandle()
  if (options.attempt !== undefined) {
    const a = attempts.find((x) => x.n === options.attempt)
    if (!a)
      throw new UsageError(
        `job ${job.name} has no attempt ${options.attempt}; it has ${attempts.map((x) => x.n).join(', ') || 'none yet'}`,
        {code: 'ATTEMPT_NOT_FOUND'},
      )
    yield* attemptLines(a)
    return
  }
  // One attempt's lines; none from an ended cloud attempt that shipped nothing is said, not silent.
  async function* attemptLines(a: AttemptRecord): AsyncGenerator<LogLine> {
    const provider = providerFor(providers, a)
    let count = 0
    const ended = TERMINAL_ATTEMPT_STATES.has(a.state as AttemptState)
    for await (const line of provider.logs(a.handle as LaunchHandle, {...logOptions, running: !ended})) {
      count++
      yield {attempt: a.n, line}
    }
    if (count === 0 && ended && provider.shipsAttemptFiles === true && !a.handle?.data.ship) {
      options.note?.(
        `attempt ${a.n} of ${job.name} ran on ${a.provider} without an object store to ship its output to (no checkpoint.store): ` +
          'its output.log stayed on the instance, and the console has nothing of it now',
      )
    }
  }
  let shown = 0
  let waits = 0
  for (;;) {
    if (options.signal?.aborted) return
    attempts = withHandle()
    const next = options.follow ? attempts.find((a) => a.n > shown) : attempts.at(-1)
    if (next) {
      shown = next.n
      yield* attemptLines(next)
      if (!options.follow) return
      continue
    }
    if (!options.follow) {
      if (attempts.length === 0) throw new UsageError(`job ${job.name} (${job.id}) has not started an attempt yet`, {code: 'NO_LOGS_YET'})
      return
    }
    if (TERMINAL_JOB_STATES.has(store.getJob(job.id)!.state) && !store.listAttempts(job.id).some((a) => a.n > shown && a.handle)) return
    // Short: `launch --wait` is waiting here for the first attempt's first line; its handle
    // comes a few ms after the runner starts, so every 5 ms for the first half second (each
    // look is two indexed reads of the store), then every 20 ms as before.
    await sleep(waits++ < 100 ? 5 : 20)
  }
}

export async function* logs(
  ctx: ServiceContext,
  options: {job: string; follow: boolean; attempt?: number; node?: number | 'all'; signal?: AbortSignal; note?: (message: string) => void},
): AsyncGenerator<LogLine> {
  yield* jobLogs(await ctx.store(), await ctx.providers(), options.job, options)
}
