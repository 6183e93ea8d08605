// A FAKE of Huawei Cloud for tests: a local HTTP server speaking the REST APIs skyhop's
// Huawei adapter calls, as Huawei documents them: ECS v1 (`/v1/{project_id}/cloudservers`
// create, show, delete, metadata, tag filter, jobs), the Nova-compatible console log and
// availability zones (`/v2.1/…`), IMS image lookup (`/v2/cloudimages`) and IAM's project
// list (`/v3/auth/projects`). Errors come in both envelopes Huawei uses: the API
// gateway's `{"error_code": "APIGW.0301", "error_msg", "request_id"}` and ECS's
// `{"error": {"code": "Ecs.0319", "message"}}`. Not Huawei Cloud; tests reach it through
// SKYHOP_HUAWEICLOUD_ENDPOINT.
//
// Real behaviour: verifies every SDK-HMAC-SHA256 signature with skyhop's canonicalization
// over exactly the signed headers (unknown AKs, bad signatures, stale X-Sdk-Date and wrong
// security tokens are refused with APIGW.0301; a project of another region with
// Common.0013); one project per region; servers with ECS's states (BUILD, ACTIVE, SHUTOFF,
// DELETED — a guest power-off stops a server); asynchronous creation jobs that succeed or
// fail with the ECS error code (Ecs.0319 when a zone runs out of a flavor), or the same
// checks answered synchronously; idempotent X-Client-Token; per-zone stock per flavor, a
// per-region instance quota (Ecs.0001); spot servers (charging_mode 2) that can be
// reclaimed — stopped, then released; any error code and throttling (APIGW.0308, HTTP
// 429) injected on demand; the OpenStack metadata service per server, whose meta_data.json
// carries the server metadata; and, given a boot directory, user data run locally as
// cloud-init would, with a file as the serial console os-getConsoleOutput returns.
import {randomBytes} from 'node:crypto'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {join} from 'node:path'

import type {ChildProcess} from 'node:child_process'

import {parseSdkHmacAuthorization, sdkHmacCanonicalRequest} from '../../src/clouds/huaweicloud/sdk-hmac.js'
import {hmacSha256Hex, sha256Hex, signaturesEqual} from '../../src/clouds/common/signing-util.js'
import {askingInstance, FakeCloudServer, Injections, killGroup, readBody, restock, runUserData, uuid} from './fake-cloud-server.js'

export interface FakeHuaweiKey {
  ak: string
  sk: string
  securityToken?: string
}

export interface FakeHuaweiOptions {
  keys: FakeHuaweiKey[]
  /** region → project id (32 hex), as IAM lists them. */
  projects: Record<string, string>
  /** region → zone → flavor → stock. A flavor missing from a zone is not sold there. */
  stock: Record<string, Record<string, Record<string, number>>>
  /** region → images (name and id). */
  images: Record<string, Array<{id: string; name: string}>>
  /** region → most live servers (Ecs.0001). */
  instanceQuota?: Record<string, number>
  /** Out of stock is reported by the creation job (as ECS usually does) or at once. Default 'job'. */
  capacityErrors?: 'job' | 'sync'
  pendingMs?: number
  bootDir?: string
  now?: () => number
}

export type FakeServerStatus = 'BUILD' | 'ACTIVE' | 'SHUTOFF' | 'ERROR' | 'DELETED'

export interface FakeHuaweiServer {
  id: string
  region: string
  projectId: string
  zone: string
  flavor: string
  name: string
  imageId: string
  status: FakeServerStatus
  spot: boolean
  spotPrice: string | null
  created: string
  metadata: Record<string, string>
  tags: Array<{key: string; value: string}>
  userData: string | null
  vpcId: string
  subnetId: string
  process: ChildProcess | null
  released: boolean
  /** A graceful reclaim is under way: the guest is shutting down, ECS stops it at the deadline. */
  reclaiming: boolean
  privateIp: string
  serverGroupId: string | null
}

export interface FakeServerGroup {
  id: string
  projectId: string
  name: string
  policies: string[]
}

export interface FakeHuaweiJob {
  id: string
  type: 'createServer' | 'deleteServer'
  status: 'RUNNING' | 'SUCCESS' | 'FAIL'
  errorCode: string | null
  failReason: string | null
  serverIds: string[]
  /** Sub-jobs that created no server (a batch short of stock). */
  failedSubJobs?: number
}

export interface HuaweiCall {
  action: string
  region: string | null
  status: number
  code: string | null
  body: unknown
  headers: Record<string, string | string[] | undefined>
}

const APIGW_STATUS: Record<string, number> = {
  'APIGW.0301': 401,
  'APIGW.0303': 401,
  'APIGW.0302': 403,
  'APIGW.0306': 403,
  'APIGW.0308': 429,
  'APIGW.0101': 404,
  'Common.0013': 401,
}

class FakeHuaweiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = APIGW_STATUS[code] ?? 400,
  ) {
    super(message)
  }
}

export class FakeHuaweiEcsServer extends FakeCloudServer {
  readonly servers = new Map<string, FakeHuaweiServer>()
  readonly jobs = new Map<string, FakeHuaweiJob>()
  readonly calls: HuaweiCall[] = []
  private readonly injections = new Injections<{
    action?: string
    code: string
    message?: string
    status?: number
    times?: number
    inJob?: boolean
  }>()
  private readonly tokens = new Map<string, {body: string; answer: {job_id: string; serverIds: string[]}}>()
  protected override readonly trailingSlash = false
  readonly serverGroups = new Map<string, FakeServerGroup>()
  private nextIp = 10

  constructor(readonly options: FakeHuaweiOptions) {
    super()
  }

  protected override crashed(res: ServerResponse, error: Error): void {
    this.send(res, 500, {error: {code: 'Ecs.0002', message: `fake: ${error.message}`}})
  }

  protected override killInstances(): void {
    for (const s of this.servers.values()) killGroup(s.process)
  }

  /** The endpoint to configure: one path prefix per region, as each region has its own host. */
  get endpointTemplate(): string {
    return `${this.url}/{region}`
  }

  /** Per-attempt OpenStack metadata base for the stop probe. */
  get metadataBaseTemplate(): string {
    return `${this.url}/_meta/{attemptId}`
  }

  /**
   * Fails the next `times` calls of `action` (any when omitted) with `code`. With `inJob`,
   * CreatePostPaidServers is accepted and its job fails with the code instead.
   */
  inject(injection: {action?: string; code: string; message?: string; status?: number; times?: number; inJob?: boolean}): void {
    this.injections.add(injection)
  }

  throttle(times: number, action?: string): void {
    this.inject({
      action,
      code: 'APIGW.0308',
      message: 'The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 second',
      times,
    })
  }

  setStock(region: string, zone: string, flavor: string, n: number): void {
    ;((this.options.stock[region] ??= {})[zone] ??= {})[flavor] = n
  }

  live(): FakeHuaweiServer[] {
    return [...this.servers.values()].filter((s) => !s.released)
  }

  /**
   * Reclaims a spot server as ECS does: no in-guest notice; the server stops (abruptly,
   * or with SIGTERM to the guest's processes `graceMs` before, as an ACPI shutdown would)
   * and is released 2 s later.
   */
  reclaimSpot(serverId: string, options: {graceMs?: number} = {}): void {
    const s = this.servers.get(serverId)!
    const stop = () => {
      killGroup(s.process)
      s.process = null
      s.status = 'SHUTOFF'
      this.later(2000, () => this.release(s))
    }
    if (options.graceMs && s.process?.pid) {
      s.reclaiming = true
      try {
        process.kill(-s.process.pid, 'SIGTERM')
      } catch {
        // Already gone.
      }
      this.later(options.graceMs, stop)
    } else stop()
  }

  private release(s: FakeHuaweiServer): void {
    if (s.released) return
    killGroup(s.process)
    s.process = null
    s.status = 'DELETED'
    s.released = true
    restock(this.options.stock, s.region, s.zone, s.flavor)
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body)
    res.writeHead(status, {
      'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json;charset=UTF-8',
      'X-Request-Id': randomBytes(16).toString('hex'),
      ...headers,
    })
    res.end(text)
  }

  private regionOfProject(projectId: string): string | null {
    return Object.entries(this.options.projects).find(([, id]) => id === projectId)?.[0] ?? null
  }

  protected override async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readBody(req)
    const url = new URL(req.url ?? '/', 'http://fake')
    if (url.pathname.startsWith('/_meta/')) return this.metadata(req, res, url)
    let action = 'Unknown'
    let region: string | null = null
    let body: unknown = undefined
    // `/<region>/…`: the endpoint of one region (the adapter's `{region}` endpoint template).
    const first = url.pathname.split('/')[1] ?? ''
    const endpointRegion = first in this.options.projects ? first : null
    const path = endpointRegion ? url.pathname.slice(first.length + 1) : url.pathname
    try {
      const route = this.route(req.method ?? 'GET', path)
      action = route.action
      this.verify(req, url, text)
      if (route.projectId !== null) {
        region = this.regionOfProject(route.projectId)
        const header = req.headers['x-project-id']
        if (!region || (endpointRegion && region !== endpointRegion) || (header !== undefined && header !== route.projectId)) {
          throw new FakeHuaweiError(
            'Common.0013',
            `the current region is [${endpointRegion ?? region ?? 'unknown'}] and does not match with the project name [${region ?? String(header ?? route.projectId)}]`,
          )
        }
      }
      if (action === 'ListImages') region = endpointRegion ?? this.regionOfProject(String(req.headers['x-project-id'] ?? ''))
      if (text !== '') {
        try {
          body = JSON.parse(text)
        } catch {
          throw new FakeHuaweiError('Ecs.0005', 'Invalid request body: not JSON.')
        }
      }
      const inj = this.injections.take((i) => !i.inJob && (!i.action || i.action === action))
      if (inj) throw new FakeHuaweiError(inj.code, inj.message ?? `injected ${inj.code}`, inj.status)
      const {status, answer} = this.act(route, region, body, req, url)
      this.calls.push({action, region, status, code: null, body, headers: req.headers})
      this.send(res, status, answer)
    } catch (error) {
      if (!(error instanceof FakeHuaweiError)) throw error
      this.calls.push({action, region, status: error.status, code: error.code, body, headers: req.headers})
      const gateway = error.code.startsWith('APIGW.') || error.code.startsWith('Common.')
      this.send(
        res,
        error.status,
        gateway
          ? {error_code: error.code, error_msg: error.message, request_id: randomBytes(16).toString('hex')}
          : {error: {code: error.code, message: error.message}},
      )
    }
  }

  private route(method: string, path: string): {action: string; projectId: string | null; id?: string} {
    const table: Array<[string, RegExp, string]> = [
      ['GET', /^\/v3\/auth\/projects$/, 'KeystoneListAuthProjects'],
      ['GET', /^\/v2\/cloudimages$/, 'ListImages'],
      ['POST', /^\/v1\/([0-9a-f]{32})\/cloudservers$/, 'CreatePostPaidServers'],
      ['POST', /^\/v1\/([0-9a-f]{32})\/cloudservers\/delete$/, 'DeleteServers'],
      ['POST', /^\/v1\/([0-9a-f]{32})\/cloudservers\/resource_instances\/action$/, 'ListServersByTag'],
      ['POST', /^\/v1\/([0-9a-f]{32})\/cloudservers\/os-server-groups$/, 'CreateServerGroup'],
      ['GET', /^\/v1\/([0-9a-f]{32})\/cloudservers\/os-server-groups$/, 'ListServerGroups'],
      ['DELETE', /^\/v1\/([0-9a-f]{32})\/cloudservers\/os-server-groups\/([^/]+)$/, 'DeleteServerGroup'],
      ['POST', /^\/v1\/([0-9a-f]{32})\/cloudservers\/([^/]+)\/tags\/action$/, 'BatchCreateServerTags'],
      ['POST', /^\/v1\/([0-9a-f]{32})\/cloudservers\/([^/]+)\/metadata$/, 'UpdateServerMetadata'],
      ['GET', /^\/v1\/([0-9a-f]{32})\/cloudservers\/([^/]+)$/, 'ShowServer'],
      ['GET', /^\/v1\/([0-9a-f]{32})\/jobs\/([^/]+)$/, 'ShowJob'],
      ['POST', /^\/v2\.1\/([0-9a-f]{32})\/servers\/([^/]+)\/action$/, 'ShowConsoleOutput'],
      ['GET', /^\/v2\.1\/([0-9a-f]{32})\/os-availability-zone$/, 'NovaListAvailabilityZones'],
    ]
    for (const [m, re, action] of table) {
      const hit = re.exec(path)
      if (hit && m === method)
        return {
          action,
          projectId: hit[1] && /^[0-9a-f]{32}$/.test(hit[1]) ? hit[1] : null,
          id: hit[2] ? decodeURIComponent(hit[2]) : undefined,
        }
    }
    throw new FakeHuaweiError('APIGW.0101', `The API does not exist or has not been published in the environment: ${method} ${path}`)
  }

  /** SDK-HMAC-SHA256 verification over exactly the signed headers. */
  private verify(req: IncomingMessage, url: URL, body: string): void {
    const auth = parseSdkHmacAuthorization(String(req.headers.authorization ?? ''))
    if (!auth) throw new FakeHuaweiError('APIGW.0301', 'Incorrect IAM authentication information: Authorization format incorrect')
    const key = this.options.keys.find((k) => k.ak === auth.ak)
    if (!key) throw new FakeHuaweiError('APIGW.0301', 'Incorrect IAM authentication information: ak not exist')
    for (const h of ['host', 'x-sdk-date'])
      if (!auth.signedHeaders.includes(h))
        throw new FakeHuaweiError('APIGW.0301', `Incorrect IAM authentication information: header ${h} must be signed`)
    const date = String(req.headers['x-sdk-date'] ?? '')
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date)
    const at = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) : NaN
    if (!Number.isFinite(at) || Math.abs(at - this.now()) > 15 * 60_000)
      throw new FakeHuaweiError('APIGW.0301', 'Incorrect IAM authentication information: request expired')
    if (key.securityToken !== undefined && req.headers['x-security-token'] !== key.securityToken)
      throw new FakeHuaweiError('APIGW.0301', 'Incorrect IAM authentication information: security token invalid')
    const raw = req.rawHeaders
    const headers: Array<[string, string]> = []
    for (let i = 0; i < raw.length; i += 2) headers.push([raw[i], raw[i + 1]])
    const creq = sdkHmacCanonicalRequest(
      {method: req.method ?? 'GET', path: url.pathname, query: [...url.searchParams], headers, body},
      auth.signedHeaders,
    )
    if (creq.signedHeaders !== auth.signedHeaders.join(';'))
      throw new FakeHuaweiError('APIGW.0301', 'Incorrect IAM authentication information: a signed header is missing')
    const expected = hmacSha256Hex(key.sk, ['SDK-HMAC-SHA256', date, sha256Hex(creq.text)].join('\n'))
    if (!signaturesEqual(expected, auth.signature))
      throw new FakeHuaweiError('APIGW.0301', 'Incorrect IAM authentication information: verify aksk signature fail')
  }

  private serverOf(region: string | null, id: string | undefined): FakeHuaweiServer | null {
    const s = id ? this.servers.get(id) : undefined
    return s && !s.released && s.region === region ? s : null
  }

  private view(s: FakeHuaweiServer): Record<string, unknown> {
    return {
      id: s.id,
      name: s.name,
      status: s.status,
      'OS-EXT-AZ:availability_zone': s.zone,
      'OS-EXT-STS:vm_state': s.status === 'ACTIVE' ? 'active' : s.status === 'SHUTOFF' ? 'stopped' : s.status.toLowerCase(),
      flavor: {id: s.flavor, name: s.flavor},
      image: {id: s.imageId},
      created: s.created,
      metadata: {...s.metadata, charging_mode: s.spot ? '2' : '0', vpc_id: s.vpcId, 'metering.image_id': s.imageId},
      tags: s.tags.map((t) => `${t.key}=${t.value}`),
      tenant_id: s.projectId,
      addresses: {[s.vpcId]: [{addr: s.privateIp, version: 4, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:00:00:01'}]},
    }
  }

  private act(
    route: {action: string; projectId: string | null; id?: string},
    region: string | null,
    body: unknown,
    req: IncomingMessage,
    url: URL,
  ): {status: number; answer: unknown} {
    const b = (body ?? {}) as Record<string, any>
    switch (route.action) {
      case 'KeystoneListAuthProjects':
        return {
          status: 200,
          answer: {
            projects: Object.entries(this.options.projects).map(([name, id]) => ({
              id,
              name,
              enabled: true,
              domain_id: 'd'.repeat(32),
              is_domain: false,
            })),
            links: {self: `${this.url}/v3/auth/projects`},
          },
        }
      case 'ListImages': {
        // IMS is regional: the endpoint names the region (or, without one, the project header).
        const r = region
        if (!r) throw new FakeHuaweiError('Common.0013', 'X-Project-Id names no project of this account')
        const name = url.searchParams.get('name')
        const images = (this.options.images[r] ?? []).filter((i) => !name || i.name === name)
        return {
          status: 200,
          answer: {
            images: images.map((i) => ({
              id: i.id,
              name: i.name,
              status: 'active',
              created_at: '2024-01-01T00:00:00Z',
              __imagetype: 'gold',
            })),
          },
        }
      }
      case 'CreatePostPaidServers':
        return {status: 200, answer: this.create(region!, route.projectId!, b, String(req.headers['x-client-token'] ?? ''))}
      case 'ShowJob': {
        const job = this.jobs.get(route.id ?? '')
        if (!job) throw new FakeHuaweiError('Ecs.0005', `Job ${route.id} does not exist.`, 404)
        return {
          status: 200,
          answer: {
            job_id: job.id,
            job_type: job.type,
            status: job.status,
            begin_time: new Date(this.now()).toISOString(),
            error_code: job.errorCode,
            fail_reason: job.failReason,
            entities: {
              sub_jobs_total: job.serverIds.length + (job.failedSubJobs ?? 0),
              sub_jobs: [
                ...job.serverIds.map((id) => {
                  // In a batch that fell short, the servers that were built succeeded on their own.
                  const built = job.failedSubJobs ? this.servers.get(id)?.status === 'ACTIVE' : false
                  return {
                    status: built ? 'SUCCESS' : job.status,
                    job_type: 'createSingleServer',
                    entities: {server_id: id},
                    error_code: built ? null : job.errorCode,
                    fail_reason: built ? null : job.failReason,
                  }
                }),
                ...Array.from({length: job.failedSubJobs ?? 0}, () => ({
                  status: job.status === 'FAIL' ? 'FAIL' : 'RUNNING',
                  job_type: 'createSingleServer',
                  entities: {},
                  error_code: job.status === 'FAIL' ? job.errorCode : null,
                  fail_reason: job.status === 'FAIL' ? job.failReason : null,
                })),
              ],
            },
          },
        }
      }
      case 'ShowServer': {
        const s = this.serverOf(region, route.id)
        if (!s) return {status: 404, answer: {itemNotFound: {message: `Instance ${route.id} could not be found.`, code: 404}}}
        return {status: 200, answer: {server: this.view(s)}}
      }
      case 'ListServersByTag': {
        if (b.action !== 'filter') throw new FakeHuaweiError('Ecs.0005', 'action must be filter or count')
        const wanted = (b.tags as Array<{key: string; values: string[]}> | undefined) ?? []
        const all = this.live().filter(
          (s) =>
            s.region === region &&
            wanted.every((w) => s.tags.some((t) => t.key === w.key && (w.values.length === 0 || w.values.includes(t.value)))),
        )
        const limit = Number(b.limit ?? 1000)
        const offset = Number(b.offset ?? 0)
        const page = all.slice(offset, offset + limit)
        return {
          status: 200,
          answer: {
            resources: page.map((s) => ({resource_id: s.id, resource_name: s.name, resource_detail: '', tags: s.tags})),
            total_count: all.length,
          },
        }
      }
      case 'DeleteServers': {
        const ids = ((b.servers as Array<{id: string}> | undefined) ?? []).map((s) => s.id)
        if (ids.length === 0) throw new FakeHuaweiError('Ecs.0005', 'servers must not be empty')
        for (const id of ids) {
          const s = this.serverOf(region, id)
          if (!s) throw new FakeHuaweiError('Ecs.0614', `itemNotFound: Instance ${id} could not be found.`, 404)
          killGroup(s.process)
          s.process = null
          this.later(50, () => this.release(s))
        }
        const job: FakeHuaweiJob = {
          id: `ff80808${randomBytes(12).toString('hex')}`,
          type: 'deleteServer',
          status: 'SUCCESS',
          errorCode: null,
          failReason: null,
          serverIds: ids,
        }
        this.jobs.set(job.id, job)
        return {status: 200, answer: {job_id: job.id}}
      }
      case 'CreateServerGroup': {
        const g = b.server_group as {name?: string; policies?: string[]} | undefined
        if (!g?.name) throw new FakeHuaweiError('Ecs.0005', 'Invalid request body: server_group.name is required.')
        if (!Array.isArray(g.policies) || g.policies.length !== 1 || g.policies[0] !== 'anti-affinity')
          throw new FakeHuaweiError('Ecs.0005', 'server_group.policies must be ["anti-affinity"].')
        const group: FakeServerGroup = {id: uuid(), projectId: route.projectId!, name: g.name, policies: g.policies}
        this.serverGroups.set(group.id, group)
        return {status: 200, answer: {server_group: {id: group.id, name: group.name, policies: group.policies, members: [], metadata: {}}}}
      }
      case 'ListServerGroups': {
        const groups = [...this.serverGroups.values()].filter((g) => g.projectId === route.projectId)
        return {
          status: 200,
          answer: {
            server_groups: groups.map((g) => ({
              id: g.id,
              name: g.name,
              policies: g.policies,
              members: this.live()
                .filter((sv) => sv.serverGroupId === g.id)
                .map((sv) => sv.id),
              metadata: {},
            })),
          },
        }
      }
      case 'DeleteServerGroup': {
        const group = this.serverGroups.get(route.id ?? '')
        if (!group || group.projectId !== route.projectId)
          return {status: 404, answer: {itemNotFound: {message: `Server group ${route.id} could not be found.`, code: 404}}}
        this.serverGroups.delete(group.id)
        return {status: 204, answer: ''}
      }
      case 'BatchCreateServerTags': {
        const sv = this.serverOf(region, route.id)
        if (!sv) throw new FakeHuaweiError('Ecs.0614', `itemNotFound: Instance ${route.id} could not be found.`, 404)
        if (b.action !== 'create') throw new FakeHuaweiError('Ecs.0005', 'action must be create')
        for (const t of (b.tags as Array<{key: string; value: string}> | undefined) ?? []) {
          sv.tags = sv.tags.filter((x) => x.key !== t.key)
          sv.tags.push({key: t.key, value: t.value})
        }
        return {status: 204, answer: ''}
      }
      case 'UpdateServerMetadata': {
        const s = this.serverOf(region, route.id)
        if (!s) throw new FakeHuaweiError('Ecs.0614', `itemNotFound: Instance ${route.id} could not be found.`, 404)
        const md = (b.metadata ?? {}) as Record<string, string>
        for (const k of Object.keys(md))
          if (!/^[A-Za-z0-9_:.-]{1,255}$/.test(k)) throw new FakeHuaweiError('Ecs.0005', `Invalid metadata key ${k}`)
        Object.assign(s.metadata, md)
        return {status: 200, answer: {metadata: s.metadata}}
      }
      case 'ShowConsoleOutput': {
        const s = this.serverOf(region, route.id)
        if (!s) return {status: 404, answer: {itemNotFound: {message: `Instance ${route.id} could not be found.`, code: 404}}}
        const length = Number(b['os-getConsoleOutput']?.length ?? 50)
        const lines = this.consoleOf(s.id).split('\n')
        return {status: 200, answer: {output: lines.slice(-length - 1).join('\n')}}
      }
      case 'NovaListAvailabilityZones':
        return {
          status: 200,
          answer: {
            availabilityZoneInfo: Object.keys(this.options.stock[region!] ?? {}).map((zoneName) => ({
              zoneName,
              zoneState: {available: true},
              hosts: null,
            })),
          },
        }
      default:
        throw new FakeHuaweiError('APIGW.0101', `no such API ${route.action}`)
    }
  }

  private create(region: string, projectId: string, b: Record<string, any>, clientToken: string): {job_id: string; serverIds: string[]} {
    const canonical = JSON.stringify(b)
    if (clientToken) {
      const seen = this.tokens.get(clientToken)
      if (seen) {
        if (seen.body !== canonical) throw new FakeHuaweiError('Ecs.0005', 'X-Client-Token was used with a different request.')
        return seen.answer
      }
    }
    const s = b.server as Record<string, any> | undefined
    if (!s) throw new FakeHuaweiError('Ecs.0005', 'Invalid request body: server is required.')
    for (const field of ['name', 'imageRef', 'flavorRef', 'vpcid', 'availability_zone'])
      if (typeof s[field] !== 'string' || s[field] === '')
        throw new FakeHuaweiError('Ecs.0005', `Invalid request body: server.${field} is required.`)
    if (!Array.isArray(s.nics) || !s.nics[0]?.subnet_id)
      throw new FakeHuaweiError('Ecs.0005', 'Invalid request body: server.nics[0].subnet_id is required.')
    if (!s.root_volume?.volumetype)
      throw new FakeHuaweiError('Ecs.0005', 'Invalid request body: server.root_volume.volumetype is required.')
    if (!/^[A-Za-z0-9_.\u4e00-\u9fa5-]{1,64}$/.test(s.name))
      throw new FakeHuaweiError('Ecs.0915', `ECS name [${s.name}] contains invalid characters.`)
    if (s.metadata && Object.keys(s.metadata).length > 10) throw new FakeHuaweiError('Ecs.0005', 'At most 10 metadata pairs.')
    if (s.server_tags && s.server_tags.length > 10) throw new FakeHuaweiError('Ecs.0905', 'The number of tags cannot be greater than 10.')
    if (s.user_data && Buffer.from(s.user_data, 'base64').length > 32 * 1024)
      throw new FakeHuaweiError('Ecs.0005', 'user_data exceeds 32 KB.')
    if (!(this.options.images[region] ?? []).some((i) => i.id === s.imageRef))
      throw new FakeHuaweiError('Ecs.0031', `Image [${s.imageRef}] does not exist.`)
    const zones = this.options.stock[region] ?? {}
    const zone = s.availability_zone as string
    if (!(zone in zones)) throw new FakeHuaweiError('Ecs.0005', `Invalid availability_zone ${zone}.`)
    const flavor = s.flavorRef as string
    if (!(flavor in zones[zone])) throw new FakeHuaweiError('Ecs.0029', `Flavor [${flavor}] does not exist.`)
    const count = Number(s.count ?? 1)
    if (!Number.isInteger(count) || count < 1 || count > 500) throw new FakeHuaweiError('Ecs.0005', 'server.count must be 1 to 500.')
    const groupId = (s['os:scheduler_hints'] as {group?: string} | undefined)?.group ?? null
    if (groupId !== null && this.serverGroups.get(groupId)?.projectId !== projectId)
      throw new FakeHuaweiError('Ecs.0005', `Server group ${groupId} does not exist.`)
    const quota = this.options.instanceQuota?.[region]
    if (quota !== undefined && this.live().filter((x) => x.region === region).length + count > quota)
      throw new FakeHuaweiError('Ecs.0001', 'The number of ECSs is beyond the quota limit.')
    const noStock = (zones[zone][flavor] ?? 0) <= 0
    if (noStock && this.options.capacityErrors === 'sync') throw new FakeHuaweiError('Ecs.0319', 'Check capacity: Capacity is not enough.')
    const ext = (s.extendparam ?? {}) as Record<string, string>
    const job: FakeHuaweiJob = {
      id: `ff80808${randomBytes(12).toString('hex')}`,
      type: 'createServer',
      status: 'RUNNING',
      errorCode: null,
      failReason: null,
      serverIds: [],
    }
    this.jobs.set(job.id, job)
    const inj = this.injections.take((i) => !!i.inJob && (!i.action || i.action === 'CreatePostPaidServers'))
    let jobFailure: {code: string; message: string} | null = noStock
      ? {code: 'Ecs.0319', message: 'Check capacity: Capacity is not enough.'}
      : null
    if (inj) jobFailure = {code: inj.code, message: inj.message ?? `injected ${inj.code}`}
    const answer = {job_id: job.id, serverIds: [] as string[]}
    if (jobFailure) {
      // ECS rolls a failed creation back: the job fails, no server remains.
      const failure = jobFailure
      this.later(this.options.pendingMs ?? 30, () =>
        Object.assign(job, {status: 'FAIL', errorCode: failure.code, failReason: failure.message}),
      )
    } else {
      // A batch the zone cannot fully hold builds what it can and fails the rest (the worst
      // case a caller must clean up after: the job fails with servers left behind).
      const granted = Math.min(count, zones[zone][flavor])
      zones[zone][flavor] -= granted
      job.failedSubJobs = count - granted
      for (let k = 0; k < granted; k++) {
        const n = this.nextIp++
        const server: FakeHuaweiServer = {
          id: uuid(),
          region,
          projectId,
          zone,
          flavor,
          // ECS numbers the servers of a batch: NAME-0001, NAME-0002, …
          name: count > 1 ? `${s.name}-${String(k + 1).padStart(4, '0')}` : s.name,
          imageId: s.imageRef,
          status: 'BUILD',
          spot: ext.marketType === 'spot',
          spotPrice: ext.spotPrice ?? null,
          created: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
          metadata: {...(s.metadata ?? {})},
          tags: [...(s.server_tags ?? [])],
          userData: s.user_data ?? null,
          vpcId: s.vpcid,
          subnetId: s.nics[0].subnet_id,
          process: null,
          released: false,
          reclaiming: false,
          privateIp: `192.168.${Math.floor(n / 250)}.${(n % 250) + 2}`,
          serverGroupId: groupId,
        }
        this.servers.set(server.id, server)
        job.serverIds.push(server.id)
        answer.serverIds.push(server.id)
        this.later(this.options.pendingMs ?? 30, () => {
          if (server.status !== 'BUILD') return
          server.status = 'ACTIVE'
          if (this.options.bootDir && server.userData) {
            const child = runUserData(join(this.options.bootDir, server.id), server.userData, server.id)
            server.process = child
            child.on('exit', () => {
              if (server.process !== child) return
              server.process = null
              // A guest power-off stops an ECS; it is not deleted. During a graceful reclaim the
              // guest's processes end one by one; ECS stops the server at the deadline.
              if (server.status === 'ACTIVE' && !server.reclaiming) server.status = 'SHUTOFF'
            })
          }
        })
      }
      this.later(this.options.pendingMs ?? 30, () => {
        if (job.failedSubJobs)
          Object.assign(job, {status: 'FAIL', errorCode: 'Ecs.0319', failReason: 'Check capacity: Capacity is not enough.'})
        else job.status = 'SUCCESS'
      })
    }
    if (clientToken) this.tokens.set(clientToken, {body: canonical, answer})
    return answer
  }

  /** The OpenStack metadata service of a server (found by its attempt id): meta_data.json. */
  private metadata(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const m = /^\/_meta\/([^/]+)(\/openstack\/latest\/.*)$/.exec(url.pathname)
    const ofAttempt = m ? this.live().filter((x) => x.metadata['skyhop-attempt-id'] === decodeURIComponent(m[1])) : []
    // A gang's servers share the attempt: the one asking is the one answered.
    const s = ofAttempt.length > 1 ? askingInstance(req, ofAttempt) : (ofAttempt[0] ?? null)
    if (!m || !s) return this.send(res, 404, 'Not Found')
    if (m[2] === '/openstack/latest/meta_data.json') {
      return this.send(res, 200, {
        uuid: s.id,
        name: s.name,
        availability_zone: s.zone,
        project_id: s.projectId,
        meta: {...s.metadata, charging_mode: s.spot ? '2' : '0'},
      })
    }
    this.send(res, 404, 'Not Found')
  }
}
