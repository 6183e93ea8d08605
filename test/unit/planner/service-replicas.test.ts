// The service replica rules shared by the service controller and `simulate --service`:
// the on-demand floor, the spread key, the drain order, and throughput sizing.
import {expect} from 'chai'

import {
  SLO_MIN_SAMPLES,
  MIN_NOTICE_DRAIN_SECONDS,
  meanSpeed,
  noticeBlockUntil,
  noticeDrainAt,
  noticeDrainWindowSeconds,
  pickSurplus,
  replicaMarkets,
  replicaSpeed,
  replicasForRate,
  servesAt,
  sizeReplicas,
  spreadKeyOf,
  wantedReplicas,
} from '../../../src/planner/service-replicas.js'

describe('service replica rules (planner/service-replicas)', () => {
  it('fills the on-demand floor first, counting the on-demand replicas the service has, then spot', () => {
    expect(replicaMarkets(3, 0, 1, true)).to.deep.equal([false, true, true])
    expect(replicaMarkets(3, 1, 1, true)).to.deep.equal([true, true, true])
    expect(replicaMarkets(2, 0, 2, true)).to.deep.equal([false, false])
    expect(replicaMarkets(2, 0, 0, false)).to.deep.equal([false, false])
    expect(replicaMarkets(0, 0, 1, true)).to.deep.equal([])
  })

  it('spreads over zones, providers or nothing', () => {
    const p = {provider: 'aws', region: 'us-east-1', zone: 'us-east-1a'}
    expect(spreadKeyOf('zones', p)).to.equal('aws/us-east-1/us-east-1a')
    expect(spreadKeyOf('providers', p)).to.equal('aws')
    expect(spreadKeyOf('none', p)).to.equal(null)
  })

  it('drains starting replicas first, then on-demand above the floor, then spot, newest first, and keeps the floor', () => {
    const r = (n: number, spot: boolean, ready = true, requested = false) => ({n, spot, ready, requested, draining: false})
    // Two ready on-demand (floor 1), two ready spot: the on-demand above the floor goes first, then the newest spot.
    expect(pickSurplus([r(1, false), r(2, false), r(3, true), r(4, true)], 2, 1)).to.deep.equal([1, 3])
    // One still starting goes before any ready one.
    expect(pickSurplus([r(1, true), r(2, true, false)], 1, 0)).to.deep.equal([1])
    // A launch still out is never picked.
    expect(pickSurplus([r(1, true), r(2, true, false, true)], 1, 0)).to.deep.equal([0])
    // The floor's on-demand stays while a spot replica can go instead.
    expect(pickSurplus([r(1, false), r(2, true)], 1, 1)).to.deep.equal([1])
    expect(pickSurplus([r(1, false)], 0, 1)).to.deep.equal([])
  })

  describe('throughput sizing', () => {
    const flat = (price: number) => (n: number) => n * price
    it('sizes each configuration by its speed and picks the cheapest that meets the demand', () => {
      const s = sizeReplicas({
        demandQps: 250,
        qpsPerReplica: 50,
        min: 1,
        max: 10,
        options: [
          {name: 'V100:1', speed: 1, usdPerHour: flat(3)},
          {name: 'A100:1', speed: 2.5, usdPerHour: flat(5)},
          {name: 'T4:1', speed: 0.4, usdPerHour: flat(0.5)},
        ],
      })
      expect(s.options.map((o) => [o.name, o.replicas, o.meets])).to.deep.equal([
        ['V100:1', 5, true],
        ['A100:1', 2, true],
        ['T4:1', 10, false],
      ])
      // V100 5 × 3 = 15, A100 2 × 5 = 10; T4 would cost 6.5 but carries only 200 of 250 requests/s.
      expect(s.options[s.chosen].name).to.equal('A100:1')
      expect(s.options[1].capacityQps).to.equal(250)
    })

    it('when nothing meets the demand, takes the configuration that carries the most', () => {
      const s = sizeReplicas({
        demandQps: 1000,
        qpsPerReplica: 50,
        min: 1,
        max: 4,
        options: [
          {name: 'V100:1', speed: 1, usdPerHour: flat(3)},
          {name: 'A100:1', speed: 2.5, usdPerHour: flat(5)},
        ],
      })
      expect(s.options.every((o) => !o.meets)).to.equal(true)
      expect(s.options[s.chosen].name).to.equal('A100:1')
      expect(s.options[s.chosen].replicas).to.equal(4)
    })

    it('keeps the minimum when the demand needs fewer, and prices the market mix it is given', () => {
      const mix = (od: number, spot: number, floor: number) => (n: number) => Math.min(n, floor) * od + Math.max(0, n - floor) * spot
      const s = sizeReplicas({
        demandQps: 10,
        qpsPerReplica: 50,
        min: 2,
        max: 4,
        options: [{name: 'V100:1', speed: 1, usdPerHour: mix(3, 1, 1)}],
      })
      expect(s.options[0]).to.include({replicas: 2, usdPerHour: 4, meets: true})
    })

    it('rejects a per-replica rate that is not positive', () => {
      expect(() => sizeReplicas({demandQps: 1, qpsPerReplica: 0, min: 1, max: 1, options: []})).to.throw(RangeError)
    })

    it('turns a measured rate into a count at the replicas’ speed', () => {
      expect(replicasForRate(120, 50, 1, 1, 8)).to.equal(3)
      expect(replicasForRate(120, 50, 2.5, 1, 8)).to.equal(1)
      expect(replicasForRate(100, 50, 1, 1, 8)).to.equal(2)
      expect(replicasForRate(1000, 50, 1, 1, 8)).to.equal(8)
      expect(replicasForRate(0, 50, 1, 2, 8)).to.equal(2)
    })
  })

  describe('the latency SLO', () => {
    const base = {current: 2, forRate: 2, min: 1, max: 4, sloP95Ms: 500}
    it('asks for one more replica while the worst replica’s p95 is above the SLO, never fewer than now', () => {
      const slow = [
        {p95Ms: 300, samples: 100},
        {p95Ms: 800, samples: 100},
      ]
      expect(wantedReplicas({...base, replicaP95Ms: slow})).to.deep.equal({wanted: 3, sloBreached: true, p95Ms: 800})
      // The rate alone would go down to 1: not while the SLO is broken.
      expect(wantedReplicas({...base, forRate: 1, replicaP95Ms: slow}).wanted).to.equal(3)
      // The rate's count wins when it is higher.
      expect(wantedReplicas({...base, forRate: 4, replicaP95Ms: slow}).wanted).to.equal(4)
      // Never above max.
      expect(wantedReplicas({...base, current: 4, replicaP95Ms: slow}).wanted).to.equal(4)
    })

    it('follows the rate when the p95 is within the SLO, there is no SLO, or too few samples', () => {
      const fast = [{p95Ms: 120, samples: 100}]
      expect(wantedReplicas({...base, forRate: 1, replicaP95Ms: fast})).to.deep.equal({wanted: 1, sloBreached: false, p95Ms: 120})
      expect(wantedReplicas({...base, sloP95Ms: null, forRate: 1, replicaP95Ms: [{p95Ms: 900, samples: 100}]}).wanted).to.equal(1)
      const few = [{p95Ms: 900, samples: SLO_MIN_SAMPLES - 1}]
      expect(wantedReplicas({...base, forRate: 1, replicaP95Ms: few})).to.deep.equal({wanted: 1, sloBreached: false, p95Ms: null})
    })
  })

  it('blocks a zone under notice until a while after the kill', () => {
    expect(noticeBlockUntil(1000, 121_000, 60_000)).to.equal(181_000)
    expect(noticeBlockUntil(1000, null, 60_000)).to.equal(61_000)
    expect(noticeBlockUntil(200_000, 121_000, 60_000)).to.equal(260_000)
  })

  it('a noticed replica is drained the drain window before its kill, never before the notice', () => {
    // AWS: notice at 0, killed at 118.5 s (the runner's margin); a 5 s window drains at 113.5 s.
    expect(noticeDrainAt({noticeAt: 0, killAt: 118_500, grace: 120_000, window: 5_000})).to.equal(113_500)
    // No kill time from the backend: the notice plus the grace.
    expect(noticeDrainAt({noticeAt: 1_000, killAt: null, grace: 30_000, window: 5_000})).to.equal(26_000)
    // A window as long as the grace (or longer): drained at the notice.
    expect(noticeDrainAt({noticeAt: 1_000, killAt: 31_000, grace: 30_000, window: 30_000})).to.equal(1_000)
    expect(noticeDrainAt({noticeAt: 1_000, killAt: 31_000, grace: 30_000, window: 60_000})).to.equal(1_000)
  })

  it('the drain window is the least one, or three times the longest request time known (SLO p95, measured p99)', () => {
    expect(noticeDrainWindowSeconds({sloP95Seconds: null, measuredP99Seconds: null})).to.equal(MIN_NOTICE_DRAIN_SECONDS)
    expect(noticeDrainWindowSeconds({sloP95Seconds: 0.5, measuredP99Seconds: null})).to.equal(MIN_NOTICE_DRAIN_SECONDS)
    expect(noticeDrainWindowSeconds({sloP95Seconds: 4, measuredP99Seconds: null})).to.equal(12)
    expect(noticeDrainWindowSeconds({sloP95Seconds: 4, measuredP99Seconds: 10})).to.equal(30)
    expect(noticeDrainWindowSeconds({sloP95Seconds: null, measuredP99Seconds: 2})).to.equal(6)
  })

  it('a noticed replica counts as ready until its drain time; one drained otherwise, not at all', () => {
    const noticed = {ready: true, draining: true, drainAt: 113_500}
    expect(servesAt(0, noticed)).to.equal(true)
    expect(servesAt(113_499, noticed)).to.equal(true)
    expect(servesAt(113_500, noticed)).to.equal(false)
    expect(servesAt(0, {...noticed, ready: false})).to.equal(false)
    expect(servesAt(0, {ready: true, draining: true, drainAt: null})).to.equal(false)
    expect(servesAt(0, {ready: true, draining: false, drainAt: null})).to.equal(true)
  })

  it('a replica’s speed is the work over the planner’s run hours on it; the service’s, their mean', () => {
    expect(replicaSpeed(10, 4)).to.equal(2.5)
    expect(replicaSpeed(null, 4)).to.equal(1)
    expect(replicaSpeed(10, 0)).to.equal(1)
    expect(meanSpeed([2.5, 1.5])).to.equal(2)
    expect(meanSpeed([])).to.equal(1)
    // 250 requests/s at 50 per reference replica: 5 reference replicas, or 2 at speed 2.5.
    expect(replicasForRate(250, 50, meanSpeed([2.5, 2.5]), 1, 8)).to.equal(2)
    expect(replicasForRate(250, 50, meanSpeed([]), 1, 8)).to.equal(5)
  })
})
