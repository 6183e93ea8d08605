// Words for the planner's decisions: one sentence per exclusion group, and the error a
// caller throws when nothing is feasible (exit 5), with the groups in its details.
// errors.ts is the project's dependency-free taxonomy; importing it keeps this pure.
import {type Offer, gangFabric, isFastFabric} from '../model/catalog.js'
import {NoFeasiblePlanError} from '../errors.js'
import {type JobContext, fmt} from './plan-context.js'
import {MOUNT_CLOUD, mountUnsupported} from './mounts.js'
import {providerKind} from './priors.js'
import type {ExclusionGroup, ExclusionReason, Plan, SweepPlan} from './types.js'

export function describeExclusion(
  ctx: JobContext,
  reason: ExclusionReason,
  subject: string,
  example: Offer,
  spot: boolean | null,
  detail: number,
): string {
  const job = ctx.job
  const wanted = job.resources.accelerators.map((a) => a.text).join(' or ')
  const market = spot === null ? '' : spot ? ' (spot)' : ' (on-demand)'
  switch (reason) {
    case 'accelerator-mismatch':
      return subject === 'cpu-only' ? `CPU-only offers: the job needs ${wanted}` : `${subject} is not what the job asks for (${wanted})`
    case 'accelerator-count':
      return `${subject} offers come with a device count the job does not accept (e.g. ${detail} per node; the job asks for ${wanted})`
    case 'accelerator-memory':
      return `${subject} has too little or too much memory per device for ${wanted}`
    case 'accelerator-unknown':
      // Registered with null specs (Ascend910's memory) is not the same as never heard of.
      return ctx.group(subject).acc === undefined
        ? `${subject} is not in the accelerator registry, so its vendor, memory or software stack cannot be checked`
        : `${subject}'s specs are unknown (the accelerator registry has no memory figure for it), so it cannot be checked against ${wanted}`
    case 'accelerator-not-requested':
      return `${subject} offers carry accelerators the job does not ask for`
    case 'runtime-mismatch': {
      // CPU-only machines, left out of an `accelerators: auto` job whose runtimes omit `cpu`.
      if (subject === 'cpu-only') return `CPU-only machines run cpu; the job runs on ${(job.resources.runtimes ?? []).join(', ')}`
      const acc = ctx.group(subject).acc
      return `${subject} runs ${acc?.runtime ?? 'an unknown stack'}; the job runs on ${(job.resources.runtimes ?? []).join(', ')}`
    }
    case 'throughput-unknown':
      return `${subject} has no published dense BF16/FP16 throughput and no entry in the job's throughput table, so its run time cannot be estimated; add it to throughput:`
    case 'no-adapter':
      return `${subject} has no adapter in skyhop: its prices are in the catalog for comparison, but nothing can be launched there`
    case 'provider-disabled':
      return `${subject} is not enabled (no credentials found); use --all-providers to plan across the whole catalog`
    case 'provider-not-allowed':
      return `${subject} is excluded by the job's placement.providers`
    case 'region-not-allowed':
      return `${subject} is excluded by the job's placement.regions`
    case 'blocked':
      return `${subject}${market} was blocked after a failed launch`
    case 'multi-node-unsupported':
      // Below the backend's own limit: the offers (a partition, this machine) are too small.
      if (detail < (ctx.maxNodes?.get(example.provider) ?? Infinity))
        return `${subject} offers hold at most ${detail} node(s) in one gang (e.g. ${example.instanceType}); the job needs ${job.nodes}`
      return detail <= 1
        ? `${subject} cannot launch a gang of nodes (one node per attempt); the job needs ${job.nodes} nodes`
        : `${subject} can hold at most ${detail} nodes in one gang; the job needs ${job.nodes}`
    case 'interconnect': {
      // The shape has a fabric its gang does not get (on this market, or on either: spot
      // null) because the adapter does not set it up (gangFabric): say why, and point to the
      // other market where that one gets it.
      if (isFastFabric(example.interconnect)) {
        const got = gangFabric(example, spot ?? false)!
        const where = spot === null ? '' : spot ? ' spot' : ' on-demand'
        const who = spot === null ? 'a gang' : spot ? 'a Spot gang' : 'an on-demand gang'
        const other = spot !== null && isFastFabric(gangFabric(example, !spot)) ? `: run it ${spot ? 'on-demand' : 'on Spot'}` : ''
        return `${subject}${where}: ${who} does not get the shape's ${example.interconnect!.kind} (${got.source}); the job's ${job.nodes}-node gang requires a fabric (resources.interconnect: required)${other}`
      }
      return example.interconnect
        ? `${subject} has plain ethernet between nodes${example.interconnect.gbps === null ? '' : ` (${example.interconnect.gbps} Gbit/s)`}; the job's ${job.nodes}-node gang requires a fabric (resources.interconnect: required)`
        : `${subject} has no documented inter-node fabric (EFA, InfiniBand, RoCE, GPUDirect-TCPX, HCCS); the job's ${job.nodes}-node gang requires one (resources.interconnect: required)`
    }
    case 'container-unsupported': {
      const why = ctx.containerReasons.get(subject)
      if (why !== undefined) return `${subject} cannot run the job's container image ${job.container?.reference ?? ''}: ${why}`
      return subject === 'local'
        ? `local has no container runtime for the job's image ${job.container?.reference ?? ''} (podman or docker); install one or set providers.local.container_runtime`
        : `${subject} does not run container images (the job's image ${job.container?.reference ?? ''}); local does, with podman or docker`
    }
    case 'files-unsupported':
      return `${subject} places files: copies and uploads outputs: only through the job's object store, and the job has none (a pod gets its list of transfers by a signed GET from there); set checkpoint.store in the job file or checkpoint_store in the config`
    case 'mount-unsupported': {
      const url = mountUnsupported(job, subject) ?? ''
      const cloud = MOUNT_CLOUD[url.split(':')[0]] ?? ''
      return providerKind(subject) === 'cloud'
        ? `${subject} cannot mount ${url} (files: mode: mount): its FUSE tool authenticates with the instance's own role, which only ${cloud} instances have; copy it instead (mode: copy)`
        : `${subject} mounts no bucket (files: mode: mount needs a cloud instance's FUSE tool and role; ${url} mounts on ${cloud} only); copy it instead (mode: copy), or mount it on the machines yourself`
    }
    case 'capacity':
      return spot === null && detail > 0 && detail < Math.max(1, job.nodes)
        ? `${subject} can hold ${detail} instance(s) at once; the job needs ${job.nodes} nodes`
        : `${subject}: no capacity left for this job in the sweep`
    case 'quota':
      return `${subject}: the quota limit is used up by other jobs of the sweep`
    case 'cpus':
      return `${subject} offers with too few or the wrong number of vCPUs (e.g. ${example.instanceType} has ${detail}; the job asks for ${job.resources.cpus?.value}${job.resources.cpus?.atLeast ? '+' : ''})`
    case 'memory':
      return `${subject} offers with too little or the wrong memory (e.g. ${example.instanceType} has ${detail} GiB; the job asks for ${job.resources.memoryGB?.value}${job.resources.memoryGB?.atLeast ? '+' : ''} GB)`
    case 'no-market':
      return `${subject.replace('/', ' offers of ')} do not exist: the catalog has no ${subject.startsWith('spot') ? 'spot' : 'on-demand'} price for them`
    case 'price-unknown':
      return `${subject} offers have no known price, which ${ctx.priceLimits.join(' and ')} cannot be checked against`
    case 'max-price':
      return `${subject}${market} costs more per node-hour than max_price (e.g. ${fmt(detail)} USD/h)`
    case 'spot-unviable':
      return `${subject} spot: expected ${fmt(detail)} preemptions exceed recovery.max_restarts (${job.recovery.maxRestarts})${ctx.checkpointHours === null ? '; without checkpoints every preemption restarts from scratch' : ''}`
    case 'deadline':
      return `${subject}${market} would finish in ${fmt(detail)} h, after the deadline (${fmt(ctx.allowedHours)} h with the safety margin)`
    case 'deadline-risk':
      return `${subject} spot could miss the deadline: a pessimistic (p95) finish in ${fmt(detail)} h exceeds ${fmt(ctx.allowedHours)} h; on-demand is the safe choice`
    case 'budget':
      return `${subject}${market} would cost ${fmt(detail)} USD, over the budget of ${fmt(ctx.budgetUsd)} USD`
  }
}

/** One line per group, largest first, for messages and `--explain`. */
export function summarizeExclusions(groups: readonly ExclusionGroup[], limit = 8): string[] {
  const lines = groups.slice(0, limit).map((g) => `${g.count} × ${g.reason}: ${g.message}`)
  if (groups.length > limit) lines.push(`… and ${groups.length - limit} more groups`)
  return lines
}

/** Reasons that only say "not the hardware you asked for": least telling when nothing fits. */
const HARDWARE_REASONS: ReadonlySet<ExclusionReason> = new Set(['accelerator-mismatch', 'accelerator-not-requested', 'accelerator-count'])

/**
 * Groups ordered for a "nothing fits" message: what stopped the offers that had the right
 * hardware (disabled provider, deadline, budget…) before the offers that never could.
 */
export function blockingFirst(groups: readonly ExclusionGroup[]): ExclusionGroup[] {
  return [...groups.filter((g) => !HARDWARE_REASONS.has(g.reason)), ...groups.filter((g) => HARDWARE_REASONS.has(g.reason))]
}

/** Reasons judged per accelerator name, before an offer's provider is looked at. */
const ACCELERATOR_LEVEL: ReadonlySet<ExclusionReason> = new Set([
  ...HARDWARE_REASONS,
  'accelerator-unknown',
  'accelerator-memory',
  'runtime-mismatch',
  'throughput-unknown',
])

/**
 * Groups ordered by relevance to what the job asked: offers of providers the job itself
 * keeps out (placement.providers) say nothing about why it cannot run, so they come last;
 * among the rest, blocking reasons before hardware ones (blockingFirst), largest first.
 * A CPU-only job restricted to AWS then leads with "every AWS offer carries accelerators",
 * not with the disabled providers it never asked for.
 */
export function byRelevance(ctx: JobContext, groups: readonly ExclusionGroup[]): ExclusionGroup[] {
  const kept = (provider: string): boolean =>
    ctx.providerDeny.has(provider) || (ctx.providerAllow !== null && !ctx.providerAllow.has(provider))
  // Accelerator-level groups are judged before the provider and span every provider (their
  // example is any one of them): they stay, ranked as hardware reasons.
  const outside = (g: ExclusionGroup): boolean =>
    g.reason === 'provider-not-allowed' || (!ACCELERATOR_LEVEL.has(g.reason) && kept(g.example.provider))
  const inside = blockingFirst(groups.filter((g) => !outside(g)))
  // An unknown price a budget or max_price (the job's, or its sweep's) cannot be checked against is the
  // reason a user can act on (refresh, price sheet, or drop the limit): it leads.
  return [
    ...inside.filter((g) => g.reason === 'price-unknown'),
    ...inside.filter((g) => g.reason !== 'price-unknown'),
    ...groups.filter(outside),
  ]
}

export interface NoFeasibleOptions {
  /** The caller shows every group (plan --explain): nothing is cut, and the hint does not suggest --explain. */
  explain?: boolean
  /** The region came from a --region flag, not the job file: region exclusions name the flag. */
  regionFlag?: string
}

/** The error a caller throws when a plan has no candidate (exit 5), reasons grouped, most relevant first (plan.excluded's order). */
export function noFeasiblePlanError(plan: Plan, options: NoFeasibleOptions = {}): NoFeasiblePlanError {
  const flag = options.regionFlag
  const excluded =
    flag === undefined
      ? plan.excluded
      : plan.excluded.map((g) => (g.reason === 'region-not-allowed' ? {...g, message: `${g.subject} is outside --region ${flag}`} : g))
  const lines = summarizeExclusions(excluded, options.explain ? Number.POSITIVE_INFINITY : undefined)
  // Every offer runs another software stack: no group to fix, the catalog has nothing for the
  // job's runtimes (issue 23: a neuware or dtk job listed a page of CUDA exclusions instead).
  // CPU-only machines left out of a job that needs an accelerator do not change that.
  const noStack =
    excluded.some((g) => g.reason === 'runtime-mismatch') &&
    excluded.every((g) => g.reason === 'runtime-mismatch' || (g.reason === 'accelerator-mismatch' && g.subject === 'cpu-only'))
  const head =
    plan.offersConsidered === 0
      ? 'the catalog has no offers'
      : noStack
        ? `no offer can run ${plan.job}: none of the ${plan.offersConsidered} offers in the catalog has an accelerator of the job's runtimes`
        : `no offer can run ${plan.job} (${plan.offersConsidered} offers looked at)`
  const regions = [...new Set(excluded.filter((g) => g.reason === 'region-not-allowed').map((g) => g.subject))]
  // The flag is the likeliest culprit when it is what kept the offers out: say so first.
  const flagLine =
    flag !== undefined && regions.length > 0
      ? `--region ${flag}: none of the offers that meet the job's other rules is there; they are in ${regions.slice(0, 6).join(', ')}${regions.length > 6 ? ', …' : ''}\n`
      : ''
  return new NoFeasiblePlanError(flagLine + (lines.length > 0 ? `${head}:\n  ${lines.join('\n  ')}` : head), {
    hint: noStack ? NO_STACK_HINT : hintFor(excluded, options.explain === true),
    details: {job: plan.job, objective: plan.objective, excluded, assumptions: plan.assumptions},
  })
}

const NO_STACK_HINT =
  "The bundled catalog lists only offers a public source states, and none yet for accelerators of these runtimes (docs/catalog.md#domestic-accelerators). Give your own offers, a private cluster's or a negotiated price, with --catalog FILE or catalog.merge in the config (examples/domestic-pool.yaml is one to start from), or add a runtime the job can also run on."

/** The same for a sweep in which no job could be assigned. */
export function noFeasibleSweepError(sweep: SweepPlan): NoFeasiblePlanError {
  const reasons = sweep.assignments.filter((a) => a.reason !== null).map((a) => `${a.job}: ${a.reason!.reason}: ${a.reason!.message}`)
  return new NoFeasiblePlanError(`no job of the sweep can be placed:\n  ${reasons.slice(0, 8).join('\n  ')}`, {
    details: {assignments: sweep.assignments.map((a) => ({job: a.job, reason: a.reason}))},
  })
}

function hintFor(groups: readonly ExclusionGroup[], explained: boolean): string | undefined {
  const top = groups[0]?.reason
  if (groups.some((g) => g.reason === 'provider-disabled') && top !== 'provider-disabled' && top !== 'price-unknown') {
    return `Some providers are not enabled here: pass --all-providers to see what the whole catalog offers${explained ? '' : ', or --explain for every group'}.`
  }
  switch (top) {
    case 'no-adapter':
      return 'Only providers skyhop can launch on are planned (`skyhop check` lists them): allow other accelerators or regions that they offer.'
    case 'provider-disabled':
      return 'Set credentials for more providers, or pass --all-providers to see what the whole catalog offers.'
    case 'deadline':
    case 'deadline-risk':
      return 'Move the deadline, allow more accelerators, or checkpoint more often so spot becomes safe.'
    case 'budget':
    case 'max-price':
      return 'Raise the budget or max_price, or allow cheaper accelerators or regions.'
    case 'price-unknown':
      return "Learn the prices: refresh the catalog with the provider's credentials (skyhop catalog refresh) or give them in a price sheet (--catalog FILE, or catalog.merge in the config); or drop budget and max_price, which an unknown price cannot be checked against."
    case 'runtime-mismatch':
      return 'Add the runtime the job can also run on (e.g. runtimes: [cuda, cann]) or ask for a different accelerator.'
    case 'accelerator-not-requested':
      return 'The job asks for no accelerator and every offer left carries one: add resources.accelerators, or allow a provider with CPU-only machines.'
    case undefined:
      return 'Add offers with --catalog FILE.'
    default:
      return explained ? undefined : 'Run with --explain to see every excluded group.'
  }
}
