// The connection bin/run.js starts before the CLI loads (src/state/pg-connect.ts): the store
// takes it over when it is to the same database with the same deadline, and otherwise ends
// it and connects as before. Needs the server of scripts/postgres-up.sh (or
// SKYHOP_TEST_DATABASE_URL): skips without it, fails under CI.
import {expect} from 'chai'
import {tmpdir} from 'node:os'
import {Worker} from 'node:worker_threads'

import {UsageError} from '../../../src/errors.js'
import {MIGRATIONS} from '../../../src/state/migrations.js'
import {PgDb} from '../../../src/state/pg-bridge.js'
import {DEFAULT_DATABASE_TIMEOUT_MS, type PgWorker, prestartPg, takePrestarted} from '../../../src/state/pg-connect.js'
import {Store} from '../../../src/state/store.js'
import {reachPostgres, scratchDatabase, skipOrFail, testDatabaseUrl} from '../../helpers/engines.js'

const HELD = Symbol.for('skyhop.pg-prestarted')
const held = (): PgWorker | undefined => (globalThis as {[HELD]?: PgWorker})[HELD]

describe('a PostgreSQL connection started before the CLI loads', function () {
  this.timeout(60_000)
  let admin: PgDb | undefined

  before(function () {
    const reached = reachPostgres()
    if ('why' in reached) skipOrFail(this, reached.why)
    admin = reached.db
  })
  after(() => {
    takePrestarted('', 0)
    admin?.close()
  })

  it('is taken over by the store that connects to the same database with the same deadline, once', () => {
    const url = testDatabaseUrl()
    prestartPg(url, undefined)
    const started = held()!
    expect(started.timeoutMs).to.equal(DEFAULT_DATABASE_TIMEOUT_MS)
    const db = PgDb.connect(url)
    expect(held(), 'taken').to.equal(undefined)
    expect(db.prepare('SELECT 41 + 1 AS n').pluck().get()).to.equal(42)
    // The next connection is one of its own.
    const other = PgDb.connect(url)
    expect(other.prepare('SELECT 1 AS n').pluck().get()).to.equal(1)
    other.close()
    db.close()
  })

  it('is ended, not used, when the store connects elsewhere or with another deadline', async () => {
    const url = testDatabaseUrl()
    prestartPg(url, '7')
    const started = held()!
    expect(started.timeoutMs).to.equal(7000)
    const ended = new Promise<number>((resolve) => started.worker.once('exit', resolve))
    const db = PgDb.connect(url, {timeoutMs: 5000})
    expect(held()).to.equal(undefined)
    expect(db.prepare('SELECT 1 AS n').pluck().get()).to.equal(1)
    // Its thread (and with it its connection) ends; the store's own goes on.
    await ended
    expect(db.prepare('SELECT 2 AS n').pluck().get()).to.equal(2)
    db.close()
  })

  it('takes a late wake-up from an earlier answer for nothing: each statement waits for its own answer', async () => {
    const db = PgDb.connect(testDatabaseUrl())
    // Wake-ups with no answer behind them, as a worker notifying late sends: without the
    // flag checked after each, a statement would end in STATE_TIMEOUT at once.
    const flag = (db as unknown as {flag: Int32Array}).flag
    const stop = new Int32Array(new SharedArrayBuffer(4))
    const waker = new Worker(
      `const {workerData} = require('node:worker_threads')
       const flag = new Int32Array(workerData.flag), stop = new Int32Array(workerData.stop)
       while (Atomics.load(stop, 0) === 0) Atomics.notify(flag, 0)`,
      {eval: true, workerData: {flag: flag.buffer, stop: stop.buffer}},
    )
    try {
      for (let i = 0; i < 300; i++) expect(db.prepare('SELECT pg_sleep(0.0005), ? :: int AS n').get(i)).to.include({n: i})
    } finally {
      Atomics.store(stop, 0, 1)
      await new Promise((resolve) => waker.once('exit', resolve))
      db.close()
    }
  })

  it("reads the database's migrations with the login, for the store's first read, once; null where there is no table yet", () => {
    const database = scratchDatabase(admin!)
    try {
      const fresh = PgDb.connect(database.url)
      expect(fresh.takeSchemaVersions(), 'no schema_migrations yet').to.equal(null)
      fresh.close()
      Store.open(tmpdir(), {databaseUrl: database.url}).close()
      prestartPg(database.url, undefined)
      const db = PgDb.connect(database.url)
      expect(db.takeSchemaVersions()).to.have.members(MIGRATIONS.map((m) => m.version))
      expect(db.takeSchemaVersions(), 'taken once').to.equal(undefined)
      db.close()
      // A newer skyhop's migration, seen in that read: the store still refuses the database.
      const writer = PgDb.connect(database.url)
      writer.exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'newer', '2026-01-01T00:00:00Z')`)
      writer.close()
      prestartPg(database.url, undefined)
      expect(() => Store.open(tmpdir(), {databaseUrl: database.url}))
        .to.throw(UsageError, /newer skyhop \(schema 999/)
        .with.property('code', 'STATE_TOO_NEW')
    } finally {
      database.drop()
    }
  })

  it('is not started for what the store will refuse, which it still reports as before', () => {
    prestartPg('mysql://u:p@127.0.0.1/x', undefined)
    prestartPg('not a url', undefined)
    prestartPg(testDatabaseUrl(), 'soon')
    prestartPg(testDatabaseUrl(), '-1')
    expect(held()).to.equal(undefined)
    expect(() => PgDb.connect('mysql://u:p@127.0.0.1/x'))
      .to.throw(UsageError, /must be a postgres:\/\/ URL/)
      .with.property('code', 'STATE_URL_INVALID')
  })

  it("reports a refused login through the prestarted connection as the store's own error, without the password", () => {
    const u = new URL(testDatabaseUrl())
    u.password = 'wrong-Secret-123'
    prestartPg(u.toString(), undefined)
    let error: unknown
    try {
      PgDb.connect(u.toString())
    } catch (e) {
      error = e
    }
    expect(held()).to.equal(undefined)
    expect(error).to.be.instanceOf(UsageError)
    expect((error as UsageError).code).to.equal('STATE_AUTH_FAILED')
    expect(String((error as Error).message)).not.to.include('wrong-Secret-123')
  })
})
