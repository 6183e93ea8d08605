// ESLint for skyhop: typescript-eslint's recommended rules, plus the layering of
// docs/development.md (the rooms and what each may import) as lint rules, so an import
// that crosses a room's wall fails `npm test`.
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
  'serve',
  'clouds',
  'catalog',
  'planner',
  'state',
  'job',
  'providers',
  'provider.ts',
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
  // The load balancer of `skyhop serve` is an HTTP server and proxy on the one HTTP stack
  // (undici); it knows replicas only as addresses, so the service controller above drives it.
  serve: [...FOUNDATION, 'http'],
  clouds: [...FOUNDATION, 'http'],
  catalog: [...FOUNDATION, 'http', 'clouds'],
  planner: FOUNDATION,
  state: FOUNDATION,
  job: FOUNDATION,
  providers: [...FOUNDATION, 'http', 'clouds', 'runner'],
  // skyhop/provider, the public entry of provider plugins: the provider room's kit and what it stands on.
  'provider.ts': [...FOUNDATION, 'http', 'clouds', 'runner', 'providers'],
  checkpoint: [...FOUNDATION, 'http', 'clouds'],
  controller: [...FOUNDATION, 'planner', 'providers', 'state', 'checkpoint', 'runner', 'serve'],
  // services and the simulator are one level: the simulator drives services, services may run the simulator.
  services: ROOMS.filter((room) => !['cli', 'commands'].includes(room)),
  simulator: ROOMS.filter((room) => !['cli', 'commands'].includes(room)),
  cli: ROOMS.filter((room) => room !== 'commands'),
  commands: ['cli', 'services', 'model', 'errors.ts'],
}

// The exceptions to MAY_IMPORT, each written once with its reason: [room, file of src it may import, why].
const EXCEPTIONS = [
  ['job', 'catalog/accelerators.ts', 'a job file names accelerators ("H100:8"); only the registry can resolve and check those names'],
  [
    'providers',
    'catalog/accelerators.ts',
    'a provider that lists live offers (local devices, Slurm partitions) names their accelerators through the registry',
  ],
]

// Packages some rooms may not import, each ban written once with its reason.
const PACKAGE_BANS = [
  {
    rooms: ['services', 'simulator', 'controller', 'planner', 'job', 'state', 'catalog', 'providers'],
    packages: ['@oclif/*', '@inquirer/prompts', 'ora'],
    why: 'only src/cli and src/commands talk to the terminal (oclif, inquirer, ora); the rooms below return data and emit events',
  },
  {
    rooms: ['planner'],
    packages: ['fs', 'fs/promises', 'child_process', 'net', 'http', 'https', 'dgram']
      .flatMap((m) => [m, `node:${m}`])
      .concat(['undici', 'better-sqlite3']),
    why: 'the planner is pure: no file system, processes, network (node I/O, undici) or database; its callers hand it what they read',
  },
]

const roomPath = (room) => `./src/${room}`
const roomGlob = (room) => (room.endsWith('.ts') ? roomPath(room) : `${roomPath(room)}/**`)

function layeringZones() {
  const zones = []
  for (const room of ROOMS) {
    const allowed = new Set([room, ...MAY_IMPORT[room]])
    for (const other of ROOMS.filter((r) => !allowed.has(r))) {
      const except = EXCEPTIONS.filter(([r, file]) => r === room && file.startsWith(`${other}/`)).map(([, file, why]) => ({file, why}))
      zones.push({
        target: roomGlob(room),
        from: roomPath(other),
        ...(except.length > 0 ? {except: except.map(({file}) => `./${file.slice(other.length + 1)}`)} : {}),
        message: `Layering: src/${room} may not import src/${other} (see docs/development.md and eslint.config.js).`,
      })
    }
  }
  return zones
}

// A pattern that matches the module names a ban lists, for the dynamic import() that no-restricted-imports does not see.
const importPattern = (packages) =>
  packages
    .map((p) => p.replace(/[/.]/g, '\\$&').replace(/\*$/, ''))
    .map((p) => (p.endsWith('/') ? `^${p}` : `^${p}$`))
    .join('|')

// One block per room, because ESLint does not merge one rule's options across blocks.
function packageRules(room) {
  const bans = PACKAGE_BANS.filter((ban) => ban.rooms.includes(room))
  if (bans.length === 0) return []
  const why = (ban) => `Not in src/${room}: ${ban.why}.`
  return [
    {
      files: [roomGlob(room).slice(2)],
      rules: {
        'no-restricted-imports': ['error', {patterns: bans.map((ban) => ({group: ban.packages, message: why(ban)}))}],
        // Heavy modules are imported lazily here (style.md, 8), so import() is checked too.
        'no-restricted-syntax': [
          'error',
          ...bans.map((ban) => ({selector: `ImportExpression[source.value=/${importPattern(ban.packages)}/]`, message: why(ban)})),
        ],
      },
    },
  ]
}

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'plugins/*/dist/**',
      'node_modules/**',
      'bench/results/**',
      'bench/tmp/**',
      '.skyhop-test/**',
      'oclif.manifest.json',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {ecmaVersion: 2023, sourceType: 'module', globals: {...globals.node}},
    linterOptions: {reportUnusedDisableDirectives: 'error'},
    rules: {
      // An underscore marks a parameter kept for a signature (an interface, a callback's position).
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none'}],
      // Prettier keeps code within 140 columns but leaves comments and strings alone; this holds the comments.
      'max-len': ['error', {code: 140, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true}],
      // `catch {}` is the codebase's idiom for best-effort cleanup (kill a process that may be gone, remove a temp dir).
      'no-empty': ['error', {allowEmptyCatch: true}],
    },
  },
  {
    // The dashboard's page script (shipped as is, not built): it runs in a browser, as a classic script.
    files: ['assets/dashboard/**/*.js'],
    languageOptions: {sourceType: 'script', globals: {...globals.browser}},
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      // stdout carries results and stderr progress, both through src/cli (style.md, 4): no stray console in the product.
      'no-console': 'error',
    },
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: {globals: {...globals.mocha}},
    // The tests' `eslint-disable no-console` lines mark output kept on purpose; no-console is held only in src.
    linterOptions: {reportUnusedDisableDirectives: 'off'},
    rules: {
      // Tests read untyped JSON (the CLI's --json output, request bodies in the fake servers) and poke at it.
      '@typescript-eslint/no-explicit-any': 'off',
      // chai's property assertions (`expect(x).to.exist`, `.to.be.true`) are expressions by design.
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: {'import-x': importX},
    settings: {
      // The sources import './x.js' for './x.ts' (NodeNext); the resolver maps one to the other.
      'import-x/resolver-next': [
        createNodeResolver({extensions: ['.ts', '.js', '.mjs', '.json'], extensionAlias: {'.js': ['.ts', '.js']}}),
      ],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', {basePath: root, zones: layeringZones()}],
    },
  },
  ...ROOMS.flatMap(packageRules),
)
