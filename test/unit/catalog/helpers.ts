// Helpers for the catalog tests: the catalog build's source data (data/sources, part of the
// project), JSON Schema validation of command output with the cross-schema $refs resolved,
// and temporary skyhop homes.
import {createRequire} from 'node:module'
import {mkdtempSync, readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
/** The inputs of scripts/build-catalog.ts (data/sources/SOURCES.md). */
export const CATALOG_SOURCES = resolve(ROOT, 'data/sources')

export function tempHome(): string {
  return mkdtempSync(join(tmpdir(), 'skyhop-catalog-test-'))
}

const require = createRequire(import.meta.url)
type Validate = ((data: unknown) => boolean) & {errors?: unknown[] | null}
let ajv: {getSchema(id: string): Validate | undefined} | undefined

/** A validator for `schemas/output/<name>.json` (or `catalog`), with every project schema loaded for $refs. */
export function schemaValidator(name: string): Validate {
  if (!ajv) {
    const Ajv = require('ajv') as new (o: object) => {addSchema(s: object): void; getSchema(id: string): Validate | undefined}
    const addFormats = require('ajv-formats') as (a: unknown) => void
    const a = new Ajv({allErrors: true, strict: false})
    addFormats(a)
    a.addSchema(JSON.parse(readFileSync(join(ROOT, 'schemas/catalog.schema.json'), 'utf8')))
    for (const f of readdirSync(join(ROOT, 'schemas/output')))
      a.addSchema(JSON.parse(readFileSync(join(ROOT, 'schemas/output', f), 'utf8')))
    ajv = a
  }
  const id = name === 'catalog' ? 'https://skyhop.dev/schemas/catalog.schema.json' : `https://skyhop.dev/schemas/output/${name}.json`
  const v = ajv.getSchema(id)
  if (!v) throw new Error(`no schema ${id}`)
  return v
}

/** Asserts-style helper: the schema's errors as text, or '' when valid. */
export function schemaErrors(name: string, data: unknown): string {
  const v = schemaValidator(name)
  return v(JSON.parse(JSON.stringify(data))) ? '' : JSON.stringify(v.errors?.slice(0, 5), null, 1)
}
