// Typed clients for the Huawei Cloud APIs the adapter uses, over undici with AK/SK
// signing (sdk-hmac.ts, SDK-HMAC-SHA256): ECS (the v1 `cloudservers` API, plus the
// Nova-compatible console log and availability zones), IMS (image lookup by name) and
// IAM (the projects of the account, for the project id of a region). JSON in, JSON out;
// throttling (APIGW.0308) and 5xx are retried with backoff, other failures mapped onto
// the taxonomy (ecs-errors.ts).
// Endpoints: https://ecs.<region>.myhuaweicloud.com, https://ims.<region>.myhuaweicloud.com,
// https://iam.myhuaweicloud.com; SKYHOP_HUAWEICLOUD_ENDPOINT overrides all of them
// (SKYHOP_HUAWEICLOUD_IAM_ENDPOINT the IAM one alone); either may contain {region} / {service}.
import {createHash} from 'node:crypto'

import {retriedCall, type ApiClientOptions} from '../common/api-client.js'
import {sendRequest} from '../../http/request.js'
import {rfc3986Encode} from '../common/signing-util.js'
import {HuaweiApiError, isRetryableHuaweiError, toHuaweiProviderError} from './ecs-errors.js'
import {signSdkHmac, type HuaweiCredentials} from './sdk-hmac.js'
import {UsageError} from '../../errors.js'

export type Env = Record<string, string | undefined>

export function huaweiEndpoint(service: 'ecs' | 'ims' | 'iam', region: string, env: Env): {url: string; source: string} {
  const iam = service === 'iam' ? env.SKYHOP_HUAWEICLOUD_IAM_ENDPOINT?.trim() : undefined
  const override = iam || env.SKYHOP_HUAWEICLOUD_ENDPOINT?.trim()
  if (override) {
    const u = new URL(override)
    if (u.protocol !== 'https:' && u.protocol !== 'http:')
      throw new UsageError(`${iam ? 'SKYHOP_HUAWEICLOUD_IAM_ENDPOINT' : 'SKYHOP_HUAWEICLOUD_ENDPOINT'} must be http(s): ${override}`, {
        code: 'ENDPOINT_INVALID',
      })
    // `{region}` and `{service}` place the region and product anywhere in the URL, as the
    // real hosts do (a VPC endpoint per region, or one test server for every region).
    const url = u
      .toString()
      .replace(/%7Bregion%7D|\{region\}/g, region)
      .replace(/%7Bservice%7D|\{service\}/g, service)
    return {url: url.replace(/\/$/, ''), source: iam ? 'SKYHOP_HUAWEICLOUD_IAM_ENDPOINT' : 'SKYHOP_HUAWEICLOUD_ENDPOINT'}
  }
  return {url: service === 'iam' ? 'https://iam.myhuaweicloud.com' : `https://${service}.${region}.myhuaweicloud.com`, source: 'default'}
}

/**
 * The idempotency key as an X-Client-Token. The ECS SDKs send X-Client-Token on
 * CreatePostPaidServers ("保证客户端请求幂等性的标识", huaweicloud-sdk-go-v3
 * services/ecs/v2/model/model_create_post_paid_servers_request.go) in UUID form; a UUID
 * derived from the key's SHA-256 keeps it stable across retries and controllers.
 */
export function huaweiClientToken(key: string): string {
  const h = createHash('sha256').update(key).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`
}

export type HuaweiApiOptions = ApiClientOptions<HuaweiCredentials>

interface CallSpec {
  service: 'ecs' | 'ims' | 'iam'
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: string
  query?: Array<[string, string]>
  body?: unknown
  headers?: Array<[string, string]>
  projectId?: string
  /** For messages and retry events, e.g. CreatePostPaidServers. */
  action: string
  context?: {zone?: string | null; flavor?: string}
  /** Statuses that are an answer, not an error (e.g. 404 for "no such server"). */
  accept?: number[]
}

function errorOf(status: number, text: string, requestId: string | null): HuaweiApiError {
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch {
    // Not JSON: the status alone speaks.
  }
  const nested = json.error as {code?: unknown; message?: unknown} | undefined
  const nova = Object.values(json).find(
    (v): v is {message?: unknown; code?: unknown} => typeof v === 'object' && v !== null && 'message' in v,
  )
  const code = typeof json.error_code === 'string' ? json.error_code : typeof nested?.code === 'string' ? nested.code : `HTTP${status}`
  const message =
    typeof json.error_msg === 'string'
      ? json.error_msg
      : typeof nested?.message === 'string'
        ? nested.message
        : typeof nova?.message === 'string'
          ? nova.message
          : `HTTP ${status}`
  const rid = requestId ?? (typeof json.request_id === 'string' ? json.request_id : null)
  return new HuaweiApiError(status, code, message, rid)
}

/** One Huawei Cloud region: signed JSON calls to its services. */
export class HuaweiApi {
  constructor(private readonly options: HuaweiApiOptions) {}

  get region(): string {
    return this.options.region
  }

  private endpoint(service: CallSpec['service']): string {
    const env = this.options.endpoint ? {SKYHOP_HUAWEICLOUD_ENDPOINT: this.options.endpoint} : (this.options.env ?? process.env)
    return huaweiEndpoint(service, this.options.region, env).url
  }

  private async once(spec: CallSpec): Promise<{status: number; json: Record<string, unknown>}> {
    const base = new URL(this.endpoint(spec.service))
    const path = `${base.pathname.replace(/\/$/, '')}${spec.path}`
    const query = spec.query ?? []
    const search = query.length ? `?${query.map(([k, v]) => `${rfc3986Encode(k)}=${rfc3986Encode(v)}`).join('&')}` : ''
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body)
    const headers: Array<[string, string]> = [['Host', base.host], ...(spec.headers ?? [])]
    if (body !== undefined) headers.push(['Content-Type', 'application/json;charset=UTF-8'])
    if (spec.projectId) headers.push(['X-Project-Id', spec.projectId])
    const signed = signSdkHmac({method: spec.method, path, query, headers, body}, await this.options.credentials(), {
      date: (this.options.now ?? (() => new Date()))(),
    })
    const res = await sendRequest({
      url: `${base.origin}${path}${search}`,
      method: spec.method,
      headers: signed.headers,
      body,
      timeoutMs: this.options.timeoutMs ?? 20_000,
      dispatcher: this.options.dispatcher,
    })
    const rid = typeof res.headers['x-request-id'] === 'string' ? res.headers['x-request-id'] : null
    if (res.status >= 300 && !(spec.accept ?? []).includes(res.status)) throw errorOf(res.status, res.body, rid)
    if (res.body.trim() === '') return {status: res.status, json: {}}
    try {
      return {status: res.status, json: JSON.parse(res.body) as Record<string, unknown>}
    } catch {
      throw new HuaweiApiError(
        res.status,
        'MalformedResponse',
        `the ${spec.service} answer to ${spec.action} is not JSON (HTTP ${res.status})`,
        rid,
      )
    }
  }

  /** One call with retries; failures come back as ProviderError. */
  async call(spec: CallSpec): Promise<{status: number; json: Record<string, unknown>}> {
    return retriedCall(
      this.options,
      spec.action,
      () => this.once(spec),
      isRetryableHuaweiError,
      (error) =>
        toHuaweiProviderError(error, {
          action: spec.action,
          region: this.options.region,
          zone: spec.context?.zone,
          flavor: spec.context?.flavor,
        }),
    )
  }
}

export type EcsServerStatus =
  | 'BUILD'
  | 'REBUILD'
  | 'ACTIVE'
  | 'SHUTOFF'
  | 'STOPPED'
  | 'REBOOT'
  | 'HARD_REBOOT'
  | 'MIGRATING'
  | 'RESIZE'
  | 'VERIFY_RESIZE'
  | 'ERROR'
  | 'DELETED'

export interface EcsServer {
  id: string
  name: string
  status: EcsServerStatus
  zone: string | null
  flavor: string | null
  created: string | null
  metadata: Record<string, string>
  /** `key=value` tags, as the v1 API lists them. */
  tags: Record<string, string>
  fault: string | null
  /** The first fixed (private) IPv4 address of its VPC port. */
  privateIp: string | null
}

export interface EcsCreateInput {
  name: string
  imageId: string
  flavor: string
  zone: string
  vpcId: string
  subnetId: string
  securityGroupIds?: string[]
  rootVolume: {type: string; sizeGiB?: number | null}
  /** Base64 of the user data (at most 32 KB before encoding). */
  userData?: string
  metadata?: Record<string, string>
  tags?: Array<{key: string; value: string}>
  /** null: pay-per-use. Otherwise a spot server, with the highest price per hour when given. */
  spot?: {maxPrice: number | null} | null
  clientToken: string
  /** How many servers (one creation job, a sub-job each). Default 1. */
  count?: number
  /** The server group the servers go in (os:scheduler_hints.group). */
  serverGroupId?: string | null
}

export type EcsJobStatus = 'INIT' | 'RUNNING' | 'SUCCESS' | 'FAIL'

export interface EcsJob {
  status: EcsJobStatus
  errorCode: string | null
  failReason: string | null
  serverIds: string[]
  /** The servers whose own sub-job succeeded (a batch can fail with some of them created). */
  createdIds: string[]
}

interface RawServer {
  id?: string
  name?: string
  status?: string
  'OS-EXT-AZ:availability_zone'?: string
  flavor?: {id?: string; name?: string}
  created?: string
  metadata?: Record<string, string>
  tags?: string[]
  fault?: {message?: string; code?: number}
  addresses?: Record<string, Array<{addr?: string; version?: number; 'OS-EXT-IPS:type'?: string}>>
}

export function parseEcsServer(raw: RawServer): EcsServer {
  const tags: Record<string, string> = {}
  for (const t of raw.tags ?? []) {
    const eq = t.indexOf('=')
    if (eq > 0) tags[t.slice(0, eq)] = t.slice(eq + 1)
  }
  return {
    id: raw.id ?? '',
    name: raw.name ?? '',
    status: (raw.status ?? 'BUILD') as EcsServerStatus,
    zone: raw['OS-EXT-AZ:availability_zone'] ?? null,
    flavor: raw.flavor?.id ?? raw.flavor?.name ?? null,
    created: raw.created ?? null,
    metadata: raw.metadata ?? {},
    tags,
    fault: raw.fault?.message ?? null,
    privateIp:
      Object.values(raw.addresses ?? {})
        .flat()
        .find((a) => a.version === 4 && (a['OS-EXT-IPS:type'] ?? 'fixed') === 'fixed')?.addr ?? null,
  }
}

/** ECS (and IMS) of one region, scoped to the region's project. */
export class EcsClient {
  constructor(
    readonly api: HuaweiApi,
    readonly projectId: string,
  ) {}

  get region(): string {
    return this.api.region
  }

  /** POST /v1/{project_id}/cloudservers (CreatePostPaidServers): the job id and the server ids. */
  async createServer(input: EcsCreateInput): Promise<{jobId: string; serverIds: string[]}> {
    const extendparam: Record<string, unknown> = {chargingMode: 'postPaid', regionID: this.region}
    if (input.spot) {
      extendparam.marketType = 'spot'
      if (input.spot.maxPrice !== null) extendparam.spotPrice = input.spot.maxPrice.toFixed(4)
    }
    const server: Record<string, unknown> = {
      availability_zone: input.zone,
      name: input.name,
      imageRef: input.imageId,
      flavorRef: input.flavor,
      vpcid: input.vpcId,
      nics: [{subnet_id: input.subnetId}],
      root_volume: {volumetype: input.rootVolume.type, ...(input.rootVolume.sizeGiB ? {size: Math.ceil(input.rootVolume.sizeGiB)} : {})},
      count: input.count ?? 1,
      extendparam,
    }
    if (input.serverGroupId) server['os:scheduler_hints'] = {group: input.serverGroupId}
    if (input.securityGroupIds?.length) server.security_groups = input.securityGroupIds.map((id) => ({id}))
    if (input.userData) server.user_data = input.userData
    if (input.metadata) server.metadata = input.metadata
    if (input.tags?.length) server.server_tags = input.tags
    const {json} = await this.api.call({
      service: 'ecs',
      method: 'POST',
      path: `/v1/${this.projectId}/cloudservers`,
      body: {server},
      headers: [['X-Client-Token', input.clientToken]],
      projectId: this.projectId,
      action: 'CreatePostPaidServers',
      context: {zone: input.zone, flavor: input.flavor},
    })
    const jobId = typeof json.job_id === 'string' ? json.job_id : ''
    const serverIds = Array.isArray(json.serverIds) ? (json.serverIds as string[]) : []
    if (!jobId)
      throw toHuaweiProviderError(new HuaweiApiError(200, 'MalformedResponse', 'CreatePostPaidServers returned no job id', null), {
        action: 'CreatePostPaidServers',
        region: this.region,
      })
    return {jobId, serverIds}
  }

  /**
   * POST /v1/{project_id}/cloudservers/os-server-groups (CreateServerGroup): a gang's server
   * group. ECS server groups take the anti-affinity policy only: the nodes land on different
   * hosts of one zone. Returns its id (the existing one's, when a group of that name exists).
   */
  async createServerGroup(name: string): Promise<string> {
    // The request carries no idempotency token: a retried launch finds the group it made by name.
    const existing = await this.api.call({
      service: 'ecs',
      method: 'GET',
      path: `/v1/${this.projectId}/cloudservers/os-server-groups`,
      projectId: this.projectId,
      action: 'ListServerGroups',
    })
    const found = ((existing.json.server_groups as Array<{id?: string; name?: string}> | undefined) ?? []).find((g) => g.name === name)
    if (found?.id) return found.id
    const {json} = await this.api.call({
      service: 'ecs',
      method: 'POST',
      path: `/v1/${this.projectId}/cloudservers/os-server-groups`,
      body: {server_group: {name: name.slice(0, 255), policies: ['anti-affinity']}},
      projectId: this.projectId,
      action: 'CreateServerGroup',
    })
    return String((json.server_group as {id?: string} | undefined)?.id ?? '')
  }

  /** DELETE /v1/{project_id}/cloudservers/os-server-groups/{id}; one already gone counts as deleted. */
  async deleteServerGroup(id: string): Promise<void> {
    await this.api.call({
      service: 'ecs',
      method: 'DELETE',
      path: `/v1/${this.projectId}/cloudservers/os-server-groups/${encodeURIComponent(id)}`,
      projectId: this.projectId,
      action: 'DeleteServerGroup',
      accept: [404],
    })
  }

  /** POST /v1/{project_id}/cloudservers/{id}/tags/action (BatchCreateServerTags): adds tags to a server. */
  async tagServer(serverId: string, tags: Array<{key: string; value: string}>): Promise<void> {
    await this.api.call({
      service: 'ecs',
      method: 'POST',
      path: `/v1/${this.projectId}/cloudservers/${encodeURIComponent(serverId)}/tags/action`,
      body: {action: 'create', tags},
      projectId: this.projectId,
      action: 'BatchCreateServerTags',
    })
  }

  /** GET /v1/{project_id}/jobs/{job_id}: an asynchronous task and what it created. */
  async showJob(jobId: string): Promise<EcsJob> {
    const {json} = await this.api.call({
      service: 'ecs',
      method: 'GET',
      path: `/v1/${this.projectId}/jobs/${encodeURIComponent(jobId)}`,
      projectId: this.projectId,
      action: 'ShowJob',
    })
    const subJobs =
      (
        json.entities as
          {sub_jobs?: Array<{status?: string; error_code?: string; fail_reason?: string; entities?: {server_id?: string}}>} | undefined
      )?.sub_jobs ?? []
    const failedSub = subJobs.find((s) => s.status === 'FAIL')
    return {
      status: (typeof json.status === 'string' ? json.status : 'RUNNING') as EcsJobStatus,
      errorCode: (typeof json.error_code === 'string' && json.error_code) || failedSub?.error_code || null,
      failReason: (typeof json.fail_reason === 'string' && json.fail_reason) || failedSub?.fail_reason || null,
      serverIds: subJobs.map((s) => s.entities?.server_id).filter((id): id is string => !!id),
      createdIds: subJobs
        .filter((s) => s.status === 'SUCCESS')
        .map((s) => s.entities?.server_id)
        .filter((id): id is string => !!id),
    }
  }

  /** GET /v1/{project_id}/cloudservers/{server_id}; null when ECS no longer knows it. */
  async showServer(serverId: string): Promise<EcsServer | null> {
    const {status, json} = await this.api.call({
      service: 'ecs',
      method: 'GET',
      path: `/v1/${this.projectId}/cloudservers/${encodeURIComponent(serverId)}`,
      projectId: this.projectId,
      action: 'ShowServer',
      accept: [404],
    })
    if (status === 404 || !json.server) return null
    return parseEcsServer(json.server as RawServer)
  }

  /** POST /v1/{project_id}/cloudservers/resource_instances/action (filter): server ids carrying a tag key (with that value when given). */
  async listServerIdsByTag(tagKey: string, value?: string): Promise<string[]> {
    const out: string[] = []
    for (let offset = 0; ; offset += 100) {
      const {json} = await this.api.call({
        service: 'ecs',
        method: 'POST',
        path: `/v1/${this.projectId}/cloudservers/resource_instances/action`,
        body: {action: 'filter', tags: [{key: tagKey, values: value === undefined ? [] : [value]}], limit: '100', offset: String(offset)},
        projectId: this.projectId,
        action: 'ListServersByTag',
      })
      const page = (json.resources as Array<{resource_id?: string}> | undefined) ?? []
      for (const r of page) if (r.resource_id) out.push(r.resource_id)
      const total = typeof json.total_count === 'number' ? json.total_count : 0
      if (page.length === 0 || offset + page.length >= total) return out
    }
  }

  /** POST /v1/{project_id}/cloudservers/delete, with the disks and any public IP; returns the job id. */
  async deleteServers(serverIds: string[]): Promise<string> {
    const {json} = await this.api.call({
      service: 'ecs',
      method: 'POST',
      path: `/v1/${this.projectId}/cloudservers/delete`,
      body: {servers: serverIds.map((id) => ({id})), delete_publicip: true, delete_volume: true},
      projectId: this.projectId,
      action: 'DeleteServers',
    })
    return typeof json.job_id === 'string' ? json.job_id : ''
  }

  /** POST /v2.1/{project_id}/servers/{id}/action os-getConsoleOutput: the serial console log. */
  async consoleOutput(serverId: string, lines = 5000): Promise<string> {
    const {json} = await this.api.call({
      service: 'ecs',
      method: 'POST',
      path: `/v2.1/${this.projectId}/servers/${encodeURIComponent(serverId)}/action`,
      body: {'os-getConsoleOutput': {length: lines}},
      projectId: this.projectId,
      action: 'ShowConsoleOutput',
    })
    return typeof json.output === 'string' ? json.output : ''
  }

  /** POST /v1/{project_id}/cloudservers/{id}/metadata: sets (or overwrites) metadata keys. */
  async updateMetadata(serverId: string, metadata: Record<string, string>): Promise<void> {
    await this.api.call({
      service: 'ecs',
      method: 'POST',
      path: `/v1/${this.projectId}/cloudservers/${encodeURIComponent(serverId)}/metadata`,
      body: {metadata},
      projectId: this.projectId,
      action: 'UpdateServerMetadata',
    })
  }

  /** GET /v2.1/{project_id}/os-availability-zone: the zones that are available. */
  async availabilityZones(): Promise<string[]> {
    const {json} = await this.api.call({
      service: 'ecs',
      method: 'GET',
      path: `/v2.1/${this.projectId}/os-availability-zone`,
      projectId: this.projectId,
      action: 'NovaListAvailabilityZones',
    })
    return ((json.availabilityZoneInfo as Array<{zoneName?: string; zoneState?: {available?: boolean}}> | undefined) ?? [])
      .filter((z) => z.zoneName && z.zoneState?.available !== false)
      .map((z) => z.zoneName!)
  }

  /** IMS GET /v2/cloudimages?name=…: the id of the newest active image of that name, or null. */
  async findImage(name: string): Promise<string | null> {
    const {json} = await this.api.call({
      service: 'ims',
      method: 'GET',
      path: '/v2/cloudimages',
      query: [
        ['name', name],
        ['status', 'active'],
      ],
      projectId: this.projectId,
      action: 'ListImages',
    })
    const images = ((json.images as Array<{id?: string; created_at?: string}> | undefined) ?? []).filter((i) => i.id)
    images.sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? ''))
    return images[0]?.id ?? null
  }
}

/** IAM GET /v3/auth/projects (KeystoneListAuthProjects): the projects the AK/SK may use. */
export async function listAuthProjects(api: HuaweiApi): Promise<Array<{id: string; name: string}>> {
  const {json} = await api.call({service: 'iam', method: 'GET', path: '/v3/auth/projects', action: 'KeystoneListAuthProjects'})
  return ((json.projects as Array<{id?: string; name?: string; enabled?: boolean}> | undefined) ?? [])
    .filter((p) => p.id && p.name && p.enabled !== false)
    .map((p) => ({id: p.id!, name: p.name!}))
}
