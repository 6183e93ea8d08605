// Gangs and the fabric between their nodes: the slow-fabric scaling penalty, the
// `resources.interconnect` key, and one-node jobs left as they were.
import {expect} from 'chai'

import type {Interconnect, Offer} from '../../../src/model/catalog.js'
import type {InterconnectPolicy} from '../../../src/model/job-spec.js'
import {planJob} from '../../../src/planner/index.js'
import {INTER_NODE_EFFICIENCY_PER_DOUBLING, SLOW_FABRIC_EFFICIENCY_PER_DOUBLING} from '../../../src/planner/priors.js'
import {input, job, offer, request} from './fixtures.js'

// A fabric the adapter sets up: Azure's InfiniBand on-demand (GANG_FABRIC_SETUP).
const FABRIC: Interconnect = {kind: 'infiniband', gbps: 400, source: 'test: InfiniBand'}
const ETHERNET: Interconnect = {kind: 'ethernet', gbps: 25, source: 'test: 25 Gbit ENA'}

/** Two offers equal in everything but the fabric; the one without sorts first by key. */
function pair(fabricOfB: Interconnect | undefined = FABRIC, provider = 'azure'): Offer[] {
  return [
    offer({provider, instanceType: 'a-plain', count: 8, od: 8}),
    offer({provider, instanceType: 'b-fabric', count: 8, od: 8, ...(fabricOfB ? {interconnect: fabricOfB} : {})}),
  ]
}

function gang(nodes: number, interconnect?: InterconnectPolicy, extra: Parameters<typeof job>[0] = {}) {
  return job({nodes, ...extra, resources: {accelerators: [request('SLOW:8', ['SLOW'], 8)], ...(interconnect ? {interconnect} : {})}})
}

describe('planner: multi-node gangs and the inter-node fabric', () => {
  it('between two otherwise equal cloud offers, a gang takes the one with a fabric: the other runs slower by the documented factor', () => {
    const plan = planJob(input(gang(2), pair()))
    expect(plan.chosen).to.include({instanceType: 'b-fabric', nodes: 2})
    expect(plan.chosen!.interconnect).to.deep.equal(FABRIC)
    const plain = plan.candidates.find((c) => c.instanceType === 'a-plain')!
    expect(plain.interconnect).to.equal(null)
    // One doubling of nodes: 0.9 on a fabric, 0.7 without.
    const ratio = plain.estimatedRunHours / plan.chosen!.estimatedRunHours
    expect(ratio).to.be.closeTo(INTER_NODE_EFFICIENCY_PER_DOUBLING / SLOW_FABRIC_EFFICIENCY_PER_DOUBLING, 1e-3)
    expect(plain.estimates.runHours.source).to.match(/2-node gang on undocumented networking: 70% per doubling of nodes/)
    expect(plan.chosen!.estimates.runHours.source).to.not.match(/gang on/)
    expect(plan.assumptions.some((a) => /2-node gang: .* keeps 70% .* instead of 90%/.test(a))).to.equal(true)
  })

  it('four nodes: the penalty compounds per doubling, and an ethernet offer counts as slow', () => {
    const plan = planJob(
      input(gang(4), [offer({provider: 'azure', instanceType: 'a-plain', count: 8, od: 8, interconnect: ETHERNET}), ...pair().slice(1)]),
    )
    const plain = plan.candidates.find((c) => c.instanceType === 'a-plain')!
    expect(plain.interconnect).to.deep.equal(ETHERNET)
    expect(plain.estimatedRunHours / plan.chosen!.estimatedRunHours).to.be.closeTo((0.9 / 0.7) ** 2, 1e-3)
    expect(plain.estimates.runHours.source).to.include('4-node gang on ethernet networking')
  })

  it('a one-node job is unchanged: no penalty, no interconnect field, no assumption, the key breaks the tie', () => {
    const plan = planJob(input(job({resources: {accelerators: [request('SLOW:8', ['SLOW'], 8)]}}), pair()))
    expect(plan.chosen!.instanceType).to.equal('a-plain')
    expect(plan.candidates[0].estimatedRunHours).to.equal(plan.candidates[1].estimatedRunHours)
    expect(plan.candidates.every((c) => !('interconnect' in c))).to.equal(true)
    expect(plan.assumptions.join('\n')).to.not.match(/gang|interconnect/)
  })

  it('interconnect: any leaves the fabric out of the estimate', () => {
    const plan = planJob(input(gang(2, 'any'), pair()))
    expect(plan.candidates[0].estimatedRunHours).to.equal(plan.candidates[1].estimatedRunHours)
    expect(plan.chosen!.instanceType).to.equal('a-plain')
    expect(plan.assumptions.join('\n')).to.not.match(/gang:/)
  })

  it('interconnect: required excludes offers without a fabric, with a reason per shape', () => {
    const offers = [offer({provider: 'azure', instanceType: 'c-eth', count: 8, od: 1, interconnect: ETHERNET}), ...pair()]
    const plan = planJob(input(gang(2, 'required'), offers))
    expect(plan.candidates.map((c) => c.instanceType)).to.deep.equal(['b-fabric'])
    const groups = plan.excluded.filter((g) => g.reason === 'interconnect')
    expect(groups.map((g) => g.subject).sort()).to.deep.equal(['azure/a-plain', 'azure/c-eth'])
    expect(groups.find((g) => g.subject === 'azure/a-plain')!.message).to.equal(
      "azure/a-plain has no documented inter-node fabric (EFA, InfiniBand, RoCE, GPUDirect-TCPX, HCCS); the job's 2-node gang requires one (resources.interconnect: required)",
    )
    expect(groups.find((g) => g.subject === 'azure/c-eth')!.message).to.include('plain ethernet between nodes (25 Gbit/s)')
    expect(plan.assumptions.some((a) => a.startsWith('resources.interconnect is required'))).to.equal(true)
  })

  it('required on one node has no effect', () => {
    const plan = planJob(input(job({resources: {accelerators: [request('SLOW:8', ['SLOW'], 8)], interconnect: 'required'}}), pair()))
    expect(plan.candidates).to.have.length(2)
    expect(plan.excluded.filter((g) => g.reason === 'interconnect')).to.deep.equal([])
  })

  it('Slurm offers without a documented fabric are not penalised; one declared ethernet is', () => {
    const plan = planJob(input(gang(2), pair(undefined, 'slurm')))
    expect(plan.candidates[0].estimatedRunHours).to.equal(plan.candidates[1].estimatedRunHours)
    const eth = planJob(input(gang(2), [offer({provider: 'slurm', instanceType: 'a-plain', count: 8, od: 8, interconnect: ETHERNET})]))
    const fast = planJob(
      input(gang(2), [
        offer({provider: 'slurm', instanceType: 'a-plain', count: 8, od: 8, interconnect: {kind: 'efa', gbps: 400, source: 'test: EFA'}}),
      ]),
    )
    expect(eth.chosen!.estimatedRunHours / fast.chosen!.estimatedRunHours).to.be.closeTo(0.9 / 0.7, 1e-3)
  })

  it('without a work estimate nothing scales, and the fabric still decides between equal offers', () => {
    const plan = planJob(input(gang(2, undefined, {work: null}), pair()))
    expect(plan.candidates[0].estimatedRunHours).to.equal(plan.candidates[1].estimatedRunHours)
    expect(plan.chosen!.instanceType).to.equal('b-fabric')
  })

  it('a cheaper offer without a fabric can still win when it is cheap enough: the penalty is a cost, not a rule', () => {
    const offers = [
      offer({provider: 'azure', instanceType: 'a-plain', count: 8, od: 4}),
      offer({provider: 'azure', instanceType: 'b-fabric', count: 8, od: 8, interconnect: FABRIC}),
    ]
    const plan = planJob(input(gang(2, undefined, {objective: 'cost'}), offers))
    expect(plan.chosen!.instanceType).to.equal('a-plain')
  })

  describe('an Azure Spot gang does not get the InfiniBand of its shape', () => {
    const IB: Interconnect = {kind: 'infiniband', gbps: 3200, source: 'test: ND H100 v5'}
    const nd = (provider = 'azure') => offer({provider, instanceType: 'nd-ib', count: 8, od: 8, spot: 2, interconnect: IB})

    it('the spot candidate says ethernet and why, runs at the slow-fabric rate; the on-demand one keeps InfiniBand', () => {
      const plan = planJob(input(gang(2, undefined, {spot: 'auto'}), [nd()]))
      const spot = plan.candidates.find((c) => c.spot)!
      const od = plan.candidates.find((c) => !c.spot)!
      expect(od.interconnect).to.deep.equal(IB)
      expect(spot.interconnect).to.include({kind: 'ethernet', gbps: null})
      expect(spot.interconnect!.source).to.match(/Spot VMs cannot join an availability set/)
      expect(spot.estimates.runHours.source).to.include('2-node gang on ethernet networking')
      expect(od.estimates.runHours.source).to.not.match(/gang on/)
      expect(spot.estimatedRunHours / od.estimatedRunHours).to.be.closeTo(
        INTER_NODE_EFFICIENCY_PER_DOUBLING / SLOW_FABRIC_EFFICIENCY_PER_DOUBLING,
        1e-3,
      )
    })

    it('interconnect: required leaves only the on-demand market, with the reason in --explain', () => {
      const plan = planJob(input(gang(2, 'required', {spot: 'auto'}), [nd()]))
      expect(plan.candidates.map((c) => c.spot)).to.deep.equal([false])
      const group = plan.excluded.find((g) => g.reason === 'interconnect')!
      expect(group.subject).to.equal('azure/nd-ib')
      expect(group.example.spot).to.equal(true)
      expect(group.message).to.match(
        /^azure\/nd-ib spot: a Spot gang does not get the shape's infiniband \(Azure: .*\); the job's 2-node gang requires a fabric .*run it on-demand$/,
      )
    })

    it('spot only and required: nothing is feasible, and the reason is the Spot rule', () => {
      const plan = planJob(input(gang(2, 'required', {spot: 'spot'}), [nd()]))
      expect(plan.candidates).to.deep.equal([])
      expect(plan.excluded.map((g) => g.reason)).to.include('interconnect')
    })

    it("a one-node Spot job and a Kubernetes cluster's Spot gang keep InfiniBand; an Azure RoCE claim is not set up", () => {
      const one = planJob(input(job({spot: 'spot', resources: {accelerators: [request('SLOW:8', ['SLOW'], 8)]}}), [nd()]))
      expect(one.candidates).to.have.length(1)
      expect('interconnect' in one.candidates[0]).to.equal(false)
      const k8s = planJob(input(gang(2, 'required', {spot: 'spot'}), [nd('kubernetes')]))
      expect(k8s.candidates[0].interconnect).to.deep.equal(IB)
      // A catalog file may say an Azure shape has RoCE; no Azure adapter code sets that up.
      const roce = planJob(
        input(gang(2, undefined, {spot: 'spot'}), [
          offer({provider: 'azure', instanceType: 'x', count: 8, spot: 2, interconnect: {kind: 'roce', gbps: 1, source: 't'}}),
        ]),
      )
      expect(roce.candidates[0].interconnect).to.deep.equal({
        kind: 'ethernet',
        gbps: null,
        source: 'the azure adapter sets up no roce for a gang',
      })
    })
  })
  describe("a fabric counts only where the provider's adapter sets it up (GANG_FABRIC_SETUP)", () => {
    const shape = (provider: string, kind: Interconnect['kind'], instanceType = 'gang-shape') =>
      offer({provider, instanceType, count: 8, od: 8, spot: 2, interconnect: {kind, gbps: 1600, source: `test: ${kind}`}})

    it("AWS EFA is set up on both markets, one interface per node: a multi-card shape is planned at one card's share", () => {
      const p4d = offer({
        provider: 'aws',
        instanceType: 'p4d.24xlarge',
        count: 8,
        od: 8,
        spot: 2,
        interconnect: {kind: 'efa', gbps: 400, source: 'test: p4d'},
      })
      const p3dn = offer({
        provider: 'aws',
        instanceType: 'p3dn.24xlarge',
        count: 8,
        od: 8,
        spot: 2,
        interconnect: {kind: 'efa', gbps: 100, source: 'test: p3dn'},
      })
      const plan = planJob(input(gang(2, 'required', {spot: 'auto'}), [p4d, p3dn]))
      expect(plan.candidates).to.have.length(4)
      for (const c of plan.candidates.filter((x) => x.instanceType === 'p4d.24xlarge')) {
        expect(c.interconnect).to.include({kind: 'efa', gbps: 100})
        expect(c.interconnect!.source).to.match(/^test: p4d; skyhop sets up one EFA interface, on network card 0 of 4 \(100 Gbit\/s\)/)
        expect(c.estimates.runHours.source).to.not.match(/gang on/)
      }
      // One card: the shape's own fabric, untouched.
      for (const c of plan.candidates.filter((x) => x.instanceType === 'p3dn.24xlarge'))
        expect(c.interconnect).to.deep.equal(p3dn.interconnect)
    })

    it('required: a shape whose fabric no market sets up is left out once, with the reason and no market to switch to', () => {
      const plan = planJob(input(gang(2, 'required', {spot: 'auto'}), [shape('gcp', 'gpudirect-tcpx', 'a3-highgpu-8g')]))
      expect(plan.candidates).to.deep.equal([])
      const groups = plan.excluded.filter((g) => g.reason === 'interconnect')
      expect(groups).to.have.length(1)
      expect(groups[0]).to.deep.include({subject: 'gcp/a3-highgpu-8g', count: 1})
      expect(groups[0].example.spot).to.equal(null)
      expect(groups[0].message).to.match(
        /^gcp\/a3-highgpu-8g: a gang does not get the shape's gpudirect-tcpx \(GCP: the adapter creates each node with one network interface .*\); the job's 2-node gang requires a fabric \(resources.interconnect: required\)$/,
      )
    })

    it('GCP RoCE and Huawei HCCS are not set up either; Slurm and Kubernetes offers keep what the cluster has', () => {
      const plan = planJob(
        input(gang(2, undefined, {spot: 'auto'}), [
          shape('gcp', 'roce', 'a3-ultragpu-8g'),
          shape('huaweicloud', 'hccs', 'Snt9B23'),
          shape('slurm', 'efa', 'slurm-efa'),
          shape('kubernetes', 'roce', 'k8s-roce'),
        ]),
      )
      const fabricOf = (t: string) => plan.candidates.find((c) => c.instanceType === t && !c.spot)!.interconnect!
      expect(fabricOf('a3-ultragpu-8g')).to.include({kind: 'ethernet'})
      expect(fabricOf('a3-ultragpu-8g').source).to.match(/^GCP: /)
      expect(fabricOf('Snt9B23')).to.include({kind: 'ethernet'})
      expect(fabricOf('Snt9B23').source).to.match(/anti-affinity server group/)
      expect(fabricOf('slurm-efa')).to.include({kind: 'efa', gbps: 1600})
      expect(fabricOf('k8s-roce')).to.include({kind: 'roce', gbps: 1600})
      // Between them, under the default `preferred`, the cluster offers with a fabric rank first.
      expect(['slurm-efa', 'k8s-roce']).to.include(plan.chosen!.instanceType)
    })

    it('the Azure reason on a market that has the fabric on the other one says which to use', () => {
      const plan = planJob(input(gang(2, 'required', {spot: 'spot'}), [shape('azure', 'infiniband', 'nd')]))
      expect(plan.excluded.find((g) => g.reason === 'interconnect')!.message).to.match(/^azure\/nd spot: a Spot gang .*: run it on-demand$/)
    })
  })
})
