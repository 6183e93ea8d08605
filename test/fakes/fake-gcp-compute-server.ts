// A FAKE of Google Cloud for tests: a local HTTP server speaking the OAuth 2.0 token
// endpoint (RFC 7523 jwt-bearer grant, refresh_token grant) and the Compute Engine REST
// API v1 as Google documents them (instances insert/get/delete/aggregatedList/setMetadata/
// getSerialPortOutput, zoneOperations get/list, zones list; `{"error": {"code", "message",
// "errors": [{"reason", "domain", "message"}], "status"}}` error documents; operations
// that end DONE with `error.errors[].code`), and each instance's metadata server
// (computeMetadata/v1: instance/preempted with wait_for_change hanging GETs and ETags,
// instance/attributes/KEY). Not Google Cloud; tests reach it through the key file's
// token_uri, SKYHOP_GCP_ENDPOINT and the provider's metadata URL.
//
// Real behaviour: verifies every JWT's RS256 signature with the service account's public
// key, its audience and its expiry (`invalid_grant` otherwise); tokens carry the scopes
// asked for and the API refuses a token without the compute or cloud-platform scope (403
// ACCESS_TOKEN_SCOPE_INSUFFICIENT) and unknown tokens (401 UNAUTHENTICATED); per-zone stock
// per machine type (ZONE_RESOURCE_POOL_EXHAUSTED in the insert's operation), per-region
// CPU and GPU quotas (QUOTA_EXCEEDED), requestId idempotency (the same operation again),
// names unique per zone (409 alreadyExists), IAM permissions denied on demand (403
// forbidden), rate limits (403 rateLimitExceeded) and any error injected on demand; spot
// preemptions (instance/preempted TRUE, then the VM deleted after the notice with a
// `compute.instances.preempted` operation); and, given a boot directory, the
// `startup-script` run locally as the guest agent would, its power-off leaving the VM
// TERMINATED with its serial output kept.
import {createVerify, randomBytes} from 'node:crypto'
import type {ChildProcess} from 'node:child_process'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {join} from 'node:path'

import {askingInstance, FakeCloudServer, Injections, killGroup, readBody, restock, runUserData} from './fake-cloud-server.js'

export interface FakeServiceAccount {
  clientEmail: string
  /** PEM (SPKI) of the key pair whose private half the key file holds. */
  publicKeyPem: string
}

export interface FakeGcpOptions {
  project: string
  serviceAccounts: FakeServiceAccount[]
  /** region → zone → machine type → free VMs. A type missing from a zone is not offered there (ZONE_RESOURCE_POOL_EXHAUSTED too). */
  stock: Record<string, Record<string, Record<string, number>>>
  /** machine type → vCPUs and built-in GPUs, for the quotas. */
  machineTypes?: Record<string, {vcpus: number; gpus?: {metric: string; count: number}}>
  /** region → metric (CPUS, NVIDIA_T4_GPUS, …) → limit. */
  quotas?: Record<string, Record<string, number>>
  /** IAM permissions the service accounts lack, e.g. `compute.instances.create`. */
  deniedPermissions?: string[]
  /** Refresh tokens of authorized users. */
  refreshTokens?: string[]
  bootDir?: string
  /** ms from insert to RUNNING. */
  provisioningMs?: number
  now?: () => number
}

export type FakeGcpStatus = 'PROVISIONING' | 'STAGING' | 'RUNNING' | 'STOPPING' | 'TERMINATED'

export interface FakeGcpInstance {
  id: string
  name: string
  zone: string
  region: string
  machineType: string
  status: FakeGcpStatus
  labels: Record<string, string>
  metadata: Array<{key: string; value: string}>
  fingerprint: string
  scheduling: Record<string, unknown>
  guestAccelerators: Array<{acceleratorType: string; acceleratorCount: number}>
  body: Record<string, unknown>
  creationTimestamp: string
  lastStartTimestamp: string | null
  process: ChildProcess | null
  preempted: boolean
  deleted: boolean
  privateIp: string
}

interface FakeOperation {
  id: string
  name: string
  zone: string
  operationType: string
  targetId: string
  targetLink: string
  status: 'PENDING' | 'RUNNING' | 'DONE'
  insertTime: string
  error?: {errors: Array<{code: string; message: string}>}
}

export interface GcpCall {
  action: string
  method: string
  path: string
  query: Record<string, string>
  body: unknown
  /** The reason or operation error code answered, or null. */
  code: string | null
}

interface Injection {
  action?: string
  status: number
  reason: string
  message: string
  /** Put it in the insert's operation instead of the HTTP answer. */
  inOperation?: boolean
  times?: number
}

const COMPUTE = 'https://www.googleapis.com/compute/v1'

export class FakeGcpComputeServer extends FakeCloudServer {
  readonly instances = new Map<string, FakeGcpInstance>()
  readonly operations = new Map<string, FakeOperation>()
  readonly calls: GcpCall[] = []
  readonly tokenRequests: Array<{grantType: string; scope: string | null; ok: boolean}> = []
  private readonly tokens = new Map<string, {scopes: string[]; expires: number}>()
  private readonly requestIds = new Map<string, string>()
  private readonly injections = new Injections<Injection>()
  private readonly waiters = new Set<{instance: FakeGcpInstance; res: ServerResponse; timer: NodeJS.Timeout}>()
  private nextId = 1_000_000_000_000_000n
  private nextIp = 2
  protected override readonly trailingSlash = false

  constructor(readonly options: FakeGcpOptions) {
    super()
  }

  get tokenUri(): string {
    return `${this.url}/token`
  }

  /** Base URL of an instance's metadata server, with `{attemptId}` for the provider to fill. */
  get metadataBaseTemplate(): string {
    return `${this.url}/_md/{attemptId}`
  }

  // ------------------------------------------------------------------ test controls

  inject(injection: Injection): void {
    this.injections.add(injection)
  }

  /** The next `times` calls (of `action`) answer 403 rateLimitExceeded, as Compute Engine's per-minute limits do. */
  throttle(times: number, action?: string): void {
    this.inject({
      action,
      status: 403,
      reason: 'rateLimitExceeded',
      message: "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'compute.googleapis.com'",
      times,
    })
  }

  setStock(region: string, zone: string, machineType: string, free: number): void {
    ;((this.options.stock[region] ??= {})[zone] ??= {})[machineType] = free
  }

  /** Preempts a spot VM: instance/preempted turns TRUE now, and the VM is deleted after `noticeMs` (30 s on Compute Engine). */
  preempt(name: string, noticeMs: number): void {
    const i = [...this.instances.values()].find((x) => x.name === name && !x.deleted)
    if (!i) throw new Error(`fake-gcp: no instance ${name}`)
    i.preempted = true
    this.answerWaiters(i)
    this.later(noticeMs, () => {
      if (i.deleted) return
      this.operation(i, 'compute.instances.preempted', 'DONE')
      this.remove(i)
    })
  }

  live(): FakeGcpInstance[] {
    return [...this.instances.values()].filter((i) => !i.deleted)
  }

  byName(name: string): FakeGcpInstance | undefined {
    return [...this.instances.values()].find((i) => i.name === name && !i.deleted)
  }

  override consoleOf(name: string): string {
    const i = [...this.instances.values()].find((x) => x.name === name)
    return i ? super.consoleOf(i.id) : ''
  }

  protected override killInstances(): void {
    for (const w of this.waiters) clearTimeout(w.timer)
    this.waiters.clear()
    for (const i of this.instances.values()) this.kill(i)
  }

  protected override crashed(res: ServerResponse, error: Error): void {
    this.error(res, 500, 'backendError', `Internal error. ${error.message}`)
  }

  // ------------------------------------------------------------------ HTTP

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body, null, 1)
    res.writeHead(status, {'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers})
    res.end(text)
  }

  private error(res: ServerResponse, status: number, reason: string, message: string): void {
    const statusName: Record<number, string> = {
      400: 'INVALID_ARGUMENT',
      401: 'UNAUTHENTICATED',
      403: 'PERMISSION_DENIED',
      404: 'NOT_FOUND',
      409: 'ALREADY_EXISTS',
      412: 'FAILED_PRECONDITION',
      429: 'RESOURCE_EXHAUSTED',
      500: 'INTERNAL',
      503: 'UNAVAILABLE',
    }
    this.json(res, status, {
      error: {
        code: status,
        message,
        errors: [{message, domain: status === 403 && reason.endsWith('Exceeded') ? 'usageLimits' : 'global', reason}],
        status: statusName[status] ?? 'UNKNOWN',
      },
    })
  }

  protected override async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake')
    const body = await readBody(req)
    if (url.pathname === '/token' && req.method === 'POST') return this.token(res, body)
    if (url.pathname.startsWith('/_md/')) return this.metadata(req, res, url)
    if (url.pathname.startsWith('/computeMetadata/v1/')) return this.hostMetadata(req, res, url)
    const m = /^\/compute\/v1\/projects\/([^/]+)\/(.+)$/.exec(url.pathname)
    if (!m) return this.error(res, 404, 'notFound', `The requested URL ${url.pathname} was not found on this server.`)
    const query = Object.fromEntries(url.searchParams)
    const parsed = body ? (JSON.parse(body) as unknown) : undefined
    const action = this.actionOf(req.method ?? 'GET', m[2])
    const record = (code: string | null) => this.calls.push({action, method: req.method ?? 'GET', path: m[2], query, body: parsed, code})
    // Authentication first, as Google's front end does.
    const auth = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))
    const token = auth ? this.tokens.get(auth[1]) : undefined
    if (!token || token.expires < this.now()) {
      record('UNAUTHENTICATED')
      return this.json(res, 401, {
        error: {
          code: 401,
          message:
            'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
          errors: [
            {message: 'Invalid Credentials', domain: 'global', reason: 'authError', location: 'Authorization', locationType: 'header'},
          ],
          status: 'UNAUTHENTICATED',
        },
      })
    }
    if (
      !token.scopes.some((s) => s === 'https://www.googleapis.com/auth/compute' || s === 'https://www.googleapis.com/auth/cloud-platform')
    ) {
      record('ACCESS_TOKEN_SCOPE_INSUFFICIENT')
      return this.json(res, 403, {
        error: {
          code: 403,
          message: 'Request had insufficient authentication scopes.',
          errors: [{message: 'Insufficient Permission', domain: 'global', reason: 'insufficientPermissions'}],
          status: 'PERMISSION_DENIED',
          details: [
            {'@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT', domain: 'googleapis.com'},
          ],
        },
      })
    }
    if (m[1] !== this.options.project) {
      record('notFound')
      return this.error(res, 404, 'notFound', `The resource 'projects/${m[1]}' was not found`)
    }
    const injected = this.injections.take((i) => (!i.action || i.action === action) && !i.inOperation)
    if (injected) {
      record(injected.reason)
      return this.error(res, injected.status, injected.reason, injected.message)
    }
    const permission = PERMISSIONS[action]
    if (permission && this.options.deniedPermissions?.includes(permission)) {
      record('forbidden')
      return this.error(res, 403, 'forbidden', `Required '${permission}' permission for 'projects/${m[1]}/${m[2]}'`)
    }
    const answer = this.compute(action, m[2], query, parsed as Record<string, unknown> | undefined)
    record(answer.status >= 300 ? answer.reason! : (answer.code ?? null))
    if (answer.status >= 300) return this.error(res, answer.status, answer.reason!, answer.message!)
    return this.json(res, answer.status, answer.body)
  }

  private actionOf(method: string, path: string): string {
    if (/^zones$/.test(path)) return 'zones.list'
    if (/^aggregated\/instances$/.test(path)) return 'instances.aggregatedList'
    if (/^zones\/[^/]+\/operations$/.test(path)) return 'zoneOperations.list'
    if (/^zones\/[^/]+\/operations\/[^/]+$/.test(path)) return 'zoneOperations.get'
    if (/^zones\/[^/]+\/instances$/.test(path)) return method === 'POST' ? 'instances.insert' : 'instances.list'
    if (/^zones\/[^/]+\/instances\/bulkInsert$/.test(path)) return 'instances.bulkInsert'
    if (/^zones\/[^/]+\/instances\/[^/]+\/setMetadata$/.test(path)) return 'instances.setMetadata'
    if (/^zones\/[^/]+\/instances\/[^/]+\/serialPort$/.test(path)) return 'instances.getSerialPortOutput'
    if (/^zones\/[^/]+\/instances\/[^/]+$/.test(path)) return method === 'DELETE' ? 'instances.delete' : 'instances.get'
    return `${method} ${path}`
  }

  // ------------------------------------------------------------------ OAuth

  private token(res: ServerResponse, text: string): void {
    const form = new URLSearchParams(text)
    const grant = form.get('grant_type') ?? ''
    const fail = (error: string, description: string) => {
      this.tokenRequests.push({grantType: grant, scope: null, ok: false})
      this.json(res, 400, {error, error_description: description})
    }
    let scopes: string[]
    if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      const parts = (form.get('assertion') ?? '').split('.')
      if (parts.length !== 3) return fail('invalid_grant', 'Invalid JWT: Token must be a short-lived token and in a reasonable timeframe')
      let header: {alg?: string}
      let claims: {iss?: string; scope?: string; aud?: string; iat?: number; exp?: number}
      try {
        header = JSON.parse(Buffer.from(parts[0], 'base64url').toString()) as typeof header
        claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString()) as typeof claims
      } catch {
        return fail('invalid_grant', 'Invalid JWT Signature.')
      }
      const account = this.options.serviceAccounts.find((a) => a.clientEmail === claims.iss)
      if (!account || header.alg !== 'RS256') return fail('invalid_grant', 'Invalid grant: account not found')
      const ok = createVerify('RSA-SHA256')
        .update(`${parts[0]}.${parts[1]}`)
        .verify(account.publicKeyPem, Buffer.from(parts[2], 'base64url'))
      if (!ok) return fail('invalid_grant', 'Invalid JWT Signature.')
      if (claims.aud !== this.tokenUri) return fail('invalid_grant', 'Invalid JWT: Failed audience check.')
      const now = Math.floor(this.now() / 1000)
      if (!claims.exp || !claims.iat || claims.exp < now || claims.iat > now + 300 || claims.exp - claims.iat > 3600)
        return fail(
          'invalid_grant',
          'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
        )
      if (!claims.scope) return fail('invalid_scope', 'Invalid OAuth scope or ID token audience provided.')
      scopes = claims.scope.split(' ')
    } else if (grant === 'refresh_token') {
      if (!this.options.refreshTokens?.includes(form.get('refresh_token') ?? '')) return fail('invalid_grant', 'Bad Request')
      scopes = ['https://www.googleapis.com/auth/cloud-platform']
    } else {
      return fail('unsupported_grant_type', `Invalid grant_type: ${grant}`)
    }
    const token = `ya29.fake-${randomBytes(24).toString('base64url')}`
    this.tokens.set(token, {scopes, expires: this.now() + 3600_000})
    this.tokenRequests.push({grantType: grant, scope: scopes.join(' '), ok: true})
    this.json(res, 200, {access_token: token, expires_in: 3599, token_type: 'Bearer'})
  }

  // ------------------------------------------------------------------ Compute Engine

  private compute(
    action: string,
    path: string,
    query: Record<string, string>,
    body: Record<string, unknown> | undefined,
  ): {status: number; body?: unknown; reason?: string; message?: string; code?: string | null} {
    const seg = path.split('/')
    const zone = seg[1]
    const project = this.options.project
    const notFound = (what: string) => ({status: 404, reason: 'notFound', message: `The resource '${what}' was not found`})
    switch (action) {
      case 'zones.list': {
        const items = Object.entries(this.options.stock).flatMap(([region, zones]) =>
          Object.keys(zones).map((z) => ({
            kind: 'compute#zone',
            name: z,
            status: 'UP',
            region: `${COMPUTE}/projects/${project}/regions/${region}`,
            selfLink: `${COMPUTE}/projects/${project}/zones/${z}`,
          })),
        )
        return {
          status: 200,
          body: {kind: 'compute#zoneList', id: `projects/${project}/zones`, items, selfLink: `${COMPUTE}/projects/${project}/zones`},
        }
      }
      case 'instances.insert':
        return this.insert(zone, query.requestId, body ?? {})
      case 'instances.bulkInsert':
        return this.bulkInsert(zone, query.requestId, body ?? {})
      case 'instances.get': {
        const i = this.find(zone, seg[3])
        return i ? {status: 200, body: this.render(i)} : notFound(`projects/${project}/zones/${zone}/instances/${seg[3]}`)
      }
      case 'instances.delete': {
        const i = this.find(zone, seg[3])
        if (!i) return notFound(`projects/${project}/zones/${zone}/instances/${seg[3]}`)
        const op = this.operation(i, 'delete', 'RUNNING')
        this.kill(i)
        i.status = 'STOPPING'
        this.later(30, () => {
          op.status = 'DONE'
          this.remove(i)
        })
        return {status: 200, body: this.renderOp(op)}
      }
      case 'instances.setMetadata': {
        const i = this.find(zone, seg[3])
        if (!i) return notFound(`projects/${project}/zones/${zone}/instances/${seg[3]}`)
        if (body?.fingerprint !== i.fingerprint)
          return {
            status: 412,
            reason: 'conditionNotMet',
            message: 'Supplied fingerprint does not match current metadata fingerprint.',
          }
        i.metadata = ((body.items as Array<{key: string; value: string}>) ?? []).map((x) => ({key: x.key, value: x.value}))
        i.fingerprint = randomBytes(8).toString('base64')
        return {status: 200, body: this.renderOp(this.operation(i, 'setMetadata', 'DONE'))}
      }
      case 'instances.getSerialPortOutput': {
        const i = this.find(zone, seg[3])
        if (!i) return notFound(`projects/${project}/zones/${zone}/instances/${seg[3]}`)
        const contents = super.consoleOf(i.id)
        const start = Math.min(Number(query.start ?? 0), contents.length)
        return {
          status: 200,
          body: {
            kind: 'compute#serialPortOutput',
            contents: contents.slice(start),
            start: String(start),
            next: String(contents.length),
            selfLink: `${this.selfLink(i)}/serialPort`,
          },
        }
      }
      case 'instances.aggregatedList': {
        const items: Record<string, unknown> = {}
        const matches = labelFilter(query.filter ?? '')
        for (const [region, zones] of Object.entries(this.options.stock))
          for (const z of Object.keys(zones)) {
            const found = this.live().filter((i) => i.zone === z && matches(i.labels))
            items[`zones/${z}`] = found.length
              ? {instances: found.map((i) => this.render(i))}
              : {
                  warning: {
                    code: 'NO_RESULTS_ON_PAGE',
                    message: `There are no results for scope 'zones/${z}' on this page.`,
                    data: [{key: 'scope', value: `zones/${z}`}],
                  },
                }
            void region
          }
        return {status: 200, body: {kind: 'compute#instanceAggregatedList', id: `projects/${project}/aggregated/instances`, items}}
      }
      case 'zoneOperations.get': {
        const op = this.operations.get(seg[3])
        return op && op.zone === zone
          ? {status: 200, body: this.renderOp(op)}
          : notFound(`projects/${project}/zones/${zone}/operations/${seg[3]}`)
      }
      case 'zoneOperations.list': {
        const f = query.filter ?? ''
        const type = /operationType = "([^"]+)"/.exec(f)?.[1]
        const target = /targetId = "([^"]+)"/.exec(f)?.[1]
        const items = [...this.operations.values()].filter(
          (o) => o.zone === zone && (!type || o.operationType === type) && (!target || o.targetId === target),
        )
        return {status: 200, body: {kind: 'compute#operationList', items: items.map((o) => this.renderOp(o))}}
      }
      default:
        return {status: 400, reason: 'invalid', message: `fake-gcp: ${action} is not implemented`}
    }
  }

  private insert(zone: string, requestId: string | undefined, body: Record<string, unknown>) {
    const project = this.options.project
    if (requestId) {
      const known = this.requestIds.get(requestId)
      if (known) return {status: 200, body: this.renderOp(this.operations.get(known)!)}
    }
    const name = String(body.name ?? '')
    if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name))
      return {
        status: 400,
        reason: 'invalid',
        message: `Invalid value for field 'resource.name': '${name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`,
      }
    if (this.find(zone, name))
      return {
        status: 409,
        reason: 'alreadyExists',
        message: `The resource 'projects/${project}/zones/${zone}/instances/${name}' already exists`,
      }
    const region = Object.entries(this.options.stock).find(([, zones]) => zone in zones)?.[0]
    if (!region) return {status: 404, reason: 'notFound', message: `The resource 'projects/${project}/zones/${zone}' was not found`}
    const machineType = String(body.machineType ?? '')
      .split('/')
      .pop()!
    const metadata = ((body.metadata as {items?: Array<{key: string; value: string}>})?.items ?? []).map((x) => ({
      key: x.key,
      value: x.value,
    }))
    const id = String(this.nextId++)
    const n = this.nextIp++
    const instance: FakeGcpInstance = {
      id,
      name,
      zone,
      region,
      machineType,
      status: 'PROVISIONING',
      labels: (body.labels as Record<string, string>) ?? {},
      metadata,
      fingerprint: randomBytes(8).toString('base64'),
      scheduling: (body.scheduling as Record<string, unknown>) ?? {},
      guestAccelerators: (body.guestAccelerators as FakeGcpInstance['guestAccelerators']) ?? [],
      body,
      creationTimestamp: new Date(this.now()).toISOString(),
      lastStartTimestamp: null,
      process: null,
      preempted: false,
      deleted: false,
      privateIp: `10.128.0.${n}`,
    }
    const op = this.operation(instance, 'insert', 'PENDING')
    if (requestId) this.requestIds.set(requestId, op.name)
    const fail = (code: string, message: string) => {
      op.status = 'DONE'
      op.error = {errors: [{code, message}]}
    }
    const injected = this.injections.take((i) => (!i.action || i.action === 'instances.insert') && i.inOperation === true)
    const free = this.options.stock[region][zone][machineType]
    if (injected) fail(injected.reason, injected.message)
    else if (!free || free <= 0)
      fail(
        'ZONE_RESOURCE_POOL_EXHAUSTED',
        `The zone 'projects/${project}/zones/${zone}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.`,
      )
    else {
      const over = this.overQuota(region, machineType, instance.guestAccelerators)
      if (over) fail('QUOTA_EXCEEDED', `Quota '${over.metric}' exceeded.  Limit: ${over.limit.toFixed(1)} in region ${region}.`)
    }
    if (op.error) return {status: 200, body: this.renderOp(op), code: op.error.errors[0].code}
    this.options.stock[region][zone][machineType] = free - 1
    this.instances.set(id, instance)
    this.later(this.options.provisioningMs ?? 30, () => {
      op.status = 'DONE'
      if (instance.deleted) return
      instance.status = 'RUNNING'
      instance.lastStartTimestamp = new Date(this.now()).toISOString()
      this.boot(instance)
    })
    return {status: 200, body: this.renderOp(op)}
  }

  /**
   * instances.bulkInsert: `count` instances of `instanceProperties`, named by `namePattern`
   * (its run of `#` replaced by 1…count, zero-padded to the run's length), all or nothing
   * when `minCount` is `count` (the zone's stock must hold minCount); one operation for all.
   */
  private bulkInsert(zone: string, requestId: string | undefined, body: Record<string, unknown>) {
    const project = this.options.project
    if (requestId) {
      const known = this.requestIds.get(requestId)
      if (known) return {status: 200, body: this.renderOp(this.operations.get(known)!)}
    }
    const count = Number(body.count ?? 0)
    const minCount = Number(body.minCount ?? count)
    const pattern = String(body.namePattern ?? '')
    const run = /#+/.exec(pattern)
    if (!Number.isInteger(count) || count < 1 || !run)
      return {status: 400, reason: 'invalid', message: "Invalid value for field 'resource.namePattern' or 'resource.count'"}
    const region = Object.entries(this.options.stock).find(([, zones]) => zone in zones)?.[0]
    if (!region) return {status: 404, reason: 'notFound', message: `The resource 'projects/${project}/zones/${zone}' was not found`}
    const props = (body.instanceProperties ?? {}) as Record<string, unknown>
    const machineType = String(props.machineType ?? '')
    const names = Array.from({length: count}, (_, k) => pattern.replace(run[0], String(k + 1).padStart(run[0].length, '0')))
    const taken = names.find((n) => this.find(zone, n))
    if (taken)
      return {
        status: 409,
        reason: 'alreadyExists',
        message: `The resource 'projects/${project}/zones/${zone}/instances/${taken}' already exists`,
      }
    const holder = {zone, id: String(this.nextId++)} as FakeGcpInstance
    const op = this.operation({...holder, name: pattern} as FakeGcpInstance, 'bulkInsert', 'PENDING')
    if (requestId) this.requestIds.set(requestId, op.name)
    const free = this.options.stock[region][zone][machineType] ?? 0
    const accelerators = ((props.guestAccelerators as Array<{acceleratorType: string; acceleratorCount: number}>) ?? []).map((a) => ({
      acceleratorType: `zones/${zone}/acceleratorTypes/${a.acceleratorType}`,
      acceleratorCount: a.acceleratorCount,
    }))
    if (free < minCount) {
      op.status = 'DONE'
      op.error = {
        errors: [
          {
            code: 'ZONE_RESOURCE_POOL_EXHAUSTED',
            message: `The zone 'projects/${project}/zones/${zone}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.`,
          },
        ],
      }
      return {status: 200, body: this.renderOp(op), code: 'ZONE_RESOURCE_POOL_EXHAUSTED'}
    }
    const made: FakeGcpInstance[] = []
    for (const name of names.slice(0, Math.min(count, free))) {
      const answer = this.insert(zone, undefined, {
        ...props,
        name,
        machineType: `zones/${zone}/machineTypes/${machineType}`,
        guestAccelerators: accelerators,
      })
      if (answer.status !== 200 || (answer as {code?: string}).code) break
      made.push(this.find(zone, name)!)
    }
    if (made.length < minCount) {
      for (const i of made) this.remove(i)
      op.status = 'DONE'
      op.error = {errors: [{code: 'QUOTA_EXCEEDED', message: `Quota exceeded for the gang in region ${region}.`}]}
      return {status: 200, body: this.renderOp(op), code: 'QUOTA_EXCEEDED'}
    }
    this.later((this.options.provisioningMs ?? 30) + 10, () => (op.status = 'DONE'))
    return {status: 200, body: this.renderOp(op)}
  }

  private overQuota(
    region: string,
    machineType: string,
    accelerators: FakeGcpInstance['guestAccelerators'],
  ): {metric: string; limit: number} | null {
    const limits = this.options.quotas?.[region]
    if (!limits) return null
    const usage = (i: {machineType: string; guestAccelerators: FakeGcpInstance['guestAccelerators']}) => {
      const out: Record<string, number> = {}
      const t = this.options.machineTypes?.[i.machineType]
      out.CPUS = t?.vcpus ?? 2
      if (t?.gpus) out[t.gpus.metric] = (out[t.gpus.metric] ?? 0) + t.gpus.count
      for (const a of i.guestAccelerators) {
        const metric = `${a.acceleratorType
          .split('/')
          .pop()!
          .replace(/^nvidia-(tesla-)?/, 'nvidia_')
          .toUpperCase()}_GPUS`
        out[metric] = (out[metric] ?? 0) + a.acceleratorCount
      }
      return out
    }
    const want = usage({machineType, guestAccelerators: accelerators})
    for (const [metric, limit] of Object.entries(limits)) {
      if (!(metric in want)) continue
      const used = this.live()
        .filter((i) => i.region === region && i.status !== 'TERMINATED')
        .reduce((sum, i) => sum + (usage(i)[metric] ?? 0), 0)
      if (used + want[metric] > limit) return {metric, limit}
    }
    return null
  }

  private find(zone: string, name: string): FakeGcpInstance | undefined {
    return this.live().find((i) => i.zone === zone && i.name === name)
  }

  private selfLink(i: FakeGcpInstance): string {
    return `${COMPUTE}/projects/${this.options.project}/zones/${i.zone}/instances/${i.name}`
  }

  private render(i: FakeGcpInstance): Record<string, unknown> {
    const zoneLink = `${COMPUTE}/projects/${this.options.project}/zones/${i.zone}`
    return {
      kind: 'compute#instance',
      id: i.id,
      creationTimestamp: i.creationTimestamp,
      name: i.name,
      machineType: `${zoneLink}/machineTypes/${i.machineType}`,
      status: i.status,
      zone: zoneLink,
      networkInterfaces: [
        {network: `${COMPUTE}/projects/${this.options.project}/global/networks/default`, networkIP: i.privateIp, name: 'nic0'},
      ],
      metadata: {kind: 'compute#metadata', fingerprint: i.fingerprint, items: i.metadata},
      labels: i.labels,
      scheduling: i.scheduling,
      ...(i.guestAccelerators.length
        ? {
            guestAccelerators: i.guestAccelerators.map((a) => ({
              ...a,
              acceleratorType: `${COMPUTE}/projects/${this.options.project}/${a.acceleratorType}`,
            })),
          }
        : {}),
      ...(i.lastStartTimestamp ? {lastStartTimestamp: i.lastStartTimestamp} : {}),
      selfLink: this.selfLink(i),
    }
  }

  operation(i: FakeGcpInstance, type: string, status: FakeOperation['status']): FakeOperation {
    const name = `operation-${this.now()}-${randomBytes(6).toString('hex')}-${randomBytes(4).toString('hex')}`
    const op: FakeOperation = {
      id: String(this.nextId++),
      name,
      zone: i.zone,
      operationType: type,
      targetId: i.id,
      targetLink: this.selfLink(i),
      status,
      insertTime: new Date(this.now()).toISOString(),
    }
    this.operations.set(name, op)
    return op
  }

  private renderOp(op: FakeOperation): Record<string, unknown> {
    const zoneLink = `${COMPUTE}/projects/${this.options.project}/zones/${op.zone}`
    return {
      kind: 'compute#operation',
      id: op.id,
      name: op.name,
      zone: zoneLink,
      operationType: op.operationType,
      targetLink: op.targetLink,
      targetId: op.targetId,
      status: op.status,
      user: this.options.serviceAccounts[0]?.clientEmail ?? 'system',
      progress: op.status === 'DONE' ? 100 : 0,
      insertTime: op.insertTime,
      ...(op.error ? {error: op.error, httpErrorStatusCode: 503, httpErrorMessage: 'SERVICE UNAVAILABLE'} : {}),
      selfLink: `${zoneLink}/operations/${op.name}`,
    }
  }

  // ------------------------------------------------------------------ instances' lives

  private boot(i: FakeGcpInstance): void {
    const script = i.metadata.find((x) => x.key === 'startup-script')?.value
    if (!this.options.bootDir || !script) return
    const child = runUserData(join(this.options.bootDir, i.id), Buffer.from(script).toString('base64'), i.id)
    i.process = child
    child.on('exit', () => {
      if (i.process !== child) return
      i.process = null
      // The script ends with a power-off: a guest shutdown leaves the VM TERMINATED (stopped), disk kept.
      if (i.status !== 'RUNNING') return
      i.status = 'STOPPING'
      this.later(30, () => {
        if (i.deleted) return
        i.status = 'TERMINATED'
        restock(this.options.stock, i.region, i.zone, i.machineType)
      })
    })
  }

  private kill(i: FakeGcpInstance): void {
    const child = i.process
    i.process = null
    killGroup(child)
  }

  private remove(i: FakeGcpInstance): void {
    this.kill(i)
    if (i.status !== 'TERMINATED') restock(this.options.stock, i.region, i.zone, i.machineType)
    i.deleted = true
    for (const w of [...this.waiters]) if (w.instance === i) this.answerWaiter(w)
  }

  // ------------------------------------------------------------------ metadata server

  private etag(i: FakeGcpInstance): string {
    return `${i.preempted ? 'a1' : 'b2'}${i.id.slice(-10)}`
  }

  private metadata(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const m = /^\/_md\/([^/]+)\/computeMetadata\/v1\/(.+)$/.exec(url.pathname)
    const text = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, {'content-type': 'application/text', 'metadata-flavor': 'Google', ...headers})
      res.end(body)
    }
    const attemptId = m ? decodeURIComponent(m[1]) : ''
    const ofAttempt = this.live().filter((x) => x.metadata.find((y) => y.key === 'skyhop-attempt-id')?.value === attemptId)
    // A gang's instances share the attempt: the one asking is the one answered.
    const i = ofAttempt.length > 1 ? askingInstance(req, ofAttempt) : (ofAttempt[0] ?? null)
    if (!m || !i) return text(404, 'Not Found')
    if (req.headers['metadata-flavor'] !== 'Google') return text(403, 'Missing Metadata-Flavor:Google header.')
    const path = m[2]
    if (path === 'instance/preempted') {
      if (url.searchParams.get('wait_for_change') === 'true') {
        const last = url.searchParams.get('last_etag')
        if (last === null || last === this.etag(i)) {
          const timeout = Number(url.searchParams.get('timeout_sec') ?? '60')
          const waiter = {instance: i, res, timer: setTimeout(() => this.answerWaiter(waiter), timeout * 1000)}
          this.waiters.add(waiter)
          res.on('close', () => {
            clearTimeout(waiter.timer)
            this.waiters.delete(waiter)
          })
          return
        }
      }
      return text(200, i.preempted ? 'TRUE' : 'FALSE', {etag: this.etag(i)})
    }
    const attr = /^instance\/attributes\/(.+)$/.exec(path)
    if (attr) {
      const item = i.metadata.find((x) => x.key === attr[1])
      return item ? text(200, item.value, {etag: randomBytes(8).toString('hex')}) : text(404, 'Not Found')
    }
    if (path === 'instance/id') return text(200, i.id)
    if (path === 'instance/name') return text(200, i.name)
    if (path === 'instance/network-interfaces/0/ip') return text(200, i.privateIp)
    text(404, 'Not Found')
  }

  /**
   * The metadata server of the VM skyhop itself runs on (GCE_METADATA_HOST): its default
   * service account's token (the VM's access scopes: `hostScopes`, default cloud-platform)
   * and the project id.
   */
  hostScopes = ['https://www.googleapis.com/auth/cloud-platform']

  private hostMetadata(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, {'content-type': type, 'metadata-flavor': 'Google'})
      res.end(body)
    }
    if (req.headers['metadata-flavor'] !== 'Google') return send(403, 'text/html', 'Missing Metadata-Flavor:Google header.')
    if (url.pathname === '/computeMetadata/v1/project/project-id') return send(200, 'application/text', this.options.project)
    if (url.pathname === '/computeMetadata/v1/instance/service-accounts/default/token') {
      const token = `ya29.c.fake-${randomBytes(24).toString('base64url')}`
      this.tokens.set(token, {scopes: this.hostScopes, expires: this.now() + 3600_000})
      return send(200, 'application/json', JSON.stringify({access_token: token, expires_in: 3599, token_type: 'Bearer'}))
    }
    send(404, 'text/html', 'Not Found')
  }

  private answerWaiter(w: {instance: FakeGcpInstance; res: ServerResponse; timer: NodeJS.Timeout}): void {
    clearTimeout(w.timer)
    this.waiters.delete(w)
    if (w.res.writableEnded) return
    w.res.writeHead(200, {'content-type': 'application/text', 'metadata-flavor': 'Google', etag: this.etag(w.instance)})
    w.res.end(w.instance.preempted ? 'TRUE' : 'FALSE')
  }

  private answerWaiters(i: FakeGcpInstance): void {
    for (const w of [...this.waiters]) if (w.instance === i) this.answerWaiter(w)
  }
}

const PERMISSIONS: Record<string, string> = {
  'instances.insert': 'compute.instances.create',
  'instances.bulkInsert': 'compute.instances.create',
  'instances.get': 'compute.instances.get',
  'instances.delete': 'compute.instances.delete',
  'instances.setMetadata': 'compute.instances.setMetadata',
  'instances.getSerialPortOutput': 'compute.instances.getSerialPortOutput',
  'instances.aggregatedList': 'compute.instances.list',
  'zones.list': 'compute.zones.list',
}

/** Compute Engine's list filter, the two forms skyhop sends: `labels.K = "V"` and `labels.K:*`. */
function labelFilter(filter: string): (labels: Record<string, string>) => boolean {
  const eq = /^labels\.([a-z0-9_-]+) = "([^"]*)"$/.exec(filter.trim())
  if (eq) return (l) => l[eq[1]] === eq[2]
  const has = /^labels\.([a-z0-9_-]+):\*$/.exec(filter.trim())
  if (has) return (l) => has[1] in l
  return () => true
}
