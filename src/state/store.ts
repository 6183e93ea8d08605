// The state store: one SQLite database (WAL) in skyhop's home. Jobs, attempts, events
// and observations. Every write is one transaction, so a process killed at any point
// leaves either the whole change or none of it. Intents are recorded before acting and
// outcomes after, which is what lets `recover` reconcile after a crash.
import type Database from 'better-sqlite3'

import {randomBytes} from 'node:crypto'
import {mkdirSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'

import {BugError, UsageError} from '../errors.js'
import type {JobSpec} from '../model/job-spec.js'
import type {UsageObservation, UsageRecord, UsageSummary} from '../model/usage.js'
import {
  TERMINAL_JOB_STATES,
  type AttemptRecord,
  type AttemptRecordState,
  type CostRow,
  type EventRecord,
  type JobRecord,
  type JobState,
  type NewAttempt,
  type NewJob,
  type NewSweep,
  type ObservationKind,
  type ObservationRecord,
  type SweepRecord,
  type SweepState,
} from '../model/records.js'
import type {LaunchHandle} from '../model/attempt.js'
import {redactDeep} from '../util/redact.js'
import {didYouMean} from '../util/did-you-mean.js'
import {STATE_DB} from './files.js'
import {MIGRATIONS} from './migrations.js'

const require = createRequire(import.meta.url)

/** Attempt states not known to be over: requested, or launched and not yet ended. */
const OPEN_ATTEMPT_STATES: ReadonlySet<AttemptRecordState> = new Set(['REQUESTED', 'PENDING', 'PROVISIONING', 'RUNNING'])

export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`
}

type Row = Record<string, unknown>

export class Store {
  private constructor(
    readonly db: Database.Database,
    readonly path: string,
    private readonly clock: () => Date,
  ) {}

  /** Opens (creating and migrating if needed) the store under `home`. */
  static open(home: string, options: {clock?: () => Date; readonly?: boolean} = {}): Store {
    mkdirSync(home, {recursive: true, mode: 0o700})
    const path = join(home, STATE_DB)
    const Sqlite = require('better-sqlite3') as typeof Database
    let db: Database.Database
    try {
      db = new Sqlite(path, {timeout: 10_000})
    } catch (error) {
      throw new UsageError(`cannot open the state store at ${path}: ${(error as Error).message}`, {
        code: 'STATE_UNAVAILABLE',
        hint: 'Check that SKYHOP_HOME points at a writable directory.',
      })
    }
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 10000')
    const store = new Store(db, path, options.clock ?? (() => new Date()))
    store.migrate()
    return store
  }

  close(): void {
    this.db.close()
  }

  /**
   * Prepared statements are reused: preparing is most of the cost of a small query, and a
   * sweep runs the same few thousands of times. Keyed by the SQL text (dynamic filters make
   * a handful of variants at most).
   */
  private readonly statements = new Map<string, Database.Statement>()

  /**
   * Reads kept until what they read may have changed. A controller re-plans several times
   * per decision, and every plan reads the job's attempts and the observations: hundreds of
   * rows on a long spot job, and the simulator replays thousands of decisions (reading them
   * was most of a replay's time). A kept read is good while this connection has not written
   * its table (the counters, bumped by every write to it and by every rollback) and no other
   * connection has committed (SQLite's data_version). Reads inside a transaction are not kept.
   */
  private readonly reads = new Map<string, {version: string; value: unknown}>()
  private attemptWrites = 0
  /** startedAttempts of a kept list of attempts. */
  private readonly startedOf = new WeakMap<readonly AttemptRecord[], readonly AttemptRecord[]>()
  private observationWrites = 0

  /**
   * Runs a write to attempt `id` (its job's list of attempts kept across it when it was
   * current: the row is read back once and put in its place, as written or as a rollback
   * left it). Kept reads of attempts are otherwise dropped, before and after.
   */
  private writingAttempts<T>(id: string, write: () => T): T {
    const before = this.attemptWrites++
    try {
      return write()
    } finally {
      this.attemptWrites++
      const row = this.sql('SELECT * FROM attempts WHERE id = ?').get(id) as Row | undefined
      const key = row ? `attempts:${row.job_id as string}` : ''
      const kept = this.reads.get(key)
      const dataVersion = this.dataVersion()
      // Inside a caller's transaction the row may yet be rolled back: not kept.
      if (row && !this.db.inTransaction && kept?.version === `${dataVersion}:${before}`) {
        const list = kept.value as readonly AttemptRecord[]
        const attempt = Object.freeze(toAttempt(row))
        const i = list.findIndex((a) => a.id === id)
        this.reads.set(key, {
          version: `${dataVersion}:${this.attemptWrites}`,
          value: Object.freeze(i >= 0 ? list.with(i, attempt) : [...list, attempt]),
        })
      }
    }
  }

  private dataVersion(): number {
    return this.sql('PRAGMA data_version').pluck().get() as number
  }

  private cachedRead<T>(key: string, writes: number, read: () => T): T {
    if (this.db.inTransaction) return read()
    const version = `${this.dataVersion()}:${writes}`
    const kept = this.reads.get(key)
    if (kept !== undefined && kept.version === version) return kept.value as T
    const value = read()
    this.reads.set(key, {version, value})
    return value
  }

  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text)
    if (statement === undefined) {
      statement = this.db.prepare(text)
      this.statements.set(text, statement)
    }
    return statement
  }

  private now(): string {
    return this.clock().toISOString()
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)')
    const applied = new Set((this.sql('SELECT version FROM schema_migrations').all() as Array<{version: number}>).map((r) => r.version))
    const latestKnown = Math.max(...MIGRATIONS.map((m) => m.version))
    const newest = Math.max(0, ...applied)
    if (newest > latestKnown) {
      throw new UsageError(
        `the state store at ${this.path} was written by a newer skyhop (schema ${newest}, this one knows ${latestKnown})`,
        {
          code: 'STATE_TOO_NEW',
          hint: 'Upgrade skyhop, or point SKYHOP_HOME elsewhere.',
        },
      )
    }
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue
      // BEGIN IMMEDIATE: two processes opening a fresh store at once must not both migrate.
      this.db
        .transaction(() => {
          const again = this.sql('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version)
          if (again) return
          this.db.exec(m.sql)
          this.sql('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, this.now())
        })
        .immediate()
    }
  }

  /** Runs `fn` in one IMMEDIATE transaction (writers serialize; readers never block). */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate()
    } catch (error) {
      // Rolled back: whatever was read or written inside may be gone. Nothing is kept from
      // inside a transaction, and the counters make what was kept before read again.
      if (!this.db.inTransaction) {
        this.attemptWrites++
        this.observationWrites++
      }
      throw error
    }
  }

  // ---- jobs -------------------------------------------------------------------------

  createJob(input: NewJob): JobRecord {
    const id = newId('j')
    const ts = this.now()
    this.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO jobs (id, name, file, spec_json, state, created_at, updated_at, sweep_id, matrix_json, options_json, owner,
             planned_usd_per_hour)
           VALUES (?, ?, ?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          input.name,
          input.file,
          JSON.stringify(input.spec),
          ts,
          ts,
          input.sweepId ?? null,
          input.matrix ? JSON.stringify(input.matrix) : null,
          JSON.stringify(redactDeep(input.options ?? {})),
          input.owner ?? null,
          input.plannedUsdPerHour ?? null,
        )
      this.insertEvent(id, null, 'job-created', {name: input.name, file: input.file, ...(input.owner ? {owner: input.owner} : {})})
    })
    return this.getJob(id)!
  }

  getJob(id: string): JobRecord | undefined {
    const row = this.sql('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined
    return row ? toJob(row) : undefined
  }

  /** A job by id, or by name (the most recent job of that name). Unknown → UsageError. */
  findJob(ref: string): JobRecord {
    return toJob(this.findByIdOrName('jobs', ref, {what: 'job', code: 'JOB_NOT_FOUND', list: 'skyhop status'}))
  }

  /** The row with this id, else the most recent one with this name; unknown → UsageError with a "did you mean". */
  private findByIdOrName(table: 'jobs' | 'sweeps', ref: string, words: {what: string; code: string; list: string}): Row {
    const row = (this.sql(`SELECT * FROM ${table} WHERE id = ?`).get(ref) ??
      this.sql(`SELECT * FROM ${table} WHERE name = ? ORDER BY created_at DESC, rowid DESC LIMIT 1`).get(ref)) as Row | undefined
    if (row) return row
    const names = (this.sql(`SELECT DISTINCT name FROM ${table} ORDER BY created_at DESC LIMIT 500`).all() as Array<{name: string}>).map(
      (r) => r.name,
    )
    const suggestion = didYouMean(ref, names)
    throw new UsageError(`no ${words.what} with id or name "${ref}"`, {
      code: words.code,
      hint: `${suggestion ? `Did you mean "${suggestion}"? ` : ''}See \`${words.list}\` for all ${words.what}s.`,
    })
  }

  /**
   * Newest first. `owner`: only that user's jobs and those from before owners (no owner), which
   * every user sees.
   */
  listJobs(filter: {sweepId?: string; states?: JobState[]; limit?: number; owner?: string} = {}): JobRecord[] {
    const where: string[] = []
    const args: unknown[] = []
    if (filter.owner !== undefined) {
      where.push('(owner = ? OR owner IS NULL)')
      args.push(filter.owner)
    }
    if (filter.sweepId) {
      where.push('sweep_id = ?')
      args.push(filter.sweepId)
    }
    if (filter.states && filter.states.length > 0) {
      where.push(`state IN (${filter.states.map(() => '?').join(',')})`)
      args.push(...filter.states)
    }
    const sql = `SELECT * FROM jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, rowid DESC LIMIT ?`
    return (this.sql(sql).all(...args, filter.limit ?? 1000) as Row[]).map(toJob)
  }

  /** Moves a job to `state` and records why, in one transaction. */
  setJobState(
    id: string,
    state: JobState,
    event: {kind: string; data?: Record<string, unknown>; attemptId?: string | null},
    fields: {exitCode?: number | null; reason?: string | null; restarts?: number; errorRestarts?: number} = {},
  ): boolean {
    return this.transaction(() => {
      // An ended job stays ended: a controller racing a cancel must not revive it. The
      // check and the write are one transaction, so there is no window between them.
      const current = this.sql('SELECT state FROM jobs WHERE id = ?').get(id) as {state: JobState} | undefined
      if (!current) throw new BugError(`job ${id} vanished from the state store`)
      if (TERMINAL_JOB_STATES.has(current.state) && !TERMINAL_JOB_STATES.has(state)) return false
      const sets = ['state = ?', 'updated_at = ?']
      const args: unknown[] = [state, this.now()]
      if (fields.exitCode !== undefined) {
        sets.push('exit_code = ?')
        args.push(fields.exitCode)
      }
      if (fields.reason !== undefined) {
        sets.push('reason = ?')
        args.push(fields.reason)
      }
      if (fields.restarts !== undefined) {
        sets.push('restarts = ?')
        args.push(fields.restarts)
      }
      if (fields.errorRestarts !== undefined) {
        sets.push('error_restarts = ?')
        args.push(fields.errorRestarts)
      }
      const info = this.sql(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...args, id)
      if (info.changes !== 1) throw new BugError(`job ${id} vanished from the state store`)
      this.insertEvent(id, event.attemptId ?? null, event.kind, {state, ...event.data})
      return true
    })
  }

  /**
   * What every owner's unfinished jobs were planned to cost per hour, in USD: the running
   * spend budgets are enforced against (src/planner/spend-budget.ts). A job whose price was
   * unknown counts 0 (a budget never lets one be recorded). Jobs from before owners are
   * under the owner null.
   */
  runningSpendByOwner(): Array<{owner: string | null; usdPerHour: number; jobs: number}> {
    const rows = this.sql(
      `SELECT owner, SUM(COALESCE(planned_usd_per_hour, 0)) AS usd, COUNT(*) AS n FROM jobs
       WHERE state NOT IN ('SUCCEEDED','FAILED','CANCELLED') GROUP BY owner`,
    ).all() as Array<{owner: string | null; usd: number; n: number}>
    return rows.map((r) => ({owner: r.owner, usdPerHour: r.usd, jobs: r.n}))
  }

  // ---- leases: exactly one controller drives a job at a time -------------------------

  /** Takes the job's lease if it is free, expired, or already ours. */
  acquireLease(jobId: string, owner: string, ttlMs: number): boolean {
    return this.takeLease('jobs', jobId, owner, ttlMs)
  }

  /**
   * Claims an orphaned job's lease for a controller about to be started (by `recover`) under
   * `owner`: one conditional UPDATE that succeeds only while the lease is free or expired, so
   * of several processes claiming the same job exactly one wins; the controller started with
   * that owner then holds it as its own.
   */
  claimJobLease(jobId: string, owner: string, ttlMs: number): boolean {
    return this.claimLease('jobs', jobId, owner, ttlMs)
  }

  /** claimJobLease for a sweep's lease. */
  claimSweepLease(sweepId: string, owner: string, ttlMs: number): boolean {
    return this.claimLease('sweeps', sweepId, owner, ttlMs)
  }

  /** Free or expired (never "already ours": a claim is a fresh owner's) → ours until now + ttl. */
  private claimLease(table: 'jobs' | 'sweeps', id: string, owner: string, ttlMs: number): boolean {
    const now = this.clock().getTime()
    const info = this.sql(
      `UPDATE ${table} SET lease_owner = ?, lease_expires_at = ?
       WHERE id = ? AND (lease_owner IS NULL OR lease_expires_at < ?)`,
    ).run(owner, now + ttlMs, id, now)
    return info.changes === 1
  }

  /**
   * The controller a claim was made for takes the lease over under its own owner name (which
   * names its process): only while the claim is still the holder, whether or not it expired.
   */
  handOverJobLease(jobId: string, claimed: string, owner: string, ttlMs: number): boolean {
    return this.handOver('jobs', jobId, claimed, owner, ttlMs)
  }

  handOverSweepLease(sweepId: string, claimed: string, owner: string, ttlMs: number): boolean {
    return this.handOver('sweeps', sweepId, claimed, owner, ttlMs)
  }

  private handOver(table: 'jobs' | 'sweeps', id: string, claimed: string, owner: string, ttlMs: number): boolean {
    const info = this.sql(`UPDATE ${table} SET lease_owner = ?, lease_expires_at = ? WHERE id = ? AND lease_owner = ?`).run(
      owner,
      this.clock().getTime() + ttlMs,
      id,
      claimed,
    )
    return info.changes === 1
  }

  /** Lets go of a sweep's own lease only (a claim whose controller could not be started). */
  releaseSweepClaim(sweepId: string, owner: string): void {
    this.sql('UPDATE sweeps SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?').run(sweepId, owner)
  }

  /** One conditional UPDATE: free, expired or ours → ours until now + ttl. */
  private takeLease(table: 'jobs' | 'sweeps', id: string, owner: string, ttlMs: number): boolean {
    const now = this.clock().getTime()
    const info = this.sql(
      `UPDATE ${table} SET lease_owner = ?, lease_expires_at = ?
       WHERE id = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires_at < ?)`,
    ).run(owner, now + ttlMs, id, owner, now)
    return info.changes === 1
  }

  /** Extends our lease; false if another controller took it (we must stop acting). */
  renewLease(jobId: string, owner: string, ttlMs: number): boolean {
    const info = this.sql('UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?').run(
      this.clock().getTime() + ttlMs,
      jobId,
      owner,
    )
    return info.changes === 1
  }

  releaseLease(jobId: string, owner: string): void {
    this.sql('UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?').run(jobId, owner)
  }

  /** Non-terminal jobs whose controller stopped heartbeating. */
  orphanedJobs(): JobRecord[] {
    const now = this.clock().getTime()
    const rows = this.db
      .prepare(
        `SELECT * FROM jobs WHERE state NOT IN ('SUCCEEDED','FAILED','CANCELLED')
         AND (lease_owner IS NULL OR lease_expires_at < ?) ORDER BY created_at`,
      )
      .all(now) as Row[]
    return rows.map(toJob)
  }

  // ---- attempts ---------------------------------------------------------------------

  /**
   * Records the intent to launch (state REQUESTED) before any backend call is made.
   * Returns null, writing nothing, when the job has already ended (e.g. a cancel won the
   * race against a relaunch): the check and the insert are one transaction.
   */
  recordAttemptIntent(input: NewAttempt): AttemptRecord | null {
    const id = newId('a')
    const created = this.writingAttempts(id, () =>
      this.transaction(() => {
        const job = this.sql('SELECT state FROM jobs WHERE id = ?').get(input.jobId) as {state: JobState} | undefined
        if (!job) throw new BugError(`job ${input.jobId} vanished from the state store`)
        if (TERMINAL_JOB_STATES.has(job.state)) return false
        const n = ((this.sql('SELECT MAX(n) AS n FROM attempts WHERE job_id = ?').get(input.jobId) as {n: number | null}).n ?? 0) + 1
        this.db
          .prepare(
            `INSERT INTO attempts (id, job_id, n, provider, region, zone, instance_type, accelerator, accelerator_count, spot,
             price_per_hour, currency, on_demand_price_per_hour, billing_granularity_seconds, state, intent_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'REQUESTED', ?)`,
          )
          .run(
            id,
            input.jobId,
            n,
            input.provider,
            input.region,
            input.zone,
            input.instanceType,
            input.accelerator,
            input.acceleratorCount,
            input.spot ? 1 : 0,
            input.pricePerHour,
            input.currency,
            input.onDemandPricePerHour,
            input.billingGranularitySeconds ?? 1,
            this.now(),
          )
        this.insertEvent(input.jobId, id, 'attempt-requested', {
          n,
          provider: input.provider,
          region: input.region,
          zone: input.zone,
          instanceType: input.instanceType,
          spot: input.spot,
          ...(input.workPerHour != null ? {workPerHour: input.workPerHour} : {}),
        })
        return true
      }),
    )
    return created ? this.getAttempt(id)! : null
  }

  getAttempt(id: string): AttemptRecord | undefined {
    const row = this.sql('SELECT * FROM attempts WHERE id = ?').get(id) as Row | undefined
    return row ? toAttempt(row) : undefined
  }

  /** The job's first attempt not known to be over (REQUESTED, PENDING, PROVISIONING, RUNNING), if any. */
  openAttempt(jobId: string): AttemptRecord | undefined {
    return this.listAttempts(jobId).find((a) => OPEN_ATTEMPT_STATES.has(a.state))
  }

  /** The job's attempts that ever ran (a start time recorded), in order: what did the work. */
  startedAttempts(jobId: string): readonly AttemptRecord[] {
    const all = this.listAttempts(jobId)
    let started = this.startedOf.get(all)
    if (started === undefined) {
      started = Object.freeze(all.filter((a) => a.startedAt !== null))
      this.startedOf.set(all, started)
    }
    return started
  }

  /** The job's attempts in order. Frozen: the same records are handed to every reader until the attempts change. */
  listAttempts(jobId: string): readonly AttemptRecord[] {
    return this.cachedRead(`attempts:${jobId}`, this.attemptWrites, () =>
      Object.freeze(
        (this.sql('SELECT * FROM attempts WHERE job_id = ? ORDER BY n').all(jobId) as Row[]).map((r) => Object.freeze(toAttempt(r))),
      ),
    )
  }

  /** Attempts that may still hold resources: launched or requested and not known to be over. */
  liveAttempts(): AttemptRecord[] {
    return (
      this.sql(`SELECT * FROM attempts WHERE state IN ('REQUESTED','PENDING','PROVISIONING','RUNNING') ORDER BY intent_at`).all() as Row[]
    ).map(toAttempt)
  }

  /** The attempt whose recorded handle is this backend run, if any (orphan cleanup). */
  attemptByHandle(provider: string, externalId: string): AttemptRecord | undefined {
    const row = this.db
      .prepare(
        `SELECT * FROM attempts WHERE provider = ? AND json_extract(handle_json, '$.externalId') = ? ORDER BY intent_at DESC LIMIT 1`,
      )
      .get(provider, externalId) as Row | undefined
    return row ? toAttempt(row) : undefined
  }

  /** Every region attempts were ever launched in, per provider: where to look for leftovers. */
  attemptRegions(jobId?: string): Map<string, string[]> {
    const rows = this.db
      .prepare(`SELECT DISTINCT provider, region FROM attempts ${jobId ? 'WHERE job_id = ?' : ''} ORDER BY provider, region`)
      .all(...(jobId ? [jobId] : [])) as Array<{provider: string; region: string}>
    const out = new Map<string, string[]>()
    for (const r of rows) out.set(r.provider, [...(out.get(r.provider) ?? []), r.region])
    return out
  }

  updateAttempt(
    id: string,
    patch: Partial<
      Pick<AttemptRecord, 'state' | 'launchedAt' | 'startedAt' | 'endedAt' | 'releasedAt' | 'exitCode' | 'reason' | 'handle' | 'error'>
    >,
    event?: {kind: string; data?: Record<string, unknown>},
  ): void {
    const columns: Record<string, string> = {
      state: 'state',
      launchedAt: 'launched_at',
      startedAt: 'started_at',
      endedAt: 'ended_at',
      releasedAt: 'released_at',
      exitCode: 'exit_code',
      reason: 'reason',
      handle: 'handle_json',
      error: 'error_json',
    }
    const sets: string[] = []
    const args: unknown[] = []
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue
      sets.push(`${columns[key]} = ?`)
      args.push(key === 'handle' || key === 'error' ? (value === null ? null : JSON.stringify(redactDeep(value))) : value)
    }
    this.writingAttempts(id, () =>
      this.transaction(() => {
        let jobId: string | undefined
        if (sets.length > 0) {
          this.sql(`UPDATE attempts SET ${sets.join(', ')} WHERE id = ?`).run(...args, id)
        }
        if (event) {
          jobId = (this.sql('SELECT job_id FROM attempts WHERE id = ?').get(id) as {job_id: string} | undefined)?.job_id
          if (!jobId) throw new BugError(`attempt ${id} vanished from the state store`)
          this.insertEvent(jobId, id, event.kind, {...(patch.state ? {state: patch.state} : {}), ...event.data})
        }
      }),
    )
  }

  /** Records that an attempt's instance/allocation was released (at `at`, default now). */
  markReleased(id: string, event?: {kind: string; data?: Record<string, unknown>}, at?: string): void {
    this.updateAttempt(id, {releasedAt: at ?? this.now()}, event)
  }

  /** Attempts that ended but whose instance/allocation was never confirmed released. */
  unreleasedAttempts(filter: {sweepId?: string; jobId?: string} = {}): AttemptRecord[] {
    const where = ['a.released_at IS NULL', 'a.handle_json IS NOT NULL', "a.state IN ('SUCCEEDED','FAILED','PREEMPTED','CANCELLED','LOST')"]
    const args: unknown[] = []
    if (filter.sweepId) {
      where.push('j.sweep_id = ?')
      args.push(filter.sweepId)
    }
    if (filter.jobId) {
      where.push('a.job_id = ?')
      args.push(filter.jobId)
    }
    const sql = `SELECT a.* FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE ${where.join(' AND ')} ORDER BY a.ended_at`
    return (this.sql(sql).all(...args) as Row[]).map(toAttempt)
  }

  /** Attempts (with their job's name, sweep and checkpoint interval) for cost accounting. */
  costRows(filter: {sinceIso?: string; sweepId?: string; jobId?: string} = {}): CostRow[] {
    const where: string[] = []
    const args: unknown[] = []
    if (filter.sinceIso) {
      where.push('a.intent_at >= ?')
      args.push(filter.sinceIso)
    }
    if (filter.sweepId) {
      where.push('j.sweep_id = ?')
      args.push(filter.sweepId)
    }
    if (filter.jobId) {
      where.push('a.job_id = ?')
      args.push(filter.jobId)
    }
    const sql = `SELECT a.*, j.name AS job_name, j.sweep_id AS job_sweep_id,
        json_extract(j.spec_json, '$.checkpoint.intervalSeconds') AS job_checkpoint_interval,
        (p.attempt_id IS NOT NULL) AS preempt_requested, u.summary_json AS usage_json, (q.attempt_id IS NOT NULL) AS idle_stopped
      FROM attempts a JOIN jobs j ON j.id = a.job_id
      LEFT JOIN (SELECT DISTINCT attempt_id FROM events WHERE kind = 'preempt-requested' AND attempt_id IS NOT NULL) p ON p.attempt_id = a.id
      LEFT JOIN attempt_usage u ON u.attempt_id = a.id
      LEFT JOIN (SELECT DISTINCT attempt_id FROM events WHERE kind = 'usage-idle-stop' AND attempt_id IS NOT NULL) q ON q.attempt_id = a.id
      ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY a.intent_at, a.rowid`
    return (this.sql(sql).all(...args) as Row[]).map((r) => ({
      attempt: toAttempt(r),
      jobId: r.job_id as string,
      jobName: r.job_name as string,
      sweepId: (r.job_sweep_id as string | null) ?? null,
      checkpointIntervalSeconds: (r.job_checkpoint_interval as number | null) ?? null,
      preemptRequested: r.preempt_requested === 1,
      usage: typeof r.usage_json === 'string' ? (JSON.parse(r.usage_json) as UsageSummary) : null,
      idleStopped: r.idle_stopped === 1,
    }))
  }

  // ---- usage ------------------------------------------------------------------------

  /** Records (or replaces) an attempt's usage summary; idleSeconds: how long its idle policy has seen it idle. */
  recordUsage(u: UsageRecord): void {
    const s = u.summary
    this.sql(
      `INSERT INTO attempt_usage (attempt_id, job_id, job_name, fingerprint, updated_at, samples, cpu_busy, cores, mem_peak_mib, mem_total_mib,
         accelerators, accelerator_tool, accelerator_busy, accelerator_mem_peak_mib, accelerator_mem_total_mib, idle_seconds, summary_json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(attempt_id) DO UPDATE SET updated_at = excluded.updated_at, samples = excluded.samples, cpu_busy = excluded.cpu_busy,
         cores = excluded.cores, mem_peak_mib = excluded.mem_peak_mib, mem_total_mib = excluded.mem_total_mib,
         accelerators = excluded.accelerators, accelerator_tool = excluded.accelerator_tool, accelerator_busy = excluded.accelerator_busy,
         accelerator_mem_peak_mib = excluded.accelerator_mem_peak_mib, accelerator_mem_total_mib = excluded.accelerator_mem_total_mib,
         idle_seconds = MAX(attempt_usage.idle_seconds, excluded.idle_seconds), summary_json = excluded.summary_json`,
    ).run(
      u.attemptId,
      u.jobId,
      u.jobName,
      u.fingerprint,
      this.now(),
      s.samples,
      s.cpuBusy,
      s.cores,
      s.memPeakMiB,
      s.memTotalMiB,
      s.accelerators,
      s.acceleratorTool,
      s.acceleratorBusy,
      s.acceleratorMemPeakMiB,
      s.acceleratorMemTotalMiB,
      u.idleSeconds ?? 0,
      JSON.stringify(s),
    )
  }

  /** Usage summaries by attempt id, for the given attempts (all of a job's with jobId). */
  usage(filter: {jobId?: string; attemptIds?: readonly string[]} = {}): Map<string, UsageSummary> {
    const rows = filter.jobId
      ? (this.sql('SELECT attempt_id, summary_json FROM attempt_usage WHERE job_id = ?').all(filter.jobId) as Row[])
      : (this.sql('SELECT attempt_id, summary_json FROM attempt_usage').all() as Row[])
    const want = filter.attemptIds ? new Set(filter.attemptIds) : null
    const out = new Map<string, UsageSummary>()
    for (const r of rows) {
      if (want && !want.has(r.attempt_id as string)) continue
      out.set(r.attempt_id as string, JSON.parse(r.summary_json as string) as UsageSummary)
    }
    return out
  }

  /** Earlier attempts of jobs with this name and fingerprint that left a usage summary, newest first. */
  usageObservations(jobName: string, fingerprint: string, limit = 20): UsageObservation[] {
    const rows = this.sql(
      `SELECT u.*, a.provider, a.accelerator, a.accelerator_count, a.started_at, a.ended_at FROM attempt_usage u
         JOIN attempts a ON a.id = u.attempt_id
         WHERE u.job_name = ? AND u.fingerprint = ? AND a.ended_at IS NOT NULL ORDER BY a.ended_at DESC LIMIT ?`,
    ).all(jobName, fingerprint, limit) as Row[]
    return rows.map((r) => ({
      attemptId: r.attempt_id as string,
      jobName: r.job_name as string,
      fingerprint: r.fingerprint as string,
      provider: r.provider as string,
      accelerator: (r.accelerator as string | null) ?? null,
      acceleratorCount: (r.accelerator_count as number | null) ?? null,
      runSeconds: r.started_at ? Math.max(0, (Date.parse(r.ended_at as string) - Date.parse(r.started_at as string)) / 1000) : 0,
      summary: JSON.parse(r.summary_json as string) as UsageSummary,
    }))
  }

  // ---- sweeps -----------------------------------------------------------------------

  /** Records a sweep and its jobs (in sweep order) in one transaction. */
  createSweep(input: NewSweep, jobs: ReadonlyArray<Omit<NewJob, 'sweepId'>>): {sweep: SweepRecord; jobs: JobRecord[]} {
    const id = newId('s')
    const ts = this.now()
    const jobIds = this.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO sweeps (id, name, created_at, updated_at, state, spec_json, budget_usd, file, options_json, plan_json, owner)
           VALUES (?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          input.name,
          ts,
          ts,
          JSON.stringify(input.spec),
          input.budgetUsd,
          input.file,
          JSON.stringify(redactDeep(input.options)),
          input.plan ? JSON.stringify(input.plan) : null,
          input.owner ?? null,
        )
      return jobs.map((j) => this.createJob({owner: input.owner ?? null, ...j, sweepId: id}).id)
    })
    return {sweep: this.getSweep(id)!, jobs: jobIds.map((j) => this.getJob(j)!)}
  }

  getSweep(id: string): SweepRecord | undefined {
    const row = this.sql('SELECT * FROM sweeps WHERE id = ?').get(id) as Row | undefined
    return row ? toSweep(row) : undefined
  }

  /** A sweep by id, or by name (the most recent of that name). Unknown → UsageError. */
  findSweep(ref: string): SweepRecord {
    return toSweep(this.findByIdOrName('sweeps', ref, {what: 'sweep', code: 'SWEEP_NOT_FOUND', list: 'skyhop sweeps'}))
  }

  listSweeps(filter: {limit?: number; states?: SweepState[]} = {}): SweepRecord[] {
    const states = filter.states ?? []
    const where = states.length > 0 ? `WHERE state IN (${states.map(() => '?').join(',')})` : ''
    return (
      this.sql(`SELECT * FROM sweeps ${where} ORDER BY created_at DESC, rowid DESC LIMIT ?`).all(...states, filter.limit ?? 1000) as Row[]
    ).map(toSweep)
  }

  /** A sweep's jobs in sweep order (the order they were recorded). */
  sweepJobs(sweepId: string): JobRecord[] {
    return (this.sql('SELECT * FROM jobs WHERE sweep_id = ? ORDER BY rowid').all(sweepId) as Row[]).map(toJob)
  }

  /** Job counts per state for each of the given sweeps. */
  sweepCounts(sweepIds: readonly string[]): Map<string, Partial<Record<JobState, number>>> {
    const out = new Map<string, Partial<Record<JobState, number>>>()
    if (sweepIds.length === 0) return out
    const rows = this.db
      .prepare(
        `SELECT sweep_id, state, COUNT(*) AS n FROM jobs WHERE sweep_id IN (${sweepIds.map(() => '?').join(',')}) GROUP BY sweep_id, state`,
      )
      .all(...sweepIds) as Array<{sweep_id: string; state: JobState; n: number}>
    for (const r of rows) {
      const counts = out.get(r.sweep_id) ?? {}
      counts[r.state] = r.n
      out.set(r.sweep_id, counts)
    }
    return out
  }

  setSweepState(id: string, state: SweepState, reason: string | null): void {
    const info = this.sql('UPDATE sweeps SET state = ?, reason = ?, updated_at = ? WHERE id = ?').run(state, reason, this.now(), id)
    if (info.changes !== 1) throw new BugError(`sweep ${id} vanished from the state store`)
  }

  /** Takes the sweep's lease if it is free, expired, or already ours. */
  acquireSweepLease(sweepId: string, owner: string, ttlMs: number): boolean {
    return this.takeLease('sweeps', sweepId, owner, ttlMs)
  }

  /**
   * Renews the sweep's lease and takes (or renews) the leases of its unfinished jobs that
   * are free, expired or ours, so that waiting jobs are not mistaken for orphans. False if
   * another controller took the sweep.
   */
  renewSweepLease(sweepId: string, owner: string, ttlMs: number): boolean {
    const now = this.clock().getTime()
    return this.transaction(() => {
      const info = this.sql('UPDATE sweeps SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?').run(now + ttlMs, sweepId, owner)
      if (info.changes !== 1) return false
      this.db
        .prepare(
          `UPDATE jobs SET lease_owner = ?, lease_expires_at = ?
           WHERE sweep_id = ? AND state NOT IN ('SUCCEEDED','FAILED','CANCELLED')
           AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires_at < ?)`,
        )
        .run(owner, now + ttlMs, sweepId, owner, now)
      return true
    })
  }

  releaseSweepLease(sweepId: string, owner: string): void {
    this.transaction(() => {
      this.sql('UPDATE sweeps SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?').run(sweepId, owner)
      this.sql('UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL WHERE sweep_id = ? AND lease_owner = ?').run(sweepId, owner)
    })
  }

  /** Unfinished sweeps whose controller stopped heartbeating. */
  orphanedSweeps(): SweepRecord[] {
    const now = this.clock().getTime()
    return (
      this.sql(`SELECT * FROM sweeps WHERE state = 'RUNNING' AND (lease_owner IS NULL OR lease_expires_at < ?) ORDER BY created_at`).all(
        now,
      ) as Row[]
    ).map(toSweep)
  }

  // ---- events and observations ------------------------------------------------------

  addEvent(jobId: string, attemptId: string | null, kind: string, data: Record<string, unknown> = {}): void {
    this.transaction(() => this.insertEvent(jobId, attemptId, kind, data))
  }

  private insertEvent(jobId: string, attemptId: string | null, kind: string, data: Record<string, unknown>): void {
    this.db
      .prepare('INSERT INTO events (job_id, attempt_id, ts, kind, data_json) VALUES (?, ?, ?, ?, ?)')
      .run(jobId, attemptId, this.now(), kind, JSON.stringify(redactDeep(data)))
  }

  events(jobId: string, afterId = 0): EventRecord[] {
    return (this.sql('SELECT * FROM events WHERE job_id = ? AND id > ? ORDER BY id').all(jobId, afterId) as Row[]).map((r) => ({
      id: r.id as number,
      jobId: r.job_id as string,
      attemptId: (r.attempt_id as string | null) ?? null,
      ts: r.ts as string,
      kind: r.kind as string,
      data: JSON.parse(r.data_json as string) as Record<string, unknown>,
    }))
  }

  addObservation(o: Omit<ObservationRecord, 'ts'> & {ts?: string}): void {
    this.observationWrites++
    this.db
      .prepare(
        'INSERT INTO observations (ts, provider, region, zone, accelerator, spot, kind, value_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(o.ts ?? this.now(), o.provider, o.region, o.zone, o.accelerator, o.spot ? 1 : 0, o.kind, o.valueSeconds)
  }

  /** Observations since `sinceIso`, oldest first. Frozen, like listAttempts. */
  observations(sinceIso: string): readonly ObservationRecord[] {
    // Kept from the earliest time asked for; a later one is a suffix of it.
    const kept = this.cachedRead('observations', this.observationWrites, () => ({since: sinceIso, rows: this.readObservations(sinceIso)}))
    if (sinceIso < kept.since) {
      this.reads.delete('observations')
      return this.observations(sinceIso)
    }
    let first = 0
    while (first < kept.rows.length && kept.rows[first].ts < sinceIso) first++
    return first === 0 ? kept.rows : kept.rows.slice(first)
  }

  private readObservations(sinceIso: string): readonly ObservationRecord[] {
    return (this.sql('SELECT * FROM observations WHERE ts >= ? ORDER BY ts').all(sinceIso) as Row[]).map((r) =>
      Object.freeze({
        ts: r.ts as string,
        provider: r.provider as string,
        region: (r.region as string | null) ?? null,
        zone: (r.zone as string | null) ?? null,
        accelerator: (r.accelerator as string | null) ?? null,
        spot: r.spot === 1,
        kind: r.kind as ObservationKind,
        valueSeconds: (r.value_seconds as number | null) ?? null,
      }),
    )
  }

  integrityCheck(): string {
    return (this.db.pragma('integrity_check') as Array<{integrity_check: string}>)[0].integrity_check
  }
}

function toJob(r: Row): JobRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    file: (r.file as string | null) ?? null,
    spec: JSON.parse(r.spec_json as string) as JobSpec,
    state: r.state as JobState,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    sweepId: (r.sweep_id as string | null) ?? null,
    matrix: r.matrix_json ? (JSON.parse(r.matrix_json as string) as Record<string, unknown>) : null,
    exitCode: (r.exit_code as number | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    restarts: r.restarts as number,
    errorRestarts: r.error_restarts as number,
    leaseOwner: (r.lease_owner as string | null) ?? null,
    leaseExpiresAt: (r.lease_expires_at as number | null) ?? null,
    options: JSON.parse((r.options_json as string) || '{}') as Record<string, unknown>,
    owner: (r.owner as string | null) ?? null,
    plannedUsdPerHour: (r.planned_usd_per_hour as number | null) ?? null,
  }
}

function toSweep(r: Row): SweepRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    file: (r.file as string | null) ?? null,
    state: r.state as SweepState,
    createdAt: r.created_at as string,
    updatedAt: (r.updated_at as string | null) ?? (r.created_at as string),
    spec: JSON.parse(r.spec_json as string) as JobSpec,
    budgetUsd: (r.budget_usd as number | null) ?? null,
    options: JSON.parse((r.options_json as string) || '{}') as Record<string, unknown>,
    plan: r.plan_json ? (JSON.parse(r.plan_json as string) as Record<string, unknown>) : null,
    reason: (r.reason as string | null) ?? null,
    leaseOwner: (r.lease_owner as string | null) ?? null,
    leaseExpiresAt: (r.lease_expires_at as number | null) ?? null,
    owner: (r.owner as string | null) ?? null,
  }
}

function toAttempt(r: Row): AttemptRecord {
  return {
    id: r.id as string,
    jobId: r.job_id as string,
    n: r.n as number,
    provider: r.provider as string,
    region: r.region as string,
    zone: (r.zone as string | null) ?? null,
    instanceType: r.instance_type as string,
    accelerator: (r.accelerator as string | null) ?? null,
    acceleratorCount: (r.accelerator_count as number | null) ?? null,
    spot: r.spot === 1,
    pricePerHour: (r.price_per_hour as number | null) ?? null,
    currency: (r.currency as string | null) ?? null,
    onDemandPricePerHour: (r.on_demand_price_per_hour as number | null) ?? null,
    billingGranularitySeconds: r.billing_granularity_seconds as number,
    state: r.state as AttemptRecordState,
    intentAt: r.intent_at as string,
    launchedAt: (r.launched_at as string | null) ?? null,
    startedAt: (r.started_at as string | null) ?? null,
    endedAt: (r.ended_at as string | null) ?? null,
    releasedAt: (r.released_at as string | null) ?? null,
    exitCode: (r.exit_code as number | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    handle: r.handle_json ? (JSON.parse(r.handle_json as string) as LaunchHandle) : null,
    error: r.error_json ? (JSON.parse(r.error_json as string) as Record<string, unknown>) : null,
  }
}
