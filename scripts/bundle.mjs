// Bundles the built CLI (dist/commands/index.js: every command, oclif and all they import)
// into dist/bundle/skyhop.js, which bin/run.js imports and oclif's explicit command
// discovery reads COMMANDS from. Node then compiles one module instead of resolving and
// loading ~400 separate files (oclif alone is ~160 CommonJS modules, ~130 ms of a start
// here). Modules skyhop imports lazily are in the same file, still evaluated only when first
// imported: reading a chunk per lazy import costs a launch more (one file read and compile
// each, ~10 of them) than compiling them up front, which V8 does lazily anyway.
//
// The bundle lives two folders below the package root, like every file of dist/, so the
// paths the code builds from import.meta.url (../../data, ../../schemas, ../runner,
// ./replay-worker.js) point where they do unbundled. Run after tsc: node scripts/bundle.mjs
import {build} from 'esbuild'
import {rmSync} from 'node:fs'
import {join} from 'node:path'

const root = join(import.meta.dirname, '..')
const outdir = join(root, 'dist', 'bundle')
rmSync(outdir, {recursive: true, force: true})

await build({
  entryPoints: [
    {in: join(root, 'dist/commands/index.js'), out: 'skyhop'},
    // Started as a worker thread by src/simulator/run.ts from beside the module that runs it.
    {in: join(root, 'dist/simulator/replay-worker.js'), out: 'replay-worker'},
  ],
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Left to Node, loaded from node_modules only when used: a native addon; oclif's plugins
  // (help, autocomplete, plugins); undici (src/http); the terminal's prompts and spinner, only
  // for a person at a terminal; TypeScript/ts-node, which oclif requires only to run a plugin
  // from its sources.
  external: ['better-sqlite3', '@oclif/plugin-*', 'undici', '@inquirer/prompts', 'ora', 'typescript', 'ts-node'],
  // CommonJS inside an ESM bundle (oclif, yaml's CJS dependants) still calls require().
  banner: {js: "import {createRequire as __skyhopRequire} from 'node:module'; const require = __skyhopRequire(import.meta.url);"},
  // Error classes are told apart by name in messages and tests.
  keepNames: true,
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
})
