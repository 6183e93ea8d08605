// Reading back what a cloud attempt's runner shipped to the job's object store (ShipObjects in
// src/model/checkpoint.ts; the runner's `ship` section): its output.log and samples.jsonl, as
// segment objects. The console channel (console-channel.ts) is live but small and dies with
// the instance; the store lags by one ship interval but outlives it. So `logs` reads the
// console and then whatever the store has past it (all of it once the instance is gone), and
// usageSamples reads the store alone. The reader (AttemptObjectReader) is injected: providers
// never sign for the store themselves.
import {ProviderError} from '../../errors.js'
import type {LaunchHandle} from '../../model/attempt.js'
import type {AttemptObjectReader, ShipHandleData, ShipObjects} from '../../model/checkpoint.js'
import type {LogOptions} from '../provider.js'

/** What a launch handle keeps of the attempt's ShipObjects (none without a store). */
export function shipHandleData(ship: ShipObjects | null | undefined): {ship?: ShipHandleData} {
  return ship ? {ship: {store: ship.store, segmentBytes: ship.segmentBytes}} : {}
}

/** The handle's ShipHandleData, or null when the attempt ships nothing. */
export function shippedOf(handle: LaunchHandle): ShipHandleData | null {
  const ship = handle.data.ship as Partial<ShipHandleData> | undefined
  if (!ship || typeof ship !== 'object' || typeof ship.segmentBytes !== 'number' || ship.segmentBytes <= 0) return null
  const store = ship.store
  if (!store || typeof store.url !== 'string' || typeof store.region !== 'string') return null
  return {store: {url: store.url, region: store.region, endpoint: store.endpoint ?? null}, segmentBytes: ship.segmentBytes}
}

function ids(handle: LaunchHandle): {jobId: string; attemptId: string} | null {
  const {jobId, attemptId} = handle.data
  return typeof jobId === 'string' && typeof attemptId === 'string' ? {jobId, attemptId} : null
}

/** The most segments one usageSamples call reads (the controller asks again from the offset it returns). */
const SEGMENTS_PER_READ = 4

/**
 * Provider.usageSamples for a cloud attempt: whole lines of the shipped samples.jsonl from byte
 * `offset` on; null when nothing was shipped (yet), or the attempt ships nothing. Every rank of
 * a gang ships its own (`node-<rank>/samples-NNNN.jsonl`): `rank` picks whose.
 */
export async function shippedSamples(
  reader: AttemptObjectReader | undefined,
  handle: LaunchHandle,
  offset = 0,
  rank = 0,
): Promise<{text: string; offset: number} | null> {
  const ship = shippedOf(handle)
  const who = ids(handle)
  if (!reader || !ship || !who) return null
  const size = ship.segmentBytes
  let index = Math.floor(offset / size)
  let from = offset - index * size
  const parts: Buffer[] = []
  for (let n = 0; n < SEGMENTS_PER_READ; n++) {
    const got = await reader.segment(ship.store, who.jobId, who.attemptId, 'samples.jsonl', index, from, rank)
    if (got === null) break
    parts.push(got)
    // A segment shorter than the size is the current one: nothing after it yet.
    if (from + got.length < size) break
    index++
    from = 0
  }
  if (parts.length === 0) return null
  const all = Buffer.concat(parts)
  // Whole lines only: a line cut by a segment's end is read whole next time.
  const end = all.lastIndexOf(0x0a) + 1
  return {text: all.subarray(0, end).toString('utf8'), offset: offset + end}
}

/** The lines of the attempt's shipped output.log (the head's, for a gang), or null when none was shipped. */
export async function shippedLog(reader: AttemptObjectReader, handle: LaunchHandle): Promise<string[] | null> {
  const ship = shippedOf(handle)
  const who = ids(handle)
  if (!ship || !who) return null
  const parts: Buffer[] = []
  for (let index = 0; ; index++) {
    const got = await reader.segment(ship.store, who.jobId, who.attemptId, 'output.log', index)
    if (got === null) break
    parts.push(got)
    if (got.length < ship.segmentBytes) break
  }
  if (parts.length === 0) return null
  const text = Buffer.concat(parts).toString('utf8')
  if (text === '') return []
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  return lines
}

/** The note a console reader puts where lines fell out of the cloud's window (linesAfter's gapNote). */
const GAP_NOTE = /^\[skyhop: (\d+) lines?(?:\(s\))? (?:fell out of|missing from) .*\]$/

/**
 * A cloud attempt's log: the console's lines (`console`), then the shipped log's lines past
 * them: the lines the console had not published when the instance ended (a short job's
 * output), or all of them once the instance is gone (the console call fails, or returns
 * nothing). Only the head's output is shipped: another rank's log, or every rank's, is the
 * console's alone. When the console fails and nothing was shipped, its error says why.
 */
export async function* withShippedLog(
  reader: AttemptObjectReader | undefined,
  handle: LaunchHandle,
  options: LogOptions,
  console: () => AsyncIterable<string>,
): AsyncIterable<string> {
  const head = options.node === undefined || options.node === 0
  const ship = head ? shippedOf(handle) : null
  let seen = 0
  let failure: unknown = null
  try {
    for await (const line of console()) {
      const gap = GAP_NOTE.exec(line)
      seen += gap ? Number(gap[1]) : 1
      yield line
    }
  } catch (error) {
    failure = error
  }
  if (options.signal?.aborted) return
  // A running attempt's console is ahead of the store: the store is only the fallback then.
  if (!failure && options.running === true && !options.follow) return
  const lines = reader && ship ? await shippedLog(reader, handle).catch(() => null) : null
  if (lines === null) {
    if (failure) throw unshipped(handle, failure, head && ship === null)
    return
  }
  for (const line of lines.slice(seen)) yield line
}

/** The console's error, saying why nothing else has the log. */
function unshipped(handle: LaunchHandle, failure: unknown, noStore: boolean): unknown {
  if (!(failure instanceof ProviderError)) return failure
  const why = noStore
    ? 'This attempt had no object store to ship its output.log to (set checkpoint.store: docs/utilisation.md#where-samples-go), so only its instance had the log.'
    : 'Its output.log was not found in the job object store either.'
  const message = failure.message.startsWith(`${failure.provider}: `) ? failure.message.slice(failure.provider.length + 2) : failure.message
  return new ProviderError(failure.provider, failure.category, message, {
    code: failure.code,
    scope: failure.scope,
    hint: failure.hint ? `${why} ${failure.hint}` : why,
    cause: failure,
    ...(failure.backendCode === undefined ? {} : {backendCode: failure.backendCode}),
  })
}
