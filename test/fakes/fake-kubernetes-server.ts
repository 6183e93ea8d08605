// A FAKE Kubernetes API server for tests: the core/v1 and policy/v1 endpoints skyhop calls,
// in the real wire format (JSON objects, `Status` objects for every failure with the API
// server's reason and message), a scheduler, and a kubelet that RUNS each bound pod's
// container command as a local process, so the boot script, the wrapper and the runner
// really run. What a real cluster gives a container and this one imitates:
// - the container's filesystem root is a directory of its own (SKYHOP_BOOT_ROOT, the hook
//   the boot script has for fakes), its stdout and stderr are the pod log, and the file at
//   its terminationMessagePath becomes state.terminated.message when it exits;
// - a graceful deletion or an eviction sends SIGTERM to the container's first process and
//   SIGKILL to all of it after the grace (deletionGracePeriodSeconds); finalizers keep the
//   object until they are removed;
// - the scheduler binds a pod to a ready node that has the requested resources free, matches
//   its nodeSelector and whose NoSchedule taints it tolerates; otherwise PodScheduled is False
//   with reason Unschedulable and the scheduler's message (`0/2 nodes are available: 2
//   Insufficient nvidia.com/gpu.`); pods waiting are retried when resources free up;
// - a ResourceQuota (hard limits on requests.*) refuses a pod with 403 Forbidden, `exceeded
//   quota`; a wrong bearer token gets 401 Unauthorized; a name in use 409 AlreadyExists.
// - Kueue, when `kueue` is set: a pod labelled kueue.x-k8s.io/queue-name gets the
//   kueue.x-k8s.io/admission scheduling gate and a Workload (kueue.x-k8s.io/v1beta1) owned by
//   it, QuotaReserved=False with Kueue's message, until the test admits it (admit()); the
//   visibility API lists a LocalQueue's pending workloads with their positions. Without
//   `kueue` its API groups answer 404, as on a cluster without it.
import {type ChildProcess, spawn} from 'node:child_process'
import {closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync} from 'node:fs'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {createServer as createTlsServer} from 'node:https'
import type {AddressInfo, Socket} from 'node:net'
import type {TLSSocket} from 'node:tls'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {killGroup} from './fake-cloud-server.js'

export interface FakeNode {
  name: string
  labels?: Record<string, string>
  allocatable: Record<string, string>
  taints?: Array<{key: string; value?: string; effect: string}>
  ready?: boolean
}

interface Container {
  name: string
  image: string
  command?: string[]
  args?: string[]
  env?: Array<{name: string; value?: string}>
  resources?: {requests?: Record<string, string>; limits?: Record<string, string>}
  terminationMessagePath?: string
}

interface Pod {
  apiVersion: 'v1'
  kind: 'Pod'
  metadata: {
    name: string
    namespace: string
    uid: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    finalizers?: string[]
    creationTimestamp: string
    deletionTimestamp?: string
    deletionGracePeriodSeconds?: number
    resourceVersion: string
  }
  spec: {
    nodeName?: string
    nodeSelector?: Record<string, string>
    tolerations?: Array<{key?: string; operator?: string; value?: string; effect?: string}>
    terminationGracePeriodSeconds?: number
    containers: Container[]
    schedulingGates?: unknown[]
    [k: string]: unknown
  }
  status: {
    phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed'
    podIP?: string
    reason?: string
    message?: string
    startTime?: string
    conditions?: Array<{type: string; status: string; reason?: string; message?: string; lastTransitionTime: string}>
    containerStatuses?: Array<{name: string; image: string; ready: boolean; restartCount: number; state: Record<string, unknown>}>
  }
}

interface Running {
  child: ChildProcess
  dir: string
  killTimer?: NodeJS.Timeout
}

export interface FakeKubernetesOptions {
  /** The bearer token the server accepts. */
  token: string
  nodes: FakeNode[]
  /** ResourceQuota hard limits per namespace, e.g. {'requests.nvidia.com/gpu': '4'}. */
  quotas?: Record<string, Record<string, string>>
  gitVersion?: string
  /**
   * Serve HTTPS with this key and certificate, and accept a client certificate signed by `ca`
   * in place of the token (mutual TLS, as an API server with --client-ca-file does).
   */
  tls?: {key: string; cert: string; ca: string}
  /** Kueue installed: LocalQueue name → its ClusterQueue. */
  kueue?: {localQueues: Record<string, string>}
}

const QUEUE_LABEL = 'kueue.x-k8s.io/queue-name'
const KUEUE_GATE = 'kueue.x-k8s.io/admission'

interface Workload {
  apiVersion: 'kueue.x-k8s.io/v1beta1'
  kind: 'Workload'
  metadata: {
    name: string
    namespace: string
    creationTimestamp: string
    ownerReferences: Array<{apiVersion: string; kind: string; name: string; uid: string}>
  }
  spec: {queueName: string}
  status: {conditions: Array<{type: string; status: string; reason: string; message: string; lastTransitionTime: string}>}
}

const now = () => new Date().toISOString()

function status(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return {kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? {details} : {}), code}
}

/** Quantities as numbers: cpu in cores, memory in bytes, device counts as is. */
function quantity(q: string | undefined): number {
  if (q === undefined) return 0
  const m = /^([0-9.]+)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q)
  if (!m) return Number.NaN
  const n = Number.parseFloat(m[1])
  const unit = m[2] ?? ''
  const scale: Record<string, number> = {
    '': 1,
    m: 1e-3,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  }
  return n * scale[unit]
}

export class FakeKubernetesServer {
  private server: Server | null = null
  private readonly sockets = new Set<Socket>()
  readonly pods = new Map<string, Pod>()
  readonly workloads = new Map<string, Workload>()
  readonly secrets = new Map<
    string,
    {
      metadata: {name: string; namespace: string; labels?: Record<string, string>; ownerReferences?: Array<{kind: string; name: string}>}
      data: Record<string, string>
    }
  >()
  private readonly running = new Map<string, Running>()
  private readonly root = mkdtempSync(join(tmpdir(), 'skyhop-fake-k8s-'))
  private version = 1
  /** Every request, method and path, for assertions. */
  readonly requests: Array<{method: string; path: string; query: string; body: unknown}> = []
  url = ''

  constructor(readonly options: FakeKubernetesOptions) {}

  async start(): Promise<string> {
    const tls = this.options.tls
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res)
    this.server = tls
      ? createTlsServer({key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, rejectUnauthorized: false}, handler)
      : createServer(handler)
    this.server.on('connection', (s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(this.server!.address() as AddressInfo).port}`
    return this.url
  }

  /** Kills every pod's processes and closes the server. */
  async stop(): Promise<void> {
    for (const r of this.running.values()) {
      if (r.killTimer) clearTimeout(r.killTimer)
      killGroup(r.child)
    }
    this.running.clear()
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
    this.server = null
  }

  /** The pod's log so far (its container's stdout and stderr). */
  log(name: string): string {
    const file = join(this.root, name, 'log')
    return existsSync(file) ? readFileSync(file, 'utf8') : ''
  }

  /** Where the pod's container root is (its attempt directory lives under it). */
  podRoot(name: string): string {
    return join(this.root, name, 'root')
  }

  /** Evicts the pod as the cluster would (a drain, node pressure): SIGTERM now, SIGKILL after its grace. */
  evict(name: string): void {
    const pod = this.pods.get(name)
    if (pod) this.deleteGracefully(pod, pod.spec.terminationGracePeriodSeconds ?? 30)
  }

  /** Kueue admits the pod's Workload: the gate goes, the scheduler takes the pod. */
  admit(name: string): void {
    const pod = this.pods.get(name)
    const workload = this.workloads.get(`pod-${name}`)
    if (!pod || !workload) throw new Error(`no gated pod ${name}`)
    workload.status.conditions = [
      {
        type: 'QuotaReserved',
        status: 'True',
        reason: 'QuotaReserved',
        message: 'Quota reserved in ClusterQueue',
        lastTransitionTime: now(),
      },
      {type: 'Admitted', status: 'True', reason: 'Admitted', message: 'The workload is admitted', lastTransitionTime: now()},
    ]
    pod.spec.schedulingGates = []
    this.touch(pod)
    this.schedule()
  }

  /** The visibility API's PendingWorkloadsSummary of a LocalQueue: oldest first, with positions. */
  private pendingWorkloads(namespace: string, queue: string) {
    const pending = [...this.workloads.values()]
      .filter((w) => w.metadata.namespace === namespace && w.spec.queueName === queue)
      .filter((w) => !w.status.conditions.some((c) => c.type === 'Admitted' && c.status === 'True'))
    return {
      kind: 'PendingWorkloadsSummary',
      apiVersion: 'visibility.kueue.x-k8s.io/v1beta1',
      metadata: {},
      items: pending.map((w, i) => ({
        metadata: {name: w.metadata.name, namespace, ownerReferences: w.metadata.ownerReferences},
        localQueueName: queue,
        positionInClusterQueue: i,
        positionInLocalQueue: i,
        priority: 0,
      })),
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    let body: unknown = undefined
    if (raw !== '') {
      try {
        body = JSON.parse(raw)
      } catch {
        return this.send(res, 400, status(400, 'BadRequest', 'the request body is not JSON'))
      }
    }
    const url = new URL(req.url ?? '/', 'http://fake')
    const method = req.method ?? 'GET'
    this.requests.push({method, path: url.pathname, query: url.search, body})
    // With TLS, a client certificate the cluster CA signed authenticates as a token does.
    const byCert = this.options.tls !== undefined && (req.socket as TLSSocket).authorized === true
    if (!byCert && req.headers.authorization !== `Bearer ${this.options.token}`) {
      return this.send(res, 401, status(401, 'Unauthorized', 'Unauthorized'))
    }
    const path = url.pathname
    if (method === 'GET' && path === '/version')
      return this.send(res, 200, {major: '1', minor: '31', gitVersion: this.options.gitVersion ?? 'v1.31.0-fake'})
    if (method === 'GET' && path === '/api/v1/nodes')
      return this.send(res, 200, {
        kind: 'NodeList',
        apiVersion: 'v1',
        metadata: {},
        items: this.options.nodes.map((n) => this.nodeObject(n)),
      })
    if (this.options.kueue) {
      const wl = /^\/apis\/kueue\.x-k8s\.io\/v1beta1\/namespaces\/([^/]+)\/workloads$/.exec(path)
      if (wl && method === 'GET') {
        const items = [...this.workloads.values()].filter((w) => w.metadata.namespace === wl[1])
        return this.send(res, 200, {kind: 'WorkloadList', apiVersion: 'kueue.x-k8s.io/v1beta1', metadata: {}, items})
      }
      const vis = /^\/apis\/visibility\.kueue\.x-k8s\.io\/v1beta1\/namespaces\/([^/]+)\/localqueues\/([^/]+)\/pendingworkloads$/.exec(path)
      if (vis && method === 'GET') return this.send(res, 200, this.pendingWorkloads(vis[1], vis[2]))
    }
    const sec = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(path)
    if (sec) return this.secret(res, method, sec[1], sec[2], body as {metadata: {name: string}; data: Record<string, string>})
    let m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(path)
    if (m && method === 'GET') {
      const items = [...this.pods.values()].filter(
        (p) => p.metadata.namespace === m![1] && matches(p.metadata.labels ?? {}, url.searchParams.get('labelSelector')),
      )
      return this.send(res, 200, {kind: 'PodList', apiVersion: 'v1', metadata: {resourceVersion: String(this.version)}, items})
    }
    if (m && method === 'POST') return this.create(res, m[1], body as Pod)
    m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)(\/log|\/eviction)?$/.exec(path)
    if (m) {
      const pod = this.pods.get(m[2])
      if (!pod || pod.metadata.namespace !== m[1])
        return this.send(res, 404, status(404, 'NotFound', `pods "${m[2]}" not found`, {name: m[2], kind: 'pods'}))
      if (m[3] === '/log' && method === 'GET') {
        res.writeHead(200, {'content-type': 'text/plain'})
        const tail = url.searchParams.get('tailLines')
        const text = this.log(pod.metadata.name)
        res.end(
          tail === null
            ? text
            : text
                .split('\n')
                .slice(-Number(tail) - 1)
                .join('\n'),
        )
        return
      }
      if (m[3] === '/eviction' && method === 'POST') {
        const grace = (body as {deleteOptions?: {gracePeriodSeconds?: number}} | undefined)?.deleteOptions?.gracePeriodSeconds
        this.deleteGracefully(pod, grace ?? pod.spec.terminationGracePeriodSeconds ?? 30)
        return this.send(res, 201, {kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201})
      }
      if (method === 'GET') return this.send(res, 200, pod)
      if (method === 'PATCH') {
        if (req.headers['content-type'] !== 'application/merge-patch+json') {
          return this.send(res, 415, status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format`))
        }
        const meta = (body as {metadata?: Record<string, unknown>}).metadata ?? {}
        if ('annotations' in meta) {
          const next = {...pod.metadata.annotations}
          for (const [k, v] of Object.entries((meta.annotations as Record<string, string | null>) ?? {})) {
            if (v === null) delete next[k]
            else next[k] = v
          }
          pod.metadata.annotations = next
        }
        if ('finalizers' in meta) pod.metadata.finalizers = (meta.finalizers as string[] | null) ?? []
        this.touch(pod)
        this.reap(pod)
        return this.send(res, 200, pod)
      }
      if (method === 'DELETE') {
        const opts = (body ?? {}) as {gracePeriodSeconds?: number}
        const q = url.searchParams.get('gracePeriodSeconds')
        this.deleteGracefully(pod, opts.gracePeriodSeconds ?? (q === null ? (pod.spec.terminationGracePeriodSeconds ?? 30) : Number(q)))
        return this.send(res, 200, pod)
      }
    }
    return this.send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'))
  }

  private secret(
    res: ServerResponse,
    method: string,
    namespace: string,
    name: string | undefined,
    body: {metadata: {name: string}; data: Record<string, string>},
  ): void {
    const key = (n: string) => `${namespace}/${n}`
    if (name === undefined && method === 'POST') {
      if (this.secrets.has(key(body.metadata.name)))
        return this.send(res, 409, status(409, 'AlreadyExists', `secrets "${body.metadata.name}" already exists`))
      this.secrets.set(key(body.metadata.name), {metadata: {...body.metadata, namespace}, data: body.data})
      return this.send(res, 201, {kind: 'Secret', apiVersion: 'v1', metadata: {...body.metadata, namespace}})
    }
    const found = name === undefined ? undefined : this.secrets.get(key(name))
    if (!found) return this.send(res, 404, status(404, 'NotFound', `secrets "${name ?? ''}" not found`))
    if (method === 'PUT') found.data = body.data
    else if (method === 'PATCH') Object.assign(found.metadata, (body as {metadata: object}).metadata)
    else if (method === 'DELETE') this.secrets.delete(key(name!))
    // A Secret's data is never sent back here: skyhop never reads it.
    return this.send(res, 200, {kind: 'Secret', apiVersion: 'v1', metadata: found.metadata})
  }

  private send(res: ServerResponse, code: number, obj: unknown): void {
    res.writeHead(code, {'content-type': 'application/json'})
    res.end(JSON.stringify(obj))
  }

  private nodeObject(n: FakeNode) {
    return {
      kind: 'Node',
      apiVersion: 'v1',
      metadata: {name: n.name, labels: {'kubernetes.io/hostname': n.name, ...n.labels}},
      spec: {...(n.taints ? {taints: n.taints} : {})},
      status: {
        capacity: n.allocatable,
        allocatable: n.allocatable,
        conditions: [{type: 'Ready', status: n.ready === false ? 'False' : 'True'}],
      },
    }
  }

  private touch(pod: Pod): void {
    pod.metadata.resourceVersion = String(++this.version)
  }

  private create(res: ServerResponse, namespace: string, pod: Pod): void {
    const name = pod?.metadata?.name
    if (!name || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) {
      return this.send(res, 422, status(422, 'Invalid', `Pod "${name ?? ''}" is invalid: metadata.name: Invalid value`))
    }
    for (const [k, v] of Object.entries(pod.metadata.labels ?? {})) {
      if (v.length > 63 || !/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(v)) {
        return this.send(res, 422, status(422, 'Invalid', `Pod "${name}" is invalid: metadata.labels: Invalid value: "${v}" (label ${k})`))
      }
    }
    if (this.pods.has(name)) return this.send(res, 409, status(409, 'AlreadyExists', `pods "${name}" already exists`, {name, kind: 'pods'}))
    const refused = this.quotaRefusal(namespace, pod)
    if (refused) return this.send(res, 403, status(403, 'Forbidden', `pods "${name}" is forbidden: ${refused}`, {name, kind: 'pods'}))
    const made: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {...pod.metadata, namespace, uid: `uid-${name}`, creationTimestamp: now(), resourceVersion: String(++this.version)},
      spec: pod.spec,
      status: {phase: 'Pending'},
    }
    const queue = made.metadata.labels?.[QUEUE_LABEL]
    if (this.options.kueue && queue) {
      // Kueue's pod webhook: gate the pod; its controller makes the Workload.
      made.spec = {...made.spec, schedulingGates: [{name: KUEUE_GATE}]}
      const cq = this.options.kueue.localQueues[queue]
      const message = cq
        ? `couldn't assign flavors to pod set main: insufficient unused quota in cohort for ClusterQueue ${cq}`
        : `LocalQueue ${queue} doesn't exist`
      this.workloads.set(`pod-${name}`, {
        apiVersion: 'kueue.x-k8s.io/v1beta1',
        kind: 'Workload',
        metadata: {
          name: `pod-${name}`,
          namespace,
          creationTimestamp: now(),
          ownerReferences: [{apiVersion: 'v1', kind: 'Pod', name, uid: made.metadata.uid}],
        },
        spec: {queueName: queue},
        status: {conditions: [{type: 'QuotaReserved', status: 'False', reason: 'Pending', message, lastTransitionTime: now()}]},
      })
    }
    this.pods.set(name, made)
    this.schedule()
    this.send(res, 201, made)
  }

  private podRequests(pod: Pod): Record<string, number> {
    const out: Record<string, number> = {}
    for (const c of pod.spec.containers)
      for (const [k, v] of Object.entries(c.resources?.requests ?? {})) out[k] = (out[k] ?? 0) + quantity(v)
    return out
  }

  private active(pod: Pod): boolean {
    return pod.status.phase === 'Pending' || pod.status.phase === 'Running'
  }

  private quotaRefusal(namespace: string, pod: Pod): string | null {
    for (const [quota, hard] of Object.entries(this.options.quotas ?? {})) {
      if (quota.split('/')[0] !== namespace) continue
      const asked = this.podRequests(pod)
      for (const [key, limit] of Object.entries(hard)) {
        const resource = key.replace(/^requests\./, '')
        const used = [...this.pods.values()]
          .filter((p) => p.metadata.namespace === namespace && this.active(p))
          .reduce((n, p) => n + (this.podRequests(p)[resource] ?? 0), 0)
        const want = asked[resource] ?? 0
        if (want > 0 && used + want > quantity(limit)) {
          return `exceeded quota: ${quota.split('/')[1] ?? quota}, requested: ${key}=${want}, used: ${key}=${used}, limited: ${key}=${limit}`
        }
      }
    }
    return null
  }

  /** Binds every pending pod that fits somewhere; marks the rest Unschedulable with the scheduler's words. */
  private schedule(): void {
    for (const pod of this.pods.values()) {
      if (pod.status.phase !== 'Pending' || pod.spec.nodeName || pod.metadata.deletionTimestamp) continue
      if ((pod.spec.schedulingGates ?? []).length > 0) continue
      const asked = this.podRequests(pod)
      const reasons = new Map<string, number>()
      const fit = this.options.nodes.find((node) => {
        const why = this.misfit(node, pod, asked)
        if (why) reasons.set(why, (reasons.get(why) ?? 0) + 1)
        return why === null
      })
      if (!fit) {
        const n = this.options.nodes.length
        const message = `0/${n} nodes are available: ${[...reasons].map(([why, count]) => `${count} ${why}`).join(', ')}. preemption: 0/${n} nodes are available: ${n} No preemption victims found for incoming pod.`
        pod.status.conditions = [{type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: now()}]
        this.touch(pod)
        continue
      }
      pod.spec.nodeName = fit.name
      pod.status.conditions = [{type: 'PodScheduled', status: 'True', lastTransitionTime: now()}]
      this.run(pod)
    }
  }

  private misfit(node: FakeNode, pod: Pod, asked: Record<string, number>): string | null {
    if (node.ready === false) return 'node(s) had untolerated taint {node.kubernetes.io/not-ready: }'
    for (const [k, v] of Object.entries(pod.spec.nodeSelector ?? {})) {
      const labels: Record<string, string> = {'kubernetes.io/hostname': node.name, ...node.labels}
      if (labels[k] !== v) return "node(s) didn't match Pod's node affinity/selector"
    }
    for (const t of node.taints ?? []) {
      if (t.effect !== 'NoSchedule' && t.effect !== 'NoExecute') continue
      const tolerated = (pod.spec.tolerations ?? []).some(
        (tol) =>
          (tol.key === undefined || tol.key === t.key) &&
          (tol.operator === 'Exists' || tol.value === t.value) &&
          (!tol.effect || tol.effect === t.effect),
      )
      if (!tolerated) return `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`
    }
    const used: Record<string, number> = {}
    for (const p of this.pods.values()) {
      if (p.spec.nodeName !== node.name || !this.active(p)) continue
      for (const [k, v] of Object.entries(this.podRequests(p))) used[k] = (used[k] ?? 0) + v
    }
    for (const [k, want] of Object.entries(asked)) {
      const have = quantity(node.allocatable[k]) || 0
      if ((used[k] ?? 0) + want > have) return `Insufficient ${k}`
    }
    return null
  }

  /** kubelet: runs the container's command as a local process in a root directory of its own. */
  private run(pod: Pod): void {
    const container = pod.spec.containers[0]
    const dir = join(this.root, pod.metadata.name)
    const root = join(dir, 'root')
    mkdirSync(join(root, 'dev'), {recursive: true})
    const argv = [...(container.command ?? []), ...(container.args ?? [])]
    const log = openSync(join(dir, 'log'), 'a')
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: root,
      HOSTNAME: pod.metadata.name,
      SKYHOP_BOOT_ROOT: root,
    }
    for (const e of container.env ?? []) {
      const field = (e as {valueFrom?: {fieldRef?: {fieldPath: string}}}).valueFrom?.fieldRef?.fieldPath
      if (field === 'metadata.name') {
        env[e.name] = pod.metadata.name
        continue
      }
      const ref = (e as {valueFrom?: {secretKeyRef?: {name: string; key: string}}}).valueFrom?.secretKeyRef
      const value = ref ? this.secrets.get(`${pod.metadata.namespace}/${ref.name}`)?.data[ref.key] : undefined
      env[e.name] = ref ? Buffer.from(value ?? '', 'base64').toString('utf8') : (e.value ?? '')
    }
    const child = spawn(argv[0], argv.slice(1), {cwd: root, detached: true, stdio: ['ignore', log, log], env})
    closeSync(log)
    const started = now()
    pod.status = {
      ...pod.status,
      phase: 'Running',
      startTime: started,
      // Every pod runs on this machine: its loopback is every pod's address.
      podIP: '127.0.0.1',
      containerStatuses: [
        {name: container.name, image: container.image, ready: true, restartCount: 0, state: {running: {startedAt: started}}},
      ],
    }
    this.touch(pod)
    this.running.set(pod.metadata.name, {child, dir})
    child.on('exit', (code, signal) => {
      const r = this.running.get(pod.metadata.name)
      if (r?.killTimer) clearTimeout(r.killTimer)
      killGroup(child)
      this.running.delete(pod.metadata.name)
      const exitCode = code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 1)
      const msgFile = join(root, (container.terminationMessagePath ?? '/dev/termination-log').replace(/^\//, ''))
      const message = existsSync(msgFile) ? readFileSync(msgFile, 'utf8').slice(0, 4096) : undefined
      pod.status = {
        ...pod.status,
        phase: exitCode === 0 ? 'Succeeded' : 'Failed',
        containerStatuses: [
          {
            name: container.name,
            image: container.image,
            ready: false,
            restartCount: 0,
            state: {
              terminated: {
                exitCode,
                reason: exitCode === 0 ? 'Completed' : 'Error',
                startedAt: started,
                finishedAt: now(),
                ...(message ? {message} : {}),
              },
            },
          },
        ],
      }
      this.touch(pod)
      this.reap(pod)
      this.schedule()
    })
  }

  /** A graceful deletion: deletionTimestamp set, SIGTERM to the first process, SIGKILL after the grace. */
  private deleteGracefully(pod: Pod, graceSeconds: number): void {
    const grace = Math.max(0, graceSeconds)
    if (!pod.metadata.deletionTimestamp) {
      pod.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString()
      pod.metadata.deletionGracePeriodSeconds = grace
    }
    this.touch(pod)
    const r = this.running.get(pod.metadata.name)
    if (r) {
      if (grace === 0) killGroup(r.child)
      else {
        r.child.kill('SIGTERM')
        r.killTimer ??= setTimeout(() => killGroup(r.child), grace * 1000)
      }
      return
    }
    if (pod.status.phase === 'Pending') {
      pod.status = {...pod.status, phase: 'Failed', reason: 'Terminated'}
    }
    this.reap(pod)
    this.schedule()
  }

  /** A deleted pod whose containers have stopped goes once no finalizer holds it. */
  private reap(pod: Pod): void {
    if (pod.metadata.deletionTimestamp && !this.running.has(pod.metadata.name) && (pod.metadata.finalizers ?? []).length === 0) {
      this.pods.delete(pod.metadata.name)
      // Garbage collection of what the pod owns.
      this.workloads.delete(`pod-${pod.metadata.name}`)
      for (const [k, sec] of this.secrets)
        if (sec.metadata.ownerReferences?.some((o) => o.kind === 'Pod' && o.name === pod.metadata.name)) this.secrets.delete(k)
    }
  }
}

/** Equality-based label selectors: `a=b,c=d`. */
function matches(labels: Record<string, string>, selector: string | null): boolean {
  if (!selector) return true
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=')
    return labels[k] === v
  })
}
