// The detached controller process: `skyhop controller JOB`, `skyhop sweep-controller
// SWEEP` or `skyhop serve-controller SERVICE`, started by launch, sweep and recover so a job outlives the terminal, and the
// owner name a controller holds a job's (or a sweep's) lease under.
import {spawn} from 'node:child_process'
import {mkdirSync, openSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

/**
 * How long a lease claimed for a controller about to start (by `recover`, a detached `launch`
 * or `sweep`) holds before the job counts as orphaned again: a start on a loaded machine (Node,
 * the CLI, the store, the plan) can take longer than a heartbeat's lease, and a claim that
 * expires first is taken by the next `recover`, whose controller then starts as slowly, so a
 * `recover` run every few seconds could keep a job from ever being driven. Never shorter than
 * the lease itself; SKYHOP_CONTROLLER_START_SECONDS tunes it (default 60).
 */
export function claimTtlMs(leaseTtlMs: number): number {
  const startMs = Math.max(1, Number(process.env.SKYHOP_CONTROLLER_START_SECONDS) || 60) * 1000
  return Math.max(leaseTtlMs, startMs)
}

export function controllerOwner(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
}

/** Path of the CLI entry point, from src/ (tsx) or dist/. */
function binPath(): string {
  return fileURLToPath(new URL('../../bin/run.js', import.meta.url))
}

/**
 * Starts `skyhop controller JOB` (or `skyhop sweep-controller SWEEP`) detached from this
 * process (own session, output to a log file), so the job outlives the terminal. It
 * inherits this environment, which is where job secrets come from: skyhop stores them
 * nowhere, so a controller started from a shell without them holds the job when it must
 * launch (docs/recovery.md#a-controller-without-the-jobs-secrets).
 */
/** A controller just started: `exited` settles with its exit code (null: a signal) if it ends. */
export interface ControllerStart {
  exited: Promise<number | null>
}

/**
 * What starts a controller (spawnDetachedController; tests pass their own). What it returns
 * is looked at only if it is a ControllerStart.
 */
export type SpawnController = (
  home: string,
  id: string,
  command?: 'controller' | 'sweep-controller' | 'serve-controller',
  owner?: string,
) => unknown

export function isControllerStart(value: unknown): value is ControllerStart {
  return typeof value === 'object' && value !== null && (value as {exited?: unknown}).exited instanceof Promise
}

export function spawnDetachedController(
  home: string,
  id: string,
  command: 'controller' | 'sweep-controller' | 'serve-controller' = 'controller',
  /** The owner whose lease was claimed for this controller (recover); it holds the lease as its own. */
  owner?: string,
): ControllerStart {
  const dir = join(home, 'controllers')
  mkdirSync(dir, {recursive: true})
  const log = openSync(join(dir, `${id}.log`), 'a', 0o600)
  const child = spawn(process.execPath, [binPath(), command, id, ...(owner ? ['--claimed', owner] : [])], {
    detached: true,
    stdio: ['ignore', log, log],
    env: {...process.env, SKYHOP_HOME: home},
  })
  // Heard only while this process is still running anyway (recover waits a few seconds for
  // its controllers to take their claims over): unref'd, the child never keeps it alive.
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  child.unref()
  return {exited}
}

/** How long `recover` waits, in all, for the controllers it started to take their claims over. */
export const START_CONFIRM_MS = 10_000

/**
 * Whether a controller started for the claim `owner` took it over: 'taken' once the lease
 * holder is someone else (its own name, or another controller's); 'exited' when it ended
 * first with the claim still its starter's (it crashed or was killed while loading, and
 * nothing will drive the job until the claim's start deadline); 'starting' at `deadline`.
 */
export async function confirmStart(
  start: ControllerStart,
  holder: () => string | null,
  owner: string,
  deadline: number,
): Promise<{outcome: 'taken' | 'starting'} | {outcome: 'exited'; code: number | null}> {
  let code: number | null | undefined
  void start.exited.then((c) => (code = c))
  for (;;) {
    if (holder() !== owner) return {outcome: 'taken'}
    // Exit heard: look once more, as it may have taken over and ended since.
    if (code !== undefined) return holder() !== owner ? {outcome: 'taken'} : {outcome: 'exited', code}
    if (Date.now() >= deadline) return {outcome: 'starting'}
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
