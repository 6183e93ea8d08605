// A thin client of the Kubernetes REST API for one context, over skyhop's one HTTP stack
// (http/client.ts on undici): the handful of calls the provider makes (nodes, pods, their
// logs, evictions, Kueue workloads), JSON in and out. Not @kubernetes/client-node: that
// package brings its own HTTP stack (node-fetch-style, a global agent), ~40 dependencies and
// a generated model of every API group, for six endpoints; here TLS, the deadline and the
// retry policy are the project's own, and errors are classified once, below.
//
// Errors: the API server answers a failure with a `Status` object ({kind: Status, reason,
// message, code}); each is mapped onto the taxonomy here. 401 → auth; 403 "exceeded quota"
// (a ResourceQuota) → quota; other 403 (RBAC) → auth; 404 → unavailable; 409 AlreadyExists is
// returned to the caller (a retried create); 422 Invalid → user; 429 and 5xx are retried,
// then transient; a server that does not answer → unavailable, scope region (the context),
// so the controller moves on to another context. Nothing of a request's headers (the token)
// reaches a message.
import type {Agent, Dispatcher} from 'undici'

import {ProviderError} from '../../errors.js'
import {HttpClient, type HttpRequest} from '../../http/client.js'
import type {RetryPolicy} from '../../http/retry.js'
import {redact} from '../../util/redact.js'
import {ExecPluginError, type ExecToken, runExecPlugin} from './exec-credential.js'
import type {KubeContext} from './kubeconfig.js'

export const PROVIDER = 'kubernetes'

/** The parts of the API's objects skyhop reads. */
export interface KubeObjectMeta {
  name: string
  namespace?: string
  uid?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  finalizers?: string[]
  creationTimestamp?: string
  deletionTimestamp?: string
  deletionGracePeriodSeconds?: number
}

export interface KubeNode {
  metadata: KubeObjectMeta
  spec?: {unschedulable?: boolean; taints?: Array<{key: string; value?: string; effect: string}>}
  status?: {
    allocatable?: Record<string, string>
    capacity?: Record<string, string>
    conditions?: Array<{type: string; status: string}>
  }
}

export interface KubeContainerState {
  waiting?: {reason?: string; message?: string}
  running?: {startedAt?: string}
  terminated?: {exitCode: number; reason?: string; message?: string; startedAt?: string; finishedAt?: string}
}

export interface KubePod {
  metadata: KubeObjectMeta
  spec?: Record<string, unknown> & {nodeName?: string}
  status?: {
    phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown'
    reason?: string
    message?: string
    startTime?: string
    /** The pod's IP in the cluster, set once it runs. */
    podIP?: string
    conditions?: Array<{type: string; status: string; reason?: string; message?: string}>
    containerStatuses?: Array<{name: string; state?: KubeContainerState}>
  }
}

/** The parts of a Kueue Workload skyhop reads. */
export interface KueueWorkload {
  metadata: KubeObjectMeta & {ownerReferences?: Array<{kind: string; name: string}>}
  spec?: {queueName?: string}
  status?: {conditions?: Array<{type: string; status: string; reason?: string; message?: string}>}
}

interface KubeList<T> {
  items: T[]
}

/** A `Status` answer. */
interface KubeStatus {
  kind?: string
  reason?: string
  message?: string
  code?: number
}

export interface KubeApiOptions {
  context: KubeContext
  /** Injected in tests; otherwise an Agent with the context's TLS settings, made on first use. */
  dispatcher?: Dispatcher
  /** Deadline of one call. Default 15 s. */
  timeoutMs?: number
  retry?: Partial<RetryPolicy>
}

/** Label keys skyhop puts on what it creates; `down` and `listOwned` find pods by them. */
export const LABELS = {
  managed: 'app.kubernetes.io/managed-by',
  job: 'skyhop.dev/job-id',
  attempt: 'skyhop.dev/attempt-id',
} as const

export class KubeApi {
  private agent: Agent | null = null
  private client: HttpClient | null = null

  constructor(private readonly options: KubeApiOptions) {}

  get context(): KubeContext {
    return this.options.context
  }

  async close(): Promise<void> {
    await this.agent?.close()
    this.agent = null
    this.client = null
  }

  async listNodes(): Promise<KubeNode[]> {
    return (await this.call<KubeList<KubeNode>>('GET', '/api/v1/nodes'))!.items
  }

  /** Pods of the context's namespace with skyhop's label, or a narrower selector. */
  async listPods(selector: string): Promise<KubePod[]> {
    const path = `${this.ns()}/pods?labelSelector=${encodeURIComponent(selector)}`
    return (await this.call<KubeList<KubePod>>('GET', path))!.items
  }

  /** The pod, or null when it does not exist (any more). */
  async getPod(name: string): Promise<KubePod | null> {
    return this.call<KubePod>('GET', `${this.ns()}/pods/${encodeURIComponent(name)}`, undefined, {missingOk: true})
  }

  /** Creates the pod; an existing one of the same name (a retried launch) is returned instead. */
  async createPod(pod: KubePod): Promise<{pod: KubePod; created: boolean}> {
    const made = await this.call<KubePod>('POST', `${this.ns()}/pods`, pod, {existsOk: true})
    if (made !== null) return {pod: made, created: true}
    const existing = await this.getPod(pod.metadata.name)
    if (existing === null)
      throw this.error('unavailable', `pod ${pod.metadata.name} exists and vanished before it could be read`, 'AlreadyExists')
    return {pod: existing, created: false}
  }

  /** Creates a Secret of string values (409: one of the same name exists, from a retried launch: replaced). */
  async putSecret(name: string, labels: Record<string, string>, values: Record<string, string>): Promise<void> {
    const data = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]))
    const secret = {apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: {name, labels}, data}
    const made = await this.call<unknown>('POST', `${this.ns()}/secrets`, secret, {existsOk: true})
    if (made === null) await this.call<unknown>('PUT', `${this.ns()}/secrets/${encodeURIComponent(name)}`, secret)
  }

  /** Makes the pod own the Secret, so the cluster deletes it with the pod. Missing secret: false. */
  async adoptSecret(name: string, pod: {name: string; uid: string}): Promise<boolean> {
    const ownerReferences = [{apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid}]
    const done = await this.call<unknown>(
      'PATCH',
      `${this.ns()}/secrets/${encodeURIComponent(name)}`,
      {metadata: {ownerReferences}},
      {missingOk: true, contentType: 'application/merge-patch+json'},
    )
    return done !== null
  }

  async deleteSecret(name: string): Promise<void> {
    await this.call<unknown>('DELETE', `${this.ns()}/secrets/${encodeURIComponent(name)}`, undefined, {missingOk: true})
  }

  /** JSON merge patch of the pod's metadata (annotations, finalizers). Missing pod: false. */
  async patchPodMetadata(name: string, metadata: Partial<Record<keyof KubeObjectMeta, unknown>>): Promise<boolean> {
    const done = await this.call<KubePod>(
      'PATCH',
      `${this.ns()}/pods/${encodeURIComponent(name)}`,
      {metadata},
      {missingOk: true, contentType: 'application/merge-patch+json'},
    )
    return done !== null
  }

  /** Graceful deletion: kubelet sends the container SIGTERM, then SIGKILL after the grace. Missing pod: false. */
  async deletePod(name: string, graceSeconds: number): Promise<boolean> {
    const body = {kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: Math.max(0, Math.round(graceSeconds))}
    const done = await this.call<unknown>('DELETE', `${this.ns()}/pods/${encodeURIComponent(name)}`, body, {missingOk: true})
    return done !== null
  }

  /**
   * The policy/v1 Eviction API, what `kubectl drain` uses: it honours PodDisruptionBudgets (429
   * while one forbids it, retried). Missing pod: false.
   */
  async evictPod(name: string, graceSeconds: number): Promise<boolean> {
    const body = {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: {name, namespace: this.context.namespace},
      deleteOptions: {gracePeriodSeconds: Math.max(0, Math.round(graceSeconds))},
    }
    const done = await this.call<unknown>('POST', `${this.ns()}/pods/${encodeURIComponent(name)}/eviction`, body, {missingOk: true})
    return done !== null
  }

  /** The container's log (stdout and stderr), or its last `tailLines` lines; null when the pod is gone. */
  async podLog(name: string, options: {tailLines?: number} = {}): Promise<string | null> {
    const tail = options.tailLines === undefined ? '' : `?tailLines=${options.tailLines}`
    return this.call<string>('GET', `${this.ns()}/pods/${encodeURIComponent(name)}/log${tail}`, undefined, {missingOk: true, text: true})
  }

  /** Kueue's Workloads in the namespace (null when Kueue is not installed: its API group is unknown). */
  async listWorkloads(): Promise<KueueWorkload[] | null> {
    const path = `/apis/kueue.x-k8s.io/v1beta1/namespaces/${encodeURIComponent(this.context.namespace)}/workloads`
    const list = await this.call<KubeList<KueueWorkload>>('GET', path, undefined, {
      missingOk: true,
    })
    return list === null ? null : list.items
  }

  /**
   * Kueue's visibility API: a LocalQueue's pending workloads with their positions (null when
   * the API is not served: an older Kueue, or none).
   */
  async pendingWorkloads(queue: string): Promise<Array<{
    metadata: KubeObjectMeta & {ownerReferences?: Array<{kind: string; name: string}>}
    positionInClusterQueue?: number
    positionInLocalQueue?: number
  }> | null> {
    const path = `/apis/visibility.kueue.x-k8s.io/v1beta1/namespaces/${encodeURIComponent(this.context.namespace)}/localqueues/${encodeURIComponent(queue)}/pendingworkloads`
    const list = await this.call<KubeList<never>>('GET', path, undefined, {missingOk: true})
    return list === null ? null : list.items
  }

  /** `GET /version`: the cheapest authenticated call (check). */
  async version(): Promise<{gitVersion?: string}> {
    return (await this.call<{gitVersion?: string}>('GET', '/version'))!
  }

  private ns(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.context.namespace)}`
  }

  private async http(): Promise<HttpClient> {
    if (this.client) return this.client
    const ctx = this.context
    let dispatcher = this.options.dispatcher
    if (!dispatcher) {
      const {Agent} = await import('undici')
      const tls = ctx.auth.kind === 'client-cert' ? {cert: ctx.auth.cert, key: ctx.auth.key} : {}
      this.agent = new Agent({
        connect: {timeout: 5_000, ...(ctx.ca ? {ca: ctx.ca} : {}), rejectUnauthorized: !ctx.insecure, ...tls},
        keepAliveTimeout: 4_000,
      })
      dispatcher = this.agent
    }
    this.client = new HttpClient({
      provider: PROVIDER,
      dispatcher,
      timeoutMs: this.options.timeoutMs ?? 15_000,
      retry: {retries: 2, baseDelayMs: 200, ...this.options.retry},
      userAgent: 'skyhop',
    })
    return this.client
  }

  private execToken: ExecToken | null = null

  private async headers(): Promise<Record<string, string>> {
    const auth = this.context.auth
    if (auth.kind === 'token') return {authorization: `Bearer ${auth.token}`}
    if (auth.kind === 'exec') {
      // Run again a minute before the token expires, as client-go does with its own margin.
      if (this.execToken === null || (this.execToken.expiresAt !== null && this.execToken.expiresAt - Date.now() < 60_000)) {
        try {
          this.execToken = await runExecPlugin(auth.plugin, process.env)
        } catch (error) {
          if (!(error instanceof ExecPluginError)) throw error
          throw this.error(
            'auth',
            error.message,
            'ExecPlugin',
            'Run the plugin by hand (kubectl get nodes) to see what it needs, or use a context with a token.',
          )
        }
      }
      return {authorization: `Bearer ${this.execToken.token}`}
    }
    if (auth.kind === 'basic') return {authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`}
    return {}
  }

  private error(category: ProviderError['category'], message: string, backendCode?: string, hint?: string): ProviderError {
    return new ProviderError(PROVIDER, category, `context ${this.context.name}: ${message}`, {
      code: `KUBERNETES_${category.toUpperCase()}`,
      // A context is a region: what fails in one says nothing of the others.
      scope: category === 'user' || category === 'transient' ? 'none' : 'region',
      ...(backendCode ? {backendCode} : {}),
      ...(hint ? {hint} : {}),
    })
  }

  private async call<T>(
    method: NonNullable<HttpRequest['method']>,
    path: string,
    body?: unknown,
    options: {missingOk?: boolean; existsOk?: boolean; text?: boolean; contentType?: string} = {},
  ): Promise<T | null> {
    const auth = this.context.auth
    if (auth.kind === 'unsupported') {
      throw this.error(
        'auth',
        auth.why,
        'Unsupported',
        'Use a context with a token (e.g. a service account token) or a client certificate.',
      )
    }
    const http = await this.http()
    const where = `${method} ${path.split('?')[0]}`
    let res
    try {
      res = await http.request({
        method,
        url: `${this.context.server}${path}`,
        headers: {
          accept: options.text ? 'text/plain' : 'application/json',
          ...(body === undefined ? {} : {'content-type': options.contentType ?? 'application/json'}),
          ...(await this.headers()),
        },
        ...(body === undefined ? {} : {body: JSON.stringify(body)}),
        // 429 and 5xx are retried by the client; every other answer is judged below.
        accept: (s) => s < 500 && s !== 429,
        // Creating a pod under a fixed name is idempotent: a repeat answers 409, read as "already there".
        idempotent: true,
      })
    } catch (error) {
      if (error instanceof ProviderError && error.backendCode === undefined) {
        const said = error.message.replace(/^kubernetes: /, '')
        const host = new URL(this.context.server).host
        // A certificate the context's CA did not sign is not "down": say what to check.
        const tls = /\b(?:[A-Z_]*CERT[A-Z_]*|ERR_TLS[A-Z_]*|UNABLE_TO_VERIFY[A-Z_]*)\b/.exec(said)?.[0]
        if (tls) {
          throw this.error(
            'unavailable',
            `${where}: the API server at ${host} presented a certificate that was refused (${tls})`,
            tls,
            `Check the certificate-authority of context ${this.context.name}'s cluster in the kubeconfig.`,
          )
        }
        // No answer at all: the context is down or unreachable; other contexts may do.
        throw this.error('unavailable', `${where}: the API server at ${host} did not answer (${said})`)
      }
      if (error instanceof ProviderError)
        throw this.error(error.category, `${where}: ${error.message.replace(/^kubernetes: /, '')}`, error.backendCode)
      throw error
    }
    if (res.status >= 200 && res.status < 300) {
      if (options.text) return res.body as T
      try {
        return (res.body === '' ? {} : JSON.parse(res.body)) as T
      } catch {
        throw this.error('unavailable', `${where}: the answer is not JSON`)
      }
    }
    if (res.status === 404 && options.missingOk) return null
    if (res.status === 409 && options.existsOk) return null
    let status: KubeStatus = {}
    try {
      status = JSON.parse(res.body) as KubeStatus
    } catch {
      // Not a Status object (a proxy's page): the HTTP status alone decides.
    }
    const said = redact((status.message ?? res.body).slice(0, 400))
    const reason = status.reason ?? String(res.status)
    const text = `${where}: HTTP ${res.status} ${reason}: ${said}`
    if (res.status === 401) {
      // A plugin's token may have been revoked early: the next call runs the plugin again.
      this.execToken = null
      throw this.error(
        'auth',
        text,
        reason,
        `The credentials of context ${this.context.name} were refused; refresh them (kubectl config view).`,
      )
    }
    if (res.status === 403) {
      if (/exceeded quota/i.test(said)) throw this.error('quota', text, 'ExceededQuota', 'A ResourceQuota of the namespace is used up.')
      throw this.error('auth', text, reason, `The user of context ${this.context.name} may not do this (RBAC).`)
    }
    if (res.status === 404) throw this.error('unavailable', text, reason)
    if (res.status === 422 || res.status === 400) throw this.error('user', text, reason)
    throw this.error('unavailable', text, reason)
  }
}
