// The built CLI with its state in PostgreSQL (SKYHOP_DATABASE_URL or the config's
// database_url): launch, status and cancel on the local provider from two homes sharing one
// database (two machines of a team), and each way the database can be wrong — refused,
// bad password, unknown database, a server that never answers — with its code, its exit
// code and never the password. Needs the server of scripts/postgres-up.sh (or
// SKYHOP_TEST_DATABASE_URL): skips without it, fails under CI.
import {expect} from 'chai'
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {UsageError} from '../../src/errors.js'
import {PgDb} from '../../src/state/pg-bridge.js'
import {FakeBlackHole} from '../fakes/fake-black-hole.js'
import {parseEnvelope, runCli, runCliAsync, tempHome} from '../helpers/cli.js'
import {reachPostgres, scratchDatabase, skipOrFail} from '../helpers/engines.js'
import {waitUntil} from '../helpers/wait.js'

/** Only local, so nothing here depends on Slurm being up; `extra` is more of the config file. */
function localOnly(home: string, extra = ''): Record<string, string> {
  const config = join(home, 'config.yaml')
  writeFileSync(config, `providers:\n  slurm: {enabled: false}\n${extra}`)
  return {SKYHOP_CONFIG: config}
}

function withPassword(url: string, password: string): string {
  const u = new URL(url)
  u.password = password
  return u.toString()
}

function withSearchPath(url: string, schema: string): string {
  const u = new URL(url)
  u.searchParams.set('options', `-c search_path=${schema}`)
  return u.toString()
}

describe('the CLI with its state in PostgreSQL', function () {
  this.timeout(120_000)
  let admin: PgDb | undefined
  let database: {url: string; drop(): void} | undefined

  before(function () {
    const reached = reachPostgres()
    if ('why' in reached) skipOrFail(this, reached.why)
    admin = reached.db
    database = scratchDatabase(admin)
  })
  after(() => {
    database?.drop()
    admin?.close()
  })

  it('launches, shows and cancels jobs from two homes sharing one database; no SQLite file is made', async () => {
    const laptop = tempHome()
    const other = tempHome()
    const envA = {...localOnly(laptop), SKYHOP_DATABASE_URL: database!.url}
    // The second "machine" names the database in its config file instead (and no variable
    // names another: the suite's PostgreSQL run would give its home one).
    const envB = {...localOnly(other, `database_url: ${JSON.stringify(database!.url)}\n`), SKYHOP_DATABASE_URL: undefined}

    const hello = runCli(['launch', 'examples/hello.yaml', '--yes', '--wait'], {home: laptop, env: envA})
    expect(hello.code, hello.stderr).to.equal(0)
    expect(hello.stdout).to.match(/hello from skyhop \(job j-\w+, attempt 1\)/)

    const seen = runCli(['status', '--json'], {home: other, env: envB})
    expect(seen.code, seen.stderr).to.equal(0)
    const jobs = parseEnvelope(seen.stdout).result.jobs as Array<{name: string; state: string; exitCode: number | null}>
    expect(jobs.map((j) => [j.name, j.state, j.exitCode])).to.deep.equal([['hello', 'SUCCEEDED', 0]])

    const sleeper = join(laptop, 'sleeper.yaml')
    writeFileSync(sleeper, 'name: sleeper\nrun: |\n  echo started\n  sleep 60\n')
    expect(runCli(['launch', sleeper, '-y'], {home: laptop, env: envA}).code).to.equal(0)
    await waitUntil(() => runCli(['logs', 'sleeper'], {home: laptop, env: envA}).stdout.includes('started'), 60_000)
    // Cancelled from the other home: the row both see.
    const cancel = runCli(['cancel', 'sleeper', '--grace', '1s', '--json'], {home: other, env: envB})
    expect(cancel.code, cancel.stderr).to.equal(0)
    expect(parseEnvelope(cancel.stdout).result.job.state).to.equal('CANCELLED')
    const after = parseEnvelope(runCli(['status', 'sleeper', '--json'], {home: laptop, env: envA}).stdout).result.job
    expect(after.state).to.equal('CANCELLED')

    expect(existsSync(join(laptop, 'state.db')) || existsSync(join(other, 'state.db'))).to.equal(false)
  })

  it("never hands the database URL to a job: the job's environment has no trace of it", () => {
    const home = tempHome()
    const env = {...localOnly(home), SKYHOP_DATABASE_URL: database!.url}
    const file = join(home, 'env.yaml')
    writeFileSync(file, 'name: env\nrun: |\n  env | sort\n  echo "end of env"\n')
    const r = runCli(['launch', file, '-y', '--wait'], {home, env})
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.include('end of env')
    expect(r.stdout).not.to.include('SKYHOP_DATABASE_URL')
    expect(r.stdout).not.to.include(new URL(database!.url).host)
  })

  it('says what is wrong with the database, with its code and exit 2, and never prints the password', async () => {
    const home = tempHome()
    const env = localOnly(home)
    const good = new URL(database!.url)
    const cases: Array<{url: string; code: string; says: RegExp}> = [
      {url: withPassword(database!.url, 'not-the-pass-7Qx'), code: 'STATE_AUTH_FAILED', says: /refused the login/},
      {
        url: database!.url.replace(`/${good.pathname.slice(1)}`, '/skyhop_no_such_db'),
        code: 'STATE_DATABASE_UNKNOWN',
        says: /does not exist/,
      },
      // A port nothing listens on (the black hole below takes one and is closed again).
      {
        url: withPassword(database!.url.replace(`:${good.port || 5432}/`, ':9/'), 'not-the-pass-7Qx'),
        code: 'STATE_UNAVAILABLE',
        says: /connection refused/,
      },
      {url: 'mysql://u:not-the-pass-7Qx@127.0.0.1/x', code: 'STATE_URL_INVALID', says: /must be a postgres:\/\/ URL/},
      // A search_path naming no schema, and one the user may not create in (was a bug's exit 1).
      {url: withSearchPath(database!.url, 'skyhop_no_such_schema'), code: 'STATE_SCHEMA_UNKNOWN', says: /no schema has been selected/},
      {url: withSearchPath(database!.url, 'pg_catalog'), code: 'STATE_PERMISSION_DENIED', says: /permission denied/},
    ]
    for (const c of cases) {
      const r = runCli(['status', '--json'], {home, env: {...env, SKYHOP_DATABASE_URL: c.url}})
      expect(r.code, `${c.code}: ${r.stdout}${r.stderr}`).to.equal(2)
      const error = parseEnvelope(r.stdout).error!
      expect(error.code).to.equal(c.code)
      expect(error.message).to.match(c.says)
      expect(r.stdout + r.stderr).not.to.include('not-the-pass-7Qx')
    }

    // A server that accepts and never answers: a deadline, not a hang.
    const hole = new FakeBlackHole()
    const port = new URL(await hole.start()).port
    try {
      const url = `postgres://skyhop:not-the-pass-7Qx@127.0.0.1:${port}/skyhop`
      const r = await runCliAsync(['status', '--json'], {home, env: {...env, SKYHOP_DATABASE_URL: url, SKYHOP_DATABASE_TIMEOUT: '1'}})
      expect(r.code, r.stdout + r.stderr).to.equal(2)
      expect(parseEnvelope(r.stdout).error!.code).to.equal('STATE_TIMEOUT')
      expect(r.stdout + r.stderr).not.to.include('not-the-pass-7Qx')
      expect(hole.connections).to.be.greaterThan(0)
    } finally {
      await hole.stop()
    }
  })

  it('a statement stuck behind a lock, or a connection whose thread died, ends in STATE_TIMEOUT saying where it stuck', async () => {
    // Another session holds the table: the statement waits at the server until the driver's deadline.
    const holder = PgDb.connect(database!.url)
    const waiter = PgDb.connect(database!.url, {timeoutMs: 1000})
    try {
      holder.exec('CREATE TABLE IF NOT EXISTS lock_probe (id INT)')
      holder.exec('BEGIN; LOCK TABLE lock_probe IN ACCESS EXCLUSIVE MODE')
      expect(() => waiter.exec('SELECT * FROM lock_probe'))
        .to.throw(UsageError, /canceling statement due to statement timeout/)
        .with.property('code', 'STATE_TIMEOUT')
      holder.exec('ROLLBACK')
      // The server cancelled it: the connection goes on.
      expect(waiter.prepare('SELECT COUNT(*) AS n FROM lock_probe').pluck().get()).to.equal(0)
    } finally {
      waiter.close()
      holder.close()
    }
    // A connection whose thread is gone: the backstop, saying the statement was never taken.
    const orphan = PgDb.connect(database!.url, {timeoutMs: 1000})
    await (orphan as unknown as {worker: {terminate(): Promise<number>}}).worker.terminate()
    let error: UsageError | undefined
    try {
      orphan.exec('SELECT 1')
    } catch (e) {
      error = e as UsageError
    }
    expect(error, 'no error').to.be.instanceOf(UsageError)
    expect(error!.code).to.equal('STATE_TIMEOUT')
    expect(error!.message).to.match(/did not answer within 1 s \(exec\): the connection's thread never took the statement/)
    orphan.close()
  })
})
