// Builds the project's catalog data from the collected sources in ../shared (dev time
// only; the output is committed and the shared files are never copied):
//   data/accelerators.json  the accelerator registry
//   data/offers.json        the bundled offer snapshot
// Usage: npx tsx scripts/build-catalog.ts [--shared DIR] [--check]
//   --check  build in memory and exit 1 if the committed files differ.
import {readFileSync, writeFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {buildFromShared, serializeRegistry, serializeSnapshot} from '../src/catalog/build/inputs.js'

const args = process.argv.slice(2)
const sharedArg = args.indexOf('--shared')
const shared =
  sharedArg >= 0
    ? args[sharedArg + 1]
    : (process.env.SKYHOP_SHARED_CATALOG ?? fileURLToPath(new URL('../../shared/data/catalog', import.meta.url)))
const check = args.includes('--check')

const built = buildFromShared(shared)
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
