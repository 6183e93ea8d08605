// Waiting in tests for what a provider, a fake cloud or a child process does on its own
// time: a condition to hold, an attempt to reach a state, a file to be written. Each gives
// up after a deadline and says what it last saw, so a hung test explains itself.
import {existsSync, readFileSync} from 'node:fs'

import {type Provider} from '../../src/providers/provider.js'
import {TERMINAL_ATTEMPT_STATES, type LaunchHandle, type PollResult} from '../../src/model/attempt.js'

export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (ok(v)) return v
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(v)}`)
    await new Promise((r) => setTimeout(r, stepMs))
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Waits until a synchronous look (a file, a row in the store, a process list) holds. */
export async function waitUntil(check: () => boolean, timeoutMs = 60_000, stepMs = 200): Promise<void> {
  await until(
    async () => check(),
    (ok) => ok,
    timeoutMs,
    stepMs,
  )
}

export const isTerminal = (r: PollResult): boolean => TERMINAL_ATTEMPT_STATES.has(r.state)

/** Polls one attempt until `accept` holds. */
export async function pollUntil(
  provider: Provider,
  handle: LaunchHandle,
  accept: (r: PollResult) => boolean,
  options: {timeoutMs?: number; stepMs?: number} = {},
): Promise<PollResult> {
  return until(async () => (await provider.poll([handle])).get(handle.externalId)!, accept, options.timeoutMs, options.stepMs)
}

/** Waits for a file to exist (and, with `nonEmpty`, to hold something); returns its text. */
export async function waitForFile(path: string, options: {timeoutMs?: number; stepMs?: number; nonEmpty?: boolean} = {}): Promise<string> {
  const {timeoutMs = 15_000, stepMs = 20, nonEmpty = false} = options
  const start = Date.now()
  while (!existsSync(path) || (nonEmpty && readFileSync(path, 'utf8') === '')) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${path}`)
    await new Promise((resolve) => setTimeout(resolve, stepMs))
  }
  return readFileSync(path, 'utf8')
}
