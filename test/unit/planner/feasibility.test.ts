// Feasibility: every filter the planner applies, and the reason it gives for what it drops.
import {expect} from 'chai'

import {indexOffers, planJob} from '../../../src/planner/index.js'
import type {BlockList} from '../../../src/planner/types.js'
import {hoursFromNow, input, job, offer, request} from './fixtures.js'

const reasons = (plan: ReturnType<typeof planJob>) => Object.fromEntries(plan.excluded.map((g) => [`${g.reason}:${g.subject}`, g.count]))

describe('planner feasibility', () => {
  it('filters accelerators by name, vendor, memory per device and count range', () => {
    const offers = [
      offer({acc: 'SLOW', count: 1}),
      offer({acc: 'SLOW', count: 4}),
      offer({acc: 'FAST', count: 2}),
      offer({acc: 'H100', count: 8}),
      offer({acc: null, count: 0}),
    ]
    const byMemory = planJob(
      input(
        job({
          resources: {accelerators: [request('nvidia 60GB+ ×1..2', null, [1, 2], {vendors: ['nvidia'], memoryGB: {min: 60}})]},
          work: null,
        }),
        offers,
      ),
    )
    expect(byMemory.candidates.map((c) => c.instanceType)).to.deep.equal(['FASTx2'])
    expect(reasons(byMemory)).to.deep.include({
      'accelerator-memory:SLOW': 2,
      'accelerator-count:H100': 1,
      'accelerator-mismatch:cpu-only': 1,
    })
    const byVendor = planJob(
      input(job({resources: {accelerators: [request('huawei', null, 1, {vendors: ['huawei']})]}, work: null}), [
        offer({acc: 'Ascend910B'}),
        offer({acc: 'SLOW'}),
      ]),
    )
    expect(byVendor.candidates.map((c) => c.accelerator?.name)).to.deep.equal(['Ascend910B'])
  })

  it('ordered alternatives are tried in the order written', () => {
    const offers = [offer({acc: 'SLOW', od: 1}), offer({acc: 'FAST', od: 2.5})]
    const ordered = planJob(
      input(
        job({resources: {acceleratorOrder: 'ordered', accelerators: [request('SLOW:1', ['SLOW'], 1), request('FAST:1', ['FAST'], 1)]}}),
        offers,
      ),
    )
    expect(ordered.candidates.map((c) => [c.accelerator?.name, c.alternative])).to.deep.equal([
      ['SLOW', 0],
      ['FAST', 1],
    ])
    const any = planJob(
      input(
        job({resources: {acceleratorOrder: 'any', accelerators: [request('SLOW:1', ['SLOW'], 1), request('FAST:1', ['FAST'], 1)]}}),
        offers,
      ),
    )
    expect(any.chosen?.accelerator?.name).to.equal('FAST')
  })

  it('a job without accelerators gets CPU offers only and its work is not scaled', () => {
    const plan = planJob(
      input(job({resources: {accelerators: []}, work: {reference: null, hours: 3}}), [
        offer({acc: null, od: 0.2}),
        offer({acc: 'SLOW', od: 1}),
      ]),
    )
    expect(plan.candidates.map((c) => c.accelerator)).to.deep.equal([null])
    expect(plan.chosen?.alternative).to.equal(-1)
    expect(plan.chosen?.estimatedRunHours).to.equal(3)
    expect(reasons(plan)).to.deep.include({'accelerator-not-requested:SLOW': 1})
  })

  it('checks vCPUs and memory as at-least or exact', () => {
    const offers = [
      offer({vcpus: 4, memoryGiB: 16, instanceType: 'small'}),
      offer({vcpus: 8, memoryGiB: 32, instanceType: 'mid'}),
      offer({vcpus: 16, memoryGiB: 64, instanceType: 'big'}),
    ]
    const atLeast = planJob(input(job({resources: {cpus: {value: 8, atLeast: true}, memoryGB: {value: 32, atLeast: true}}}), offers))
    expect(atLeast.candidates.map((c) => c.instanceType).sort()).to.deep.equal(['big', 'mid'])
    const exact = planJob(input(job({resources: {cpus: {value: 8, atLeast: false}, memoryGB: {value: 32, atLeast: false}}}), offers))
    expect(exact.candidates.map((c) => c.instanceType)).to.deep.equal(['mid'])
    expect(reasons(exact)).to.deep.include({'cpus:aws': 2})
  })

  it('exact vCPUs/memory mean "at least" on allocators (local, Slurm); 0 in the catalog means unknown', () => {
    const offers = [
      offer({provider: 'local', region: 'this-machine', vcpus: 16, memoryGiB: 64, instanceType: 'laptop', od: 0}),
      offer({provider: 'slurm', region: 'c', vcpus: 64, memoryGiB: 512, instanceType: 'part', od: 0.1}),
      offer({provider: 'aws', vcpus: 0, memoryGiB: 0, instanceType: 'unknown-shape', od: 1}),
      offer({provider: 'aws', vcpus: 16, memoryGiB: 64, instanceType: 'too-big', od: 1}),
    ]
    const plan = planJob(input(job({resources: {cpus: {value: 4, atLeast: false}, memoryGB: {value: 8, atLeast: false}}}), offers))
    expect(plan.candidates.map((c) => c.instanceType).sort()).to.deep.equal(['laptop', 'part', 'unknown-shape'])
    expect(reasons(plan)).to.deep.equal({'cpus:aws': 1})
  })

  it('applies placement allow/deny for providers and regions, bare or provider-scoped', () => {
    const offers = [
      offer({provider: 'aws', region: 'us-east-1'}),
      offer({provider: 'aws', region: 'eu-west-1'}),
      offer({provider: 'gcp', region: 'us-east-1'}),
      offer({provider: 'azure', region: 'eastus'}),
    ]
    const placement = {
      providers: {allow: ['aws', 'gcp'], deny: []},
      regions: {allow: ['us-east-1', 'aws/eu-west-1'], deny: ['gcp/us-east-1']},
    }
    const plan = planJob(input(job({placement}), offers))
    expect(plan.candidates.map((c) => `${c.provider}/${c.region}`).sort()).to.deep.equal(['aws/eu-west-1', 'aws/us-east-1'])
    expect(reasons(plan)).to.deep.equal({'provider-not-allowed:azure': 1, 'region-not-allowed:gcp/us-east-1': 1})
  })

  it('only enabled providers are candidates unless the set is null', () => {
    const offers = [offer({provider: 'local', od: 0, region: 'this-machine'}), offer({provider: 'aws', od: 1})]
    const enabled = planJob(input(job(), offers, {enabledProviders: new Set(['local'])}))
    expect(enabled.candidates.map((c) => c.provider)).to.deep.equal(['local'])
    expect(enabled.excluded[0]).to.deep.include({reason: 'provider-disabled', subject: 'aws', count: 1})
  })

  it('never chooses an offer of a provider without an adapter, even across every provider (--all-providers)', () => {
    // The cheapest offer is on a provider nothing can launch on (issue 21: 4 of 9 real job files planned onto one).
    const offers = [offer({provider: 'gcp', od: 0.5}), offer({provider: 'runpod', od: 0.4}), offer({provider: 'aws', od: 1})]
    const adapters = new Set(['local', 'aws'])
    for (const enabledProviders of [null, new Set(['local', 'aws'])]) {
      const plan = planJob(input(job(), offers, {enabledProviders, adapters}))
      expect(plan.candidates.length).to.be.greaterThan(0)
      expect(new Set(plan.candidates.map((c) => c.provider))).to.deep.equal(new Set(['aws']))
      expect(reasons(plan)).to.deep.include({'no-adapter:gcp': 1, 'no-adapter:runpod': 1})
    }
    // Without the set (tests of other rules) every provider is launchable.
    expect(planJob(input(job(), offers, {enabledProviders: null})).candidates[0].provider).to.equal('runpod')
  })

  it('honours blocked scopes: provider, region, zone, offer, and spot-only blocks', () => {
    const offers = [
      offer({provider: 'aws', region: 'r1', zone: 'r1a', od: 1, spot: 0.3}),
      offer({provider: 'aws', region: 'r1', zone: 'r1b', od: 1.1, spot: 0.35}),
      offer({provider: 'aws', region: 'r2', zone: 'r2a', od: 1.2, spot: 0.4}),
      offer({provider: 'gcp', region: 'g1', zone: 'g1a', od: 1.3, spot: 0.45}),
    ]
    const j = job({
      spot: 'auto',
      work: {reference: {name: 'SLOW', count: 1}, hours: 0.5},
      checkpoint: {dir: null, intervalSeconds: 600, store: null},
    })
    const keys = (blocked: BlockList) =>
      planJob(input(j, offers, {blocked}))
        .candidates.map((c) => c.key)
        .sort()
    expect(keys([{provider: 'gcp'}]).some((k) => k.startsWith('gcp'))).to.equal(false)
    expect(keys([{provider: 'aws', region: 'r1'}]).filter((k) => k.startsWith('aws/r1/'))).to.have.length(0)
    expect(keys([{provider: 'aws', region: 'r1', zone: 'r1a'}]).filter((k) => k.startsWith('aws/r1/r1a'))).to.have.length(0)
    expect(keys([{provider: 'aws', region: 'r1', zone: 'r1b'}]).filter((k) => k.startsWith('aws/r1/r1a'))).to.have.length(2)
    const spotBlocked = keys([{provider: 'aws', region: 'r1', zone: 'r1a', market: 'spot'}])
    expect(spotBlocked).to.include('aws/r1/r1a/SLOWx1#on-demand')
    expect(spotBlocked).to.not.include('aws/r1/r1a/SLOWx1#spot')
  })

  it('spot policy selects markets; offers without that market are "no-market"', () => {
    const offers = [offer({od: 1, spot: 0.3, instanceType: 'both'}), offer({od: 1, spot: null, instanceType: 'od-only'})]
    const w = {work: {reference: {name: 'SLOW', count: 1}, hours: 0.5}, checkpoint: {dir: null, intervalSeconds: 600, store: null}}
    expect(planJob(input(job({...w, spot: 'spot'}), offers)).candidates.map((c) => [c.instanceType, c.spot])).to.deep.equal([
      ['both', true],
    ])
    expect(planJob(input(job({...w, spot: 'on-demand'}), offers)).candidates.every((c) => !c.spot)).to.equal(true)
    const auto = planJob(input(job({...w, spot: 'auto'}), offers))
    expect(auto.candidates).to.have.length(3)
    expect(auto.excluded).to.have.length(1)
    expect(auto.excluded[0]).to.deep.include({reason: 'no-market', subject: 'spot/aws'})
  })

  it('max_price compares per-node prices in USD, converting CNY', () => {
    const offers = [
      offer({price: {onDemand: 14.4, spot: null, currency: 'CNY'}, instanceType: 'cny'}),
      offer({od: 2.5, instanceType: 'usd'}),
    ]
    // 14.4 CNY / 7.2 = 2.0 USD ≤ 2.2; 2.5 USD > 2.2
    const plan = planJob(input(job({maxPrice: {amount: 2.2, currency: 'USD'}}), offers))
    expect(plan.candidates.map((c) => c.instanceType)).to.deep.equal(['cny'])
    expect(plan.chosen?.hourlyPrice).to.deep.equal({amount: 14.4, currency: 'CNY'})
    expect(plan.chosen?.hourlyPriceUsd).to.equal(2)
    expect(plan.chosen?.estimatedCost).to.deep.equal({amount: 144, currency: 'CNY'})
    expect(plan.assumptions.join('\n')).to.match(/7\.2 CNY per USD/)
  })

  it('unknown prices rank after known ones under cost, and are excluded only by a budget or max price', () => {
    const offers = [
      offer({od: null, priceStatus: 'unknown', instanceType: 'mystery-price', expectedQueueMinutes: 1}),
      offer({od: 5, instanceType: 'listed'}),
    ]
    const cost = planJob(input(job(), offers))
    expect(cost.candidates.map((c) => c.instanceType)).to.deep.equal(['listed', 'mystery-price'])
    expect(cost.candidates[1].estimatedCostUsd).to.equal(null)
    expect(cost.excluded).to.deep.equal([])
    const time = planJob(input(job({objective: 'time'}), offers))
    expect(time.chosen?.instanceType).to.equal('mystery-price')
    expect(time.chosen?.estimatedCostUsd).to.equal(null)
    expect(time.chosen?.notes).to.include('price-unknown')
    const capped = planJob(input(job({objective: 'time', budget: {amount: 1000, currency: 'USD'}}), offers))
    expect(capped.candidates.map((c) => c.instanceType)).to.deep.equal(['listed'])
  })

  it('accelerators with no known throughput cannot be compared by work and are excluded', () => {
    const plan = planJob(
      input(job({resources: {accelerators: [request('any', null, 1)]}}), [offer({acc: 'MYSTERY', od: 0.1}), offer({acc: 'SLOW', od: 1})]),
    )
    expect(plan.candidates.map((c) => c.accelerator?.name)).to.deep.equal(['SLOW'])
    expect(plan.excluded[0]).to.deep.include({reason: 'throughput-unknown', subject: 'MYSTERY'})
    // Without work there is nothing to scale: the 1 h assumption applies to every candidate.
    const noWork = planJob(
      input(job({work: null, resources: {accelerators: [request('any', null, 1)]}}), [
        offer({acc: 'MYSTERY', od: 0.1}),
        offer({acc: 'SLOW', od: 1}),
      ]),
    )
    expect(noWork.chosen?.accelerator?.name).to.equal('MYSTERY')
    expect(noWork.chosen?.estimatedRunHours).to.equal(1)
    expect(noWork.chosen?.estimates.runHours.confidence).to.equal('low')
    expect(noWork.assumptions.join('\n')).to.match(/no work estimate/)
  })

  it('multi-node jobs need a backend that gang-launches, an offer that holds the gang, and capacity for every node', () => {
    const offers = [
      offer({provider: 'local', region: 'this-machine', od: 0, instanceType: 'small-machine', maxNodes: 2}),
      offer({provider: 'aws', od: 1, capacity: 1, instanceType: 'one'}),
      offer({provider: 'aws', od: 1.5, instanceType: 'many'}),
      offer({provider: 'slurm', od: 0.1, instanceType: 'partition'}),
    ]
    const plan = planJob(input(job({nodes: 3}), offers, {maxNodes: new Map([['slurm', 1]])}))
    expect(plan.candidates.map((c) => c.instanceType)).to.deep.equal(['many'])
    // 3 nodes × 1.5 USD/h.
    expect(plan.chosen?.hourlyPriceUsd).to.equal(4.5)
    expect(reasons(plan)).to.deep.include({
      'multi-node-unsupported:local/this-machine': 1,
      'multi-node-unsupported:slurm': 1,
      'capacity:aws/us-east-1': 1,
    })
    const why = plan.excluded.filter((g) => g.reason === 'multi-node-unsupported').map((g) => g.message)
    // The machine is too small, not the backend: the reason names the offers.
    expect(why).to.include('local/this-machine offers hold at most 2 node(s) in one gang (e.g. small-machine); the job needs 3')
    expect(why).to.include('slurm cannot launch a gang of nodes (one node per attempt); the job needs 3 nodes')

    // A machine that holds the gang's ranks is a candidate, and a gang as big as a limit fits it.
    const roomy = planJob(
      input(job({nodes: 3}), [offer({provider: 'local', region: 'this-machine', od: 0, maxNodes: 3})], {maxNodes: new Map([['local', 3]])}),
    )
    expect(roomy.chosen).to.include({provider: 'local', nodes: 3})
  })

  it('a job with a container image runs only where a container runtime answers; a job without one is not checked', () => {
    const offers = [
      offer({provider: 'local', region: 'this-machine', od: 0, instanceType: 'machine'}),
      offer({provider: 'slurm', od: 0.1, instanceType: 'partition'}),
    ]
    const container = {
      reference: 'localhost/skyhop-test:busybox',
      registry: 'localhost',
      repository: 'skyhop-test',
      tag: 'busybox',
      digest: null,
    }
    const withImage = job({image: 'docker:localhost/skyhop-test:busybox', container})
    const plan = planJob(input(withImage, offers, {containerProviders: new Set(['local'])}))
    expect(plan.candidates.map((c) => c.provider)).to.deep.equal(['local'])
    expect(reasons(plan)).to.deep.include({'container-unsupported:slurm': 1})
    expect(plan.excluded.find((g) => g.reason === 'container-unsupported')?.message).to.equal(
      "slurm does not run container images (the job's image localhost/skyhop-test:busybox); local does, with podman or docker",
    )
    // No runtime here: local is excluded too, and says how to get one.
    const none = planJob(input(withImage, offers, {containerProviders: new Set()}))
    expect(none.chosen).to.equal(null)
    expect(none.excluded.map((g) => g.message)).to.include(
      "local has no container runtime for the job's image localhost/skyhop-test:busybox (podman or docker); install one or set providers.local.container_runtime",
    )
    // A provider that says why it cannot: the sentence carries what it looked for.
    const said = planJob(
      input(withImage, offers, {
        containerProviders: new Set(['local']),
        containerReasons: new Map([['slurm', 'no container runtime found: looked for pyxis, apptainer']]),
      }),
    )
    expect(said.excluded.find((g) => g.reason === 'container-unsupported')?.message).to.equal(
      "slurm cannot run the job's container image localhost/skyhop-test:busybox: no container runtime found: looked for pyxis, apptainer",
    )
    // The set is about container images only.
    expect(planJob(input(job(), offers, {containerProviders: new Set()})).candidates).to.have.length(2)
  })

  it("a bucket mount runs only on an instance of the bucket's own cloud; local and Slurm say they mount nothing", () => {
    const offers = [
      offer({provider: 'local', region: 'this-machine', od: 0, instanceType: 'machine'}),
      offer({provider: 'slurm', od: 0.1, instanceType: 'partition'}),
      offer({provider: 'aws', od: 1, instanceType: 'm5.large'}),
      offer({provider: 'aliyun', od: 1, instanceType: 'ecs.g7.large'}),
    ]
    const files = [
      {
        path: '/mnt/d',
        mode: 'mount' as const,
        source: {kind: 'bucket' as const, scheme: 's3' as const, bucket: 'corpus', key: 'en/', region: null, endpoint: null},
      },
    ]
    const plan = planJob(input(job({files}), offers))
    expect(plan.candidates.map((c) => c.provider)).to.deep.equal(['aws'])
    expect(reasons(plan)).to.deep.include({'mount-unsupported:local': 1, 'mount-unsupported:slurm': 1, 'mount-unsupported:aliyun': 1})
    const said = new Map(plan.excluded.filter((g) => g.reason === 'mount-unsupported').map((g) => [g.subject, g.message]))
    expect(said.get('local')).to.equal(
      "local mounts no bucket (files: mode: mount needs a cloud instance's FUSE tool and role; s3://corpus/en/ mounts on aws only); copy it instead (mode: copy), or mount it on the machines yourself",
    )
    expect(said.get('aliyun')).to.include('aliyun cannot mount s3://corpus/en/ (files: mode: mount)')
    // A Kubernetes pod gets its copies and outputs through the job's store: without one, excluded, saying so.
    const withOutput = job({outputs: [{path: '/r', to: {kind: 'store'}}]})
    const k8sOffers = [...offers, offer({provider: 'kubernetes', od: 0.5})]
    const k8s = planJob(input(withOutput, k8sOffers))
    expect(reasons(k8s)).to.deep.include({'files-unsupported:kubernetes': 1})
    expect(k8s.excluded.find((g) => g.reason === 'files-unsupported')?.message).to.equal(
      "kubernetes places files: copies and uploads outputs: only through the job's object store, and the job has none (a pod gets its list of transfers by a signed GET from there); set checkpoint.store in the job file or checkpoint_store in the config",
    )
    expect(k8s.candidates).to.have.length(4)
    // With a store (the config's, or the job's own checkpoint.store), the pod is a candidate.
    const stored = {url: 's3://ckpt/runs', region: 'us-east-1', endpoint: null, syncIntervalSeconds: null}
    for (const plan of [
      planJob(input(withOutput, k8sOffers, {jobStore: true})),
      planJob(input({...withOutput, checkpoint: {...withOutput.checkpoint, store: stored}}, k8sOffers)),
    ]) {
      expect(reasons(plan)).to.not.have.property('files-unsupported:kubernetes')
      expect(plan.candidates.map((c) => c.provider)).to.include('kubernetes')
    }
    // No store anywhere (the caller says so): excluded.
    expect(reasons(planJob(input(withOutput, k8sOffers, {jobStore: false})))).to.deep.include({'files-unsupported:kubernetes': 1})
    // A copy goes anywhere.
    const copied = planJob(
      input(job({files: [{...files[0], mode: 'copy' as const, source: {...files[0].source, key: 'en/a.bin'}}]}), offers),
    )
    expect(copied.candidates).to.have.length(4)
  })

  it('budget and deadline exclude with their own reasons', () => {
    const offers = [offer({od: 1, instanceType: 'slow-cheap'}), offer({acc: 'FAST', od: 10, instanceType: 'fast-dear'})]
    const j = job({resources: {accelerators: [request('any', null, 1)]}, deadline: hoursFromNow(8), budget: {amount: 30, currency: 'USD'}})
    // slow: 10 h > 8/1.1 → deadline; fast: 3.33 h × 10 = 33.3 USD > 30 → budget.
    const plan = planJob(input(j, offers))
    expect(plan.chosen).to.equal(null)
    expect(plan.excluded.map((g) => g.reason).sort()).to.deep.equal(['budget', 'deadline'])
  })

  it('an offer index gives the same plan as the array', () => {
    const offers = [
      offer({acc: 'SLOW', od: 1}),
      offer({acc: 'FAST', od: 2.5}),
      offer({acc: 'Ascend910B', od: 0.1}),
      offer({acc: 'H100', count: 8, od: 30}),
    ]
    const j = job({resources: {accelerators: [request('any', null, 1)], runtimes: ['cuda']}})
    const a = planJob(input(j, offers))
    const b = planJob(input(j, [], {offers: indexOffers(offers)}))
    expect(b.candidates).to.deep.equal(a.candidates)
    expect(reasons(b)).to.deep.equal(reasons(a))
  })
})
