// Running skyhop-runner.sh in tests: a temporary attempt directory written through the
// real writer, the runner started in a session of its own (as a provider starts it), and
// the clean-up of both. Shared by the runner's tests.
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {readEvents, runnerScriptPath, writeAttemptDir} from '../../src/providers/attempt-dir.js'
import type {RunnerConfig, RunnerEvent} from '../../src/runner/contract.js'

export const dirs: string[] = []
export const children: ChildProcess[] = []

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-runner-'))
  dirs.push(dir)
  return dir
}

export interface Attempt {
  dir: string
  work: string
}

export function makeAttempt(options: {
  run: string
  setup?: string | null
  env?: Record<string, string>
  config?: Partial<RunnerConfig>
}): Attempt {
  const root = tempDir()
  const dir = join(root, 'attempt')
  const work = join(root, 'work')
  writeAttemptDir(dir, {
    setup: options.setup ?? null,
    run: options.run,
    env: {SKYHOP_PREEMPT_NOTICE: join(root, 'notice'), ...options.env},
    config: {graceSeconds: 10, signal: 'SIGTERM', workdir: work, noticeSources: [], pollIntervalSeconds: 1, ...options.config},
  })
  return {dir, work}
}

export interface Running {
  child: ChildProcess
  stderr: () => string
  done: Promise<number | null>
}

export function startRunner(dir: string, extraEnv: Record<string, string> = {}): Running {
  // Its own session, as a provider starts it: signals to the test never reach it by accident.
  const child = spawn('bash', [runnerScriptPath(), dir], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {...process.env, ...extraEnv},
  })
  children.push(child)
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {child, stderr: () => stderr, done}
}

export async function waitFor<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 15_000): Promise<T> {
  const start = Date.now()
  for (;;) {
    const value = probe()
    if (value) return value
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Alive and not a zombie (this container's init reaps orphans slowly). */
export function isLive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))
  } catch {
    return false
  }
}

export const eventOf = (dir: string, name: string): RunnerEvent | undefined => readEvents(dir).find((e) => e.event === name)
export const ms = (iso: unknown): number => Date.parse(String(iso))

/** Kills runners a test left running; for afterEach. */
export function killChildren(): void {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(child.pid, 'SIGKILL')
      } catch {}
    }
  }
}

/** Removes the temporary directories; for after. */
export function removeDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, {recursive: true, force: true})
}
