// skyhop agent end to end (docs/agent.md): the built CLI as separate processes sharing one
// SQLite store, the local provider, two users set per process with SKYHOP_IDENTITY. Three
// agents are SIGKILLed at random moments and restarted while they drive many short jobs:
// every job must finish, none may run twice at once (a lock directory each job takes), and
// none may be run a second time at all (each job counts its starts). Also: SIGTERM hands the
// work back; a user without the admin role cannot cancel another's job; two users' budgets.
// SKYHOP_AGENT_TEST_JOBS sets the number of jobs (default 24; the issue's full run is 200).
import {expect} from 'chai'
import {existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {ServiceStore} from '../../src/state/services.js'
import {Store} from '../../src/state/store.js'
import {ROOT, parseEnvelope, runCli, runCliAsync, tempHome, type CliResult} from '../helpers/cli.js'
import {sleep, waitUntil} from '../helpers/wait.js'
import {type Agent, random, seenOf, startAgent, stopAgent, writeJob} from '../helpers/agents.js'

const LEASE_S = 2

/** The store the agents use: SQLite in the home, or the PostgreSQL of SKYHOP_DATABASE_URL when the suite runs on it. */
const openStore = (home: string): Store => Store.open(home, {databaseUrl: process.env.SKYHOP_DATABASE_URL || null})

/** SKYHOP_AGENT_TEST_SLURM=1 (bench/agent-chaos.mjs): half the chaos jobs go to the Slurm cluster of scripts/slurm-up.sh. */
const WITH_SLURM = process.env.SKYHOP_AGENT_TEST_SLURM === '1'

function setup(extraConfig = '', slurm = false): {home: string; env: Record<string, string>; marks: string} {
  const home = tempHome('skyhop-agent-')
  const config = join(home, 'config.yaml')
  const providers = slurm ? '  slurm: {partitions: [high]}\n' : '  slurm: {enabled: false}\n'
  writeFileSync(config, `providers:\n${providers}  local: {price_per_hour: 1}\nagent: true\n${extraConfig}`)
  const marks = join(home, 'marks')
  mkdirSync(marks)
  return {home, env: {SKYHOP_CONFIG: config, SKYHOP_LEASE_TTL_SECONDS: String(LEASE_S)}, marks}
}

function events(r: CliResult): Array<Record<string, any>> {
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>)
}

describe('skyhop agent (built CLI, separate processes, local provider)', function () {
  // The full run (SKYHOP_AGENT_TEST_JOBS=200) needs up to its deadline below and the launches.
  this.timeout(Math.max(600_000, (Number(process.env.SKYHOP_AGENT_TEST_JOBS) || 0) * 8_000))

  it('three agents SIGKILLed at random and restarted: every job of two users finished, none run twice', async () => {
    const {home, env, marks} = setup('', WITH_SLURM)
    const file = writeJob(home)
    const n = Number(process.env.SKYHOP_AGENT_TEST_JOBS) || 24
    const seed = Number(process.env.SKYHOP_AGENT_TEST_SEED) || Date.now() % 100_000
    const rand = random(seed)
    const started = Date.now()
    console.log(`      ${n} jobs${WITH_SLURM ? ' (half on Slurm)' : ''}, chaos seed ${seed} (SKYHOP_AGENT_TEST_SEED)`)
    // Launches four at a time, alternating users; each leaves its job to the agents.
    const ids: string[] = []
    for (let i = 0; i < n; i += 4) {
      const batch = []
      for (let k = i; k < Math.min(n, i + 4); k++) {
        const user = k % 2 === 0 ? 'alice' : 'bob'
        const nap = (1 + rand() * 2).toFixed(1)
        batch.push(
          runCliAsync(
            [
              'launch',
              file,
              '-y',
              '--detach',
              '--json',
              '--name',
              `short-${k}`,
              '--env',
              `MARKS=${marks}`,
              '--env',
              `NAP=${nap}`,
              ...(WITH_SLURM ? ['--provider', k % 4 < 2 ? 'local' : 'slurm'] : []),
            ],
            {
              home,
              env: {...env, SKYHOP_IDENTITY: user},
            },
          ),
        )
      }
      for (const r of await Promise.all(batch)) {
        expect(r.code, r.stderr).to.equal(0)
        const out = parseEnvelope(r.stdout).result
        expect(out.agent).to.equal(true)
        ids.push(out.job.id)
      }
    }
    const store = openStore(home)
    const unfinished = () => store.listJobs({limit: 100_000}).filter((j) => !['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(j.state))
    const agents: Agent[] = [startAgent(home, env), startAgent(home, env), startAgent(home, env)]
    let kills = 0
    // Enough for the full run (200 jobs) on 2 cores with agents dying every second or so.
    const deadline = Date.now() + Math.max(300_000, n * 6_000)
    while (unfinished().length > 0 && Date.now() < deadline) {
      await sleep(300 + rand() * 1200)
      const i = Math.floor(rand() * agents.length)
      agents[i].child.kill('SIGKILL')
      await agents[i]
      kills++
      await sleep(rand() * 1000)
      agents[i] = startAgent(home, env)
    }
    const ends = await Promise.all(agents.map(stopAgent))
    for (const r of ends) expect(r.code, r.stderr).to.equal(0)
    const jobs = store.listJobs({limit: 100_000})
    const providers = new Set(ids.flatMap((id) => store.listAttempts(id).map((a) => a.provider)))
    console.log(
      `      ${kills} agents killed; ${jobs.filter((j) => j.state === 'SUCCEEDED').length}/${n} jobs succeeded in ${Math.round((Date.now() - started) / 1000)} s on ${[...providers].sort().join(' and ')}`,
    )
    expect(
      unfinished().map(
        (j) =>
          `${j.name} ${j.state} lease ${j.leaseOwner ?? 'none'}; attempts ${
            store
              .listAttempts(j.id)
              .map((a) => `${a.provider} ${a.state}`)
              .join(', ') || 'none'
          }`,
      ),
      'jobs left unfinished',
    ).to.deep.equal([])
    expect(jobs.filter((j) => j.state !== 'SUCCEEDED').map((j) => [j.name, j.state, j.reason])).to.deep.equal([])
    expect(existsSync(join(marks, 'DOUBLE')) ? readFileSync(join(marks, 'DOUBLE'), 'utf8') : '', 'jobs run twice at once').to.equal('')
    for (const id of ids) {
      expect(readFileSync(join(marks, `${id}.starts`), 'utf8'), `${id} started more than once`).to.equal('start\n')
      expect(readFileSync(join(marks, `${id}.done`), 'utf8')).to.equal('done\n')
      const attempts = store.listAttempts(id)
      expect(attempts.filter((a) => !['SUCCEEDED', 'FAILED', 'CANCELLED', 'PREEMPTED', 'LOST'].includes(a.state))).to.deep.equal([])
    }
    expect(
      readdirSync(marks).filter((f) => f.endsWith('.lock')),
      'a job still holds its lock',
    ).to.deep.equal([])
    expect(new Set(jobs.map((j) => j.owner))).to.deep.equal(new Set(['alice', 'bob']))
    store.close()
  })

  it('SIGTERM hands the work back and another agent finishes it', async () => {
    const {home, env, marks} = setup()
    const file = writeJob(home)
    const launched = runCli(['launch', file, '-y', '--detach', '--json', '--env', `MARKS=${marks}`, '--env', 'NAP=4'], {home, env})
    expect(launched.code, launched.stderr).to.equal(0)
    const id = parseEnvelope(launched.stdout).result.job.id as string
    const first = startAgent(home, env)
    await waitUntil(() => existsSync(join(marks, `${id}.starts`)), 60_000)
    const r1 = await stopAgent(first)
    expect(r1.code, r1.stderr).to.equal(0)
    const e1 = events(r1)
    expect(e1.map((e) => e.event)).to.include.members(['adopted', 'stopping', 'handed-back', 'stopped'])
    const store = openStore(home)
    expect(store.getJob(id)!.leaseOwner, 'the lease was not released').to.equal(null)
    // Released, not expired: a new agent claims it at once, without waiting out the lease.
    const second = runCli(['agent', '--once', '--json'], {home, env})
    expect(second.code, second.stderr).to.equal(0)
    const result = parseEnvelope(second.stdout.trim().split('\n').at(-1)!).result
    expect(result.work).to.have.length(1)
    expect(result.work[0]).to.include({id, outcome: 'finished', state: 'SUCCEEDED'})
    expect(readFileSync(join(marks, `${id}.starts`), 'utf8')).to.equal('start\n')
    store.close()
  })

  it('drives a sweep and a service handed to agents; only the owner (or an admin) stops the service', async () => {
    const {home, env} = setup()
    const grid = join(home, 'grid.yaml')
    writeFileSync(grid, 'name: grid\nmatrix: {a: [1, 2, 3]}\nrun: echo "a=$a"\n')
    const sweep = runCli(['sweep', grid, '-y', '--json'], {home, env: {...env, SKYHOP_IDENTITY: 'alice'}})
    expect(sweep.code, sweep.stderr).to.equal(0)
    const sweepId = parseEnvelope(sweep.stdout).result.sweep.id as string
    const store = openStore(home)
    await sleep(500)
    // No controller was started for it: it waits, unleased, for an agent.
    expect(store.getSweep(sweepId)).to.include({state: 'RUNNING', leaseOwner: null, owner: 'alice'})
    const once = runCli(['agent', '--once', '--json'], {home, env})
    expect(once.code, once.stderr).to.equal(0)
    const work = parseEnvelope(once.stdout.trim().split('\n').at(-1)!).result.work
    expect(work).to.deep.include.members([
      {kind: 'sweep', id: sweepId, name: 'grid', outcome: 'finished', state: 'SUCCEEDED', claimMs: work[0].claimMs},
    ])
    expect(store.sweepJobs(sweepId).map((j) => [j.state, j.owner])).to.deep.equal([
      ['SUCCEEDED', 'alice'],
      ['SUCCEEDED', 'alice'],
      ['SUCCEEDED', 'alice'],
    ])

    const svcFile = join(home, 'svc.yaml')
    writeFileSync(
      svcFile,
      `name: svc\nworkdir: ${join(ROOT, 'examples', 'model-server')}\nenvs: {LOAD_MS: "300", DELAY_MS: "20"}\nrun: exec node server.mjs\nrecovery: {grace: 5s}\nservice:\n  port: 8080\n  readiness: {path: /health, initial_delay: 30s, timeout: 2s}\n  replicas: 1\n`,
    )
    const up = runCli(['serve', 'up', svcFile, '--no-wait', '--json'], {home, env: {...env, SKYHOP_IDENTITY: 'alice'}})
    expect(up.code, up.stderr).to.equal(0)
    const services = new ServiceStore(store)
    const svc = services.findService('svc')
    expect(svc.owner).to.equal('alice')
    const agent = startAgent(home, env)
    try {
      await waitUntil(
        () => services.getService(svc.id)!.endpoint !== null && services.replicas(svc.id).some((r) => r.state === 'READY'),
        90_000,
      )
      expect(services.getService(svc.id)!.leaseOwner).to.match(/^agent:/)
      const denied = runCli(['serve', 'down', 'svc', '--json'], {home, env: {...env, SKYHOP_IDENTITY: 'bob'}})
      expect(denied.code).to.equal(8)
      expect(parseEnvelope(denied.stdout).error!.message).to.equal(`bob may not stop service svc (${svc.id}): it belongs to alice`)
      const preempt = runCli(['serve', 'preempt', 'svc', '--json'], {home, env: {...env, SKYHOP_IDENTITY: 'bob'}})
      expect(preempt.code).to.equal(8)
      expect(parseEnvelope(preempt.stdout).error!.code).to.equal('PERMISSION_DENIED')
      const down = runCli(['serve', 'down', 'svc', '--json'], {home, env: {...env, SKYHOP_IDENTITY: 'alice'}})
      expect(down.code, down.stderr).to.equal(0)
      expect(parseEnvelope(down.stdout).result.state).to.equal('STOPPED')
      await waitUntil(() => agent.started() && /"event":"finished","kind":"service"/.test(seenOf(agent)), 30_000)
    } finally {
      const r = await stopAgent(agent)
      expect(r.code, r.stderr).to.equal(0)
    }
    store.close()
  })

  it("a user without the admin role cannot cancel another user's job; an admin can", () => {
    const {home, env} = setup('roles: {admin: [carol]}\n')
    const file = join(home, 'sleepy.yaml')
    writeFileSync(file, 'name: sleepy\nrun: sleep 60\n')
    const launched = runCli(['launch', file, '-y', '--detach', '--json'], {home, env: {...env, SKYHOP_IDENTITY: 'alice'}})
    expect(launched.code, launched.stderr).to.equal(0)
    const id = parseEnvelope(launched.stdout).result.job.id as string
    const denied = runCli(['cancel', id, '--json'], {home, env: {...env, SKYHOP_IDENTITY: 'bob'}})
    expect(denied.code).to.equal(8)
    const error = parseEnvelope(denied.stdout).error!
    expect(error.code).to.equal('PERMISSION_DENIED')
    expect(error.message).to.equal(`bob may not cancel job sleepy (${id}): it belongs to alice`)
    const preempt = runCli(['preempt', id, '--json'], {home, env: {...env, SKYHOP_IDENTITY: 'bob'}})
    expect(preempt.code).to.equal(8)
    expect(parseEnvelope(preempt.stdout).error!.message).to.equal(`bob may not preempt job sleepy (${id}): it belongs to alice`)
    // bob sees only his own jobs unless he asks for everyone's, with the owner shown.
    const mine = runCli(['status', '--json'], {home, env: {...env, SKYHOP_IDENTITY: 'bob'}})
    expect(parseEnvelope(mine.stdout).result.jobs).to.deep.equal([])
    const all = runCli(['status', '--all-users'], {home, env: {...env, SKYHOP_IDENTITY: 'bob'}})
    expect(all.stdout)
      .to.match(/OWNER/)
      .and.match(new RegExp(`${id}\\s+sleepy\\s+PENDING\\s+alice`))
    const admin = runCli(['cancel', id, '--json'], {home, env: {...env, SKYHOP_IDENTITY: 'carol'}})
    expect(admin.code, admin.stdout).to.equal(0)
    expect(parseEnvelope(admin.stdout).result.job).to.include({state: 'CANCELLED', reason: 'cancelled by carol', owner: 'alice'})
  })

  it("a sweep starts its jobs only as its owner's budget on running spend allows; the others wait", () => {
    // Local costs 1 USD/h and dana may spend 1: one job of her sweep at a time, whatever --max-parallel says.
    const {home, env} = setup('budgets: {users: {dana: {usd_per_hour: 1}}}\n')
    const grid = join(home, 'grid.yaml')
    writeFileSync(grid, 'name: grid\nmatrix: {a: [1, 2, 3]}\nrun: sleep 1\n')
    const r = runCli(['sweep', grid, '-y', '--wait', '--max-parallel', '3', '--json'], {home, env: {...env, SKYHOP_IDENTITY: 'dana'}})
    expect(r.code, r.stderr).to.equal(0)
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines.filter((e) => e.event === 'budget-wait').length).to.be.at.least(1)
    expect(lines.find((e) => e.event === 'budget-wait').message).to.match(
      /waits: at \$1\.00\/h it does not fit in the \$0\.00\/h its owner.s budget has left/,
    )
    const store = Store.open(home)
    const sweepId = lines.at(-1).result.sweep.id as string
    const runs = store.sweepJobs(sweepId).map((j) => {
      expect(j.state).to.equal('SUCCEEDED')
      const [a] = store.listAttempts(j.id)
      return [Date.parse(a.intentAt), Date.parse(a.endedAt!)]
    })
    runs.sort((x, y) => x[0] - y[0])
    for (let i = 1; i < runs.length; i++) expect(runs[i][0], 'two jobs of the sweep ran at once').to.be.at.least(runs[i - 1][1])
    store.close()
  })

  it("enforces two users' budgets and their team's across everyone's running spend", () => {
    // Local costs 1 USD/h. alice may spend 2, bob 5; their team 3.
    const {home, env} = setup(
      'teams: {ml: [alice, bob]}\nbudgets:\n  users: {alice: {usd_per_hour: 2}, bob: {usd_per_hour: 5}}\n  teams: {ml: {usd_per_hour: 3}}\n',
    )
    const file = join(home, 'sleepy.yaml')
    writeFileSync(file, 'name: sleepy\nrun: sleep 60\n')
    const as = (user: string, name: string) =>
      runCli(['launch', file, '-y', '--detach', '--json', '--name', name], {home, env: {...env, SKYHOP_IDENTITY: user}})
    expect(as('alice', 'a1').code).to.equal(0)
    expect(as('alice', 'a2').code).to.equal(0)
    const a3 = as('alice', 'a3')
    expect(a3.code).to.equal(9)
    const e3 = parseEnvelope(a3.stdout).error!
    expect(e3.code).to.equal('BUDGET_EXCEEDED')
    expect(e3.message).to.include("alice's budget is 2.00 USD/h with 2.00 USD/h running (0.00 USD/h left)")
    expect(as('bob', 'b1').code).to.equal(0)
    // bob's own budget has room; the team's (alice's 2 + bob's 1) does not.
    const b2 = as('bob', 'b2')
    expect(b2.code).to.equal(9)
    expect(parseEnvelope(b2.stdout).error!.message).to.include("team ml's budget is 3.00 USD/h with 3.00 USD/h running (0.00 USD/h left)")
    // Spend that ends frees the budget: carol (no budget, not in the team) is not limited, and
    // once alice cancels one of hers, bob fits again.
    expect(as('carol', 'c1').code).to.equal(0)
    expect(runCli(['cancel', 'a1'], {home, env: {...env, SKYHOP_IDENTITY: 'alice'}}).code).to.equal(0)
    expect(as('bob', 'b2').code).to.equal(0)
    const all = parseEnvelope(runCli(['status', '--all-users', '--json'], {home, env}).stdout).result.jobs as Array<{name: string}>
    expect(all.map((j) => j.name).sort()).to.deep.equal(['a1', 'a2', 'b1', 'b2', 'c1'])
    // A service's minimum replicas count too: two at 1 USD/h do not fit in what the team has left.
    const svcFile = join(home, 'svc.yaml')
    writeFileSync(
      svcFile,
      `name: svc\nworkdir: ${join(ROOT, 'examples', 'model-server')}\nrun: exec node server.mjs\nservice:\n  port: 8080\n  readiness: {path: /health}\n  replicas: 2\n`,
    )
    const up = runCli(['serve', 'up', svcFile, '--no-wait', '--json'], {home, env: {...env, SKYHOP_IDENTITY: 'bob'}})
    expect(up.code, up.stdout).to.equal(9)
    expect(parseEnvelope(up.stdout).error!.message).to.include('svc would add 2.00 USD/h at the cheapest')
    expect(parseEnvelope(runCli(['serve', 'status', '--json'], {home, env}).stdout).result.services).to.deep.equal([])
  })
})
