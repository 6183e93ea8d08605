import {expect} from 'chai'
import {spawn} from 'node:child_process'

import {LeaseLostError, UsageError} from '../../../src/errors.js'
import type {JobSpec} from '../../../src/model/job-spec.js'
import {SqliteDb} from '../../../src/state/db.js'
import {ServiceStore} from '../../../src/state/services.js'
import {MIGRATIONS} from '../../../src/state/migrations.js'
import {registerSecret} from '../../../src/util/redact.js'
import {describeEngines} from '../../helpers/engines.js'
import {localIntent} from '../../helpers/local-intent.js'

const spec = {name: 'x', run: 'echo'} as unknown as JobSpec

describeEngines('state store', (engine) => {
  const tmpHome = engine.home
  const Store = {open: engine.open}
  const sqlite = engine.name === 'sqlite'

  it('migrates a fresh store and reopens it', () => {
    const home = tmpHome()
    Store.open(home).close()
    const store = Store.open(home)
    const versions = store.db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()
    expect(versions).to.deep.equal(MIGRATIONS.map((m) => m.version))
    if (store.db instanceof SqliteDb) expect(store.db.raw.pragma('journal_mode', {simple: true})).to.equal('wal')
    expect(store.integrityCheck()).to.equal('ok')
    store.close()
  })

  it('migrates once when three processes open a fresh store at the same time', async function () {
    this.timeout(60_000)
    const home = tmpHome()
    const env = {...process.env, SKYHOP_DATABASE_URL: engine.urlOf(home) ?? ''}
    const outputs = await Promise.all(
      [1, 2, 3].map(
        () =>
          new Promise<{code: number | null; out: string}>((resolve) => {
            const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/store-open.ts', home], {
              env,
              stdio: ['ignore', 'pipe', 'pipe'],
            })
            let out = ''
            child.stdout.on('data', (d) => (out += d))
            child.stderr.on('data', (d) => (out += d))
            child.on('close', (code) => resolve({code, out}))
          }),
      ),
    )
    const versions = JSON.stringify(MIGRATIONS.map((m) => m.version))
    for (const o of outputs) expect(o, o.out).to.deep.equal({code: 0, out: versions + '\n'})
    const store = Store.open(home)
    expect(store.db.prepare('SELECT COUNT(*) FROM schema_migrations').pluck().get()).to.equal(MIGRATIONS.length)
    store.close()
  })

  it('reopens a current store with one read, and still refuses one a newer skyhop migrated', () => {
    const home = tmpHome()
    Store.open(home).close()
    const store = Store.open(home)
    store.db.exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from a newer skyhop', '2026-01-01T00:00:00Z')`)
    store.close()
    expect(() => Store.open(home))
      .to.throw(UsageError, /written by a newer skyhop \(schema 999/)
      .with.property('code', 'STATE_TOO_NEW')
  })

  it("reads many jobs' attempts at once, in order, as listAttempts reads each job's", () => {
    const store = Store.open(tmpHome())
    const jobs = [0, 1, 2, 3].map((i) => store.createJob({name: `j${i}`, file: null, spec}))
    for (const [i, job] of jobs.entries()) for (let n = 0; n < i; n++) store.recordAttemptIntent(localIntent(job.id, {pricePerHour: n}))
    store.updateAttempt(store.listAttempts(jobs[2].id)[0].id, {state: 'RUNNING'})
    // Past one statement's worth of ids (512): unknown ids, each with no attempts; one listed twice.
    const unknown = Array.from({length: 600}, (_, i) => `j-unknown-${i}`)
    const ids = [jobs[3].id, ...unknown, jobs[0].id, jobs[2].id, jobs[1].id, jobs[2].id]
    const read = store.attemptsOfJobs(ids)
    expect([...read.keys()]).to.deep.equal([...new Set(ids)])
    for (const job of jobs) expect(read.get(job.id), job.name).to.deep.equal(store.listAttempts(job.id))
    expect(read.get(jobs[3].id)!.map((a) => a.n)).to.deep.equal([1, 2, 3])
    expect(read.get(jobs[2].id)!.map((a) => a.state)).to.deep.equal(['RUNNING', 'REQUESTED'])
    expect(unknown.every((id) => read.get(id)!.length === 0)).to.equal(true)
    expect(store.attemptsOfJobs([]).size).to.equal(0)
    store.close()
  })

  it('lists the newest jobs from an index (migration 7), equal created_at newest inserted first', () => {
    const store = Store.open(tmpHome())
    const jobs = [0, 1, 2, 3, 4].map((i) => store.createJob({name: `n${i}`, file: null, spec}))
    // Jobs 1-3 recorded in the same millisecond: the insertion order decides among them.
    store.db
      .prepare('UPDATE jobs SET created_at = ? WHERE id IN (?, ?, ?)')
      .run('2026-01-01T00:00:00.000Z', jobs[1].id, jobs[2].id, jobs[3].id)
    store.db.prepare('UPDATE jobs SET created_at = ? WHERE id = ?').run('2025-12-31T00:00:00.000Z', jobs[4].id)
    store.db.prepare('UPDATE jobs SET created_at = ? WHERE id = ?').run('2026-01-02T00:00:00.000Z', jobs[0].id)
    expect(store.listJobs({limit: 4}).map((j) => j.name)).to.deep.equal(['n0', 'n3', 'n2', 'n1'])
    const listing = 'SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT 50'
    let plan: string
    if (sqlite) {
      plan = (store.db.prepare(`EXPLAIN QUERY PLAN ${listing}`).all() as Array<{detail: string}>).map((r) => r.detail).join('\n')
      expect(plan).to.not.include('TEMP B-TREE')
    } else {
      // A table of five rows is read whole by choice; without that choice, the index serves.
      plan = store.db.transaction(() => {
        store.db.exec('SET LOCAL enable_seqscan = off')
        return (store.db.prepare(`EXPLAIN ${listing}`).all() as Array<Record<string, string>>).map((r) => Object.values(r)[0]).join('\n')
      })
    }
    expect(plan).to.include('jobs_created')
    store.close()
  })

  it('records jobs, attempts and events in order', () => {
    const store = Store.open(tmpHome())
    const job = store.createJob({name: 'train', file: 'a.yaml', spec})
    const a1 = store.recordAttemptIntent(localIntent(job.id))
    const a2 = store.recordAttemptIntent({...a1!, jobId: job.id, pricePerHour: 1} as never)!
    expect([a1!.n, a2.n]).to.deep.equal([1, 2])
    expect(a1!.state).to.equal('REQUESTED')
    store.updateAttempt(
      a1!.id,
      {state: 'RUNNING', handle: {provider: 'local', externalId: '42', region: 'local', zone: null, data: {}}},
      {kind: 'attempt-running'},
    )
    store.setJobState(job.id, 'RUNNING', {kind: 'job-running'})
    expect(store.getAttempt(a1!.id)!.handle!.externalId).to.equal('42')
    expect(store.events(job.id).map((e) => e.kind)).to.deep.equal([
      'job-created',
      'attempt-requested',
      'attempt-requested',
      'attempt-running',
      'job-running',
    ])
    expect(store.findJob('train').id).to.equal(job.id)
    store.close()
  })

  it('refuses a new attempt once the job has ended (cancel beats relaunch)', () => {
    const store = Store.open(tmpHome())
    const job = store.createJob({name: 'x', file: null, spec})
    store.setJobState(job.id, 'CANCELLED', {kind: 'job-cancelled'})
    const a = store.recordAttemptIntent(localIntent(job.id))
    expect(a).to.equal(null)
    expect(store.listAttempts(job.id)).to.have.length(0)
    store.close()
  })

  it("keeps reads of attempts and observations only while they are current: its own writes, another connection's, and a rolled-back one", () => {
    const home = tmpHome()
    const store = Store.open(home)
    const other = Store.open(home)
    const job = store.createJob({name: 'x', file: null, spec})
    const intent = localIntent(job.id, {spot: true, pricePerHour: 1, onDemandPricePerHour: 3})
    const a1 = store.recordAttemptIntent(intent)!
    const first = store.listAttempts(job.id)
    // Unchanged: the same (frozen) records, not read again (SQLite; PostgreSQL reads each time).
    if (sqlite) expect(store.listAttempts(job.id)).to.equal(first)
    else expect(store.listAttempts(job.id)).to.deep.equal(first)
    expect(Object.isFrozen(first) && Object.isFrozen(first[0])).to.equal(true)
    expect(store.startedAttempts(job.id)).to.deep.equal([])
    // Its own update and insert: the kept list follows, in order.
    store.updateAttempt(a1.id, {state: 'RUNNING', startedAt: '2026-01-01T00:00:00.000Z'})
    const a2 = store.recordAttemptIntent(intent)!
    expect(store.listAttempts(job.id).map((a) => [a.id, a.state])).to.deep.equal([
      [a1.id, 'RUNNING'],
      [a2.id, 'REQUESTED'],
    ])
    expect(store.startedAttempts(job.id).map((a) => a.id)).to.deep.equal([a1.id])
    expect(store.openAttempt(job.id)!.id).to.equal(a1.id)
    // Another connection's commit (another process: \`skyhop cancel\`, a second controller).
    other.updateAttempt(a1.id, {state: 'PREEMPTED', endedAt: '2026-01-01T01:00:00.000Z'})
    expect(store.listAttempts(job.id)[0].state).to.equal('PREEMPTED')
    expect(store.openAttempt(job.id)!.id).to.equal(a2.id)
    // A write in a transaction that is rolled back leaves no trace in what is read after.
    expect(() =>
      store.transaction(() => {
        store.updateAttempt(a2.id, {state: 'RUNNING'})
        throw new Error('rolled back')
      }),
    ).to.throw('rolled back')
    expect(store.listAttempts(job.id)[1].state).to.equal('REQUESTED')
    expect(store.getAttempt(a2.id)!.state).to.equal('REQUESTED')
    // Observations: kept from the earliest time asked for, new rows seen from either connection.
    store.addObservation({
      ts: '2026-01-01T00:00:00.000Z',
      provider: 'aws',
      region: 'r',
      zone: null,
      accelerator: null,
      spot: true,
      kind: 'preemption',
      valueSeconds: null,
    })
    expect(store.observations('2025-12-01T00:00:00.000Z')).to.have.length(1)
    expect(store.observations('2026-01-01T00:00:01.000Z')).to.have.length(0)
    other.addObservation({
      ts: '2026-01-02T00:00:00.000Z',
      provider: 'aws',
      region: 'r',
      zone: null,
      accelerator: null,
      spot: true,
      kind: 'preemption',
      valueSeconds: null,
    })
    expect(store.observations('2026-01-01T00:00:01.000Z').map((o) => o.ts)).to.deep.equal(['2026-01-02T00:00:00.000Z'])
    expect(store.observations('2025-01-01T00:00:00.000Z')).to.have.length(2)
    other.close()
    store.close()
  })

  it('never moves an ended job back to a running state', () => {
    const store = Store.open(tmpHome())
    const job = store.createJob({name: 'x', file: null, spec})
    store.setJobState(job.id, 'CANCELLED', {kind: 'job-cancelled'})
    expect(store.setJobState(job.id, 'PROVISIONING', {kind: 'job-provisioning'})).to.equal(false)
    expect(store.getJob(job.id)!.state).to.equal('CANCELLED')
    expect(store.events(job.id).map((e) => e.kind)).not.to.include('job-provisioning')
    store.close()
  })

  it('says "did you mean" for an unknown job', () => {
    const store = Store.open(tmpHome())
    store.createJob({name: 'finetune', file: null, spec})
    expect(() => store.findJob('fintune'))
      .to.throw(UsageError)
      .with.property('hint')
      .that.matches(/finetune/)
    store.close()
  })

  it('gives a job lease to one controller at a time, and takes back expired ones', () => {
    let now = 1_000_000
    const store = Store.open(tmpHome(), {clock: () => new Date(now)})
    const job = store.createJob({name: 'x', file: null, spec})
    expect(store.acquireLease(job.id, 'a', 10_000)).to.equal(true)
    expect(store.acquireLease(job.id, 'b', 10_000)).to.equal(false)
    expect(store.orphanedJobs()).to.have.length(0)
    now += 20_000
    expect(store.orphanedJobs().map((j) => j.id)).to.deep.equal([job.id])
    expect(store.acquireLease(job.id, 'b', 10_000)).to.equal(true)
    expect(store.renewLease(job.id, 'a', 10_000)).to.equal(false)
    store.close()
  })

  it('fences a controller that lost its lease: every write of the stale one is refused, the new owner writes', () => {
    let now = 1_000_000
    const home = tmpHome()
    const clock = () => new Date(now)
    const stale = Store.open(home, {clock})
    const fresh = Store.open(home, {clock})
    const job = stale.createJob({name: 'x', file: null, spec})
    expect(stale.acquireLease(job.id, 'ctl-a', 10_000)).to.equal(true)
    const a1 = stale.recordAttemptIntent(localIntent(job.id))!
    const tokenA = stale.getJob(job.id)!
    // ctl-a sleeps past its lease; ctl-b adopts the job.
    now += 20_000
    expect(fresh.acquireLease(job.id, 'ctl-b', 10_000)).to.equal(true)
    expect(stale.renewLease(job.id, 'ctl-a', 10_000)).to.equal(false)
    expect(() => stale.recordAttemptIntent(localIntent(job.id))).to.throw(LeaseLostError, /driven by another controller \(ctl-b/)
    expect(() => stale.setJobState(job.id, 'RUNNING', {kind: 'job-running'})).to.throw(LeaseLostError)
    expect(() => stale.updateAttempt(a1.id, {state: 'RUNNING'})).to.throw(LeaseLostError)
    expect(() => stale.addEvent(job.id, null, 'stale-write')).to.throw(LeaseLostError)
    // Nothing of it landed; the new owner's writes do.
    expect(fresh.listAttempts(job.id).map((a) => [a.n, a.state])).to.deep.equal([[1, 'REQUESTED']])
    expect(fresh.getJob(job.id)!.state).to.equal('PENDING')
    expect(fresh.events(job.id).map((e) => e.kind)).not.to.include('stale-write')
    fresh.updateAttempt(a1.id, {state: 'LOST'}, {kind: 'attempt-lost'})
    expect(fresh.recordAttemptIntent(localIntent(job.id))!.n).to.equal(2)
    expect(fresh.setJobState(job.id, 'RUNNING', {kind: 'job-running'})).to.equal(true)
    // The stale one's release leaves the new owner's lease alone.
    stale.releaseLease(job.id, 'ctl-a')
    expect(fresh.getJob(job.id)!.leaseOwner).to.equal('ctl-b')
    expect(tokenA.leaseOwner).to.equal('ctl-a')
    // A store that never took the lease (`skyhop cancel`) is not fenced.
    const cli = Store.open(home, {clock})
    expect(cli.setJobState(job.id, 'CANCELLED', {kind: 'job-cancelled'})).to.equal(true)
    for (const s of [stale, fresh, cli]) s.close()
  })

  it('keeps the token when the same controller takes its own lease again; fences sweeps and their jobs', () => {
    let now = 1_000_000
    const home = tmpHome()
    const clock = () => new Date(now)
    const stale = Store.open(home, {clock})
    const fresh = Store.open(home, {clock})
    const {sweep, jobs} = stale.createSweep({name: 's', file: null, spec, budgetUsd: null, options: {}, plan: null}, [
      {name: 's-0', file: null, spec},
      {name: 's-1', file: null, spec},
    ])
    const token = () => stale.db.prepare('SELECT lease_token FROM sweeps WHERE id = ?').pluck().get(sweep.id)
    expect(stale.acquireSweepLease(sweep.id, 'ctl-a', 10_000)).to.equal(true)
    const first = token()
    expect(stale.acquireSweepLease(sweep.id, 'ctl-a', 10_000)).to.equal(true)
    expect(token()).to.equal(first)
    expect(stale.renewSweepLease(sweep.id, 'ctl-a', 10_000)).to.equal(true)
    stale.setJobState(jobs[0].id, 'RUNNING', {kind: 'job-running'})
    now += 20_000
    expect(fresh.acquireSweepLease(sweep.id, 'ctl-b', 10_000)).to.equal(true)
    expect(token()).to.equal((first as number) + 1)
    expect(fresh.renewSweepLease(sweep.id, 'ctl-b', 10_000)).to.equal(true)
    expect(stale.renewSweepLease(sweep.id, 'ctl-a', 10_000)).to.equal(false)
    expect(() => stale.setSweepState(sweep.id, 'SUCCEEDED', null)).to.throw(LeaseLostError)
    expect(() => stale.setJobState(jobs[1].id, 'RUNNING', {kind: 'job-running'})).to.throw(LeaseLostError)
    expect(fresh.getSweep(sweep.id)!.state).to.equal('RUNNING')
    fresh.setSweepState(sweep.id, 'SUCCEEDED', null)
    for (const s of [stale, fresh]) s.close()
  })

  it("fences a service's controller the same way", () => {
    let now = 1_000_000
    const home = tmpHome()
    const clock = () => new Date(now)
    const stale = new ServiceStore(Store.open(home, {clock}), clock)
    const fresh = new ServiceStore(Store.open(home, {clock}), clock)
    const svc = stale.createService({name: 'm', file: null, spec: {...spec, service: {replicas: {min: 1}}} as unknown as JobSpec})
    expect(stale.takeLease(svc.id, 'ctl-a', 10_000)).to.equal(true)
    stale.setTarget(svc.id, 2)
    now += 20_000
    expect(fresh.takeLease(svc.id, 'ctl-b', 10_000)).to.equal(true)
    expect(stale.renewLease(svc.id, 'ctl-a', 10_000)).to.equal(false)
    expect(() => stale.setTarget(svc.id, 5)).to.throw(LeaseLostError)
    expect(() => stale.setServiceState(svc.id, 'STOPPED')).to.throw(LeaseLostError)
    fresh.setTarget(svc.id, 3)
    expect(fresh.getService(svc.id)!.targetReplicas).to.equal(3)
    stale.store.close()
    fresh.store.close()
  })

  it('keeps reading after another connection alters a table it has read (a migration elsewhere)', () => {
    const home = tmpHome()
    const store = Store.open(home)
    const other = Store.open(home)
    const job = store.createJob({name: 'x', file: null, spec})
    expect(store.getJob(job.id)!.name).to.equal('x')
    other.db.exec('ALTER TABLE jobs ADD COLUMN added_elsewhere TEXT')
    expect(store.getJob(job.id)!.name).to.equal('x')
    expect(store.listJobs().map((j) => j.id)).to.deep.equal([job.id])
    other.close()
    store.close()
  })

  it('opens from a process started with flags of its own (an ES module evaluated with --input-type=module)', async function () {
    this.timeout(60_000)
    const home = tmpHome()
    const code = `const {Store} = await import('./src/state/store.ts'); const s = Store.open(process.argv[1], {databaseUrl: process.env.SKYHOP_DATABASE_URL || null, timeoutMs: 10000}); console.log(s.listJobs().length); s.close()`
    const out = await new Promise<{code: number | null; out: string}>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, home], {
        env: {...process.env, SKYHOP_DATABASE_URL: engine.urlOf(home) ?? ''},
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let text = ''
      child.stdout.on('data', (d) => (text += d))
      child.stderr.on('data', (d) => (text += d))
      child.on('close', (c) => resolve({code: c, out: text}))
    })
    expect(out).to.deep.equal({code: 0, out: '0\n'})
  })

  it('records a job or sweep with its lease already held, so nobody (an agent) can claim it before its controller drives it', () => {
    let now = 1_000_000
    const store = Store.open(tmpHome(), {clock: () => new Date(now)})
    const held = store.createJob({name: 'waited', file: null, spec, lease: {owner: 'cli-1', ttlMs: 5000}})
    const free = store.createJob({name: 'detached', file: null, spec})
    expect(store.getJob(held.id)).to.include({leaseOwner: 'cli-1', leaseExpiresAt: now + 5000})
    expect(store.orphanedJobs().map((j) => j.id)).to.deep.equal([free.id])
    expect(store.acquireLease(held.id, 'agent-1', 5000)).to.equal(false)
    expect(store.acquireLease(held.id, 'cli-1', 5000)).to.equal(true)
    const {sweep} = store.createSweep(
      {name: 'sw', file: null, spec, budgetUsd: null, options: {}, plan: null, lease: {owner: 'cli-2', ttlMs: 5000}},
      [],
    )
    expect(store.orphanedSweeps()).to.deep.equal([])
    expect(store.acquireSweepLease(sweep.id, 'agent-1', 5000)).to.equal(false)
    // A controller that dies before its first heartbeat leaves a lease that expires as usual.
    now += 6000
    expect(store.orphanedJobs().map((j) => j.id)).to.have.members([held.id, free.id])
    expect(store.acquireSweepLease(sweep.id, 'agent-1', 5000)).to.equal(true)
    store.close()
  })

  it('never stores a registered secret', () => {
    registerSecret('AKIAEXAMPLESECRET123')
    const store = Store.open(tmpHome())
    const job = store.createJob({name: 'x', file: null, spec})
    store.addEvent(job.id, null, 'error', {message: 'auth failed for AKIAEXAMPLESECRET123'})
    const raw = store.db.prepare('SELECT data_json FROM events WHERE kind = ?').get('error') as {data_json: string}
    expect(raw.data_json).not.to.include('AKIAEXAMPLESECRET123')
    store.close()
  })

  it('the integrity check reports, one line each, rows whose parent is missing, what the engine finds, and migrations not recorded', () => {
    const home = tmpHome()
    const store = Store.open(home)
    expect(store.integrityCheck()).to.equal('ok')
    store.createJob({name: 'a', file: null, spec})
    store.createJob({name: 'b', file: null, spec})
    const orphan = `INSERT INTO attempts (id, job_id, n, provider, region, instance_type, spot, state, intent_at)
      VALUES ('a-orphan', 'j-gone', 1, 'local', 'local', 'local', 0, 'RUNNING', '2026-01-01T00:00:00Z')`
    const engineSays: string[] = []
    if (store.db instanceof SqliteDb) {
      // A connection without foreign_keys = ON (SQLite's default) can leave such a row.
      store.db.raw.pragma('foreign_keys = OFF')
      store.db.exec(orphan)
      store.db.raw.pragma('foreign_keys = ON')
    } else {
      // The key dropped and added again NOT VALID: the row stays, and the catalog says so.
      store.db.exec('ALTER TABLE attempts DROP CONSTRAINT attempts_job_id_fkey')
      store.db.exec(orphan)
      store.db.exec('ALTER TABLE attempts ADD CONSTRAINT attempts_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs(id) NOT VALID')
      // A unique index built concurrently over duplicates fails and is left behind, invalid.
      expect(() => store.db.exec('CREATE UNIQUE INDEX CONCURRENTLY events_kind_once ON events(kind)')).to.throw(
        /could not create unique index/,
      )
      engineSays.push(
        'index events_kind_once on events is invalid (a build that did not finish); REINDEX INDEX rebuilds it',
        'constraint attempts_job_id_fkey on attempts is not validated: rows from before it was added may break it',
      )
    }
    store.db.exec('DELETE FROM schema_migrations WHERE version = 6')
    store.db.exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'from elsewhere', '2026-01-01T00:00:00Z')`)
    expect(store.integrityCheck().split('\n')).to.deep.equal([
      ...engineSays,
      'attempts: 1 row whose job_id has no row in jobs',
      'schema_migrations: version 6 (fencing tokens on leases) is not recorded',
      "schema_migrations: version 99 is not one of this skyhop's migrations",
    ])
    store.close()
  })

  it('survives SIGKILL in the middle of writing: integrity ok, no half-written job', async function () {
    this.timeout(120_000)
    const home = tmpHome()
    for (let round = 0; round < 5; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/store-writer.ts', home], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: {...process.env, SKYHOP_DATABASE_URL: engine.urlOf(home) ?? ''},
      })
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
      await new Promise((r) => setTimeout(r, 150 + round * 60))
      child.kill('SIGKILL')
      await new Promise((r) => child.once('exit', r))
      const store = Store.open(home)
      expect(store.integrityCheck()).to.equal('ok')
      const jobs = store.db.prepare('SELECT id FROM jobs').all() as Array<{id: string}>
      expect(jobs.length).to.be.greaterThan(0)
      const orphans = store.db
        .prepare(
          `SELECT COUNT(*) AS n FROM jobs j WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.job_id = j.id AND e.kind = 'job-created')`,
        )
        .get() as {n: number}
      expect(orphans.n, 'every job has its creation event').to.equal(0)
      const running = store.db
        .prepare(
          `SELECT COUNT(*) AS n FROM jobs j WHERE state = 'RUNNING' AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.job_id = j.id AND a.state = 'RUNNING')`,
        )
        .get() as {n: number}
      expect(running.n, 'no RUNNING job without its RUNNING attempt').to.equal(0)
      store.close()
    }
  })
})
