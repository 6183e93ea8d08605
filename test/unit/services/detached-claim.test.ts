// A detached `launch`, `sweep` or `serve up` records its job, sweep or service already
// claimed for the controller it starts (and a Ctrl-C hand-off claims the job again before it starts
// the background controller) (docs/recovery.md#when-a-controller-dies). Proved by
// forcing a real `recover` (a process of its own, test/helpers/recover-once.ts) between every
// two steps: after each write the launch makes to the store, and just before the controller
// would be started. Recorded first and claimed after, the first of those recovers finds the
// new job unleased and starts a second controller for it.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {AppContext} from '../../../src/cli/context.js'
import {LEASE_TTL_MS} from '../../../src/controller/controller.js'
import type {Replanner} from '../../../src/planner/replanner.js'
import {InterruptedError} from '../../../src/errors.js'
import {handOff} from '../../../src/services/foreground.js'
import {startJob} from '../../../src/services/launch.js'
import {serveUp} from '../../../src/services/serve.js'
import {prepareSweep, startSweep} from '../../../src/services/sweep.js'
import {ServiceStore} from '../../../src/state/services.js'
import {Store} from '../../../src/state/store.js'
import {testJobSpec} from '../../helpers/job-spec.js'
import {databaseEnv} from '../../helpers/pg-suite.js'

const RECOVER_ONCE = fileURLToPath(new URL('../../helpers/recover-once.ts', import.meta.url))

/** The store writes a launch makes; each is followed by a recover. */
const WRITES = /^(create|add|claim|record|set|update|release|acquire|handOver)/

interface Forced {
  /** What every forced recover restarted, in order. */
  restarted: Array<{after: string; id: string; command: string}>
  /** How many recovers were forced. */
  runs: number
}

function recoverNow(home: string, after: string, forced: Forced): void {
  const out = execFileSync(process.execPath, ['--import', 'tsx', RECOVER_ONCE, home], {
    encoding: 'utf8',
    timeout: 60_000,
    env: {...process.env, ...databaseEnv(home)},
  })
  forced.runs++
  for (const s of JSON.parse(out) as Array<{id: string; command: string}>) forced.restarted.push({after, ...s})
}

/** The store as the launch sees it: a real recover runs after each of its writes returns. */
function racedStore(store: Store, home: string, forced: Forced): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown
      if (typeof value !== 'function') return value
      const method = value as (...args: unknown[]) => unknown
      if (typeof key !== 'string' || !WRITES.test(key)) return method.bind(target)
      return (...args: unknown[]) => {
        const result = method.apply(target, args)
        recoverNow(home, key, forced)
        return result
      }
    },
  })
}

/** The controller start a launch makes, recorded after one more forced recover. */
function racedSpawn(home: string, forced: Forced, spawned: Array<{id: string; command: string; owner?: string}>) {
  return (_home: string, id: string, command: 'controller' | 'sweep-controller' | 'serve-controller' = 'controller', owner?: string) => {
    recoverNow(home, 'before the controller starts', forced)
    spawned.push({id, command, owner})
  }
}

class TestContext extends AppContext {
  constructor(
    home: string,
    private readonly raced: Store,
  ) {
    super(home, () => undefined)
  }

  override async store(): Promise<Store> {
    return this.raced
  }
}

describe('a detached launch, sweep or serve up is recorded already claimed for its controller', function () {
  this.timeout(240_000)
  let home: string
  let store: Store
  let forced: Forced
  let spawned: Array<{id: string; command: string; owner?: string}>
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'skyhop-detached-claim-'))
    store = Store.open(home)
    forced = {restarted: [], runs: 0}
    spawned = []
  })
  afterEach(() => {
    store.close()
    rmSync(home, {recursive: true, force: true})
  })

  it('launch: no recover forced after any step starts a second controller; the one started holds the claim and takes it over', async () => {
    const result = await startJob({
      store: racedStore(store, home, forced),
      providers: new Map(),
      replan: (async () => {
        throw new Error('a detached launch does not plan in this process')
      }) as unknown as Replanner,
      home,
      spec: testJobSpec({name: 'raced', run: 'true'}),
      file: null,
      options: {},
      wait: false,
      // A step between the recording and the controller's start, as `accelerators: auto` makes.
      events: [{kind: 'auto-resolved', data: {}}],
      spawn: racedSpawn(home, forced, spawned),
    })
    expect(forced.runs).to.be.at.least(2)
    expect(forced.restarted).to.deep.equal([])
    const job = store.getJob(result.job.id)!
    expect(spawned).to.deep.equal([{id: job.id, command: 'controller', owner: job.leaseOwner}])
    expect(job.leaseExpiresAt! - Date.now()).to.be.greaterThan(LEASE_TTL_MS)
    expect(store.handOverJobLease(job.id, job.leaseOwner!, 'the-controller', LEASE_TTL_MS)).to.equal(true)
  })

  it('sweep: the sweep is recorded claimed, so no forced recover restarts it or its jobs', async () => {
    const file = join(home, 'grid.yaml')
    writeFileSync(file, 'name: grid\nrun: "true"\nmatrix:\n  lr: [1, 2]\n')
    const ctx = new TestContext(home, racedStore(store, home, forced))
    const prepared = await prepareSweep(ctx, {file, sets: {}, budget: null})
    const before = forced.runs
    const result = await startSweep(ctx, prepared, {maxParallel: 2, wait: false, spawn: racedSpawn(home, forced, spawned)})
    expect(forced.runs - before).to.be.at.least(1)
    expect(forced.restarted).to.deep.equal([])
    const sweep = store.getSweep(result.sweep.id)!
    expect(spawned).to.deep.equal([{id: sweep.id, command: 'sweep-controller', owner: sweep.leaseOwner}])
    expect(store.handOverSweepLease(sweep.id, sweep.leaseOwner!, 'the-controller', LEASE_TTL_MS)).to.equal(true)
  })

  it('Ctrl-C hand-off: the job is claimed before its background controller starts; one a recover started first is left to it', () => {
    const spec = testJobSpec({name: 'waited', run: 'true'})
    // As the interrupted foreground controller leaves it: recorded, its lease let go.
    const job = store.createJob({name: 'waited', file: null, spec})
    const handOffNow = (id: string) => () =>
      handOff(racedStore(store, home, forced), home, {id, command: 'controller'}, `job ${id}`, {
        hint: 'h',
        spawn: racedSpawn(home, forced, spawned),
      })
    expect(handOffNow(job.id)).to.throw(InterruptedError)
    expect(forced.restarted).to.deep.equal([])
    expect(spawned).to.deep.equal([{id: job.id, command: 'controller', owner: store.getJob(job.id)!.leaseOwner}])
    // A recover that claimed it first started its controller: the hand-off starts none.
    const other = store.createJob({name: 'other', file: null, spec})
    expect(store.claimJobLease(other.id, 'a-recover', LEASE_TTL_MS)).to.equal(true)
    spawned.length = 0
    expect(handOffNow(other.id)).to.throw(InterruptedError)
    expect(spawned).to.deep.equal([])
    expect(store.getJob(other.id)!.leaseOwner).to.equal('a-recover')
  })

  it('serve up: the service is recorded claimed, so no forced recover restarts it', async () => {
    const file = join(home, 'svc.yaml')
    writeFileSync(file, 'name: svc\nrun: exec sleep 60\nservice:\n  port: 8080\n  replicas:\n    min: 1\n    max: 1\n')
    const ctx = new TestContext(home, racedStore(store, home, forced))
    const summary = await serveUp(ctx, {file, wait: false, spawn: racedSpawn(home, forced, spawned)})
    expect(forced.runs).to.be.at.least(2)
    expect(forced.restarted).to.deep.equal([])
    const services = new ServiceStore(store)
    const svc = services.getService(summary.id)!
    expect(spawned).to.deep.equal([{id: svc.id, command: 'serve-controller', owner: svc.leaseOwner}])
    expect(services.handOverLease(svc.id, svc.leaseOwner!, 'the-controller', LEASE_TTL_MS)).to.equal(true)
  })
})
