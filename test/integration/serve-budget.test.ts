// A service's replicas under its owner's budget on running spend, after `serve up`
// (docs/serve.md#budgets): the built CLI, the detached service controller, replicas that are
// real model server processes (examples/model-server) on the local provider at 1 USD/h, load
// from autocannon. Scaling up stops at the budget, says why once and waits without looping;
// it resumes when spend ends and when the budget is raised; a replacement under a notice
// takes its predecessor's place at full budget. On SQLite and on PostgreSQL (skipped without
// a server, failed under CI). Run `npm run build` first.
import autocannon from 'autocannon'
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {PgDb} from '../../src/state/pg-bridge.js'
import {ServiceStore} from '../../src/state/services.js'
import {Store} from '../../src/state/store.js'
import {ROOT, parseEnvelope, runCli, tempHome} from '../helpers/cli.js'
import {reachPostgres, scratchDatabase, skipOrFail, suiteEngine} from '../helpers/engines.js'
import {sleep, waitUntil} from '../helpers/wait.js'

const SERVER_DIR = join(ROOT, 'examples', 'model-server')

/** This home's processes (replicas, controllers): what a test leaves is killed after it. */
function processesOf(home: string): number[] {
  const pids: number[] = []
  for (const line of execFileSync('ps', ['-eo', 'pid='], {encoding: 'utf8'}).split('\n')) {
    const pid = Number(line.trim())
    if (!pid || pid === process.pid) continue
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`SKYHOP_HOME=${home}\0`)) pids.push(pid)
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids
}

// In the suite's PostgreSQL run the SQLite half is left to the SQLite run, as describeEngines does.
for (const engine of suiteEngine() === 'postgres' ? (['postgres'] as const) : (['sqlite', 'postgres'] as const)) {
  describe(`serve under a budget (built CLI, real replicas) [${engine}]`, function () {
    this.timeout(180_000)
    let admin: PgDb | undefined
    let database: {url: string; drop(): void} | undefined
    const homes: string[] = []

    before(function () {
      if (engine === 'sqlite') return
      const reached = reachPostgres()
      if ('why' in reached) skipOrFail(this, reached.why)
      admin = reached.db
      database = scratchDatabase(admin)
    })
    after(() => {
      database?.drop()
      admin?.close()
    })
    afterEach(() => {
      for (const home of homes.splice(0)) for (const pid of processesOf(home)) process.kill(pid, 'SIGKILL')
    })

    function world(budgetUsd: number, extraEnv: Record<string, string> = {}) {
      const home = tempHome('skyhop-serve-budget-')
      homes.push(home)
      const config = join(home, 'config.yaml')
      const setBudget = (usd: number) =>
        writeFileSync(
          config,
          `providers:\n  slurm: {enabled: false}\n  local: {price_per_hour: 1}\nbudgets: {users: {alice: {usd_per_hour: ${usd}}}}\n`,
        )
      setBudget(budgetUsd)
      const env = {
        SKYHOP_CONFIG: config,
        SKYHOP_IDENTITY: 'alice',
        ...(database ? {SKYHOP_DATABASE_URL: database.url} : {}),
        ...extraEnv,
      }
      const json = (args: string[]) => {
        const r = runCli([...args, '--json'], {home, env})
        expect(r.code, `skyhop ${args.join(' ')}: ${r.stderr}\n${r.stdout}`).to.equal(0)
        return parseEnvelope(r.stdout).result
      }
      const store = Store.open(home, {databaseUrl: database?.url ?? null})
      const services = new ServiceStore(store)
      const ready = (id: string) => services.replicas(id).filter((r) => r.state === 'READY').length
      const events = (id: string, kind: string) => store.events(id).filter((e) => e.kind === kind)
      return {home, env, json, store, services, ready, events, setBudget}
    }

    it('scaling up stops at the budget, says why once, and resumes when spend ends and when the budget is raised', async () => {
      const w = world(3)
      // 1 USD/h of alice's 3 goes to a job; the service starts with one replica (2 of 3).
      const job = join(w.home, 'sleepy.yaml')
      writeFileSync(job, 'name: sleepy\nrun: sleep 600\n')
      w.json(['launch', job, '-y', '--detach'])
      const file = join(w.home, 'svc.yaml')
      writeFileSync(
        file,
        `name: svc\nworkdir: ${SERVER_DIR}\nenvs: {LOAD_MS: "300", DELAY_MS: "20", STOP_IDLE_MS: "5000"}\nrun: exec node server.mjs\nrecovery: {grace: 8s}\n` +
          'service:\n  port: 8080\n  readiness: {path: /health, initial_delay: 30s, timeout: 2s}\n' +
          '  replicas: {min: 1, max: 4, target_qps_per_replica: 20}\n  upscale_delay: 1s\n  downscale_delay: 300s\n',
      )
      const up = w.json(['serve', 'up', file])
      // 80 requests/s want 4 replicas; the budget has room for one more.
      // Without a callback autocannon gives a promise that is also its instance (stop()).
      const load = autocannon({url: `${up.endpoint}/`, connections: 4, overallRate: 80, duration: 60}) as Promise<autocannon.Result> & {
        stop(): void
      }
      try {
        await waitUntil(() => w.events(up.id, 'replica-budget-refused').length > 0, 20_000, 100)
        await waitUntil(() => w.ready(up.id) === 2, 10_000, 100)
        const [refused] = w.events(up.id, 'replica-budget-refused')
        expect(refused.data).to.deep.include({usdPerHour: 1, owner: 'alice'})
        expect(refused.data.budgets).to.deep.equal([
          {scope: 'user', name: 'alice', limitUsdPerHour: 3, runningUsdPerHour: 3, leftUsdPerHour: 0},
        ])
        const status = w.json(['serve', 'status', 'svc']).services[0]
        expect(status.targetReplicas).to.equal(4)
        expect(status.state).to.equal('RUNNING')
        expect(status.reason).to.match(
          /^below its target: launching a replica of svc would take alice over budget: .*alice's budget is 3\.00 USD\/h with 3\.00 USD\/h running \(0\.00 USD\/h left\); launched when spend goes down or the budget is raised$/,
        )
        // Waiting is quiet: no new record, no second event.
        await sleep(3000)
        expect(w.services.replicas(up.id)).to.have.length(2)
        expect(w.events(up.id, 'replica-budget-refused')).to.have.length(1)

        // Spend that ends makes room: the job cancelled, one more replica (3 of 3; one still refused).
        w.json(['cancel', 'sleepy'])
        await waitUntil(() => w.ready(up.id) === 3, 15_000, 100)
        await sleep(1500)
        expect(w.services.replicas(up.id)).to.have.length(3)
        // A budget raised in the config file: the controller reads it at its next look.
        w.setBudget(4)
        await waitUntil(() => w.ready(up.id) === 4, 15_000, 100)
        await waitUntil(() => w.services.getService(up.id)!.reason === null, 5000, 100)
        expect(w.events(up.id, 'replica-budget-refused')).to.have.length(1)
        expect(w.services.replicas(up.id)).to.have.length(4)

        // At full budget (4 of 4), a notice: the replacement takes the noticed replica's place
        // during its grace, though for those seconds both run. (The server stays up 5 s after
        // the notice's SIGTERM, STOP_IDLE_MS, so the controller sees the notice before the end.)
        const before = w.services.replicas(up.id)
        w.json(['serve', 'preempt', 'svc', '--replica', String(before[0].n), '--grace', '8s'])
        await waitUntil(() => w.services.replicas(up.id).length === 5, 10_000, 100)
        await waitUntil(() => w.ready(up.id) === 4, 15_000, 100)
        const victim = w.services.getReplica(before[0].id)!
        const replacement = w.services.replicas(up.id)[4]
        expect(victim.noticeAt).to.not.equal(null)
        expect(replacement.readyAt).to.not.equal(null)
        expect(Date.parse(replacement.readyAt!)).to.be.below(Date.parse(victim.noticeAt!) + 8000)
        expect(w.events(up.id, 'replica-budget-refused')).to.have.length(1)
      } finally {
        load.stop()
        await load
      }
      w.json(['serve', 'down', 'svc'])
      w.store.close()
    })

    it("a controller that replaces one killed while it waited for the budget finds out again, and clears the wait's reason", async () => {
      const w = world(1, {SKYHOP_LEASE_TTL_SECONDS: '1'})
      const file = join(w.home, 'svc.yaml')
      writeFileSync(
        file,
        `name: svc\nworkdir: ${SERVER_DIR}\nenvs: {LOAD_MS: "300", DELAY_MS: "20"}\nrun: exec node server.mjs\n` +
          'service:\n  port: 8080\n  readiness: {path: /health, initial_delay: 30s, timeout: 2s}\n' +
          '  replicas: {min: 1, max: 2, target_qps_per_replica: 20}\n  upscale_delay: 1s\n  downscale_delay: 300s\n',
      )
      const up = w.json(['serve', 'up', file])
      const load = autocannon({url: `${up.endpoint}/`, connections: 2, overallRate: 40, duration: 8}) as Promise<autocannon.Result> & {
        stop(): void
      }
      try {
        await waitUntil(() => w.services.getService(up.id)!.reason !== null, 20_000, 100)
      } finally {
        load.stop()
        await load
      }
      const line = execFileSync('ps', ['-eo', 'pid=,args='], {encoding: 'utf8'})
        .split('\n')
        .find((l) => l.includes(`serve-controller ${up.id}`))!
      process.kill(Number(line.trim().split(/\s+/)[0]), 'SIGKILL')
      w.setBudget(2)
      await sleep(1500) // the lease (1 s) runs out
      expect(w.json(['recover']).restartedServices).to.deep.equal([up.id])
      // The target (2) was recorded; the new controller launches the second within the raised budget.
      await waitUntil(() => w.ready(up.id) === 2, 20_000, 100)
      await waitUntil(() => w.services.getService(up.id)!.reason === null, 5000, 100)
      w.json(['serve', 'down', 'svc'])
      w.store.close()
    })
  })
}
