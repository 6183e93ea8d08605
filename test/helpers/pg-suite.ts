// The whole suite on PostgreSQL: with SKYHOP_TEST_ENGINE=postgres (`npm run test:postgres`),
// every home the tests use gets a schema of its own in one scratch database, created the first
// time a home is used and dropped when mocha ends. The built CLI and everything else the tests
// spawn get SKYHOP_DATABASE_URL for their home (runCli, runCliAsync, databaseEnv), and the
// test process's own Store.open of a home goes to the same schema: this file is a mocha root
// hook plugin (.mocharc.cjs loads it in that mode only) that wraps Store.open for the run, so
// the product carries no test hook. A suite or test that is SQLite's by nature (it reads the
// SQLite file, tests SQLite's migrations) says so with sqliteOnly(reason) and runs on SQLite.
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {STATE_DB} from '../../src/state/files.js'
import {Store, type StoreOptions} from '../../src/state/store.js'
import {type PgDb} from '../../src/state/pg-bridge.js'
import {reachPostgres, scratchDatabase, schemaPerHome, suiteEngine} from './engines.js'

const onPostgres = suiteEngine() === 'postgres'

/** Set while a SQLite-only suite or test runs: its reason. */
let sqliteReason: string | null = null
/** The run's scratch database, made the first time a home needs it. */
let scratch: {admin: PgDb; drop(): void; homes: ReturnType<typeof schemaPerHome>} | undefined
let hooked = false

/** The database URL of a home for this run: its schema's on PostgreSQL, null on SQLite. */
export function databaseUrlOf(home: string): string | null {
  if (!onPostgres || sqliteReason !== null) return null
  if (!hooked) {
    throw new Error(
      'SKYHOP_TEST_ENGINE=postgres needs the root hook test/helpers/pg-suite.ts (.mocharc.cjs loads it; a custom --config must too)',
    )
  }
  if (scratch === undefined) {
    const reached = reachPostgres()
    // Asked for by name, PostgreSQL is never skipped.
    if ('why' in reached) throw new Error(`SKYHOP_TEST_ENGINE=postgres: ${reached.why}`)
    const database = scratchDatabase(reached.db)
    scratch = {admin: reached.db, drop: database.drop, homes: schemaPerHome(database.url)}
  }
  return scratch.homes.urlOf(home)
}

/** Whether a home's state is in PostgreSQL in this run (it has been given a schema). */
export function onPostgresHome(home: string): boolean {
  return scratch?.homes.has(home) ?? false
}

/** SKYHOP_DATABASE_URL for a process run on this home (empty on SQLite), for env objects. */
export function databaseEnv(home: string): {SKYHOP_DATABASE_URL?: string} {
  const url = databaseUrlOf(home)
  return url === null ? {} : {SKYHOP_DATABASE_URL: url}
}

/**
 * Marks what runs on SQLite even in the PostgreSQL run, with why. Called first in a describe
 * body: the whole suite (its before hooks included); given a test (`sqliteOnly(why, it(…))`):
 * that test.
 */
export function sqliteOnly(reason: string, test?: Mocha.Test): void {
  if (test !== undefined) {
    ;(test as Mocha.Test & {sqliteOnly?: string}).sqliteOnly = reason
    return
  }
  before(function () {
    const outer = sqliteReason
    sqliteReason = reason
    // Added now, so it comes after the suite's own after hooks (they may open its stores too).
    this.test!.parent!.afterAll(() => {
      sqliteReason = outer
    })
  })
}

const open = Store.open.bind(Store)
let outerOfTest: string | null = null

export const mochaHooks = {
  beforeAll(): void {
    if (!onPostgres || hooked) return
    if (process.env.SKYHOP_DATABASE_URL) {
      throw new Error(
        'SKYHOP_TEST_ENGINE=postgres gives each home its own SKYHOP_DATABASE_URL: unset it (SKYHOP_TEST_DATABASE_URL names the server)',
      )
    }
    hooked = true
    // A store opened without a URL is the home's schema, as the CLI given databaseEnv opens it.
    Store.open = (home: string, options: StoreOptions = {}): Store => {
      if (options.databaseUrl) return open(home, options)
      const url = databaseUrlOf(home)
      return open(home, url === null ? options : {...options, databaseUrl: url})
    }
  },
  beforeEach(this: Mocha.Context): void {
    outerOfTest = sqliteReason
    const reason = (this.currentTest as (Mocha.Test & {sqliteOnly?: string}) | undefined)?.sqliteOnly
    if (reason !== undefined) sqliteReason = reason
  },
  afterEach(): void {
    sqliteReason = outerOfTest
  },
  afterAll(): void {
    if (!hooked) return
    Store.open = open
    hooked = false
    scratch?.homes.close()
    scratch?.drop()
    scratch?.admin.close()
    scratch = undefined
  },
}

/**
 * Everything the state store of a home holds, as text, for "is this stored / never stored"
 * checks: on SQLite the bytes of the database file and its write-ahead log (whatever was
 * written is in one of them), on PostgreSQL every row of every table of the home's schema.
 */
export function stateDump(home: string): string {
  if (databaseUrlOf(home) === null) {
    return readdirSync(home)
      .filter((f) => f.startsWith(STATE_DB))
      .map((f) => readFileSync(join(home, f)).toString('latin1'))
      .join('\n')
  }
  const store = Store.open(home)
  try {
    const tables = store.db
      .prepare(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`)
      .pluck()
      .all() as string[]
    return tables.flatMap((t) => store.db.prepare(`SELECT t::text FROM "${t}" t`).pluck().all() as string[]).join('\n')
  } finally {
    store.close()
  }
}

/** One value from the state store of a home (a SQL query written for SQLite), on either engine. */
export function stateValue(home: string, sql: string, ...params: unknown[]): unknown {
  const store = Store.open(home)
  try {
    return store.db
      .prepare(sql)
      .pluck()
      .get(...params)
  } finally {
    store.close()
  }
}
