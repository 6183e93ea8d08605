// The store's two engines for tests: every suite written with describeEngines runs once on
// SQLite and once on PostgreSQL. PostgreSQL comes from SKYHOP_TEST_DATABASE_URL, else the
// server scripts/postgres-up.sh starts; each suite gets its own database (dropped after) and
// each fresh "home" its own schema in it, so stores opened on one home share their data as
// SQLite's do and fresh homes see nothing of each other. Without a server the PostgreSQL
// half skips, saying why; with CI set it fails.
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

import {PgDb, redactDatabaseUrl} from '../../src/state/pg-bridge.js'
import {Store, type StoreOptions} from '../../src/state/store.js'

export const DEFAULT_TEST_DATABASE_URL = 'postgres://skyhop:skyhop@127.0.0.1:5432/skyhop'

export function testDatabaseUrl(): string {
  return process.env.SKYHOP_TEST_DATABASE_URL || DEFAULT_TEST_DATABASE_URL
}

export interface Engine {
  readonly name: 'sqlite' | 'postgres'
  /** A fresh home: an empty store the first time it is opened. */
  home(): string
  /** The store of a home (another connection each call, like another process). */
  open(home: string, options?: Omit<StoreOptions, 'databaseUrl'>): Store
  /** The database URL of a home (PostgreSQL), for child processes; null on SQLite. */
  urlOf(home: string): string | null
}

/** The URL with one path (database) and an optional search_path. */
function withDatabase(base: string, database: string, schema?: string): string {
  const u = new URL(base)
  u.pathname = `/${database}`
  if (schema) u.searchParams.set('options', `-c search_path=${schema}`)
  return u.toString()
}

/** Opens an admin connection, or says why not (the skip message). */
export function reachPostgres(): {db: PgDb} | {why: string} {
  const url = testDatabaseUrl()
  try {
    return {db: PgDb.connect(url, {timeoutMs: 5000, source: 'SKYHOP_TEST_DATABASE_URL'})}
  } catch (error) {
    return {
      why: `no PostgreSQL at ${redactDatabaseUrl(url)} (${(error as Error).message}); run \`bash scripts/postgres-up.sh\` or set SKYHOP_TEST_DATABASE_URL`,
    }
  }
}

/** A database of its own for one suite: created now, dropped by drop(). */
export function scratchDatabase(admin: PgDb): {url: string; drop(): void} {
  const name = `skyhop_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  admin.exec(`CREATE DATABASE ${name}`)
  return {
    url: withDatabase(testDatabaseUrl(), name),
    drop: () => admin.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  }
}

/** Skips the current suite (or fails it under CI) when PostgreSQL is unreachable. */
export function skipOrFail(ctx: Mocha.Context, why: string): never {
  if (process.env.CI) throw new Error(`PostgreSQL is required under CI: ${why}`)
  console.log(`      skipped: ${why}`)
  ctx.skip()
}

/**
 * A schema per home in one database: the URL of a home names its schema in search_path
 * (created the first time the home is asked for), so stores and processes given one home's
 * URL share their data as SQLite's do, and fresh homes see nothing of each other.
 */
export function schemaPerHome(databaseUrl: string): {urlOf(home: string): string; has(home: string): boolean; close(): void} {
  let scratch: PgDb | undefined
  const schemas = new Map<string, string>()
  const u = new URL(databaseUrl)
  return {
    urlOf(home) {
      const key = resolve(home)
      let schema = schemas.get(key)
      if (schema === undefined) {
        schema = `h${schemas.size}`
        scratch ??= PgDb.connect(databaseUrl)
        scratch.exec(`CREATE SCHEMA ${schema}`)
        schemas.set(key, schema)
      }
      return withDatabase(u.toString(), u.pathname.slice(1), schema)
    },
    has: (home) => schemas.has(resolve(home)),
    close: () => scratch?.close(),
  }
}

/** SKYHOP_TEST_ENGINE: postgres runs the whole suite on PostgreSQL (test/helpers/pg-suite.ts). */
export function suiteEngine(): 'sqlite' | 'postgres' {
  const raw = process.env.SKYHOP_TEST_ENGINE || 'sqlite'
  if (raw !== 'sqlite' && raw !== 'postgres') throw new Error(`SKYHOP_TEST_ENGINE must be sqlite or postgres, not "${raw}"`)
  return raw
}

const tmpHome = (): string => mkdtempSync(join(tmpdir(), 'skyhop-state-'))

export function describeEngines(title: string, body: (engine: Engine) => void): void {
  // In the PostgreSQL run of the whole suite the SQLite half is left to the SQLite run.
  if (suiteEngine() === 'sqlite') {
    describe(`${title} [sqlite]`, () => {
      body({
        name: 'sqlite',
        home: tmpHome,
        open: (home, options) => Store.open(home, options),
        urlOf: () => null,
      })
    })
  }

  describe(`${title} [postgres]`, function () {
    let admin: PgDb | undefined
    let database: {url: string; drop(): void} | undefined
    let homes: ReturnType<typeof schemaPerHome> | undefined
    before(function () {
      const reached = reachPostgres()
      if ('why' in reached) skipOrFail(this, reached.why)
      admin = reached.db
      database = scratchDatabase(admin)
      homes = schemaPerHome(database.url)
    })
    after(() => {
      homes?.close()
      database?.drop()
      admin?.close()
    })
    const urlOf = (home: string): string => homes!.urlOf(home)
    body({
      name: 'postgres',
      home: tmpHome,
      open: (home, options) => Store.open(home, {...options, databaseUrl: urlOf(home)}),
      urlOf,
    })
  })
}
