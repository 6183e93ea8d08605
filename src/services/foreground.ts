// Waiting in the foreground (`launch --wait`, `sweep --wait`): Ctrl-C stops the waiting,
// not the work. Whatever still runs is handed to a detached controller, so nothing is
// left unowned, and the command ends with exit 130 saying where the work went. Progress
// reaches the terminal through the services' callbacks; nothing here draws.
import {InterruptedError} from '../errors.js'
import {spawnDetachedController} from './controller-process.js'

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

/** Starts a background controller for what still runs, then ends the command (exit 130). */
export function handOff(
  home: string,
  target: {id: string; command: 'controller' | 'sweep-controller'},
  what: string,
  options: {hint: string},
): never {
  spawnDetachedController(home, target.id, target.command)
  throw new InterruptedError(`stopped waiting; ${what} keeps running under a background controller`, {hint: options.hint})
}
