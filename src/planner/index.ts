// The planner's public face: plan one job, plan a sweep, and the helpers callers need
// (offer index reuse, the no-feasible-plan error, the estimators the simulator reuses).
export {planJob} from './plan-job.js'
export {planSweep, shapeKey, type SweepOptions} from './plan-sweep.js'
export {indexOffers, offerKey} from './offer-index.js'
export {blockingFirst, noFeasiblePlanError, noFeasibleSweepError, summarizeExclusions} from './explain.js'
export {spotOverhead, poissonQuantile, type SpotOverhead} from './estimate.js'
export {ObservationIndex} from './observations.js'
export * as priors from './priors.js'
export type * from './types.js'
export {EXCLUSION_REASONS} from './types.js'
