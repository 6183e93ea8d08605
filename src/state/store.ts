// The state store: one SQLite database (WAL) in skyhop's home, or one PostgreSQL database
// a team shares (SKYHOP_DATABASE_URL; db.ts is the seam, pg-bridge.ts the connection). Jobs,
// attempts, events and observations. Every write is one transaction, so a process killed at any point
// leaves either the whole change or none of it. Intents are recorded before acting and
// outcomes after, which is what lets `recover` reconcile after a crash.
// Imported, not required at run time: the bundle then carries better-sqlite3's JavaScript
// (scripts/bundle.mjs); its native addon is loaded only when a SQLite store is opened.
import Database from 'better-sqlite3'

import {randomBytes} from 'node:crypto'
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'

import {BugError, LeaseLostError, UsageError} from '../errors.js'
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
  UNKNOWN_CREATE_SETTLED,
} from '../model/records.js'
import type {LaunchHandle} from '../model/attempt.js'
import {redactDeep} from '../util/redact.js'
import {didYouMean} from '../util/did-you-mean.js'
import {type Db, type Dialect, type Statement, SqliteDb} from './db.js'
import {STATE_DB} from './files.js'
import {PgDb, redactDatabaseUrl} from './pg-bridge.js'
import {SCHEMA_VERSIONS_SQL} from './pg-connect.js'
import {integrityProblems} from './integrity.js'
import {MIGRATIONS} from './migrations.js'

/** Attempt states not known to be over: requested, or launched and not yet ended. */
const OPEN_ATTEMPT_STATES: ReadonlySet<AttemptRecordState> = new Set(['REQUESTED', 'PENDING', 'PROVISIONING', 'RUNNING'])

export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`
}

type Row = Record<string, unknown>

/** Any number that fits no real lock: the migrations' advisory lock on PostgreSQL. */
const MIGRATION_LOCK = 0x736b7968
/** Another: the budget check and the record it admits, one at a time across every machine. */
const BUDGET_LOCK = 0x736b7962
/** Jobs per statement of attemptsOfJobs: well under SQLite's 32,766 parameters and PostgreSQL's 65,535. */
const ATTEMPTS_BATCH = 512

export interface StoreOptions {
  clock?: () => Date
  readonly?: boolean
  /** postgres://… : the state lives in that database instead of SQLite under home. */
  databaseUrl?: string | null
  /** Where databaseUrl came from, for messages (SKYHOP_DATABASE_URL or the config file). */
  databaseUrlSource?: string
  /** The deadline of each statement on PostgreSQL. */
  timeoutMs?: number
}

/**
 * Switches a store to WAL. The switch needs the database to itself, and two processes opening
 * a fresh store at once can get SQLITE_BUSY from it without the busy timeout being consulted
 * (seen as "database is locked" from one of two concurrent launches): try again for a while.
 */
function setWal(db: Database.Database): void {
  const until = Date.now() + 10_000
  for (;;) {
    try {
      db.pragma('journal_mode = WAL')
      return
    } catch (error) {
      if ((error as {code?: string}).code !== 'SQLITE_BUSY' || Date.now() > until) throw error
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
    }
  }
}

export class Store {
  private readonly d: Dialect
  /** SQLite only: reads are kept across calls (PostgreSQL has no cheap "did anyone commit" check). */
  private readonly keepsReads: boolean

  private constructor(
    readonly db: Db,
    /** The SQLite file, or the database URL with its password redacted. */
    readonly path: string,
    private readonly clock: () => Date,
  ) {
    this.d = db.dialect
    this.keepsReads = db.dialect.name === 'sqlite'
  }

  /** Opens (creating and migrating if needed) the store: PostgreSQL when a database URL is given, else SQLite under `home`. */
  static open(home: string, options: StoreOptions = {}): Store {
    if (options.databaseUrl) {
      const db = PgDb.connect(options.databaseUrl, {source: options.databaseUrlSource, timeoutMs: options.timeoutMs})
      const store = new Store(db, redactDatabaseUrl(options.databaseUrl), options.clock ?? (() => new Date()))
      try {
        store.migrate()
      } catch (error) {
        db.close()
        throw error
      }
      return store
    }
    mkdirSync(home, {recursive: true, mode: 0o700})
    const path = join(home, STATE_DB)
    let db: Database.Database
    try {
      db = new Database(path, {timeout: 10_000})
    } catch (error) {
      throw new UsageError(`cannot open the state store at ${path}: ${(error as Error).message}`, {
        code: 'STATE_UNAVAILABLE',
        hint: 'Check that SKYHOP_HOME points at a writable directory.',
      })
    }
    setWal(db)
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 10000')
    const store = new Store(new SqliteDb(db), path, options.clock ?? (() => new Date()))
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
  private readonly statements = new Map<string, Statement>()

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
    if (!this.keepsReads) return write()
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
    if (!this.keepsReads || this.db.inTransaction) return read()
    const version = `${this.dataVersion()}:${writes}`
    const kept = this.reads.get(key)
    if (kept !== undefined && kept.version === version) return kept.value as T
    const value = read()
    this.reads.set(key, {version, value})
    return value
  }

  private sql(text: string): Statement {
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

  /** PostgreSQL: one migrator at a time across every machine (SQLite: BEGIN IMMEDIATE is the lock). */
  private migrationLock(): void {
    if (this.d.name === 'postgres') this.sql('SELECT pg_advisory_xact_lock(?)').get(MIGRATION_LOCK)
  }

  /**
   * Inside a transaction: holds until it ends, so a budget check and the record it admits
   * are not interleaved with another's. PostgreSQL's READ COMMITTED would let two launches
   * each see the other's spend missing; SQLite's BEGIN IMMEDIATE already serialises them.
   */
  lockForBudget(): void {
    if (this.d.name === 'postgres') this.sql('SELECT pg_advisory_xact_lock(?)').get(BUDGET_LOCK)
  }

  private migrate(): void {
    // Every command opens the store: one read says whether the schema is current, where the
    // locked path below takes five statements (five round trips over PostgreSQL). No table
    // yet, or a migration missing: the locked path, which checks everything again.
    // On PostgreSQL the connection's thread made that read right after the login (while the
    // CLI was still loading, for a prestarted connection): SCHEMA_VERSIONS_SQL.
    let current: Set<number> | null = null
    const prefetched = this.db instanceof PgDb ? this.db.takeSchemaVersions() : undefined
    if (prefetched !== undefined) {
      current = prefetched === null ? null : new Set(prefetched)
    } else {
      try {
        current = new Set((this.sql(SCHEMA_VERSIONS_SQL).all() as Array<{version: number}>).map((r) => r.version))
      } catch {
        current = null
      }
    }
    if (current !== null && MIGRATIONS.every((m) => current.has(m.version))) {
      this.refuseNewer(current)
      return
    }
    this.db.transaction(() => {
      this.migrationLock()
      this.db.exec(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
      )
    })
    const applied = new Set((this.sql('SELECT version FROM schema_migrations').all() as Array<{version: number}>).map((r) => r.version))
    this.refuseNewer(applied)
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue
      // BEGIN IMMEDIATE: two processes opening a fresh store at once must not both migrate.
      this.db.transaction(() => {
        this.migrationLock()
        const again = this.sql('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version)
        if (again) return
        this.db.exec(this.d.migration(m.sql))
        this.sql('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, this.now())
      })
    }
  }

  private refuseNewer(applied: ReadonlySet<number>): void {
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
  }

  /** Runs `fn` in one IMMEDIATE transaction (writers serialize; readers never block). */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn)
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

  // ---- fencing: a controller that lost its lease cannot write -------------------------

  /**
   * The fencing token of each lease this store took (`jobs:ID`, `sweeps:ID`). The token in
   * the row moves on whenever the lease passes to another owner; every write to a fenced
   * job or sweep first checks it (with the row locked on PostgreSQL), so a write is either
   * made while the lease was ours or refused.
   */
  private readonly fences = new Map<string, number>()

  private takeFence(table: 'jobs' | 'sweeps', id: string): void {
    const token = this.sql(`SELECT lease_token FROM ${table} WHERE id = ?`).pluck().get(id) as number
    this.fences.set(`${table}:${id}`, token)
  }

  /** Refuses the write (LeaseLostError) when this store took the lease and another owner has taken it since. Inside a transaction. */
  private checkFence(table: 'jobs' | 'sweeps', id: string): void {
    const held = this.fences.get(`${table}:${id}`)
    if (held === undefined) return
    const row = this.sql(`SELECT lease_token, lease_owner FROM ${table} WHERE id = ?${this.d.forUpdate}`).get(id) as
      {lease_token: number; lease_owner: string | null} | undefined
    if (row && row.lease_token !== held) {
      throw new LeaseLostError(
        `${table === 'jobs' ? 'job' : 'sweep'} ${id} is now driven by another controller (${row.lease_owner ?? 'none'}, lease token ${row.lease_token}; this one held ${held}): write refused`,
      )
    }
  }

  /** The lease's token check for an UPDATE … WHERE: empty when this store holds no fence for it. */
  private fenceClause(table: 'jobs' | 'sweeps', id: string): {sql: string; args: unknown[]} {
    const held = this.fences.get(`${table}:${id}`)
    return held === undefined ? {sql: '', args: []} : {sql: ' AND lease_token = ?', args: [held]}
  }

  // ---- jobs -------------------------------------------------------------------------

  createJob(input: NewJob): JobRecord {
    const id = newId('j')
    const ts = this.now()
    this.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO jobs (id, name, file, spec_json, state, created_at, updated_at, sweep_id, matrix_json, options_json, owner,
             planned_usd_per_hour, lease_owner, lease_expires_at)
           VALUES (?, ?, ?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
          input.lease?.owner ?? null,
          input.lease ? this.clock().getTime() + input.lease.ttlMs : null,
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
    const names = (
      this.sql(`SELECT name FROM ${table} GROUP BY name ORDER BY MAX(created_at) DESC LIMIT 500`).all() as Array<{name: string}>
    ).map((r) => r.name)
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
      this.checkFence('jobs', id)
      const current = this.sql(`SELECT state FROM jobs WHERE id = ?${this.d.forUpdate}`).get(id) as {state: JobState} | undefined
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
   * What every owner's unfinished jobs cost per hour now, in USD: the running spend budgets are
   * enforced against (src/planner/spend-budget.ts). A job counts what its attempts that have
   * not ended are priced at, or, before it has one, the hourly price it was planned at; a
   * sweep's job counts only while it has an attempt (a sweep's waiting jobs are not running).
   * An unknown price counts 0 (a budget never lets such a job be recorded). Jobs from before
   * owners are under the owner null. CNY prices are converted at `cnyPerUsd`.
   */
  runningSpendByOwner(fx: {cnyPerUsd: number}): Array<{owner: string | null; usdPerHour: number; jobs: number}> {
    const jobs = this.sql(
      `SELECT id, owner, sweep_id, planned_usd_per_hour FROM jobs WHERE state NOT IN ('SUCCEEDED','FAILED','CANCELLED')`,
    ).all() as Array<{id: string; owner: string | null; sweep_id: string | null; planned_usd_per_hour: number | null}>
    const live = this.sql(
      `SELECT a.job_id, a.price_per_hour, a.currency FROM attempts a JOIN jobs j ON j.id = a.job_id
       WHERE j.state NOT IN ('SUCCEEDED','FAILED','CANCELLED') AND a.state IN ('REQUESTED','PENDING','PROVISIONING','RUNNING')`,
    ).all() as Array<{job_id: string; price_per_hour: number | null; currency: string | null}>
    const attemptUsd = new Map<string, number>()
    for (const a of live) {
      const usd = a.price_per_hour === null ? 0 : a.currency === 'CNY' ? a.price_per_hour / fx.cnyPerUsd : a.price_per_hour
      attemptUsd.set(a.job_id, (attemptUsd.get(a.job_id) ?? 0) + usd)
    }
    const byOwner = new Map<string | null, {usdPerHour: number; jobs: number}>()
    for (const j of jobs) {
      const usd = attemptUsd.get(j.id) ?? (j.sweep_id === null ? (j.planned_usd_per_hour ?? 0) : null)
      if (usd === null) continue
      const o = byOwner.get(j.owner) ?? {usdPerHour: 0, jobs: 0}
      byOwner.set(j.owner, {usdPerHour: o.usdPerHour + usd, jobs: o.jobs + 1})
    }
    return [...byOwner].map(([owner, o]) => ({owner, ...o}))
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
    // Passing to a new owner bumps the fencing token: a controller that held the lease before
    // can no longer write. The claimer itself writes nothing; the controller it starts takes
    // the token over (handOver).
    const info = this.sql(
      `UPDATE ${table} SET lease_owner = ?, lease_expires_at = ?, lease_token = lease_token + 1
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
    return this.transaction(() => {
      const info = this.sql(`UPDATE ${table} SET lease_owner = ?, lease_expires_at = ? WHERE id = ? AND lease_owner = ?`).run(
        owner,
        this.clock().getTime() + ttlMs,
        id,
        claimed,
      )
      if (info.changes !== 1) return false
      // The token the claim took is this controller's from now on.
      this.takeFence(table, id)
      return true
    })
  }

  /** Lets go of a sweep's own lease only (a claim whose controller could not be started). */
  releaseSweepClaim(sweepId: string, owner: string): void {
    this.sql('UPDATE sweeps SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?').run(sweepId, owner)
  }

  /**
   * One conditional UPDATE: free, expired or ours → ours until now + ttl. Passing to another
   * owner (or taken free) bumps the fencing token, which this store then holds.
   */
  private takeLease(table: 'jobs' | 'sweeps', id: string, owner: string, ttlMs: number): boolean {
    const now = this.clock().getTime()
    return this.transaction(() => {
      const info = this.sql(
        `UPDATE ${table} SET lease_owner = ?, lease_expires_at = ?,
           lease_token = CASE WHEN lease_owner = ? THEN lease_token ELSE lease_token + 1 END
         WHERE id = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires_at < ?)`,
      ).run(owner, now + ttlMs, owner, id, owner, now)
      if (info.changes !== 1) return false
      this.takeFence(table, id)
      return true
    })
  }

  /** Extends our lease; false if another controller took it (we must stop acting). */
  renewLease(jobId: string, owner: string, ttlMs: number): boolean {
    const fence = this.fenceClause('jobs', jobId)
    const info = this.sql(`UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?${fence.sql}`).run(
      this.clock().getTime() + ttlMs,
      jobId,
      owner,
      ...fence.args,
    )
    return info.changes === 1
  }

  releaseLease(jobId: string, owner: string): void {
    const fence = this.fenceClause('jobs', jobId)
    this.sql(`UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?${fence.sql}`).run(
      jobId,
      owner,
      ...fence.args,
    )
    this.fences.delete(`jobs:${jobId}`)
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
        this.checkFence('jobs', input.jobId)
        // Locked on PostgreSQL: intents for one job are recorded one at a time, across machines.
        const job = this.sql(`SELECT state FROM jobs WHERE id = ?${this.d.forUpdate}`).get(input.jobId) as {state: JobState} | undefined
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

  /**
   * Each listed job's attempts in order (none: an empty list), in one statement per 512 jobs
   * where listAttempts takes one per job: `status` shows 50 jobs, and over PostgreSQL every
   * statement is a round trip through the bridge. The id list is padded to a power of two (the
   * first id again) so that a few statement texts serve every size.
   */
  attemptsOfJobs(jobIds: readonly string[]): Map<string, readonly AttemptRecord[]> {
    const result = new Map<string, AttemptRecord[]>(jobIds.map((id) => [id, []]))
    const unique = [...result.keys()]
    for (let i = 0; i < unique.length; i += ATTEMPTS_BATCH) {
      const ids = unique.slice(i, i + ATTEMPTS_BATCH)
      let size = 8
      while (size < ids.length) size *= 2
      const args = [...ids, ...Array<string>(size - ids.length).fill(ids[0])]
      const rows = this.sql(`SELECT * FROM attempts WHERE job_id IN (${args.map(() => '?').join(',')}) ORDER BY job_id, n`).all(
        ...args,
      ) as Row[]
      for (const row of rows) {
        const attempt = Object.freeze(toAttempt(row))
        result.get(attempt.jobId)?.push(attempt)
      }
    }
    return result
  }

  /** Attempts that may still hold resources: launched or requested and not known to be over. */
  liveAttempts(): AttemptRecord[] {
    return (
      this.sql(`SELECT * FROM attempts WHERE state IN ('REQUESTED','PENDING','PROVISIONING','RUNNING') ORDER BY intent_at`).all() as Row[]
    ).map(toAttempt)
  }

  /**
   * Attempts of ended jobs recorded FAILED while their create's outcome was unknown and not
   * settled since (controller/unknown-creates.ts): what `recover` looks up and stops.
   */
  unknownCreatesOfEndedJobs(): AttemptRecord[] {
    return (
      this.sql(
        `SELECT a.* FROM attempts a JOIN jobs j ON j.id = a.job_id
         WHERE a.state = 'FAILED' AND a.handle_json IS NULL AND j.state IN ('SUCCEEDED','FAILED','CANCELLED')
           AND EXISTS (SELECT 1 FROM events e WHERE e.job_id = a.job_id AND e.attempt_id = a.id AND e.kind = 'attempt-outcome-unknown')
           AND NOT EXISTS (SELECT 1 FROM events e WHERE e.job_id = a.job_id AND e.attempt_id = a.id AND e.kind = ?)
         ORDER BY a.intent_at`,
      ).all(UNKNOWN_CREATE_SETTLED) as Row[]
    ).map(toAttempt)
  }

  /** The attempt whose recorded handle is this backend run, if any (orphan cleanup). */
  attemptByHandle(provider: string, externalId: string): AttemptRecord | undefined {
    const row = this.db
      .prepare(
        `SELECT * FROM attempts WHERE provider = ? AND ${this.d.jsonValue('handle_json', ['externalId'])} = ? ORDER BY intent_at DESC LIMIT 1`,
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
        if (this.fences.size > 0) {
          const owner = this.sql('SELECT job_id AS fenced_job FROM attempts WHERE id = ?').pluck().get(id) as string | undefined
          if (owner !== undefined) this.checkFence('jobs', owner)
        }
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
        ${this.d.jsonValue('j.spec_json', ['checkpoint', 'intervalSeconds'])} AS job_checkpoint_interval,
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
      checkpointIntervalSeconds: r.job_checkpoint_interval == null ? null : Number(r.job_checkpoint_interval),
      preemptRequested: r.preempt_requested === 1,
      usage: typeof r.usage_json === 'string' ? (JSON.parse(r.usage_json) as UsageSummary) : null,
      idleStopped: r.idle_stopped === 1,
    }))
  }

  // ---- usage ------------------------------------------------------------------------

  /** Records (or replaces) an attempt's usage summary; idleSeconds: how long its idle policy has seen it idle. */
  recordUsage(u: UsageRecord): void {
    const s = u.summary
    this.transaction(() => this.writeUsage(u, s))
  }

  private writeUsage(
    u: {attemptId: string; jobId: string; jobName: string; fingerprint: string; idleSeconds?: number},
    s: UsageSummary,
  ): void {
    this.checkFence('jobs', u.jobId)
    this.sql(
      `INSERT INTO attempt_usage (attempt_id, job_id, job_name, fingerprint, updated_at, samples, cpu_busy, cores, mem_peak_mib, mem_total_mib,
         accelerators, accelerator_tool, accelerator_busy, accelerator_mem_peak_mib, accelerator_mem_total_mib, idle_seconds, summary_json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(attempt_id) DO UPDATE SET updated_at = excluded.updated_at, samples = excluded.samples, cpu_busy = excluded.cpu_busy,
         cores = excluded.cores, mem_peak_mib = excluded.mem_peak_mib, mem_total_mib = excluded.mem_total_mib,
         accelerators = excluded.accelerators, accelerator_tool = excluded.accelerator_tool, accelerator_busy = excluded.accelerator_busy,
         accelerator_mem_peak_mib = excluded.accelerator_mem_peak_mib, accelerator_mem_total_mib = excluded.accelerator_mem_total_mib,
         idle_seconds = ${this.d.greatest('attempt_usage.idle_seconds', 'excluded.idle_seconds')}, summary_json = excluded.summary_json`,
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
          `INSERT INTO sweeps (id, name, created_at, updated_at, state, spec_json, budget_usd, file, options_json, plan_json, owner,
             lease_owner, lease_expires_at)
           VALUES (?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?, ?, ?, ?, ?)`,
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
          input.lease?.owner ?? null,
          input.lease ? this.clock().getTime() + input.lease.ttlMs : null,
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
    this.transaction(() => {
      this.checkFence('sweeps', id)
      const info = this.sql('UPDATE sweeps SET state = ?, reason = ?, updated_at = ? WHERE id = ?').run(state, reason, this.now(), id)
      if (info.changes !== 1) throw new BugError(`sweep ${id} vanished from the state store`)
    })
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
    const fence = this.fenceClause('sweeps', sweepId)
    return this.transaction(() => {
      const info = this.sql(`UPDATE sweeps SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?${fence.sql}`).run(
        now + ttlMs,
        sweepId,
        owner,
        ...fence.args,
      )
      if (info.changes !== 1) return false
      this.sql(
        `UPDATE jobs SET lease_owner = ?, lease_expires_at = ?,
           lease_token = CASE WHEN lease_owner = ? THEN lease_token ELSE lease_token + 1 END
         WHERE sweep_id = ? AND state NOT IN ('SUCCEEDED','FAILED','CANCELLED')
         AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires_at < ?)`,
      ).run(owner, now + ttlMs, owner, sweepId, owner, now)
      const held = this.sql('SELECT id, lease_token FROM jobs WHERE sweep_id = ? AND lease_owner = ?').all(sweepId, owner) as Array<{
        id: string
        lease_token: number
      }>
      for (const j of held) this.fences.set(`jobs:${j.id}`, j.lease_token)
      return true
    })
  }

  releaseSweepLease(sweepId: string, owner: string): void {
    const fence = this.fenceClause('sweeps', sweepId)
    this.transaction(() => {
      this.sql(`UPDATE sweeps SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?${fence.sql}`).run(
        sweepId,
        owner,
        ...fence.args,
      )
      this.sql('UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL WHERE sweep_id = ? AND lease_owner = ?').run(sweepId, owner)
    })
    this.fences.delete(`sweeps:${sweepId}`)
    for (const id of this.sql('SELECT id AS fenced_job FROM jobs WHERE sweep_id = ?').pluck().all(sweepId) as string[])
      this.fences.delete(`jobs:${id}`)
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
    this.transaction(() => {
      this.checkFence('jobs', jobId)
      this.insertEvent(jobId, attemptId, kind, data)
    })
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

  /**
   * "ok", or one line per problem (PRAGMA integrity_check's shape) on either engine: what the
   * engine can say of its tables and indexes, rows whose parent is missing, and migrations
   * that are not exactly this skyhop's (src/state/integrity.ts).
   */
  integrityCheck(): string {
    const problems = integrityProblems(this.db)
    return problems.length === 0 ? 'ok' : problems.join('\n')
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
