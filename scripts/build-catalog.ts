// Builds the project's catalog data from the collected sources in data/sources (see
// data/sources/SOURCES.md; the output is committed):
//   data/accelerators.json  the accelerator registry
//   data/offers.json        the bundled offer snapshot
// Usage: npx tsx scripts/build-catalog.ts [--sources DIR] [--check]
//   --check  build in memory and exit 1 if the committed files differ.
import {readFileSync, writeFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {buildFromSources, serializeRegistry, serializeSnapshot} from '../src/catalog/build/inputs.js'

const args = process.argv.slice(2)
const sourcesArg = args.indexOf('--sources')
const sources = sourcesArg >= 0 ? args[sourcesArg + 1] : fileURLToPath(new URL('../data/sources', import.meta.url))
const check = args.includes('--check')

const built = buildFromSources(sources)
const outputs: Array<[string, string]> = [
  [fileURLToPath(new URL('../data/accelerators.json', import.meta.url)), serializeRegistry(built.registry)],
  [fileURLToPath(new URL('../data/offers.json', import.meta.url)), serializeSnapshot(built.snapshot)],
]

const perProvider = Object.entries(built.snapshot.providers)
  .map(([p, m]) => `${p} ${m.rows}`)
  .join(', ')
process.stderr.write(`registry: ${built.registry.accelerators.length} accelerators\n`)
process.stderr.write(`offers: ${built.offers.length} rows (${perProvider})\n`)
process.stderr.write(`skipped ${built.skipped.length} source rows:\n`)
for (const s of built.skipped) process.stderr.write(`  ${s.file}: ${s.row}: ${s.reason}\n`)

if (check) {
  const stale = outputs.filter(([path, text]) => {
    try {
      return readFileSync(path, 'utf8') !== text
    } catch {
      return true
    }
  })
  for (const [path] of stale) process.stderr.write(`out of date: ${path}\n`)
  process.exitCode = stale.length > 0 ? 1 : 0
} else {
  for (const [path, text] of outputs) writeFileSync(path, text)
  process.stderr.write(`wrote ${outputs.map(([p]) => p).join(', ')}\n`)
}
