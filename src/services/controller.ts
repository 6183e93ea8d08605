// The background controller of one job (`skyhop controller JOB`, started by launch and
// recover): drives the job as it was recorded until it ends or `signal` aborts. Another
// controller holding the job is not an error: `onSkip` hears why, and nothing else happens.
import {driveJob, LEASE_TTL_MS} from '../controller/controller.js'
import {type ControllerEvent} from '../controller/deps.js'
import {StoreJournal} from '../controller/journal.js'
import {LeaseHeldError} from '../errors.js'
import type {Objective} from '../model/job-spec.js'
import type {ServiceContext} from './context.js'
import {controllerOwner} from './controller-process.js'
import {type LaunchResult, resultFor} from './launch.js'

export async function driveRecordedJob(
  ctx: ServiceContext,
  options: {
    job: string
    signal: AbortSignal
    onEvent: (event: ControllerEvent) => void
    onSkip: (message: string) => void
    /** The lease owner (an agent's name); default: a fresh controller name. */
    owner?: string
    /** The owner `recover` (or a detached `launch`) claimed the job's lease under for this controller: taken over first. */
    claimed?: string
  },
): Promise<LaunchResult | {skipped: true}> {
  const store = await ctx.store()
  const job = store.findJob(options.job)
  const stored = job.options as {catalogFile?: string; objective?: Objective; retryUntilUpMs?: number}
  const replan = await ctx.replanner({catalogFile: stored.catalogFile, objective: stored.objective, jobs: [job.spec]})
  const owner = options.owner ?? controllerOwner()
  const providers = await ctx.providers()
  const checkpointSync = await ctx.checkpointSync()
  const attemptHolds = await ctx.attemptHolds()
  // Started for a claim (`recover`, a detached `launch`): take it over under this process's own
  // name, once all is loaded, so that the heartbeat starts as soon as the claim is ours (the
  // claim lasts a controller's start; the lease it becomes lasts only a heartbeat's).
  if (options.claimed && !store.handOverJobLease(job.id, options.claimed, owner, LEASE_TTL_MS)) {
    options.onSkip(`job ${job.id} is driven by another controller (the lease claimed for this one was taken)`)
    return {skipped: true}
  }
  try {
    const final = await driveJob(job.id, {
      journal: new StoreJournal(store),
      providers,
      replan,
      home: ctx.home,
      owner,
      retryUntilUpMs: stored.retryUntilUpMs,
      pollIntervalMs: 500,
      checkpointSync,
      attemptHolds,
      signal: options.signal,
      onEvent: options.onEvent,
    })
    return resultFor(store, final)
  } catch (error) {
    if (!(error instanceof LeaseHeldError)) throw error
    options.onSkip(error.message)
    return {skipped: true}
  }
}
