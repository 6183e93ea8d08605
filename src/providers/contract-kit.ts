// The provider contract as one runnable check (exported as `skyhop/provider`'s
// runProviderContract): what every adapter must do for the controller, run against a provider
// instance and the fake (or real test backend) behind it. A plugin's tests call it; skyhop's
// own providers' tests do too. It uses node:assert, so it runs under any test framework:
// a broken rule throws an AssertionError naming the step.
import assert from 'node:assert/strict'

import {ProviderError, type ProviderErrorCategory} from '../errors.js'
import type {LaunchHandle, PollResult} from '../model/attempt.js'
import type {LaunchRequest, Provider} from './provider.js'

export interface ContractFixture {
  provider: Provider
  /**
   * A fresh launch request (new attempt id) for an offer the backend can run, whose job runs
   * `run` (bash). The job should see SIGTERM on a stop, as the runner delivers it.
   */
  request(run: string): LaunchRequest
  /**
   * Makes the backend refuse the next launch as it refuses for this reason (its own error
   * format: the fake's injected error). Categories the fixture cannot inject are skipped.
   */
  failNextLaunch?(category: 'capacity' | 'quota' | 'auth'): void
  /** How long one attempt may take to reach a state. Default 60 s. */
  timeoutMs?: number
  /** Between polls. Default 200 ms. */
  pollMs?: number
}

/** One rule of the contract and whether it held, skipped, or how it failed. */
export interface ContractStep {
  step: string
  ok: boolean
  skipped?: string
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Runs the contract: check, launch → SUCCEEDED with the job's output in logs(), a retried
 * launch is the same attempt, cancel → CANCELLED, a preemption notice → PREEMPTED (the job
 * saw SIGTERM), listOwned() finds a running attempt by its tags and cleanup() releases it, and
 * each injected refusal becomes a ProviderError of its category. Throws on the first broken rule.
 */
export async function runProviderContract(fixture: ContractFixture): Promise<ContractStep[]> {
  const {provider} = fixture
  const timeoutMs = fixture.timeoutMs ?? 60_000
  const pollMs = fixture.pollMs ?? 200
  const steps: ContractStep[] = []
  const done = (step: string, skipped?: string) => steps.push({step, ok: true, ...(skipped ? {skipped} : {})})

  const pollUntil = async (handle: LaunchHandle, want: (r: PollResult) => boolean, what: string): Promise<PollResult> => {
    const deadline = Date.now() + timeoutMs
    let last: PollResult | undefined
    while (Date.now() < deadline) {
      last = (await provider.poll([handle])).get(handle.externalId)
      if (last && want(last)) return last
      await sleep(pollMs)
    }
    assert.fail(`${provider.name}: ${what} not reached within ${timeoutMs} ms (last poll: ${JSON.stringify(last ?? null)})`)
  }
  const ended = (r: PollResult) => !['PENDING', 'PROVISIONING', 'RUNNING'].includes(r.state)

  const checked = await provider.check()
  assert.equal(checked.provider, provider.name, 'check() names its provider')
  assert.equal(checked.ok, true, `check() is ok against the fixture: ${checked.message}`)
  done('check')

  // Launch and finish, output through logs().
  const first = fixture.request('echo contract-hello; exit 0')
  const handle = await provider.launch(first)
  assert.equal(handle.provider, provider.name, 'the handle names its provider')
  assert.ok(handle.externalId, 'the handle has the backend id')
  const again = await provider.launch(first)
  assert.equal(again.externalId, handle.externalId, 'a retried launch (same idempotency key) is the same attempt')
  done('launch is idempotent')
  const finished = await pollUntil(handle, ended, 'the end of a job that exits 0')
  assert.equal(finished.state, 'SUCCEEDED', `a job that exits 0 SUCCEEDED (reason: ${finished.reason})`)
  assert.equal(finished.exitCode, 0)
  const lines: string[] = []
  for await (const line of provider.logs(handle, {follow: false})) lines.push(line)
  assert.ok(lines.includes('contract-hello'), `logs() return the job's output (got ${JSON.stringify(lines.slice(-5))})`)
  await provider.cleanup(handle)
  await provider.cleanup(handle)
  done('launch → SUCCEEDED, logs, cleanup twice')

  // A running attempt: found by listOwned, cancelled through signal().
  const sleeper = fixture.request("trap 'echo got-term; exit 143' TERM; echo started; while :; do sleep 0.2; done")
  const running = await provider.launch(sleeper)
  await pollUntil(running, (r) => r.state === 'RUNNING' || ended(r), 'RUNNING')
  if (provider.listOwned) {
    const owned = await provider.listOwned({regions: [running.region], attemptId: sleeper.attemptId})
    const mine = owned.find((h) => h.externalId === running.externalId)
    assert.ok(mine, `listOwned() finds the running attempt ${running.externalId}`)
    // How recover, the controller and `down --orphans` match what a backend holds to attempts:
    // data.attemptId (from the backend's tags), or an external id that is the attempt id.
    assert.ok(
      mine.data.attemptId === sleeper.attemptId || mine.externalId === sleeper.attemptId,
      `listOwned() handles carry data.attemptId (got ${JSON.stringify(mine.data.attemptId)})`,
    )
    if (mine.data.jobId !== undefined) assert.equal(mine.data.jobId, sleeper.jobId, 'listOwned() handles carry the right data.jobId')
    done('listOwned finds a running attempt')
  } else done('listOwned finds a running attempt', 'the provider has no listOwned()')
  await provider.signal(running, 'cancel', 5)
  const cancelled = await pollUntil(running, ended, 'the end of a cancelled job')
  assert.equal(cancelled.state, 'CANCELLED', `cancel → CANCELLED (got ${cancelled.state}: ${cancelled.reason})`)
  await provider.cleanup(running)
  if (provider.listOwned) {
    // Released, if not at once (a cloud deletes in an operation of its own), within the timeout.
    const deadline = Date.now() + timeoutMs
    let listed = true
    while (listed && Date.now() < deadline) {
      const owned = await provider.listOwned({regions: [running.region], attemptId: sleeper.attemptId})
      listed = owned.some((h) => h.externalId === running.externalId)
      if (listed) await sleep(pollMs)
    }
    assert.ok(!listed, `after cleanup() listOwned() stops listing the attempt within ${timeoutMs} ms`)
  }
  done('cancel → CANCELLED, cleanup releases it')

  // A preemption notice through the real path.
  const noticed = fixture.request("trap 'echo got-notice; exit 0' TERM; echo started; while :; do sleep 0.2; done")
  const preempted = await provider.launch(noticed)
  await pollUntil(preempted, (r) => r.state === 'RUNNING' || ended(r), 'RUNNING')
  await provider.signal(preempted, 'preempt', 5)
  const afterNotice = await pollUntil(preempted, ended, 'the end of a preempted job')
  assert.equal(afterNotice.state, 'PREEMPTED', `a notice → PREEMPTED even when the job exits 0 (got ${afterNotice.state})`)
  await provider.cleanup(preempted)
  done('preempt notice → PREEMPTED')

  // The backend's refusals, each as its category (the failover's scope comes from it).
  for (const category of ['capacity', 'quota', 'auth'] as const) {
    if (!fixture.failNextLaunch) {
      done(`${category} error mapped`, 'the fixture cannot inject errors')
      continue
    }
    fixture.failNextLaunch(category)
    const error = await provider.launch(fixture.request('true')).then(
      () => assert.fail(`${provider.name}: a launch refused for ${category} succeeded`),
      (e: unknown) => e,
    )
    assert.ok(error instanceof ProviderError, `a ${category} refusal is a ProviderError (got ${String(error)})`)
    assert.equal(
      (error as ProviderError).category,
      category satisfies ProviderErrorCategory,
      `a ${category} refusal has category ${category}`,
    )
    done(`${category} error mapped`)
  }
  return steps
}
