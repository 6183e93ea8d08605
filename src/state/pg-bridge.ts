// PostgreSQL behind the store's synchronous API. The store is called synchronously from
// everywhere (controllers, the planner's observations, every command), and `pg` is
// asynchronous, so a worker thread owns the `pg` Client: the main thread posts a query on a
// MessageChannel and blocks in Atomics.wait on a SharedArrayBuffer until the worker has
// posted the answer and flipped the flag; receiveMessageOnPort then takes the answer
// synchronously. Every wait has a deadline: a server that stops answering is a clear STATE
// error, never a hang. The URL's password appears in no message: redactDatabaseUrl.
//
// The cost is one thread hop each way per statement (tens of microseconds here) on top of
// the server's round trip; docs/state.md has the measured figures.
import {type MessagePort, type Worker, receiveMessageOnPort} from 'node:worker_threads'

import {BugError, UsageError} from '../errors.js'
import {type Db, POSTGRES, type RunResult, type Statement} from './db.js'
import {
  DEFAULT_DATABASE_TIMEOUT_MS,
  PHASE_AT_SERVER,
  PHASE_RECEIVED,
  PHASE_REPLIED,
  type PgWorker,
  startPgWorker,
  takePrestarted,
} from './pg-connect.js'

export {DEFAULT_DATABASE_TIMEOUT_MS} from './pg-connect.js'

/** Past the worker's own deadline, how long the main thread waits before it calls the worker dead. */
const BACKSTOP_SLACK_MS = 2000
/** More for a statement the worker has at the server: its timer may fire late on a loaded machine. */
const LATE_TIMER_MS = 10_000

interface Answer {
  rows?: Array<Record<string, unknown>>
  rowCount?: number
  /** The connect's answer: the migrations the database has (null: the read failed). */
  versions?: number[] | null
  error?: {message: string; code?: string; severity?: string}
}

/** The URL with its password replaced by ***: the only form of it any message or record holds. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@')
  }
}

export interface PgOptions {
  timeoutMs?: number
  /** Where the URL came from, for messages: SKYHOP_DATABASE_URL or the config file. */
  source?: string
}

/** A PostgreSQL connection with the synchronous Db API. */
export class PgDb implements Db {
  readonly dialect = POSTGRES
  private depth = 0
  private worker: Worker | null
  private readonly port: MessagePort
  private readonly flag: Int32Array
  private readonly where: string
  private readonly timeoutMs: number

  private constructor(
    readonly url: string,
    private readonly password: string,
    options: PgOptions,
    started: PgWorker,
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_DATABASE_TIMEOUT_MS
    const parsed = new URL(url)
    this.where = `PostgreSQL at ${parsed.hostname || 'localhost'}:${parsed.port || '5432'} (database ${decodeURIComponent(parsed.pathname.slice(1)) || '(default)'}, user ${decodeURIComponent(parsed.username) || '(default)'})`
    this.worker = started.worker
    this.port = started.port
    this.flag = started.flag
  }

  /** Connects (the URL checked first); unreachable server, refused login, unknown database → a STATE error saying which. */
  static connect(url: string, options: PgOptions = {}): PgDb {
    const source = options.source ?? 'SKYHOP_DATABASE_URL'
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new UsageError(`${source} is not a URL: ${redactDatabaseUrl(url)}`, {
        code: 'STATE_URL_INVALID',
        hint: 'Write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE.',
      })
    }
    if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
      throw new UsageError(`${source} must be a postgres:// URL, not ${parsed.protocol}//…`, {
        code: 'STATE_URL_INVALID',
        hint: 'Write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE, or unset it to keep the state in SQLite under SKYHOP_HOME.',
      })
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_DATABASE_TIMEOUT_MS
    // Connecting since bin/run.js started (pg-connect.ts), or from now.
    const started = takePrestarted(url, timeoutMs) ?? startPgWorker(url, timeoutMs)
    const db = new PgDb(url, decodeURIComponent(parsed.password), options, started)
    try {
      db.schemaVersions = db.answer('connect', started.sent).versions
    } catch (error) {
      db.kill()
      throw error
    }
    return db
  }

  private schemaVersions: number[] | null | undefined

  /**
   * The migrations the database had at the login, read by the connection's thread with it
   * (SCHEMA_VERSIONS_SQL), once: null when that read failed, undefined when taken already.
   */
  takeSchemaVersions(): number[] | null | undefined {
    const versions = this.schemaVersions
    this.schemaVersions = undefined
    return versions
  }

  get inTransaction(): boolean {
    return this.depth > 0
  }

  /**
   * Statements are prepared on the server once per connection (by name) and executed after
   * without being parsed again: a quarter of a small query's round trip here.
   */
  private readonly names = new Map<string, string>()

  prepare(sql: string): Statement {
    const text = POSTGRES.query(sql)
    let name = this.names.get(text)
    if (name === undefined) {
      name = `skyhop_${this.names.size + 1}`
      this.names.set(text, name)
    }
    return new PgStatement(this, text, name, false)
  }

  exec(sql: string): void {
    this.call({op: 'query', text: sql}, 'exec')
  }

  query(text: string, name: string, values: unknown[]): Answer {
    return this.call({op: 'query', text, name, values: values.map(toParam), retryUnprepared: this.depth === 0}, 'query')
  }

  transaction<T>(fn: () => T): T {
    const savepoint = this.depth > 0 ? `skyhop_${this.depth}` : null
    this.exec(savepoint ? `SAVEPOINT ${savepoint}` : 'BEGIN')
    this.depth++
    let result: T
    try {
      result = fn()
    } catch (error) {
      this.depth--
      if (this.worker) {
        try {
          this.exec(savepoint ? `ROLLBACK TO SAVEPOINT ${savepoint}; RELEASE SAVEPOINT ${savepoint}` : 'ROLLBACK')
        } catch {
          // The connection is gone; the server rolls back what it had.
        }
      }
      throw error
    }
    this.depth--
    this.exec(savepoint ? `RELEASE SAVEPOINT ${savepoint}` : 'COMMIT')
    return result
  }

  close(): void {
    if (!this.worker) return
    try {
      this.call({op: 'end'}, 'close')
    } catch {
      // Closing a connection that already failed.
    }
    this.kill()
  }

  /** Where a statement that got no answer stuck, from what the worker recorded. */
  private stuckAt(waitedMs: number): string {
    const phase = Atomics.load(this.flag, 1)
    const waited = `${(waitedMs / 1000).toFixed(1)} s`
    if (phase === PHASE_AT_SERVER) return `the statement was at the server for ${waited} and no answer or timeout came back`
    if (phase === PHASE_RECEIVED) return `the connection's thread took the statement but never sent it (${waited})`
    if (phase === PHASE_REPLIED) return `the connection's thread answered, but the answer was lost (${waited})`
    return `the connection's thread never took the statement in ${waited} (it is not running)`
  }

  private kill(): void {
    void this.worker?.terminate()
    this.worker = null
    this.port.close()
  }

  private call(message: Record<string, unknown>, what: string): Answer {
    if (!this.worker) {
      throw new UsageError(`the connection to ${this.where} was closed after an earlier failure`, {
        code: 'STATE_UNAVAILABLE',
        hint: 'Run the command again.',
      })
    }
    Atomics.store(this.flag, 0, 0)
    Atomics.store(this.flag, 1, 0)
    const sent = Date.now()
    this.port.postMessage(message)
    return this.answer(what, sent)
  }

  /**
   * Until the worker has flipped flag[0] or `ms` have passed. A wake-up alone proves nothing:
   * the worker flips the flag and then notifies, and a worker descheduled between the two
   * (a loaded machine) notifies late, waking the wait of the next statement before its answer
   * (seen in bench/team: "never took the statement in 0.0 s"). So the flag decides.
   */
  private waitForFlag(ms: number): 'ok' | 'timed-out' {
    const deadline = Date.now() + ms
    while (Atomics.load(this.flag, 0) === 0) {
      const left = deadline - Date.now()
      if (left <= 0) return 'timed-out'
      Atomics.wait(this.flag, 0, 0, left)
    }
    return 'ok'
  }

  /** The answer to the message posted at `sent`, waited for on the shared flag. */
  private answer(what: string, sent: number): Answer {
    // The worker's own deadlines (pg's connection and query timeouts) come first and say
    // more; this one is the backstop for a worker that cannot answer at all. A worker that
    // has the statement at the server gets a while longer: on a loaded machine its timer
    // fires late, and its answer says what the server did.
    let woke = this.waitForFlag(this.timeoutMs + 1000 + BACKSTOP_SLACK_MS)
    if (woke === 'timed-out' && Atomics.load(this.flag, 1) === PHASE_AT_SERVER) {
      woke = this.waitForFlag(LATE_TIMER_MS)
    }
    const answer = receiveMessageOnPort(this.port)?.message as Answer | undefined
    if (woke === 'timed-out' || answer === undefined) {
      const where = this.stuckAt(Date.now() - sent)
      // The worker may still be waiting on the server: nothing it says later can be trusted.
      this.kill()
      throw new UsageError(`${this.where} did not answer within ${this.timeoutMs / 1000} s (${what}): ${where}`, {
        code: 'STATE_TIMEOUT',
        hint: 'Check that the server is up and reachable (pg_isready), or raise SKYHOP_DATABASE_TIMEOUT.',
      })
    }
    if (answer.error) throw this.failure(answer.error, what)
    return answer
  }

  /** The server's error as the taxonomy's: what went wrong and where, the password never in it. */
  private failure(e: {message: string; code?: string}, what: string): Error {
    const message = this.password.length > 0 ? e.message.split(this.password).join('***') : e.message
    const unavailable = (text: string, hint: string, code = 'STATE_UNAVAILABLE'): UsageError => new UsageError(text, {code, hint})
    switch (e.code) {
      case 'PG_UNLOADABLE':
        return new BugError(message, {hint: 'Reinstall skyhop (npm ci): the pg package is missing from node_modules.'})
      case 'ECONNREFUSED':
        return unavailable(
          `cannot reach ${this.where}: connection refused`,
          'Start the server (scripts/postgres-up.sh on this machine), or check the host and port of SKYHOP_DATABASE_URL.',
        )
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return unavailable(`cannot reach ${this.where}: unknown host`, 'Check the host of SKYHOP_DATABASE_URL.')
      case 'ETIMEDOUT':
        return unavailable(`cannot reach ${this.where}: no answer`, 'Check that the server is up and reachable.', 'STATE_TIMEOUT')
      case '28P01':
      case '28000':
        return unavailable(
          `${this.where} refused the login: ${message}`,
          'Check the user and password in SKYHOP_DATABASE_URL (and the server’s pg_hba.conf).',
          'STATE_AUTH_FAILED',
        )
      case '3D000':
        return unavailable(
          `${this.where}: the database does not exist`,
          'Create it (CREATE DATABASE … OWNER …), or name an existing one in SKYHOP_DATABASE_URL.',
          'STATE_DATABASE_UNKNOWN',
        )
      // The URL's search_path names no schema that exists ("no schema has been selected to
      // create in"), or one the user may not create tables in: the setup's fault, not skyhop's.
      case '3F000':
        return unavailable(
          `${this.where}: ${message}`,
          'The search_path of SKYHOP_DATABASE_URL (options=-c search_path=…) must name a schema that exists: create it (CREATE SCHEMA name AUTHORIZATION user), or leave the option out.',
          'STATE_SCHEMA_UNKNOWN',
        )
      case '42501':
        return unavailable(
          `${this.where}: ${message} (${what})`,
          'Give the user CREATE and USAGE on its schema (GRANT … ON SCHEMA … TO user), or connect as the schema’s owner.',
          'STATE_PERMISSION_DENIED',
        )
      case '57014':
        return unavailable(
          `${this.where}: ${message} (${what})`,
          'Check what holds the lock (pg_locks), or raise SKYHOP_DATABASE_TIMEOUT.',
          'STATE_TIMEOUT',
        )
      case '57P01':
      case '57P02':
      case '57P03':
      case '08006':
      case '08003':
      case '08001':
        return unavailable(`lost the connection to ${this.where}: ${message}`, 'Run the command again when the server is back.')
      default:
        if (what === 'connect' || /Connection terminated|timeout/i.test(message)) {
          const timeout = /timeout/i.test(message)
          return unavailable(
            `cannot use ${this.where}: ${message}`,
            'Check that the server is up and reachable.',
            timeout ? 'STATE_TIMEOUT' : 'STATE_UNAVAILABLE',
          )
        }
        return new StateQueryError(`${this.where}: ${message}`, e.code)
    }
  }
}

/** A statement the server refused (a bug in skyhop's SQL, or a constraint): exit 1 with the server's SQLSTATE. */
export class StateQueryError extends BugError {
  constructor(
    message: string,
    readonly sqlState: string | undefined,
  ) {
    super(message, {details: sqlState ? {sqlState} : undefined})
  }
}

class PgStatement implements Statement {
  constructor(
    private readonly db: PgDb,
    private readonly text: string,
    private readonly name: string,
    private readonly plucked: boolean,
  ) {}

  run(...args: unknown[]): RunResult {
    return {changes: this.db.query(this.text, this.name, args).rowCount ?? 0}
  }

  get(...args: unknown[]): unknown {
    const row = this.db.query(this.text, this.name, args).rows?.[0]
    return row && this.plucked ? Object.values(row)[0] : row
  }

  all(...args: unknown[]): unknown[] {
    const rows = this.db.query(this.text, this.name, args).rows ?? []
    return this.plucked ? rows.map((r) => Object.values(r)[0]) : rows
  }

  pluck(): Statement {
    return new PgStatement(this.db, this.text, this.name, true)
  }
}

function toParam(value: unknown): unknown {
  if (value === undefined) return null
  if (typeof value === 'boolean') return value ? 1 : 0
  return value
}
