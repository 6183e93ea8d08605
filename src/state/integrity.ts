// The state store's integrity check (Store.integrityCheck), on either engine: "ok", or one
// line per problem, the shape of SQLite's PRAGMA integrity_check. What each engine can say:
//
// - SQLite: its own check of the file (pages, indexes against their tables, NOT NULL), then
//   foreign keys (PRAGMA foreign_key_check: rows whose parent is missing, which a connection
//   without `foreign_keys = ON` can leave).
// - PostgreSQL checks its pages itself, and amcheck needs a superuser, which skyhop's role is
//   not. What the store can see instead: indexes a failed build left invalid (a unique index
//   that is not enforcing), constraints added NOT VALID and never validated, and every foreign
//   key checked against the rows (a constraint dropped and re-added NOT VALID, or triggers
//   disabled, leaves rows whose parent is missing).
// - Both: the migrations recorded are exactly this skyhop's (a database restored from a partial
//   dump, or a row deleted by hand, says it has a schema it does not have).
import type {Db} from './db.js'
import {MIGRATIONS} from './migrations.js'

type Row = Record<string, unknown>

export function integrityProblems(db: Db): string[] {
  const problems = db.dialect.name === 'postgres' ? postgresProblems(db) : sqliteProblems(db)
  return [...problems, ...migrationProblems(db)]
}

function orphans(table: string, column: string, parent: string, rows: number): string {
  return `${table}: ${rows} row${rows === 1 ? '' : 's'} whose ${column} has no row in ${parent}`
}

function sqliteProblems(db: Db): string[] {
  const pages = (db.prepare('PRAGMA integrity_check').all() as Array<{integrity_check: string}>)
    .map((r) => r.integrity_check)
    .filter((line) => line !== 'ok')
  const broken = db.prepare('PRAGMA foreign_key_check').all() as Array<{table: string; parent: string; fkid: number}>
  const counts = new Map<string, {table: string; parent: string; fkid: number; rows: number}>()
  for (const b of broken) {
    const key = `${b.table}\0${b.fkid}`
    counts.set(key, {...b, rows: (counts.get(key)?.rows ?? 0) + 1})
  }
  const keys = [...counts.values()].map((c) => {
    const columns = (db.prepare(`PRAGMA foreign_key_list(${JSON.stringify(c.table)})`).all() as Array<{id: number; from: string}>)
      .filter((f) => f.id === c.fkid)
      .map((f) => f.from)
    return orphans(c.table, columns.join(', '), c.parent, c.rows)
  })
  return [...pages, ...keys]
}

function postgresProblems(db: Db): string[] {
  const problems: string[] = []
  const invalid = db
    .prepare(
      `SELECT i.indexrelid::regclass::text AS index, i.indrelid::regclass::text AS tbl
       FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
       WHERE c.relnamespace = current_schema()::regnamespace AND NOT (i.indisvalid AND i.indisready)
       ORDER BY 1`,
    )
    .all() as Row[]
  for (const r of invalid)
    problems.push(`index ${r.index as string} on ${r.tbl as string} is invalid (a build that did not finish); REINDEX INDEX rebuilds it`)
  const unvalidated = db
    .prepare(
      `SELECT conname, conrelid::regclass::text AS tbl FROM pg_constraint
       WHERE connamespace = current_schema()::regnamespace AND NOT convalidated ORDER BY 2, 1`,
    )
    .all() as Row[]
  for (const r of unvalidated)
    problems.push(`constraint ${r.conname as string} on ${r.tbl as string} is not validated: rows from before it was added may break it`)
  // Each foreign key against the rows, whatever the catalog says of it: one row per column pair.
  const pairs = db
    .prepare(
      `SELECT c.conname, c.conrelid::regclass::text AS tbl, c.confrelid::regclass::text AS parent,
         quote_ident(a.attname) AS col, quote_ident(pa.attname) AS pcol, a.attname AS name
       FROM pg_constraint c
       CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(n, pn, i)
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
       JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.pn
       WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
       ORDER BY 2, 1, k.i`,
    )
    .all() as Array<{conname: string; tbl: string; parent: string; col: string; pcol: string; name: string}>
  const keys = new Map<string, typeof pairs>()
  for (const p of pairs) keys.set(`${p.tbl}\0${p.conname}`, [...(keys.get(`${p.tbl}\0${p.conname}`) ?? []), p])
  for (const cols of keys.values()) {
    const {tbl, parent} = cols[0]
    // Names from the catalog (regclass and quote_ident quote what needs it), not from input.
    const rows = db
      .prepare(
        `SELECT COUNT(*)::int AS n FROM ${tbl} c WHERE ${cols.map((k) => `c.${k.col} IS NOT NULL`).join(' AND ')}
         AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE ${cols.map((k) => `p.${k.pcol} = c.${k.col}`).join(' AND ')})`,
      )
      .get() as {n: number}
    if (rows.n > 0) problems.push(orphans(tbl, cols.map((k) => k.name).join(', '), parent, rows.n))
  }
  return problems
}

function migrationProblems(db: Db): string[] {
  const recorded = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as Array<{version: number}>).map((r) => Number(r.version)),
  )
  const known = new Set(MIGRATIONS.map((m) => m.version))
  return [
    ...MIGRATIONS.filter((m) => !recorded.has(m.version)).map((m) => `schema_migrations: version ${m.version} (${m.name}) is not recorded`),
    ...[...recorded]
      .filter((v) => !known.has(v))
      .sort((a, b) => a - b)
      .map((v) => `schema_migrations: version ${v} is not one of this skyhop's migrations`),
  ]
}
