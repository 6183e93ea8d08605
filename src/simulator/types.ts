// The simulator's vocabulary: spot availability traces, the markets a job can use, the
// scenario one run replays, what a policy sees and answers, and what a run costs.
// Types only. Time is in hours from the job's start unless a name says otherwise;
// money is USD (the run service converts catalog prices before they get here).

/** One trace file: how many spot instances of one kind a zone had, per tick. */
export interface Trace {
  file: string
  zone: string
  /** The zone without its letter: `us-west-2a` → `us-west-2`, `us-central1-a` → `us-central1`. */
  region: string
  /** Whose zone naming this is (`aws`: us-east-1a, `gcp`: us-central1-a). */
  provider: string
  /** What the file name says runs there: `v100`, `k80`, `intel`, `c3-88`. */
  label: string
  /** Canonical registry name of the accelerator, or null when the label is not one (a CPU instance). */
  accelerator: string | null
  /** Devices per node from the name (`_8`), or vCPUs for a CPU label; 1 when the name has none. */
  count: number
  gapSeconds: number
  /** Instances available at each tick; 0 = none. Single-node traces hold 0/1. */
  data: Uint16Array
}

/** A zone's spot market for the job: where, how fast, at what price, and its trace. */
export interface SpotMarket {
  zone: string
  region: string
  provider: string
  label: string
  accelerator: string | null
  count: number
  /** Work done per hour, in hours of the job's reference configuration. */
  speed: number
  /** Spot price for all of the job's nodes, USD per hour. */
  spotUsdPerHour: number
  /** On-demand price of the same instance in the same region, USD per hour (for k). */
  onDemandUsdPerHour: number
  data: Uint16Array
}

/** An on-demand configuration: always available, paid by the hour. */
export interface OnDemandOption {
  label: string
  accelerator: string | null
  count: number
  speed: number
  usdPerHour: number
}

/** Everything one run replays: the job, the markets, and where in the traces it starts. */
export interface Scenario {
  /** Work to do, in hours on the reference configuration (C). */
  workHours: number
  /** Hours from the start to the deadline (D). */
  deadlineHours: number
  /** Changeover delay d: paid, no progress, on every start or switch. */
  changeoverHours: number
  /** How long before a preemption the provider says so (0 = no notice). */
  noticeHours: number
  /** The traces' tick length; every market shares it. */
  gapHours: number
  /** Nodes the job needs: a zone has spot when its trace shows at least this many. */
  nodes: number
  spot: readonly SpotMarket[]
  onDemand: readonly OnDemandOption[]
  /** Tick of the traces the job starts at; a trace shorter than the run wraps around. */
  startTick: number
  /**
   * Per market, ticks from each tick of its trace to the next change of availability for
   * `nodes` (changeDistances). Derived from the traces; runs sharing markets pass it in so
   * it is computed once. The engine computes it when absent.
   */
  changes?: readonly Int32Array[]
  /**
   * Per tick, ticks until any market's availability changes (nextChangeOfAny of `changes`;
   * null when the traces differ in length). Shared like `changes`; computed by the engine
   * only when it computes `changes` itself.
   */
  anyChange?: Int32Array | null
}

export type Target =
  {readonly kind: 'idle'} | {readonly kind: 'spot'; readonly market: number} | {readonly kind: 'on-demand'; readonly option: number}

/** Why the engine is asking. */
export type DecisionEvent = 'start' | 'tick' | 'preempted' | 'notice' | 'changeover-done' | 'wake'

/**
 * What a policy may look at when it decides: the clock, progress, the deadline, where it
 * runs now, and which zones have spot now. Nothing about the future, except the notice a
 * provider gives before taking an instance back. The engine reuses one object per run.
 */
export interface View {
  readonly now: number
  readonly deadline: number
  readonly workTotal: number
  readonly workDone: number
  readonly changeover: number
  readonly current: Target
  /** Hours of changeover left on the current instance (0 when running or idle). */
  readonly changeoverLeft: number
  /** Spot availability per market, now. */
  readonly available: readonly boolean[]
  readonly event: DecisionEvent
  /** On a `preempted` event: the market that took the instance back; else -1. */
  readonly preemptedMarket: number
  /** On a `notice` event: the market whose instance goes at `noticeAt`; else -1. */
  readonly noticeMarket: number
  readonly noticeAt: number
}

export interface Decision {
  target: Target
  /** Ask to be called again at this time even if nothing changes (a threshold a policy watches). */
  wakeAt?: number
  /**
   * On a notice: start this replacement now, while the noticed instance works on until it
   * goes; it takes over then with the changeover it has left. Dropped unless repeated.
   */
  prelaunch?: Target
}

export interface Policy {
  decide(view: View): Decision
}

/** What a policy may know before the run: the markets and the job, never the traces. */
export interface PolicySetup {
  markets: readonly SpotMarket[]
  onDemand: readonly OnDemandOption[]
  workHours: number
  deadlineHours: number
  changeoverHours: number
  noticeHours: number
  gapHours: number
  /** Availability of `market` at tick `tick` of the run: given only to the omniscient bound. */
  future?: (market: number, tick: number) => boolean
}

export interface PolicySpec {
  name: string
  /** A safe policy must never miss a deadline; the simulator counts it as a failure if it does. */
  safe: boolean
  /** Reads the future (the omniscient reference). */
  omniscient: boolean
  summary: string
  create(setup: PolicySetup): Policy
}

/** What one run of one policy did. Hours are instance hours paid for unless named …Work…. */
export interface RunOutcome {
  costUsd: number
  spotHours: number
  onDemandHours: number
  /** Reference hours of work done on spot and on on-demand. */
  spotWorkHours: number
  onDemandWorkHours: number
  /** Instance starts and switches, each charged the changeover delay. */
  changeovers: number
  preemptions: number
  /** Hours from the start to the end of the work. */
  finishHours: number
  missed: boolean
  /** The policy had not finished when the run was cut off; the rest was charged at on-demand. */
  unfinished: boolean
  decisions: number
}
