// Waiting in the foreground (`launch --wait`, `sweep --wait`): Ctrl-C stops the waiting,
// not the work. Whatever still runs is handed to a detached controller, so nothing is
// left unowned, and the command ends with exit 130 saying where the work went. Progress
// reaches the terminal through the services' callbacks; nothing here draws.
import {InterruptedError} from '../errors.js'
import {LEASE_TTL_MS} from '../controller/controller.js'
import type {Store} from '../state/store.js'
import {claimTtlMs, controllerOwner, type SpawnController, spawnDetachedController} from './controller-process.js'

export interface Interruptible {
  /** Aborted on Ctrl-C, or by abort(). */
  readonly signal: AbortSignal
  /** True once Ctrl-C was pressed. */
  readonly interrupted: boolean
  /** Stops listening for Ctrl-C (the work is over). */
  release(): void
  /** Stops what still listens to the signal (a log stream) once the work is over. */
  abort(): void
}

/** Turns the next SIGINT of this process into an abort of the returned signal. */
export function catchInterrupt(): Interruptible {
  const controller = new AbortController()
  let interrupted = false
  const onSigint = () => {
    interrupted = true
    controller.abort()
  }
  process.once('SIGINT', onSigint)
  return {
    signal: controller.signal,
    get interrupted() {
      return interrupted
    },
    release: () => process.removeListener('SIGINT', onSigint),
    abort: () => controller.abort(),
  }
}

/** Waits for `done`, at most `ms`. */
export async function drain(done: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([done, new Promise((r) => (timer = setTimeout(r, ms)))])
  clearTimeout(timer)
}

/**
 * Starts a background controller for what still runs, then ends the command (exit 130). The
 * foreground controller has let the lease go; it is claimed again for the new controller
 * before it starts, as a detached launch's is, so a `recover` meanwhile does not start a
 * second one. One that got there first has started it already: then nothing is started here.
 */
export function handOff(
  store: Pick<Store, 'claimJobLease' | 'claimSweepLease' | 'releaseLease' | 'releaseSweepClaim'>,
  home: string,
  target: {id: string; command: 'controller' | 'sweep-controller'},
  what: string,
  options: {hint: string; spawn?: SpawnController},
): never {
  const claim = controllerOwner()
  const ttl = claimTtlMs(LEASE_TTL_MS)
  const job = target.command === 'controller'
  if (job ? store.claimJobLease(target.id, claim, ttl) : store.claimSweepLease(target.id, claim, ttl)) {
    try {
      ;(options.spawn ?? spawnDetachedController)(home, target.id, target.command, claim)
    } catch (error) {
      // No controller will take the claim over: let the next `recover` start one at once.
      if (job) store.releaseLease(target.id, claim)
      else store.releaseSweepClaim(target.id, claim)
      throw error
    }
  }
  throw new InterruptedError(`stopped waiting; ${what} keeps running under a background controller`, {hint: options.hint})
}
