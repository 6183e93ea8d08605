// ESLint for skyhop: typescript-eslint's recommended rules, plus the layering of
// ../shared/design/architecture.md as lint rules, so an import that crosses a room's wall fails `npm test`.
// Formatting is Prettier's job (.prettierrc.json); nothing here argues about layout.
import js from '@eslint/js'
import {createNodeResolver, importX} from 'eslint-plugin-import-x'
import globals from 'globals'
import tseslint from 'typescript-eslint'

const root = import.meta.dirname

// The rooms of src, bottom to top. A room is a folder (or one file) of src.
const FOUNDATION = ['model', 'errors.ts', 'util', 'config.ts']
const ROOMS = [
  ...FOUNDATION,
  'runner',
  'http',
  'clouds',
  'catalog',
  'planner',
  'state',
  'job',
  'providers',
  'checkpoint',
  'controller',
  'services',
  'simulator',
  'cli',
  'commands',
]

// What each room may import besides itself. Everything else of src is forbidden to it.
const MAY_IMPORT = {
  model: [],
  'errors.ts': FOUNDATION,
  util: FOUNDATION,
  'config.ts': FOUNDATION,
  runner: [],
  http: FOUNDATION,
  clouds: [...FOUNDATION, 'http'],
  catalog: [...FOUNDATION, 'http', 'clouds'],
  planner: FOUNDATION,
  state: FOUNDATION,
  job: FOUNDATION,
  providers: [...FOUNDATION, 'http', 'clouds', 'runner'],
  checkpoint: [...FOUNDATION, 'http', 'clouds'],
  controller: [...FOUNDATION, 'planner', 'providers', 'state', 'checkpoint', 'runner'],
  // services and the simulator are one level: the simulator drives services, services may run the simulator.
  services: ROOMS.filter(room => !['cli', 'commands'].includes(room)),
  simulator: ROOMS.filter(room => !['cli', 'commands'].includes(room)),
  cli: ROOMS.filter(room => room !== 'commands'),
  commands: ['cli', 'services', 'model', 'errors.ts'],
}

// The exceptions to MAY_IMPORT, each written once with its reason: [room, file of src it may import, why].
const EXCEPTIONS = [
  ['job', 'catalog/accelerators.ts', 'a job file names accelerators ("H100:8"); only the registry can resolve and check those names'],
  ['providers', 'catalog/accelerators.ts', "a provider that lists live offers (local devices, Slurm partitions) names their accelerators through the registry"],
]

// Only the terminal rooms (cli, commands) may talk to the terminal.
const TERMINAL_PACKAGES = ['@oclif/*', '@inquirer/prompts', 'ora']
const NO_TERMINAL = ['services', 'simulator', 'controller', 'planner', 'job', 'state', 'catalog', 'providers']
// The planner is pure: no file system, processes, network or database.
const IO_MODULES = ['fs', 'fs/promises', 'child_process', 'net', 'http', 'https', 'dgram', 'undici', 'better-sqlite3']
const PURE = ['planner']

const roomPath = room => `./src/${room}`
const roomGlob = room => (room.endsWith('.ts') ? roomPath(room) : `${roomPath(room)}/**`)

function layeringZones() {
  const zones = []
  for (const room of ROOMS) {
    const allowed = new Set([room, ...MAY_IMPORT[room]])
    for (const other of ROOMS.filter(r => !allowed.has(r))) {
      const except = EXCEPTIONS.filter(([r, file]) => r === room && file.startsWith(`${other}/`)).map(([, file, why]) => ({file, why}))
      zones.push({
        target: roomGlob(room),
        from: roomPath(other),
        ...(except.length > 0 ? {except: except.map(({file}) => `./${file.slice(other.length + 1)}`)} : {}),
        message: `Layering: src/${room} may not import src/${other} (see ../shared/design/architecture.md and eslint.config.js).`,
      })
    }
  }
  return zones
}

// One block per room, because ESLint does not merge the options of one rule across blocks.
function packageRules(room) {
  const packages = [...(NO_TERMINAL.includes(room) ? TERMINAL_PACKAGES : []), ...(PURE.includes(room) ? IO_MODULES.flatMap(m => [m, `node:${m}`]) : [])]
  if (packages.length === 0) return []
  const why = `src/${room} may not import ${NO_TERMINAL.includes(room) ? 'oclif, inquirer or ora (only src/cli and src/commands talk to the terminal)' : ''}${
    PURE.includes(room) ? `${NO_TERMINAL.includes(room) ? '; nor ' : ''}node I/O, undici or better-sqlite3 (the planner is pure)` : ''
  }`
  const dynamic = packages.map(p => p.replace('/*', '/').replace(/[/.]/g, '\\$&')).map(p => (p.endsWith('/') ? `^${p}` : `^${p}$`))
  return [
    {
      files: [roomGlob(room).slice(2)],
      rules: {
        'no-restricted-imports': ['error', {patterns: [{group: packages, message: why}]}],
        // no-restricted-imports does not see import(): heavy modules are imported lazily here, so check those too.
        'no-restricted-syntax': ['error', {selector: `ImportExpression[source.value=/${dynamic.join('|')}/]`, message: why}],
      },
    },
  ]
}

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'bench/tmp/**', '.skyhop-test/**', 'oclif.manifest.json']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {ecmaVersion: 2023, sourceType: 'module', globals: {...globals.node}},
    linterOptions: {reportUnusedDisableDirectives: 'error'},
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none'}],
    },
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: {globals: {...globals.mocha}},
  },
  {
    files: ['src/**/*.ts'],
    plugins: {'import-x': importX},
    settings: {
      // The sources import './x.js' for './x.ts' (NodeNext); the resolver maps one to the other.
      'import-x/resolver-next': [createNodeResolver({extensions: ['.ts', '.js', '.mjs', '.json'], extensionAlias: {'.js': ['.ts', '.js']}})],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', {basePath: root, zones: layeringZones()}],
    },
  },
  ...ROOMS.flatMap(packageRules),
)
