// Waiting for spot, and going back to it: the decisions the controller takes with the clock
// and the current attempt in hand (Can't Be Late's Uniform Progress, on the planner's own
// numbers). Pure: the controller makes the plans and acts; everything here only reads them.
//
// - Work left. The job as it stands is its work less what its attempts have done: run time
//   × the attempt's speed (reference work-hours per hour, from the plan it was launched
//   from). An attempt that ended without finishing keeps only what it ran up to its last
//   checkpoint (`checkpoint.interval`; nothing without one, as the planner assumes), so a
//   preemption or a migration never counts work that may be lost. work.hours is trusted, as
//   the planner trusts it; once the attempts have run for all of it and the job is still
//   not done (it is slower than its file says), the estimate means nothing any more and
//   the job neither waits for spot nor migrates: it runs where the plan puts it.
// - Slack, measured by the planner. "Spot still fits" means the planner, asked about the
//   job as it stands with the deadline moved earlier by some hours, still ranks a spot
//   candidate first, so spot's pessimistic (p95) finish with its relaunch wait and expected
//   preemptions still meets the deadline (with the planner's margin); "on-demand still
//   fits" means an on-demand-only plan for the same still has a candidate.
// - Waiting (a job with `spot: auto` and a deadline, when no spot could be launched): wait
//   one step and look again while both still fit one step later, or while the on-demand
//   safety net allows it (the last section: ahead of schedule, or behind it through an
//   outage too short for on-demand to pay); otherwise launch on-demand. Without a deadline
//   nothing here applies: the job goes on-demand at once.
// - Migrating (a `spot: auto` job running on on-demand): every step, re-plan; leave for spot
//   when the plan would choose spot now (so spot's p95 finish fits the deadline as it is),
//   its expected saving over the work left (after the changeover, the restore, the work
//   since the last checkpoint and the planner's spot risk) pays for a try that finds no
//   spot and the way back, and is at least a tenth of what staying costs; and, with a
//   deadline, while on-demand, the safety net, would still finish by it with the deadline
//   moved earlier by the move's margin: the changeover, one step of waiting, an on-demand
//   relaunch and spot's changeover again. The p95 rule is not asked to hold after the
//   margin too: on-demand stays in time whatever spot does, and asking it kept jobs on
//   on-demand for hours while spot was there (the real controller replayed over the
//   shared traces: 0.555 → 0.547 of on-demand on one zone, 0.438 → 0.430 on two).
//   Whenever on-demand would not fit after a step of waiting, it does not fit after the
//   larger margin either, so a job sent to on-demand by the deadline does not leave again.
//   Where the p95 rule leaves spot out for the deadline altogether (a market that has
//   preempted often), Uniform Progress's hysteresis may still move the job: when it is
//   ahead of the line two of spot's changeovers from now, and moving pays on the plan
//   without the deadline (on-demand still checked as above). Measured on the shared
//   traces: one zone 0.515 → 0.511 of on-demand, two 0.418 → 0.416, and the flappiest
//   single zone (preemption/aws-04-19-2023 us-east-1c, 10 starts) 0.715 → 0.695; without
//   the line check 0.499 / 0.408 but 0.801 on that flappy one.
// - Moving: where the new attempt can be held (a file it sees, or the job's checkpoint
//   store), spot is launched first, held, and on-demand asked to stop only once spot is
//   there; the held attempt starts when on-demand has ended, its last checkpoint saved.
//   Elsewhere on-demand is stopped first and spot launched after.
// - Probes that find no spot (the spot launch finds no capacity: held, the job simply stays
//   on on-demand; otherwise it ends up on on-demand again, a changeover later) double the
//   time to the next look, up to 16 steps (4 for held probes, which cost nothing else).
import {PREEMPTION_PRIOR_PER_HOUR, RESTORE_OVERHEAD_HOURS} from '../planner/priors.js'
import type {Candidate, Plan} from '../planner/types.js'
import type {SpotPolicy} from '../model/job-spec.js'

const MS_PER_HOUR = 3_600_000

/** Seconds between looks for spot (waiting, and on on-demand) when SKYHOP_RESPOT_INTERVAL_SECONDS is not set. */
export const DEFAULT_RESPOT_INTERVAL_SECONDS = 300
/** The work left handed to the planner is never below this fraction of the job's work (it must plan something). */
export const MIN_WORK_LEFT_FRACTION = 1e-4
/** A migration must save at least this fraction of what staying on on-demand costs. */
export const MIN_SAVING_FRACTION = 0.1
/** Failed probes double the time to the next look at most this many times (16 steps). */
export const MAX_PROBE_BACKOFF_DOUBLINGS = 4
/**
 * The same for held probes (spot launched before on-demand stops, which a failure leaves
 * running): one costs a launch call and an attempt record, so at most 4 steps. Measured on
 * the shared traces, 50 starts, cost/OD on 1 / 2 / 9 zones: no backoff 0.519 / 0.422 /
 * 0.346, at most 2 doublings 0.515 / 0.418 / 0.346, at most 4 0.527 / 0.424 / 0.345.
 */
export const MAX_HELD_PROBE_BACKOFF_DOUBLINGS = 2

/** The look interval in ms: SKYHOP_RESPOT_INTERVAL_SECONDS (0 turns waiting and migrating off), else the default. */
export function respotIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SKYHOP_RESPOT_INTERVAL_SECONDS
  const n = raw === undefined || raw.trim() === '' ? Number.NaN : Number(raw)
  return (Number.isFinite(n) && n >= 0 ? n : DEFAULT_RESPOT_INTERVAL_SECONDS) * 1000
}

/** Time to the next look on on-demand after `failedProbes` probes in a row found no spot. */
export function nextLookMs(intervalMs: number, failedProbes: number, maxDoublings = MAX_PROBE_BACKOFF_DOUBLINGS): number {
  return intervalMs * 2 ** Math.min(Math.max(0, failedProbes), maxDoublings)
}

// ---- work done ------------------------------------------------------------------------

export interface AttemptProgress {
  state: string
  startedAtMs: number | null
  /** null while the attempt runs. */
  endedAtMs: number | null
  /** Reference work-hours done per hour of running; null when unknown (counts as none). */
  workPerHour: number | null
}

/** Hours of running an attempt stopped now keeps: up to its last checkpoint, none without checkpoints. */
export function keptHours(ranHours: number, checkpointSeconds: number | null): number {
  if (checkpointSeconds === null || !(checkpointSeconds > 0) || !(ranHours > 0)) return 0
  const tau = checkpointSeconds / 3600
  return Math.floor(ranHours / tau + 1e-9) * tau
}

/** Hours of running lost if an attempt that has run `ranHours` is stopped now. */
export function lostHours(ranHours: number, checkpointSeconds: number | null): number {
  return Math.max(0, ranHours - keptHours(ranHours, checkpointSeconds))
}

/** Reference work-hours the attempts have done (the live one counted in full: it keeps running). */
export function workDoneHours(attempts: readonly AttemptProgress[], nowMs: number, checkpointSeconds: number | null): number {
  let done = 0
  for (const a of attempts) {
    if (a.startedAtMs === null || a.workPerHour === null || !(a.workPerHour > 0)) continue
    const ran = Math.max(0, (a.endedAtMs ?? nowMs) - a.startedAtMs) / MS_PER_HOUR
    const kept = a.endedAtMs === null || a.state === 'SUCCEEDED' ? ran : keptHours(ran, checkpointSeconds)
    done += kept * a.workPerHour
  }
  return done
}

/** Reference work-hours left of `totalHours`, never below MIN_WORK_LEFT_FRACTION of it. */
export function workLeftHours(totalHours: number, doneHours: number): number {
  return Math.max(totalHours * MIN_WORK_LEFT_FRACTION, totalHours - doneHours)
}

/** The attempts have run for all the work and the job is not done: the estimate no longer says how much is left. */
export function workOverrun(totalHours: number, doneHours: number): boolean {
  return doneHours >= totalHours
}

// ---- slack ----------------------------------------------------------------------------

export type SlackVerdict =
  | {ok: true; spot: Candidate; onDemand: Candidate}
  | {ok: false; code: 'no-spot' | 'on-demand-preferred' | 'spot-does-not-fit' | 'on-demand-does-not-fit'; message: string}

/**
 * Whether spot is still worth waiting for (or moving to) after losing some hours: `spotPlan`
 * is the plan with spot capacity back and the deadline moved that much earlier,
 * `onDemandPlan` the same plan restricted to on-demand.
 */
export function slackAfter(spotPlan: Plan, onDemandPlan: Plan, hours: number): SlackVerdict {
  const chosen = spotPlan.chosen
  const after = `${fmtHours(hours)} from now`
  if (chosen === null || !chosen.spot) {
    if (chosen !== null && spotPlan.candidates.some((c) => c.spot))
      return {ok: false, code: 'on-demand-preferred', message: `the plan prefers on-demand (${describe(chosen)}) to spot`}
    if (!spotTooLate(spotPlan)) return {ok: false, code: 'no-spot', message: 'no spot offer fits the job'}
    return {
      ok: false,
      code: 'spot-does-not-fit',
      message: `spot would no longer finish by the deadline at its pessimistic (p95) estimate ${after}`,
    }
  }
  const od = onDemandPlan.chosen
  if (od === null) return {ok: false, code: 'on-demand-does-not-fit', message: `on-demand would no longer finish by the deadline ${after}`}
  return {ok: true, spot: chosen, onDemand: od}
}

/** Whether the plan left spot out for the deadline (rather than having no spot to offer). */
export function spotTooLate(plan: Plan): boolean {
  return plan.excluded.some((g) => g.example.spot === true && (g.reason === 'deadline' || g.reason === 'deadline-risk'))
}

// ---- waiting --------------------------------------------------------------------------

/** Waiting for spot applies to a job that may run on spot or on-demand and has a deadline to measure slack against. */
export function waitApplies(spot: SpotPolicy, deadline: string | null, intervalMs: number): boolean {
  return intervalMs > 0 && spot === 'auto' && deadline !== null
}

export type SlackCode = Extract<SlackVerdict, {ok: false}>['code']

export type WaitDecision =
  | {wait: true; ms: number; message: string; data: Record<string, unknown>}
  | {wait: false; code: SlackCode; message: string; data: Record<string, unknown>}

/**
 * No spot could be launched (or the only spot region is the one that just preempted the
 * job): wait `stepMs` and look again, or launch on-demand now. `spotLater` and
 * `onDemandLater` are the plans of slackAfter, with the deadline moved `stepMs` earlier.
 */
export function decideWait(input: {stepMs: number; spotLater: Plan; onDemandLater: Plan}): WaitDecision {
  const hours = input.stepMs / MS_PER_HOUR
  const v = slackAfter(input.spotLater, input.onDemandLater, hours)
  if (!v.ok)
    return {wait: false, code: v.code, message: `no spot to launch now, and ${v.message}: launching on-demand`, data: {code: v.code}}
  return {
    wait: true,
    ms: input.stepMs,
    message: `no spot to launch now; waiting ${fmtHours(hours)} for it: ${describe(v.spot)} would still finish by the deadline then, even at its pessimistic estimate, and on-demand stays the fallback`,
    data: {waitSeconds: Math.round(input.stepMs / 1000), spot: v.spot.key, onDemand: v.onDemand.key},
  }
}

// ---- migrating ------------------------------------------------------------------------

export interface CurrentOnDemand {
  /** USD per hour of the running attempt (all nodes); null when unknown. */
  hourlyUsd: number | null
  /** Hours it needs to finish the work left. */
  runHoursLeft: number | null
  /** Hours of its running that stopping now loses (since the last checkpoint). */
  lostHours: number
  /** The relaunch wait of on-demand, should the job come back to it. */
  relaunchHours: number
}

export type MigrationAssessment =
  | {go: true; to: Candidate; savingUsd: number; stayUsd: number; goUsd: number; switchHours: number; message: string}
  | {
      go: false
      code: 'on-demand-preferred' | 'no-spot' | 'spot-does-not-fit' | 'unknown-cost' | 'saving-too-small'
      message: string
      data?: Record<string, unknown>
    }

/**
 * The economics of leaving on-demand for the spot candidate the plan (the job as it stands,
 * spot capacity assumed back) would choose now.
 */
export function assessMigration(plan: Plan, current: CurrentOnDemand): MigrationAssessment {
  const to = plan.chosen
  if (to === null || !to.spot) {
    if (plan.candidates.some((c) => c.spot))
      return {go: false, code: 'on-demand-preferred', message: 'the plan prefers on-demand to spot for the work left'}
    if (spotTooLate(plan))
      return {
        go: false,
        code: 'spot-does-not-fit',
        message: 'spot would not finish the work left by the deadline at its pessimistic (p95) estimate',
      }
    return {go: false, code: 'no-spot', message: 'no spot offer fits the job'}
  }
  if (current.hourlyUsd === null || current.runHoursLeft === null || to.hourlyPriceUsd === null || to.estimatedCostUsd === null) {
    return {go: false, code: 'unknown-cost', message: 'the price of the running attempt or of spot is unknown'}
  }
  const switchHours = to.estimatedQueueHours + RESTORE_OVERHEAD_HOURS + current.lostHours
  const stayUsd = current.hourlyUsd * current.runHoursLeft
  // The planner's expected cost (run, preemption overhead, egress) plus the changeover,
  // the restore and the work since the last checkpoint, all paid at spot's price.
  const goUsd = to.estimatedCostUsd + to.hourlyPriceUsd * switchHours
  const savingUsd = stayUsd - goUsd
  // A try that finds no spot after all costs its changeover and the way back to on-demand.
  const roundTripUsd = to.hourlyPriceUsd * to.estimatedQueueHours + current.hourlyUsd * current.relaunchHours
  const needed = Math.max(roundTripUsd, MIN_SAVING_FRACTION * stayUsd)
  const data = {savingUsd: round(savingUsd), neededUsd: round(needed), stayUsd: round(stayUsd), goUsd: round(goUsd)}
  if (!(savingUsd > needed)) {
    return {
      go: false,
      code: 'saving-too-small',
      message: `spot on ${describe(to)} would save ${usd(savingUsd)} over the work left, less than the ${usd(needed)} a move must save`,
      data,
    }
  }
  return {
    go: true,
    to,
    savingUsd,
    stayUsd,
    goUsd,
    switchHours,
    message: `spot on ${describe(to)} is expected to save ${usd(savingUsd)} over the work left (${usd(stayUsd)} on-demand, ${usd(goUsd)} on spot with the changeover, restore and ${fmtHours(current.lostHours)} since the last checkpoint)`,
  }
}

/**
 * Hours of slack a migration must leave: its own changeover (switchHours), one step of
 * waiting should spot not be there, an on-demand relaunch after it, and spot's changeover
 * once more (spot taken back the moment it starts).
 */
export function migrationMarginHours(switchHours: number, stepMs: number, relaunchHours: number, spotQueueHours: number): number {
  return switchHours + stepMs / MS_PER_HOUR + relaunchHours + spotQueueHours
}

export type MoveFallback = {ok: true; onDemand: Candidate} | {ok: false; code: 'on-demand-does-not-fit'; message: string}

/**
 * Whether on-demand, the safety net, still finishes by the deadline after a migration:
 * `onDemandLater` is the on-demand-only plan with the deadline moved migrationMarginHours
 * earlier.
 */
export function fallbackAfterMove(onDemandLater: Plan, marginHours: number): MoveFallback {
  const od = onDemandLater.chosen
  if (od === null)
    return {
      ok: false,
      code: 'on-demand-does-not-fit',
      message: `on-demand would no longer finish by the deadline should spot be lost ${fmtHours(marginHours)} from now`,
    }
  return {ok: true, onDemand: od}
}

// ---- words ----------------------------------------------------------------------------

function describe(c: Candidate): string {
  return `${c.provider}/${c.zone ?? c.region}${c.spot ? ' spot' : ' on-demand'}`
}

function fmtHours(h: number): string {
  if (h < 1 / 60) return `${Math.round(h * 3600)} s`
  if (h < 1) return `${Math.round(h * 60)} min`
  return `${(Math.round(h * 100) / 100).toString()} h`
}

function usd(n: number): string {
  return `$${n.toFixed(2)}`
}

function round(n: number): number {
  return Math.round(n * 10_000) / 10_000
}

// ---- on-demand as the safety net (Uniform Progress) -----------------------------------
//
// The p95 rule above asks spot to finish the work left by the deadline on its own, even
// through an unlucky run of preemptions. That is more than the deadline needs while
// on-demand remains a fallback in time: Can't Be Late's Uniform Progress keeps a job on
// schedule with on-demand alone. So spot the plan leaves out for the deadline (and only
// for it) may still be used while on-demand finishes by the deadline after losing spot's
// changeover, the work since the last checkpoint and (when waiting) the step, so that a
// preemption the moment spot starts leaves on-demand in time:
// - tried whenever a launch round finds it (Greedy, inside that safety net);
// - waited for while the job is ahead of the straight line from its creation (no work) to
//   its deadline (all of it), cp(t) > W·(t − t0)/(D − t0), checked at the end of the wait;
// - behind the line, waited for only through an outage expected to be short (below).
// Only spot no slower than that on-demand fallback qualifies (running on it never eats
// the slack the fallback needs), and only while the plan without the deadline would
// choose spot (it is cheaper).
//
// Behind the line, on-demand hours are coming anyway; what a wait decides is whether to
// pay on-demand's changeover now or spend slack until spot is back. The job's own history
// says how long spot stays away: the outages it has seen (from spot lost, or a launch that
// found none, to a launch that took; cut short where the job went on-demand), with a
// decreasing hazard (an outage that has lasted tends to last longer: a Lomax law of shape
// 2, residual = mean + age), and the fraction of the watched time spot was up. Going
// on-demand pays when the slack the rest of the outage would cost, beyond the changeover
// itself, is worth more than the changeover: (residual − d) × up-fraction × (on-demand's
// price of spot's work − spot's price) > d × on-demand's hourly price, d being
// on-demand's own start-up. This is the mirrored `skyhop` policy's rule (src/simulator/
// policies.ts), with one addition: the rest of the outage is never counted shorter than
// the step to the next look (with looks an hour apart, a 20-minute outage still costs an
// hour of slack). Measured by replaying the real controller over the shared traces (cost
// relative to on-demand only, bench/simulate-controller.mjs): the flappiest single zone
// (preemption/aws-04-19-2023 us-east-1c, 20 starts) 0.686 → 0.658 (Uniform Progress
// 0.667); the paper's setting, 50 starts, one zone 0.511 → 0.509, two 0.416 → 0.418.

export interface ProgressLine {
  totalHours: number
  doneHours: number
  /** The job's creation, ms. */
  startMs: number
  deadlineMs: number
}

/** Whether the work done is ahead of Uniform Progress's straight line at `atMs`. */
export function aheadOfLine(p: ProgressLine, atMs: number): boolean {
  const span = p.deadlineMs - p.startMs
  if (!(span > 0) || !(p.totalHours > 0)) return false
  const expected = (p.totalHours * Math.min(span, Math.max(0, atMs - p.startMs))) / span
  return p.doneHours > expected + 1e-9
}

export type FallbackSpot =
  {ok: true; spot: Candidate[]; onDemand: Candidate} | {ok: false; reason: 'not-too-late' | 'no-spot' | 'on-demand-does-not-fit'}

/**
 * Spot candidates the on-demand safety net admits. `plan` is the plan of the job as it
 * stands (the deadline as it is), `free` the same without a deadline, `onDemandLater` the
 * on-demand-only plan with the deadline moved earlier by the spot changeover, the work
 * since the last checkpoint and any wait.
 */
export function fallbackSpot(input: {plan: Plan; free: Plan; onDemandLater: Plan}): FallbackSpot {
  if (input.plan.candidates.some((c) => c.spot) || !spotTooLate(input.plan)) return {ok: false, reason: 'not-too-late'}
  const chosen = input.free.chosen
  if (chosen === null || !chosen.spot) return {ok: false, reason: 'no-spot'}
  const od = input.onDemandLater.chosen
  if (od === null) return {ok: false, reason: 'on-demand-does-not-fit'}
  const spot = input.free.candidates.filter((c) => c.spot && c.estimatedRunHours <= od.estimatedRunHours + 1e-9)
  if (spot.length === 0) return {ok: false, reason: 'no-spot'}
  return {ok: true, spot, onDemand: od}
}

/** Hours of slack a spot start must leave on-demand: spot's changeover and the work since the last checkpoint, plus any wait. */
export function fallbackMarginHours(spotQueueHours: number, checkpointSeconds: number | null, waitMs = 0): number {
  return spotQueueHours + (checkpointSeconds !== null && checkpointSeconds > 0 ? checkpointSeconds / 3600 : 0) + waitMs / MS_PER_HOUR
}

/** The wait the on-demand safety net allows a job ahead of its line (see fallbackSpot), worded like decideWait's. */
export function fallbackWait(stepMs: number, spot: Candidate): WaitDecision {
  const hours = stepMs / MS_PER_HOUR
  return {
    wait: true,
    ms: stepMs,
    message: `no spot to launch now; waiting ${fmtHours(hours)} for it: the job is ahead of schedule, and on-demand would still finish by the deadline then even if ${describe(spot)} were taken back at once`,
    data: {waitSeconds: Math.round(stepMs / 1000), spot: spot.key, rule: 'on-demand-fallback'},
  }
}

// ---- outages ----------------------------------------------------------------------------

export interface SpotSighting {
  atMs: number
  /**
   * Spot was there (a launch took), or not (a launch found no capacity, or spot was taken
   * back); null: the job went on-demand, and spot is not watched until it is next tried.
   */
  up: boolean | null
}

export interface OutageEstimate {
  /** Hours the current outage is expected to last from now. */
  residualHours: number
  /** Hours the current outage has lasted (0 when spot was last seen up). */
  ageHours: number
  /** Mean outage, hours. */
  meanHours: number
  /** Outages seen to end. */
  ended: number
}

/**
 * A prior outage, in hours, worth one observation: what the planner's prior preemption
 * rate implies if spot offers the job just the rate its deadline asks (work / time to the
 * deadline; at least 5%), as the mirrored policy assumes before it has seen anything.
 */
export function outagePriorHours(workHours: number, spanHours: number): number {
  const a = Math.max(0.05, Math.min(1, spanHours > 0 ? workHours / spanHours : 1))
  return ((1 / PREEMPTION_PRIOR_PER_HOUR) * (1 - a)) / a
}

/**
 * How long spot is expected to stay away, from the job's sightings: the mean outage (one
 * cut short by going on-demand counts its length but not an end; the prior counts as one
 * outage), and the residual of the current one: mean + age (Lomax, shape 2).
 */
export function outageEstimate(sightings: readonly SpotSighting[], nowMs: number, priorHours: number): OutageEstimate {
  const sorted = [...sightings].sort((a, b) => a.atMs - b.atMs)
  let downSince: number | null = null
  let total = 0
  let ended = 0
  for (const s of sorted) {
    if (s.up === false) {
      downSince ??= s.atMs
    } else if (downSince !== null) {
      total += (s.atMs - downSince) / MS_PER_HOUR
      // A launch round that found no spot in one zone and took in the next saw no outage.
      if (s.up && s.atMs > downSince) ended++
      downSince = null
    }
  }
  const meanHours = (total + priorHours) / (ended + 1)
  const ageHours = downSince === null ? 0 : Math.max(0, nowMs - downSince) / MS_PER_HOUR
  return {residualHours: meanHours + ageHours, ageHours, meanHours, ended}
}

/** Hours of observation the prior up-fraction is worth. */
const SUPPLY_PRIOR_HOURS = 8

/**
 * The fraction of the watched time spot was up (each sighting holds until the next; time
 * on on-demand is not watched), with `prior` (the rate the deadline asks) worth 8 hours.
 */
export function spotUpFraction(sightings: readonly SpotSighting[], nowMs: number, prior: number): number {
  const sorted = [...sightings].sort((a, b) => a.atMs - b.atMs)
  let up = 0
  let watched = 0
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i].up === null) continue
    const h = Math.max(0, (i + 1 < sorted.length ? sorted[i + 1].atMs : nowMs) - sorted[i].atMs) / MS_PER_HOUR
    watched += h
    if (sorted[i].up) up += h
  }
  return (up + Math.max(0, Math.min(1, prior)) * SUPPLY_PRIOR_HOURS) / (watched + SUPPLY_PRIOR_HOURS)
}

/**
 * Whether the rest of the outage is too short for going on-demand to pay (see the section
 * above): the slack it would cost beyond on-demand's start-up is worth less than that
 * start-up. A wait costs at least the `stepMs` to the next look, however soon spot may be
 * back. `onDemand` and `spot` are the candidates for the work left.
 */
export function outageShort(input: {
  outage: OutageEstimate
  upFraction: number
  spot: Candidate
  onDemand: Candidate
  stepMs: number
}): boolean {
  const {spot, onDemand} = input
  if (onDemand.hourlyPriceUsd === null || spot.hourlyPriceUsd === null || !(spot.estimatedRunHours > 0)) return false
  const startHours = onDemand.estimatedQueueHours
  const waitHours = Math.max(input.outage.residualHours, input.stepMs / MS_PER_HOUR)
  // An hour of spot bought with the slack saves on-demand's price of the same work.
  const slackUsdPerHour =
    input.upFraction * Math.max(0, (onDemand.hourlyPriceUsd * onDemand.estimatedRunHours) / spot.estimatedRunHours - spot.hourlyPriceUsd)
  return (waitHours - startHours) * slackUsdPerHour <= startHours * onDemand.hourlyPriceUsd
}

/** The wait through a short outage that outageShort allows a job behind its line, worded like decideWait's. */
export function outageWait(stepMs: number, spot: Candidate, outage: OutageEstimate): WaitDecision {
  const hours = stepMs / MS_PER_HOUR
  return {
    wait: true,
    ms: stepMs,
    message: `no spot to launch now; waiting ${fmtHours(hours)} for it: the job is behind schedule, but spot's outages have lasted ${fmtHours(outage.meanHours)} on average, too short for going on-demand to pay, and on-demand would still finish by the deadline then even if ${describe(spot)} were taken back at once`,
    data: {
      waitSeconds: Math.round(stepMs / 1000),
      spot: spot.key,
      rule: 'short-outage',
      outageHours: round(outage.residualHours),
      outageAgeHours: round(outage.ageHours),
    },
  }
}
