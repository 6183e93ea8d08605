// The `dashboard` service: what the web page shows, as one JSON document built from the
// same services the CLI reads (status's job summaries, sweeps, serve status, cost), and the
// server that hands it to the page (dashboard-server.ts). Read-only, except cancel, which
// goes through the cancel service exactly as `skyhop cancel` does.
import {readFileSync} from 'node:fs'
import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'

import {UsageError} from '../errors.js'
import type {ServiceContext} from './context.js'
import {type CancelResult, cancel} from './cancel.js'
import {type CostReport, costReports} from './cost.js'
import {type AttemptSummary, type JobSummary, attemptSummary} from './jobs.js'
import {type ServiceSummary, serveStatus} from './serve.js'
import {type Actor, actorNamed, actorOf} from './owners.js'
import {listJobs} from './status.js'
import type {SweepSummary} from './sweep.js'
import {sweeps} from './sweeps.js'
import {type RunningDashboard, type Viewer, isLoopback, sameSecret, startDashboardServer} from './dashboard-server.js'

export {isLoopback} from './dashboard-server.js'

export interface DashboardAttempt extends AttemptSummary {
  /** When the attempt was asked for (its bar starts at its launch, else here). */
  intentAt: string
  /** What the attempt would have cost per hour on demand; null when unknown. */
  onDemandPricePerHour: number | null
  /** The launch itself failed (capacity, quota, auth…): the next attempt is a failover. */
  launchFailed: boolean
}

export interface DashboardJob extends JobSummary {
  attemptsDetail: DashboardAttempt[]
  preemptions: number
  failovers: number
  /** What its attempts cost so far, and what they would have on demand (USD); usd null when a price is unknown. */
  cost: {usd: number | null; onDemandUsd: number} | null
}

export interface DashboardSnapshot {
  generatedAt: string
  /** Who the page acts as (the user who started the dashboard: its cancel is theirs), and whose jobs it lists. */
  viewer: {user: string; admin: boolean; allUsers: boolean}
  jobs: DashboardJob[]
  sweeps: SweepSummary[]
  services: ServiceSummary[]
  cost: {
    total: CostReport['total']['cost'] & {onDemandUsd: number; spotSavedUsd: number; liveAttempts: number}
    byProvider: Array<{provider: string; usd: number | null; knownUsd: number; onDemandUsd: number; spotSavedUsd: number}>
    summary: string
  }
}

/** Whom a request acts as: the user its token names, else the user who started the dashboard. */
function actorFor(ctx: ServiceContext, viewer: Viewer = null): Actor {
  return viewer === null ? actorOf(ctx.config()) : actorNamed(ctx.config(), viewer)
}

/** Everything the page shows, newest jobs first (at most `limit`), as `viewer` sees it. */
export async function dashboardSnapshot(
  ctx: ServiceContext,
  options: {limit: number; allUsers: boolean; now?: Date; viewer?: Viewer},
): Promise<DashboardSnapshot> {
  const now = options.now ?? new Date()
  const store = await ctx.store()
  const actor = actorFor(ctx, options.viewer)
  // As `status`: one's own jobs (and those from before owners), or the team's with allUsers.
  const shown = listJobs(store, {limit: options.limit, owner: options.allUsers ? undefined : actor.user})
  const [[byProvider, byJob], sweepList, services] = await Promise.all([
    costReports(ctx, {since: {all: true}, now, reports: [{by: 'provider'}, {by: 'job', jobs: new Set(shown.map((j) => j.id))}]}),
    sweeps(ctx, {limit: 20}),
    serveStatus(ctx, {}),
  ])
  const jobCost = new Map(byJob.groups.map((g) => [g.key, {usd: g.cost.usd, onDemandUsd: g.onDemandUsd}]))
  const jobs = shown.map((job): DashboardJob => {
    const attempts = store.listAttempts(job.id).map((a): DashboardAttempt => ({
      ...attemptSummary(a),
      intentAt: a.intentAt,
      onDemandPricePerHour: a.onDemandPricePerHour,
      launchFailed: a.launchedAt === null && a.state === 'FAILED',
    }))
    return {
      ...job,
      attemptsDetail: attempts,
      preemptions: attempts.filter((a) => a.state === 'PREEMPTED').length,
      failovers: attempts.filter((a) => a.launchFailed).length,
      cost: jobCost.get(job.id) ?? null,
    }
  })
  const t = byProvider.total
  return {
    generatedAt: now.toISOString(),
    viewer: {user: actor.user, admin: actor.admin, allUsers: options.allUsers},
    jobs,
    sweeps: 'sweeps' in sweepList ? sweepList.sweeps : [],
    services: services.services,
    cost: {
      total: {...t.cost, onDemandUsd: t.onDemandUsd, spotSavedUsd: t.spotSavedUsd, liveAttempts: t.liveAttempts},
      byProvider: byProvider.groups.map((g) => ({
        provider: g.key,
        usd: g.cost.usd,
        knownUsd: g.cost.knownUsd,
        onDemandUsd: g.onDemandUsd,
        spotSavedUsd: g.spotSavedUsd,
      })),
      summary: t.summary,
    },
  }
}

/** The page's cancel: the cancel service, the same one (and so the same rules) as `skyhop cancel`, as `viewer`. */
export function dashboardCancel(ctx: ServiceContext, job: string, graceSeconds: number, viewer: Viewer = null): Promise<CancelResult> {
  return cancel(ctx, {job, graceSeconds, actor: actorFor(ctx, viewer)})
}

/**
 * Where the access token comes from: none (loopback), a file, one generated now and printed
 * once, or a file of per-user token hashes (`--tokens`).
 */
export type DashboardTokenSource = {kind: 'none'} | {kind: 'file'; path: string} | {kind: 'generated'} | {kind: 'users'; path: string}

export interface DashboardToken {
  source: DashboardTokenSource['kind']
  /** The secret; never logged, never in --json output. Null for none and per-user tokens. */
  value: string | null
  /** Per-user tokens: each user and the SHA-256 of their token. */
  users?: ReadonlyArray<{user: string; sha256: Buffer}>
}

const SHA256_HEX = /^(?:sha256:)?([0-9a-f]{64})$/i

/**
 * `--tokens FILE`: one `USER: SHA256` line per user (the hex SHA-256 of their token,
 * optionally `sha256:`-prefixed; `#` comments and blank lines allowed). The file holds hashes,
 * never tokens; a bad line is a located error that never repeats what it holds.
 */
export function readUserTokens(file: string): Array<{user: string; sha256: Buffer}> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UsageError(`--tokens ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {
      code: 'TOKEN_FILE_UNREADABLE',
      hint: 'Give a readable file of `USER: SHA256` lines (docs/dashboard.md#per-user-tokens).',
    })
  }
  const users: Array<{user: string; sha256: Buffer}> = []
  const bad = (line: number, why: string) =>
    new UsageError(`--tokens ${file}:${line}: ${why}`, {
      code: 'TOKEN_FILE_INVALID',
      hint: 'Each line is `USER: SHA256`, the hash of that user\'s token: `printf %s "$TOKEN" | sha256sum` (docs/dashboard.md#per-user-tokens).',
    })
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim()
    if (line === '') continue
    const colon = line.indexOf(':')
    const user = colon < 0 ? '' : line.slice(0, colon).trim()
    const hash = colon < 0 ? '' : line.slice(colon + 1).trim()
    if (user === '' || /\s/.test(user)) throw bad(i + 1, 'is not `USER: SHA256` (a user name without spaces, a colon, a hash)')
    const hex = SHA256_HEX.exec(hash)?.[1]
    if (hex === undefined) throw bad(i + 1, `the hash of ${user}'s token is not 64 hexadecimal digits (a SHA-256)`)
    if (users.some((u) => u.user === user)) throw bad(i + 1, `${user} has a second line`)
    const sha256 = Buffer.from(hex, 'hex')
    if (users.some((u) => u.sha256.equals(sha256))) throw bad(i + 1, `${user}'s token is another user's too; each needs their own`)
    users.push({user, sha256})
  }
  if (users.length === 0) throw bad(1, 'names no user')
  return users
}

/** The user whose token this is, compared in constant time with every hash (no early exit); undefined when none. */
export function userOfToken(users: ReadonlyArray<{user: string; sha256: Buffer}>, token: string): string | undefined {
  const given = createHash('sha256').update(token).digest()
  let found: string | undefined
  for (const u of users) if (timingSafeEqual(given, u.sha256) && found === undefined) found = u.user
  return found
}

/** Shortest token a file may hold: 128 bits as hex. */
export const MIN_TOKEN_LENGTH = 32

/**
 * The token the server will ask for. Bound to anything but loopback, a token is required:
 * one per user from `--tokens`, or one from `--token-file`, else generated here; a generated
 * one must be shown to a person (`canShowToken`), or the dashboard refuses to start.
 */
export function resolveDashboardToken(options: {
  host: string
  tokenFile?: string
  tokensFile?: string
  canShowToken: boolean
}): DashboardToken {
  if (options.tokensFile !== undefined) return {source: 'users', value: null, users: readUserTokens(options.tokensFile)}
  if (options.tokenFile !== undefined) {
    let text: string
    try {
      text = readFileSync(options.tokenFile, 'utf8')
    } catch (error) {
      throw new UsageError(`--token-file ${options.tokenFile}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {
        code: 'TOKEN_FILE_UNREADABLE',
        hint: 'Give a readable file holding one token, e.g. `openssl rand -hex 32 > token`.',
      })
    }
    const value = text.trim()
    if (value.length < MIN_TOKEN_LENGTH || /\s/.test(value))
      throw new UsageError(
        `--token-file ${options.tokenFile}: holds ${value.length === 0 ? 'nothing' : /\s/.test(value) ? 'more than one word' : `${value.length} characters`}; a token is one word of at least ${MIN_TOKEN_LENGTH} characters`,
        {code: 'TOKEN_FILE_INVALID', hint: 'Write a long random token into it, e.g. `openssl rand -hex 32 > token`.'},
      )
    return {source: 'file', value}
  }
  if (isLoopback(options.host)) return {source: 'none', value: null}
  if (!options.canShowToken)
    throw new UsageError(
      `--host ${options.host} is reachable from other machines, so the dashboard needs a token, and none can be shown here`,
      {
        code: 'TOKEN_REQUIRED',
        hint: 'Pass --token-file FILE: a generated token is printed once in the human output, never in --json output.',
      },
    )
  return {source: 'generated', value: randomBytes(24).toString('base64url')}
}

export interface DashboardOptions {
  host: string
  port: number
  token: DashboardToken
  /** Seconds between reads of the store for live updates. */
  intervalSeconds: number
  /** Most jobs shown. */
  limit: number
  /** Every user's jobs, as `status --all-users`; default: the jobs of whoever started the dashboard. */
  allUsers: boolean
  /** The grace a cancel from the page gives the job, as `skyhop cancel --grace`. */
  graceSeconds: number
}

export interface DashboardStarted extends RunningDashboard {
  /** Where to point a browser: the url, with the token when it was generated here (shown once). */
  openUrl: string
}

/** Who a token is: a user of `--tokens`, the one who started the dashboard for its one token, or no one. */
function authenticator(token: DashboardToken): ((given: string) => {viewer: Viewer} | undefined) | null {
  const {users, value} = token
  if (users !== undefined) {
    return (given) => {
      const user = userOfToken(users, given)
      return user === undefined ? undefined : {viewer: user}
    }
  }
  if (value === null) return null
  return (given) => (sameSecret(given, value) ? {viewer: null} : undefined)
}

/** Serves the dashboard until close(); a port in use or a host that cannot be bound is a usage error. */
export async function startDashboard(ctx: ServiceContext, options: DashboardOptions): Promise<DashboardStarted> {
  let running: RunningDashboard
  try {
    running = await startDashboardServer({
      host: options.host,
      port: options.port,
      authenticate: authenticator(options.token),
      intervalMs: options.intervalSeconds * 1000,
      snapshot: (viewer) => dashboardSnapshot(ctx, {limit: options.limit, allUsers: options.allUsers, viewer}),
      cancel: (job, viewer) => dashboardCancel(ctx, job, options.graceSeconds, viewer),
    })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES' || code === 'ENOTFOUND')
      throw new UsageError(`cannot listen on ${options.host}:${options.port}: ${code}`, {
        code: 'DASHBOARD_LISTEN_FAILED',
        hint:
          code === 'EADDRINUSE'
            ? 'Another process holds that port: pick another with --port, or --port 0 for any free one.'
            : 'Give --host an address of this machine (127.0.0.1 by default).',
      })
    throw error
  }
  const openUrl = options.token.source === 'generated' ? `${running.url}?token=${options.token.value}` : running.url
  return {...running, openUrl}
}
