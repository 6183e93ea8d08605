// A FAKE of Alibaba Cloud ECS for tests: a local HTTP server speaking the ECS RPC API
// (version 2014-05-26) as the V3 signature documents it: POST with x-acs-action /
// x-acs-version headers, parameters form-encoded in the body, JSON answers and JSON
// errors ({RequestId, HostId, Code, Message, Recommend}). Not Alibaba Cloud; tests reach
// it through SKYHOP_ALIYUN_ENDPOINT.
//
// Real behaviour: verifies every ACS3-HMAC-SHA256 signature with skyhop's signer (unknown
// keys, bad signatures, a payload hash that does not match, stale dates and reused nonces
// are refused); instances with ECS's states (Pending, Starting, Running, Stopping,
// Stopped — a guest power-off stops, it does not release); per-zone stock per instance
// type, a per-region instance quota, spot prices and price limits, idempotent ClientToken,
// tag filters and NextToken paging; any error code injected on demand; spot reclaims with
// the termination-time notice on the instance's metadata endpoint; Cloud Assistant
// RunCommand; and, given a boot directory, user data run locally as cloud-init would.
import {spawn, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {join} from 'node:path'

import {acs3CanonicalRequest, parseAcs3Authorization} from '../../src/clouds/aliyun/acs3.js'
import {hmacSha256Hex, sha256Hex, signaturesEqual} from '../../src/clouds/common/signing-util.js'
import {askingInstance, bootEnv, FakeCloudServer, Injections, killGroup, readBody, restock, runUserData} from './fake-cloud-server.js'

export interface FakeAliyunKey {
  accessKeyId: string
  accessKeySecret: string
  securityToken?: string
}

export interface FakeAliyunOptions {
  keys: FakeAliyunKey[]
  /** region → zone → instance type → stock. A type missing from a zone is not sold there. */
  stock: Record<string, Record<string, Record<string, number>>>
  /** zone → instance type → spot price. */
  spotPrices?: Record<string, Record<string, number>>
  /** instance type → pay-as-you-go hourly price. */
  prices?: Record<string, number>
  currency?: 'CNY' | 'USD'
  /** region → most live instances. */
  instanceQuota?: Record<string, number>
  pageSize?: number
  pendingMs?: number
  bootDir?: string
  now?: () => number
}

export type FakeEcsStatus = 'Pending' | 'Starting' | 'Running' | 'Stopping' | 'Stopped'

export interface FakeEcsInstance {
  id: string
  region: string
  zone: string
  instanceType: string
  status: FakeEcsStatus
  creationTime: string
  tags: Map<string, string>
  spotStrategy: string
  userData: string | null
  locks: string[]
  terminationTime: string | null
  process: ChildProcess | null
  released: boolean
  commands: string[]
  privateIp: string
  deploymentSetId: string | null
}

export interface FakeDeploymentSet {
  id: string
  region: string
  name: string
  strategy: string
}

export interface AliyunCall {
  action: string
  status: number
  code: string | null
  params: Record<string, string>
}

const STATUS_OF: Record<string, number> = {
  'OperationDenied.NoStock': 403,
  'QuotaExceed.ElasticQuota': 403,
  'InvalidAccessKeyId.NotFound': 404,
  'InvalidAccessKeyId.Inactive': 403,
  SignatureDoesNotMatch: 400,
  'Forbidden.RAM': 403,
  Throttling: 400,
  'Throttling.User': 400,
  ServiceUnavailable: 503,
  InternalError: 500,
}

class FakeAliyunError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = STATUS_OF[code] ?? 400,
  ) {
    super(message)
  }
}

export class FakeAliyunEcsServer extends FakeCloudServer {
  readonly instances = new Map<string, FakeEcsInstance>()
  readonly calls: AliyunCall[] = []
  private readonly injections = new Injections<{action?: string; code: string; message?: string; status?: number; times?: number}>()
  private readonly tokens = new Map<string, string>()
  private readonly nonces = new Set<string>()
  private readonly metadataTokens = new Set<string>()
  readonly deploymentSets = new Map<string, FakeDeploymentSet>()
  private readonly setTokens = new Map<string, string>()
  private nextIp = 10

  constructor(readonly options: FakeAliyunOptions) {
    super()
  }

  protected override crashed(res: ServerResponse, error: Error): void {
    res.statusCode = 500
    res.end(JSON.stringify({Code: 'InternalError', Message: `fake: ${error.message}`}))
  }

  protected override killInstances(): void {
    for (const i of this.instances.values()) killGroup(i.process)
  }

  get metadataBaseTemplate(): string {
    return `${this.url}_meta/{attemptId}`
  }

  inject(injection: {action?: string; code: string; message?: string; status?: number; times?: number}): void {
    this.injections.add(injection)
  }

  throttle(times: number, action?: string): void {
    this.inject({action, code: 'Throttling.User', message: 'Request was denied due to user flow control.', times})
  }

  /**
   * A fault no healthy ECS shows, for the checks that must not trust it: the next
   * RunInstances puts its last instance in `zone` (when given) and, with `outsideSet`,
   * outside the deployment set it was asked for; with `grant`, it creates that many whatever
   * MinAmount says.
   */
  misplaceNext(fault: {zone?: string; grant?: number; outsideSet?: boolean}): void {
    this.misplace = fault
  }

  private misplace: {zone?: string; grant?: number; outsideSet?: boolean} | null = null

  setStock(region: string, zone: string, type: string, n: number): void {
    ;((this.options.stock[region] ??= {})[zone] ??= {})[type] = n
  }

  /** Serves termination-time now; after `noticeMs` the instance stops, locked Recycling, then is released. */
  reclaimSpot(instanceId: string, noticeMs: number): void {
    const i = this.instances.get(instanceId)!
    i.terminationTime = new Date(this.now() + noticeMs).toISOString().replace(/\.\d{3}Z$/, 'Z')
    this.later(noticeMs, () => {
      killGroup(i.process)
      i.process = null
      i.status = 'Stopped'
      i.locks = ['Recycling']
      this.later(2000, () => this.release(i))
    })
  }

  live(): FakeEcsInstance[] {
    return [...this.instances.values()].filter((i) => !i.released)
  }

  private release(i: FakeEcsInstance): void {
    if (i.released) return
    killGroup(i.process)
    i.process = null
    i.released = true
    restock(this.options.stock, i.region, i.zone, i.instanceType)
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body)
    res.writeHead(status, {'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json;charset=utf-8'})
    res.end(text)
  }

  protected override async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req)
    const url = new URL(req.url ?? '/', 'http://fake')
    if (url.pathname.startsWith('/_meta/')) return this.metadata(req, res, url)
    const action = String(req.headers['x-acs-action'] ?? '')
    const params = Object.fromEntries(new URLSearchParams(body))
    const requestId = randomBytes(16).toString('hex').toUpperCase()
    try {
      this.verify(req, url, body)
      if (req.headers['x-acs-version'] !== '2014-05-26')
        throw new FakeAliyunError('InvalidVersion', `Specified parameter Version is not valid: ${String(req.headers['x-acs-version'])}`)
      const inj = this.injections.take((i) => !i.action || i.action === action)
      if (inj) throw new FakeAliyunError(inj.code, inj.message ?? `injected ${inj.code}`, inj.status)
      const result = this.act(action, params)
      this.calls.push({action, status: 200, code: null, params})
      this.send(res, 200, {RequestId: requestId, ...result})
    } catch (error) {
      if (!(error instanceof FakeAliyunError)) throw error
      this.calls.push({action, status: error.status, code: error.code, params})
      this.send(res, error.status, {
        RequestId: requestId,
        HostId: 'ecs.aliyuncs.com',
        Code: error.code,
        Message: error.message,
        Recommend: `https://api.aliyun.com/troubleshoot?q=${error.code}`,
      })
    }
  }

  /** ACS3 verification with skyhop's canonicalization over exactly the signed headers. */
  private verify(req: IncomingMessage, url: URL, body: string): void {
    const auth = parseAcs3Authorization(String(req.headers.authorization ?? ''))
    if (!auth) throw new FakeAliyunError('IncompleteSignature', 'The request signature does not conform to Aliyun standards.')
    const key = this.options.keys.find((k) => k.accessKeyId === auth.accessKeyId)
    if (!key) throw new FakeAliyunError('InvalidAccessKeyId.NotFound', 'Specified access key is not found.')
    for (const required of ['host', 'x-acs-action', 'x-acs-version', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256']) {
      if (!auth.signedHeaders.includes(required)) throw new FakeAliyunError('IncompleteSignature', `header ${required} must be signed`)
    }
    if (req.headers['x-acs-content-sha256'] !== sha256Hex(body))
      throw new FakeAliyunError('SignatureDoesNotMatch', 'The payload hash does not match the body.')
    const date = Date.parse(String(req.headers['x-acs-date']))
    if (!Number.isFinite(date) || Math.abs(date - this.now()) > 15 * 60_000)
      throw new FakeAliyunError('InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.')
    const nonce = String(req.headers['x-acs-signature-nonce'])
    if (this.nonces.has(nonce)) throw new FakeAliyunError('SignatureNonceUsed', 'Specified signature nonce was used already.')
    if (key.securityToken !== undefined && req.headers['x-acs-security-token'] !== key.securityToken)
      throw new FakeAliyunError('InvalidSecurityToken.Malformed', 'Specified SecurityToken is malformed.')
    const raw = req.rawHeaders
    const headers: Array<[string, string]> = []
    for (let i = 0; i < raw.length; i += 2) headers.push([raw[i], raw[i + 1]])
    const creq = acs3CanonicalRequest(
      {method: req.method ?? 'POST', path: url.pathname, query: [...url.searchParams], headers, body},
      (name) => auth.signedHeaders.includes(name.toLowerCase()),
    )
    const expected = hmacSha256Hex(key.accessKeySecret, `ACS3-HMAC-SHA256\n${sha256Hex(creq.text)}`)
    if (!signaturesEqual(expected, auth.signature))
      throw new FakeAliyunError('SignatureDoesNotMatch', 'Specified signature is not matched with our calculation.')
    this.nonces.add(nonce)
  }

  private list(p: Record<string, string>, name: string): string[] {
    const out: string[] = []
    for (let n = 1; p[`${name}.${n}`] !== undefined; n++) out.push(p[`${name}.${n}`])
    return out
  }

  private instance(region: string, id: string): FakeEcsInstance {
    const i = this.instances.get(id)
    if (!i || i.released || i.region !== region)
      throw new FakeAliyunError('InvalidInstanceId.NotFound', `The specified InstanceId does not exist: ${id}`, 404)
    return i
  }

  private act(action: string, p: Record<string, string>): Record<string, unknown> {
    const region = p.RegionId
    if (!region || !(region in this.options.stock))
      throw new FakeAliyunError('InvalidRegionId.NotFound', `The specified RegionId does not exist: ${region}`, 404)
    switch (action) {
      case 'RunInstances':
        return {InstanceIdSets: {InstanceIdSet: this.run(region, p)}, TradePrice: this.options.prices?.[p.InstanceType] ?? 0}
      case 'CreateDeploymentSet': {
        const strategy = p.Strategy ?? 'Availability'
        if (!['Availability', 'AvailabilityGroup', 'LowLatency'].includes(strategy))
          throw new FakeAliyunError('InvalidParameter.Strategy', `The specified Strategy ${strategy} is not valid.`)
        const name = p.DeploymentSetName ?? ''
        if (name && !/^[A-Za-z][A-Za-z0-9:_-]{1,127}$/.test(name))
          throw new FakeAliyunError('InvalidDeploymentSetName.Malformed', 'Specified deployment set name is not valid.')
        const again = p.ClientToken ? this.setTokens.get(p.ClientToken) : undefined
        if (again) return {DeploymentSetId: again}
        const id = `ds-${randomBytes(10).toString('hex').slice(0, 20)}`
        this.deploymentSets.set(id, {id, region, name, strategy})
        if (p.ClientToken) this.setTokens.set(p.ClientToken, id)
        return {DeploymentSetId: id}
      }
      case 'DeleteDeploymentSet': {
        const set = this.deploymentSets.get(p.DeploymentSetId ?? '')
        if (!set || set.region !== region)
          throw new FakeAliyunError('InvalidDeploymentSetId.NotFound', 'The specified DeploymentSetId does not exist.', 404)
        if (this.live().some((i) => i.deploymentSetId === set.id))
          throw new FakeAliyunError('DependencyViolation.NotEmpty', 'There are still instance(s) in the specified DeploymentSetId.', 403)
        this.deploymentSets.delete(set.id)
        return {}
      }
      case 'TagResources': {
        if (p.ResourceType !== 'instance')
          throw new FakeAliyunError('InvalidResourceType.NotSupported', 'The ResourceType is not supported.')
        const tags: Array<[string, string]> = []
        for (let n = 1; p[`Tag.${n}.Key`] !== undefined; n++) tags.push([p[`Tag.${n}.Key`], p[`Tag.${n}.Value`] ?? ''])
        for (const id of this.list(p, 'ResourceId')) for (const [k, v] of tags) this.instance(region, id).tags.set(k, v)
        return {}
      }
      case 'DescribeInstances': {
        const ids = p.InstanceIds ? (JSON.parse(p.InstanceIds) as string[]) : null
        const tagKeys: Array<[string, string | undefined]> = []
        for (let n = 1; p[`Tag.${n}.Key`] !== undefined; n++) tagKeys.push([p[`Tag.${n}.Key`], p[`Tag.${n}.Value`]])
        const all = [...this.instances.values()].filter(
          (i) =>
            !i.released &&
            i.region === region &&
            (!ids || ids.includes(i.id)) &&
            tagKeys.every(([k, v]) => i.tags.has(k) && (v === undefined || i.tags.get(k) === v)),
        )
        const size = Math.min(Number(p.MaxResults ?? 10), this.options.pageSize ?? 100)
        const offset = p.NextToken ? Number(p.NextToken) : 0
        const page = all.slice(offset, offset + size)
        return {
          Instances: {
            Instance: page.map((i) => ({
              InstanceId: i.id,
              Status: i.status,
              ZoneId: i.zone,
              RegionId: i.region,
              InstanceType: i.instanceType,
              CreationTime: i.creationTime,
              SpotStrategy: i.spotStrategy,
              Tags: {Tag: [...i.tags].map(([TagKey, TagValue]) => ({TagKey, TagValue}))},
              OperationLocks: {LockReason: i.locks.map((LockReason) => ({LockReason}))},
              VpcAttributes: {PrivateIpAddress: {IpAddress: [i.privateIp]}, VpcId: 'vpc-fake', VSwitchId: 'vsw-fake'},
              DeploymentSetId: i.deploymentSetId ?? '',
            })),
          },
          TotalCount: all.length,
          NextToken: offset + size < all.length ? String(offset + size) : '',
        }
      }
      case 'DeleteInstances': {
        if (p.Force !== 'true') {
          for (const id of this.list(p, 'InstanceId'))
            if (this.instance(region, id).status !== 'Stopped')
              throw new FakeAliyunError(
                'IncorrectInstanceStatus',
                'The current status of the resource does not support this operation.',
                403,
              )
        }
        for (const id of this.list(p, 'InstanceId')) this.release(this.instance(region, id))
        return {}
      }
      case 'GetInstanceConsoleOutput': {
        const i = this.instance(region, p.InstanceId)
        return {
          InstanceId: i.id,
          ConsoleOutput: Buffer.from(this.consoleOf(i.id)).toString('base64'),
          LastUpdateTime: new Date(this.now()).toISOString(),
        }
      }
      case 'RunCommand': {
        const ids = this.list(p, 'InstanceId')
        const script =
          p.ContentEncoding === 'Base64' ? Buffer.from(p.CommandContent ?? '', 'base64').toString('utf8') : (p.CommandContent ?? '')
        for (const id of ids) {
          const i = this.instance(region, id)
          if (i.status !== 'Running') throw new FakeAliyunError('InstanceNotRunning', 'The instance is not running.', 403)
          i.commands.push(script)
          // The Cloud Assistant agent runs it on the instance, here under the boot root.
          if (this.options.bootDir) spawn('bash', ['-c', script], {env: bootEnv(join(this.options.bootDir, i.id)), stdio: 'ignore'})
        }
        return {InvokeId: `t-${randomBytes(6).toString('hex')}`, CommandId: `c-${randomBytes(6).toString('hex')}`}
      }
      case 'DescribeSpotPriceHistory': {
        const zones = Object.keys(this.options.stock[region]).filter((z) => !p.ZoneId || z === p.ZoneId)
        const rows = zones.flatMap((z) => {
          const price = this.options.spotPrices?.[z]?.[p.InstanceType]
          return price === undefined
            ? []
            : [
                {
                  ZoneId: z,
                  InstanceType: p.InstanceType,
                  IoOptimized: 'optimized',
                  NetworkType: 'vpc',
                  SpotPrice: price,
                  OriginPrice: this.options.prices?.[p.InstanceType] ?? price,
                  Timestamp: new Date(this.now()).toISOString(),
                },
              ]
        })
        return {SpotPrices: {SpotPriceType: rows}, Currency: this.options.currency ?? 'CNY', NextOffset: 0}
      }
      case 'DescribePrice': {
        const price = this.options.prices?.[p.InstanceType]
        if (price === undefined)
          throw new FakeAliyunError('InvalidInstanceType.NotFound', `The specified InstanceType does not exist: ${p.InstanceType}`)
        return {PriceInfo: {Price: {OriginalPrice: price, DiscountPrice: 0, TradePrice: price, Currency: this.options.currency ?? 'CNY'}}}
      }
      case 'DescribeZones':
        return {Zones: {Zone: Object.keys(this.options.stock[region]).map((ZoneId) => ({ZoneId, LocalName: ZoneId}))}}
      default:
        throw new FakeAliyunError('InvalidAction.NotFound', `Specified api is not found, please check your url and method.`, 404)
    }
  }

  private run(region: string, p: Record<string, string>): string[] {
    const token = p.ClientToken
    const key = JSON.stringify(Object.entries(p).sort())
    if (token && this.tokens.has(token)) {
      const seen = this.tokens.get(token)!
      const [ids, params] = seen.split('\n')
      if (params !== key) throw new FakeAliyunError('IdempotentParameterMismatch', 'The specified parameters are different from before.')
      return ids.split(' ')
    }
    const amount = Number(p.Amount ?? '1')
    const minAmount = Number(p.MinAmount ?? p.Amount ?? '1')
    if (!Number.isInteger(amount) || amount < 1 || amount > 100)
      throw new FakeAliyunError('InvalidParameter.Amount', 'The specified parameter Amount is not valid.')
    if (!Number.isInteger(minAmount) || minAmount < 1 || minAmount > amount)
      throw new FakeAliyunError('InvalidParameter.MinAmount', 'The specified parameter MinAmount is not valid.')
    const set = p.DeploymentSetId ? this.deploymentSets.get(p.DeploymentSetId) : null
    if (p.DeploymentSetId && (!set || set.region !== region))
      throw new FakeAliyunError('InvalidDeploymentSetId.NotFound', 'The specified DeploymentSetId does not exist.', 404)
    if (!p.ImageId && !p.ImageFamily) throw new FakeAliyunError('MissingImageId', 'ImageId is mandatory for this action.')
    const type = p.InstanceType
    const zones = this.options.stock[region]
    const zone = p.ZoneId ?? Object.keys(zones).find((z) => (zones[z][type] ?? 0) > 0) ?? Object.keys(zones)[0]
    if (!(zone in zones)) throw new FakeAliyunError('InvalidZoneId.NotFound', `The specified zone does not exist: ${zone}`, 404)
    if (!(type in zones[zone]))
      throw new FakeAliyunError('InvalidInstanceType.ZoneNotSupported', `The specified zone does not support the instance type ${type}.`)
    const live = this.live().filter((i) => i.region === region)
    const quota = this.options.instanceQuota?.[region]
    if (quota !== undefined && live.length + minAmount > quota)
      throw new FakeAliyunError('QuotaExceed.ElasticQuota', 'The total number of specified instance types exceeds the quota.')
    const spot = p.SpotStrategy ?? 'NoSpot'
    if (spot === 'SpotWithPriceLimit') {
      const price = this.options.spotPrices?.[zone]?.[type]
      if (price !== undefined && Number(p.SpotPriceLimit) < price) {
        throw new FakeAliyunError(
          'InvalidSpotPriceLimit.LowerThanPublicPrice',
          `The specified SpotPriceLimit ${p.SpotPriceLimit} is lower than the current public price ${price}.`,
        )
      }
    }
    // ECS creates Amount when it can, at least MinAmount, or none.
    if ((zones[zone][type] ?? 0) < minAmount)
      throw new FakeAliyunError(
        'OperationDenied.NoStock',
        'The resource is out of stock in the specified zone. Please try other types, or choose other regions and zones.',
      )
    const count = Math.min(zones[zone][type], amount, this.misplace?.grant ?? amount)
    zones[zone][type] -= count
    const tags = new Map<string, string>()
    for (let n = 1; p[`Tag.${n}.Key`] !== undefined; n++) tags.set(p[`Tag.${n}.Key`], p[`Tag.${n}.Value`] ?? '')
    const ids: string[] = []
    const misplace = this.misplace
    this.misplace = null
    for (let k = 0; k < count; k++) {
      const id = `i-${randomBytes(10).toString('hex').slice(0, 20)}`
      const n = this.nextIp++
      const misplaced = misplace !== null && k === count - 1
      const instance: FakeEcsInstance = {
        id,
        region,
        zone: misplaced && misplace.zone ? misplace.zone : zone,
        instanceType: type,
        status: 'Pending',
        creationTime: new Date(this.now()).toISOString().replace(/:\d{2}\.\d{3}Z$/, 'Z'),
        tags: new Map(tags),
        spotStrategy: spot,
        userData: p.UserData ?? null,
        locks: [],
        terminationTime: null,
        process: null,
        released: false,
        commands: [],
        privateIp: `172.16.${Math.floor(n / 250)}.${(n % 250) + 2}`,
        deploymentSetId: misplaced && misplace.outsideSet ? null : (set?.id ?? null),
      }
      this.instances.set(id, instance)
      ids.push(id)
      this.later(this.options.pendingMs ?? 30, () => {
        if (instance.status !== 'Pending') return
        instance.status = 'Running'
        if (this.options.bootDir && instance.userData) {
          const child = runUserData(join(this.options.bootDir, id), instance.userData, id)
          instance.process = child
          child.on('exit', () => {
            if (instance.process !== child) return
            instance.process = null
            // A guest power-off stops an ECS instance; it is not released.
            if (instance.status === 'Running') {
              instance.status = 'Stopping'
              this.later(30, () => (instance.status = 'Stopped'))
            }
          })
        }
      })
    }
    if (token) this.tokens.set(token, `${ids.join(' ')}\n${key}`)
    return ids
  }

  /** The instance metadata service, per attempt: hardened-mode token and the spot notice. */
  private metadata(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const m = /^\/_meta\/([^/]+)(\/latest\/.*)$/.exec(url.pathname)
    const ofAttempt = m
      ? [...this.instances.values()].filter((i) => !i.released && i.tags.get('skyhop:attempt-id') === decodeURIComponent(m[1]))
      : []
    // A gang's instances share the attempt: the one asking is the one answered.
    const instance = ofAttempt.length > 1 ? askingInstance(req, ofAttempt) : (ofAttempt[0] ?? null)
    if (!m || !instance) return this.send(res, 404, 'Not Found')
    if (m[2] === '/latest/api/token' && req.method === 'PUT') {
      if (!req.headers['x-aliyun-ecs-metadata-token-ttl-seconds']) return this.send(res, 400, 'missing ttl')
      const token = randomBytes(24).toString('base64')
      this.metadataTokens.add(token)
      return this.send(res, 200, token)
    }
    const token = req.headers['x-aliyun-ecs-metadata-token']
    if (token !== undefined && !this.metadataTokens.has(String(token))) return this.send(res, 401, 'Unauthorized')
    if (m[2] === '/latest/meta-data/instance/spot/termination-time') {
      return instance.terminationTime ? this.send(res, 200, instance.terminationTime) : this.send(res, 404, 'Not Found')
    }
    if (m[2] === '/latest/meta-data/instance-id') return this.send(res, 200, instance.id)
    if (m[2] === '/latest/meta-data/private-ipv4') return this.send(res, 200, instance.privateIp)
    this.send(res, 404, 'Not Found')
  }
}
