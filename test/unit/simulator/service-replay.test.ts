// The service replay of `simulate --service` on hand-made zones: availability at target and
// at one, cost, the notice, the on-demand fallback, the move back to spot, the spread.
import {expect} from 'chai'

import {type ServiceReplayInput, replayService, serviceStartTicks} from '../../../src/simulator/service-replay.js'
import {market} from './helpers.js'

const GAP = 600
/** Ten ticks of 600 s: 6,000 s. */
const TEN_TICKS_H = (10 * GAP) / 3600

function input(over: Partial<ServiceReplayInput>): ServiceReplayInput {
  return {
    markets: [market('1111111111')],
    onDemandUsdPerHour: 3,
    gapSeconds: GAP,
    durationHours: TEN_TICKS_H,
    startupSeconds: 60,
    noticeSeconds: 120,
    drainWindowSeconds: 5,
    respotSeconds: 0,
    target: 1,
    baseOnDemand: 0,
    spread: 'zones',
    spotAllowed: true,
    ...over,
  }
}

describe('service replay (simulator/service-replay)', () => {
  it('all on-demand: always at target, at the on-demand price', () => {
    const o = replayService(input({target: 2}), 'on-demand', 0)
    expect(o.atTarget).to.equal(1)
    expect(o.atOne).to.equal(1)
    expect(o.costUsd).to.be.closeTo(2 * 3 * TEN_TICKS_H, 1e-9)
    expect(o.spotHours).to.equal(0)
  })

  it('a preemption costs nothing below target when the startup fits in the notice: the noticed replica serves until its drain time, its replacement launched on the notice', () => {
    const zones = [
      market('1111100000', {zone: 'us-west-2a', spotUsdPerHour: 1}),
      market('1111111111', {zone: 'us-west-2b', spotUsdPerHour: 1.5}),
    ]
    const sky = replayService(input({markets: zones}), 'skyhop', 0)
    // Notice at 3,000 − 120 s: the replacement in us-west-2b launched then, ready 60 s later,
    // while the noticed replica serves until its drain time: killed 1.5 s before the end of
    // the notice (the runner's margin), drained 5 s before that, at 2,993.5 s.
    expect(sky.notices).to.equal(1)
    expect(sky.preemptions).to.equal(1)
    expect(sky.atTarget).to.equal(1)
    expect(sky.atOne).to.equal(1)
    expect(sky.outages).to.equal(0)
    expect(sky.costUsd).to.be.closeTo((3000 / 3600) * 1 + ((6000 - 2880) / 3600) * 1.5, 1e-9)
    // A startup longer than the notice: below target from the drain time until the replacement is ready.
    const slow = replayService(input({markets: zones, startupSeconds: 300}), 'skyhop', 0)
    expect(slow.atTarget).to.be.closeTo(1 - (2880 + 300 - 2993.5) / 6000, 1e-9)
    expect(slow.longestOutageSeconds).to.be.closeTo(186.5, 1e-9)
    // A drain window as long as the notice is the old rule: drained at the notice, below target for the startup.
    const atOnce = replayService(input({markets: zones, drainWindowSeconds: 120}), 'skyhop', 0)
    expect(atOnce.atTarget).to.be.closeTo(1 - 60 / 6000, 1e-9)
    expect(atOnce.longestOutageSeconds).to.be.closeTo(60, 1e-9)
    // Spot without the notice: the replacement starts at the death.
    const spot = replayService(input({markets: zones}), 'spot', 0)
    expect(spot.notices).to.equal(0)
    expect(spot.atTarget).to.be.closeTo(1 - 60 / 6000, 1e-9)
    expect(spot.costUsd).to.be.closeTo((3000 / 3600) * 1 + ((6000 - 3000) / 3600) * 1.5, 1e-9)
  })

  it('when no zone has spot, skyhop goes on-demand; spot alone waits', () => {
    const zones = [market('1100000000')]
    const sky = replayService(input({markets: zones}), 'skyhop', 0)
    expect(sky.fallbacks).to.equal(1)
    // The on-demand replacement, launched at the notice, is ready before the spot one's drain time.
    expect(sky.atTarget).to.equal(1)
    expect(sky.onDemandHours).to.be.closeTo((6000 - 1080) / 3600, 1e-9)
    const spot = replayService(input({markets: zones}), 'spot', 0)
    expect(spot.atTarget).to.be.closeTo(1200 / 6000, 1e-9)
    expect(spot.atOne).to.be.closeTo(1200 / 6000, 1e-9)
  })

  it('goes back to spot: a spot replica launched first, the on-demand one drained once it is ready', () => {
    const zones = [market('1100011111')]
    const sky = replayService(input({markets: zones, respotSeconds: 300}), 'skyhop', 0)
    expect(sky.fallbacks).to.equal(1)
    // On-demand from the notice (1,080 s) until the spot replica launched at the first look
    // that finds spot (every 300 s from 1,140 s, when the on-demand one is ready: 3,240 s) is
    // ready 60 s later. The zone under notice is not tried meanwhile, not even by a look.
    expect(sky.onDemandHours).to.be.closeTo((3300 - 1080) / 3600, 1e-9)
    expect(sky.atTarget).to.equal(1)
    const stay = replayService(input({markets: zones, respotSeconds: 0}), 'skyhop', 0)
    expect(stay.onDemandHours).to.be.closeTo((6000 - 1080) / 3600, 1e-9)
  })

  it('keeps the on-demand floor and spreads spot replicas over zones; spot alone piles them into the cheapest', () => {
    const zones = [
      market('1111100000', {zone: 'us-west-2a', spotUsdPerHour: 1}),
      market('1111111111', {zone: 'us-west-2b', spotUsdPerHour: 1.2}),
    ]
    const sky = replayService(input({markets: zones, target: 2}), 'skyhop', 0)
    expect(sky.preemptions).to.equal(1)
    const spot = replayService(input({markets: zones, target: 2}), 'spot', 0)
    expect(spot.preemptions).to.equal(2)
    const floor = replayService(input({markets: zones, target: 3, baseOnDemand: 1}), 'skyhop', 0)
    expect(floor.onDemandHours).to.be.closeTo(TEN_TICKS_H, 1e-9)
    expect(floor.atOne).to.equal(1)
    const spotFloor = replayService(input({markets: zones, target: 2, baseOnDemand: 0}), 'spot-floor', 0)
    expect(spotFloor.onDemandHours, 'spot-floor keeps at least one on-demand').to.be.closeTo(TEN_TICKS_H, 1e-9)
  })

  it('draws start ticks from the seeds, the same for the same seeds', () => {
    const i = input({markets: [market('1'.repeat(100))], durationHours: TEN_TICKS_H})
    const a = serviceStartTicks(i, 5)
    expect(a).to.deep.equal(serviceStartTicks(i, 5))
    expect(a.wrapped).to.equal(false)
    for (const s of a.startTicks) expect(s).to.be.within(0, 90)
  })
})
