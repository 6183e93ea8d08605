// Kubernetes behind skyhop's Provider interface. Each kubeconfig context is a region; its
// offers are the node pools it has (nodes grouped by accelerator model and count, CPU and
// memory), read live from the nodes' allocatable resources and labels (devices.ts).
//
// A job is one pod (restartPolicy Never) in the context's namespace:
// - its container runs the job's container image (else the configured default image, which
//   needs bash and coreutils) with the shared boot script (vm/boot-script.ts) as its command:
//   the attempt directory and the runner travel inline in the pod spec, gzip+base64, so no
//   ConfigMap, volume of code or registry push is needed, and a retried create sends the
//   same bytes. The runner's events and the job's output go to the container's stdout
//   (SKYHOP-EV / SKYHOP-LOG lines), read back through the pod log API; the runner's exit and
//   its stop events are also written to the container's termination message, which the
//   pod's status keeps after kubelet has dropped the log.
// - requests: the accelerators (requests = limits, as device plugins require), CPU and memory
//   as the job asks; nodeSelector: the pool's model label; tolerations: the pool's NoSchedule
//   taints (GPU and NPU pools are usually tainted); terminationGracePeriodSeconds: the job's
//   grace plus a margin for the runner's last records.
// - labels app.kubernetes.io/managed-by=skyhop, skyhop.dev/job-id, skyhop.dev/attempt-id:
//   listOwned and `down` find pods by them. A finalizer keeps the pod object (its status and
//   termination message) after an eviction or deletion until skyhop has read it (cleanup).
// - the pod name comes from the attempt id: a retried create answers 409 and the existing pod
//   is adopted, never a second one.
// - a gang (nodes > 1) is one such pod per rank (`-r0`, `-r1`…), finding its rank and peers
//   through the job's object store as a cloud gang's instances do (vm/gang.ts); all or nothing.
//
// Stopping: eviction or deletion by the cluster (a drain, a higher-priority pod, a node going
// away) makes kubelet send SIGTERM to the container's first process, a wrapper that hands it to
// the runner as a `preempt` stop request: the job gets its signal and the rest of the grace,
// the attempt ends PREEMPTED and the controller relaunches it. skyhop's own cancel and preempt
// annotate the pod (skyhop.dev/stop-request); a cancel deletes it, a preempt evicts it (the
// Eviction API, as a drain does), with the grace asked.
// Capacity: a pod the scheduler still marks Unschedulable after scheduleWaitMs is deleted and the
// launch fails with a capacity error (scope offer: another pool or context may fit); a quota
// refusal (403 exceeded quota) is a quota error of the context. A pod gated by Kueue
// (schedulingGates) is queued, not failed: its Workload's admission is the queue.
import {bootScript, readRunnerScript} from '../vm/boot-script.js'
import {shipHandleData, shippedSamples, withShippedLog} from '../vm/shipped.js'
import {
  gangNodes,
  gangObjectsFor,
  logNodes,
  mergedLogs,
  nodeCount,
  orRollBack,
  pollOfHandle,
  publishGang,
  publishRunner,
  rankNodes,
} from '../vm/gang.js'
import {AdapterDispatcher} from '../../http/dispatcher.js'
import {ExitLineGrace, eventTime, finalState, linesAfter, parseConsole, type ConsoleReport} from '../vm/console-channel.js'
import {InvalidFileError, ProviderError} from '../../errors.js'
import {KubeApi, LABELS, PROVIDER, type KubeNode, type KubePod} from '../../clouds/kubernetes/api.js'
import {type Env, type KubeContext, loadKubeconfig} from '../../clouds/kubernetes/kubeconfig.js'
import type {Dispatcher} from 'undici'
import type {AttemptObjectReader} from '../../model/checkpoint.js'
import type {Offer} from '../../model/catalog.js'
import type {AttemptState, LaunchHandle, PollResult} from '../../model/attempt.js'
import type {CheckResult, LaunchRequest, LogOptions, OwnedQuery, Provider} from '../provider.js'
import {abortableSleep} from '../../util/sleep.js'
import {shellQuote} from '../../runner/contract.js'
import {DEVICE_RESOURCES, MODEL_LABEL, type DeviceKind, deviceKinds, nodeDevices, resourceIndex} from './devices.js'

export const STOP_ANNOTATION = 'skyhop.dev/stop-request'
export const KUEUE_QUEUE_LABEL = 'kueue.x-k8s.io/queue-name'
export const FINALIZER = 'skyhop.dev/attempt-record'
/** Set when skyhop has released an ended pod it keeps for its log. */
export const RELEASED_ANNOTATION = 'skyhop.dev/released-at'
/** How long a released pod's log is kept before the pod is deleted. */
const RELEASED_TTL_MS = 24 * 3600_000
/** Where the boot script writes the attempt directory inside the container (an emptyDir). */
const BASE_DIR = '/var/lib/skyhop/attempts'
/** Seconds kubelet waits beyond the job's grace, so the runner records the kill and the exit first. */
const GRACE_MARGIN_SECONDS = 5
/** The most pods of one gang (one pod per node, each created on its own). */
export const KUBERNETES_MAX_NODES = 16
/** A gang pod's rank label. */
const RANK_LABEL = 'skyhop.dev/node-rank'
/** Lines of the pod log re-read on each follow step after the first full read. */
const FOLLOW_TAIL_LINES = 5000
/** A pool's model label, by device resource, for the nodeSelector. */
const POOL_LABEL = 'skyhop.dev/pool'

export interface KubernetesProviderOptions {
  env?: Env
  home?: string
  /** Only these contexts (regions); default every context of the kubeconfig. */
  contexts?: string[] | null
  /** Overrides each context's namespace. */
  namespace?: string | null
  /** The image of a job without a container image of its own: needs bash and coreutils. */
  image?: string
  /** USD per accelerator-hour (a CPU-only pod: per pod-hour) by context; absent: 0, the cluster is yours. */
  pricePerHourUsd?: Record<string, number>
  /** Context → the Kueue LocalQueue its pods go to (label kueue.x-k8s.io/queue-name). */
  localQueues?: Record<string, string>
  /** How long a launch waits for the scheduler's verdict before it returns (default 10 s). */
  scheduleWaitMs?: number
  /** Injected in tests (the fake API server is plain HTTP); otherwise each context builds its own TLS Agent. */
  dispatcher?: Dispatcher
  serviceAccountDir?: string
  runnerScript?: () => Promise<string>
  sleep?: (ms: number) => Promise<void>
  now?: () => Date
  /** The boot script's runner poll interval (seconds). */
  pollIntervalSeconds?: number
  /** Reads back what pods shipped to the job's store (their samples), as for the VM clouds. */
  attemptObjects?: AttemptObjectReader
}

export const DEFAULT_IMAGE = 'docker.io/library/ubuntu:24.04'

/** A node pool: nodes with the same accelerator model and count (or none), in one context. */
interface Pool {
  context: string
  key: string
  accelerator: {name: string; count: number; resource: string} | null
  /** The labels every node of the pool shares, that select it. */
  selector: Record<string, string>
  taints: Array<{key: string; value?: string; effect: string}>
  vcpus: number
  memoryGiB: number
  nodes: number
}

/** The pod's name for an attempt: a DNS label, unique per attempt, the same on a retry. */
export function podName(attemptId: string): string {
  const safe = attemptId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
  return `skyhop-${safe}`.slice(0, 63).replace(/-+$/, '')
}

/** A label value: at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends. */
function labelValue(v: string): string {
  return v
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '')
}

/** CPU quantity → cores ("3500m" → 3.5, "8" → 8). */
export function cpuQuantity(q: string | undefined): number {
  if (!q) return 0
  if (q.endsWith('m')) return Number.parseInt(q, 10) / 1000
  const n = Number.parseFloat(q)
  return Number.isFinite(n) ? n : 0
}

const BINARY: Record<string, number> = {Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50}
const DECIMAL: Record<string, number> = {k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15}

/** Memory quantity → GiB ("515885664Ki" → 492). */
export function memoryGiB(q: string | undefined): number {
  if (!q) return 0
  const m = /^([0-9.]+)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.exec(q)
  if (!m) return 0
  const bytes = Number.parseFloat(m[1]) * (m[2] ? (BINARY[m[2]] ?? DECIMAL[m[2]]) : 1)
  return Math.round((bytes / 2 ** 30) * 100) / 100
}

function nodeReady(node: KubeNode): boolean {
  return !node.spec?.unschedulable && (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
}

/** The wrapper that is the container's first process: kubelet's SIGTERM becomes the runner's stop request. */
function podWrapper(attemptDir: string): string {
  return `set -u
D="\${SKYHOP_BOOT_ROOT-}"${shellQuote(attemptDir)}
# A gang's pod finds its rank by its own name in the gang's rank list, as a VM by its instance id.
if [[ -n \${SKYHOP_POD_NAME-} ]]; then
  mkdir -p "\${SKYHOP_BOOT_ROOT-}/var/lib/cloud/data"
  printf '%s\\n' "$SKYHOP_POD_NAME" >"\${SKYHOP_BOOT_ROOT-}/var/lib/cloud/data/instance-id"
fi
sk_term() { # kubelet's SIGTERM (eviction, deletion): a preemption unless skyhop already asked for a stop
  [[ -f $D/stop-request ]] || { printf 'preempt\\n' >"$D/stop-request.tmp" && mv -f "$D/stop-request.tmp" "$D/stop-request"; }
  local pid
  # A gang's runner keeps its files in node-<rank>/ (one rank per pod).
  pid=$(cat "$D/runner.pid" "$D"/node-*/runner.pid 2>/dev/null | head -n 1)
  [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null
}
trap sk_term TERM
bash -c "$1" skyhop-boot &
sk_child=$!
while :; do
  wait "$sk_child"
  sk_rc=$?
  kill -0 "$sk_child" 2>/dev/null || break
done
# The termination message outlives the log: the runner's stop events and its exit.
sk_msg="\${SKYHOP_BOOT_ROOT-}/dev/termination-log"
sk_job=$(cat "$D/exit_code" "$D"/node-*/exit_code 2>/dev/null | head -n 1)
{
  grep -hE '"event":"(notice|cancel|error|no-slot)"' "$D/events.jsonl" "$D"/node-*/events.jsonl 2>/dev/null | tail -n 4 | sed 's/^/SKYHOP-EV /'
  printf 'SKYHOP-EXIT %s %s\\n' "$sk_rc" "\${sk_job:-none}"
} >"$sk_msg" 2>/dev/null
exit "$sk_rc"
`
}

export class KubernetesProvider implements Provider {
  readonly name = PROVIDER
  // A pod's disk goes with it: checkpoints travel through checkpoint.store.
  readonly attemptStorage = 'per-instance' as const
  /**
   * A pod's runner ships its samples (every rank's) and output.log to the job's store, as a
   * cloud instance's does (vm/shipped.ts): the pod log carries the job's output and the
   * runner's events, not the samples, and goes with the pod.
   */
  readonly shipsAttemptFiles = true
  /** A job's secrets go into a Secret of the cluster, never the job store's one-time object. */
  readonly ownSecretStore = true
  readonly maxNodes = KUBERNETES_MAX_NODES
  /** For the gang's objects in the job's store (not the API servers'). */
  private readonly storeDispatcher: AdapterDispatcher
  private config: {contexts: KubeContext[]; error: null} | {contexts: null; error: Error} | null = null
  private readonly apis = new Map<string, KubeApi>()
  private readonly pools = new Map<string, Pool>()
  private readonly exitGrace = new ExitLineGrace()

  constructor(private readonly options: KubernetesProviderOptions = {}) {
    this.storeDispatcher = new AdapterDispatcher(options.dispatcher)
  }

  /** The contexts to use; a kubeconfig that does not load is this provider's failure, said once per call. */
  private contexts(): KubeContext[] {
    if (this.config === null) {
      try {
        const loaded = loadKubeconfig({
          env: this.options.env ?? process.env,
          home: this.options.home,
          serviceAccountDir: this.options.serviceAccountDir,
        })
        const wanted = this.options.contexts ?? null
        const unknown = (wanted ?? []).filter((c) => !loaded.contexts.some((k) => k.name === c))
        if (unknown.length > 0) {
          throw new ProviderError(
            this.name,
            'user',
            `providers.kubernetes.contexts names ${unknown.join(', ')}, which the kubeconfig does not define (it has ${loaded.contexts.map((c) => c.name).join(', ') || 'none'})`,
            {
              code: 'KUBERNETES_UNKNOWN_CONTEXT',
              scope: 'provider',
            },
          )
        }
        const ns = this.options.namespace ?? null
        const contexts = loaded.contexts
          .filter((c) => wanted === null || wanted.includes(c.name))
          .map((c) => (ns ? {...c, namespace: ns} : c))
        this.config = {contexts, error: null}
      } catch (error) {
        if (!(error instanceof InvalidFileError || error instanceof ProviderError)) throw error
        this.config = {contexts: null, error}
      }
    }
    if (this.config.contexts === null) {
      const error = this.config.error
      if (error instanceof ProviderError) throw error
      // The kubeconfig's own words (file:line:col); the provider is blocked, others go on.
      throw new ProviderError(this.name, 'unavailable', `kubeconfig: ${error.message}`, {
        code: 'KUBECONFIG_INVALID',
        scope: 'provider',
        hint: 'Fix the file (kubectl config view shows what kubectl reads), or set KUBECONFIG to a good one.',
        details: error instanceof InvalidFileError ? {issues: error.issues} : undefined,
      })
    }
    return this.config.contexts
  }

  private api(context: string): KubeApi {
    let api = this.apis.get(context)
    if (!api) {
      const ctx = this.contexts().find((c) => c.name === context)
      if (!ctx)
        throw new ProviderError(this.name, 'unavailable', `no context "${context}" in the kubeconfig`, {
          code: 'KUBERNETES_UNKNOWN_CONTEXT',
          scope: 'region',
        })
      api = new KubeApi({context: ctx, dispatcher: this.options.dispatcher})
      this.apis.set(context, api)
    }
    return api
  }

  /** The registry's names and the device kinds to look for, loaded on first use. */
  private async devices(): Promise<{resolve: (name: string) => string | null; kinds: DeviceKind[]}> {
    const {loadRegistry} = await import('../../catalog/accelerators.js')
    const registry = loadRegistry()
    return {resolve: (name) => registry.resolve(name)?.name ?? null, kinds: deviceKinds(resourceIndex(registry.all()))}
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))()
  }

  async runsContainers(): Promise<boolean> {
    return true
  }

  liveOfferScope(): {regions: readonly string[] | null; accelerators: readonly string[] | null} {
    return {regions: this.options.contexts ?? null, accelerators: null}
  }

  async check(): Promise<CheckResult> {
    let contexts: KubeContext[]
    try {
      contexts = this.contexts()
    } catch (error) {
      return {provider: this.name, ok: false, source: null, message: (error as Error).message}
    }
    if (contexts.length === 0) return {provider: this.name, ok: false, source: null, message: 'the kubeconfig defines no context'}
    const lines: string[] = []
    let ok = true
    for (const ctx of contexts) {
      try {
        const api = this.api(ctx.name)
        const version = await api.version()
        const nodes = await api.listNodes()
        const {resolve, kinds} = await this.devices()
        const found = nodes.map((n) => nodeDevices(n.status?.allocatable ?? {}, n.metadata.labels ?? {}, resolve, kinds))
        const withDevices = nodes.filter((_, i) => found[i].length > 0)
        const devices =
          withDevices.length === 0
            ? `no accelerator device plugin on any node (looked for ${DEVICE_RESOURCES.slice(0, 4).join(', ')}, …): CPU only`
            : `${withDevices.length} with accelerators`
        const unnamed = nodes.map((n, i) => ({n, d: found[i]})).filter(({d}) => d.length > 0 && d.every((x) => x.name === null))
        const left =
          unnamed.length === 0
            ? ''
            : `; ${unnamed.length} left out, their accelerator model unknown (${unnamed[0].n.metadata.name}: ${unnamed[0].d.map((x) => x.said).join(', ')} without a model label skyhop knows; label the node skyhop.dev/accelerator=MODEL)`
        lines.push(`${ctx.name}: ${version.gitVersion ?? 'API'} answers, ${nodes.length} nodes, ${devices}${left}`)
      } catch (error) {
        ok = false
        lines.push((error as Error).message.replace(/^kubernetes: /, ''))
      }
    }
    const sources = [...new Set(contexts.map((c) => `${c.source} (${c.authSource})`))]
    return {provider: this.name, ok, source: sources.join('; '), message: lines.join('; ')}
  }

  /** Node pools of every context; a context that does not answer is left out with the reason, unless none answers. */
  async liveOffers(): Promise<Offer[]> {
    const contexts = this.contexts()
    const devices = await this.devices()
    const results = await Promise.allSettled(contexts.map(async (c) => this.poolsOf(c.name, await this.api(c.name).listNodes(), devices)))
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failures.length === results.length && failures.length > 0) throw failures[0].reason
    const today = this.now().toISOString().slice(0, 10)
    const offers: Offer[] = []
    for (const r of results) {
      if (r.status !== 'fulfilled') continue
      for (const pool of r.value) {
        this.pools.set(`${pool.context}|${pool.key}`, pool)
        offers.push(...this.offersOf(pool, today))
      }
    }
    return offers
  }

  private poolsOf(
    context: string,
    nodes: KubeNode[],
    {resolve, kinds}: {resolve: (name: string) => string | null; kinds: DeviceKind[]},
  ): Pool[] {
    const pools = new Map<string, Pool>()
    for (const node of nodes) {
      if (!nodeReady(node)) continue
      const labels = node.metadata.labels ?? {}
      const allocatable = node.status?.allocatable ?? {}
      const devices = nodeDevices(allocatable, labels, resolve, kinds)
      const named = devices.find((d) => d.name !== null)
      // A device nobody can name is not offered at all: as a CPU node it would hand out its
      // accelerators' host to jobs that cannot use them, and a job asking for them cannot ask.
      // check() says which nodes were left out and why.
      if (devices.length > 0 && !named) continue
      const accelerator = named ? {name: named.name!, count: named.count, resource: named.kind.resource} : null
      const modelLabel = named ? ([MODEL_LABEL, ...named.kind.modelLabels].find((l) => labels[l]) ?? null) : null
      // Nodes of one pool share their pool label (or, without one, their model and count).
      const explicit =
        labels[POOL_LABEL] ??
        labels['cloud.google.com/gke-nodepool'] ??
        labels['eks.amazonaws.com/nodegroup'] ??
        labels['agentpool'] ??
        null
      const key = explicit ?? (accelerator ? `${accelerator.name.toLowerCase()}-x${accelerator.count}` : 'cpu')
      const selector: Record<string, string> = {}
      if (explicit !== null) {
        const label = [POOL_LABEL, 'cloud.google.com/gke-nodepool', 'eks.amazonaws.com/nodegroup', 'agentpool'].find(
          (l) => labels[l] === explicit,
        )!
        selector[label] = explicit
      } else if (modelLabel) selector[modelLabel] = labels[modelLabel]
      const taints = (node.spec?.taints ?? [])
        .filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute')
        .filter((t) => !t.key.startsWith('node.kubernetes.io/'))
      const pool = pools.get(key)
      const vcpus = cpuQuantity(allocatable.cpu)
      const mem = memoryGiB(allocatable.memory)
      if (pool) {
        pool.nodes++
        // The smallest node of a pool is what an offer promises.
        pool.vcpus = Math.min(pool.vcpus, vcpus)
        pool.memoryGiB = Math.min(pool.memoryGiB, mem)
        for (const t of taints) if (!pool.taints.some((p) => p.key === t.key && p.effect === t.effect)) pool.taints.push(t)
      } else {
        pools.set(key, {context, key, accelerator, selector, taints, vcpus, memoryGiB: mem, nodes: 1})
      }
    }
    return [...pools.values()]
  }

  /** One offer per device count a pod may ask for on the pool: 1, 2, 4, … up to the node's. */
  private offersOf(pool: Pool, today: string): Offer[] {
    const configured = this.options.pricePerHourUsd?.[pool.context]
    const counts =
      pool.accelerator === null
        ? [0]
        : [...new Set([1, 2, 4, 8, 16].filter((n) => n < pool.accelerator!.count).concat(pool.accelerator.count))]
    return counts.map((n) => ({
      provider: this.name,
      region: pool.context,
      zone: null,
      instanceType: pool.accelerator === null ? pool.key : `${pool.key}.${n}x`,
      accelerator: pool.accelerator === null ? null : {name: pool.accelerator.name, count: n},
      vcpus: pool.vcpus,
      memoryGiB: pool.memoryGiB,
      price: {onDemand: (configured ?? 0) * Math.max(1, n), spot: null, currency: 'USD' as const},
      priceStatus: configured === undefined ? ('estimate' as const) : ('list' as const),
      expectedQueueMinutes: null,
      preemptionRatePerHour: null,
      capacity: pool.accelerator === null ? pool.nodes : pool.nodes * Math.floor(pool.accelerator.count / Math.max(1, n)),
      // A gang of this shape: as many pods as the pool holds at once, at most KUBERNETES_MAX_NODES.
      maxNodes: Math.min(
        KUBERNETES_MAX_NODES,
        pool.accelerator === null ? pool.nodes : pool.nodes * Math.floor(pool.accelerator.count / Math.max(1, n)),
      ),
      noticeSeconds: null,
      source: `kubernetes: nodes of context ${pool.context}${configured === undefined ? '; no price configured (your own cluster: free)' : '; price from config'}`,
      asOf: today,
      confidence: 'high' as const,
    }))
  }

  /** The pool an offer came from: from this process's liveOffers, else read again. */
  private async poolOf(offer: Offer): Promise<Pool> {
    const key = offer.accelerator === null ? offer.instanceType : offer.instanceType.replace(/\.\d+x$/, '')
    const cached = this.pools.get(`${offer.region}|${key}`)
    if (cached) return cached
    await this.liveOffers()
    const pool = this.pools.get(`${offer.region}|${key}`)
    if (!pool) {
      throw new ProviderError(this.name, 'capacity', `context ${offer.region} has no node pool ${key} any more`, {
        code: 'KUBERNETES_NO_POOL',
        scope: 'offer',
      })
    }
    return pool
  }

  async launch(request: LaunchRequest): Promise<LaunchHandle> {
    const {offer, spec} = request
    if (offer.provider !== this.name)
      throw new ProviderError(this.name, 'user', `offer of ${offer.provider} given to the Kubernetes provider`)
    // A gang is one pod per node, each with the whole boot script; they find their ranks and
    // peers through the job's object store, as a cloud gang's instances do (vm/gang.ts).
    const nodes = nodeCount(request)
    const gang = gangObjectsFor(this.name, request, this.maxNodes)
    const api = this.api(offer.region)
    const pool = await this.poolOf(offer)
    const name = nodes === 1 ? podName(request.attemptId) : podName(request.attemptId).slice(0, 58).replace(/-+$/, '')
    const names = nodes === 1 ? [name] : Array.from({length: nodes}, (_, r) => `${name}-r${r}`)
    const attemptDir = `${BASE_DIR}/${request.attemptId.replace(/[^A-Za-z0-9._-]/g, '_')}`
    const runnerScript = await (this.options.runnerScript ?? readRunnerScript)()
    if (gang) await publishRunner(await this.storeDispatcher.get(), this.name, gang, runnerScript)
    // The job's secrets (LaunchRequest.secrets: the controller keeps them out of env) go into a
    // Secret the container's environment references, not into the pod spec, which anyone who
    // may read pods can read; the runner (runner.conf's secretNames) checks they are in its
    // environment and passes it on. So the boot script is given none to fetch from a store.
    const secretValues = request.secrets ?? {}
    const secretNames = Object.keys(secretValues)
    const secretName = secretNames.length > 0 ? names[0] : null
    const boot = bootScript({
      request: {...request, secrets: undefined, secretsObject: undefined},
      runnerScript,
      noticeSources: [],
      stopRequestProbe: null,
      consoleDevice: '/dev/stdout',
      baseDir: BASE_DIR,
      pollIntervalSeconds: this.options.pollIntervalSeconds,
    })
    const count = offer.accelerator?.count ?? 0
    const requests: Record<string, string> = {}
    const limits: Record<string, string> = {}
    if (pool.accelerator && count > 0) {
      requests[pool.accelerator.resource] = String(count)
      limits[pool.accelerator.resource] = String(count)
    }
    if (spec.resources.cpus) requests.cpu = String(spec.resources.cpus.value)
    if (spec.resources.memoryGB) requests.memory = `${Math.ceil(spec.resources.memoryGB.value * 1000)}M`
    const pod: KubePod = {
      metadata: {
        name,
        labels: {
          [LABELS.managed]: 'skyhop',
          [LABELS.job]: labelValue(request.jobId),
          [LABELS.attempt]: labelValue(request.attemptId),
          // Kueue's pod integration gates the pod until its Workload is admitted.
          ...(this.options.localQueues?.[offer.region] ? {[KUEUE_QUEUE_LABEL]: this.options.localQueues[offer.region]} : {}),
        },
        annotations: {'skyhop.dev/job-name': request.jobName, 'skyhop.dev/attempt': String(request.attempt)},
        finalizers: [FINALIZER],
      },
      spec: {
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: Math.max(0, Math.round(request.graceSeconds)) + GRACE_MARGIN_SECONDS,
        nodeSelector: pool.selector,
        tolerations: pool.taints.map((t) => ({
          key: t.key,
          operator: t.value === undefined ? 'Exists' : 'Equal',
          ...(t.value === undefined ? {} : {value: t.value}),
          effect: t.effect,
        })),
        containers: [
          {
            name: 'job',
            image: spec.container?.reference ?? this.options.image ?? DEFAULT_IMAGE,
            command: ['bash', '-c', podWrapper(attemptDir), 'skyhop-pod', boot],
            // Never set by a real cluster's kubelet: no power-off, the container's exit is the end.
            env: [
              {name: 'SKYHOP_BOOT_NO_SHUTDOWN', value: '1'},
              // A gang's pod finds its rank by its name (the downward API).
              ...(gang ? [{name: 'SKYHOP_POD_NAME', valueFrom: {fieldRef: {fieldPath: 'metadata.name'}}}] : []),
              ...secretNames.map((n) => ({name: n, valueFrom: {secretKeyRef: {name: secretName!, key: n}}})),
            ],
            resources: {requests, limits},
            volumeMounts: [{name: 'skyhop', mountPath: '/var/lib/skyhop'}],
            terminationMessagePath: '/dev/termination-log',
            terminationMessagePolicy: 'File',
          },
        ],
        volumes: [{name: 'skyhop', emptyDir: {}}],
      },
    }
    if (secretName) {
      await api.putSecret(secretName, pod.metadata.labels ?? {}, secretValues)
    }
    const handle: LaunchHandle = {
      provider: this.name,
      externalId: names[0],
      region: offer.region,
      zone: null,
      data: {
        attemptId: request.attemptId,
        jobId: request.jobId,
        namespace: api.context.namespace,
        pool: pool.key,
        ...(gang ? {nodes: rankNodes(names.map((id) => ({id, ip: null})))} : {}),
        ...shipHandleData(request.ship),
      },
    }
    const made: KubePod[] = []
    try {
      for (const [rank, podName_] of names.entries()) {
        const one: KubePod = {
          ...pod,
          metadata: {...pod.metadata, name: podName_, labels: {...pod.metadata.labels, ...(gang ? {[RANK_LABEL]: String(rank)} : {})}},
        }
        made.push((await api.createPod(one)).pod)
      }
    } catch (error) {
      // All or nothing: what was made goes.
      await this.cleanup(handle).catch(() => undefined)
      if (secretName) await api.deleteSecret(secretName).catch(() => undefined)
      throw error
    }
    // Owned by the (head) pod: the cluster's garbage collector deletes it with the pod.
    if (secretName && made[0].metadata.uid) await api.adoptSecret(secretName, {name: names[0], uid: made[0].metadata.uid})
    for (const m of made) await this.awaitScheduling(api, m, handle)
    if (!gang) return handle
    const ranked = await orRollBack(
      this.name,
      async () => {
        const withIps = rankNodes(await this.podIps(api, names))
        await publishGang(await this.storeDispatcher.get(), this.name, gang, withIps)
        return withIps
      },
      () => this.cleanup(handle),
    )
    return {...handle, data: {...handle.data, nodes: ranked}}
  }

  /** Each gang pod's IP, rank order, once the cluster has given it one (running). */
  private async podIps(api: KubeApi, names: string[]): Promise<Array<{id: string; ip: string | null}>> {
    const sleep = this.options.sleep ?? abortableSleep
    const known = new Map<string, string>()
    for (let tries = 0; known.size < names.length && tries < 240; tries++) {
      if (tries > 0) await sleep(500)
      for (const n of names) {
        if (known.has(n)) continue
        const ip = (await api.getPod(n))?.status?.podIP
        if (ip) known.set(n, ip)
      }
    }
    if (known.size < names.length) {
      throw new ProviderError(this.name, 'capacity', `${names.length - known.size} of the gang's pods got no IP within 2 minutes`, {
        code: 'GANG_PARTIAL_CAPACITY',
        scope: 'offer',
      })
    }
    return names.map((id) => ({id, ip: known.get(id)!}))
  }

  /**
   * Waits for the scheduler's verdict: bound to a node (or gated by Kueue, or already ended) →
   * launched; Unschedulable → the pod is removed and the launch fails as capacity.
   */
  private async awaitScheduling(api: KubeApi, first: KubePod, handle: LaunchHandle): Promise<void> {
    const sleep = this.options.sleep ?? abortableSleep
    const deadline = Date.now() + (this.options.scheduleWaitMs ?? 10_000)
    let pod: KubePod | null = first
    for (;;) {
      if (pod === null) return
      if (pod.spec?.nodeName || pod.status?.phase !== 'Pending') return
      if (((pod.spec?.schedulingGates as unknown[]) ?? []).length > 0) return
      const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled')
      if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable' && Date.now() >= deadline) {
        await this.cleanup(handle).catch(() => undefined)
        throw new ProviderError(
          this.name,
          'capacity',
          `context ${handle.region}: the pod cannot be scheduled: ${scheduled.message ?? 'Unschedulable'}`,
          {
            code: 'KUBERNETES_UNSCHEDULABLE',
            scope: 'offer',
            backendCode: 'Unschedulable',
          },
        )
      }
      if (Date.now() >= deadline) return
      await sleep(250)
      pod = await api.getPod(first.metadata.name)
    }
  }

  async poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>> {
    const out = new Map<string, PollResult>()
    const byContext = new Map<string, LaunchHandle[]>()
    for (const h of handles) byContext.set(h.region, [...(byContext.get(h.region) ?? []), h])
    for (const [context, group] of byContext) {
      const api = this.api(context)
      // One list per context: every skyhop pod of the namespace.
      const pods = new Map((await api.listPods(`${LABELS.managed}=skyhop`)).map((p) => [p.metadata.name, p]))
      for (const h of group) {
        // A gang's nodes are polled one by one and judged by the one gang rule (gang.ts).
        const results = new Map<string, PollResult>()
        for (const n of gangNodes(h)) results.set(n.externalId, await this.pollOne(api, n.externalId, pods.get(n.externalId) ?? null))
        out.set(
          h.externalId,
          pollOfHandle(h, (id) => results.get(id)!),
        )
      }
    }
    return out
  }

  private async pollOne(api: KubeApi, name: string, pod: KubePod | null): Promise<PollResult> {
    const base = {startedAt: null, endedAt: null}
    if (pod === null) return {...base, state: 'LOST', exitCode: null, reason: 'the pod no longer exists (deleted without skyhop)'}
    const status = pod.status ?? {}
    const container = status.containerStatuses?.find((c) => c.name === 'job')
    const terminated = container?.state?.terminated
    const startedAt = container?.state?.running?.startedAt ?? terminated?.startedAt ?? status.startTime ?? null
    const stop = pod.metadata.annotations?.[STOP_ANNOTATION] ?? null
    if (terminated || status.phase === 'Succeeded' || status.phase === 'Failed') {
      let report: ConsoleReport = parseConsole(terminated?.message ?? '')
      if (!report.ended) report = parseConsole((await api.podLog(name).catch(() => null)) ?? '')
      const endedAt = terminated?.finishedAt ?? null
      if (report.ended) {
        this.exitGrace.forget(name)
        const end = finalState(report)
        const state: AttemptState = stop?.startsWith('cancel') && end.state !== 'SUCCEEDED' ? 'CANCELLED' : end.state
        return {
          state,
          exitCode: end.exitCode,
          reason: state === 'CANCELLED' ? `cancelled; exit ${end.exitCode ?? '?'}` : end.reason,
          startedAt: eventTime(report, 'start') ?? startedAt,
          endedAt,
        }
      }
      // Killed before the wrapper could write its record (evicted from a failing node, OOM).
      const exitCode = terminated?.exitCode ?? null
      const evicted = status.reason === 'Evicted' || pod.metadata.deletionTimestamp !== undefined
      const why = status.message ?? terminated?.reason ?? status.reason ?? 'ended without the runner\u2019s record'
      if (evicted && !stop?.startsWith('cancel')) return {state: 'PREEMPTED', exitCode, reason: `evicted: ${why}`, startedAt, endedAt}
      if (stop?.startsWith('cancel')) return {state: 'CANCELLED', exitCode, reason: `cancelled: ${why}`, startedAt, endedAt}
      return {state: 'LOST', exitCode, reason: why, startedAt, endedAt}
    }
    // The pod's IP comes with its start, after launch returned: a service replica is reached there.
    if (status.phase === 'Running')
      return {state: 'RUNNING', exitCode: null, reason: null, startedAt, endedAt: null, ...(status.podIP ? {ip: status.podIP} : {})}
    const gated = ((pod.spec?.schedulingGates as unknown[]) ?? []).length > 0
    if (gated) return {state: 'PENDING', exitCode: null, reason: await this.admissionReason(api, pod), ...base}
    const scheduled = status.conditions?.find((c) => c.type === 'PodScheduled')
    if (scheduled?.status === 'False')
      return {state: 'PENDING', exitCode: null, reason: scheduled.message ?? scheduled.reason ?? 'not scheduled yet', ...base}
    const waiting = container?.state?.waiting
    return {
      state: 'PROVISIONING',
      exitCode: null,
      reason: waiting ? `${waiting.reason ?? 'waiting'}${waiting.message ? `: ${waiting.message}` : ''}` : null,
      ...base,
    }
  }

  /** Why a gated pod waits: its Kueue Workload's condition and its place in the queue, as far as Kueue tells. */
  private async admissionReason(api: KubeApi, pod: KubePod): Promise<string> {
    const name = pod.metadata.name
    const owned = (w: {metadata: {ownerReferences?: Array<{kind: string; name: string}>}}) =>
      (w.metadata.ownerReferences ?? []).some((o) => o.kind === 'Pod' && o.name === name)
    const workload = (await api.listWorkloads().catch(() => null))?.find(owned)
    if (!workload) return 'waiting for admission (Kueue Workload)'
    const conditions = workload.status?.conditions ?? []
    const waiting =
      conditions.find((c) => c.type === 'QuotaReserved' && c.status === 'False') ?? conditions.find((c) => c.status === 'False')
    const queue = workload.spec?.queueName ?? pod.metadata.labels?.[KUEUE_QUEUE_LABEL]
    const pending = queue ? await api.pendingWorkloads(queue).catch(() => null) : null
    const place = pending?.find(owned)?.positionInClusterQueue
    return [
      `Kueue: waiting for admission in LocalQueue ${queue ?? '?'}`,
      place === undefined ? null : `position ${place + 1} in its ClusterQueue`,
      waiting?.message ?? null,
    ]
      .filter((x) => x !== null)
      .join('; ')
  }

  /**
   * The pod log, then (with a store) whatever the head's runner shipped past it: all of its
   * output.log once the pod is gone (vm/shipped.ts withShippedLog).
   */
  logs(handle: LaunchHandle, options: LogOptions): AsyncIterable<string> {
    return withShippedLog(this.options.attemptObjects, handle, options, () => this.podsLogs(handle, options))
  }

  private async *podsLogs(handle: LaunchHandle, options: LogOptions): AsyncIterable<string> {
    const nodes = logNodes(handle, options.node)
    if (nodes.length === 1 && options.node !== 'all') {
      yield* this.podLogs(handle.region, nodes[0].externalId, options)
      return
    }
    yield* mergedLogs(
      nodes.map((n) => ({rank: n.rank, lines: this.podLogs(handle.region, n.externalId, options)})),
      true,
    )
  }

  private async *podLogs(context: string, name: string, options: LogOptions): AsyncIterable<string> {
    const api = this.api(context)
    const sleep = this.options.sleep ?? abortableSleep
    let last = 0
    for (;;) {
      // The whole log once, then its tail: a long job's log is not read again from the start
      // every second. Lines that scrolled past the tail are reported as missing.
      const text = await api.podLog(name, last === 0 ? {} : {tailLines: FOLLOW_TAIL_LINES})
      const report = parseConsole(text ?? '')
      const next = linesAfter(report, last, (n) => `[skyhop: ${n} lines missing from the pod log]`)
      last = next.last
      for (const line of next.lines) yield line
      if (!options.follow || text === null || report.ended || options.signal?.aborted) return
      const pod = await api.getPod(name)
      const ended = pod === null || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed'
      if (ended && this.exitGrace.waiting(`logs:${name}`, Date.now(), 3000) === false) return
      await sleep(1000).catch(() => undefined)
    }
  }

  async signal(handle: LaunchHandle, kind: 'cancel' | 'preempt', graceSeconds: number): Promise<void> {
    const api = this.api(handle.region)
    const grace = Math.max(0, Math.round(graceSeconds))
    for (const n of gangNodes(handle)) {
      // The annotation says which stop it was (poll reads it). A preemption goes the way a real
      // one does, through the Eviction API; a cancel is a deletion. Both deliver SIGTERM with the grace.
      if (!(await api.patchPodMetadata(n.externalId, {annotations: {[STOP_ANNOTATION]: `${kind} ${grace}`}}))) continue
      if (kind === 'preempt') await api.evictPod(n.externalId, grace + GRACE_MARGIN_SECONDS)
      else await api.deletePod(n.externalId, grace + GRACE_MARGIN_SECONDS)
    }
  }

  /**
   * Releases the attempt's pod. A running pod is deleted at once. An ended one holds no
   * resources any more (the scheduler counts only pending and running pods), so it is kept,
   * released (finalizer removed, RELEASED_ANNOTATION set), for `logs` to read after the job:
   * the pod log API is the only copy of the output without a store (with one, the head's
   * runner shipped its output.log there too). Released pods older than
   * RELEASED_TTL_MS are deleted by the next cleanup in their namespace, as a Job's
   * ttlSecondsAfterFinished would.
   */
  async cleanup(handle: LaunchHandle): Promise<void> {
    const api = this.api(handle.region)
    // The job's secrets (a Secret named like the head pod, if it had any) go first, whatever the pods' state.
    await api.deleteSecret(handle.externalId)
    let released = false
    for (const n of gangNodes(handle)) {
      this.exitGrace.forget(n.externalId)
      const pod = await api.getPod(n.externalId)
      if (pod === null) continue
      const ended = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed'
      if (ended && !pod.metadata.deletionTimestamp) {
        await api.patchPodMetadata(n.externalId, {finalizers: null, annotations: {[RELEASED_ANNOTATION]: this.now().toISOString()}})
        released = true
        continue
      }
      // Without the finalizer the deletion completes (at once, when the pod has ended).
      if (await api.patchPodMetadata(n.externalId, {finalizers: null})) await api.deletePod(n.externalId, 0)
    }
    if (released) await this.deleteExpired(api)
  }

  private async deleteExpired(api: KubeApi): Promise<void> {
    const cutoff = this.now().getTime() - RELEASED_TTL_MS
    for (const pod of await api.listPods(`${LABELS.managed}=skyhop`)) {
      const at = Date.parse(pod.metadata.annotations?.[RELEASED_ANNOTATION] ?? '')
      if (Number.isFinite(at) && at < cutoff) await api.deletePod(pod.metadata.name, 0)
    }
  }

  /** The samples the pods' runners shipped to the job's store (vm/shipped.ts), each rank's its own; null without a store. */
  usageSamples(handle: LaunchHandle, offset?: number, rank = 0): Promise<{text: string; offset: number} | null> {
    return shippedSamples(this.options.attemptObjects, handle, offset, rank)
  }

  async listOwned(query: OwnedQuery = {}): Promise<LaunchHandle[]> {
    const contexts = this.contexts().map((c) => c.name)
    const wanted = new Set([...contexts, ...(query.regions ?? []).filter((r) => contexts.includes(r))])
    const selector = `${LABELS.managed}=skyhop${query.attemptId ? `,${LABELS.attempt}=${labelValue(query.attemptId)}` : ''}`
    const out: LaunchHandle[] = []
    for (const context of wanted) {
      const api = this.api(context)
      const gangs = new Map<string, LaunchHandle>()
      for (const pod of await api.listPods(selector)) {
        // Released by skyhop (kept only for its log), or deleted without our finalizer: held by nothing.
        if (!(pod.metadata.finalizers ?? []).includes(FINALIZER)) continue
        const labels = pod.metadata.labels ?? {}
        const handle: LaunchHandle = {
          provider: this.name,
          externalId: pod.metadata.name,
          region: context,
          zone: null,
          data: {
            attemptId: labels[LABELS.attempt] ?? '',
            jobId: labels[LABELS.job] ?? '',
            namespace: api.context.namespace,
            state: pod.status?.phase ?? 'Unknown',
          },
        }
        const rank = labels[RANK_LABEL]
        if (rank === undefined) {
          out.push(handle)
          continue
        }
        // A gang's pods are one attempt: the head's handle with every node, rank order.
        const key = labels[LABELS.attempt] ?? pod.metadata.name
        const gangHandle = gangs.get(key) ?? {...handle, data: {...handle.data, nodes: []}}
        const node = {rank: Number(rank), externalId: pod.metadata.name, ip: pod.status?.podIP ?? null}
        const list = [...(gangHandle.data.nodes as Array<typeof node>), node].sort((a, b) => a.rank - b.rank)
        gangs.set(key, {...gangHandle, externalId: list[0].externalId, data: {...gangHandle.data, nodes: list}})
      }
      out.push(...gangs.values())
    }
    return out
  }

  async close(): Promise<void> {
    await Promise.all([...this.apis.values()].map((a) => a.close()))
    await this.storeDispatcher.close()
  }
}
