// Reads spot availability traces (the Can't Be Late format of github.com/skypilot-org/spot-traces):
// one JSON object per file, {"metadata": {"gap_seconds": N}, "data": [count per tick]},
// 1 (or more) = spot available. The file name carries the zone and what ran there:
// `us-west-2a_v100_1.json` is one V100 per node in us-west-2a (region us-west-2);
// `us-east-1b_intel_64.json` a 64-vCPU Intel instance; `us-central1-a_c3-88.json` a GCP
// c3-highcpu-88. The parsing and checking are pure; loadTraceDir does the reading.
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {basename, join} from 'node:path'

import type {AcceleratorRegistry} from '../catalog/accelerators.js'
import {type FileIssue, InvalidFileError, UsageError} from '../errors.js'
import type {Trace} from './types.js'

const CODE = 'TRACE_FILE_INVALID'

export interface TraceName {
  zone: string
  region: string
  provider: string
  label: string
  count: number
}

/**
 * `<zone>_<label>[_<count>].json`. AWS zones are a region plus a letter (`us-west-2a`);
 * GCP zones a region, a dash and a letter (`us-central1-a`). Returns null when the name
 * does not follow the pattern.
 */
export function parseTraceName(file: string): TraceName | null {
  const name = basename(file).replace(/\.json$/i, '')
  const parts = name.split('_')
  if (parts.length < 2 || parts.length > 3) return null
  const [zone, label, countText] = parts
  if (label === '') return null
  let count = 1
  if (countText !== undefined) {
    if (!/^\d+$/.test(countText) || Number(countText) < 1) return null
    count = Number(countText)
  }
  let m = /^([a-z]+(?:-[a-z]+)+-\d+)([a-z])$/.exec(zone)
  if (m) return {zone, region: m[1], provider: 'aws', label: label.toLowerCase(), count}
  m = /^([a-z]+-[a-z]+\d+)-([a-z])$/.exec(zone)
  if (m) return {zone, region: m[1], provider: 'gcp', label: label.toLowerCase(), count}
  return null
}

/**
 * Checks one parsed document and returns its gap and counts. Throws InvalidFileError with
 * every problem found, each at its JSON path.
 */
export function parseTraceDocument(file: string, doc: unknown): {gapSeconds: number; data: Uint16Array} {
  const issues: FileIssue[] = []
  const issue = (path: string, message: string) => issues.push({file, path, message})
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    issue('', 'expected a JSON object {"metadata": {"gap_seconds": N}, "data": [...]}')
    throw new InvalidFileError(issues, {code: CODE})
  }
  const o = doc as Record<string, unknown>
  const meta = o.metadata
  let gapSeconds = Number.NaN
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    issue('/metadata', 'missing: expected {"gap_seconds": N}, the seconds between two data points')
  } else {
    const gap = (meta as Record<string, unknown>).gap_seconds
    if (gap === undefined) issue('/metadata/gap_seconds', 'missing: expected the seconds between two data points, e.g. 600')
    else if (typeof gap !== 'number' || !Number.isFinite(gap) || gap <= 0)
      issue('/metadata/gap_seconds', `expected a positive number of seconds, got ${JSON.stringify(gap)}`)
    else gapSeconds = gap
  }
  const data = o.data
  let out = new Uint16Array(0)
  if (!Array.isArray(data)) {
    issue('/data', 'missing: expected an array with the number of available instances at each tick (0 = none)')
  } else if (data.length === 0) {
    issue('/data', 'is empty: a trace needs at least one tick')
  } else {
    out = new Uint16Array(data.length)
    let bad = 0
    for (let i = 0; i < data.length; i++) {
      const x = data[i]
      if (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 65535) {
        out[i] = x
      } else if (typeof x === 'boolean') {
        out[i] = x ? 1 : 0
      } else {
        if (bad < 5) issue(`/data/${i}`, `expected a count of available instances (an integer ≥ 0), got ${JSON.stringify(x)}`)
        bad++
      }
    }
    if (bad > 5) issue('/data', `${bad - 5} more bad data points`)
  }
  if (issues.length > 0) throw new InvalidFileError(issues, {code: CODE})
  return {gapSeconds, data: out}
}

/** One trace from its name and text; the accelerator resolves through the registry when it is one. */
export function parseTrace(file: string, text: string, registry: AcceleratorRegistry): Trace {
  const name = parseTraceName(file)
  if (name === null) {
    throw new InvalidFileError(
      [{file, path: '', message: 'the file name must be ZONE_KIND[_COUNT].json, e.g. us-west-2a_v100_1.json or us-central1-a_c3-88.json'}],
      {code: CODE},
    )
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (error) {
    throw new InvalidFileError([{file, path: '', message: `not JSON: ${(error as Error).message}`}], {code: CODE})
  }
  const {gapSeconds, data} = parseTraceDocument(file, doc)
  const acc = registry.resolve(name.label)
  return {file, ...name, accelerator: acc?.name ?? null, gapSeconds, data}
}

/** Every `*.json` trace under `dir` (recursively), sorted by path. Throws UsageError when there are none. */
export function loadTraceDir(dir: string, registry: AcceleratorRegistry): Trace[] {
  let st
  try {
    st = statSync(dir)
  } catch {
    throw new UsageError(`traces folder ${dir} does not exist`, {
      code: 'TRACES_NOT_FOUND',
      hint: "Point --traces at a folder of trace files in the Can't Be Late format, e.g. availability/1-node/aws-02-15-2023 of github.com/skypilot-org/spot-traces.",
    })
  }
  const files: string[] = []
  if (st.isFile()) {
    files.push(dir)
  } else {
    const walk = (d: string) => {
      for (const entry of readdirSync(d, {withFileTypes: true}).sort((a, b) => a.name.localeCompare(b.name))) {
        const p = join(d, entry.name)
        // Follow symbolic links: a folder of links is the easy way to combine trace sets.
        const kind = entry.isSymbolicLink() ? statSync(p, {throwIfNoEntry: false}) : entry
        if (kind === undefined) continue
        if (kind.isDirectory()) walk(p)
        else if (kind.isFile() && entry.name.toLowerCase().endsWith('.json')) files.push(p)
      }
    }
    walk(dir)
  }
  if (files.length === 0) {
    throw new UsageError(`no trace files (*.json) in ${dir}`, {
      code: 'TRACES_NOT_FOUND',
      hint: "Trace files are named like us-west-2a_v100_1.json (the Can't Be Late format of github.com/skypilot-org/spot-traces); see docs/simulator.md.",
    })
  }
  return files.map((f) => {
    let text: string
    try {
      text = readFileSync(f, 'utf8')
    } catch (error) {
      throw new InvalidFileError([{file: f, path: '', message: `cannot read: ${(error as Error).message}`}], {code: CODE})
    }
    return parseTrace(f, text, registry)
  })
}
