// Shared by the tests that need the real Slurm cluster (scripts/slurm-up.sh): whether it
// answers and is OUR cluster, and small builders for specs, offers and launch requests.
// When `CI` is set a missing Slurm is a failure, not a skip: CI must never pass by testing
// nothing.
import {execFile} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {promisify} from 'node:util'

import type {Offer} from '../../src/model/catalog.js'
import type {LaunchRequest, Provider} from '../../src/providers/provider.js'
import type {PollResult} from '../../src/model/attempt.js'
import type {LaunchHandle} from '../../src/model/attempt.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import {parseContainerReference} from '../../src/job/image.js'
import {testJobSpec} from './job-spec.js'

const run = promisify(execFile)

/** The first line of every slurm.conf that scripts/slurm-up.sh writes. */
export const SLURM_UP_MARKER = '# managed by skyhop scripts/slurm-up.sh'
/** The cluster name slurm-up.sh gives (SKYHOP_SLURM_CLUSTER, as there). */
export const TEST_CLUSTER = process.env.SKYHOP_SLURM_CLUSTER || 'skyhop'
/** The partitions the tests use, as slurm-up.sh defines them. */
const PARTITIONS = ['low', 'high', 'gang-low', 'gang-high']
const SLURM_UP = resolve(import.meta.dirname, '../../scripts/slurm-up.sh')

let status: Promise<{ok: boolean; why: string}> | null = null

/** `Key = value` lines of `scontrol show config` (or `Key=value` lines of slurm.conf) as a map; the first of a key wins. */
export function configValues(text: string): Map<string, string> {
  const values = new Map<string, string>()
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_[\]]*)\s*=\s*(.*?)\s*$/.exec(line)
    if (m && !values.has(m[1])) values.set(m[1], m[2])
  }
  return values
}

/**
 * Why the running controller is not the test cluster, or null when it is: the config it
 * runs from (SLURM_CONF) must be the one slurm-up.sh wrote (its marker line), and the
 * cluster name and ports the controller reports must be that file's. Partitions named
 * `low` and `high` alone prove nothing: another cluster on the machine may have them, and
 * the tests would then submit to it with the wrong names, ports and preemption rules.
 */
export function notOurCluster(running: Map<string, string>, confText: string | null, confPath: string): string | null {
  if (confText === null) return `cannot read ${confPath}, the config the running slurmctld reports`
  if (!confText.split('\n').some((l) => l.trim() === SLURM_UP_MARKER))
    return `${confPath} was not written by scripts/slurm-up.sh (no "${SLURM_UP_MARKER}" line): this is another Slurm cluster`
  const conf = configValues(confText)
  const cluster = running.get('ClusterName')
  if (cluster !== TEST_CLUSTER)
    return `the running cluster is "${cluster ?? '?'}", not the test cluster "${TEST_CLUSTER}" (SKYHOP_SLURM_CLUSTER)`
  if (conf.get('ClusterName') !== cluster)
    return `the running cluster "${cluster}" is not the one ${confPath} names ("${conf.get('ClusterName') ?? '?'}"): restart it with scripts/slurm-up.sh`
  for (const key of ['SlurmctldPort', 'SlurmdPort']) {
    if (running.get(key) !== conf.get(key))
      return `slurmctld runs with ${key}=${running.get(key) ?? '?'}, ${confPath} says ${conf.get(key) ?? '?'}: restart it with scripts/slurm-up.sh`
  }
  return null
}

async function probe(): Promise<{ok: boolean; why: string; down?: boolean}> {
  try {
    const ping = await run('scontrol', ['ping'], {timeout: 15_000}).catch((error: {stdout?: string}) => ({stdout: error.stdout ?? ''}))
    if (!/is UP/.test(ping.stdout)) return {ok: false, down: true, why: `slurmctld is not up: ${ping.stdout.trim().split('\n')[0]}`}
    const config = configValues((await run('scontrol', ['show', 'config'], {timeout: 15_000})).stdout)
    const confPath = config.get('SLURM_CONF') ?? '/etc/slurm/slurm.conf'
    let confText: string | null = null
    try {
      confText = readFileSync(confPath, 'utf8')
    } catch {
      confText = null
    }
    const foreign = notOurCluster(config, confText, confPath)
    if (foreign) return {ok: false, why: foreign}
    const parts = await run('sinfo', ['--noheader', '--all', '--format=%R'], {timeout: 15_000})
    const names = parts.stdout.split('\n').map((l) => l.trim())
    const missing = PARTITIONS.filter((p) => !names.includes(p))
    if (missing.length > 0)
      return {
        ok: false,
        why: `partitions ${missing.join(', ')} are missing (have: ${names.filter(Boolean).join(', ')}); run scripts/slurm-up.sh`,
      }
    return {ok: true, why: ''}
  } catch (error) {
    const e = error as NodeJS.ErrnoException & {stdout?: string; stderr?: string}
    if (e.code === 'ENOENT') return {ok: false, why: 'Slurm client commands are not installed'}
    const said = `${e.stdout ?? ''}\n${e.stderr ?? ''}`.split('\n').find((l) => /Slurmctld|error/i.test(l))
    return {ok: false, why: (said ?? e.message).trim()}
  }
}

/**
 * Whether the test cluster answers. A controller that is down is started with
 * scripts/slurm-up.sh when this process may (root, and SKYHOP_TEST_START_SLURM is not 0):
 * the script is idempotent and refuses to replace a slurm.conf it did not write, so it
 * never takes over another cluster. Cached per process.
 */
export function slurmStatus(): Promise<{ok: boolean; why: string}> {
  status ??= (async () => {
    const first = await probe()
    if (first.ok || !first.down) return first
    if (process.getuid?.() !== 0 || process.env.SKYHOP_TEST_START_SLURM === '0') return first
    try {
      await run('bash', [SLURM_UP], {timeout: 240_000})
    } catch (error) {
      const e = error as {stderr?: string; message: string}
      const said = (e.stderr ?? '').trim().split('\n').pop() || e.message
      return {ok: false, why: `${first.why}; scripts/slurm-up.sh could not start it: ${said}`}
    }
    return probe()
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
    region: TEST_CLUSTER,
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
    /** A container image reference: the job runs in it (the job file's `image:`). */
    image?: string
  } = {},
): LaunchRequest {
  counter++
  const partition = options.partition ?? 'high'
  const attemptId = options.attemptId ?? `att-${process.pid}-${Date.now().toString(36)}-${counter}`
  const spec = slurmSpec(runScript, {
    setup: options.setup ?? null,
    ...(options.nodes ? {nodes: options.nodes} : {}),
    ...(options.compat ? {compat: options.compat} : {}),
    ...(options.image ? {image: options.image, container: parseContainerReference(options.image)} : {}),
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

/** The cluster as Slurm sees it (each job and node with state and reason), and the runners and runtimes alive: for a failure message. */
export async function clusterReport(): Promise<string> {
  const jobs = await slurm('squeue', ['--all', '--format=%i %T %r %N %P %j %M']).catch((e: Error) => `squeue failed: ${e.message}`)
  const nodes = await slurm('sinfo', ['--all', '--Node', '--format=%N %P %T %E']).catch((e: Error) => `sinfo failed: ${e.message}`)
  // The runners and container runtimes alive on this host (the cluster's nodes run here).
  const processes = await run('ps', ['-eo', 'pid,stat,etime,args'], {timeout: 10_000}).then(
    ({stdout}) =>
      stdout
        .split('\n')
        .filter((l) => /podman|conmon|skyhop-runner|slurmstepd/.test(l))
        .join('\n'),
    (e: Error) => `ps failed: ${e.message}`,
  )
  return `squeue:\n${jobs.trim()}\nsinfo:\n${nodes.trim()}\nprocesses:\n${processes}`
}

/**
 * Waits until no job of the given states is on the cluster (so that a job that needs a whole
 * node, or whole nodes, starts at once); after 60 s, fails with what holds the cluster.
 */
export async function clusterIdle(states = 'RUNNING,COMPLETING'): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if ((await slurm('squeue', ['--noheader', `--states=${states}`, '--format=%i'])).trim() === '') return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`the cluster stayed busy (${states}) for 60 s\n${await clusterReport()}`)
}
