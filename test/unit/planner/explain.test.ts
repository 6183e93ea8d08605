// What the planner says when offers are left out (issue 23): the words of each exclusion
// group, their order by relevance to what the job asked, and the error when nothing fits.
import type {Accelerator} from '../../../src/model/catalog.js'

import {expect} from 'chai'

import {noFeasiblePlanError, planJob} from '../../../src/planner/index.js'
import {REGISTRY, input, job, offer, request} from './fixtures.js'

const cpuJob = (providers: string[] | null = null) =>
  job({resources: {accelerators: []}, work: null, placement: {providers: {allow: providers, deny: []}, regions: {allow: null, deny: []}}})

describe('planner: what exclusions say', () => {
  it('a registered accelerator with unknown specs is not called "not in the registry"', () => {
    const specless: Accelerator = {...REGISTRY.Ascend910B, name: 'Ascend910', memoryGB: {value: null, confidence: null, source: null}}
    const accelerators = (name: string) => (name === 'Ascend910' ? specless : REGISTRY[name])
    const j = job({resources: {accelerators: [request('Ascend 32GB+', null, 1, {memoryGB: {min: 32}})]}, work: null})
    const plan = planJob(input(j, [offer({acc: 'Ascend910'}), offer({acc: 'GHOST'})], {accelerators}))
    const bySubject = Object.fromEntries(plan.excluded.map((g) => [g.subject, g]))
    expect(bySubject.Ascend910.reason).to.equal('accelerator-unknown')
    expect(bySubject.Ascend910.message).to.match(/Ascend910's specs are unknown/)
    expect(bySubject.Ascend910.message).not.to.match(/not in the accelerator registry/)
    expect(bySubject.GHOST.message).to.match(/GHOST is not in the accelerator registry/)
  })

  it('a provider without an adapter is excluded as no-adapter, not called "not enabled (no credentials found)"', () => {
    const offers = [offer({provider: 'lambda', acc: null, count: 0}), offer({provider: 'aws', acc: null, count: 0})]
    const plan = planJob(input(cpuJob(), offers, {enabledProviders: new Set(['local']), adapters: new Set(['local', 'aws'])}))
    const bySubject = Object.fromEntries(plan.excluded.map((g) => [g.subject, g]))
    expect(bySubject.lambda.reason).to.equal('no-adapter')
    expect(bySubject.lambda.message).to.match(/lambda has no adapter in skyhop/)
    expect(bySubject.lambda.message).not.to.match(/--all-providers/)
    expect(bySubject.aws.reason).to.equal('provider-disabled')
    expect(bySubject.aws.message).to.match(/aws is not enabled \(no credentials found\)/)
  })

  it('when only offers without an adapter are left, the hint says which providers are planned', () => {
    const plan = planJob(
      input(cpuJob(), [offer({provider: 'runpod', acc: null, count: 0})], {enabledProviders: null, adapters: new Set(['aws'])}),
    )
    expect(plan.candidates).to.have.length(0)
    expect(noFeasiblePlanError(plan).hint).to.match(/Only providers skyhop can launch on are planned/)
  })

  it('says which price limit an unknown price cannot be checked against', () => {
    const capped = planJob(input(job({budget: {amount: 1, currency: 'USD'}}), [offer({od: null, priceStatus: 'unknown'})]))
    expect(capped.excluded.find((x) => x.reason === 'price-unknown')?.message).to.match(/which the job's budget cannot be checked against$/)
    const both = planJob(
      input(job({budget: {amount: 1, currency: 'USD'}, maxPrice: {amount: 1, currency: 'USD'}}), [
        offer({od: null, priceStatus: 'unknown'}),
      ]),
    )
    expect(both.excluded[0].message).to.match(/the job's budget and max_price cannot be checked against$/)
  })

  it('a job of a runtime no offer runs says the catalog has nothing for it and how to add offers, not a page of CUDA groups', () => {
    const offers = [
      offer({acc: 'H100', count: 8}),
      offer({acc: 'SLOW'}),
      offer({acc: 'Ascend910B', count: 8}),
      offer({acc: null, count: 0}),
    ]
    const neuware = job({resources: {accelerators: [request('any:1..8', null, [1, 8])], runtimes: ['neuware']}, work: null})
    const plan = planJob(input(neuware, offers))
    expect(plan.candidates).to.have.length(0)
    expect(plan.excluded.map((g) => `${g.reason}:${g.subject}`).sort()).to.deep.equal([
      'accelerator-mismatch:cpu-only',
      'runtime-mismatch:Ascend910B',
      'runtime-mismatch:H100',
      'runtime-mismatch:SLOW',
    ])
    const error = noFeasiblePlanError(plan)
    expect(error.message.split('\n')[0]).to.equal(
      "no offer can run test-job: none of the 4 offers in the catalog has an accelerator of the job's runtimes:",
    )
    expect(error.hint).to.match(/none yet for accelerators of these runtimes \(docs\/catalog\.md#domestic-accelerators\)/)
    expect(error.hint).to.match(/--catalog FILE or catalog\.merge/)
    expect(error.hint).to.include('examples/domestic-pool.yaml')
    // With an MLU offer that is excluded for another reason, the groups stay the message.
    const withMlu = planJob(input(neuware, [...offers, offer({acc: 'MLU370', count: 16})]))
    expect(withMlu.candidates).to.have.length(0)
    const other = noFeasiblePlanError(withMlu)
    expect(other.message.split('\n')[0]).to.match(/^no offer can run test-job \(5 offers looked at\):$/)
    expect(other.hint ?? '').not.to.include('domestic-pool')
  })

  it('orders groups by relevance: a CPU-only job restricted to AWS leads with its AWS offers, not with other providers', () => {
    // Other providers have more offers, some CPU-only; every AWS offer carries a GPU.
    const offers = [
      ...Array.from({length: 5}, (_, i) => offer({provider: 'oci', acc: null, count: 0, instanceType: `oci-cpu-${i}`})),
      ...Array.from({length: 4}, (_, i) => offer({provider: 'azure', acc: null, count: 0, instanceType: `az-cpu-${i}`})),
      offer({provider: 'aws', acc: 'H100', count: 8}),
      offer({provider: 'aws', acc: 'SLOW', count: 1}),
    ]
    const plan = planJob(input(cpuJob(['aws']), offers, {enabledProviders: new Set(['local'])}))
    expect(plan.candidates).to.have.length(0)
    expect(plan.excluded[0].reason).to.equal('accelerator-not-requested')
    // The job keeps oci and azure out itself: they say so, and come last.
    const tail = plan.excluded.slice(-2).map((g) => `${g.reason}:${g.subject}`)
    expect(tail.sort()).to.deep.equal(['provider-not-allowed:azure', 'provider-not-allowed:oci'])
    const error = noFeasiblePlanError(plan)
    expect(error.message.split('\n')[1]).to.match(/accelerator-not-requested/)
    expect(error.hint).to.match(/asks for no accelerator/)
  })

  it('a blocking reason of an allowed provider comes before hardware mismatches', () => {
    const offers = [
      ...Array.from({length: 5}, () => offer({provider: 'aws', acc: 'H100', count: 8})),
      offer({provider: 'aws', acc: null, count: 0, instanceType: 'aws-cpu'}),
    ]
    const plan = planJob(input(cpuJob(['aws']), offers, {enabledProviders: new Set(['local'])}))
    expect(plan.excluded.map((g) => g.reason)).to.deep.equal(['provider-disabled', 'accelerator-not-requested'])
  })

  it('with --explain the error lists every group and does not suggest --explain', () => {
    const offers = Array.from({length: 12}, (_, i) => offer({acc: `GHOST${i}`}))
    const plan = planJob(input(job({work: null}), offers, {enabledProviders: new Set(['local'])}))
    expect(plan.excluded.length).to.be.greaterThan(8)
    const short = noFeasiblePlanError(plan)
    expect(short.message).to.match(/more groups/)
    const full = noFeasiblePlanError(plan, {explain: true})
    expect(full.message).not.to.match(/more groups/)
    expect(full.message.split('\n').length).to.equal(1 + plan.excluded.length)
    expect(full.hint ?? '').not.to.match(/--explain/)
  })

  it('a --region flag that keeps every offer out is named, not "the job\'s placement.regions"', () => {
    const offers = [offer({region: 'us-east-1'}), offer({region: 'eu-west-1'})]
    const j = job({placement: {providers: {allow: null, deny: []}, regions: {allow: ['mars'], deny: []}}})
    const plan = planJob(input(j, offers))
    const error = noFeasiblePlanError(plan, {regionFlag: 'mars'})
    expect(error.message.split('\n')[0]).to.match(
      /^--region mars: .* aws\/eu-west-1, aws\/us-east-1|^--region mars: .* aws\/us-east-1, aws\/eu-west-1/,
    )
    expect(error.message).not.to.match(/placement\.regions/)
    // From the job file, the file is named.
    expect(noFeasiblePlanError(plan).message).to.match(/placement\.regions/)
  })
})

describe('planner: unknown is never zero', () => {
  const unknown = (instanceType: string, minutes = 5) =>
    offer({od: null, priceStatus: 'unknown', instanceType, acc: 'Ascend910B', expectedQueueMinutes: minutes})
  const ascendJob = (extra: Parameters<typeof job>[0] = {}) =>
    job({resources: {accelerators: [request('Ascend910B:1', ['Ascend910B'], 1)]}, work: null, ...extra})

  it('under cost and balanced, unknown-price candidates rank after every priced one, whatever their speed', () => {
    const offers = [unknown('fast-unknown', 0), offer({od: 40, acc: 'Ascend910B', instanceType: 'dear', expectedQueueMinutes: 600})]
    for (const objective of ['cost', 'balanced'] as const) {
      const plan = planJob(input(ascendJob({objective}), offers))
      expect(
        plan.candidates.map((c) => c.instanceType),
        objective,
      ).to.deep.equal(['dear', 'fast-unknown'])
      expect(plan.candidates[1].estimatedCostUsd).to.equal(null)
      expect(plan.candidates[1].hourlyPriceUsd).to.equal(null)
      expect(plan.candidates[1].estimates.computeCostUsd).to.equal(null)
    }
  })

  it('when only unknown-price offers can run the job, one is chosen, its cost unknown, with how to fix that', () => {
    const plan = planJob(input(ascendJob(), [unknown('slow', 30), unknown('quick', 1)]))
    expect(plan.chosen?.instanceType).to.equal('quick')
    expect(plan.chosen?.estimatedCostUsd).to.equal(null)
    expect(plan.chosen?.estimatedCost).to.equal(null)
    expect(plan.chosen?.notes).to.include('price-unknown')
    const said = plan.assumptions.join('\n')
    expect(said).to.match(/has no known price, so its cost is unknown/)
    expect(said).to.match(/skyhop catalog refresh/)
    expect(said).to.match(/--catalog FILE/)
  })

  it('a budget or max_price excludes unknown prices, and the error leads with that reason', () => {
    const offers = [
      unknown('u1'),
      unknown('u2'),
      // More offers excluded for another blocking reason than for the price.
      ...Array.from({length: 5}, (_, i) => offer({provider: 'oci', acc: 'Ascend910B', od: 1, instanceType: `oci-${i}`})),
    ]
    for (const limit of [{budget: {amount: 100, currency: 'USD' as const}}, {maxPrice: {amount: 10, currency: 'USD' as const}}]) {
      const plan = planJob(input(ascendJob(limit), offers, {enabledProviders: new Set(['aws'])}))
      expect(plan.chosen).to.equal(null)
      expect(plan.excluded[0].reason).to.equal('price-unknown')
      const error = noFeasiblePlanError(plan)
      expect(error.exitCode).to.equal(5)
      expect(error.message.split('\n')[1]).to.match(
        /price-unknown: aws offers have no known price, which the job's (budget|max_price) cannot be checked against/,
      )
      expect(error.hint).to.match(/catalog refresh|price sheet/)
    }
  })
})
