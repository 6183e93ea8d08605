// A FAKE of Tencent Cloud for tests: a local HTTP server speaking API 3.0 as the
// "Signature v3" documentation describes it (POST of a JSON body, X-TC-Action /
// X-TC-Version / X-TC-Region / X-TC-Timestamp headers, `{"Response": {...}}` answers and
// `Response.Error.Code` errors with HTTP 200) for two products: CVM (2017-03-12) and TAT
// (2020-10-28). Not Tencent Cloud; tests reach it through SKYHOP_TENCENTCLOUD_ENDPOINT.
//
// Real behaviour: verifies every TC3-HMAC-SHA256 signature with skyhop's canonicalization
// (unknown SecretIds, bad signatures, a credential scope that does not match the
// timestamp or product, stale timestamps and wrong tokens are refused); instances with
// CVM's states (PENDING, RUNNING, STOPPING, STOPPED, TERMINATING — a guest power-off
// stops, it does not terminate); per-zone stock per instance type, a per-region instance
// quota, spot prices and bids, idempotent ClientTokens, tag filters, Offset/Limit paging;
// InquiryPriceRunInstances; any error code and throttling injected on demand; spot
// reclaims announced on the instance's metadata path (UTC+8 wall time, as Tencent serves
// it); TAT RunCommand / DescribeInvocationTasks executing the script "in the guest"; and,
// given a boot directory, user data run locally as cloud-init would, including its
// power-off (a `shutdown` stub on PATH), so the boot script's linger is real.
import {spawn, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {join} from 'node:path'

import {parseTc3Authorization, tc3CanonicalRequest, tc3Date, tc3SigningKey} from '../../src/clouds/tencentcloud/tc3.js'
import {hmacSha256Hex, sha256Hex, signaturesEqual} from '../../src/clouds/common/signing-util.js'
import {askingInstance, bootEnv, FakeCloudServer, Injections, killGroup, readBody, restock, runUserData, uuid} from './fake-cloud-server.js'

export interface FakeTencentKey {
  secretId: string
  secretKey: string
  token?: string
}

export interface FakeTencentOptions {
  keys: FakeTencentKey[]
  /** region → zone → instance type → stock. A type missing from a zone is not sold there. */
  stock: Record<string, Record<string, Record<string, number>>>
  /** zone → instance type → spot price per hour. */
  spotPrices?: Record<string, Record<string, number>>
  /** instance type → pay-as-you-go price per hour. */
  prices?: Record<string, number>
  /** region → most live instances. */
  instanceQuota?: Record<string, number>
  /** Public images (the same ids in every region, as Tencent's public images are). */
  images?: Array<{id: string; name: string}>
  pageSize?: number
  pendingMs?: number
  /** Runs user data locally when set. */
  bootDir?: string
  now?: () => number
}

export type FakeCvmState = 'PENDING' | 'LAUNCH_FAILED' | 'RUNNING' | 'STOPPING' | 'STOPPED' | 'TERMINATING'

export interface FakeCvmInstance {
  id: string
  region: string
  zone: string
  instanceType: string
  state: FakeCvmState
  chargeType: string
  maxPrice: number | null
  createdTime: string
  tags: Map<string, string>
  userData: string | null
  terminationTime: string | null
  process: ChildProcess | null
  released: boolean
  /** Scripts TAT ran on it, in order. */
  commands: string[]
  name: string
  privateIp: string
  placementGroupId: string | null
}

export interface FakePlacementGroup {
  id: string
  region: string
  name: string
  type: string
}

export interface FakeTatTask {
  taskId: string
  invocationId: string
  instanceId: string
  status: 'RUNNING' | 'SUCCESS' | 'FAILED'
  exitCode: number | null
  output: string
}

export interface TencentCall {
  service: string
  action: string
  region: string
  code: string | null
  params: Record<string, unknown>
}

export const DEFAULT_TENCENT_IMAGES = [
  {id: 'img-487zeit5', name: 'Ubuntu Server 22.04 LTS 64bit'},
  {id: 'img-gpu2204a', name: 'Ubuntu Server 22.04 LTS 64bit with GPU driver'},
]

const VERSIONS: Record<string, string> = {cvm: '2017-03-12', tat: '2020-10-28'}

class FakeTencentError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

function shortId(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`
}

/** `YYYY-MM-DD HH:MM:SS` in UTC+8, the way Tencent's metadata serves termination-time. */
export function beijingWallTime(ms: number): string {
  return new Date(ms + 8 * 3600_000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, '')
}

export class FakeTencentCvmServer extends FakeCloudServer {
  readonly instances = new Map<string, FakeCvmInstance>()
  readonly tasks = new Map<string, FakeTatTask>()
  readonly calls: TencentCall[] = []
  private readonly injections = new Injections<{service?: string; action?: string; code: string; message?: string; times?: number}>()
  private readonly tokens = new Map<string, {ids: string[]; params: string}>()
  readonly placementGroups = new Map<string, FakePlacementGroup>()
  private readonly groupTokens = new Map<string, string>()
  private nextIp = 10

  constructor(readonly options: FakeTencentOptions) {
    super()
  }

  /** API 3.0 reports even its own failures with HTTP 200 and an error document. */
  protected override crashed(res: ServerResponse, error: Error): void {
    this.send(res, 200, {Response: {Error: {Code: 'InternalError', Message: `fake: ${error.message}`}, RequestId: uuid()}})
  }

  protected override killInstances(): void {
    for (const i of this.instances.values()) killGroup(i.process)
  }

  /** Per-attempt metadata base for the runner (`{attemptId}` is replaced by the provider). */
  get metadataBaseTemplate(): string {
    return `${this.url}_meta/{attemptId}`
  }

  inject(injection: {service?: string; action?: string; code: string; message?: string; times?: number}): void {
    this.injections.add(injection)
  }

  throttle(times: number, action?: string): void {
    this.inject({
      action,
      code: 'RequestLimitExceeded',
      message:
        'Your current request times equals to `21` in a second, which exceeds the frequency limit `20` for a second. Please reduce the frequency of calls.',
      times,
    })
  }

  setStock(region: string, zone: string, type: string, n: number): void {
    ;((this.options.stock[region] ??= {})[zone] ??= {})[type] = n
  }

  live(): FakeCvmInstance[] {
    return [...this.instances.values()].filter((i) => !i.released)
  }

  /** Serves termination-time now; after `noticeMs` the instance is terminated (and gone 2 s later). */
  reclaimSpot(instanceId: string, noticeMs: number): void {
    const i = this.instances.get(instanceId)!
    i.terminationTime = beijingWallTime(this.now() + noticeMs)
    this.later(noticeMs, () => {
      killGroup(i.process)
      i.process = null
      i.state = 'TERMINATING'
      this.later(2000, () => this.release(i))
    })
  }

  private release(i: FakeCvmInstance): void {
    if (i.released) return
    killGroup(i.process)
    i.process = null
    i.released = true
    // A node that failed to launch never held a slot.
    if (i.state !== 'LAUNCH_FAILED') restock(this.options.stock, i.region, i.zone, i.instanceType)
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body)
    res.writeHead(status, {'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json'})
    res.end(text)
  }

  protected override async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req)
    const url = new URL(req.url ?? '/', 'http://fake')
    if (url.pathname.startsWith('/_meta/')) return this.metadata(req, res, url)
    const action = String(req.headers['x-tc-action'] ?? '')
    const region = String(req.headers['x-tc-region'] ?? '')
    const requestId = uuid()
    let service = ''
    let params: Record<string, unknown> = {}
    try {
      if (req.method !== 'POST') throw new FakeTencentError('UnsupportedProtocol', 'Only POST is supported by this fake.')
      service = this.verify(req, url, body)
      try {
        params = body === '' ? {} : (JSON.parse(body) as Record<string, unknown>)
      } catch {
        throw new FakeTencentError('InvalidParameter', 'The request body is not valid JSON.')
      }
      if (req.headers['x-tc-version'] !== VERSIONS[service])
        throw new FakeTencentError(
          'InvalidParameterValue',
          `Version ${String(req.headers['x-tc-version'])} is not supported by ${service}.`,
        )
      if (!(region in this.options.stock))
        throw new FakeTencentError('InvalidParameterValue.InvalidRegion', `The region \`${region}\` is not supported.`)
      const inj = this.injections.take((i) => (!i.action || i.action === action) && (!i.service || i.service === service))
      if (inj) throw new FakeTencentError(inj.code, inj.message ?? `injected ${inj.code}`)
      const result = service === 'cvm' ? this.cvm(action, region, params) : this.tat(action, region, params)
      this.calls.push({service, action, region, code: null, params})
      this.send(res, 200, {Response: {...result, RequestId: requestId}})
    } catch (error) {
      if (!(error instanceof FakeTencentError)) throw error
      this.calls.push({service, action, region, code: error.code, params})
      this.send(res, 200, {Response: {Error: {Code: error.code, Message: error.message}, RequestId: requestId}})
    }
  }

  /** TC3 verification over exactly the signed headers; returns the product the scope names. */
  private verify(req: IncomingMessage, url: URL, body: string): string {
    const auth = parseTc3Authorization(String(req.headers.authorization ?? ''))
    if (!auth)
      throw new FakeTencentError('AuthFailure.InvalidAuthorization', 'The Authorization header does not conform to TC3-HMAC-SHA256.')
    const key = this.options.keys.find((k) => k.secretId === auth.secretId)
    if (!key)
      throw new FakeTencentError('AuthFailure.SecretIdNotFound', 'The SecretId is not found, please ensure that your SecretId is correct.')
    if (!(auth.service in VERSIONS))
      throw new FakeTencentError('AuthFailure.InvalidAuthorization', `The credential scope names an unknown service ${auth.service}.`)
    for (const h of ['content-type', 'host'])
      if (!auth.signedHeaders.includes(h)) throw new FakeTencentError('AuthFailure.InvalidAuthorization', `header ${h} must be signed`)
    const timestamp = Number(req.headers['x-tc-timestamp'])
    if (!Number.isInteger(timestamp) || Math.abs(timestamp * 1000 - this.now()) > 5 * 60_000)
      throw new FakeTencentError('AuthFailure.SignatureExpire', 'Signature expired, request time is too far from the server time.')
    if (auth.date !== tc3Date(timestamp))
      throw new FakeTencentError('AuthFailure.InvalidAuthorization', 'The date in the credential scope does not match X-TC-Timestamp.')
    if (key.token !== undefined && req.headers['x-tc-token'] !== key.token)
      throw new FakeTencentError('AuthFailure.TokenFailure', 'Token verification failed.')
    const raw = req.rawHeaders
    const headers: Array<[string, string]> = []
    for (let i = 0; i < raw.length; i += 2) headers.push([raw[i], raw[i + 1]])
    let creq
    try {
      creq = tc3CanonicalRequest(
        {method: req.method ?? 'POST', path: url.pathname, query: [...url.searchParams], headers, body},
        auth.signedHeaders,
      )
    } catch {
      throw new FakeTencentError('AuthFailure.SignatureFailure', 'A signed header is missing from the request.')
    }
    const stringToSign = ['TC3-HMAC-SHA256', String(timestamp), `${auth.date}/${auth.service}/tc3_request`, sha256Hex(creq.text)].join('\n')
    const expected = hmacSha256Hex(tc3SigningKey(key.secretKey, auth.date, auth.service), stringToSign)
    if (!signaturesEqual(expected, auth.signature))
      throw new FakeTencentError(
        'AuthFailure.SignatureFailure',
        'The provided credentials could not be validated. Please check your signature is correct.',
      )
    return auth.service
  }

  private instance(region: string, id: string): FakeCvmInstance {
    const i = this.instances.get(id)
    if (!i || i.released || i.region !== region)
      throw new FakeTencentError('InvalidInstanceId.NotFound', `The instance \`${id}\` is not found.`)
    return i
  }

  private view(i: FakeCvmInstance): Record<string, unknown> {
    return {
      InstanceId: i.id,
      InstanceState: i.state,
      Placement: {Zone: i.zone, ProjectId: 0},
      InstanceType: i.instanceType,
      InstanceChargeType: i.chargeType,
      CreatedTime: i.createdTime,
      Tags: [...i.tags].map(([Key, Value]) => ({Key, Value})),
      LatestOperation: 'RunInstances',
      LatestOperationState: i.state === 'LAUNCH_FAILED' ? 'FAILED' : 'SUCCESS',
      InstanceName: i.name,
      PrivateIpAddresses: [i.privateIp],
      DisasterRecoverGroupId: i.placementGroupId ?? '',
    }
  }

  private page<T>(items: T[], p: Record<string, unknown>): {page: T[]; total: number} {
    const limit = Math.min(Number(p.Limit ?? 20), 100, this.options.pageSize ?? 100)
    const offset = Number(p.Offset ?? 0)
    return {page: items.slice(offset, offset + limit), total: items.length}
  }

  private cvm(action: string, region: string, p: Record<string, unknown>): Record<string, unknown> {
    switch (action) {
      case 'RunInstances':
        return {InstanceIdSet: this.run(region, p)}
      case 'CreateDisasterRecoverGroup': {
        const type = String(p.Type ?? '')
        if (!['HOST', 'SW', 'RACK'].includes(type)) throw new FakeTencentError('InvalidParameterValue', `Type ${type} is not valid.`)
        const name = String(p.Name ?? '')
        if (name.length < 1 || name.length > 60) throw new FakeTencentError('InvalidParameterValue', 'Name must be 1-60 characters.')
        const token = typeof p.ClientToken === 'string' ? p.ClientToken : null
        const again = token ? this.groupTokens.get(token) : undefined
        if (again) return {DisasterRecoverGroupId: again}
        const id = shortId('ps')
        this.placementGroups.set(id, {id, region, name, type})
        if (token) this.groupTokens.set(token, id)
        return {
          DisasterRecoverGroupId: id,
          Type: type,
          Name: name,
          CvmQuotaTotal: 50,
          CurrentNum: 0,
          CreateTime: new Date(this.now()).toISOString(),
        }
      }
      case 'DeleteDisasterRecoverGroups': {
        for (const id of (p.DisasterRecoverGroupIds as string[] | undefined) ?? []) {
          const group = this.placementGroups.get(id)
          if (!group || group.region !== region)
            throw new FakeTencentError('ResourceNotFound.PlacementSet', `The placement group \`${id}\` is not found.`)
          if (this.live().some((i) => i.placementGroupId === id))
            throw new FakeTencentError('FailedOperation.PlacementSetNotEmpty', `The placement group \`${id}\` still holds instances.`)
          this.placementGroups.delete(id)
        }
        return {}
      }
      case 'ModifyInstancesAttribute': {
        const name = p.InstanceName
        for (const id of (p.InstanceIds as string[] | undefined) ?? []) if (typeof name === 'string') this.instance(region, id).name = name
        return {}
      }
      case 'DescribeInstances': {
        const ids = p.InstanceIds as string[] | undefined
        if (ids && ids.length > 100) throw new FakeTencentError('InvalidParameterValue.LimitExceeded', 'At most 100 InstanceIds per call.')
        if (ids && p.Filters)
          throw new FakeTencentError('InvalidParameterCombination', 'InstanceIds and Filters cannot be specified at the same time.')
        const filters = (p.Filters as Array<{Name: string; Values: string[]}> | undefined) ?? []
        const all = [...this.instances.values()].filter(
          (i) =>
            !i.released &&
            i.region === region &&
            (!ids || ids.includes(i.id)) &&
            filters.every((f) => {
              if (f.Name === 'tag-key') return f.Values.some((v) => i.tags.has(v))
              if (f.Name.startsWith('tag:')) return f.Values.includes(i.tags.get(f.Name.slice(4)) ?? '\u0000')
              if (f.Name === 'zone') return f.Values.includes(i.zone)
              if (f.Name === 'instance-charge-type') return f.Values.includes(i.chargeType)
              throw new FakeTencentError('InvalidFilter', `Filter ${f.Name} is not supported by this fake.`)
            }),
        )
        const {page, total} = ids ? {page: all, total: all.length} : this.page(all, p)
        return {TotalCount: total, InstanceSet: page.map((i) => this.view(i))}
      }
      case 'TerminateInstances': {
        const ids = (p.InstanceIds as string[] | undefined) ?? []
        const found = ids.map((id) => this.instance(region, id))
        for (const i of found) {
          killGroup(i.process)
          i.process = null
          i.state = 'TERMINATING'
          this.later(50, () => this.release(i))
        }
        return {}
      }
      case 'InquiryPriceRunInstances': {
        const type = String(p.InstanceType)
        const zone = String((p.Placement as {Zone?: string} | undefined)?.Zone ?? '')
        if (!p.ImageId) throw new FakeTencentError('MissingParameter', 'The request is missing a required parameter `ImageId`.')
        const spot = p.InstanceChargeType === 'SPOTPAID'
        const price = spot ? this.options.spotPrices?.[zone]?.[type] : this.options.prices?.[type]
        if (price === undefined)
          throw new FakeTencentError('ResourceNotFound.InvalidZoneInstanceType', `The instance type ${type} is not sold in ${zone}.`)
        const original = this.options.prices?.[type] ?? price
        return {
          Price: {
            InstancePrice: {
              UnitPrice: original,
              ChargeUnit: 'HOUR',
              UnitPriceDiscount: price,
              Discount: Math.round((price / original) * 100),
            },
            BandwidthPrice: {UnitPrice: 0, ChargeUnit: 'GB', UnitPriceDiscount: 0, Discount: 100},
          },
        }
      }
      case 'DescribeZones':
        return {
          TotalCount: Object.keys(this.options.stock[region]).length,
          ZoneSet: Object.keys(this.options.stock[region]).map((z) => ({Zone: z, ZoneName: z, ZoneId: z, ZoneState: 'AVAILABLE'})),
        }
      case 'DescribeImages': {
        const filters = (p.Filters as Array<{Name: string; Values: string[]}> | undefined) ?? []
        const images = (this.options.images ?? DEFAULT_TENCENT_IMAGES).filter((img) =>
          filters.every((f) =>
            f.Name === 'image-name' ? f.Values.includes(img.name) : f.Name === 'image-type' ? f.Values.includes('PUBLIC_IMAGE') : true,
          ),
        )
        return {
          TotalCount: images.length,
          ImageSet: images.map((i) => ({
            ImageId: i.id,
            ImageName: i.name,
            ImageType: 'PUBLIC_IMAGE',
            ImageState: 'NORMAL',
            CreatedTime: '2024-01-01T00:00:00Z',
          })),
        }
      }
      default:
        throw new FakeTencentError('InvalidAction', `The action ${action} is not found for cvm in this fake.`)
    }
  }

  private run(region: string, p: Record<string, unknown>): string[] {
    const token = typeof p.ClientToken === 'string' ? p.ClientToken : null
    const key = JSON.stringify(p)
    if (token) {
      if (token.length > 64)
        throw new FakeTencentError('InvalidClientToken.TooLong', 'The specified ClientToken exceeds the maximum length of 64 bytes.')
      const seen = this.tokens.get(token)
      if (seen) {
        if (seen.params !== key) throw new FakeTencentError('InvalidParameterValue', 'The ClientToken was used with different parameters.')
        return seen.ids
      }
    }
    const type = String(p.InstanceType ?? '')
    const zone = String((p.Placement as {Zone?: string} | undefined)?.Zone ?? '')
    const zones = this.options.stock[region]
    if (!zone) throw new FakeTencentError('MissingParameter', 'The request is missing a required parameter `Placement.Zone`.')
    if (!(zone in zones))
      throw new FakeTencentError('InvalidZone.MismatchRegion', `The specified zone \`${zone}\` does not exist in ${region}.`)
    if (!(this.options.images ?? DEFAULT_TENCENT_IMAGES).some((i) => i.id === p.ImageId))
      throw new FakeTencentError('InvalidImageId.NotFound', `The image \`${String(p.ImageId)}\` is not found.`)
    if (!(type in zones[zone]))
      throw new FakeTencentError(
        'ResourceNotFound.InvalidZoneInstanceType',
        `The instance type \`${type}\` is not supported in zone \`${zone}\`.`,
      )
    const userData = typeof p.UserData === 'string' ? p.UserData : null
    if (userData && Buffer.from(userData, 'base64').length > 16 * 1024)
      throw new FakeTencentError('InvalidParameterValue.InvalidUserDataFormat', 'UserData exceeds 16 KB.')
    const charge = String(p.InstanceChargeType ?? 'POSTPAID_BY_HOUR')
    let maxPrice: number | null = null
    if (charge === 'SPOTPAID') {
      const market = p.InstanceMarketOptions as {MarketType?: string; SpotOptions?: {MaxPrice?: string}} | undefined
      if (market?.MarketType !== 'spot' || !market.SpotOptions?.MaxPrice)
        throw new FakeTencentError('MissingParameter', 'SPOTPAID needs InstanceMarketOptions.SpotOptions.MaxPrice.')
      maxPrice = Number(market.SpotOptions.MaxPrice)
      const price = this.options.spotPrices?.[zone]?.[type]
      if (price === undefined)
        throw new FakeTencentError('InvalidParameterValue.InsufficientOffering', 'The spot instances are out of stock.')
      if (maxPrice < price)
        throw new FakeTencentError(
          'InvalidParameterValue.InsufficientPrice',
          `The bid ${maxPrice} is lower than the market price ${price}.`,
        )
    }
    const count = Number(p.InstanceCount ?? 1)
    if (!Number.isInteger(count) || count < 1 || count > 100)
      throw new FakeTencentError('InvalidParameterValue.Range', 'InstanceCount must be 1 to 100.')
    const groupIds = (p.DisasterRecoverGroupIds as string[] | undefined) ?? []
    const group = groupIds[0] === undefined ? null : this.placementGroups.get(groupIds[0])
    if (groupIds.length > 0 && (!group || group.region !== region))
      throw new FakeTencentError(
        'InvalidParameterValue.InvalidDisasterRecoverGroupId',
        `The placement group \`${groupIds[0]}\` is not found.`,
      )
    const quota = this.options.instanceQuota?.[region]
    if (quota !== undefined && this.live().filter((i) => i.region === region).length + count > quota)
      throw new FakeTencentError('LimitExceeded.InstanceQuota', 'You are short of the instance quota.')
    if ((zones[zone][type] ?? 0) <= 0)
      throw new FakeTencentError(
        'ResourceInsufficient.SpecifiedInstanceType',
        `The specified instance type \`${type}\` is insufficient in \`${zone}\`.`,
      )
    // RunInstances is asynchronous: what the zone cannot hold is accepted and ends LAUNCH_FAILED.
    const granted = Math.min(count, zones[zone][type])
    zones[zone][type] -= granted
    const tags = new Map<string, string>()
    for (const spec of (p.TagSpecification as Array<{ResourceType?: string; Tags?: Array<{Key: string; Value: string}>}> | undefined) ??
      []) {
      if (spec.ResourceType === 'instance') for (const t of spec.Tags ?? []) tags.set(t.Key, t.Value)
    }
    const baseName = typeof p.InstanceName === 'string' ? p.InstanceName : 'Unnamed'
    const ids: string[] = []
    for (let k = 0; k < count; k++) {
      const id = shortId('ins')
      const n = this.nextIp++
      const instance: FakeCvmInstance = {
        id,
        region,
        zone,
        instanceType: type,
        state: 'PENDING',
        chargeType: charge,
        maxPrice,
        createdTime: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        tags: new Map(tags),
        userData,
        terminationTime: null,
        process: null,
        released: false,
        commands: [],
        // Several instances of one call are named NAME1, NAME2, … when no pattern is given.
        name: count > 1 ? `${baseName}${k + 1}` : baseName,
        privateIp: `10.1.${Math.floor(n / 250)}.${(n % 250) + 2}`,
        placementGroupId: group?.id ?? null,
      }
      this.instances.set(id, instance)
      ids.push(id)
      const fails = k >= granted
      this.later(this.options.pendingMs ?? 30, () => {
        if (instance.state !== 'PENDING') return
        instance.state = fails ? 'LAUNCH_FAILED' : 'RUNNING'
        if (!fails && this.options.bootDir && instance.userData) this.boot(instance)
      })
    }
    if (token) this.tokens.set(token, {ids, params: key})
    return ids
  }

  /**
   * Runs the user data as cloud-init would, with a `shutdown` stub on PATH so the boot
   * script's own linger and power-off happen; the script's exit is the guest power-off,
   * which stops a CVM instance (it keeps billing its disk until terminated).
   */
  private boot(i: FakeCvmInstance): void {
    const dir = join(this.options.bootDir!, i.id)
    mkdirSync(join(dir, 'bin'), {recursive: true})
    writeFileSync(join(dir, 'bin', 'shutdown'), '#!/bin/sh\nexit 0\n')
    chmodSync(join(dir, 'bin', 'shutdown'), 0o755)
    const env: Record<string, string> = {...bootEnv(dir), HOME: dir, PATH: `${join(dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`}
    delete env.SKYHOP_BOOT_NO_SHUTDOWN
    const child = runUserData(dir, i.userData!, i.id, env)
    i.process = child
    child.on('exit', () => {
      if (i.process !== child) return
      i.process = null
      if (i.state === 'RUNNING') {
        i.state = 'STOPPING'
        this.later(30, () => {
          if (i.state === 'STOPPING') i.state = 'STOPPED'
        })
      }
    })
  }

  private tat(action: string, region: string, p: Record<string, unknown>): Record<string, unknown> {
    switch (action) {
      case 'RunCommand': {
        const ids = (p.InstanceIds as string[] | undefined) ?? []
        if (ids.length === 0 || ids.length > 100)
          throw new FakeTencentError('InvalidParameterValue', 'InstanceIds must name 1 to 100 instances.')
        if (p.CommandType !== undefined && p.CommandType !== 'SHELL')
          throw new FakeTencentError('InvalidParameterValue', `CommandType ${String(p.CommandType)} is not supported on Linux.`)
        const script = Buffer.from(String(p.Content ?? ''), 'base64').toString('utf8')
        const instances = ids.map((id) => {
          const i = this.instances.get(id)
          if (!i || i.released || i.region !== region)
            throw new FakeTencentError('InvalidInstanceId.NotFound', `The instance \`${id}\` is not found.`)
          if (i.state !== 'RUNNING')
            throw new FakeTencentError('InvalidInstanceId.NotRunning', `The agent of instance \`${id}\` is not online.`)
          return i
        })
        const invocationId = shortId('inv')
        for (const i of instances) {
          i.commands.push(script)
          const task: FakeTatTask = {taskId: shortId('invt'), invocationId, instanceId: i.id, status: 'RUNNING', exitCode: null, output: ''}
          this.tasks.set(task.taskId, task)
          if (!this.options.bootDir) {
            Object.assign(task, {status: 'SUCCESS', exitCode: 0})
            continue
          }
          // The agent runs the script as root "in the guest": here under the instance's boot root.
          const child = spawn('bash', ['-c', script], {env: bootEnv(join(this.options.bootDir, i.id)), stdio: ['ignore', 'pipe', 'pipe']})
          const out: Buffer[] = []
          child.stdout.on('data', (d: Buffer) => out.push(d))
          child.stderr.on('data', (d: Buffer) => out.push(d))
          child.on('close', (code) => {
            // TAT keeps the first 24 KB of output.
            task.output = Buffer.concat(out)
              .subarray(0, 24 * 1024)
              .toString('base64')
            task.exitCode = code ?? -1
            task.status = code === 0 ? 'SUCCESS' : 'FAILED'
          })
        }
        return {CommandId: shortId('cmd'), InvocationId: invocationId}
      }
      case 'DescribeInvocationTasks': {
        const filters = (p.Filters as Array<{Name: string; Values: string[]}> | undefined) ?? []
        const wanted = filters.find((f) => f.Name === 'invocation-id')?.Values
        const all = [...this.tasks.values()].filter((t) => !wanted || wanted.includes(t.invocationId))
        const {page, total} = this.page(all, p)
        return {
          TotalCount: total,
          InvocationTaskSet: page.map((t) => ({
            InvocationId: t.invocationId,
            InvocationTaskId: t.taskId,
            InstanceId: t.instanceId,
            TaskStatus: t.status,
            TaskResult: p.HideOutput === true ? {ExitCode: t.exitCode} : {ExitCode: t.exitCode, Output: t.output},
          })),
        }
      }
      default:
        throw new FakeTencentError('InvalidAction', `The action ${action} is not found for tat in this fake.`)
    }
  }

  /** The instance metadata service, per attempt: the spot termination notice. */
  private metadata(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const m = /^\/_meta\/([^/]+)(\/latest\/.*)$/.exec(url.pathname)
    const ofAttempt = m
      ? [...this.instances.values()].filter((i) => !i.released && i.tags.get('skyhop-attempt-id') === decodeURIComponent(m[1]))
      : []
    // A gang's instances share the attempt: the one asking is the one answered.
    const instance = ofAttempt.length > 1 ? askingInstance(req, ofAttempt) : (ofAttempt[0] ?? null)
    if (!m || !instance) return this.send(res, 404, 'Not Found')
    if (m[2] === '/latest/meta-data/spot/termination-time')
      return instance.terminationTime ? this.send(res, 200, instance.terminationTime) : this.send(res, 404, 'Not Found')
    if (m[2] === '/latest/meta-data/instance-id') return this.send(res, 200, instance.id)
    if (m[2] === '/latest/meta-data/local-ipv4') return this.send(res, 200, instance.privateIp)
    this.send(res, 404, 'Not Found')
  }
}
