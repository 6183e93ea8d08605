// The real controller (driveJob) and planner replayed over hand-made traces with the
// simulated provider and clock: deadlines held, preemption → relaunch in another zone,
// the planner's deadline-risk exclusion moving the job to on-demand when time is short.
import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {loadRegistry} from '../../../src/catalog/accelerators.js'
import {type ControllerRunInput, runController} from '../../../src/simulator/controller-run.js'
import type {SpotMarket} from '../../../src/simulator/types.js'
import {loadJobFile} from '../../../src/spec/load.js'
import {simulateFileAsync} from '../../../src/simulator/run.js'
import {SHARED_TRACES, market, requireSharedTraces} from './helpers.js'

const registry = loadRegistry()
const NOW = new Date('2026-01-01T00:00:00Z')

function job(extra = '') {
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-simjob-'))
  const file = join(dir, 'job.yaml')
  writeFileSync(file, `name: sim\nresources: {accelerators: V100:1}\nwork: {reference: V100:1, hours: 4}\ndeadline: 8h\nrun: python train.py\n${extra}`)
  return loadJobFile(file, {now: NOW}).spec
}

function input(markets: SpotMarket[], over: Partial<ControllerRunInput> = {}): ControllerRunInput {
  return {
    job: job(),
    registry,
    markets,
    gapHours: 1,
    startTick: 0,
    nodes: 1,
    workHours: 4,
    deadlineHours: 8,
    changeoverHours: 0.5,
    noticeHours: 0,
    ...over,
  }
}

describe('simulator: the real controller on a simulated provider', function () {
  this.timeout(20_000)

  it('runs on spot where there is spot and finishes in time', async () => {
    const out = await runController(input([market('1111111111')]))
    expect(out.jobState).to.equal('SUCCEEDED')
    expect(out.missed).to.equal(false)
    expect(out.attempts).to.deep.equal([{zone: 'us-west-2a', spot: true, state: 'SUCCEEDED'}])
    expect(out.spotWorkHours).to.be.closeTo(4, 1e-6)
    expect(out.finishHours).to.be.closeTo(4.5, 1e-6)
    expect(out.costUsd).to.be.closeTo(4.5, 1e-6)
    expect(out.changeovers).to.equal(1)
  })

  it('a preemption leads to a relaunch in another zone', async () => {
    // us-west-2a is cheaper, so the planner starts there; its spot goes at 2 h.
    const a = market('1100000000', {zone: 'us-west-2a', region: 'us-west-2', spotUsdPerHour: 0.9})
    const b = market('1111111111', {zone: 'us-east-1a', region: 'us-east-1'})
    const out = await runController(input([a, b]))
    expect(out.missed).to.equal(false)
    expect(out.preemptions).to.equal(1)
    expect(out.attempts.map((x) => `${x.zone}:${x.spot ? 'spot' : 'od'}:${x.state}`)).to.deep.equal(['us-west-2a:spot:PREEMPTED', 'us-east-1a:spot:SUCCEEDED'])
    // 1.5 h of work kept from the first zone, 2.5 h in the second, each after d = 0.5 h.
    expect(out.spotWorkHours).to.be.closeTo(4, 1e-6)
    expect(out.finishHours).to.be.closeTo(2 + 0.5 + 2.5, 1e-6)
    expect(out.costUsd).to.be.closeTo(2 * 0.9 + 3 * 1, 1e-6)
    expect(out.changeovers).to.equal(2)
  })

  it('falls back to on-demand when no zone has spot', async () => {
    const out = await runController(input([market('0000000000')]))
    expect(out.missed).to.equal(false)
    expect(out.spotHours).to.equal(0)
    expect(out.onDemandWorkHours).to.be.closeTo(4, 1e-6)
    expect(out.costUsd).to.be.closeTo(4.5 * 3, 1e-6)
  })

  it('when time is short the deadline-risk exclusion sends the job to on-demand', async () => {
    // 4 h of work, 5 h to the deadline, d = 0.5: spot's pessimistic finish does not fit.
    const out = await runController(input([market('1111111111')], {deadlineHours: 5}))
    expect(out.missed).to.equal(false)
    expect(out.attempts).to.deep.equal([{zone: 'us-west-2a', spot: false, state: 'SUCCEEDED'}])
    expect(out.finishHours).to.be.closeTo(4.5, 1e-6)
  })

  it('never misses on flapping spot', async () => {
    for (let s = 0; s < 10; s++) {
      const a = market('1101101101001110', {zone: 'us-west-2a'})
      const out = await runController(input([a], {startTick: s}))
      expect(out.missed, `start ${s}: ${JSON.stringify(out.attempts)}`).to.equal(false)
    }
  })

  it('on the shared nine-zone traces: zero misses, beside the mirrored policy', async function () {
    requireSharedTraces(this)
    const dir = mkdtempSync(join(tmpdir(), 'skyhop-simjob-'))
    const file = join(dir, 'job.yaml')
    writeFileSync(file, 'name: paper\nresources: {accelerators: V100:1}\nwork: {reference: V100:1, hours: 48}\ndeadline: 60h\nrun: x\n')
    const r = await simulateFileAsync({
      file,
      traces: join(SHARED_TRACES, 'availability/1-node/aws-02-15-2023'),
      home: mkdtempSync(join(tmpdir(), 'skyhop-home-')),
      seeds: 10,
      spotPrice: ['1'],
      onDemandPrice: ['3'],
      now: NOW,
      policies: ['skyhop', 'skyhop-controller'],
    })
    expect(r.policies.map((p) => p.name)).to.deep.equal(['skyhop', 'skyhop-controller'])
    const c = r.policies[1]
    expect(c.runs).to.equal(10)
    expect(c.deadlineMisses).to.equal(0)
    expect(c.spotHours).to.be.greaterThan(0)
    expect(c.costRelativeToOnDemand).to.be.within(1 / 3, 1.1)
  })
})
