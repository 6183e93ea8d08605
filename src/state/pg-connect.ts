// The connection's thread of the PostgreSQL bridge (pg-bridge.ts): the worker that owns the
// `pg` Client, started with its 'connect' already posted. Kept apart from the bridge, with
// nothing but Node's own modules, so that bin/run.js can start it before the CLI bundle
// loads: a command that reads the shared state (`status`, `launch`…) then has its
// connection's thread, the pg driver and the login (~100 ms) done on the other core while
// this one loads the CLI, and PgDb.connect takes the connection over (takePrestarted).
import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import {fileURLToPath} from 'node:url'
import {MessageChannel, type MessagePort, Worker} from 'node:worker_threads'

const require = createRequire(import.meta.url)

/**
 * `pg` bundled into one file (scripts/bundle.mjs) with its V8 code cache beside it
 * (scripts/code-cache.mjs). From node_modules the worker resolved and compiled pg's ~40
 * files at every start. dist/state/ and dist/bundle/ (this module inside the CLI's bundle)
 * both find it at ../bundle/; run from the sources (tsx) there is none, and pg loads from
 * node_modules.
 */
const PG_BUNDLE = fileURLToPath(new URL('../bundle/pg.cjs', import.meta.url))

/**
 * Which migrations the database has: the store's first read (Store.migrate), made by the
 * connection's thread right after the login, so that it is done before the CLI has loaded.
 */
export const SCHEMA_VERSIONS_SQL = 'SELECT version FROM schema_migrations'

/** How long one statement (or the connection) may take before the store gives up. */
export const DEFAULT_DATABASE_TIMEOUT_MS = 30_000

// Plain JavaScript evaluated in the worker (eval: the same text runs from the sources under
// tsx, from dist/ and from the bundle). int8 (COUNT, BIGINT columns, BIGSERIAL) and numeric
// come back as numbers and booleans as 1/0, as better-sqlite3 gives them.
// The phases of one statement in the worker (flag[1]), for a message that says where it stuck.
export const PHASE_RECEIVED = 1
export const PHASE_AT_SERVER = 2
export const PHASE_REPLIED = 3

const WORKER = `
const {workerData} = require('node:worker_threads')
let pg
let pgScript = null
let unloadable = null
// The bundle is compiled with its code cache, as bin/run.js compiles the CLI's (a cache V8
// rejects, from another Node, is compiled as usual); it is pure ASCII, read as latin1.
const loadBundle = (file) => {
  const fs = require('node:fs')
  const vm = require('node:vm')
  const {Module, createRequire} = require('node:module')
  let cachedData
  try {
    cachedData = fs.readFileSync(file.replace(/\\.cjs$/, '.v8-cache'))
  } catch {}
  const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'latin1')), {filename: file, cachedData})
  pgScript = script
  const module = {exports: {}}
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, require('node:path').dirname(file))
  return module.exports
}
try {
  pg = workerData.pgBundle ? loadBundle(workerData.pgBundle) : require(workerData.pgPath)
  pg.types.setTypeParser(20, (v) => Number(v))
  pg.types.setTypeParser(1700, (v) => Number(v))
  pg.types.setTypeParser(16, (v) => (v === 't' ? 1 : 0))
} catch (e) {
  unloadable = e
}
const flag = new Int32Array(workerData.shared)
const port = workerData.port
let client
let broken = null
let pending = false
// flag[1]: where the current statement is (PHASE_*), flag[2]: when it got there (ms since
// the worker started), read by the main thread when an answer is late.
const started = Date.now()
const phase = (p) => {
  Atomics.store(flag, 2, Date.now() - started)
  Atomics.store(flag, 1, p)
}
const reply = (message) => {
  pending = false
  phase(${PHASE_REPLIED})
  port.postMessage(message)
  Atomics.store(flag, 0, 1)
  Atomics.notify(flag, 0)
}
const failure = (e) => ({error: {message: String(e && e.message || e), code: e && e.code, severity: e && e.severity}})
// A throw outside the handler (the driver's socket) must not leave the main thread waiting.
process.on('uncaughtException', (e) => {
  broken = broken || e
  if (pending) reply(failure(e))
})
port.on('message', async (m) => {
  pending = true
  phase(${PHASE_RECEIVED})
  try {
    if (m.op === 'connect') {
      if (unloadable) throw Object.assign(new Error('cannot load the pg driver: ' + unloadable.message), {code: 'PG_UNLOADABLE'})
      // The server cancels a statement past the deadline (a lock wait included) and the
      // connection goes on; the driver's own timer, a second later, is for a server that is gone.
      client = new pg.Client({connectionString: m.url, connectionTimeoutMillis: m.timeoutMs, application_name: 'skyhop', statement_timeout: m.timeoutMs, query_timeout: m.timeoutMs + 1000})
      client.on('error', (e) => { broken = e })
      try {
        await client.connect()
      } finally {
        // The build's warm-up (scripts/code-cache.mjs) asks for the cache of what loading pg
        // and connecting compiled, made here because V8 takes a cache only under the flags
        // it was made with, which bin/run.js sets.
        if (workerData.writeCodeCache && pgScript) require('node:fs').writeFileSync(workerData.writeCodeCache, pgScript.createCachedData())
      }
      // The store's first read, asked for with the connection (SCHEMA_VERSIONS_SQL). A
      // failure (no table yet) is the store's to handle as when it reads: null, and it
      // takes its locked path.
      let versions
      if (m.prefetchVersions) {
        try {
          versions = (await client.query(m.prefetchVersions)).rows.map((r) => r.version)
        } catch {
          versions = null
        }
      }
      reply({rows: [], rowCount: 0, versions})
    } else if (m.op === 'query') {
      if (broken) throw broken
      let r
      phase(${PHASE_AT_SERVER})
      try {
        r = await client.query(m.values === undefined ? m.text : {text: m.text, values: m.values, name: m.name})
      } catch (e) {
        // Another process altered a table this connection prepared a statement on (a
        // migration): outside a transaction, the statement runs again unprepared.
        if (!(m.name && m.retryUnprepared && e && e.code === '0A000')) throw e
        r = await client.query({text: m.text, values: m.values})
      }
      const last = Array.isArray(r) ? r[r.length - 1] : r
      reply({rows: last ? last.rows : [], rowCount: last ? last.rowCount || 0 : 0})
    } else if (m.op === 'end') {
      // end() writes the Terminate message to the socket before it returns (a socket with
      // nothing queued writes at once); waiting for the server to close its side kept every
      // command a round trip longer, and the main thread ends this thread next anyway.
      if (client) client.end().catch(() => {})
      reply({rows: [], rowCount: 0})
    }
  } catch (e) {
    reply(failure(e))
  }
})
`

/** A connection's thread with its 'connect' posted at `sent` and not yet answered. */
export interface PgWorker {
  readonly url: string
  readonly timeoutMs: number
  readonly worker: Worker
  readonly port: MessagePort
  /** flag[0]: answered; flag[1]: the phase; flag[2]: when (see WORKER). */
  readonly flag: Int32Array
  readonly sent: number
}

/** Where the worker loads pg from: the bundle when the build made it, else node_modules. */
export function pgSource(): {pgBundle: string; writeCodeCache?: string} | {pgPath: string} {
  if (!existsSync(PG_BUNDLE)) return {pgPath: require.resolve('pg')}
  const cache = PG_BUNDLE.replace(/\.cjs$/, '.v8-cache')
  return {pgBundle: PG_BUNDLE, writeCodeCache: process.env.SKYHOP_WRITE_CODE_CACHE === cache ? cache : undefined}
}

export function startPgWorker(url: string, timeoutMs: number): PgWorker {
  const shared = new SharedArrayBuffer(12)
  const {port1, port2} = new MessageChannel()
  const worker = new Worker(WORKER, {
    eval: true,
    // Not the parent's flags: `--input-type=module` would make this CommonJS text an ES
    // module (no require) and `--import tsx` would load a loader for nothing.
    execArgv: [],
    workerData: {...pgSource(), shared, port: port2},
    transferList: [port2],
  })
  // The connection never keeps a command alive by itself.
  worker.unref()
  port1.unref()
  const sent = Date.now()
  port1.postMessage({op: 'connect', url, timeoutMs, prefetchVersions: SCHEMA_VERSIONS_SQL})
  return {url, timeoutMs, worker, port: port1, flag: new Int32Array(shared), sent}
}

const PRESTARTED = Symbol.for('skyhop.pg-prestarted')
type Holder = {[PRESTARTED]?: PgWorker}

/**
 * Starts connecting now, for the store the command opens later (bin/run.js, when
 * SKYHOP_DATABASE_URL is set). Nothing is started for a URL or SKYHOP_DATABASE_TIMEOUT that
 * is not valid: the store reports those when it connects.
 */
export function prestartPg(url: string, rawTimeout: string | undefined): void {
  try {
    if (!['postgres:', 'postgresql:'].includes(new URL(url).protocol)) return
  } catch {
    return
  }
  let timeoutMs = DEFAULT_DATABASE_TIMEOUT_MS
  if (rawTimeout !== undefined && rawTimeout !== '') {
    const seconds = Number(rawTimeout)
    if (!Number.isFinite(seconds) || seconds <= 0) return
    timeoutMs = seconds * 1000
  }
  ;(globalThis as Holder)[PRESTARTED] = startPgWorker(url, timeoutMs)
}

/** The prestarted connection when it is to this URL with this timeout (once); another is ended. */
export function takePrestarted(url: string, timeoutMs: number): PgWorker | null {
  const holder = globalThis as Holder
  const started = holder[PRESTARTED]
  if (started === undefined) return null
  delete holder[PRESTARTED]
  if (started.url === url && started.timeoutMs === timeoutMs) return started
  void started.worker.terminate()
  started.port.close()
  return null
}
