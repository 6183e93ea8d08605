// The seam between the store and its engine: SQLite (embedded, the default) or PostgreSQL
// (shared by a team, through pg-bridge.ts). Both are synchronous, with better-sqlite3's
// small API (prepare → run/get/all/pluck, exec, an IMMEDIATE transaction), so the store and
// its callers are the same code on both. What differs in the SQL is said here once: the
// placeholders, row locks, JSON paths, a scalar max, and the column types of migrations.
import type Database from 'better-sqlite3'

export type Row = Record<string, unknown>
export type DialectName = 'sqlite' | 'postgres'

export interface RunResult {
  changes: number
}

export interface Statement {
  run(...args: unknown[]): RunResult
  get(...args: unknown[]): unknown
  all(...args: unknown[]): unknown[]
  /** get() and all() return each row's first column. */
  pluck(): Statement
}

export interface Db {
  readonly dialect: Dialect
  readonly inTransaction: boolean
  prepare(sql: string): Statement
  /** Statements without parameters, possibly several. */
  exec(sql: string): void
  /** Runs fn in one transaction that takes the write lock first (nested: a savepoint). */
  transaction<T>(fn: () => T): T
  close(): void
}

/** The SQL that differs between the engines. Queries are written for SQLite and passed through `query`. */
export interface Dialect {
  readonly name: DialectName
  /** Appended to a SELECT inside a transaction that then writes what it read. */
  readonly forUpdate: string
  /** A JSON document's value at path (a string or number), as SQL. */
  jsonValue(column: string, path: readonly string[]): string
  /** The larger of two values (SQLite's scalar MAX). */
  greatest(a: string, b: string): string
  /** A query written for SQLite (`?` placeholders) in this dialect. */
  query(sql: string): string
  /** A migration written for SQLite in this dialect. */
  migration(sql: string): string
}

export const SQLITE: Dialect = {
  name: 'sqlite',
  forUpdate: '',
  jsonValue: (column, path) => `json_extract(${column}, '$.${path.join('.')}')`,
  greatest: (a, b) => `MAX(${a}, ${b})`,
  query: (sql) => sql,
  migration: (sql) => sql,
}

export const POSTGRES: Dialect = {
  name: 'postgres',
  forUpdate: ' FOR UPDATE',
  // Values the store reads this way are numbers or strings; #>> gives text, which the
  // caller casts where it compares or returns a number.
  jsonValue: (column, path) => `(${column}::json #>> '{${path.join(',')}}')`,
  greatest: (a, b) => `GREATEST(${a}, ${b})`,
  query: numberPlaceholders,
  migration: postgresMigration,
}

/** `?` → `$1`, `$2`, … outside string literals and quoted identifiers. */
export function numberPlaceholders(sql: string): string {
  let out = ''
  let n = 0
  let quote: string | null = null
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null
      out += ch
    } else if (ch === "'" || ch === '"') {
      quote = ch
      out += ch
    } else if (ch === '?') {
      out += `$${++n}`
    } else {
      out += ch
    }
  }
  return out
}

/**
 * A migration's SQLite text for PostgreSQL. INTEGER columns hold epoch milliseconds (lease
 * expiry), so they are BIGINT (read back as numbers: pg-bridge.ts); REAL is DOUBLE
 * PRECISION; an AUTOINCREMENT key is a BIGSERIAL. Every table gets a `rowid` BIGSERIAL, the
 * insertion order SQLite gives each row and the store sorts by.
 */
export function postgresMigration(sql: string): string {
  return sql
    .replaceAll(/\bINTEGER PRIMARY KEY AUTOINCREMENT\b/g, 'BIGSERIAL PRIMARY KEY')
    .replaceAll(/\bINTEGER\b/g, 'BIGINT')
    .replaceAll(/\bREAL\b/g, 'DOUBLE PRECISION')
    .replaceAll(/CREATE TABLE (\w+) \(/g, 'CREATE TABLE $1 (\n        rowid BIGSERIAL NOT NULL,')
}

/** better-sqlite3 behind the seam; the raw database stays reachable for SQLite-only checks (pragmas). */
export class SqliteDb implements Db {
  readonly dialect = SQLITE

  constructor(readonly raw: Database.Database) {}

  get inTransaction(): boolean {
    return this.raw.inTransaction
  }

  prepare(sql: string): Statement {
    return this.raw.prepare(sql) as unknown as Statement
  }

  exec(sql: string): void {
    this.raw.exec(sql)
  }

  transaction<T>(fn: () => T): T {
    return this.raw.transaction(fn).immediate()
  }

  close(): void {
    this.raw.close()
  }
}
