// Compiles the project's JSON Schemas once per process. ajv is loaded lazily so that
// commands which never validate a file do not pay for it.
import type {ValidateFunction} from 'ajv'

import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'

const require = createRequire(import.meta.url)
const cache = new Map<string, ValidateFunction>()

/** Absolute path of a file under the package's `schemas/` folder (works from src and dist). */
export function schemaPath(name: string): string {
  return new URL(`../../schemas/${name}`, import.meta.url).pathname
}

export function loadSchema(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(schemaPath(name), 'utf8')) as Record<string, unknown>
}

/**
 * The validators the CLI bundle carries (scripts/bundle.mjs): compiled with the rest of the
 * bundle from its code cache, where requiring dist/generated/*.cjs compiled ~250 KB afresh
 * at every start (~15 ms of a `launch`).
 */
export function registerPrecompiled(validators: Record<string, ValidateFunction>): void {
  for (const [name, validate] of Object.entries(validators)) cache.set(name, validate)
}

export function compiledSchema(name: string): ValidateFunction {
  const hit = cache.get(name)
  if (hit) return hit
  // The build precompiles the schemas (scripts/compile-schemas.mjs); use that when present.
  try {
    const precompiled = require(`../generated/${name.replace(/\.json$/, '')}.cjs`) as ValidateFunction | {default: ValidateFunction}
    const validate = typeof precompiled === 'function' ? precompiled : precompiled.default
    cache.set(name, validate)
    return validate
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error
  }
  // ajv and ajv-formats are CommonJS; require keeps their default exports straight.
  const Ajv = require('ajv') as typeof import('ajv').default
  const addFormats = require('ajv-formats') as typeof import('ajv-formats').default
  const ajv = new Ajv({allErrors: true, verbose: true, strict: false})
  addFormats(ajv)
  const validate = ajv.compile(loadSchema(name))
  cache.set(name, validate)
  return validate
}
