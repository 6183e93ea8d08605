#!/usr/bin/env node
// The installed entry point. `--version` is answered before oclif loads because CI
// scripts call it in loops and oclif's own startup costs ~100 ms of module loading.
//
// Node's modules are taken with process.getBuiltinModule (Node ≥ 20.16), not imported: an
// ES module import of a built-in makes a module facade of all its exports, ~1 ms each.
const {readFileSync, writeFileSync} = process.getBuiltinModule('node:fs')
const {Module, createRequire} = process.getBuiltinModule('node:module')
const {dirname} = process.getBuiltinModule('node:path')
const {fileURLToPath} = process.getBuiltinModule('node:url')
const {setFlagsFromString} = process.getBuiltinModule('node:v8')
const vm = process.getBuiltinModule('node:vm')

// A short-lived CLI allocates a few tens of MB while loading oclif, the catalog and the
// planner; a larger young generation spares it ~50 ms of scavenges (bench/launch).
setFlagsFromString('--max-semi-space-size=32')

const argv = process.argv.slice(2)
/** Commands that run for hours (a controller, the agent, the dashboard): their HTTP parsing is worth optimizing. */
const LONG_RUNNING = new Set(['controller', 'sweep-controller', 'serve-controller', 'agent', 'dashboard'])
// undici parses HTTP with llhttp, a WebAssembly module whose one large parsing function
// exhausts V8's tiering budget on the first response: TurboFan then compiles it on another
// thread (~100 ms of CPU), and Node waits for that compile before it exits. A command that
// makes a few calls and exits (the HEAD of an unchanged workdir, `check`) ran ~100 ms longer
// for it (bench/workdir). Liftoff's code, compiled at once, parses a few responses as fast.
if (!LONG_RUNNING.has(argv[0])) setFlagsFromString('--no-wasm-dynamic-tiering --no-wasm-tier-up')
/** Commands that always open the store (a prestarted connection another command left unused would only be dropped). */
const STATE_COMMANDS = new Set(['status', 'launch', 'logs', 'cancel', 'sweeps', 'cost'])
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`skyhop/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
} else {
  // oclif checks Node against its own engines range on import, loading all of semver (53
  // modules, ~15 ms) to do so; skyhop's own engines range (package.json, checked by npm at
  // install) is the stricter one.
  // Plugins run from their built JavaScript, never their TypeScript sources: a linked plugin
  // (`skyhop plugins link`, docs/providers/plugins.md) is built first, like an installed one.
  globalThis.oclif = {...globalThis.oclif, enableAutoTranspile: false}
  // A command that reads the shared state starts connecting to PostgreSQL on another thread
  // before the CLI loads (src/state/pg-connect.ts); its store takes the connection over.
  if (process.env.SKYHOP_DATABASE_URL && STATE_COMMANDS.has(argv[0]) && !argv.includes('--help')) {
    const {prestartPg} = await import('../dist/state/pg-connect.js')
    prestartPg(process.env.SKYHOP_DATABASE_URL, process.env.SKYHOP_DATABASE_TIMEOUT)
  }
  const ownCheck = process.env.OCLIF_DISABLE_ENGINE_WARNING === undefined
  if (ownCheck) process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
  const {main, COMMANDS} = loadBundle()
  if (ownCheck) delete process.env.OCLIF_DISABLE_ENGINE_WARNING
  // skyhop's own commands start without oclif's core plugins (src/cli/main.ts).
  await main({dir: import.meta.url, ids: Object.keys(COMMANDS)})
}

/**
 * The CLI is one CommonJS bundle (scripts/bundle.mjs) that oclif's explicit command discovery
 * also requires (package.json). It is compiled here with V8's code cache made by the build
 * (scripts/code-cache.mjs), which spares a start most of its compiling (a third of the time
 * between Node's start and the command's first line). A cache from another Node or another
 * bundle is rejected by V8, which then compiles as usual. The bundle is pure ASCII (the build
 * escapes the rest), so it is read as latin1: a one-byte string, without UTF-8 decoding. Registered in require's cache, so
 * oclif gets this module, not a second copy.
 */
function loadBundle() {
  const file = fileURLToPath(new URL('../dist/bundle/skyhop.cjs', import.meta.url))
  const cacheFile = file.replace(/\.cjs$/, '.v8-cache')
  let cachedData
  try {
    cachedData = readFileSync(cacheFile)
  } catch {
    cachedData = undefined
  }
  const script = new vm.Script(Module.wrap(readFileSync(file, 'latin1')), {
    filename: file,
    cachedData,
  })
  // See scripts/bundle.mjs: the bundle's dynamic imports go through this module's import().
  globalThis[Symbol.for('skyhop.import')] = (specifier) => import(specifier)
  const module = new Module(file)
  module.filename = file
  const require = createRequire(file)
  module.paths = require.resolve.paths('x') ?? []
  script.runInThisContext().call(module.exports, module.exports, require, module, file, dirname(file))
  module.loaded = true
  require.cache[file] = module
  // The build's warm-up run (scripts/code-cache.mjs) asks for the cache of what it compiled.
  if (process.env.SKYHOP_WRITE_CODE_CACHE === cacheFile) process.once('exit', () => writeCodeCache(cacheFile, script))
  return module.exports
}

function writeCodeCache(cacheFile, script) {
  writeFileSync(cacheFile, script.createCachedData())
}
