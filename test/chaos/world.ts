// What the chaos scenarios share: a batch of jobs launched through the built CLI, each
// appending to its own marker file (`start ATTEMPT` … `end`), kill -9 of their controllers
// and runners at random moments, `skyhop recover` until every job has ended, and the checks
// the figures count: lost (a job not SUCCEEDED), re-run (a start after the job's end, or
// more than one end), orphans (a process still running for the home once all ended), double
// live (two attempts of one job running at the same time), and the secret scan.
import {createHash} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {AttemptRecord} from '../../src/model/records.js'
import {Store} from '../../src/state/store.js'
import {type CliResult, parseEnvelope, runCliAsync} from '../helpers/cli.js'
import {scanForSecret} from '../helpers/secret-scan.js'
import {countScan} from './figures.js'

export type KillKind = 'controller' | 'runner' | 'both'

export interface KillTally {
  kills: number
  lost: string[]
  reruns: string[]
  orphans: string[]
  doubleLive: string[]
  leaks: string[]
  /** A launch or recover that failed (a recover's exit 7, partial, is documented and not one), with what it printed. */
  failed: string[]
}

export function emptyTally(): KillTally {
  return {kills: 0, lost: [], reruns: [], orphans: [], doubleLive: [], leaks: [], failed: []}
}

/**
 * A failed command as the failure message shows it: its exit code, its stdout (the --json
 * envelope, where the error's code and message are: stderr is empty then) and its stderr,
 * with each value in `secrets` masked (the secret scan still reads the raw output).
 */
export function describeFailure(what: string, r: CliResult, secrets: readonly string[] = []): string {
  const mask = (text: string): string => secrets.reduce((t, secret) => (secret ? t.split(secret).join('[secret]') : t), text.trim())
  return `${what} exited ${r.code}: stdout ${mask(r.stdout) || '(empty)'}; stderr ${mask(r.stderr) || '(empty)'}`
}

/** Whether a recover's exit is one it documents for a run that did its work: 0, or 7 (partial: run it again). */
export function recoverOk(r: CliResult): boolean {
  return r.code === 0 || r.code === 7
}

/**
 * The pid in a job's lease owner (`host:pid:tag`) when that process is alive and is the job's
 * controller (its command line says `controller JOB`): a lease names a `recover` or `launch`
 * process while it claims the job for a controller, and a pid that ended may be reused by
 * another process, which a chaos kill must never hit.
 */
export function controllerPid(owner: string | null, jobId: string): number | null {
  const pid = owner ? Number(owner.split(':')[1]) : NaN
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    const at = argv.indexOf('controller')
    return at >= 0 && argv[at + 1] === jobId ? pid : null
  } catch {
    return null // gone
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function kill9(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL')
    return true
  } catch {
    return false
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** The live attempt's runner pid (runner.pid in its attempt directory), when there is one now. */
function runnerPid(store: Store, jobId: string): number | null {
  const live = store
    .listAttempts(jobId)
    .filter((a) => a.handle && !['SUCCEEDED', 'FAILED', 'PREEMPTED', 'CANCELLED', 'LOST'].includes(a.state))
  for (const a of live) {
    const dir = (a.handle!.data as {attemptDir?: string}).attemptDir
    const file = dir ? join(dir, 'runner.pid') : null
    if (file && existsSync(file)) {
      const pid = Number(readFileSync(file, 'utf8').trim())
      if (pid > 0 && isAlive(pid)) return pid
    }
  }
  return null
}

/**
 * What a job that did not end went through, for the failure message: its lease, its events,
 * its attempts, and the end of its controllers' log (a chaos failure is seldom reproduced, so
 * the message must hold what explains it). Secrets are scanned elsewhere; none is stored.
 */
export function explainJob(store: Store, home: string, jobId: string): string {
  const job = store.getJob(jobId)
  if (!job) return `${jobId}: no such job`
  const lines = [`${jobId}: ${job.state} ${job.reason ?? ''} lease ${job.leaseOwner ?? 'free'} until ${job.leaseExpiresAt ?? '-'}`]
  for (const e of store.events(jobId)) lines.push(`  event ${e.ts} ${e.kind} ${e.attemptId ?? ''} ${JSON.stringify(e.data)}`)
  for (const a of store.listAttempts(jobId)) lines.push(`  attempt ${a.id} ${a.provider} ${a.state} ${a.handle?.externalId ?? ''}`)
  const log = join(home, 'controllers', `${jobId}.log`)
  if (existsSync(log)) {
    const tail = readFileSync(log, 'utf8').trim().split('\n').slice(-15)
    lines.push(`  controller log (last ${tail.length} lines):`, ...tail.map((l) => `    ${l}`))
  }
  return lines.join('\n')
}

/** Processes whose command line or environment names `home` (a runner, a job, a controller left behind). */
export function processesOf(home: string): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
      let env = ''
      try {
        env = readFileSync(`/proc/${pid}/environ`, 'utf8')
      } catch {
        // another user's: not ours
      }
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      if (/\) Z /.test(stat)) continue
      if (cmd.includes(home) || env.includes(`=${home}`)) found.push(`${pid} ${cmd.slice(0, 160)}`)
    } catch {
      // gone
    }
  }
  return found
}

/** Two attempts of a job that ran at the same time (each from its launch to its end). */
export function overlapping(attempts: readonly AttemptRecord[]): string[] {
  const spans = attempts
    .filter((a) => a.startedAt !== null || a.state === 'SUCCEEDED' || a.state === 'FAILED')
    .map((a) => ({
      id: a.id,
      from: Date.parse(a.startedAt ?? a.launchedAt ?? a.endedAt ?? ''),
      to: a.endedAt ? Date.parse(a.endedAt) : Date.now(),
    }))
  const out: string[] = []
  for (let i = 0; i < spans.length; i++)
    for (let j = i + 1; j < spans.length; j++)
      if (spans[i].from < spans[j].to && spans[j].from < spans[i].to) out.push(`${spans[i].id} and ${spans[j].id}`)
  return out
}

export interface Batch {
  home: string
  env: Record<string, string>
  /** The jobs' secret (declared `secrets: [CHAOS_TOKEN]`), or null where the backend needs a store for it. */
  secret: string | null
  /** Other secret values that must never show (a cloud key). */
  alsoSecret?: string[]
  kinds: KillKind[]
  random: () => number
  /** The latest a kill lands after the launch returned (ms). */
  killWithinMs: number
  /** Seconds the job runs. */
  jobSeconds: number
  /** Extra job file lines (e.g. `spot: on-demand`). */
  extra?: string
  label: string
  /** Extra arguments of each launch (`--catalog FILE`). */
  launchArgs?: string[]
  /** Extra places to scan: directories (a fake instance's disk), captured texts (user data). */
  scan?: () => {dirs?: string[]; texts?: Record<string, string>}
  /**
   * Commands run once every job has ended, before the scan (a `recover` past the idle
   * timeout, `down --orphans`): what they release must take the job's secrets with it.
   */
  finally?: string[][]
}

/** Launches one job per kind, kills as told at random moments, recovers until all end, and checks. */
export async function killBatch(b: Batch, tally: KillTally): Promise<void> {
  const outputs: Record<string, string> = {}
  const env = {...b.env, ...(b.secret ? {CHAOS_TOKEN: b.secret} : {})}
  const secretValues = [b.secret, ...(b.alsoSecret ?? [])].filter((s): s is string => s !== null)
  const launched = await Promise.all(
    b.kinds.map(async (kind, i) => {
      const name = `${b.label}-${i}`
      const marks = join(b.home, `marks-${name}`)
      const file = join(b.home, `${name}.yaml`)
      const secrets = b.secret ? 'secrets: [CHAOS_TOKEN]\n' : ''
      // The job checks the secret reached it by its hash, never by its value.
      const check = b.secret ? `  CHAOS_SHA: ${createHash('sha256').update(b.secret).digest('hex')}\n` : ''
      writeFileSync(
        file,
        `name: ${name}\n${secrets}${b.extra ?? ''}envs:\n  MARKS: ${JSON.stringify(marks)}\n${check}run: |\n  echo "start $SKYHOP_ATTEMPT" >> "$MARKS"\n  if [ -n "\${CHAOS_SHA-}" ]; then [ "$(printf %s "$CHAOS_TOKEN" | sha256sum | cut -c1-64)" = "$CHAOS_SHA" ] || exit 9; fi\n  sleep ${b.jobSeconds}\n  echo end >> "$MARKS"\n`,
      )
      const r: CliResult = await runCliAsync(['launch', file, '--yes', '--json', ...(b.launchArgs ?? [])], {home: b.home, env})
      outputs[`launch ${name} --json`] = r.stdout + r.stderr
      if (r.code !== 0) {
        // Kept with what it printed; the other jobs of the batch go on (and are scanned).
        tally.failed.push(describeFailure(`launch of ${name} (${kind})`, r, secretValues))
        return null
      }
      return {kind, name, marks, jobId: parseEnvelope(r.stdout).result.job.id as string}
    }),
  ).then((all) => all.filter((j) => j !== null))
  const store = Store.open(b.home)
  try {
    // Kill at random moments, each job on its own clock.
    await Promise.all(
      launched.map(async (j) => {
        await sleep(Math.floor(b.random() * b.killWithinMs))
        const until = Date.now() + 20_000
        let controllerDone = j.kind === 'runner'
        let runnerDone = j.kind === 'controller'
        while ((!controllerDone || !runnerDone) && Date.now() < until) {
          const job = store.getJob(j.jobId)!
          if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.state)) break
          if (!controllerDone) {
            // The claim made at launch names the launching process; wait for the controller's own.
            const pid = controllerPid(job.leaseOwner, j.jobId)
            if (pid !== null && kill9(pid)) {
              controllerDone = true
              tally.kills++
            }
          }
          if (!runnerDone) {
            const pid = runnerPid(store, j.jobId)
            if (pid !== null && kill9(pid)) {
              runnerDone = true
              tally.kills++
            }
          }
          if (!controllerDone || !runnerDone) await sleep(50)
        }
      }),
    )
    // Recover until every job has ended.
    const deadline = Date.now() + 90_000
    for (;;) {
      const open = launched.filter((j) => !['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(store.getJob(j.jobId)!.state))
      if (open.length === 0 || Date.now() > deadline) break
      await sleep(1200)
      const r = await runCliAsync(['recover', '--json'], {home: b.home, env})
      outputs[`recover ${Date.now()} --json`] = r.stdout + r.stderr
      if (!recoverOk(r)) tally.failed.push(describeFailure(`recover (${b.label})`, r, secretValues))
    }
    for (const j of launched) {
      const job = store.getJob(j.jobId)!
      if (job.state !== 'SUCCEEDED') tally.lost.push(`${j.name} (${j.kind}): ${explainJob(store, b.home, j.jobId)}`)
      const lines = existsSync(j.marks) ? readFileSync(j.marks, 'utf8').trim().split('\n') : []
      const firstEnd = lines.indexOf('end')
      const starts = lines.filter((l) => l.startsWith('start')).length
      const ends = lines.filter((l) => l === 'end').length
      if (ends > 1 || (firstEnd >= 0 && lines.slice(firstEnd + 1).some((l) => l.startsWith('start'))) || starts > 1)
        tally.reruns.push(`${j.name} (${j.kind}): ${lines.join(' | ')}`)
      const overlap = overlapping(store.listAttempts(j.jobId))
      if (overlap.length > 0) tally.doubleLive.push(`${j.name}: ${overlap.join(', ')}`)
    }
    // Nothing left running for the home once all ended (a runner's exit takes a moment).
    let left: string[] = []
    for (let i = 0; i < 20; i++) {
      left = processesOf(b.home)
      if (left.length === 0) break
      await sleep(250)
    }
    tally.orphans.push(...left)
    for (const args of b.finally ?? []) {
      const r = await runCliAsync(args, {home: b.home, env})
      outputs[`${args.join(' ')} ${Date.now()}`] = r.stdout + r.stderr
      if (r.code !== 0) tally.failed.push(describeFailure(args.join(' '), r, secretValues))
    }
    const extra = b.scan?.() ?? {}
    for (const secret of secretValues) {
      const hits = scanForSecret(secret, {dirs: [b.home, ...(extra.dirs ?? [])], texts: {...outputs, ...(extra.texts ?? {})}})
      countScan(hits.length)
      tally.leaks.push(...hits.map((h) => `${h.where} (${h.form})`))
    }
  } finally {
    store.close()
  }
}
