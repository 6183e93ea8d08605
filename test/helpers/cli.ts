// Runs the built CLI (bin/run.js) as a user would: a real process, real exit code.
// `npm test` builds first; run `npm run build` before running these files alone.
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

import {databaseEnv} from './pg-suite.js'

export const ROOT = resolve(import.meta.dirname, '..', '..')
export const BIN = join(ROOT, 'bin', 'run.js')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

export function tempHome(prefix = 'skyhop-home-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

function assertBuilt(): void {
  if (!existsSync(join(ROOT, 'dist', 'commands'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
}

/**
 * The CLI's environment: the test's, on its home (a fresh one unless given), with the home's
 * SKYHOP_DATABASE_URL in the PostgreSQL run of the suite unless the test names its own.
 */
function processEnv(options: {env?: Record<string, string | undefined>; home?: string}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {...process.env, SKYHOP_HOME: options.home ?? tempHome(), ...options.env}
  if (env.SKYHOP_HOME && !(options.env && 'SKYHOP_DATABASE_URL' in options.env)) Object.assign(env, databaseEnv(env.SKYHOP_HOME))
  return env
}

export function runCli(
  args: string[],
  options: {env?: Record<string, string | undefined>; home?: string; input?: string; cwd?: string; timeoutMs?: number} = {},
): CliResult {
  assertBuilt()
  const env = processEnv(options)
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: env as NodeJS.ProcessEnv,
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
  })
  return {code: r.status, stdout: r.stdout, stderr: r.stderr}
}

/** Async variant, for commands that run while the test does something else. */
export function runCliAsync(
  args: string[],
  options: {env?: Record<string, string | undefined>; home?: string; cwd?: string} = {},
): Promise<CliResult> & {child: ReturnType<typeof spawn>} {
  assertBuilt()
  const env = processEnv(options)
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const p = new Promise<CliResult>((res) => child.on('close', (code) => res({code, stdout, stderr}))) as Promise<CliResult> & {
    child: typeof child
  }
  p.child = child
  return p
}

/** Parses stdout as exactly one JSON document (the --json contract). */
export function parseEnvelope(stdout: string): {
  ok: boolean
  result?: any
  error?: {code: string; message: string; hint?: string; details?: any}
} {
  return JSON.parse(stdout)
}
