// The local machine's max_concurrent is one limit over all its offers: a machine with two
// kinds of accelerator offers one per kind, and a sweep planned over them must not expect
// more jobs at once than the machine's slots (the runner's flock on max_concurrent slot
// files), however the jobs are spread over the offers.
import {expect} from 'chai'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {planSweep} from '../../../src/planner/index.js'
import {LocalProvider} from '../../../src/providers/local/local-provider.js'
import {NOW, job, request, resolve} from '../planner/fixtures.js'

describe('local provider: one pool of slots for all its offers', () => {
  let home: string
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'skyhop-local-pool-'))
  })
  afterEach(() => rmSync(home, {recursive: true, force: true}))

  /** A machine with one FAST and one SLOW card (the planner fixtures' accelerators). */
  const twoKinds = (maxConcurrent?: number) =>
    new LocalProvider({
      home,
      ...(maxConcurrent === undefined ? {} : {maxConcurrent}),
      toolRunner: async (command) => (command === 'nvidia-smi' ? 'NVIDIA FAST, 81920\nNVIDIA SLOW, 40960\n' : null),
      canonicalAccelerator: (raw) => raw.replace(/^NVIDIA /, ''),
    })

  // Any one card will do; FAST is listed first, so the machine's FAST offer is preferred.
  const jobs = (n: number) =>
    Array.from({length: n}, (_, i) =>
      job({name: `j${i}`, resources: {accelerators: [request('FAST:1', ['FAST'], 1), request('SLOW:1', ['SLOW'], 1)]}}),
    )

  it('a sweep over a two-accelerator machine with max_concurrent 1 runs one job at a time', async () => {
    const offers = await twoKinds(1).liveOffers()
    expect(offers.map((o) => [o.accelerator?.name, o.capacity])).to.deep.equal([
      ['FAST', 1],
      ['SLOW', 1],
    ])
    const sweep = planSweep({jobs: jobs(2), offers, accelerators: resolve, now: NOW, enabledProviders: null, fx: {cnyPerUsd: 7.2}})
    const placed = sweep.assignments.map((a) => ({on: a.candidate?.accelerator?.name, waits: a.waitForSlotHours > 0}))
    // Both placed, but the second after the first: the machine has one slot.
    expect(placed.filter((p) => p.on !== undefined)).to.have.length(2)
    expect(placed.filter((p) => !p.waits)).to.have.length(1)
    const [first, second] = [...sweep.assignments].sort((a, b) => a.waitForSlotHours - b.waitForSlotHours)
    expect(second.waitForSlotHours).to.be.closeTo(first.estimatedFinishHours!, 1e-3)
  })

  it('with max_concurrent 2 the two cards run two jobs at once; a third waits', async () => {
    const offers = await twoKinds(2).liveOffers()
    const sweep = planSweep({jobs: jobs(3), offers, accelerators: resolve, now: NOW, enabledProviders: null, fx: {cnyPerUsd: 7.2}})
    expect(sweep.assignments.filter((a) => a.candidate !== null && a.waitForSlotHours === 0)).to.have.length(2)
    expect(sweep.assignments.filter((a) => a.candidate !== null && a.waitForSlotHours > 0)).to.have.length(1)
  })

  it('without max_concurrent the offers stay unbounded', async () => {
    const offers = await twoKinds().liveOffers()
    expect(offers.map((o) => o.capacity)).to.deep.equal([null, null])
    const sweep = planSweep({jobs: jobs(3), offers, accelerators: resolve, now: NOW, enabledProviders: null, fx: {cnyPerUsd: 7.2}})
    expect(sweep.assignments.every((a) => a.candidate !== null && a.waitForSlotHours === 0)).to.equal(true)
  })
})
