// `skyhop serve` end to end on the local provider: the built CLI, the detached service
// controller, replicas that are real model server processes (examples/model-server), real
// HTTP through the load balancer, and load from autocannon. Run `npm run build` first.
import autocannon from 'autocannon'
import {expect} from 'chai'
import {execFileSync, spawnSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {readEvents} from '../../src/providers/attempt-dir.js'
import {LocalProvider} from '../../src/providers/local/local-provider.js'
import {ServiceStore} from '../../src/state/services.js'
import {Store} from '../../src/state/store.js'
import {ROOT, parseEnvelope, runCli, runCliAsync, tempHome} from '../helpers/cli.js'
import {sleep, until, waitUntil} from '../helpers/wait.js'

const SERVER_DIR = join(ROOT, 'examples', 'model-server')

interface World {
  home: string
  env: Record<string, string>
  cli(args: string[]): {code: number | null; stdout: string; stderr: string}
  json(args: string[]): any
  /** The same, without blocking this process: the load generator keeps running meanwhile. */
  jsonAsync(args: string[]): Promise<any>
  store(): ServiceStore
}

function world(extraEnv: Record<string, string> = {}): World {
  const home = tempHome('skyhop-serve-')
  const config = join(home, 'config.yaml')
  writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
  const env = {SKYHOP_CONFIG: config, ...extraEnv}
  let services: ServiceStore | undefined
  const w: World = {
    home,
    env,
    cli: (args) => runCli(args, {home, env}),
    json(args) {
      const r = runCli([...args, '--json'], {home, env})
      expect(r.code, `skyhop ${args.join(' ')}: ${r.stderr}\n${r.stdout}`).to.equal(0)
      return parseEnvelope(r.stdout).result
    },
    async jsonAsync(args) {
      const r = await runCliAsync([...args, '--json'], {home, env})
      expect(r.code, `skyhop ${args.join(' ')}: ${r.stderr}\n${r.stdout}`).to.equal(0)
      return parseEnvelope(r.stdout).result
    },
    store: () => (services ??= new ServiceStore(Store.open(home))),
  }
  worlds.push(w)
  return w
}
const worlds: World[] = []

function serviceFile(w: World, name: string, service: string, envs: Record<string, string | number> = {}): string {
  const file = join(w.home, `${name}.yaml`)
  const envLines = Object.entries({LOAD_MS: 300, DELAY_MS: 20, ...envs})
    .map(([k, v]) => `  ${k}: "${v}"`)
    .join('\n')
  writeFileSync(
    file,
    `name: ${name}\nworkdir: ${SERVER_DIR}\nenvs:\n${envLines}\nrun: exec node server.mjs\nrecovery: {grace: 8s}\nservice:\n  port: 8080\n  readiness: {path: /health, initial_delay: 30s, timeout: 2s}\n${service}`,
  )
  return file
}

/** Server processes of this home's replicas that are still alive. */
function liveReplicaProcesses(home: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], {encoding: 'utf8'})
  const pids: number[] = []
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line)
    if (!m || !m[2].includes('node server.mjs')) continue
    try {
      const environ = readFileSync(`/proc/${m[1]}/environ`, 'utf8')
      if (environ.includes(`SKYHOP_HOME=${home}`) || environ.includes(join(home, 'checkpoints'))) pids.push(Number(m[1]))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

const post = (url: string) => ({
  url,
  method: 'POST' as const,
  headers: {'content-type': 'application/json'},
  body: JSON.stringify({prompt: 'one two three', max_tokens: 4}),
})

describe('serve on the local provider (built CLI, real replicas, real HTTP)', function () {
  this.timeout(90_000)

  afterEach(async () => {
    for (const w of worlds.splice(0)) {
      w.cli(['serve', 'down', 'svc'])
      for (const pid of liveReplicaProcesses(w.home)) process.kill(pid, 'SIGKILL')
      const controller = execFileSync('ps', ['-eo', 'pid=,args='], {encoding: 'utf8'})
        .split('\n')
        .filter((l) => l.includes('serve-controller') && l.includes(w.home))
      for (const l of controller) process.kill(Number(l.trim().split(/\s+/)[0]), 'SIGKILL')
    }
  })

  it('up prints an endpoint on 127.0.0.1 that answers through ready replicas; status shows them; down leaves nothing running', async () => {
    const w = world()
    const up = w.json(['serve', 'up', serviceFile(w, 'svc', '  replicas: 2\n')])
    expect(up.endpoint).to.match(/^http:\/\/127\.0\.0\.1:\d+$/)
    await waitUntil(
      () =>
        w
          .store()
          .replicas(up.id)
          .filter((r) => r.state === 'READY').length === 2,
      20_000,
      100,
    )
    const r = await fetch(`${up.endpoint}/`)
    expect(r.status).to.equal(200)
    const status = w.json(['serve', 'status', 'svc'])
    expect(status.services[0].replicas.map((x: any) => [x.state, x.provider, x.spot])).to.deep.equal([
      ['READY', 'local', false],
      ['READY', 'local', false],
    ])
    expect(liveReplicaProcesses(w.home)).to.have.length(2)
    // A replica is not an attempt, but it is owned: orphan cleanup leaves the service alone.
    const orphans = w.json(['down', '--orphans', '--yes'])
    expect(JSON.stringify(orphans)).to.not.include(status.services[0].replicas[0].id)
    expect(liveReplicaProcesses(w.home)).to.have.length(2)
    const down = w.json(['serve', 'down', 'svc'])
    expect(down.state).to.equal('STOPPED')
    await waitUntil(() => liveReplicaProcesses(w.home).length === 0, 10_000, 100)
    expect(await new LocalProvider({home: w.home}).listOwned()).to.deep.equal([])
  })

  it('a notice to one replica under steady load: it serves until its drain time, 0 failed requests, and the replacement is ready before it drains', async () => {
    const w = world()
    const up = w.json(['serve', 'up', serviceFile(w, 'svc', '  replicas: 2\n')])
    await waitUntil(
      () =>
        w
          .store()
          .replicas(up.id)
          .filter((r) => r.state === 'READY').length === 2,
      20_000,
      100,
    )
    // POSTs are never retried: 0 failures means the drain kept every request off the replica in time.
    const load = autocannon({...post(`${up.endpoint}/v1/completions`), connections: 8, duration: 14})
    // Beside the load, GETs one after another, each with the replica that answered it (x-replica).
    const seen: Array<{at: number; replica: string | null; status: number}> = []
    let probing = true
    const probe = (async () => {
      while (probing) {
        const at = Date.now()
        try {
          const r = await fetch(`${up.endpoint}/`)
          await r.arrayBuffer()
          seen.push({at, replica: r.headers.get('x-replica'), status: r.status})
        } catch {
          seen.push({at, replica: null, status: 0})
        }
        await sleep(25)
      }
    })()
    await sleep(1000)
    // 12 s of grace: killed 1.5 s before its end, drained 5 s (the least drain window) before the kill.
    const preempted = await w.jsonAsync(['serve', 'preempt', 'svc', '--replica', '1', '--grace', '12s'])
    expect(preempted.replica).to.equal(1)
    const result = await load
    probing = false
    await probe
    expect(result.errors, 'transport errors').to.equal(0)
    expect(result.non2xx, 'non-2xx answers').to.equal(0)
    expect(result['2xx']).to.be.above(100)
    expect(
      seen.filter((x) => x.status !== 200),
      'GETs beside the load that failed',
    ).to.deep.equal([])
    const replicas = w.store().replicas(up.id)
    const victim = replicas.find((r) => r.n === 1)!
    expect(victim.noticeAt, 'the controller saw the notice').to.not.equal(null)
    const notice = w
      .store()
      .store.events(up.id)
      .find((e) => e.kind === 'replica-notice')!
    const noticeAt = Date.parse(victim.noticeAt!)
    const drainAt = Date.parse(notice.data.drainAt as string)
    const killAt = Date.parse(notice.data.killAt as string)
    expect(killAt - drainAt, 'drained the least window before the kill').to.equal(5000)
    expect(drainAt - noticeAt).to.be.above(3000)
    // Requests kept reaching the noticed replica after its notice, and none was sent to it after its drain time.
    const toVictim = seen.filter((x) => x.replica === '1')
    expect(
      toVictim.filter((x) => x.at > noticeAt + 1000 && x.at < drainAt).length,
      'answered by the noticed replica while it served',
    ).to.be.above(0)
    expect(
      toVictim.filter((x) => x.at > drainAt + 500).map((x) => x.at - drainAt),
      'sent to it after its drain time (ms)',
    ).to.deep.equal([])
    // Its server got the notice's SIGTERM from its runner only after the drain time (held back by
    // noticeSignalLeadSeconds), not at the notice.
    const signal = readEvents((victim.handle!.data as {attemptDir: string}).attemptDir).find((e) => e.event === 'signal')!
    expect(Date.parse(signal.ts) - drainAt, "drain time to the server's SIGTERM (ms)").to.be.within(500, 2000)
    // The replacement, launched at the notice, was ready before the noticed replica drained.
    const replacement = replicas.find((r) => r.n === 3)!
    expect(replacement.readyAt).to.not.equal(null)
    expect(Date.parse(replacement.readyAt!)).to.be.below(drainAt)
    await waitUntil(() => w.store().getReplica(victim.id)!.releasedAt !== null, 15_000, 100)
    expect(w.store().getReplica(victim.id)!.state).to.equal('PREEMPTED')
    expect(liveReplicaProcesses(w.home)).to.have.length(2)
    // `cost` counts the service like a job: its three replicas, and no time lost to the
    // preemption (a replica's work is the requests it answered, none of which failed).
    const cost = w.json(['cost', '--since', 'all'])
    const group = cost.groups.find((g: any) => g.key === up.id)
    expect(group.label).to.equal('svc')
    expect(group.attempts).to.equal(3)
    expect(group.waste.preemptionLostHours).to.equal(0)
    expect(group.paidHours).to.be.above(0)
  })

  it('a replica SIGKILLed under GET load: its requests are retried on the other, none fails; it is replaced', async () => {
    const w = world()
    const up = w.json(['serve', 'up', serviceFile(w, 'svc', '  replicas: 2\n')])
    await waitUntil(
      () =>
        w
          .store()
          .replicas(up.id)
          .filter((r) => r.state === 'READY').length === 2,
      20_000,
      100,
    )
    const load = autocannon({url: `${up.endpoint}/?delay_ms=50`, connections: 8, duration: 4})
    await sleep(1000)
    const victim = w.store().replicas(up.id)[0]
    const pgid = Number(readFileSync(join(victim.handle!.data.attemptDir as string, 'job.pgid'), 'utf8'))
    process.kill(-pgid, 'SIGKILL')
    const result = await load
    expect(result.errors, 'transport errors').to.equal(0)
    expect(result.non2xx, 'non-2xx answers').to.equal(0)
    await waitUntil(() => w.store().getReplica(victim.id)!.state === 'FAILED', 10_000, 100)
    await waitUntil(
      () =>
        w
          .store()
          .replicas(up.id)
          .filter((r) => r.state === 'READY').length === 2,
      20_000,
      100,
    )
    expect(w.json(['serve', 'status', 'svc']).services[0].replicas.map((r: any) => r.n)).to.not.include(victim.n)
  })

  it('a load ramp scales up within upscale_delay plus readiness, and back down after downscale_delay', async () => {
    const w = world()
    const file = serviceFile(
      w,
      'svc',
      '  replicas: {min: 1, max: 3, target_qps_per_replica: 20}\n  upscale_delay: 1s\n  downscale_delay: 2s\n',
    )
    const up = w.json(['serve', 'up', file])
    const ready = () =>
      w
        .store()
        .replicas(up.id)
        .filter((r) => r.state === 'READY').length
    expect(w.store().getService(up.id)!.targetReplicas).to.equal(1)
    const load = autocannon({url: `${up.endpoint}/`, connections: 4, overallRate: 80, duration: 6})
    const started = Date.now()
    await waitUntil(() => ready() === 3, 8_000, 100)
    const scaledUpAfter = Date.now() - started
    // The rate window (2 s) fills, then 1 s of upscale delay, then readiness (~0.5 s here).
    expect(scaledUpAfter).to.be.below(6000)
    const result = await load
    expect(result.non2xx + result.errors).to.equal(0)
    const quiet = Date.now()
    await waitUntil(() => w.store().getService(up.id)!.targetReplicas === 1 && ready() === 1, 15_000, 100)
    // Not before the window has emptied and the downscale delay has passed.
    expect(Date.now() - quiet).to.be.above(2000)
    const events = w
      .store()
      .store.events(up.id)
      .filter((e) => e.kind === 'service-scaled')
    expect(events.map((e) => [e.data.from, e.data.to])).to.deep.equal([
      [1, 3],
      [3, 1],
    ])
  })

  it('a p95 above slo.p95_latency scales up though the rate alone would not', async () => {
    const w = world()
    // 1,000 requests/s per replica: the rate below never asks for a second; 150 ms answers break a 50 ms SLO.
    const file = serviceFile(
      w,
      'svc',
      '  replicas: {min: 1, max: 2, target_qps_per_replica: 1000}\n  upscale_delay: 1s\n  downscale_delay: 1m\n  slo: {p95_latency: 50ms}\n',
      {DELAY_MS: 150},
    )
    const up = w.json(['serve', 'up', file])
    const load = autocannon({url: `${up.endpoint}/`, connections: 4, overallRate: 25, duration: 6})
    await waitUntil(() => w.store().getService(up.id)!.targetReplicas === 2, 10_000, 100)
    const result = await load
    expect(result.non2xx + result.errors).to.equal(0)
    const scaled = w
      .store()
      .store.events(up.id)
      .filter((e) => e.kind === 'service-scaled')
    expect(scaled.map((e) => [e.data.from, e.data.to])).to.deep.equal([[1, 2]])
    expect(scaled[0].data.sloP95Ms).to.equal(50)
    expect(scaled[0].data.p95Ms).to.be.above(50)
    expect(scaled[0].data.ratePerSecond).to.be.below(1000)
  })

  it('a rolling update under load: 0 failed requests, every replica on the new version', async () => {
    const w = world()
    const up = w.json(['serve', 'up', serviceFile(w, 'svc', '  replicas: 2\n', {MODEL_VERSION: 1})])
    await waitUntil(
      () =>
        w
          .store()
          .replicas(up.id)
          .filter((r) => r.state === 'READY').length === 2,
      20_000,
      100,
    )
    const load = autocannon({...post(`${up.endpoint}/v1/completions`), connections: 8, duration: 5})
    await sleep(500)
    const updated = await w.jsonAsync(['serve', 'update', 'svc', serviceFile(w, 'svc', '  replicas: 2\n', {MODEL_VERSION: 2})])
    expect(updated.version).to.equal(2)
    const result = await load
    expect(result.errors, 'transport errors').to.equal(0)
    expect(result.non2xx, 'non-2xx answers').to.equal(0)
    const r = await fetch(`${up.endpoint}/`)
    expect(r.headers.get('x-model-version')).to.equal('2')
    await waitUntil(
      () =>
        w
          .store()
          .unreleasedReplicas(up.id)
          .every((x) => x.version === 2),
      15_000,
      100,
    )
    expect(liveReplicaProcesses(w.home)).to.have.length(2)
  })

  it('the controller SIGKILLed: replicas keep serving; recover brings the balancer back on its port; none is orphaned', async () => {
    const w = world({SKYHOP_LEASE_TTL_SECONDS: '1'})
    const up = w.json(['serve', 'up', serviceFile(w, 'svc', '  replicas: 2\n')])
    await waitUntil(
      () =>
        w
          .store()
          .replicas(up.id)
          .filter((r) => r.state === 'READY').length === 2,
      20_000,
      100,
    )
    const replicas = w.store().replicas(up.id)
    const line = execFileSync('ps', ['-eo', 'pid=,args='], {encoding: 'utf8'})
      .split('\n')
      .find((l) => l.includes(`serve-controller ${up.id}`))!
    process.kill(Number(line.trim().split(/\s+/)[0]), 'SIGKILL')
    await sleep(300)
    // The replicas are not the controller's children: they still answer.
    for (const r of replicas) expect((await fetch(`${r.address}/`)).status).to.equal(200)
    await sleep(1200) // the lease (1 s) runs out
    const recovered = w.json(['recover'])
    expect(recovered.restartedServices).to.deep.equal([up.id])
    await waitUntil(() => w.store().getService(up.id)!.leaseOwner !== null, 10_000, 100)
    // The new controller listens once its balancer thread has started, on the same port.
    const answered = await until(
      () =>
        fetch(`${up.endpoint}/`)
          .then((r) => r.status)
          .catch((error: Error) => error.message),
      (status) => status === 200,
      10_000,
      200,
    )
    expect(answered).to.equal(200)
    // The same two replicas, adopted; nothing new launched and nothing left unowned.
    expect(
      w
        .store()
        .unreleasedReplicas(up.id)
        .map((r) => r.id),
    ).to.deep.equal(replicas.map((r) => r.id))
    expect(liveReplicaProcesses(w.home)).to.have.length(2)
  })

  it('an API key from the environment of serve up: required at the endpoint, never stored, logged or forwarded', async () => {
    const key = 'sk-serve-test-7f3a9c'
    const w = world({SVC_KEY: key})
    const up = w.json(['serve', 'up', serviceFile(w, 'svc', '  replicas: 1\n  api_key_env: SVC_KEY\n')])
    expect((await fetch(`${up.endpoint}/`)).status).to.equal(401)
    const ok = await fetch(`${up.endpoint}/headers`, {headers: {authorization: `Bearer ${key}`}})
    expect(ok.status).to.equal(200)
    expect(JSON.stringify(await ok.json())).to.not.include(key)
    w.json(['serve', 'status', 'svc'])
    w.json(['serve', 'down', 'svc'])
    // The store, the controller's log, the replicas' attempt directories: no file holds the key.
    const leaks = spawnSync('grep', ['-rl', key, w.home], {encoding: 'utf8'})
    expect(leaks.status, leaks.stdout).to.equal(1)
  })

  it('bad input: a file without service:, an unset key variable, an unknown service', () => {
    const w = world()
    const job = join(w.home, 'job.yaml')
    writeFileSync(job, 'name: plain\nrun: echo hi\n')
    const noBlock = w.cli(['serve', 'up', job, '--json'])
    expect(noBlock.code).to.equal(3)
    expect(parseEnvelope(noBlock.stdout).error!.code).to.equal('SERVICE_BLOCK_MISSING')
    const noKey = w.cli(['serve', 'up', serviceFile(w, 'svc', '  api_key_env: NOT_SET_ANYWHERE\n'), '--json'])
    expect(noKey.code).to.equal(2)
    expect(parseEnvelope(noKey.stdout).error!.code).to.equal('SECRET_MISSING')
    const unknown = w.cli(['serve', 'status', 'nope', '--json'])
    expect(unknown.code).to.equal(2)
    expect(parseEnvelope(unknown.stdout).error!.code).to.equal('SERVICE_NOT_FOUND')
    // Nothing was recorded by the refused commands.
    expect(w.store().listServices()).to.deep.equal([])
  })

  it('down with no controller alive stops the replicas itself', async () => {
    const w = world({SKYHOP_LEASE_TTL_SECONDS: '1'})
    const up = w.json(['serve', 'up', serviceFile(w, 'svc', '  replicas: 2\n')])
    await waitUntil(
      () =>
        w
          .store()
          .replicas(up.id)
          .filter((r) => r.state === 'READY').length === 2,
      20_000,
      100,
    )
    const line = execFileSync('ps', ['-eo', 'pid=,args='], {encoding: 'utf8'})
      .split('\n')
      .find((l) => l.includes(`serve-controller ${up.id}`))!
    process.kill(Number(line.trim().split(/\s+/)[0]), 'SIGKILL')
    await sleep(1200)
    const down = w.json(['serve', 'down', 'svc'])
    expect(down.state).to.equal('STOPPED')
    expect(w.store().unreleasedReplicas(up.id)).to.deep.equal([])
    await waitUntil(() => liveReplicaProcesses(w.home).length === 0, 10_000, 100)
  })
})
