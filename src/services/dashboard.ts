// The `dashboard` service: what the web page shows, as one JSON document built from the
// same services the CLI reads (status's job summaries, sweeps, serve status, cost), and the
// server that hands it to the page (dashboard-server.ts). Read-only, except cancel, which
// goes through the cancel service exactly as `skyhop cancel` does.
import {readFileSync} from 'node:fs'
import {randomBytes} from 'node:crypto'

import {UsageError} from '../errors.js'
import type {ServiceContext} from './context.js'
import {type CancelResult, cancel} from './cancel.js'
import {type CostReport, cost} from './cost.js'
import {type AttemptSummary, type JobSummary, attemptSummary} from './jobs.js'
import {type ServiceSummary, serveStatus} from './serve.js'
import {listJobs} from './status.js'
import type {SweepSummary} from './sweep.js'
import {sweeps} from './sweeps.js'
import {type RunningDashboard, isLoopback, startDashboardServer} from './dashboard-server.js'

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
  jobs: DashboardJob[]
  sweeps: SweepSummary[]
  services: ServiceSummary[]
  cost: {
    total: CostReport['total']['cost'] & {onDemandUsd: number; spotSavedUsd: number; liveAttempts: number}
    byProvider: Array<{provider: string; usd: number | null; knownUsd: number; onDemandUsd: number; spotSavedUsd: number}>
    summary: string
  }
}

/** Everything the page shows, newest jobs first (at most `limit`). */
export async function dashboardSnapshot(ctx: ServiceContext, options: {limit: number; now?: Date}): Promise<DashboardSnapshot> {
  const now = options.now ?? new Date()
  const store = await ctx.store()
  const [byProvider, byJob, sweepList, services] = await Promise.all([
    cost(ctx, {since: {all: true}, by: 'provider', now}),
    cost(ctx, {since: {all: true}, by: 'job', now}),
    sweeps(ctx, {limit: 20}),
    serveStatus(ctx, {}),
  ])
  const jobCost = new Map(byJob.groups.map((g) => [g.key, {usd: g.cost.usd, onDemandUsd: g.onDemandUsd}]))
  const jobs = listJobs(store, {limit: options.limit}).map((job): DashboardJob => {
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

/** The page's cancel: the cancel service, the same one (and so the same rules) as `skyhop cancel`. */
export function dashboardCancel(ctx: ServiceContext, job: string, graceSeconds: number): Promise<CancelResult> {
  return cancel(ctx, {job, graceSeconds})
}

/** Where the access token comes from: none (loopback), a file, or one generated now and printed once. */
export type DashboardTokenSource = {kind: 'none'} | {kind: 'file'; path: string} | {kind: 'generated'}

export interface DashboardToken {
  source: DashboardTokenSource['kind']
  /** The secret; never logged, never in --json output. */
  value: string | null
}

/** Shortest token a file may hold: 128 bits as hex. */
export const MIN_TOKEN_LENGTH = 32

/**
 * The token the server will ask for. Bound to anything but loopback, a token is required:
 * from `--token-file`, else generated here; a generated one must be shown to a person
 * (`canShowToken`), or the dashboard refuses to start.
 */
export function resolveDashboardToken(options: {host: string; tokenFile?: string; canShowToken: boolean}): DashboardToken {
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
  /** The grace a cancel from the page gives the job, as `skyhop cancel --grace`. */
  graceSeconds: number
}

export interface DashboardStarted extends RunningDashboard {
  /** Where to point a browser: the url, with the token when it was generated here (shown once). */
  openUrl: string
}

/** Serves the dashboard until close(); a port in use or a host that cannot be bound is a usage error. */
export async function startDashboard(ctx: ServiceContext, options: DashboardOptions): Promise<DashboardStarted> {
  let running: RunningDashboard
  try {
    running = await startDashboardServer({
      host: options.host,
      port: options.port,
      token: options.token.value,
      intervalMs: options.intervalSeconds * 1000,
      snapshot: () => dashboardSnapshot(ctx, {limit: options.limit}),
      cancel: (job) => dashboardCancel(ctx, job, options.graceSeconds),
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
