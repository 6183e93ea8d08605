// The sweep controller starts jobs as the plan's capacity allows, counted the way the
// planner counts it: in instances (a job takes one slot per node), per offer (two offers
// of one instance type with different accelerators keep their own capacity). A fake cloud
// records how many instances of each offer run at once; its jobs end after a set time.
import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {gatherPlanningInputs} from '../../../src/services/planning.js'
import {planSweepJobs, recordSweep, runSweep} from '../../../src/services/sweep.js'
import type {Offer} from '../../../src/model/catalog.js'
import type {LaunchRequest, Provider} from '../../../src/providers/provider.js'
import type {LaunchHandle, PollResult} from '../../../src/model/attempt.js'
import {loadJobFile} from '../../../src/job/load.js'
import {Store} from '../../../src/state/store.js'
import {testConfig} from '../../helpers/controller-world.js'

interface Run {
  slot: string
  nodes: number
  startedMs: number
  endsMs: number
}

/** A cloud whose jobs run `durationMs(slot)`; a slot is instanceType + accelerator, what the catalog tells apart. */
class TimedCloud implements Provider {
  readonly name = 'aws'
  /** It launches a multi-node job's instances as one gang (Provider.maxNodes). */
  readonly maxNodes = 8
  readonly runs = new Map<string, Run>()
  /** Most instances of each slot running at once, seen at each launch. */
  readonly peak = new Map<string, number>()
  /** Most jobs running at once, over all slots. */
  peakJobs = 0
  /** Launches whose request carried another offer than the one the controller chose. */
  readonly wrongOffer: string[] = []

  constructor(
    private readonly store: () => Store,
    private readonly durationMs: (slot: string) => number,
    /** Offers it reports itself (as the local provider does), instead of a catalog file's. */
    live: Offer[] | null = null,
  ) {
    if (live !== null) this.liveOffers = async () => live
  }

  liveOffers?: () => Promise<Offer[]>

  async check() {
    return {provider: 'aws', ok: true, source: null, message: 'fake'}
  }

  async launch(request: LaunchRequest): Promise<LaunchHandle> {
    // The attempt the controller recorded says which offer it chose; the request must carry that offer.
    const attempt = this.store().getAttempt(request.attemptId)!
    const slot = `${attempt.instanceType}|${attempt.accelerator}:${attempt.acceleratorCount}`
    const sent = `${request.offer.instanceType}|${request.offer.accelerator?.name ?? null}:${request.offer.accelerator?.count ?? null}`
    if (sent !== slot) this.wrongOffer.push(`${slot} launched with ${sent}`)
    const now = Date.now()
    this.runs.set(request.attemptId, {slot, nodes: request.spec.nodes, startedMs: now, endsMs: now + this.durationMs(slot)})
    const live = [...this.runs.values()].filter((r) => r.endsMs > now)
    const instances = live.filter((r) => r.slot === slot).reduce((n, r) => n + r.nodes, 0)
    this.peak.set(slot, Math.max(this.peak.get(slot) ?? 0, instances))
    this.peakJobs = Math.max(this.peakJobs, live.length)
    return {provider: 'aws', externalId: request.attemptId, region: 'r1', zone: null, data: {}}
  }

  async poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>> {
    const out = new Map<string, PollResult>()
    const now = Date.now()
    for (const h of handles) {
      const r = this.runs.get(h.externalId)!
      const startedAt = new Date(r.startedMs).toISOString()
      out.set(
        h.externalId,
        r.endsMs > now
          ? {state: 'RUNNING', exitCode: null, reason: null, startedAt, endedAt: null}
          : {state: 'SUCCEEDED', exitCode: 0, reason: null, startedAt, endedAt: new Date(r.endsMs).toISOString()},
      )
    }
    return out
  }

  async *logs(): AsyncIterable<string> {}
  async signal(): Promise<void> {}
  async cleanup(): Promise<void> {}
}

const offer = (instanceType: string, accelerator: string, onDemand: number, capacity: number) => ({
  provider: 'aws',
  region: 'r1',
  zone: null,
  instanceType,
  accelerator: {name: accelerator, count: 1},
  vcpus: 8,
  memoryGiB: 32,
  price: {onDemand, spot: null, currency: 'USD'},
  capacity,
  source: 'sweep-slots test',
  asOf: '2026-01-01',
  confidence: 'high',
})

/** offers: a catalog file's, or with `live` the provider's own live offers. */
async function sweepWith(offers: unknown[], jobYaml: string, maxParallel: number, durationMs: (slot: string) => number, live = false) {
  const home = mkdtempSync(join(tmpdir(), 'skyhop-sweep-slots-'))
  const store = Store.open(home)
  try {
    let catalogFile: string | undefined
    if (!live) {
      catalogFile = join(home, 'offers.json')
      writeFileSync(catalogFile, JSON.stringify({offers}))
    }
    const cloud = new TimedCloud(() => store, durationMs, live ? (offers as Offer[]) : null)
    const providers = new Map<string, Provider>([['aws', cloud]])
    const inputs = await gatherPlanningInputs({home, config: testConfig(), providers, catalogFile, store})
    const file = join(home, 'job.yaml')
    writeFileSync(file, jobYaml)
    const planned = await planSweepJobs({spec: loadJobFile(file).spec, file, sets: {}, budget: null, env: {}}, inputs)
    const {sweep} = recordSweep(store, planned, {maxParallel, budget: null, catalogFile})
    const run = await runSweep(sweep.id, {store, providers, inputs, home, owner: 'test', tickMs: 20, pollIntervalMs: 10})
    expect(run.finished).to.equal(true)
    expect(store.getSweep(sweep.id)!.state, JSON.stringify(store.sweepJobs(sweep.id).map((j) => [j.state, j.reason]))).to.equal('SUCCEEDED')
    return {plan: planned.plan, cloud}
  } finally {
    store.close()
    rmSync(home, {recursive: true, force: true})
  }
}

describe('sweep controller: offer capacity', function () {
  this.timeout(30_000)

  it('counts instances, not jobs: two 2-node jobs never run at once on an offer with capacity 2', async () => {
    const {plan, cloud} = await sweepWith(
      [offer('p.2x', 'A10G', 1, 2)],
      'name: two-nodes\nnodes: 2\nresources: {accelerators: A10G:1}\nwork: {hours: 1}\nmatrix: {seed: [1, 2, 3]}\nrun: echo $seed\n',
      3,
      () => 300,
    )
    // The plan runs them one after the other: each takes both instances.
    expect(plan.assignments.map((a) => a.waitForSlotHours > 0)).to.deep.equal([false, true, true])
    expect(plan.usage).to.have.length(1)
    expect(plan.usage[0]).to.include({instances: 2, capacity: 2})
    expect(cloud.peak.get('p.2x|A10G:1')).to.equal(2)
    expect(cloud.peakJobs).to.equal(1)
  })

  it('keeps each offer its own capacity when two offers share an offer key', async () => {
    // One instance type sold with an L4 (capacity 1; the cheaper job, the registry's L4 being
    // the faster) and with an A10G (capacity 2): the plan puts a job on the L4, two on the
    // A10G, and the fourth waits for the L4. Jobs on the L4 run long, on the A10G briefly.
    const {plan, cloud} = await sweepWith(
      [offer('g.x', 'L4', 1.5, 1), offer('g.x', 'A10G', 1, 2)],
      'name: shared-key\nresources: {accelerators: [A10G:1, L4:1]}\nwork: {hours: 1}\nmatrix: {seed: [1, 2, 3, 4]}\nrun: echo $seed\n',
      4,
      (slot) => (slot.includes('L4') ? 1500 : 150),
    )
    expect(plan.assignments.map((a) => [a.candidate?.accelerator?.name, a.waitForSlotHours > 0])).to.deep.equal([
      ['L4', false],
      ['A10G', false],
      ['A10G', false],
      ['L4', true],
    ])
    expect(plan.usage.map((u) => [u.offerKey, u.capacity])).to.deep.equal([
      ['aws/r1/-/g.x', 1],
      ['aws/r1/-/g.x', 2],
    ])
    // Three at once, as planned, and never two on the L4 offer.
    expect(cloud.peakJobs).to.equal(3)
    expect(cloud.peak.get('g.x|L4:1')).to.equal(1)
    expect(cloud.peak.get('g.x|A10G:1')).to.equal(2)
    // Each launch carried its own offer, not the other one of the same offer key.
    expect(cloud.wrongOffer).to.deep.equal([])
  })

  it('holds the offers of a capacity pool to the pool together, as the plan does', async () => {
    // One machine's two cards under one limit of 2 at once (the local provider's shape), each
    // offer with room for 2 of its own. The A10G is the cheap one but slow: two jobs take the
    // pool on it; the third, which waiting for an A10G would make late, is planned on the H100
    // once the pool frees, though the H100 offer itself is free from the start.
    const pool = {id: 'box', capacity: 2}
    const card = (instanceType: string, accelerator: string, onDemand: number): Offer => ({
      ...(offer(instanceType, accelerator, onDemand, 2) as unknown as Offer),
      priceStatus: 'list',
      expectedQueueMinutes: 0,
      preemptionRatePerHour: 0,
      noticeSeconds: null,
      capacityPool: pool,
    })
    const {plan, cloud} = await sweepWith(
      [card('box-a10g', 'A10G', 1), card('box-h100', 'H100-80GB', 30)],
      'name: pooled\nresources: {accelerators: [A10G:1, H100:1]}\nwork: {reference: A10G:1, hours: 3}\ndeadline: 5h\nmatrix: {seed: [1, 2, 3]}\nrun: echo $seed\n',
      3,
      (slot) => (slot.includes('A10G') ? 600 : 100),
      true,
    )
    expect(plan.assignments.map((a) => [a.candidate?.accelerator?.name, a.waitForSlotHours > 0])).to.deep.equal([
      ['A10G', false],
      ['A10G', false],
      ['H100-80GB', true],
    ])
    expect(plan.pools).to.deep.equal([{pool: 'box', instances: 2, jobs: 3, capacity: 2}])
    // Never three at once: the H100 job waited for the pool, not only for its own offer.
    expect(cloud.peakJobs).to.equal(2)
  })
})
