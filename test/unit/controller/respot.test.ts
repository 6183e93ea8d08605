// The controller's decisions about spot (src/controller/respot.ts): how much work is left,
// when to wait for spot instead of launching on-demand, and when to leave on-demand for
// spot. Plans come from the real planner over the hand-made offers of the planner's tests;
// every figure is worked out in the comment above the test that uses it.
import {expect} from 'chai'

import {
  MIN_SAVING_FRACTION,
  aheadOfLine,
  assessMigration,
  decideWait,
  fallbackAfterMove,
  fallbackMarginHours,
  fallbackSpot,
  fallbackWait,
  keptHours,
  lostHours,
  migrationMarginHours,
  nextLookMs,
  outageEstimate,
  outagePriorHours,
  outageShort,
  outageWait,
  respotIntervalMs,
  spotUpFraction,
  waitApplies,
  workDoneHours,
  workLeftHours,
  workOverrun,
} from '../../../src/controller/respot.js'
import {planJob} from '../../../src/planner/index.js'
import type {Plan} from '../../../src/planner/types.js'
import type {JobSpec} from '../../../src/model/job-spec.js'
import {hoursFromNow, input, job, offer} from '../planner/fixtures.js'

const H = 3_600_000
const close = (a: number, b: number, eps = 1e-3) => expect(a).to.be.closeTo(b, eps)

// The planner scenario "a tight deadline turns spot into on-demand": 10 h of work on SLOW,
// checkpoints every 30 min, spot 1 USD/h preempted 0.1/h, on-demand 3 USD/h. Spot: N =
// 0.1·10 / (1 − 0.1·(0.25 + 0.1)) = 1.0363 preemptions, each 8/60 + 0.1 + 0.25 h; p95 of
// Poisson(1.0363) is 3 → pessimistic finish 8/60 + 10 + 3·0.4833 = 11.583 h. On-demand
// finishes in 5/60 + 10 = 10.083 h. With the margin at 0 (as the simulator plans) spot fits
// a deadline ≥ 11.583 h away and on-demand one ≥ 10.083 h away.
const SPOT_P95 = 8 / 60 + 10 + 3 * (8 / 60 + 0.1 + 0.25)
const OD_FINISH = 5 / 60 + 10
const offers = [offer({acc: 'SLOW', od: 3, spot: 1, preemptionRatePerHour: 0.1})]

function spec(over: Partial<JobSpec> = {}): JobSpec {
  return job({spot: 'auto', checkpoint: {dir: '/ckpt', intervalSeconds: 1800, store: null}, ...over})
}

/** The plan for the job with `workHours` left and `hoursLeft` to its deadline (margin 0). */
function plan(hoursLeft: number | null, workHours = 10, over: Partial<JobSpec> = {}, o = offers): Plan {
  const j = spec({
    deadline: hoursLeft === null ? null : hoursFromNow(hoursLeft),
    work: {reference: {name: 'SLOW', count: 1}, hours: workHours},
    ...over,
  })
  return planJob(input(j, o, {options: {safetyMargin: 0}}))
}

/** The pair of plans the controller makes to judge slack after losing `hours`. */
function after(hoursLeft: number, hours: number, workHours = 10, o = offers) {
  return {spot: plan(hoursLeft - hours, workHours, {}, o), onDemand: plan(hoursLeft - hours, workHours, {spot: 'on-demand'}, o)}
}

describe('respot: the look interval', () => {
  it('defaults to 300 s, SKYHOP_RESPOT_INTERVAL_SECONDS sets it, 0 turns it off', () => {
    expect(respotIntervalMs({})).to.equal(300_000)
    expect(respotIntervalMs({SKYHOP_RESPOT_INTERVAL_SECONDS: '60'})).to.equal(60_000)
    expect(respotIntervalMs({SKYHOP_RESPOT_INTERVAL_SECONDS: '0'})).to.equal(0)
    expect(respotIntervalMs({SKYHOP_RESPOT_INTERVAL_SECONDS: 'soon'})).to.equal(300_000)
    expect(respotIntervalMs({SKYHOP_RESPOT_INTERVAL_SECONDS: '-5'})).to.equal(300_000)
  })

  it('probes that found no spot double the time to the next look, up to 16 steps', () => {
    expect([0, 1, 2, 3, 4, 5, 9].map((n) => nextLookMs(1000, n))).to.deep.equal([1000, 2000, 4000, 8000, 16_000, 16_000, 16_000])
  })

  it('waiting applies to spot: auto with a deadline, and only while the interval is on', () => {
    expect(waitApplies('auto', hoursFromNow(20), 1000)).to.equal(true)
    expect(waitApplies('auto', null, 1000)).to.equal(false)
    expect(waitApplies('on-demand', hoursFromNow(20), 1000)).to.equal(false)
    expect(waitApplies('spot', hoursFromNow(20), 1000)).to.equal(false)
    expect(waitApplies('auto', hoursFromNow(20), 0)).to.equal(false)
  })
})

describe('respot: work done and left', () => {
  const t0 = Date.parse('2026-01-01T00:00:00Z')
  const at = (h: number) => t0 + h * H

  it("keeps an ended attempt's running up to its last checkpoint, the live one in full", () => {
    // Checkpoints every 30 min. Attempt 1 ran 2.75 h and was preempted: 2.5 h kept. Attempt 2
    // (twice as fast) ran 1.2 h and still runs: 2.4 reference hours. A launch that never
    // started and an attempt of unknown speed count for nothing.
    const attempts = [
      {state: 'PREEMPTED', startedAtMs: at(0), endedAtMs: at(2.75), workPerHour: 1},
      {state: 'FAILED', startedAtMs: null, endedAtMs: at(3), workPerHour: 1},
      {state: 'PREEMPTED', startedAtMs: at(3), endedAtMs: at(3.5), workPerHour: null},
      {state: 'RUNNING', startedAtMs: at(4), endedAtMs: null, workPerHour: 2},
    ]
    close(workDoneHours(attempts, at(5.2), 1800), 2.5 + 2.4)
    // Without checkpoints an attempt that ended keeps nothing (the job restarts from scratch).
    close(workDoneHours(attempts, at(5.2), null), 2.4)
    // One that succeeded did all it ran.
    close(workDoneHours([{state: 'SUCCEEDED', startedAtMs: at(0), endedAtMs: at(1.9), workPerHour: 1}], at(3), 1800), 1.9)
  })

  it('kept and lost hours of a stop now, by the checkpoint interval', () => {
    close(keptHours(1.2, 1800), 1)
    close(lostHours(1.2, 1800), 0.2)
    close(keptHours(1, 1800), 1)
    close(lostHours(1, 1800), 0)
    expect(keptHours(5, null)).to.equal(0)
    close(lostHours(5, null), 5)
  })

  it('the work left never drops to nothing, and running past work.hours is noticed', () => {
    close(workLeftHours(10, 4), 6)
    close(workLeftHours(10, 12), 10 * 1e-4)
    expect(workOverrun(10, 9.99)).to.equal(false)
    expect(workOverrun(10, 10)).to.equal(true)
  })
})

describe('respot: waiting for spot', () => {
  const step = 1 * H

  it('the figures the other tests rely on', () => {
    close(plan(20).chosen!.estimatedFinishHours, 8 / 60 + 10 + 1.0363 * (8 / 60 + 0.35))
    expect(plan(SPOT_P95 + 0.01).chosen!.spot).to.equal(true)
    expect(plan(SPOT_P95 - 0.01).chosen!.spot).to.equal(false)
    expect(plan(OD_FINISH + 0.01, 10, {spot: 'on-demand'}).chosen).to.not.equal(null)
    expect(plan(OD_FINISH - 0.01, 10, {spot: 'on-demand'}).chosen).to.equal(null)
  })

  it('waits a step while spot still fits after it, and says why', () => {
    // 13 h left: after a 1 h wait, 12 h ≥ 11.583 h (spot, pessimistic) and ≥ 10.083 h (on-demand).
    const p = after(13, 1)
    const d = decideWait({stepMs: step, spotLater: p.spot, onDemandLater: p.onDemand})
    expect(d.wait).to.equal(true)
    if (!d.wait) return
    expect(d.ms).to.equal(step)
    expect(d.message).to.match(/waiting 1 h for it: aws\/us-east-1 spot would still finish by the deadline then/)
    expect(d.data).to.deep.include({waitSeconds: 3600, spot: 'aws/us-east-1/-/SLOWx1#spot', onDemand: 'aws/us-east-1/-/SLOWx1#on-demand'})
  })

  it('a job with no slack to spare never waits: spot fits now, but not a step later', () => {
    // 12.3 h left: spot fits now (≥ 11.583) but after a 1 h wait 11.3 h would not.
    expect(plan(12.3).chosen!.spot).to.equal(true)
    const p = after(12.3, 1)
    const d = decideWait({stepMs: step, spotLater: p.spot, onDemandLater: p.onDemand})
    expect(d).to.deep.include({wait: false, code: 'spot-does-not-fit'})
    expect(d.message).to.match(
      /no spot to launch now, and spot would no longer finish by the deadline at its pessimistic \(p95\) estimate 1 h from now: launching on-demand/,
    )
  })

  it('does not wait when on-demand would no longer fit after the step', () => {
    // A spot-only FAST offer (3× SLOW: 3.33 h) beside on-demand SLOW (10 h): after a 1 h wait
    // with 10.5 h left, FAST spot still fits but SLOW on-demand (10.083 h) does not.
    const o = [offer({acc: 'FAST', od: null, spot: 1, preemptionRatePerHour: 0.1}), offer({acc: 'SLOW', od: 3, spot: null})]
    const over = {
      resources: {
        accelerators: [{names: ['SLOW', 'FAST'], vendors: null, memoryGB: null, count: {min: 1, max: 1}, text: 'SLOW or FAST'}],
        acceleratorOrder: 'any' as const,
        runtimes: null,
        cpus: null,
        memoryGB: null,
        diskGB: null,
      },
    }
    const spotLater = plan(9.5, 10, over, o)
    const onDemandLater = plan(9.5, 10, {...over, spot: 'on-demand'}, o)
    expect(spotLater.chosen!.spot).to.equal(true)
    const d = decideWait({stepMs: step, spotLater, onDemandLater})
    expect(d).to.deep.include({wait: false, code: 'on-demand-does-not-fit'})
  })

  it('does not wait for spot the plan would not choose, or that does not exist', () => {
    // Spot at 2.95 USD/h with its preemption overhead costs more than on-demand at 3.
    const dear = [offer({acc: 'SLOW', od: 3, spot: 2.95, preemptionRatePerHour: 0.1})]
    const p = {spot: plan(19, 10, {}, dear), onDemand: plan(19, 10, {spot: 'on-demand'}, dear)}
    expect(decideWait({stepMs: step, spotLater: p.spot, onDemandLater: p.onDemand})).to.deep.include({
      wait: false,
      code: 'on-demand-preferred',
    })
    const none = [offer({acc: 'SLOW', od: 3, spot: null})]
    const q = {spot: plan(19, 10, {}, none), onDemand: plan(19, 10, {spot: 'on-demand'}, none)}
    expect(decideWait({stepMs: step, spotLater: q.spot, onDemandLater: q.onDemand})).to.deep.include({wait: false, code: 'no-spot'})
  })
})

describe('respot: leaving on-demand for spot', () => {
  // The running on-demand attempt: 3 USD/h, 5 min to relaunch it.
  const current = (runHoursLeft: number, lost = 0) => ({hourlyUsd: 3, runHoursLeft, lostHours: lost, relaunchHours: 5 / 60})

  it('migrates when spot saves clearly more than a wasted try costs', () => {
    // 10 h left, no deadline. Spot's expected cost: 1 × (10 + 1.0363 × (0.1 + 0.25)) = 10.363;
    // the move adds its changeover (8/60 h), the restore (0.1 h) and 0.2 h since the last
    // checkpoint at spot's price: 10.796. Staying: 3 × 10 = 30. Saving 19.204 > max(a wasted
    // try 1 × 8/60 + 3 × 5/60 = 0.383, a tenth of staying = 3).
    const a = assessMigration(plan(null), current(10, 0.2))
    expect(a.go).to.equal(true)
    if (!a.go) return
    close(a.stayUsd, 30)
    close(a.goUsd, 10.363 + 8 / 60 + 0.1 + 0.2)
    close(a.savingUsd, 30 - (10.363 + 8 / 60 + 0.3))
    close(a.switchHours, 8 / 60 + 0.1 + 0.2)
    expect(a.to.key).to.equal('aws/us-east-1/-/SLOWx1#spot')
    expect(a.message).to.match(/expected to save \$19\.20 over the work left \(\$30\.00 on-demand, \$10\.80 on spot/)
  })

  it('stays near the end, where a move would not pay for a try that finds no spot', () => {
    // 0.25 h left: spot N = 0.1·0.25 / (1 − 0.1·(0.125 + 0.1)) = 0.02558, cost 0.25 + 0.02558 ×
    // 0.225 = 0.2558; with the move 0.2558 + 0.2333 = 0.4891; staying 0.75: saving 0.261 <
    // 0.383 (a wasted try). With 0.5 h left it pays: 1.5 − (0.5181 + 0.2333) = 0.749 > 0.383.
    const near = assessMigration(plan(null, 0.25), current(0.25))
    expect(near).to.deep.include({go: false, code: 'saving-too-small'})
    expect(near.go === false && near.data).to.deep.include({neededUsd: 0.3833})
    expect(assessMigration(plan(null, 0.5), current(0.5)).go).to.equal(true)
  })

  it('counts the work since the last checkpoint against the move', () => {
    // 2 h left: staying 6; spot 2 + N·0.35 with N = 0.2/0.965 = 0.2073 → 2.0725, plus 0.2333
    // → saving 3.694. Losing 3.5 h of running since the last checkpoint costs 3.5 more at
    // spot's price: 0.194 < 0.6 (a tenth of staying): stay.
    expect(assessMigration(plan(null, 2), current(2)).go).to.equal(true)
    const lossy = assessMigration(plan(null, 2), current(2, 3.5))
    expect(lossy).to.deep.include({go: false, code: 'saving-too-small'})
    expect(MIN_SAVING_FRACTION).to.equal(0.1)
  })

  it('stays when the plan would not choose spot, has none, or a price is unknown', () => {
    const dear = [offer({acc: 'SLOW', od: 3, spot: 2.95, preemptionRatePerHour: 0.1})]
    expect(assessMigration(plan(null, 10, {}, dear), current(10))).to.deep.include({go: false, code: 'on-demand-preferred'})
    expect(assessMigration(plan(null, 10, {}, [offer({acc: 'SLOW', od: 3, spot: null})]), current(10))).to.deep.include({
      go: false,
      code: 'no-spot',
    })
    // 11 h to the deadline: spot's pessimistic 11.583 h does not fit, on-demand's 10.083 h does.
    expect(assessMigration(plan(11), current(10))).to.deep.include({go: false, code: 'spot-does-not-fit'})
    expect(assessMigration(plan(null), {...current(10), hourlyUsd: null})).to.deep.include({go: false, code: 'unknown-cost'})
  })

  it('with a deadline, leaves only while on-demand would still finish after the move, a wait, a relaunch and a spot changeover', () => {
    // Margin: the move (8/60 + 0.1 h), a 10 min step of waiting, an on-demand relaunch
    // (5/60 h) and spot's changeover again (8/60 h) = 0.6167 h. On-demand needs 10.083 h.
    const margin = migrationMarginHours(8 / 60 + 0.1, 10 * 60_000, 5 / 60, 8 / 60)
    close(margin, 8 / 60 + 0.1 + 1 / 6 + 5 / 60 + 8 / 60)
    expect(fallbackAfterMove(after(OD_FINISH + margin + 0.01, margin).onDemand, margin).ok).to.equal(true)
    const tight = fallbackAfterMove(after(OD_FINISH + margin - 0.01, margin).onDemand, margin)
    expect(tight).to.deep.include({ok: false, code: 'on-demand-does-not-fit'})
    expect((tight as {message: string}).message).to.match(
      /on-demand would no longer finish by the deadline should spot be lost 37 min from now/,
    )
    // Spot's own p95 finish (11.58 h) need not fit after the margin: on-demand is the net.
    expect(fallbackAfterMove(after(11, margin).onDemand, margin).ok).to.equal(true)
    expect(after(11, margin).spot.chosen?.spot ?? false).to.equal(false)
  })

  it('does not thrash: a job that on-demand alone keeps in time does not leave it', () => {
    // For every time left around the edge: whenever on-demand would no longer finish after
    // one step of waiting (so the job was sent to on-demand, or kept there, for the
    // deadline), the move's larger margin refuses too; with room to spare, it may move.
    const step = 10 * 60_000
    const margin = migrationMarginHours(8 / 60 + 0.1, step, 5 / 60, 8 / 60)
    const seen = {refused: 0, moved: 0}
    for (let left = 9.5; left <= 13; left += 0.01) {
      const afterStep = after(left, step / H).onDemand
      const moves = fallbackAfterMove(after(left, margin).onDemand, margin).ok
      if (afterStep.chosen === null) expect(moves, `${left.toFixed(2)} h left`).to.equal(false)
      seen[moves ? 'moved' : 'refused']++
    }
    expect(seen.refused).to.be.greaterThan(0)
    expect(seen.moved).to.be.greaterThan(0)
  })
})

describe('respot: on-demand as the safety net (Uniform Progress)', () => {
  const t0 = Date.parse('2026-01-01T00:00:00Z')
  // 10 h of work over 20 h: the line asks for 0.5 h of work per hour.
  const line = (done: number) => ({totalHours: 10, doneHours: done, startMs: t0, deadlineMs: t0 + 20 * H})

  it('ahead means strictly more work done than the straight line from creation to deadline asks by then', () => {
    expect(aheadOfLine(line(3), t0 + 5 * H)).to.equal(true) // the line: 2.5 h
    expect(aheadOfLine(line(2.5), t0 + 5 * H)).to.equal(false)
    expect(aheadOfLine(line(3), t0 + 7 * H)).to.equal(false) // 3.5 h by then
    // At creation nothing is done and nothing is asked: not ahead (a job that never ran keeps the p95 rule).
    expect(aheadOfLine(line(0), t0)).to.equal(false)
    // Past the deadline the line asks for all of it; a line without a deadline is never ahead.
    expect(aheadOfLine(line(9.9), t0 + 30 * H)).to.equal(false)
    expect(aheadOfLine({...line(5), deadlineMs: Number.NaN}, t0 + H)).to.equal(false)
  })

  it("the margin is spot's changeover, the work since the last checkpoint and the wait", () => {
    close(fallbackMarginHours(0.2, 1800, 10 * 60_000), 0.2 + 0.5 + 1 / 6)
    close(fallbackMarginHours(0.2, null), 0.2)
  })

  it('admits spot the p95 rule leaves out while on-demand stays in time after a preemption at once', () => {
    // 11 h left: spot's p95 finish (11.583 h) is out, on-demand (10.083 h) fits. With a 0.5 h
    // margin on-demand still fits in 10.5 h: spot may be tried, or waited for.
    const now = plan(11)
    expect(now.candidates.some((c) => c.spot)).to.equal(false)
    const free = plan(null)
    const v = fallbackSpot({plan: now, free, onDemandLater: plan(10.5, 10, {spot: 'on-demand'})})
    expect(v.ok).to.equal(true)
    if (!v.ok) return
    expect(v.spot.map((c) => c.key)).to.deep.equal(['aws/us-east-1/-/SLOWx1#spot'])
    expect(v.onDemand.key).to.equal('aws/us-east-1/-/SLOWx1#on-demand')
    const w = fallbackWait(10 * 60_000, v.spot[0])
    expect(w.wait).to.equal(true)
    expect(w.message).to.match(
      /^no spot to launch now; waiting 10 min for it: the job is ahead of schedule, and on-demand would still finish by the deadline then even if aws\/us-east-1 spot were taken back at once$/,
    )
    expect(w.data).to.deep.include({waitSeconds: 600, rule: 'on-demand-fallback'})
  })

  it('refuses when on-demand would be late after the margin, when the p95 rule decides, or when spot does not pay', () => {
    const free = plan(null)
    const od = plan(10.5, 10, {spot: 'on-demand'})
    // 10 h left after the margin: on-demand's 10.083 h no longer fits.
    expect(fallbackSpot({plan: plan(11), free, onDemandLater: plan(10, 10, {spot: 'on-demand'})})).to.deep.equal({
      ok: false,
      reason: 'on-demand-does-not-fit',
    })
    // Spot fits at p95: the usual rules apply, nothing for the safety net to add.
    expect(fallbackSpot({plan: plan(12), free, onDemandLater: od})).to.deep.equal({ok: false, reason: 'not-too-late'})
    // Spot dearer than on-demand with its overhead: not worth waiting for, deadline or not.
    const dear = [offer({acc: 'SLOW', od: 3, spot: 2.95, preemptionRatePerHour: 0.1})]
    const dearFree = plan(null, 10, {}, dear)
    expect(dearFree.chosen!.spot).to.equal(false)
    expect(fallbackSpot({plan: plan(11, 10, {}, dear), free: dearFree, onDemandLater: od})).to.deep.include({ok: false})
  })

  it('only spot no slower than the on-demand fallback: running on it never eats the slack the fallback needs', () => {
    // FAST spot (3.33 h) beside SLOW on-demand (10 h) qualifies; SLOW spot beside FAST on-demand does not.
    const res = (names: string[]) => ({
      resources: {
        accelerators: [{names, vendors: null, memoryGB: null, count: {min: 1, max: 1}, text: names.join(' or ')}],
        acceleratorOrder: 'any' as const,
        runtimes: null,
        cpus: null,
        memoryGB: null,
        diskGB: null,
      },
    })
    const slowSpot = [offer({acc: 'SLOW', od: null, spot: 1, preemptionRatePerHour: 0.1}), offer({acc: 'FAST', od: 9, spot: null})]
    const over = res(['SLOW', 'FAST'])
    const now = plan(4, 10, over, slowSpot)
    const free = plan(null, 10, over, slowSpot)
    const od = plan(3.9, 10, {...over, spot: 'on-demand'}, slowSpot)
    expect(now.candidates.some((c) => c.spot)).to.equal(false)
    expect(free.chosen!.spot).to.equal(true)
    expect(od.chosen).to.not.equal(null)
    expect(fallbackSpot({plan: now, free, onDemandLater: od})).to.deep.equal({ok: false, reason: 'no-spot'})
  })
})

describe('respot: outages, and waiting through short ones behind the line', () => {
  const t0 = Date.parse('2026-01-01T00:00:00Z')
  const at = (h: number) => t0 + h * H

  it('the prior outage is what the prior preemption rate (0.4/h) implies at the rate the deadline asks', () => {
    // 48 h of work in 60 h: spot up 80% of the time, runs of 2.5 h, so outages of 2.5 × 0.2 / 0.8.
    close(outagePriorHours(48, 60), 0.625)
    close(outagePriorHours(10, 10), 0)
    // A deadline asking almost nothing of spot is held at 5%: 2.5 × 0.95 / 0.05.
    close(outagePriorHours(0, 60), 47.5)
  })

  it('measures outages from spot lost to spot launched; going on-demand cuts one short without ending it', () => {
    const sightings = [
      {atMs: at(0), up: true},
      {atMs: at(1), up: false}, // preempted
      {atMs: at(1.2), up: false}, // a launch that found none: the same outage
      {atMs: at(1.5), up: true}, // back after 0.5 h
      {atMs: at(3), up: false},
      {atMs: at(3.5), up: null}, // on-demand after 0.5 h: counted, not ended
      {atMs: at(6), up: true}, // a probe from on-demand that took: no outage to end
      {atMs: at(7), up: false},
    ]
    const e = outageEstimate(sightings, at(7.25), 0.5)
    // (0.5 + 0.5 + prior 0.5) / (1 ended + 1 for the prior); the current one is 0.25 h old.
    expect(e.ended).to.equal(1)
    close(e.meanHours, 0.75)
    close(e.ageHours, 0.25)
    close(e.residualHours, 1)
    // Sightings may come in any order; with spot last seen up, nothing is out.
    expect(outageEstimate([...sightings].reverse(), at(7.25), 0.5)).to.deep.equal(e)
    expect(outageEstimate(sightings.slice(0, 4), at(2), 0.5).residualHours).to.be.closeTo(0.5, 1e-9)
    // A zone without spot and the next zone's launch taking at the same moment: no outage.
    expect(
      outageEstimate(
        [
          {atMs: at(1), up: false},
          {atMs: at(1), up: true},
        ],
        at(2),
        0.5,
      ).ended,
    ).to.equal(0)
    // Nothing seen: the prior.
    expect(outageEstimate([], at(1), 0.625)).to.deep.equal({residualHours: 0.625, ageHours: 0, meanHours: 0.625, ended: 0})
  })

  it('the up-fraction counts the watched time only, with the prior worth 8 h', () => {
    // Up 0→1 h and 1.5→3 h (2.5 h), down 1→1.5 h and 3→3.5 h (1 h); 3.5→6 h on-demand, unwatched.
    const sightings = [
      {atMs: at(0), up: true},
      {atMs: at(1), up: false},
      {atMs: at(1.5), up: true},
      {atMs: at(3), up: false},
      {atMs: at(3.5), up: null},
      {atMs: at(6), up: true},
    ]
    close(spotUpFraction(sightings, at(6), 0.8), (2.5 + 0.8 * 8) / (3.5 + 8))
    // The time since the last sighting counts as that sighting says.
    close(spotUpFraction(sightings, at(7), 0.8), (3.5 + 0.8 * 8) / (4.5 + 8))
    close(spotUpFraction([], at(7), 0.8), 0.8)
  })

  it('goes on-demand when the slack the rest of the outage costs beyond its start-up is worth more than that start-up', () => {
    // SLOW on-demand 3 USD/h, 5 min start-up; spot 1 USD/h as fast. At an up-fraction of 0.5
    // an hour of slack is worth 0.5 × (3 − 1) = 1 USD, the start-up 3/12 = 0.25 USD: on-demand
    // pays once the outage has more than 1/12 + 0.25 = 0.333 h to go.
    const free = plan(null)
    const spot = free.candidates.find((c) => c.spot)!
    const onDemand = plan(null, 10, {spot: 'on-demand'}).chosen!
    close(onDemand.estimatedQueueHours, 5 / 60)
    const outage = (residualHours: number) => ({residualHours, ageHours: 0, meanHours: residualHours, ended: 1})
    expect(outageShort({outage: outage(0.33), upFraction: 0.5, spot, onDemand, stepMs: 60_000})).to.equal(true)
    expect(outageShort({outage: outage(0.34), upFraction: 0.5, spot, onDemand, stepMs: 60_000})).to.equal(false)
    // Spot seldom up: the slack buys little spot, so a longer outage is still waited out.
    expect(outageShort({outage: outage(0.34), upFraction: 0.25, spot, onDemand, stepMs: 60_000})).to.equal(true)
    expect(outageShort({outage: outage(0.6), upFraction: 0.25, spot, onDemand, stepMs: 60_000})).to.equal(false)
    // Looks an hour apart: a wait costs the hour, however short the outage.
    expect(outageShort({outage: outage(0.1), upFraction: 0.5, spot, onDemand, stepMs: H})).to.equal(false)
    expect(outageShort({outage: outage(0.1), upFraction: 0.5, spot, onDemand, stepMs: 15 * 60_000})).to.equal(true)
    // Unknown prices: no case for waiting.
    expect(outageShort({outage: outage(0.1), upFraction: 0.5, spot: {...spot, hourlyPriceUsd: null}, onDemand, stepMs: 60_000})).to.equal(
      false,
    )
    const w = outageWait(10 * 60_000, spot, outage(0.25))
    expect(w.wait).to.equal(true)
    expect(w.message).to.match(
      /^no spot to launch now; waiting 10 min for it: the job is behind schedule, but spot's outages have lasted 15 min on average, too short for going on-demand to pay, and on-demand would still finish by the deadline then even if aws\/us-east-1 spot were taken back at once$/,
    )
    expect(w.data).to.deep.include({waitSeconds: 600, rule: 'short-outage', outageHours: 0.25})
  })
})
