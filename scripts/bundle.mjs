// Bundles the built CLI (dist/commands/index.js: every command, oclif and all they import)
// into one CommonJS file, dist/bundle/skyhop.cjs, which bin/run.js compiles with V8's code
// cache (scripts/code-cache.mjs) and oclif's explicit command discovery reads COMMANDS from.
// Node then compiles one file instead of resolving and loading ~400 (oclif alone is ~160
// CommonJS modules, ~130 ms of a start here). Modules skyhop imports lazily are in the same
// file, still evaluated only when first imported: reading a chunk per lazy import costs a
// launch more (one file read and compile each, ~10 of them) than having them compiled.
// CommonJS because Node 20 has a code cache for scripts only, not for ES modules.
//
// The bundle lives two folders below the package root, like every file of dist/, so the
// paths the code builds from import.meta.url (../../data, ../../schemas, ../runner,
// ./replay-worker.js) point where they do unbundled. Run after tsc: node scripts/bundle.mjs
import {build} from 'esbuild'
import {readFile} from 'node:fs/promises'
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

const root = join(import.meta.dirname, '..')
const outdir = join(root, 'dist', 'bundle')
rmSync(outdir, {recursive: true, force: true})

const common = {
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Left to Node, loaded from node_modules only when used: oclif's plugins
  // (help, autocomplete, plugins); the terminal's prompts and spinner, only for a person at a
  // terminal; TypeScript/ts-node, which oclif requires only to run a plugin from its sources.
  // undici is bundled: a CommonJS package that src/http imports dynamically, so it is one of
  // the bundle's lazily evaluated modules. From node_modules it was ~100 files to resolve and
  // compile on the first call of a command (a workdir's HEAD, `check`).
  // better-sqlite3 is bundled but for its native addon (see sqliteAddon below).
  external: ['@oclif/plugin-*', '@inquirer/prompts', 'ora', 'typescript', 'ts-node'],
  // Error classes are told apart by name in messages and tests.
  keepNames: true,
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
}

// Node 20 loses a script's dynamic-import callback on functions compiled from a code cache
// ("A dynamic import callback was not specified"), so the bundle does not call import()
// itself for what it leaves to Node (undici, the prompts, oclif's ES module plugins): it calls
// the function bin/run.js hands it, which imports from outside the script. Relative
// imports of skyhop's own modules are left alone: esbuild bundles them, and so is wsl-utils
// (an ES module without top-level await that oclif imports on every start to name the
// platform: through Node's ES module loader it cost ~15 ms of resolving and compiling).
const IMPORT_CALL = /(?<![\w$.'"`])import\((?!\s*['"](?:\.|wsl-utils['"]|undici['"]))/g
// The bundle is pure ASCII so that bin/run.js reads it as latin1: a one-byte string, read in
// half the time of UTF-8 decoding, which with any non-ASCII byte also makes a two-byte string
// of 2 MB that V8 then hashes and keeps. esbuild escapes strings and identifiers itself but
// leaves regular expression literals as written (`[$¥￥]`, `[®™]`, an ANSI pattern's U+009B),
// so each input file's non-ASCII code units are escaped as it is read (its source map then
// maps to the escaped text, column for column). `\uXXXX` means the same code unit in a
// regular expression, a string, a cooked template, an identifier and a comment; only a raw
// template (String.raw) would read it differently, and such a file stops the build.
const NON_ASCII = /[\u0080-\uffff]/
const RAW_TEMPLATE_NON_ASCII = /String\.raw\s*`[^`]*[\u0080-\uffff]/
function escapeNonAscii(source, path) {
  if (RAW_TEMPLATE_NON_ASCII.test(source))
    throw new Error(`bundle: ${path} has a non-ASCII character in a String.raw template; it cannot be escaped`)
  return source.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

const importThroughHost = {
  name: 'import-through-host',
  setup(build) {
    build.onLoad({filter: /\.[cm]?js$/}, async (args) => {
      const source = await readFile(args.path, 'utf8')
      let contents = source
      if (contents.search(IMPORT_CALL) >= 0) contents = contents.replace(IMPORT_CALL, '__skyhopImport(')
      if (NON_ASCII.test(contents)) contents = escapeNonAscii(contents, args.path)
      return contents === source ? undefined : {contents, loader: 'js'}
    })
  },
}

// better-sqlite3's JavaScript is bundled: from node_modules, resolving and compiling its ten
// files (and `bindings`, which finds the addon by trying paths with require) took ~10 ms of
// every command that opens the SQLite store, `launch` among them. Only its native addon is
// loaded from node_modules, found where `bindings` would find it: bindings searches from
// the calling file's package, which in the bundle would be skyhop, so the module stands in
// for it. It loads build/Release/better_sqlite3.node (where prebuild-install and node-gyp put
// it) when neither of the two places bindings tries first holds one, else asks bindings
// itself, rooted at better-sqlite3, for the whole search.
const SQLITE_BINDINGS = `
const {existsSync} = require('node:fs')
const {dirname, join} = require('node:path')
const {createRequire} = require('node:module')
module.exports = function bindings(name) {
  const pkg = require.resolve('better-sqlite3/package.json')
  const root = dirname(pkg)
  const release = join(root, 'build', 'Release', name)
  if (!existsSync(join(root, 'build', name)) && !existsSync(join(root, 'build', 'Debug', name)) && existsSync(release)) return require(release)
  return createRequire(pkg)('bindings')({bindings: name, module_root: root})
}
`
const sqliteAddon = {
  name: 'sqlite-addon',
  setup(build) {
    build.onResolve({filter: /^bindings$/}, (args) =>
      /[\\/]better-sqlite3[\\/]/.test(args.importer) ? {path: 'better-sqlite3-bindings', namespace: 'sqlite-addon'} : undefined,
    )
    build.onLoad({filter: /.*/, namespace: 'sqlite-addon'}, () => ({contents: SQLITE_BINDINGS, loader: 'js'}))
  },
}

// The entry: the commands by id (src/commands/index.ts) and the precompiled schema
// validators (scripts/compile-schemas.mjs), so that they too are compiled from the code cache.
// Each command's module is required by a getter of COMMANDS, not imported: esbuild then
// wraps it (and what only it reaches) in a lazy initializer, so a start evaluates the graph
// of the one command it runs, not of all thirty (serve's balancer with http and a worker, the
// simulator, the dashboard...). oclif reads COMMANDS[id] of the command it runs only; it
// reads them all (Object.entries) without a manifest, which still works, as slowly as before.
// The ids and files are read from the compiled index.js, the one list (a unit test checks
// it against the folder); a shape this reader does not understand stops the build.
const commandsIndex = readFileSync(join(root, 'dist', 'commands', 'index.js'), 'utf8')
const commandFiles = new Map([...commandsIndex.matchAll(/^import (\w+) from '(\.\/[\w/.-]+\.js)';$/gm)].map((m) => [m[1], m[2]]))
const commandsBlock = /^export const COMMANDS = \{\n([^}]*)\};$/m.exec(commandsIndex)
if (!commandsBlock) throw new Error('bundle: no `export const COMMANDS = {...}` in dist/commands/index.js')
const commandEntries = commandsBlock[1]
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => {
    const m = /^\s*(?:(\w+)|'([\w:-]+)'): (\w+),$/.exec(line)
    const file = m && commandFiles.get(m[3])
    if (!file) throw new Error(`bundle: cannot read the COMMANDS entry \`${line.trim()}\` of dist/commands/index.js`)
    return [m[1] ?? m[2], `./dist/commands/${file.slice(2)}`]
  })
if (commandEntries.length !== commandFiles.size)
  throw new Error('bundle: dist/commands/index.js imports a command that COMMANDS does not list')
const SCHEMAS = ['job', 'config', 'catalog'].filter((name) => existsSync(join(root, 'dist', 'generated', `${name}.schema.cjs`)))
const entry = [
  "export {execute} from '@oclif/core'",
  "export {main} from './dist/cli/main.js'",
  'export const COMMANDS = Object.defineProperties({}, {',
  ...commandEntries.map(
    ([id, file]) => `  ${JSON.stringify(id)}: {enumerable: true, get: () => require(${JSON.stringify(file)}).default},`,
  ),
  '})',
  "import {registerPrecompiled} from './dist/util/schemas.js'",
  ...SCHEMAS.map((name) => `import ${name} from './dist/generated/${name}.schema.cjs'`),
  `registerPrecompiled({${SCHEMAS.map((name) => `'${name}.schema.json': ${name}`).join(', ')}})`,
].join('\n')

await build({
  ...common,
  stdin: {contents: entry, resolveDir: root, sourcefile: 'skyhop-entry.js', loader: 'js'},
  outfile: join(outdir, 'skyhop.cjs'),
  outdir: undefined,
  plugins: [importThroughHost, sqliteAddon],
  // Resolved at run time by sqliteAddon's stand-in for bindings, never bundled.
  external: [...common.external, 'better-sqlite3/package.json'],
  format: 'cjs',
  // The ES module code finds its files from import.meta.url; in CommonJS that is __filename.
  define: {'import.meta.url': '__skyhopModuleUrl'},
  // Without bin/run.js (oclif's own tools require the bundle directly) import() works as is.
  banner: {
    js: "const __skyhopModuleUrl = require('node:url').pathToFileURL(__filename).href; const __skyhopImport = globalThis[Symbol.for('skyhop.import')] ?? ((specifier) => import(specifier));",
  },
})

// The pg driver for the PostgreSQL connection's worker thread (src/state/pg-connect.ts),
// which compiles it with its own code cache (scripts/code-cache.mjs): from node_modules it
// was ~40 files to resolve and compile at every start of a command on PostgreSQL. Two of
// pg's requires are left to Node and never reached here: pg-native (only for pg.native)
// and pg-cloudflare (only in a Cloudflare Worker). pg tells a Cloudflare Worker apart by
// `navigator` or, failing that, by constructing a `Response`, which on Node 20 (no
// navigator) loads all of Node's internal undici in the worker (~15 ms of a start); neither
// global is anything pg uses on Node, so in this file both are undefined.
await build({
  ...common,
  stdin: {contents: "module.exports = require('pg')", resolveDir: root, sourcefile: 'pg-entry.cjs', loader: 'js'},
  outfile: join(outdir, 'pg.cjs'),
  outdir: undefined,
  plugins: [importThroughHost],
  format: 'cjs',
  external: ['pg-native', 'pg-cloudflare'],
  define: {navigator: 'undefined', Response: 'undefined'},
})

// Started as a worker thread by src/serve/balancer-thread.ts (the service controller's load
// balancer) from beside the module that runs it.
await build({
  ...common,
  entryPoints: [{in: join(root, 'dist/serve/balancer-worker.js'), out: 'balancer-worker'}],
  format: 'esm',
  banner: {js: "import {createRequire as __skyhopRequire} from 'node:module'; const require = __skyhopRequire(import.meta.url);"},
})

// Started as a worker thread by src/simulator/run.ts from beside the module that runs it.
await build({
  ...common,
  entryPoints: [{in: join(root, 'dist/simulator/replay-worker.js'), out: 'replay-worker'}],
  format: 'esm',
  // Any CommonJS it reaches still calls require().
  banner: {js: "import {createRequire as __skyhopRequire} from 'node:module'; const require = __skyhopRequire(import.meta.url);"},
})
