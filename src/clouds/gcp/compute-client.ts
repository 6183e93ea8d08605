// A typed client of the Compute Engine REST API v1 (https://compute.googleapis.com/compute/v1)
// for one project: instances (insert with requestId, get, aggregatedList by label filter,
// delete, setMetadata, getSerialPortOutput), zone operations, zones. Every call carries the
// OAuth access token as a Bearer header; failures are GcpApiError (compute-errors.ts),
// retried under the one policy when transient (rate limits, 5xx, no answer). Mutations
// answer with a zone operation; waitOperation() polls it to DONE and throws its error.
// Endpoint: SKYHOP_GCP_ENDPOINT (a test fake) or compute.googleapis.com.
import {createHash} from 'node:crypto'

import {retriedCall, type ApiClientOptions} from '../common/api-client.js'
import {sendRequest} from '../../http/request.js'
import {UsageError} from '../../errors.js'
import {abortableSleep} from '../../util/sleep.js'
import {GcpApiError, isRetryableGcpError, parseGcpError, toGcpProviderError} from './compute-errors.js'
import type {GcpCredentials} from './credentials.js'

export type Env = Record<string, string | undefined>

export function computeEndpoint(env: Env): {url: string; source: string} {
  const override = env.SKYHOP_GCP_ENDPOINT?.trim()
  if (override) {
    const u = new URL(override)
    if (u.protocol !== 'https:' && u.protocol !== 'http:')
      throw new UsageError(`SKYHOP_GCP_ENDPOINT must be http(s): ${override}`, {code: 'ENDPOINT_INVALID'})
    return {url: u.toString().replace(/\/$/, ''), source: 'SKYHOP_GCP_ENDPOINT'}
  }
  return {url: 'https://compute.googleapis.com', source: 'default'}
}

/** A requestId Compute Engine accepts (a UUID), the same for the same key: a retried insert is answered with its first operation. */
export function requestIdFor(key: string): string {
  const h = createHash('sha256').update(key).digest('hex')
  // Version 4 / variant bits set, so it is a well-formed UUID.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`
}

export type GcpInstanceStatus =
  'PROVISIONING' | 'STAGING' | 'RUNNING' | 'STOPPING' | 'STOPPED' | 'SUSPENDING' | 'SUSPENDED' | 'REPAIRING' | 'TERMINATED'

export interface GcpInstance {
  id: string
  name: string
  zone: string
  status: GcpInstanceStatus
  machineType: string
  labels: Record<string, string>
  metadata: Record<string, string>
  metadataFingerprint: string | null
  provisioningModel: string | null
  creationTimestamp: string | null
  lastStartTimestamp: string | null
  statusMessage: string | null
  privateIp: string | null
}

export interface GcpOperation {
  name: string
  zone: string | null
  status: 'PENDING' | 'RUNNING' | 'DONE'
  operationType: string
  targetId: string | null
  targetLink: string | null
  insertTime: string | null
  errors: Array<{code: string; message: string}>
}

interface RawInstance {
  id?: string
  name?: string
  zone?: string
  status?: string
  statusMessage?: string
  machineType?: string
  labels?: Record<string, string>
  metadata?: {fingerprint?: string; items?: Array<{key?: string; value?: string}>}
  scheduling?: {provisioningModel?: string}
  creationTimestamp?: string
  lastStartTimestamp?: string
  networkInterfaces?: Array<{networkIP?: string}>
}

/** The last path segment of a Compute Engine URL (`…/zones/us-central1-a` → `us-central1-a`). */
export function lastSegment(url: string | undefined): string {
  return (url ?? '').split('/').pop() ?? ''
}

/** A zone's region: `us-central1-a` → `us-central1`. */
export function regionOfZone(zone: string): string {
  return zone.replace(/-[a-z]$/, '')
}

export function parseInstance(raw: RawInstance): GcpInstance {
  const metadata: Record<string, string> = {}
  for (const item of raw.metadata?.items ?? []) if (item.key) metadata[item.key] = item.value ?? ''
  return {
    id: raw.id ?? '',
    name: raw.name ?? '',
    zone: lastSegment(raw.zone),
    status: (raw.status ?? 'PROVISIONING') as GcpInstanceStatus,
    machineType: lastSegment(raw.machineType),
    labels: raw.labels ?? {},
    metadata,
    metadataFingerprint: raw.metadata?.fingerprint ?? null,
    provisioningModel: raw.scheduling?.provisioningModel ?? null,
    creationTimestamp: raw.creationTimestamp ?? null,
    lastStartTimestamp: raw.lastStartTimestamp ?? null,
    statusMessage: raw.statusMessage ?? null,
    privateIp: raw.networkInterfaces?.[0]?.networkIP ?? null,
  }
}

function parseOperation(raw: Record<string, unknown>): GcpOperation {
  const error = raw.error as {errors?: Array<{code?: string; message?: string}>} | undefined
  return {
    name: String(raw.name ?? ''),
    zone: raw.zone ? lastSegment(String(raw.zone)) : null,
    status: (raw.status ?? 'PENDING') as GcpOperation['status'],
    operationType: String(raw.operationType ?? ''),
    targetId: raw.targetId ? String(raw.targetId) : null,
    targetLink: raw.targetLink ? String(raw.targetLink) : null,
    insertTime: raw.insertTime ? String(raw.insertTime) : null,
    errors: (error?.errors ?? []).map((e) => ({code: e.code ?? 'UNKNOWN', message: e.message ?? ''})),
  }
}

export type GcpApiOptions = ApiClientOptions<GcpCredentials> & {sleep?: (ms: number) => Promise<void>; operationPollMs?: number}

export class ComputeClient {
  readonly endpoint: string

  constructor(private readonly options: GcpApiOptions) {
    this.endpoint = options.endpoint?.replace(/\/$/, '') ?? computeEndpoint(options.env ?? process.env).url
  }

  get region(): string {
    return this.options.region
  }

  private async once(method: string, path: string, query: Record<string, string>, body: unknown): Promise<Record<string, unknown>> {
    const {accessToken, project} = await this.options.credentials()
    const url = new URL(`${this.endpoint}/compute/v1/projects/${encodeURIComponent(project)}/${path}`)
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v)
    const res = await sendRequest({
      url,
      method,
      headers: {
        authorization: `Bearer ${accessToken}`,
        accept: 'application/json',
        ...(body === undefined ? {} : {'content-type': 'application/json'}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: this.options.timeoutMs ?? 20_000,
      dispatcher: this.options.dispatcher,
    })
    if (res.status >= 300) throw parseGcpError(res.status, res.body)
    try {
      return JSON.parse(res.body) as Record<string, unknown>
    } catch {
      throw new GcpApiError(res.status, 'MalformedResponse', `the answer to ${method} ${path.split('?')[0]} is not JSON`, null)
    }
  }

  /** One call with retries; failures come back as ProviderError. */
  async call(
    action: string,
    method: string,
    path: string,
    options: {query?: Record<string, string>; body?: unknown; zone?: string | null; instanceType?: string} = {},
  ): Promise<Record<string, unknown>> {
    return retriedCall(
      this.options,
      action,
      () => this.once(method, path, options.query ?? {}, options.body),
      isRetryableGcpError,
      (error) => toGcpProviderError(error, {action, region: this.region, zone: options.zone, instanceType: options.instanceType}),
    )
  }

  /** instances.insert: the operation, which a retry with the same requestId answers again (for 60 minutes). */
  async insertInstance(zone: string, body: Record<string, unknown>, requestId: string): Promise<GcpOperation> {
    const op = await this.call('instances.insert', 'POST', `zones/${zone}/instances`, {
      query: {requestId},
      body,
      zone,
      instanceType: lastSegment(String(body.machineType ?? '')),
    })
    return parseOperation(op)
  }

  /**
   * instances.bulkInsert: `count` instances from one template, all or nothing when minCount
   * equals count, named by `namePattern` (`#` replaced by 1…count). Answers one operation,
   * which a retry with the same requestId answers again.
   */
  async bulkInsert(zone: string, body: Record<string, unknown>, requestId: string, instanceType: string): Promise<GcpOperation> {
    const op = await this.call('instances.bulkInsert', 'POST', `zones/${zone}/instances/bulkInsert`, {
      query: {requestId},
      body,
      zone,
      instanceType,
    })
    return parseOperation(op)
  }

  /** An instance by name, or null when the zone has none (404). */
  async getInstance(zone: string, name: string): Promise<GcpInstance | null> {
    try {
      return parseInstance(await this.call('instances.get', 'GET', `zones/${zone}/instances/${name}`, {zone}))
    } catch (error) {
      if ((error as {backendCode?: string}).backendCode === 'notFound') return null
      throw error
    }
  }

  /** Every instance of the project matching a filter (e.g. `labels.skyhop-attempt-id:*`), over all zones and pages. */
  async aggregatedInstances(filter: string): Promise<GcpInstance[]> {
    const out: GcpInstance[] = []
    let pageToken: string | undefined
    do {
      const json = await this.call('instances.aggregatedList', 'GET', 'aggregated/instances', {
        query: {filter, maxResults: '500', ...(pageToken ? {pageToken} : {})},
      })
      const items = (json.items ?? {}) as Record<string, {instances?: RawInstance[]}>
      for (const scoped of Object.values(items)) for (const raw of scoped.instances ?? []) out.push(parseInstance(raw))
      pageToken = typeof json.nextPageToken === 'string' && json.nextPageToken ? json.nextPageToken : undefined
    } while (pageToken)
    return out
  }

  /** Deletes an instance; false when it was already gone. */
  async deleteInstance(zone: string, name: string): Promise<boolean> {
    try {
      await this.call('instances.delete', 'DELETE', `zones/${zone}/instances/${name}`, {zone})
      return true
    } catch (error) {
      if ((error as {backendCode?: string}).backendCode === 'notFound') return false
      throw error
    }
  }

  /** Sets one metadata item, keeping the others (the fingerprint makes it a compare-and-set: a 412 reads again). */
  async setMetadataItem(zone: string, name: string, key: string, value: string): Promise<boolean> {
    for (let tries = 0; ; tries++) {
      const instance = await this.getInstance(zone, name)
      if (!instance) return false
      const items = Object.entries({...instance.metadata, [key]: value}).map(([k, v]) => ({key: k, value: v}))
      try {
        await this.call('instances.setMetadata', 'POST', `zones/${zone}/instances/${name}/setMetadata`, {
          body: {fingerprint: instance.metadataFingerprint, items},
          zone,
        })
        return true
      } catch (error) {
        const code = (error as {backendCode?: string}).backendCode
        if (code === 'notFound') return false
        if (code !== 'conditionNotMet' || tries >= 3) throw error
      }
    }
  }

  /** The instance's serial port 1 output Compute Engine still holds (its last 1 MB), or null when the instance is gone. */
  async serialPortOutput(zone: string, name: string): Promise<string | null> {
    try {
      const json = await this.call('instances.getSerialPortOutput', 'GET', `zones/${zone}/instances/${name}/serialPort`, {
        query: {port: '1', start: '0'},
        zone,
      })
      return typeof json.contents === 'string' ? json.contents : ''
    } catch (error) {
      if ((error as {backendCode?: string}).backendCode === 'notFound') return null
      throw error
    }
  }

  async getOperation(zone: string, name: string): Promise<GcpOperation> {
    return parseOperation(await this.call('zoneOperations.get', 'GET', `zones/${zone}/operations/${name}`, {zone}))
  }

  /** Operations of a zone matching a filter, e.g. the preemptions of one instance. */
  async listOperations(zone: string, filter: string): Promise<GcpOperation[]> {
    const json = await this.call('zoneOperations.list', 'GET', `zones/${zone}/operations`, {query: {filter}, zone})
    return ((json.items as Array<Record<string, unknown>> | undefined) ?? []).map(parseOperation)
  }

  /**
   * Polls an operation until DONE; its first error is thrown as a GcpApiError classified like
   * an API error (ZONE_RESOURCE_POOL_EXHAUSTED, QUOTA_EXCEEDED). Gives up after `timeoutMs`.
   */
  async waitOperation(op: GcpOperation, context: {instanceType?: string} = {}, timeoutMs = 600_000): Promise<GcpOperation> {
    const sleep = this.options.sleep ?? abortableSleep
    const zone = op.zone ?? ''
    const until = Date.now() + timeoutMs
    let current = op
    while (current.status !== 'DONE') {
      if (Date.now() > until) {
        throw toGcpProviderError(new GcpApiError(504, 'backendError', `operation ${op.name} not done within ${timeoutMs} ms`, null), {
          action: current.operationType || 'operation',
          region: this.region,
          zone,
          instanceType: context.instanceType,
        })
      }
      await sleep(this.options.operationPollMs ?? 1000)
      current = await this.getOperation(zone, op.name)
    }
    const first = current.errors[0]
    if (first) {
      throw toGcpProviderError(new GcpApiError(200, first.code, first.message, current.name), {
        action: `instances.${current.operationType || 'operation'}`,
        region: this.region,
        zone,
        instanceType: context.instanceType,
      })
    }
    return current
  }

  /** The region's zones that are UP. */
  async listZones(region: string): Promise<string[]> {
    // Unfiltered (a project sees about a hundred zones, one page): the region is matched here.
    const json = await this.call('zones.list', 'GET', 'zones', {query: {maxResults: '500'}})
    return ((json.items as Array<{name?: string; status?: string; region?: string}> | undefined) ?? [])
      .filter((z) => z.status === 'UP' && lastSegment(z.region) === region && z.name)
      .map((z) => z.name!)
      .sort()
  }
}
