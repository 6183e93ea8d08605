// Several `skyhop recover` at once on one store: each orphaned job (and sweep) is claimed by
// exactly one of them (a compare-and-set on its lease), so exactly one controller is started
// for it, and that controller takes the claim over under its own name. In process first
// (deterministic: every recover sees every job orphaned), then with real processes: jobs
// whose detached controllers were SIGKILLed, four recovers at once, each job run once.
import {expect} from 'chai'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {LEASE_TTL_MS} from '../../src/controller/controller.js'
import {claimTtlMs} from '../../src/services/controller-process.js'
import {recoverJobs} from '../../src/services/recover.js'
import {Store} from '../../src/state/store.js'
import {ServiceStore} from '../../src/state/services.js'
import {parseEnvelope, runCliAsync, tempHome} from '../helpers/cli.js'
import {testJobSpec} from '../helpers/job-spec.js'
import {until} from '../helpers/wait.js'

describe('concurrent recovers claim each job once', function () {
  this.timeout(120_000)

  it('in process: four recovers over six orphaned jobs start five controllers in all (the sixth is held), each under the lease it claimed', async () => {
    const home = tempHome('skyhop-recover-claim-')
    const setup = Store.open(home)
    const ids = Array.from(
      {length: 6},
      (_, i) => setup.createJob({name: `j${i}`, file: null, spec: testJobSpec({name: `j${i}`, run: 'true'})}).id,
    )
    // One of them has a live controller: nobody may claim it.
    expect(setup.acquireLease(ids[5], 'elsewhere:1:live', 60_000)).to.equal(true)
    const spawned: Array<{id: string; owner: string | undefined}> = []
    const stores = Array.from({length: 4}, () => Store.open(home))
    try {
      const results = await Promise.all(
        stores.map((store) =>
          recoverJobs({store, providers: new Map(), home, spawn: (_h, id, _c, owner) => void spawned.push({id, owner})}),
        ),
      )
      const restarted = results.flatMap((r) => r.restarted)
      expect([...restarted].sort()).to.deep.equal(ids.slice(0, 5).sort())
      expect(spawned.map((s) => s.id).sort()).to.deep.equal(ids.slice(0, 5).sort())
      for (const s of spawned) {
        expect(s.owner).to.be.a('string')
        expect(setup.getJob(s.id)!.leaseOwner).to.equal(s.owner)
      }
      expect(setup.getJob(ids[5])!.leaseOwner).to.equal('elsewhere:1:live')
      // A claim is a fresh owner's: a second claim of a held lease fails, and the claimant hands it over once.
      const claimed = spawned[0]
      expect(setup.claimJobLease(claimed.id, 'other:2:x', 60_000)).to.equal(false)
      expect(setup.handOverJobLease(claimed.id, claimed.owner!, 'host:3:mine', 60_000)).to.equal(true)
      expect(setup.handOverJobLease(claimed.id, claimed.owner!, 'host:4:late', 60_000)).to.equal(false)
      expect(setup.getJob(claimed.id)!.leaseOwner).to.equal('host:3:mine')
    } finally {
      for (const s of stores) s.close()
      setup.close()
    }
  })

  it('in process: a claim holds while its controller starts, past a heartbeat lease (a recover meanwhile leaves the job); one whose controller never came is taken after the start deadline', async () => {
    const home = tempHome('skyhop-recover-slow-start-')
    let now = Date.parse('2026-03-01T00:00:00Z')
    const store = Store.open(home, {clock: () => new Date(now)})
    const spawned: Array<{id: string; owner: string | undefined}> = []
    const recover = () => recoverJobs({store, providers: new Map(), home, spawn: (_h, id, _c, owner) => void spawned.push({id, owner})})
    try {
      const slow = store.createJob({name: 'slow', file: null, spec: testJobSpec({name: 'slow', run: 'true'})}).id
      expect((await recover()).restarted).to.deep.equal([slow])
      // Its controller is still starting (a loaded machine) when a heartbeat's lease has passed and
      // another recover runs: the claim is not an orphan's, so no second controller is started and
      // the first one still takes the job over (before, the second recover took the claim, the first
      // controller gave up, and a recover every few seconds kept the job from ever being driven).
      now += LEASE_TTL_MS + 1000
      expect((await recover()).restarted).to.deep.equal([])
      expect(store.handOverJobLease(slow, spawned[0].owner!, 'host:3:slow', LEASE_TTL_MS)).to.equal(true)

      const never = store.createJob({name: 'never', file: null, spec: testJobSpec({name: 'never', run: 'true'})}).id
      now += 1000
      expect((await recover()).restarted).to.deep.equal([never])
      // Its controller died before taking the claim over: once the start deadline passed, the job is an orphan again.
      now += claimTtlMs(LEASE_TTL_MS) + 1000
      expect((await recover()).restarted).to.include(never)
      expect(spawned.filter((s) => s.id === never)).to.have.length(2)
    } finally {
      store.close()
    }
  })

  it('in process: a controller that exits before taking its claim over is started again at once, not left holding the job for the start deadline', async () => {
    const home = tempHome('skyhop-recover-dies-')
    const store = Store.open(home)
    try {
      const id = store.createJob({name: 'dies', file: null, spec: testJobSpec({name: 'dies', run: 'true'})}).id
      const owners: string[] = []
      // The first controller dies while it loads (exit 1, claim untouched); the second takes the job over.
      const spawn = (_h: string, _id: string, _c?: string, owner?: string) => {
        owners.push(owner!)
        if (owners.length === 1) return {exited: Promise.resolve(1)}
        expect(store.handOverJobLease(id, owner!, 'host:2:second', LEASE_TTL_MS)).to.equal(true)
        return {exited: new Promise<number | null>(() => undefined)}
      }
      const result = await recoverJobs({store, providers: new Map(), home, spawn})
      expect(owners).to.have.length(2)
      expect(owners[0]).to.not.equal(owners[1])
      expect(result.restarted).to.deep.equal([id])
      expect(result.partial).to.equal(false)
      expect(store.getJob(id)!.leaseOwner).to.equal('host:2:second')
      const kinds = store.events(id).map((e) => e.kind)
      expect(kinds).to.include('controller-exited-at-start')
      expect(kinds.filter((k) => k === 'controller-restarted')).to.have.length(1)
    } finally {
      store.close()
    }
  })

  it('in process: a controller that exits before taking over twice is reported (CONTROLLER_EXITED, partial) and its claim let go, so the next recover takes the job at once', async () => {
    const home = tempHome('skyhop-recover-dies-twice-')
    const store = Store.open(home)
    try {
      const id = store.createJob({name: 'dies', file: null, spec: testJobSpec({name: 'dies', run: 'true'})}).id
      let spawned = 0
      const dying = () => {
        spawned++
        return {exited: Promise.resolve(1)}
      }
      const result = await recoverJobs({store, providers: new Map(), home, spawn: dying})
      expect(spawned).to.equal(2)
      expect(result.restarted).to.deep.equal([])
      expect(result.partial).to.equal(true)
      const step = result.actions.find((a) => a.step === 'restart-controller')!
      expect(step).to.deep.include({jobId: id, ok: false, code: 'CONTROLLER_EXITED'})
      expect(step.message)
        .to.include('exited (code 1) before taking the job over')
        .and.include(join(home, 'controllers', `${id}.log`))
      expect(store.getJob(id)!.leaseOwner).to.equal(null)
      // A recover right after (not a minute later) starts it.
      const next = await recoverJobs({store, providers: new Map(), home, spawn: () => undefined})
      expect(next.restarted).to.deep.equal([id])
    } finally {
      store.close()
    }
  })

  it('in process: a sweep controller that exits before taking its claim over is started again; twice is CONTROLLER_EXITED with the claim let go', async () => {
    const home = tempHome('skyhop-recover-sweep-dies-')
    const store = Store.open(home)
    try {
      const spec = testJobSpec({name: 'grid', run: 'true'})
      const {sweep} = store.createSweep({name: 'grid', file: null, spec, budgetUsd: null, options: {}, plan: null}, [
        {name: 'grid-1', file: null, spec, options: {}, matrix: {lr: 1}},
      ])
      const owners: string[] = []
      const once = await recoverJobs({
        store,
        providers: new Map(),
        home,
        spawn: (_h, id, _c, owner) => {
          owners.push(owner!)
          if (owners.length === 1) return {exited: Promise.resolve(null)}
          expect(store.handOverSweepLease(id, owner!, 'host:5:sweep', LEASE_TTL_MS)).to.equal(true)
          return {exited: new Promise<number | null>(() => undefined)}
        },
      })
      expect(owners).to.have.length(2)
      expect(once.restartedSweeps).to.deep.equal([sweep.id])
      expect(store.getSweep(sweep.id)!.leaseOwner).to.equal('host:5:sweep')

      const other = store.createSweep({name: 'grid2', file: null, spec, budgetUsd: null, options: {}, plan: null}, [
        {name: 'grid2-1', file: null, spec, options: {}, matrix: {lr: 2}},
      ]).sweep
      let spawned = 0
      const twice = await recoverJobs({
        store,
        providers: new Map(),
        home,
        spawn: (_h, id) => {
          expect(id).to.equal(other.id)
          spawned++
          return {exited: Promise.resolve(null)}
        },
      })
      expect(spawned).to.equal(2)
      expect(twice.restartedSweeps).to.deep.equal([])
      expect(twice.partial).to.equal(true)
      const step = twice.actions.find((a) => a.step === 'restart-sweep-controller')!
      expect(step).to.deep.include({sweepId: other.id, ok: false, code: 'CONTROLLER_EXITED'})
      expect(step.message).to.include('exited (code none: a signal) before taking the sweep over, twice')
      expect(store.getSweep(other.id)!.leaseOwner).to.equal(null)
    } finally {
      store.close()
    }
  })

  it('in process: a service controller that exits before taking its claim over is started again; twice is CONTROLLER_EXITED with the claim let go', async () => {
    const home = tempHome('skyhop-recover-service-dies-')
    const store = Store.open(home)
    const services = new ServiceStore(store)
    try {
      const spec = testJobSpec({name: 'svc', run: 'true'})
      const svc = services.createService({name: 'svc', file: null, spec})
      const owners: string[] = []
      const once = await recoverJobs({
        store,
        providers: new Map(),
        home,
        spawn: (_h, id, _c, owner) => {
          owners.push(owner!)
          if (owners.length === 1) return {exited: Promise.resolve(1)}
          expect(services.handOverLease(id, owner!, 'host:6:svc', LEASE_TTL_MS)).to.equal(true)
          return {exited: new Promise<number | null>(() => undefined)}
        },
      })
      expect(owners).to.have.length(2)
      expect(once.restartedServices).to.deep.equal([svc.id])
      expect(services.getService(svc.id)!.leaseOwner).to.equal('host:6:svc')

      const other = services.createService({name: 'svc2', file: null, spec})
      let spawned = 0
      const twice = await recoverJobs({
        store,
        providers: new Map(),
        home,
        spawn: () => {
          spawned++
          return {exited: Promise.resolve(1)}
        },
      })
      expect(spawned).to.equal(2)
      expect(twice.restartedServices).to.deep.equal([])
      expect(twice.partial).to.equal(true)
      const step = twice.actions.find((a) => a.step === 'restart-service-controller')!
      expect(step).to.deep.include({serviceId: other.id, ok: false, code: 'CONTROLLER_EXITED'})
      expect(services.getService(other.id)!.leaseOwner).to.equal(null)
    } finally {
      store.close()
    }
  })

  it('real processes: controllers SIGKILLed, four `recover`s at once: each job restarted once, run once, all succeed', async () => {
    const home = tempHome('skyhop-recover-race-')
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
    // A lease of 3 s, not 1: the restarted controllers heartbeat at it while the four recovers
    // still run, and on a loaded machine (CI's load reaches 16 on 2 cores) a heartbeat a second
    // late let a recover still at work claim a driven job again (a duplicate in `restarted`).
    const ttlSeconds = 3
    const env = {SKYHOP_CONFIG: config, SKYHOP_LEASE_TTL_SECONDS: String(ttlSeconds)}
    const marks = join(home, 'marks')
    const jobIds: string[] = []
    for (let i = 0; i < 4; i++) {
      const file = join(home, `j${i}.yaml`)
      writeFileSync(file, `name: race-${i}\nrun: |\n  echo "start race-${i}" >> ${marks}\n  sleep 3\n  echo "end race-${i}" >> ${marks}\n`)
      const r = await runCliAsync(['launch', file, '--yes', '--json'], {home, env})
      expect(r.code, r.stderr).to.equal(0)
      jobIds.push(parseEnvelope(r.stdout).result.job.id as string)
    }
    const store = Store.open(home)
    try {
      // Each detached controller holds its job under its own name (host:pid:…) once it runs: kill it.
      for (const id of jobIds) {
        const owner = await until(
          async () => store.getJob(id)!.leaseOwner,
          (o) => o !== null && Number(o.split(':')[1]) !== 0 && isAlive(Number(o.split(':')[1])) && store.listAttempts(id).length > 0,
          30_000,
          50,
        )
        process.kill(Number(owner!.split(':')[1]), 'SIGKILL')
      }
      await new Promise((resolve) => setTimeout(resolve, ttlSeconds * 1000 + 500)) // the leases expire
      const recovers = await Promise.all(Array.from({length: 4}, () => runCliAsync(['recover', '--json'], {home, env})))
      const restarted: string[] = []
      for (const r of recovers) {
        expect(r.code, r.stderr).to.equal(0)
        restarted.push(...(parseEnvelope(r.stdout).result.restarted as string[]))
      }
      expect(restarted.sort()).to.deep.equal([...jobIds].sort())
      await until(
        async () => jobIds.map((id) => store.getJob(id)!.state),
        (states) => states.every((s) => s === 'SUCCEEDED'),
        60_000,
        250,
      ).catch((error: Error) => {
        // What each job went through and what its controllers said: a stuck job explains itself.
        const told = jobIds.map((id) => {
          const events = store.events(id).map((e) => `${e.ts} ${e.kind} ${JSON.stringify(e.data)}`)
          const log = join(home, 'controllers', `${id}.log`)
          return [
            `job ${id}: ${store.getJob(id)!.state}, lease ${store.getJob(id)!.leaseOwner}`,
            ...events,
            existsSync(log) ? readFileSync(log, 'utf8') : '(no controller log)',
          ].join('\n  ')
        })
        throw new Error(`${error.message}\n${told.join('\n')}`)
      })
      for (const id of jobIds) expect(store.listAttempts(id).map((a) => a.state)).to.deep.equal(['SUCCEEDED'])
      const lines = existsSync(marks) ? readFileSync(marks, 'utf8').trim().split('\n') : []
      for (let i = 0; i < 4; i++)
        expect(
          lines.filter((l) => l === `start race-${i}`),
          `race-${i}`,
        ).to.have.length(1)
    } finally {
      store.close()
    }
  })
})

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
