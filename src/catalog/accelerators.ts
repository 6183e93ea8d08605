// The accelerator registry: every accelerator skyhop knows, loaded from the project's
// data file (data/accelerators.json, built by scripts/build-catalog.ts) and looked up by
// any of its spellings. `910B`, `Ascend910B` and `ascend-910b` are one entry; `H100` is
// H100-80GB. Lookups ignore case, spaces and punctuation, and a leading vendor word.
// Synchronous and cached: the job-spec parser calls resolve/suggest while validating.
import {readFileSync} from 'node:fs'

import {BugError} from '../errors.js'
import {didYouMean} from '../util/did-you-mean.js'
import type {Accelerator} from '../model/catalog.js'

export interface AcceleratorRegistry {
  /** The entry a name, alias or vendor-prefixed name denotes. */
  resolve(name: string): Accelerator | undefined
  /** The canonical name closest to a name that does not resolve, for "did you mean". */
  suggest(name: string): string | undefined
  /** Every entry, sorted by vendor then name. */
  all(): readonly Accelerator[]
  /** Vendor ids present in the registry, sorted. */
  vendors(): string[]
}

export interface RegistryFile {
  format: 'skyhop-accelerators/1'
  /** Where the figures came from (files and commits), for the record. */
  generatedFrom: string[]
  accelerators: Accelerator[]
}

/** Lower case, letters and digits only: `Ascend-910B` and `ascend 910b` meet here. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '')
}

// Words people put in front of a model name. Stripped only when the rest resolves.
const VENDOR_PREFIXES = [
  'nvidia',
  'tesla',
  'geforce',
  'quadro',
  'amd',
  'instinct',
  'radeon',
  'intel',
  'habana',
  'google',
  'cloud',
  'aws',
  'amazon',
  'huawei',
  'ascend',
  'cambricon',
  'hygon',
  'kunlunxin',
  'baidu',
  'iluvatar',
  'corex',
  'moorethreads',
  'mthreads',
  'metax',
  'biren',
]

export function createRegistry(entries: readonly Accelerator[]): AcceleratorRegistry {
  const index = new Map<string, Accelerator>()
  const add = (key: string, entry: Accelerator) => {
    const k = normalizeName(key)
    if (k === '') return
    const prior = index.get(k)
    if (prior && prior !== entry) throw new BugError(`accelerator registry: "${key}" names both ${prior.name} and ${entry.name}`)
    index.set(k, entry)
  }
  // Canonical names first, so an alias can never shadow another entry's own name.
  for (const e of entries) add(e.name, e)
  for (const e of entries) {
    for (const a of e.aliases) add(a, e)
    if (e.displayName) add(e.displayName, e)
  }
  const sorted = Object.freeze([...entries])
  const vendors = [...new Set(entries.map((e) => e.vendor))].sort()

  const lookup = (k: string, depth: number): Accelerator | undefined => {
    const hit = index.get(k)
    if (hit || depth === 0) return hit
    for (const p of VENDOR_PREFIXES) {
      if (k.length > p.length && k.startsWith(p)) {
        const rest = lookup(k.slice(p.length), depth - 1)
        if (rest) return rest
      }
    }
    return undefined
  }
  // Two words deep: "Google Cloud TPU v5e", "NVIDIA Tesla V100". Trademark marks are no part of
  // a name: tools print them (xpu-smi: `Intel(R) Arc(TM) B580`), no alias list carries them.
  const resolve = (name: string): Accelerator | undefined => lookup(normalizeName(name.replace(/\((?:R|TM)\)|[®™]/gi, ' ')), 2)

  const suggest = (name: string): string | undefined => {
    const guess = didYouMean(normalizeName(name), index.keys())
    return guess === undefined ? undefined : index.get(guess)?.name
  }

  return {resolve, suggest, all: () => sorted, vendors: () => [...vendors]}
}

let cached: AcceleratorRegistry | undefined

/** The bundled registry, read once per process. */
export function loadRegistry(): AcceleratorRegistry {
  if (!cached) {
    const url = new URL('../../data/accelerators.json', import.meta.url)
    const file = JSON.parse(readFileSync(url, 'utf8')) as RegistryFile
    if (file.format !== 'skyhop-accelerators/1') throw new BugError(`data/accelerators.json: unknown format ${String(file.format)}`)
    cached = createRegistry(file.accelerators)
  }
  return cached
}
