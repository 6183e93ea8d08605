// Typed clients for the two Tencent Cloud APIs the adapter uses, over undici with TC3
// signing (tc3.ts): CVM (version 2017-03-12: RunInstances, DescribeInstances,
// TerminateInstances, InquiryPriceRunInstances, DescribeZones, DescribeImages) and TAT,
// the in-guest automation agent (version 2020-10-28: RunCommand,
// DescribeInvocationTasks), which is the adapter's status, log and stop channel because
// CVM has no console-output API. API 3.0 style: POST of a JSON body with X-TC-Action /
// X-TC-Version / X-TC-Region headers; every answer is `{"Response": {...}}`, failures carry
// `Response.Error.Code` with HTTP 200. Throttling and 5xx are retried with backoff.
// Endpoint: https://<service>.tencentcloudapi.com, or SKYHOP_TENCENTCLOUD_ENDPOINT for both.
import type {Currency, Money} from '../../model/job-spec.js'
import {retriedCall, type ApiClientOptions} from '../common/api-client.js'
import {sendRequest} from '../../http/request.js'
import {isRetryableTencentError, TencentApiError, toTencentProviderError} from './cvm-errors.js'
import {signTc3, type TencentCredentials} from './tc3.js'
import {BugError, UsageError} from '../../errors.js'

export const CVM_API_VERSION = '2017-03-12'
export const TAT_API_VERSION = '2020-10-28'

export type Env = Record<string, string | undefined>

export function tencentEndpoint(service: string, env: Env): {url: string; source: string} {
  const override = env.SKYHOP_TENCENTCLOUD_ENDPOINT?.trim()
  if (override) {
    const u = new URL(override)
    if (u.protocol !== 'https:' && u.protocol !== 'http:')
      throw new UsageError(`SKYHOP_TENCENTCLOUD_ENDPOINT must be http(s): ${override}`, {code: 'ENDPOINT_INVALID'})
    return {url: u.toString(), source: 'SKYHOP_TENCENTCLOUD_ENDPOINT'}
  }
  return {url: `https://${service}.tencentcloudapi.com/`, source: 'default'}
}

export type TencentApiOptions = ApiClientOptions<TencentCredentials>

/** One Tencent Cloud API (a product and its version) in one region. */
export class TencentApi {
  readonly endpoint: string

  constructor(
    readonly service: string,
    readonly version: string,
    private readonly options: TencentApiOptions,
  ) {
    this.endpoint = options.endpoint ?? tencentEndpoint(service, options.env ?? process.env).url
  }

  get region(): string {
    return this.options.region
  }

  private async once(action: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const url = new URL(this.endpoint)
    const body = JSON.stringify(params)
    const now = (this.options.now ?? (() => new Date()))()
    const signed = signTc3(
      {
        method: 'POST',
        path: url.pathname,
        headers: [
          ['Host', url.host],
          ['Content-Type', 'application/json; charset=utf-8'],
          ['X-TC-Action', action],
          ['X-TC-Version', this.version],
          ['X-TC-Region', this.options.region],
        ],
        body,
      },
      await this.options.credentials(),
      {service: this.service, timestamp: Math.floor(now.getTime() / 1000)},
    )
    const res = await sendRequest({
      url: url.toString(),
      method: 'POST',
      headers: signed.headers,
      body,
      timeoutMs: this.options.timeoutMs ?? 20_000,
      dispatcher: this.options.dispatcher,
    })
    let json: {Response?: Record<string, unknown>}
    try {
      json = JSON.parse(res.body) as typeof json
    } catch {
      throw new TencentApiError(
        res.status,
        res.status >= 500 ? 'InternalError' : 'MalformedResponse',
        `the ${this.service} answer to ${action} is not JSON (HTTP ${res.status})`,
        null,
      )
    }
    const response = json.Response
    const requestId = typeof response?.RequestId === 'string' ? response.RequestId : null
    const error = response?.Error as {Code?: string; Message?: string} | undefined
    if (error?.Code) throw new TencentApiError(res.status, error.Code, error.Message ?? '', requestId)
    if (res.status >= 300 || !response)
      throw new TencentApiError(
        res.status,
        res.status >= 500 ? 'InternalError' : `HTTP${res.status}`,
        `${action} answered HTTP ${res.status}`,
        requestId,
      )
    return response
  }

  /** One action with retries; failures come back as ProviderError. */
  async call(
    action: string,
    params: Record<string, unknown>,
    context: {zone?: string | null; instanceType?: string} = {},
  ): Promise<Record<string, unknown>> {
    return retriedCall(
      this.options,
      action,
      () => this.once(action, params),
      isRetryableTencentError,
      (error) =>
        toTencentProviderError(error, {action, region: this.options.region, zone: context.zone, instanceType: context.instanceType}),
    )
  }
}

/** CVM's instance states (InstanceState). */
export type CvmState =
  'PENDING' | 'LAUNCH_FAILED' | 'RUNNING' | 'STOPPED' | 'STARTING' | 'STOPPING' | 'REBOOTING' | 'SHUTDOWN' | 'TERMINATING'

export interface CvmInstance {
  instanceId: string
  state: CvmState
  zone: string | null
  instanceType: string
  createdTime: string | null
  chargeType: string | null
  tags: Record<string, string>
  latestOperation: string | null
  latestOperationState: string | null
  /** The instance's display name (a gang node's carries its rank). */
  name: string | null
  privateIp: string | null
  placementGroupId: string | null
}

export interface CvmRunInput {
  imageId: string
  instanceType: string
  zone: string
  clientToken: string
  /** Base64 of the user data (at most 16 KB before encoding). */
  userData?: string
  tags?: Array<{key: string; value: string}>
  /** null: POSTPAID_BY_HOUR. Otherwise SPOTPAID with this bid (MaxPrice is mandatory). */
  spot?: {maxPrice: Money} | null
  instanceName?: string
  systemDiskGiB?: number | null
  vpc?: {vpcId: string; subnetId: string} | null
  securityGroupIds?: string[]
  /** UTC time at which CVM terminates the instance on its own (ActionTimer, a safety net). */
  terminateAt?: string | null
  /** How many instances (InstanceCount). Default 1. */
  count?: number
  /** The placement group the instances go in (DisasterRecoverGroupIds). */
  placementGroupId?: string | null
}

interface RawInstance {
  InstanceId?: string
  InstanceState?: string
  Placement?: {Zone?: string}
  InstanceType?: string
  CreatedTime?: string
  InstanceChargeType?: string
  Tags?: Array<{Key?: string; Value?: string}>
  LatestOperation?: string
  LatestOperationState?: string
  InstanceName?: string
  PrivateIpAddresses?: string[]
  DisasterRecoverGroupId?: string
}

export function parseCvmInstance(raw: RawInstance): CvmInstance {
  const tags: Record<string, string> = {}
  for (const t of raw.Tags ?? []) if (t.Key) tags[t.Key] = t.Value ?? ''
  return {
    instanceId: raw.InstanceId ?? '',
    state: (raw.InstanceState ?? 'PENDING') as CvmState,
    zone: raw.Placement?.Zone ?? null,
    instanceType: raw.InstanceType ?? '',
    createdTime: raw.CreatedTime ?? null,
    chargeType: raw.InstanceChargeType ?? null,
    tags,
    latestOperation: raw.LatestOperation ?? null,
    latestOperationState: raw.LatestOperationState ?? null,
    name: raw.InstanceName ?? null,
    privateIp: raw.PrivateIpAddresses?.[0] ?? null,
    placementGroupId: raw.DisasterRecoverGroupId || null,
  }
}

/** The parameters RunInstances and InquiryPriceRunInstances share. */
function runParams(input: Omit<CvmRunInput, 'clientToken'>): Record<string, unknown> {
  const p: Record<string, unknown> = {
    Placement: {Zone: input.zone},
    InstanceType: input.instanceType,
    ImageId: input.imageId,
    InstanceCount: input.count ?? 1,
    InstanceChargeType: input.spot ? 'SPOTPAID' : 'POSTPAID_BY_HOUR',
    // No public address: the channel is TAT, nothing inbound is needed.
    InternetAccessible: {PublicIpAssigned: false, InternetMaxBandwidthOut: 0},
  }
  if (input.spot)
    p.InstanceMarketOptions = {
      MarketType: 'spot',
      SpotOptions: {MaxPrice: input.spot.maxPrice.amount.toFixed(4), SpotInstanceType: 'one-time'},
    }
  if (input.systemDiskGiB) p.SystemDisk = {DiskType: 'CLOUD_PREMIUM', DiskSize: Math.max(50, Math.ceil(input.systemDiskGiB))}
  if (input.vpc) p.VirtualPrivateCloud = {VpcId: input.vpc.vpcId, SubnetId: input.vpc.subnetId}
  if (input.securityGroupIds?.length) p.SecurityGroupIds = input.securityGroupIds
  if (input.placementGroupId) p.DisasterRecoverGroupIds = [input.placementGroupId]
  return p
}

export class CvmClient {
  readonly api: TencentApi

  constructor(options: TencentApiOptions) {
    this.api = new TencentApi('cvm', CVM_API_VERSION, options)
  }

  get region(): string {
    return this.api.region
  }

  /**
   * The ids of the instances asked for (InstanceCount). RunInstances is asynchronous: an id
   * is a request, and an instance may still end LAUNCH_FAILED (describeInstances says).
   */
  async runInstances(input: CvmRunInput): Promise<string[]> {
    if (!/^[\x21-\x7e]{1,64}$/.test(input.clientToken)) throw new BugError('RunInstances: ClientToken must be 1-64 ASCII characters')
    const p = runParams(input)
    p.ClientToken = input.clientToken
    if (input.instanceName) p.InstanceName = input.instanceName.slice(0, 60)
    if (input.userData) p.UserData = input.userData
    if (input.tags?.length) p.TagSpecification = [{ResourceType: 'instance', Tags: input.tags.map((t) => ({Key: t.key, Value: t.value}))}]
    if (input.terminateAt)
      p.ActionTimer = {TimerAction: 'TerminateInstances', ActionTime: input.terminateAt, Externals: {ReleaseAddress: true}}
    const json = await this.api.call('RunInstances', p, {zone: input.zone, instanceType: input.instanceType})
    const ids = Array.isArray(json.InstanceIdSet) ? (json.InstanceIdSet as string[]) : []
    if (!ids[0])
      throw toTencentProviderError(new TencentApiError(200, 'MalformedResponse', 'RunInstances returned no instance id', null), {
        action: 'RunInstances',
        region: this.region,
      })
    return ids
  }

  /** A placement group (DisasterRecoverGroup) of `type`; returns its id. */
  async createPlacementGroup(input: {name: string; type: 'HOST' | 'SW' | 'RACK'; clientToken: string}): Promise<string> {
    const json = await this.api.call('CreateDisasterRecoverGroup', {
      Name: input.name.slice(0, 60),
      Type: input.type,
      ClientToken: input.clientToken,
    })
    return String(json.DisasterRecoverGroupId ?? '')
  }

  /**
   * Deletes a placement group; false while it still holds instances (CVM deletes only empty
   * groups; its documentation names no code for that refusal, so any FailedOperation or
   * ResourceInUse answer counts as "not yet"); one already gone counts as deleted.
   */
  async deletePlacementGroup(id: string): Promise<boolean> {
    try {
      await this.api.call('DeleteDisasterRecoverGroups', {DisasterRecoverGroupIds: [id]})
      return true
    } catch (error) {
      const code = (error as {backendCode?: string}).backendCode ?? ''
      if (/^(ResourceNotFound|InvalidParameterValue\.(DisasterRecoverGroup|PlacementSet)NotFound)/.test(code)) return true
      if (/^(FailedOperation|ResourceInUse)/.test(code)) return false
      throw error
    }
  }

  /** Renames instances (ModifyInstancesAttribute): a gang node's name carries its rank. */
  async renameInstance(instanceId: string, name: string): Promise<void> {
    await this.api.call('ModifyInstancesAttribute', {InstanceIds: [instanceId], InstanceName: name.slice(0, 60)})
  }

  /** Instances by id (100 per call, batched) or by filters, following Offset/Limit. */
  async describeInstances(query: {instanceIds?: string[]; filters?: Array<{name: string; values: string[]}>}): Promise<CvmInstance[]> {
    const out: CvmInstance[] = []
    if (query.instanceIds) {
      for (let i = 0; i < query.instanceIds.length; i += 100) {
        const json = await this.api.call('DescribeInstances', {InstanceIds: query.instanceIds.slice(i, i + 100), Limit: 100})
        for (const raw of (json.InstanceSet as RawInstance[] | undefined) ?? []) out.push(parseCvmInstance(raw))
      }
      return out
    }
    for (let offset = 0; ; offset += 100) {
      const json = await this.api.call('DescribeInstances', {
        Filters: (query.filters ?? []).map((f) => ({Name: f.name, Values: f.values})),
        Offset: offset,
        Limit: 100,
      })
      const page = (json.InstanceSet as RawInstance[] | undefined) ?? []
      for (const raw of page) out.push(parseCvmInstance(raw))
      const total = typeof json.TotalCount === 'number' ? json.TotalCount : 0
      if (page.length === 0 || offset + page.length >= total) return out
    }
  }

  async terminateInstances(instanceIds: string[]): Promise<void> {
    for (let i = 0; i < instanceIds.length; i += 100)
      await this.api.call('TerminateInstances', {InstanceIds: instanceIds.slice(i, i + 100)})
  }

  /** The hourly price of one instance of this shape, in the currency of the site the endpoint belongs to. */
  async inquiryPrice(input: Omit<CvmRunInput, 'clientToken'>, currency: Currency): Promise<Money> {
    const json = await this.api.call('InquiryPriceRunInstances', runParams(input), {zone: input.zone, instanceType: input.instanceType})
    const price = (json.Price as {InstancePrice?: {UnitPrice?: number; UnitPriceDiscount?: number; ChargeUnit?: string}} | undefined)
      ?.InstancePrice
    const amount = price?.UnitPriceDiscount ?? price?.UnitPrice
    if (typeof amount !== 'number')
      throw toTencentProviderError(new TencentApiError(200, 'MalformedResponse', 'InquiryPriceRunInstances returned no UnitPrice', null), {
        action: 'InquiryPriceRunInstances',
        region: this.region,
      })
    return {amount, currency}
  }

  async describeZones(): Promise<Array<{zone: string; available: boolean}>> {
    const json = await this.api.call('DescribeZones', {})
    return ((json.ZoneSet as Array<{Zone?: string; ZoneState?: string}> | undefined) ?? [])
      .map((z) => ({zone: z.Zone ?? '', available: z.ZoneState === 'AVAILABLE'}))
      .filter((z) => z.zone)
  }

  /** The id of the newest public image of this name in the region, or null. */
  async findPublicImage(name: string): Promise<string | null> {
    const json = await this.api.call('DescribeImages', {
      Filters: [
        {Name: 'image-type', Values: ['PUBLIC_IMAGE']},
        {Name: 'image-name', Values: [name]},
      ],
      Limit: 100,
    })
    const images = (
      (json.ImageSet as Array<{ImageId?: string; ImageName?: string; CreatedTime?: string; ImageState?: string}> | undefined) ?? []
    ).filter((i) => i.ImageId && i.ImageState !== 'CREATEFAILED')
    images.sort((a, b) => (b.CreatedTime ?? '').localeCompare(a.CreatedTime ?? ''))
    return images[0]?.ImageId ?? null
  }
}

export type TatTaskStatus =
  | 'PENDING'
  | 'DELIVERING'
  | 'DELIVER_DELAYED'
  | 'DELIVER_FAILED'
  | 'START_FAILED'
  | 'RUNNING'
  | 'SUCCESS'
  | 'FAILED'
  | 'TIMEOUT'
  | 'TASK_TIMEOUT'
  | 'CANCELLING'
  | 'CANCELLED'
  | 'TERMINATED'

export const TAT_FINISHED: ReadonlySet<string> = new Set([
  'DELIVER_FAILED',
  'START_FAILED',
  'SUCCESS',
  'FAILED',
  'TIMEOUT',
  'TASK_TIMEOUT',
  'CANCELLED',
  'TERMINATED',
])

export interface TatTask {
  invocationId: string
  instanceId: string
  status: TatTaskStatus
  exitCode: number | null
  /** The command's output (TAT keeps the first 24 KB). */
  output: string
}

export class TatClient {
  readonly api: TencentApi

  constructor(options: TencentApiOptions) {
    this.api = new TencentApi('tat', TAT_API_VERSION, options)
  }

  /** Runs a shell script as root on the instances (100 per call); returns the invocation id. */
  async runCommand(instanceIds: string[], script: string, timeoutSeconds = 60): Promise<string> {
    const json = await this.api.call('RunCommand', {
      Content: Buffer.from(script, 'utf8').toString('base64'),
      InstanceIds: instanceIds.slice(0, 100),
      CommandType: 'SHELL',
      Timeout: timeoutSeconds,
      Username: 'root',
      SaveCommand: false,
    })
    return String(json.InvocationId ?? '')
  }

  async describeInvocationTasks(invocationIds: string[]): Promise<TatTask[]> {
    const out: TatTask[] = []
    if (invocationIds.length === 0) return out
    for (let offset = 0; ; offset += 100) {
      const json = await this.api.call('DescribeInvocationTasks', {
        Filters: [{Name: 'invocation-id', Values: invocationIds}],
        HideOutput: false,
        Offset: offset,
        Limit: 100,
      })
      const page =
        (json.InvocationTaskSet as
          | Array<{InvocationId?: string; InstanceId?: string; TaskStatus?: string; TaskResult?: {ExitCode?: number; Output?: string}}>
          | undefined) ?? []
      for (const t of page) {
        out.push({
          invocationId: t.InvocationId ?? '',
          instanceId: t.InstanceId ?? '',
          status: (t.TaskStatus ?? 'PENDING') as TatTaskStatus,
          exitCode: typeof t.TaskResult?.ExitCode === 'number' ? t.TaskResult.ExitCode : null,
          output: t.TaskResult?.Output ? Buffer.from(t.TaskResult.Output, 'base64').toString('utf8') : '',
        })
      }
      const total = typeof json.TotalCount === 'number' ? json.TotalCount : 0
      if (page.length === 0 || offset + page.length >= total) return out
    }
  }
}
