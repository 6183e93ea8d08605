// A typed Alibaba Cloud ECS client (RPC style, API version 2014-05-26): ACS3-HMAC-SHA256
// signed POSTs with the parameters form-encoded in the body, JSON answers, throttling and
// 5xx retried with backoff, other errors mapped onto the taxonomy (ecs-errors.ts).
// Endpoint: https://ecs.<region>.aliyuncs.com, or SKYHOP_ALIYUN_ENDPOINT.
import type {Currency, Money} from '../../model/job-spec.js'
import {retriedCall, type ApiClientOptions} from '../common/api-client.js'
import {sendRequest} from '../../http/request.js'
import {rfc3986Encode} from '../common/signing-util.js'
import {signAcs3, type AliyunCredentials} from './acs3.js'
import {AliyunApiError, isRetryableAliyunError, toAliyunProviderError} from './ecs-errors.js'
import {BugError, UsageError} from '../../errors.js'

export const ECS_API_VERSION = '2014-05-26'

export type Params = Array<[string, string]>

export type EcsClientOptions = ApiClientOptions<AliyunCredentials>

export function ecsEndpoint(region: string, env: Record<string, string | undefined>): {url: string; source: string} {
  const override = env.SKYHOP_ALIYUN_ENDPOINT?.trim()
  if (override) {
    const u = new URL(override)
    if (u.protocol !== 'https:' && u.protocol !== 'http:')
      throw new UsageError(`SKYHOP_ALIYUN_ENDPOINT must be http(s): ${override}`, {code: 'ENDPOINT_INVALID'})
    return {url: u.toString(), source: 'SKYHOP_ALIYUN_ENDPOINT'}
  }
  return {url: `https://ecs.${region}.aliyuncs.com/`, source: 'default'}
}

export type EcsStatus = 'Pending' | 'Starting' | 'Running' | 'Stopping' | 'Stopped'

export interface EcsInstance {
  instanceId: string
  status: EcsStatus
  zone: string | null
  instanceType: string
  creationTime: string | null
  spotStrategy: string | null
  tags: Record<string, string>
  /** e.g. `Recycling` when a spot instance is being reclaimed. */
  lockReasons: string[]
  /** The primary private IP in its VPC. */
  privateIp: string | null
  deploymentSetId: string | null
}

export interface EcsRunInput {
  /** An image id, or `family:<ImageFamily>` for the newest image of a family. */
  imageId: string
  instanceType: string
  zone?: string | null
  clientToken: string
  userData?: string
  tags?: Array<{key: string; value: string}>
  /** null: on-demand. `SpotWithPriceLimit` when a limit is given, else `SpotAsPriceGo`. */
  spot?: {priceLimit?: Money | null; protectionHours?: 0 | 1} | null
  vSwitchId?: string | null
  securityGroupId?: string | null
  systemDiskGiB?: number | null
  /** UTC time at which ECS releases the instance on its own (a safety net). */
  autoReleaseTime?: string | null
  /** How many instances, all or none (Amount = MinAmount). Default 1. */
  amount?: number
  /** The deployment set the instances go in (a gang's LowLatency set). */
  deploymentSetId?: string | null
}

export interface EcsSpotPrice {
  zone: string
  instanceType: string
  price: Money
  timestamp: string
}

function indexed(prefix: string, values: string[]): Params {
  return values.map((v, i) => [`${prefix}.${i + 1}`, v])
}

interface RawInstance {
  InstanceId?: string
  Status?: string
  ZoneId?: string
  InstanceType?: string
  CreationTime?: string
  SpotStrategy?: string
  Tags?: {Tag?: Array<{TagKey?: string; TagValue?: string}>}
  OperationLocks?: {LockReason?: Array<{LockReason?: string}>}
  VpcAttributes?: {PrivateIpAddress?: {IpAddress?: string[]}}
  DeploymentSetId?: string
}

export function parseEcsInstance(raw: RawInstance): EcsInstance {
  const tags: Record<string, string> = {}
  for (const t of raw.Tags?.Tag ?? []) if (t.TagKey) tags[t.TagKey] = t.TagValue ?? ''
  return {
    instanceId: raw.InstanceId ?? '',
    status: (raw.Status ?? 'Pending') as EcsStatus,
    zone: raw.ZoneId ?? null,
    instanceType: raw.InstanceType ?? '',
    creationTime: raw.CreationTime ?? null,
    spotStrategy: raw.SpotStrategy ?? null,
    tags,
    lockReasons: (raw.OperationLocks?.LockReason ?? []).map((l) => l.LockReason ?? '').filter(Boolean),
    privateIp: raw.VpcAttributes?.PrivateIpAddress?.IpAddress?.[0] ?? null,
    deploymentSetId: raw.DeploymentSetId || null,
  }
}

export class EcsClient {
  readonly region: string
  readonly endpoint: string

  constructor(private readonly options: EcsClientOptions) {
    this.region = options.region
    this.endpoint = options.endpoint ?? ecsEndpoint(options.region, options.env ?? process.env).url
  }

  private async once(action: string, params: Params): Promise<Record<string, unknown>> {
    const url = new URL(this.endpoint)
    const body = params.map(([k, v]) => `${rfc3986Encode(k)}=${rfc3986Encode(v)}`).join('&')
    const signed = signAcs3(
      {
        method: 'POST',
        path: url.pathname,
        headers: [
          ['host', url.host],
          ['content-type', 'application/x-www-form-urlencoded'],
          ['x-acs-action', action],
          ['x-acs-version', ECS_API_VERSION],
        ],
        body,
      },
      await this.options.credentials(),
      {date: (this.options.now ?? (() => new Date()))()},
    )
    const res = await sendRequest({
      url: url.toString(),
      method: 'POST',
      headers: signed.headers,
      body,
      timeoutMs: this.options.timeoutMs ?? 20_000,
      dispatcher: this.options.dispatcher,
    })
    let json: Record<string, unknown>
    try {
      json = JSON.parse(res.body) as Record<string, unknown>
    } catch {
      throw new AliyunApiError(
        res.status,
        res.status >= 500 ? 'InternalError' : 'MalformedResponse',
        `the ECS answer to ${action} is not JSON (HTTP ${res.status})`,
        null,
      )
    }
    if (res.status >= 300 || typeof json.Code === 'string') {
      throw new AliyunApiError(
        res.status,
        String(json.Code ?? `HTTP${res.status}`),
        String(json.Message ?? ''),
        typeof json.RequestId === 'string' ? json.RequestId : null,
      )
    }
    return json
  }

  /** One action with retries; failures come back as ProviderError. */
  async call(
    action: string,
    params: Params,
    context: {zone?: string | null; instanceType?: string} = {},
  ): Promise<Record<string, unknown>> {
    return retriedCall(
      this.options,
      action,
      () => this.once(action, [['RegionId', this.region], ...params]),
      isRetryableAliyunError,
      (error) => toAliyunProviderError(error, {action, region: this.region, zone: context.zone, instanceType: context.instanceType}),
    )
  }

  /** The instance ids, all `amount` of them or an error (MinAmount = Amount: ECS creates none when it cannot create all). */
  async runInstances(input: EcsRunInput): Promise<string[]> {
    if (!/^[\x21-\x7e]{1,64}$/.test(input.clientToken)) throw new BugError('RunInstances: ClientToken must be 1-64 ASCII characters')
    const amount = String(input.amount ?? 1)
    const p: Params = [
      input.imageId.startsWith('family:') ? ['ImageFamily', input.imageId.slice('family:'.length)] : ['ImageId', input.imageId],
      ['InstanceType', input.instanceType],
      ['Amount', amount],
      ...(input.amount && input.amount > 1 ? ([['MinAmount', amount]] as Params) : []),
      ['ClientToken', input.clientToken],
      ['InstanceChargeType', 'PostPaid'],
      ['InternetMaxBandwidthOut', '0'],
    ]
    if (input.zone) p.push(['ZoneId', input.zone])
    if (input.userData) p.push(['UserData', input.userData])
    if (input.vSwitchId) p.push(['VSwitchId', input.vSwitchId])
    if (input.securityGroupId) p.push(['SecurityGroupId', input.securityGroupId])
    if (input.systemDiskGiB) p.push(['SystemDisk.Size', String(Math.ceil(input.systemDiskGiB))])
    if (input.autoReleaseTime) p.push(['AutoReleaseTime', input.autoReleaseTime])
    if (input.deploymentSetId) p.push(['DeploymentSetId', input.deploymentSetId])
    if (input.spot) {
      const limit = input.spot.priceLimit
      p.push(
        ['SpotStrategy', limit ? 'SpotWithPriceLimit' : 'SpotAsPriceGo'],
        ['SpotInterruptionBehavior', 'Terminate'],
        ['SpotDuration', String(input.spot.protectionHours ?? 1)],
      )
      if (limit) p.push(['SpotPriceLimit', limit.amount.toFixed(4)])
    } else p.push(['SpotStrategy', 'NoSpot'])
    ;(input.tags ?? []).forEach((t, i) => p.push([`Tag.${i + 1}.Key`, t.key], [`Tag.${i + 1}.Value`, t.value]))
    const json = await this.call('RunInstances', p, {zone: input.zone, instanceType: input.instanceType})
    const ids = (json.InstanceIdSets as {InstanceIdSet?: string[]} | undefined)?.InstanceIdSet ?? []
    if (!ids[0])
      throw toAliyunProviderError(new AliyunApiError(200, 'MalformedResponse', 'RunInstances returned no instance id', null), {
        action: 'RunInstances',
        region: this.region,
      })
    return ids
  }

  async runInstance(input: EcsRunInput): Promise<string> {
    return (await this.runInstances({...input, amount: 1}))[0]
  }

  /** A deployment set (a gang's: Strategy LowLatency keeps its instances close in the network); returns its id. */
  async createDeploymentSet(input: {name: string; strategy: 'LowLatency' | 'Availability'; clientToken: string}): Promise<string> {
    const json = await this.call('CreateDeploymentSet', [
      ['DeploymentSetName', input.name],
      ['Strategy', input.strategy],
      ['ClientToken', input.clientToken],
    ])
    return String(json.DeploymentSetId ?? '')
  }

  /** Deletes a deployment set; false while instances are still in it; one already gone counts as deleted. */
  async deleteDeploymentSet(id: string): Promise<boolean> {
    try {
      await this.call('DeleteDeploymentSet', [['DeploymentSetId', id]])
      return true
    } catch (error) {
      const code = (error as {backendCode?: string}).backendCode
      if (code === 'InvalidDeploymentSetId.NotFound') return true
      if (code === 'DependencyViolation.NotEmpty') return false
      throw error
    }
  }

  /** Tags instances (TagResources). */
  async tagInstances(instanceIds: string[], tags: Array<{key: string; value: string}>): Promise<void> {
    const p: Params = [['ResourceType', 'instance'], ...indexed('ResourceId', instanceIds)]
    tags.forEach((t, i) => p.push([`Tag.${i + 1}.Key`, t.key], [`Tag.${i + 1}.Value`, t.value]))
    await this.call('TagResources', p)
  }

  /** Instances by ids (up to 100 per call, batched) or by tag, following NextToken. */
  async describeInstances(query: {instanceIds?: string[]; tags?: Array<{key: string; value?: string}>}): Promise<EcsInstance[]> {
    const out: EcsInstance[] = []
    const batches: Array<string[] | null> = []
    if (query.instanceIds) for (let i = 0; i < query.instanceIds.length; i += 100) batches.push(query.instanceIds.slice(i, i + 100))
    else batches.push(null)
    for (const ids of batches) {
      let nextToken: string | undefined
      do {
        const p: Params = [['MaxResults', '100']]
        if (ids) p.push(['InstanceIds', JSON.stringify(ids)])
        ;(query.tags ?? []).forEach((t, i) => {
          p.push([`Tag.${i + 1}.Key`, t.key])
          if (t.value !== undefined) p.push([`Tag.${i + 1}.Value`, t.value])
        })
        if (nextToken) p.push(['NextToken', nextToken])
        const json = await this.call('DescribeInstances', p)
        for (const raw of (json.Instances as {Instance?: RawInstance[]} | undefined)?.Instance ?? []) out.push(parseEcsInstance(raw))
        nextToken = typeof json.NextToken === 'string' && json.NextToken !== '' ? json.NextToken : undefined
      } while (nextToken)
    }
    return out
  }

  async deleteInstances(instanceIds: string[]): Promise<void> {
    if (instanceIds.length === 0) return
    await this.call('DeleteInstances', [...indexed('InstanceId', instanceIds), ['Force', 'true']])
  }

  async getConsoleOutput(instanceId: string): Promise<string | null> {
    const json = await this.call('GetInstanceConsoleOutput', [
      ['InstanceId', instanceId],
      ['RemoveSymbols', 'true'],
    ])
    const out = typeof json.ConsoleOutput === 'string' ? json.ConsoleOutput : ''
    return out ? Buffer.from(out, 'base64').toString('utf8') : null
  }

  /** Runs a shell script through Cloud Assistant on the instance; returns the invoke id. */
  async runCommand(instanceIds: string[], script: string, timeoutSeconds = 60): Promise<string> {
    const json = await this.call('RunCommand', [
      ['Type', 'RunShellScript'],
      ['CommandContent', Buffer.from(script, 'utf8').toString('base64')],
      ['ContentEncoding', 'Base64'],
      ['Timeout', String(timeoutSeconds)],
      ...indexed('InstanceId', instanceIds),
    ])
    return String(json.InvokeId ?? '')
  }

  async describeSpotPriceHistory(query: {instanceType: string; zone?: string; startTime?: Date}): Promise<EcsSpotPrice[]> {
    const p: Params = [
      ['NetworkType', 'vpc'],
      ['InstanceType', query.instanceType],
      ['IoOptimized', 'optimized'],
      ['OSType', 'linux'],
    ]
    if (query.zone) p.push(['ZoneId', query.zone])
    if (query.startTime) p.push(['StartTime', query.startTime.toISOString().replace(/\.\d{3}Z$/, 'Z')])
    const json = await this.call('DescribeSpotPriceHistory', p)
    const currency = (json.Currency === 'USD' ? 'USD' : 'CNY') as Currency
    const rows =
      (
        json.SpotPrices as
          {SpotPriceType?: Array<{ZoneId?: string; InstanceType?: string; SpotPrice?: number; Timestamp?: string}>} | undefined
      )?.SpotPriceType ?? []
    return rows
      .filter((r) => typeof r.SpotPrice === 'number')
      .map((r) => ({
        zone: r.ZoneId ?? '',
        instanceType: r.InstanceType ?? query.instanceType,
        price: {amount: r.SpotPrice!, currency},
        timestamp: r.Timestamp ?? '',
      }))
  }

  /** The pay-as-you-go hourly price of an instance type (DescribePrice). */
  async describePrice(instanceType: string, zone?: string): Promise<Money> {
    const p: Params = [
      ['ResourceType', 'instance'],
      ['InstanceType', instanceType],
      ['PriceUnit', 'Hour'],
    ]
    if (zone) p.push(['ZoneId', zone])
    const json = await this.call('DescribePrice', p, {zone, instanceType})
    const price = (json.PriceInfo as {Price?: {TradePrice?: number; Currency?: string}} | undefined)?.Price
    if (typeof price?.TradePrice !== 'number')
      throw toAliyunProviderError(new AliyunApiError(200, 'MalformedResponse', 'DescribePrice returned no TradePrice', null), {
        action: 'DescribePrice',
        region: this.region,
      })
    return {amount: price.TradePrice, currency: price.Currency === 'USD' ? 'USD' : 'CNY'}
  }

  async describeZones(): Promise<string[]> {
    const json = await this.call('DescribeZones', [])
    return ((json.Zones as {Zone?: Array<{ZoneId?: string}>} | undefined)?.Zone ?? []).map((z) => z.ZoneId ?? '').filter(Boolean)
  }
}
