#!/usr/bin/env node
// The installed entry point. `--version` is answered before oclif loads because CI
// scripts call it in loops and oclif's own startup costs ~100 ms of module loading.
import {readFileSync} from 'node:fs'
import {setFlagsFromString} from 'node:v8'

// A short-lived CLI allocates a few tens of MB while loading oclif, the catalog and the
// planner; a larger young generation spares it ~50 ms of scavenges (bench/launch).
setFlagsFromString('--max-semi-space-size=32')

const argv = process.argv.slice(2)
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`skyhop/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
} else {
  // oclif checks Node against its own engines range on import, loading all of semver (53
  // modules, ~15 ms) to do so; skyhop's own engines range (package.json, checked by npm at
  // install) is the stricter one.
  const ownCheck = process.env.OCLIF_DISABLE_ENGINE_WARNING === undefined
  if (ownCheck) process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
  // One bundled module holds oclif and every command (scripts/bundle.mjs); oclif's explicit
  // command discovery (package.json) reads COMMANDS from the same module, already loaded.
  const {execute} = await import('../dist/bundle/skyhop.js')
  if (ownCheck) delete process.env.OCLIF_DISABLE_ENGINE_WARNING
  await execute({dir: import.meta.url})
}
