// Shared by the tests that need the real Slurm cluster (scripts/slurm-up.sh): whether it
// answers, and small builders for specs, offers and launch requests. When `CI` is set a
// missing Slurm is a failure, not a skip: CI must never pass by testing nothing.
import {execFile} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import type {Offer} from '../../src/model/catalog.js'
import type {LaunchRequest, Provider} from '../../src/providers/provider.js'
import type {PollResult} from '../../src/model/attempt.js'
import type {LaunchHandle} from '../../src/model/attempt.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import {testJobSpec} from './job-spec.js'

const run = promisify(execFile)

let status: Promise<{ok: boolean; why: string}> | null = null

/** Whether slurmctld answers and the test cluster's partitions exist. Cached per process. */
export function slurmStatus(): Promise<{ok: boolean; why: string}> {
  status ??= (async () => {
    try {
      const ping = await run('scontrol', ['ping'], {timeout: 15_000})
      if (!/is UP/.test(ping.stdout)) return {ok: false, why: `slurmctld is not up: ${ping.stdout.trim()}`}
      const parts = await run('sinfo', ['--noheader', '--format=%R'], {timeout: 15_000})
      const names = parts.stdout.split('\n').map((l) => l.trim())
      if (!names.includes('low') || !names.includes('high'))
        return {ok: false, why: `partitions low and high are missing (have: ${names.filter(Boolean).join(', ')})`}
      return {ok: true, why: ''}
    } catch (error) {
      const e = error as NodeJS.ErrnoException & {stdout?: string; stderr?: string}
      if (e.code === 'ENOENT') return {ok: false, why: 'Slurm client commands are not installed'}
      const said = `${e.stdout ?? ''}\n${e.stderr ?? ''}`.split('\n').find((l) => /Slurmctld|error/i.test(l))
      return {ok: false, why: (said ?? e.message).trim()}
    }
  })()
  return status
}

/** In a `before` hook: skip the suite without Slurm, or fail it when CI is set. */
export async function requireSlurm(context: Mocha.Context): Promise<void> {
  const s = await slurmStatus()
  if (s.ok) return
  const message = `Slurm is not available (${s.why}); start it with: sudo bash scripts/slurm-up.sh`
  if (process.env.CI) throw new Error(`${message}. CI must run the Slurm tests, so this fails instead of skipping.`)
  // eslint-disable-next-line no-console
  console.log(`      skipping: ${message}`)
  context.skip()
}

const dirs: string[] = []

export function tempDir(prefix = 'skyhop-slurm-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

/** Removes the test's directories, unless SKYHOP_KEEP_TEST_DIRS is set (to read attempt directories after a failure). */
export function removeTempDirs(): void {
  if (process.env.SKYHOP_KEEP_TEST_DIRS) return
  for (const dir of dirs.splice(0)) rmSync(dir, {recursive: true, force: true})
}

export function slurmSpec(runScript: string, overrides: Partial<JobSpec> = {}): JobSpec {
  return testJobSpec({name: 'slurm-test', run: runScript, ...overrides})
}

/** The test cluster's preemptible partitions (scripts/slurm-up.sh): `low` on one node, `gang-low` over all of them. */
export const PREEMPTIBLE_PARTITIONS = ['low', 'gang-low']

export function partitionOffer(partition: string, overrides: Partial<Offer> = {}): Offer {
  const spot = PREEMPTIBLE_PARTITIONS.includes(partition)
  return {
    provider: 'slurm',
    region: 'skyhop',
    zone: partition,
    instanceType: partition,
    accelerator: null,
    vcpus: 2,
    memoryGiB: 1,
    price: spot ? {onDemand: null, spot: 0, currency: 'USD'} : {onDemand: 0, spot: null, currency: 'USD'},
    priceStatus: 'estimate',
    expectedQueueMinutes: null,
    preemptionRatePerHour: null,
    capacity: 1,
    noticeSeconds: spot ? 10 : null,
    source: 'test',
    asOf: '2026-01-01',
    confidence: 'high',
    ...overrides,
  }
}

let counter = 0

export function slurmRequest(
  home: string,
  runScript: string,
  options: {
    partition?: string
    cpus?: number
    attemptId?: string
    key?: string
    env?: Record<string, string>
    setup?: string
    grace?: number
    jobName?: string
    /** A gang of this many nodes (the `gang-*` partitions have them). */
    nodes?: number
    compat?: JobSpec['compat']
  } = {},
): LaunchRequest {
  counter++
  const partition = options.partition ?? 'high'
  const attemptId = options.attemptId ?? `att-${process.pid}-${Date.now().toString(36)}-${counter}`
  const spec = slurmSpec(runScript, {
    setup: options.setup ?? null,
    ...(options.nodes ? {nodes: options.nodes} : {}),
    ...(options.compat ? {compat: options.compat} : {}),
    resources: {
      accelerators: [],
      acceleratorOrder: 'any',
      runtimes: null,
      cpus: options.cpus ? {value: options.cpus, atLeast: false} : null,
      memoryGB: null,
      diskGB: null,
    },
  })
  return {
    jobId: `job-${process.pid}`,
    jobName: options.jobName ?? 'slurm test',
    attemptId,
    attempt: 1,
    restartCount: 0,
    idempotencyKey: options.key ?? attemptId,
    spec,
    offer: partitionOffer(partition),
    spot: PREEMPTIBLE_PARTITIONS.includes(partition),
    env: options.env ?? {},
    checkpointDir: join(home, 'checkpoints', `job-${process.pid}`),
    checkpointSync: null,
    graceSeconds: options.grace ?? 10,
  }
}

/** Polls until `done` holds (or throws after timeoutMs), returning every distinct state seen. */
export async function pollUntil(
  provider: Provider,
  handle: LaunchHandle,
  done: (r: PollResult) => boolean,
  timeoutMs = 60_000,
): Promise<{last: PollResult; seen: string[]}> {
  const seen: string[] = []
  const until = Date.now() + timeoutMs
  for (;;) {
    const r = (await provider.poll([handle])).get(handle.externalId)
    if (r) {
      const label = r.reason ? `${r.state} (${r.reason})` : r.state
      if (seen[seen.length - 1] !== label) seen.push(label)
      if (done(r)) return {last: r, seen}
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms; states seen: ${seen.join(' → ')}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

/** Runs a Slurm command directly (for setting up a test situation, never for what the provider does). */
export async function slurm(command: string, args: string[]): Promise<string> {
  const {stdout} = await run(command, args, {timeout: 60_000})
  return stdout
}
