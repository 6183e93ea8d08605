// A FAKE of AWS for tests: a local HTTP server speaking the EC2 Query API wire format
// (form-encoded POST, XML answers, XML <Response><Errors> errors with AWS's codes and
// statuses), plus the few neighbours skyhop's AWS code talks to: STS AssumeRole /
// AssumeRoleWithWebIdentity, the SSO portal's GetRoleCredentials, and instance metadata
// (IMDSv2) for the host and for each fake instance. It is not AWS and nothing in the
// product points at it; tests pass its URL through the documented endpoint overrides.
//
// What it does for real: verifies every SigV4 signature with skyhop's signer and rejects
// unknown keys, bad signatures and stale dates; keeps instances with EC2's state machine;
// has per-zone capacity per instance type, per-region quotas, spot prices and max-price
// checks, idempotent ClientTokens, tag filters and pagination; injects any error code and
// throttling on demand; schedules spot interruptions served on the instance's metadata
// endpoint; and, when given a boot directory, runs each instance's user data locally as
// cloud-init would (with the SKYHOP_BOOT_* hooks of the boot script), using a file as the
// serial console that GetConsoleOutput returns.
import type {ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {join} from 'node:path'

import {parseAuthorization, signRequest} from '../../src/clouds/aws/sigv4.js'
import {escapeXml} from '../../src/clouds/aws/xml.js'
import {parseQueryString, signaturesEqual} from '../../src/clouds/common/signing-util.js'
import {
  askingInstance,
  FakeCloudServer,
  Injections,
  killGroup,
  readBody,
  restock,
  runUserData,
  uuid as requestId,
} from './fake-cloud-server.js'

export interface FakeKey {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

export interface FakeImage {
  imageId: string
  region: string
  name: string
  owner: string
  architecture: 'x86_64' | 'arm64'
  creationDate: string
  rootDeviceName: string
}

export interface FakeQuota {
  instances?: number
  vcpus?: number
  spotInstances?: number
}

export interface FakeEc2Options {
  keys: FakeKey[]
  /** region → zone → instance type → free slots. A type missing from a zone is Unsupported there. */
  capacity: Record<string, Record<string, Record<string, number>>>
  /** zone → instance type → current spot price (USD/hour). */
  spotPrices?: Record<string, Record<string, number>>
  /** vCPUs per instance type, for the vCPU quota. */
  vcpus?: Record<string, number>
  quotas?: Record<string, FakeQuota>
  /** Actions the keys may not call (UnauthorizedOperation). */
  deniedActions?: string[]
  /** Regions the account has not opted in to (OptInRequired). */
  optInRequiredRegions?: string[]
  images?: FakeImage[]
  /** ms from pending to running, and from shutting-down to terminated. */
  pendingMs?: number
  shuttingDownMs?: number
  /** Page size of DescribeInstances when the caller asks for more. */
  pageSize?: number
  /** Run user data locally under this directory, as cloud-init would. */
  bootDir?: string
  /** STS: roles AssumeRole grants; the web identity token accepted. */
  assumableRoles?: string[]
  webIdentityToken?: string
  /** SSO portal: the bearer token accepted, and the role credentials it hands out. */
  sso?: {accessToken: string; key: FakeKey}
  /** Container credentials endpoint: the Authorization value it wants and the key it hands out. */
  container?: {authorizationToken: string; key: FakeKey}
  /** Host metadata: the instance role and its credentials. */
  instanceRole?: {name: string; key: FakeKey}
  /**
   * Instance types that support EFA → their network cards (DescribeInstanceTypes
   * NetworkInfo.EfaSupported and MaximumNetworkCards). Default: DEFAULT_EFA_CARDS.
   */
  efaNetworkCards?: Record<string, number>
  /** Subnets DescribeSubnets knows: id → its VPC and zone. */
  subnets?: Record<string, {vpcId: string; zone: string}>
  now?: () => number
}

/**
 * EFA-capable types and their network cards, as DescribeInstanceTypes reports them
 * (p4d.24xlarge: MaxEfaInterfaces 4, MaximumNetworkCards 4; p5: 32 cards, AWS user guide
 * p5-efa; trn1.32xlarge 8 and trn1n.32xlarge 16 cards, 100 Gbit/s each; p3dn one EFA).
 */
export const DEFAULT_EFA_CARDS: Readonly<Record<string, number>> = {
  'p3dn.24xlarge': 1,
  'p4d.24xlarge': 4,
  'p5.48xlarge': 32,
  'p5e.48xlarge': 32,
  'trn1.2xlarge': 1,
  'trn1.32xlarge': 8,
  'trn1n.32xlarge': 16,
}

/** One network interface a RunInstances asked for (NetworkInterface.N). */
export interface FakeNetworkInterface {
  deviceIndex: number
  networkCardIndex: number
  /** `interface` (ENA), `efa` (EFA with ENA) or `efa-only`. */
  interfaceType: string
  subnetId: string | null
  groups: string[]
}

export interface FakeSecurityGroup {
  id: string
  name: string
  region: string
  vpcId: string
  description: string
  tags: Map<string, string>
  /** Rules naming another group (UserIdGroupPair), as `protocol group`: `-1 sg-…`. */
  ingressFromGroups: string[]
  egressToGroups: string[]
  /** A new group's default egress rule: all traffic to 0.0.0.0/0. */
  egressAllIpv4: boolean
}

export type FakeState = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped'

const STATE_CODES: Record<FakeState, number> = {pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80}

export interface FakeInstance {
  id: string
  region: string
  zone: string
  instanceType: string
  imageId: string
  state: FakeState
  launchTime: string
  tags: Map<string, string>
  spot: boolean
  userData: string | null
  clientToken: string | null
  paramsKey: string
  terminateOnShutdown: boolean
  metadataTags: boolean
  stateReason: {code: string; message: string} | null
  spotAction: {time: string} | null
  process: ChildProcess | null
  /** Console text when nothing runs locally (set by tests). */
  console: string
  /** Its place in the RunInstances that launched it, and its private address. */
  launchIndex: number
  privateIp: string
  placementGroup: string | null
  /** What NetworkInterface.N asked for; empty when the request named none (EC2's default ENA). */
  networkInterfaces: FakeNetworkInterface[]
  /** Security groups of its primary interface (instance-level SecurityGroupId.N, or the interface's). */
  securityGroups: string[]
}

export interface FakePlacementGroup {
  name: string
  region: string
  strategy: string
  /** A cluster group sits in the zone of its first instance. */
  zone: string | null
  tags: Map<string, string>
}

export interface Injection {
  /** Only this action; any action when absent. */
  action?: string
  code: string
  status?: number
  message?: string
  /** How many requests get it. Default 1. */
  times?: number
}

export interface CallRecord {
  action: string
  service: string
  region: string | null
  status: number
  code: string | null
  params: Record<string, string>
}

/** Statuses AWS answers with for the codes skyhop maps (EC2 sends some capacity codes as 5xx). */
const DEFAULT_STATUS: Record<string, number> = {
  InsufficientInstanceCapacity: 500,
  InsufficientHostCapacity: 500,
  InternalError: 500,
  Unavailable: 503,
  RequestLimitExceeded: 503,
  AuthFailure: 401,
  OptInRequired: 401,
  UnauthorizedOperation: 403,
}

const DEFAULT_IMAGES: FakeImage[] = ['us-east-1', 'us-west-2', 'eu-west-1'].flatMap((region, r) => [
  {
    imageId: `ami-0dla${r}00000000001`,
    region,
    name: 'Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) 20240101',
    owner: 'amazon',
    architecture: 'x86_64' as const,
    creationDate: '2024-01-01T00:00:00.000Z',
    rootDeviceName: '/dev/sda1',
  },
  {
    imageId: `ami-0dla${r}00000000002`,
    region,
    name: 'Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) 20240601',
    owner: 'amazon',
    architecture: 'x86_64' as const,
    creationDate: '2024-06-01T00:00:00.000Z',
    rootDeviceName: '/dev/sda1',
  },
  {
    imageId: `ami-0ubu${r}00000000001`,
    region,
    name: 'ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240601',
    owner: '099720109477',
    architecture: 'x86_64' as const,
    creationDate: '2024-06-01T00:00:00.000Z',
    rootDeviceName: '/dev/sda1',
  },
])

class FakeAwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = DEFAULT_STATUS[code] ?? 400,
  ) {
    super(message)
  }
}

/** `a*b` wildcard match as EC2 filters do it. */
function wildcard(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  )
  return re.test(value)
}

export class FakeEc2Server extends FakeCloudServer {
  readonly instances = new Map<string, FakeInstance>()
  readonly calls: CallRecord[] = []
  private readonly injections = new Injections<Injection>()
  private readonly holds: Array<{action: string; times: number}> = []
  private readonly held: Array<{action: string; answer: () => void}> = []
  private heldWaiters: Array<() => void> = []
  private readonly tokens = new Map<string, {instanceIds: string[]; params: string}>()
  readonly placementGroups = new Map<string, FakePlacementGroup>()
  readonly securityGroups = new Map<string, FakeSecurityGroup>()
  private nextIp = 10
  private readonly keys: FakeKey[]
  private readonly imdsTokens = new Set<string>()
  /** Zones with no spot capacity just now (setSpotAvailable). */
  private readonly noSpot = new Set<string>()

  constructor(readonly options: FakeEc2Options) {
    super()
    this.keys = [...options.keys]
  }

  protected override crashed(res: ServerResponse, error: Error): void {
    res.statusCode = 500
    res.end(`fake-ec2 internal error: ${error.message}`)
  }

  protected override killInstances(): void {
    for (const i of this.instances.values()) this.killProcess(i)
  }

  /** Base URL of a fake instance's metadata service, with `{attemptId}` for the provider to fill. */
  get metadataBaseTemplate(): string {
    return `${this.url}_imds/{attemptId}`
  }

  // ------------------------------------------------------------------ test controls

  inject(injection: Injection): void {
    this.injections.add(injection)
  }
  /** Ends every injected fault not yet used up. */
  clearInjections(): void {
    this.injections.clear()
  }

  /**
   * The next `times` answers to `action` are held back after the action took effect, as
   * when the caller dies (or its connection drops) between sending a request and reading
   * the answer. Held answers go out on releaseHeld(), or never if the caller is gone.
   */
  holdResponses(action: string, times = 1): void {
    this.holds.push({action, times})
  }

  /** Resolves once an answer is being held. */
  async nextHeld(): Promise<void> {
    if (this.held.length > 0) return
    await new Promise<void>((resolve) => this.heldWaiters.push(resolve))
  }

  /** Sends every held answer (to callers still listening). */
  releaseHeld(): void {
    for (const h of this.held.splice(0)) h.answer()
  }

  /** The next `times` requests (of `action`, if given) are throttled. */
  throttle(times: number, action?: string): void {
    this.inject({action, code: 'RequestLimitExceeded', message: 'Request limit exceeded.', times})
  }

  setCapacity(region: string, zone: string, instanceType: string, free: number): void {
    ;((this.options.capacity[region] ??= {})[zone] ??= {})[instanceType] = free
  }

  /** Spot capacity in a zone comes and goes on its own: without it a spot request fails as EC2's does, on-demand still launches. */
  setSpotAvailable(zone: string, available: boolean): void {
    if (available) this.noSpot.delete(zone)
    else this.noSpot.add(zone)
  }

  setSpotPrice(zone: string, instanceType: string, price: number): void {
    ;((this.options.spotPrices ??= {})[zone] ??= {})[instanceType] = price
  }

  /** Serves the two-minute-style notice now and terminates the instance after `noticeMs`. */
  interruptSpot(instanceId: string, noticeMs: number): void {
    const i = this.mustGet(instanceId)
    i.spotAction = {time: new Date(this.now() + noticeMs).toISOString().replace(/\.\d{3}Z$/, 'Z')}
    this.later(noticeMs, () => {
      if (i.state === 'terminated' || i.state === 'shutting-down') return
      this.shutDown(i, {code: 'Server.SpotInstanceTermination', message: 'Server.SpotInstanceTermination: Spot instance termination'}, true)
    })
  }

  /** What the instance's serial console holds now; without a boot directory, what the test set. */
  override consoleOf(instanceId: string): string {
    const i = this.mustGet(instanceId)
    const file = this.options.bootDir ? join(this.options.bootDir, i.id, 'console') : null
    return file && existsSync(file) ? readFileSync(file, 'utf8') : i.console
  }

  liveInstances(): FakeInstance[] {
    return [...this.instances.values()].filter((i) => i.state !== 'terminated')
  }

  actions(): string[] {
    return this.calls.map((c) => c.action)
  }

  private mustGet(id: string): FakeInstance {
    const i = this.instances.get(id)
    if (!i) throw new Error(`fake-ec2: no instance ${id}`)
    return i
  }

  // ------------------------------------------------------------------ HTTP

  protected override async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req)
    const url = new URL(req.url ?? '/', 'http://fake')
    if (url.pathname.startsWith('/_imds/')) return this.instanceMetadata(req, res, url)
    if (url.pathname.startsWith('/latest/')) return this.hostMetadata(req, res, url)
    if (url.pathname === '/federation/credentials') return this.sso(req, res, url)
    if (url.pathname === '/_container/credentials') return this.container(req, res)
    if (req.method !== 'POST') return this.send(res, 405, 'text/plain', 'fake-ec2: POST only')
    const params = Object.fromEntries(new URLSearchParams(body))
    const action = params.Action ?? ''
    // Unsigned STS action: the web identity token is the credential.
    if (action === 'AssumeRoleWithWebIdentity' && !req.headers.authorization) return this.stsWebIdentity(res, params)
    let region: string | null = null
    let service = 'ec2'
    try {
      const scope = this.verify(req, url, body)
      region = scope.region
      service = scope.service
      if (service === 'sts') return this.sts(res, action, params)
      if (params.Version !== '2016-11-15')
        throw new FakeAwsError('InvalidParameterValue', `Version ${params.Version ?? '(none)'} is not 2016-11-15`)
      const injected = this.takeInjection(action)
      if (injected) throw injected
      if (this.options.deniedActions?.includes(action)) {
        throw new FakeAwsError(
          'UnauthorizedOperation',
          'You are not authorized to perform this operation. Encoded authorization failure message: ZmFrZQ',
        )
      }
      if (this.options.optInRequiredRegions?.includes(region)) {
        throw new FakeAwsError(
          'OptInRequired',
          `You are not subscribed to this service in ${region}. Please go to http://aws.amazon.com to subscribe.`,
        )
      }
      const xml = this.ec2(action, params, region)
      this.calls.push({action, service, region, status: 200, code: null, params})
      const answer = () => this.send(res, 200, 'text/xml;charset=UTF-8', `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`)
      const hold = this.holds.find((h) => h.action === action)
      if (hold) {
        if (--hold.times <= 0) this.holds.splice(this.holds.indexOf(hold), 1)
        this.held.push({action, answer: () => !res.destroyed && answer()})
        for (const wake of this.heldWaiters.splice(0)) wake()
        return
      }
      return answer()
    } catch (error) {
      if (!(error instanceof FakeAwsError)) throw error
      this.calls.push({action, service, region, status: error.status, code: error.code, params})
      const doc =
        service === 'sts'
          ? `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error><RequestId>${requestId()}</RequestId></ErrorResponse>`
          : `<Response><Errors><Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error></Errors><RequestID>${requestId()}</RequestID></Response>`
      return this.send(res, error.status, 'text/xml;charset=UTF-8', `<?xml version="1.0" encoding="UTF-8"?>\n${doc}`)
    }
  }

  private send(res: ServerResponse, status: number, type: string, text: string): void {
    res.writeHead(status, {'Content-Type': type, 'Content-Length': Buffer.byteLength(text)})
    res.end(text)
  }

  private takeInjection(action: string): FakeAwsError | null {
    const inj = this.injections.take((i) => !i.action || i.action === action)
    return inj && new FakeAwsError(inj.code, inj.message ?? `injected ${inj.code}`, inj.status)
  }

  /** SigV4 verification with skyhop's own signer over exactly the headers the client signed. */
  private verify(req: IncomingMessage, url: URL, body: string): {region: string; service: string} {
    const header = req.headers.authorization
    if (!header) throw new FakeAwsError('MissingAuthenticationToken', 'Request is missing Authentication Token', 401)
    const auth = parseAuthorization(header)
    if (!auth) throw new FakeAwsError('IncompleteSignature', 'The request signature does not conform to AWS standards', 400)
    const key = this.keys.find((k) => k.accessKeyId === auth.accessKeyId)
    if (!key) throw new FakeAwsError('AuthFailure', 'AWS was not able to validate the provided access credentials')
    const raw = req.rawHeaders
    const headers: Array<[string, string]> = []
    for (let i = 0; i < raw.length; i += 2) if (auth.signedHeaders.includes(raw[i].toLowerCase())) headers.push([raw[i], raw[i + 1]])
    const names = new Set(headers.map(([n]) => n.toLowerCase()))
    if (!names.has('host') || !names.has('x-amz-date')) throw new FakeAwsError('AuthFailure', 'host and x-amz-date must be signed')
    if (key.sessionToken !== undefined) {
      if (req.headers['x-amz-security-token'] !== key.sessionToken)
        throw new FakeAwsError('AuthFailure', 'The security token included in the request is invalid')
    }
    const amzDate = String(req.headers['x-amz-date'])
    const t = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'))
    if (!Number.isFinite(t) || Math.abs(t - this.now()) > 5 * 60_000)
      throw new FakeAwsError('RequestExpired', `Request has expired. Timestamp date is ${amzDate}`, 400)
    if (auth.date !== amzDate.slice(0, 8)) throw new FakeAwsError('AuthFailure', 'credential scope date does not match X-Amz-Date')
    const expected = signRequest(
      {method: req.method ?? 'POST', path: url.pathname, query: parseQueryString(url.search.slice(1)), headers, body},
      {accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey},
      {region: auth.region, service: auth.service},
    )
    if (!signaturesEqual(expected.signature, auth.signature))
      throw new FakeAwsError('AuthFailure', 'AWS was not able to validate the provided access credentials')
    return {region: auth.region, service: auth.service}
  }

  // ------------------------------------------------------------------ EC2 actions

  private ec2(action: string, p: Record<string, string>, region: string): string {
    const ns = 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"'
    const rid = `<requestId>${requestId()}</requestId>`
    switch (action) {
      case 'RunInstances': {
        const launched = this.runInstances(p, region)
        return `<RunInstancesResponse ${ns}>${rid}<reservationId>r-${launched[0].id.slice(2)}</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>${launched.map((i) => this.instanceXml(i)).join('')}</instancesSet></RunInstancesResponse>`
      }
      case 'CreatePlacementGroup': {
        const name = p.GroupName ?? ''
        if (!name) throw new FakeAwsError('MissingParameter', 'The request must contain the parameter GroupName')
        if (!['cluster', 'spread', 'partition'].includes(p.Strategy ?? ''))
          throw new FakeAwsError('InvalidParameterValue', `Value (${p.Strategy}) for parameter strategy is invalid.`)
        if (this.placementGroups.has(name))
          throw new FakeAwsError('InvalidPlacementGroup.Duplicate', `The Placement Group '${name}' already exists.`)
        const tags = new Map(p['TagSpecification.1.ResourceType'] === 'placement-group' ? this.tagList(p, 'TagSpecification.1.Tag') : [])
        this.placementGroups.set(name, {name, region, strategy: p.Strategy, zone: null, tags})
        const id = `pg-${randomBytes(9).toString('hex').slice(0, 17)}`
        return `<CreatePlacementGroupResponse ${ns}>${rid}<return>true</return><placementGroup><groupName>${escapeXml(name)}</groupName><state>available</state><strategy>${p.Strategy}</strategy><groupId>${id}</groupId></placementGroup></CreatePlacementGroupResponse>`
      }
      case 'CreateSecurityGroup': {
        const name = p.GroupName ?? ''
        if (!name) throw new FakeAwsError('MissingParameter', 'The request must contain the parameter GroupName')
        if (!p.GroupDescription) throw new FakeAwsError('MissingParameter', 'The request must contain the parameter GroupDescription')
        // Without VpcId the group goes in the region's default VPC.
        const vpcId = p.VpcId ?? `vpc-default-${region}`
        if ([...this.securityGroups.values()].some((g) => g.region === region && g.vpcId === vpcId && g.name === name))
          throw new FakeAwsError('InvalidGroup.Duplicate', `The security group '${name}' already exists for VPC '${vpcId}'`)
        const id = `sg-${randomBytes(9).toString('hex').slice(0, 17)}`
        const tags = new Map(p['TagSpecification.1.ResourceType'] === 'security-group' ? this.tagList(p, 'TagSpecification.1.Tag') : [])
        this.securityGroups.set(id, {
          id,
          name,
          region,
          vpcId,
          description: p.GroupDescription,
          tags,
          ingressFromGroups: [],
          egressToGroups: [],
          egressAllIpv4: true,
        })
        return `<CreateSecurityGroupResponse ${ns}>${rid}<return>true</return><groupId>${id}</groupId></CreateSecurityGroupResponse>`
      }
      case 'AuthorizeSecurityGroupIngress':
      case 'AuthorizeSecurityGroupEgress': {
        const group = this.securityGroup(p.GroupId, region)
        const rules = action === 'AuthorizeSecurityGroupIngress' ? group.ingressFromGroups : group.egressToGroups
        const added: string[] = []
        for (let n = 1; p[`IpPermissions.${n}.IpProtocol`] !== undefined; n++) {
          const protocol = p[`IpPermissions.${n}.IpProtocol`]
          // Only what skyhop sends: rules naming groups (UserIdGroupPair). Ports matter for tcp/udp only.
          if (protocol !== '-1') throw new FakeAwsError('InvalidParameterValue', `this fake takes IpProtocol -1 only, not ${protocol}`)
          for (let m = 1; p[`IpPermissions.${n}.Groups.${m}.GroupId`] !== undefined; m++) {
            const other = this.securityGroup(p[`IpPermissions.${n}.Groups.${m}.GroupId`], region)
            const rule = `-1 ${other.id}`
            if (rules.includes(rule) || added.includes(rule))
              throw new FakeAwsError('InvalidPermission.Duplicate', `the specified rule "peer: ${other.id}, ALL, ALLOW" already exists`)
            added.push(rule)
          }
        }
        if (added.length === 0) throw new FakeAwsError('MissingParameter', 'No rule given (IpPermissions.N)')
        rules.push(...added)
        return `<${action}Response ${ns}>${rid}<return>true</return></${action}Response>`
      }
      case 'DescribeSecurityGroups': {
        const filters = this.filters(p)
        const known = new Set(['group-name', 'vpc-id', 'group-id'])
        for (const f of filters)
          if (!known.has(f.name)) throw new FakeAwsError('InvalidParameterValue', `The filter '${f.name}' is invalid`)
        const value = (g: FakeSecurityGroup, name: string) => (name === 'group-name' ? g.name : name === 'vpc-id' ? g.vpcId : g.id)
        const found = [...this.securityGroups.values()].filter(
          (g) => g.region === region && filters.every((f) => f.values.includes(value(g, f.name))),
        )
        const xml = found
          .map(
            (g) =>
              `<item><ownerId>123456789012</ownerId><groupId>${g.id}</groupId><groupName>${escapeXml(g.name)}</groupName><vpcId>${g.vpcId}</vpcId></item>`,
          )
          .join('')
        return `<DescribeSecurityGroupsResponse ${ns}>${rid}<securityGroupInfo>${xml}</securityGroupInfo></DescribeSecurityGroupsResponse>`
      }
      case 'DescribeSubnets': {
        const ids = this.list(p, 'SubnetId')
        const xml = ids
          .map((id) => {
            const subnet = this.options.subnets?.[id]
            if (!subnet) throw new FakeAwsError('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`)
            return `<item><subnetId>${id}</subnetId><vpcId>${subnet.vpcId}</vpcId><availabilityZone>${subnet.zone}</availabilityZone></item>`
          })
          .join('')
        return `<DescribeSubnetsResponse ${ns}>${rid}<subnetSet>${xml}</subnetSet></DescribeSubnetsResponse>`
      }
      case 'DeleteSecurityGroup': {
        const group = this.securityGroup(p.GroupId, region)
        if ([...this.instances.values()].some((i) => i.state !== 'terminated' && this.groupsOf(i).includes(group.id)))
          throw new FakeAwsError('DependencyViolation', `resource ${group.id} has a dependent object`)
        this.securityGroups.delete(group.id)
        return `<DeleteSecurityGroupResponse ${ns}>${rid}<return>true</return><groupId>${group.id}</groupId></DeleteSecurityGroupResponse>`
      }
      case 'DeletePlacementGroup': {
        const name = p.GroupName ?? ''
        const group = this.placementGroups.get(name)
        if (!group || group.region !== region)
          throw new FakeAwsError('InvalidPlacementGroup.Unknown', `The Placement Group '${name}' is unknown.`)
        if ([...this.instances.values()].some((i) => i.placementGroup === name && i.state !== 'terminated'))
          throw new FakeAwsError('InvalidPlacementGroup.InUse', `The placement group '${name}' is in use and may not be deleted.`)
        this.placementGroups.delete(name)
        return `<DeletePlacementGroupResponse ${ns}>${rid}<return>true</return></DeletePlacementGroupResponse>`
      }
      case 'DescribeInstances': {
        const {page, next} = this.describeInstances(p, region)
        const reservations = page
          .map(
            (i) =>
              `<item><reservationId>r-${i.id.slice(2)}</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>${this.instanceXml(i)}</instancesSet></item>`,
          )
          .join('')
        return `<DescribeInstancesResponse ${ns}>${rid}<reservationSet>${reservations}</reservationSet>${next ? `<nextToken>${next}</nextToken>` : ''}</DescribeInstancesResponse>`
      }
      case 'TerminateInstances': {
        const ids = this.list(p, 'InstanceId')
        const found = ids.map((id) => this.inRegion(id, region))
        const items = found
          .map((i) => {
            const previous = i.state
            if (i.state !== 'terminated' && i.state !== 'shutting-down')
              this.shutDown(
                i,
                {code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown'},
                true,
              )
            return `<item><instanceId>${i.id}</instanceId><currentState><code>${STATE_CODES[i.state]}</code><name>${i.state}</name></currentState><previousState><code>${STATE_CODES[previous]}</code><name>${previous}</name></previousState></item>`
          })
          .join('')
        return `<TerminateInstancesResponse ${ns}>${rid}<instancesSet>${items}</instancesSet></TerminateInstancesResponse>`
      }
      case 'CreateTags': {
        const ids = this.list(p, 'ResourceId')
        const tags = this.tagList(p, 'Tag')
        for (const id of ids) for (const [k, v] of tags) this.inRegion(id, region).tags.set(k, v)
        return `<CreateTagsResponse ${ns}>${rid}<return>true</return></CreateTagsResponse>`
      }
      case 'GetConsoleOutput': {
        const i = this.inRegion(p.InstanceId ?? '', region)
        const text = this.consoleOf(i.id)
        // EC2 keeps the most recent 64 KB.
        const tail = Buffer.from(text, 'utf8').subarray(-64 * 1024)
        return `<GetConsoleOutputResponse ${ns}>${rid}<instanceId>${i.id}</instanceId><timestamp>${new Date(this.now()).toISOString()}</timestamp>${tail.length ? `<output>${tail.toString('base64')}</output>` : '<output/>'}</GetConsoleOutputResponse>`
      }
      case 'DescribeSpotPriceHistory': {
        const types = this.list(p, 'InstanceType')
        const zones = Object.keys(this.options.capacity[region] ?? {}).filter((z) => !p.AvailabilityZone || z === p.AvailabilityZone)
        const items = zones.flatMap((z) =>
          Object.entries(this.options.spotPrices?.[z] ?? {})
            .filter(([t]) => types.length === 0 || types.includes(t))
            .map(
              ([t, price]) =>
                `<item><instanceType>${t}</instanceType><productDescription>Linux/UNIX</productDescription><spotPrice>${price.toFixed(6)}</spotPrice><timestamp>${new Date(this.now()).toISOString()}</timestamp><availabilityZone>${z}</availabilityZone></item>`,
            ),
        )
        return `<DescribeSpotPriceHistoryResponse ${ns}>${rid}<spotPriceHistorySet>${items.join('')}</spotPriceHistorySet><nextToken/></DescribeSpotPriceHistoryResponse>`
      }
      case 'DescribeImages': {
        const owners = this.list(p, 'Owner')
        const ids = this.list(p, 'ImageId')
        const filters = this.filters(p)
        const images = (this.options.images ?? DEFAULT_IMAGES).filter(
          (img) =>
            img.region === region &&
            (owners.length === 0 || owners.includes(img.owner) || (owners.includes('self') && img.owner === '123456789012')) &&
            (ids.length === 0 || ids.includes(img.imageId)) &&
            filters.every(({name, values}) => {
              const v = name === 'name' ? img.name : name === 'architecture' ? img.architecture : name === 'state' ? 'available' : undefined
              return v === undefined || values.some((pattern) => wildcard(pattern, v))
            }),
        )
        if (ids.length > 0 && images.length === 0)
          throw new FakeAwsError('InvalidAMIID.NotFound', `The image id '[${ids.join(', ')}]' does not exist`)
        const items = images
          .map(
            (img) =>
              `<item><imageId>${img.imageId}</imageId><imageState>available</imageState><imageOwnerId>${img.owner}</imageOwnerId><creationDate>${img.creationDate}</creationDate><isPublic>true</isPublic><architecture>${img.architecture}</architecture><imageType>machine</imageType><name>${escapeXml(img.name)}</name><rootDeviceType>ebs</rootDeviceType><rootDeviceName>${img.rootDeviceName}</rootDeviceName></item>`,
          )
          .join('')
        return `<DescribeImagesResponse ${ns}>${rid}<imagesSet>${items}</imagesSet></DescribeImagesResponse>`
      }
      case 'DescribeAvailabilityZones': {
        const zones = Object.keys(this.options.capacity[region] ?? {})
        if (zones.length === 0) throw new FakeAwsError('InvalidParameterValue', `region ${region} is not known to this fake`)
        const items = zones
          .map(
            (z) =>
              `<item><zoneName>${z}</zoneName><zoneState>available</zoneState><regionName>${region}</regionName><zoneId>${z}-id</zoneId></item>`,
          )
          .join('')
        return `<DescribeAvailabilityZonesResponse ${ns}>${rid}<availabilityZoneInfo>${items}</availabilityZoneInfo></DescribeAvailabilityZonesResponse>`
      }
      default:
        throw new FakeAwsError('InvalidAction', `The action ${action} is not valid for this web service.`)
    }
  }

  private list(p: Record<string, string>, name: string): string[] {
    const out: string[] = []
    for (let n = 1; p[`${name}.${n}`] !== undefined; n++) out.push(p[`${name}.${n}`])
    return out
  }

  private tagList(p: Record<string, string>, prefix: string): Array<[string, string]> {
    const out: Array<[string, string]> = []
    for (let n = 1; p[`${prefix}.${n}.Key`] !== undefined; n++) out.push([p[`${prefix}.${n}.Key`], p[`${prefix}.${n}.Value`] ?? ''])
    return out
  }

  private filters(p: Record<string, string>): Array<{name: string; values: string[]}> {
    const out: Array<{name: string; values: string[]}> = []
    for (let n = 1; p[`Filter.${n}.Name`] !== undefined; n++)
      out.push({name: p[`Filter.${n}.Name`], values: this.list(p, `Filter.${n}.Value`)})
    return out
  }

  private securityGroup(id: string | undefined, region: string): FakeSecurityGroup {
    const group = id === undefined ? undefined : this.securityGroups.get(id)
    if (!group || group.region !== region)
      throw new FakeAwsError('InvalidGroup.NotFound', `The security group '${id ?? ''}' does not exist`)
    return group
  }

  /** Every security group any of the instance's interfaces is in. */
  groupsOf(i: FakeInstance): string[] {
    return [...new Set([...i.securityGroups, ...i.networkInterfaces.flatMap((n) => n.groups)])]
  }

  /**
   * RunInstances' NetworkInterface.N, checked as EC2 checks it: a device index on each, no
   * instance-level subnet or groups beside them, a public IPv4 only with one interface, EFA
   * only on a type that supports it and on its network cards, no EFA-only primary. Sources:
   * EC2 API reference InstanceNetworkInterfaceSpecification (AssociatePublicIpAddress: "You
   * cannot specify more than one network interface in the request"); AWS user guide
   * efa-acc-inst-types ("You can't use an EFA-only network interface as the primary network
   * interface"). The codes are EC2's. The EFA-unsupported wording is EC2's as a user quoted it
   * ("t2.micro instances do not support Elastic Fabric Adapters", devopsacademyau/academy#277,
   * from the console); its code, and the network-card wording, are this fake's.
   */
  private networkInterfaces(p: Record<string, string>, type: string, region: string): FakeNetworkInterface[] {
    const out: FakeNetworkInterface[] = []
    for (let n = 1; Object.keys(p).some((k) => k.startsWith(`NetworkInterface.${n}.`)); n++) {
      const at = (k: string) => p[`NetworkInterface.${n}.${k}`]
      if (at('DeviceIndex') === undefined)
        throw new FakeAwsError('InvalidParameterValue', `Each network interface requires a device index.`)
      const groups = this.list(p, `NetworkInterface.${n}.SecurityGroupId`)
      for (const g of groups) this.securityGroup(g, region)
      out.push({
        deviceIndex: Number(at('DeviceIndex')),
        networkCardIndex: Number(at('NetworkCardIndex') ?? '0'),
        interfaceType: at('InterfaceType') ?? 'interface',
        subnetId: at('SubnetId') ?? null,
        groups,
      })
      if (at('AssociatePublicIpAddress') !== undefined && Object.keys(p).some((k) => k.startsWith('NetworkInterface.2.')))
        throw new FakeAwsError(
          'InvalidParameterCombination',
          'The associatePublicIPAddress parameter cannot be specified when launching with multiple network interfaces.',
        )
    }
    if (out.length === 0) return out
    if (p.SubnetId !== undefined)
      throw new FakeAwsError(
        'InvalidParameterCombination',
        'Network interfaces and an instance-level subnet ID may not be specified on the same request',
      )
    if (p['SecurityGroupId.1'] !== undefined || p['SecurityGroup.1'] !== undefined)
      throw new FakeAwsError(
        'InvalidParameterCombination',
        'Network interfaces and an instance-level security groups may not be specified on the same request',
      )
    const cards = (this.options.efaNetworkCards ?? DEFAULT_EFA_CARDS)[type]
    const seen = new Set<string>()
    for (const nic of out) {
      if (!['interface', 'efa', 'efa-only'].includes(nic.interfaceType))
        throw new FakeAwsError('InvalidParameterValue', `Value (${nic.interfaceType}) for parameter interfaceType is invalid.`)
      if (nic.interfaceType !== 'interface' && cards === undefined)
        throw new FakeAwsError('InvalidParameterCombination', `${type} instances do not support Elastic Fabric Adapters.`)
      if (nic.networkCardIndex >= (cards ?? 1))
        throw new FakeAwsError(
          'InvalidParameterValue',
          `Network card index ${nic.networkCardIndex} is not valid for instance type ${type}.`,
        )
      const slot = `${nic.networkCardIndex}/${nic.deviceIndex}`
      if (seen.has(slot))
        throw new FakeAwsError(
          'InvalidParameterValue',
          `Two network interfaces on network card ${nic.networkCardIndex} have device index ${nic.deviceIndex}.`,
        )
      seen.add(slot)
      if (nic.networkCardIndex === 0 && nic.deviceIndex === 0 && nic.interfaceType === 'efa-only')
        throw new FakeAwsError('InvalidParameterCombination', 'An EFA-only network interface cannot be the primary network interface.')
    }
    if (!seen.has('0/0'))
      throw new FakeAwsError('InvalidParameterValue', 'A primary network interface (device index 0 on network card 0) is required.')
    return out
  }

  private inRegion(id: string, region: string): FakeInstance {
    const i = this.instances.get(id)
    if (!i || i.region !== region) throw new FakeAwsError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`)
    return i
  }

  private runInstances(p: Record<string, string>, region: string): FakeInstance[] {
    const type = p.InstanceType ?? 'm1.small'
    const token = p.ClientToken ?? null
    // Everything that defines the launch, for IdempotentParameterMismatch.
    const paramsKey = JSON.stringify(
      Object.entries(p)
        .filter(([k]) => k !== 'Action' && k !== 'Version')
        .sort(),
    )
    if (token) {
      const seen = this.tokens.get(token)
      if (seen) {
        if (seen.params !== paramsKey)
          throw new FakeAwsError(
            'IdempotentParameterMismatch',
            'The client token you have provided is associated with a resource that is already deleted or the request parameters do not match the original request',
          )
        return seen.instanceIds.map((id) => this.instances.get(id)!)
      }
    }
    const minCount = Number(p.MinCount)
    const maxCount = Number(p.MaxCount)
    if (!Number.isInteger(minCount) || minCount < 1)
      throw new FakeAwsError('InvalidParameterValue', `Value (${p.MinCount}) for parameter minCount is invalid.`)
    if (!Number.isInteger(maxCount) || maxCount < minCount)
      throw new FakeAwsError('InvalidParameterValue', `Value (${p.MaxCount}) for parameter maxCount is invalid. Must be >= minCount.`)
    const groupName = p['Placement.GroupName']
    const group = groupName === undefined ? null : this.placementGroups.get(groupName)
    if (groupName !== undefined && (!group || group.region !== region))
      throw new FakeAwsError('InvalidPlacementGroup.Unknown', `The Placement Group '${groupName}' is unknown.`)
    const networkInterfaces = this.networkInterfaces(p, type, region)
    const instanceGroups = this.list(p, 'SecurityGroupId')
    for (const g of instanceGroups) this.securityGroup(g, region)
    const image = (this.options.images ?? DEFAULT_IMAGES).find((img) => img.imageId === p.ImageId && img.region === region)
    if (!image) throw new FakeAwsError('InvalidAMIID.NotFound', `The image id '[${p.ImageId}]' does not exist`)
    const zones = this.options.capacity[region] ?? {}
    let zone: string | undefined = p['Placement.AvailabilityZone']
    if (zone && !(zone in zones)) throw new FakeAwsError('InvalidParameterValue', `Invalid availability zone: [${zone}]`)
    if (group?.strategy === 'cluster' && group.zone && zone && zone !== group.zone)
      throw new FakeAwsError('InvalidParameterCombination', `The placement group '${group.name}' is in ${group.zone}, not ${zone}.`)
    zone ??= group?.zone ?? undefined
    zone ??= Object.keys(zones).find((z) => (zones[z][type] ?? 0) > 0) ?? Object.keys(zones).find((z) => type in zones[z])
    if (!zone || !(type in zones[zone])) {
      throw new FakeAwsError(
        'Unsupported',
        `Your requested instance type (${type}) is not supported in your requested Availability Zone (${zone ?? region}). Please retry your request by not specifying an Availability Zone or choosing another.`,
      )
    }
    const spot = p['InstanceMarketOptions.MarketType'] === 'spot'
    const live = this.liveInstances().filter((i) => i.region === region)
    const quota = this.options.quotas?.[region] ?? {}
    if (quota.instances !== undefined && live.length + minCount > quota.instances) {
      throw new FakeAwsError(
        'InstanceLimitExceeded',
        `You have requested more instances (${live.length + minCount}) than your current instance limit of ${quota.instances} allows for the specified instance type.`,
      )
    }
    const vcpu = (t: string) => this.options.vcpus?.[t] ?? 4
    if (quota.vcpus !== undefined && live.reduce((s, i) => s + vcpu(i.instanceType), 0) + minCount * vcpu(type) > quota.vcpus) {
      throw new FakeAwsError(
        'VcpuLimitExceeded',
        `You have requested more vCPU capacity than your current vCPU limit of ${quota.vcpus} allows for the instance bucket that the specified instance type belongs to.`,
      )
    }
    if (spot && quota.spotInstances !== undefined && live.filter((i) => i.spot).length + minCount > quota.spotInstances) {
      throw new FakeAwsError('MaxSpotInstanceCountExceeded', 'Max spot instance count exceeded')
    }
    if (spot) {
      const price = this.options.spotPrices?.[zone]?.[type]
      const max = p['InstanceMarketOptions.SpotOptions.MaxPrice']
      if (price !== undefined && max !== undefined && Number(max) < price) {
        throw new FakeAwsError(
          'SpotMaxPriceTooLow',
          `Your Spot request price of ${max} is lower than the minimum required Spot request fulfillment price of ${price}.`,
        )
      }
    }
    // EC2 grants MaxCount when it can, at least MinCount, or nothing.
    const free = spot && this.noSpot.has(zone) ? 0 : (zones[zone][type] ?? 0)
    if (free < minCount) {
      throw new FakeAwsError(
        'InsufficientInstanceCapacity',
        `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${zone}). Our system will be working on provisioning additional capacity. You can currently get ${free} ${type} capacity by not specifying an Availability Zone in your request or choosing ${zone}.`,
      )
    }
    const count = Math.min(free, maxCount)
    zones[zone][type] -= count
    if (group?.strategy === 'cluster') group.zone ??= zone
    const tags = new Map<string, string>()
    for (let n = 1; p[`TagSpecification.${n}.ResourceType`] !== undefined; n++) {
      if (p[`TagSpecification.${n}.ResourceType`] === 'instance')
        for (const [k, v] of this.tagList(p, `TagSpecification.${n}.Tag`)) tags.set(k, v)
    }
    const launched: FakeInstance[] = []
    for (let launchIndex = 0; launchIndex < count; launchIndex++) {
      const id = `i-${randomBytes(9).toString('hex').slice(0, 17)}`
      const n = this.nextIp++
      const instance: FakeInstance = {
        id,
        region,
        zone,
        instanceType: type,
        imageId: image.imageId,
        state: 'pending',
        launchTime: new Date(this.now()).toISOString(),
        tags: new Map(tags),
        spot,
        userData: p.UserData ?? null,
        clientToken: token,
        paramsKey,
        terminateOnShutdown: p.InstanceInitiatedShutdownBehavior === 'terminate',
        metadataTags: p['MetadataOptions.InstanceMetadataTags'] === 'enabled',
        stateReason: null,
        spotAction: null,
        process: null,
        console: '',
        launchIndex,
        privateIp: `10.0.${Math.floor(n / 250)}.${(n % 250) + 2}`,
        placementGroup: groupName ?? null,
        networkInterfaces,
        securityGroups: instanceGroups,
      }
      this.instances.set(id, instance)
      launched.push(instance)
      this.later(this.options.pendingMs ?? 30, () => {
        if (instance.state !== 'pending') return
        instance.state = 'running'
        if (this.options.bootDir) this.boot(instance)
      })
    }
    if (token) this.tokens.set(token, {instanceIds: launched.map((i) => i.id), params: paramsKey})
    return launched
  }

  private describeInstances(p: Record<string, string>, region: string): {page: FakeInstance[]; next: string | null} {
    const ids = this.list(p, 'InstanceId')
    for (const id of ids) this.inRegion(id, region)
    const filters = this.filters(p)
    const all = [...this.instances.values()].filter(
      (i) =>
        i.region === region &&
        (ids.length === 0 || ids.includes(i.id)) &&
        filters.every(({name, values}) => {
          if (name === 'instance-id') return values.includes(i.id)
          if (name === 'instance-state-name') return values.includes(i.state)
          if (name === 'availability-zone') return values.includes(i.zone)
          if (name === 'tag-key') return values.some((v) => i.tags.has(v))
          if (name.startsWith('tag:')) return values.some((v) => wildcard(v, i.tags.get(name.slice(4)) ?? '\u0000'))
          throw new FakeAwsError('InvalidParameterValue', `The filter '${name}' is invalid`)
        }),
    )
    const max = Math.min(Number(p.MaxResults ?? 1000), this.options.pageSize ?? 1000)
    const offset = p.NextToken ? Number(Buffer.from(p.NextToken, 'base64').toString('utf8')) : 0
    const page = all.slice(offset, offset + max)
    const next = offset + max < all.length ? Buffer.from(String(offset + max)).toString('base64') : null
    return {page, next}
  }

  private instanceXml(i: FakeInstance): string {
    const tags = [...i.tags].map(([k, v]) => `<item><key>${escapeXml(k)}</key><value>${escapeXml(v)}</value></item>`).join('')
    return (
      `<item><instanceId>${i.id}</instanceId><imageId>${i.imageId}</imageId><instanceState><code>${STATE_CODES[i.state]}</code><name>${i.state}</name></instanceState>` +
      `<privateDnsName>ip-${i.privateIp.replaceAll('.', '-')}.ec2.internal</privateDnsName><reason>${i.stateReason ? escapeXml(i.stateReason.message) : ''}</reason><amiLaunchIndex>${i.launchIndex}</amiLaunchIndex>` +
      `<instanceType>${i.instanceType}</instanceType><launchTime>${i.launchTime}</launchTime><placement><availabilityZone>${i.zone}</availabilityZone>${i.placementGroup ? `<groupName>${escapeXml(i.placementGroup)}</groupName>` : ''}<tenancy>default</tenancy></placement>` +
      `<monitoring><state>disabled</state></monitoring><privateIpAddress>${i.privateIp}</privateIpAddress>` +
      (i.spot ? `<instanceLifecycle>spot</instanceLifecycle><spotInstanceRequestId>sir-${i.id.slice(2, 10)}</spotInstanceRequestId>` : '') +
      (i.stateReason
        ? `<stateReason><code>${escapeXml(i.stateReason.code)}</code><message>${escapeXml(i.stateReason.message)}</message></stateReason>`
        : '') +
      `<groupSet>${this.groupsOf(i)
        .map((id) => `<item><groupId>${id}</groupId><groupName>${escapeXml(this.securityGroups.get(id)?.name ?? '')}</groupName></item>`)
        .join('')}</groupSet>` +
      `<tagSet>${tags}</tagSet></item>`
    )
  }

  /** shutting-down → terminated (or stopping → stopped), capacity back, process gone. */
  private shutDown(i: FakeInstance, reason: {code: string; message: string}, terminate: boolean): void {
    this.killProcess(i)
    i.stateReason = reason
    i.state = terminate ? 'shutting-down' : 'stopping'
    this.later(this.options.shuttingDownMs ?? 30, () => {
      i.state = terminate ? 'terminated' : 'stopped'
      restock(this.options.capacity, i.region, i.zone, i.instanceType)
    })
  }

  private killProcess(i: FakeInstance): void {
    const child = i.process
    i.process = null
    killGroup(child)
  }

  /** Runs the user data as cloud-init would: once, as a script, at first boot. */
  private boot(i: FakeInstance): void {
    if (!i.userData) return
    const child = runUserData(join(this.options.bootDir!, i.id), i.userData, i.id)
    i.process = child
    child.on('exit', () => {
      if (i.process !== child) return
      i.process = null
      // The script ends with a power-off: the instance-initiated shutdown.
      if (i.state === 'running')
        this.shutDown(
          i,
          {code: 'Client.InstanceInitiatedShutdown', message: 'Client.InstanceInitiatedShutdown: Instance initiated shutdown'},
          i.terminateOnShutdown,
        )
    })
  }

  // ------------------------------------------------------------------ metadata, STS, SSO

  private imdsToken(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method === 'PUT') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) {
        this.send(res, 400, 'text/plain', 'missing TTL')
        return true
      }
      const token = randomBytes(24).toString('base64')
      this.imdsTokens.add(token)
      this.send(res, 200, 'text/plain', token)
      return true
    }
    if (!this.imdsTokens.has(String(req.headers['x-aws-ec2-metadata-token'] ?? ''))) {
      this.send(res, 401, 'text/plain', 'Unauthorized')
      return true
    }
    return false
  }

  private instanceMetadata(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const m = /^\/_imds\/([^/]+)(\/latest\/.*)$/.exec(url.pathname)
    const ofAttempt = m
      ? [...this.instances.values()].filter((i) => i.tags.get('skyhop:attempt-id') === decodeURIComponent(m[1]) && i.state !== 'terminated')
      : []
    // A gang's instances share the attempt: the one asking is the one answered.
    const instance = ofAttempt.length > 1 ? askingInstance(req, ofAttempt) : (ofAttempt[0] ?? null)
    if (!m || !instance) return this.send(res, 404, 'text/plain', 'Not Found')
    const path = m[2]
    if (path === '/latest/api/token') {
      this.imdsToken(req, res)
      return
    }
    if (this.imdsToken(req, res)) return
    if (path === '/latest/meta-data/instance-id') return this.send(res, 200, 'text/plain', instance.id)
    if (path === '/latest/meta-data/local-ipv4') return this.send(res, 200, 'text/plain', instance.privateIp)
    if (path === '/latest/meta-data/ami-launch-index') return this.send(res, 200, 'text/plain', String(instance.launchIndex))
    if (path === '/latest/meta-data/spot/instance-action') {
      if (!instance.spotAction) return this.send(res, 404, 'text/plain', 'Not Found')
      return this.send(res, 200, 'text/plain', JSON.stringify({action: 'terminate', time: instance.spotAction.time}))
    }
    const tag = /^\/latest\/meta-data\/tags\/instance\/(.+)$/.exec(path)
    if (tag && instance.metadataTags) {
      const value = instance.tags.get(decodeURIComponent(tag[1]))
      return value === undefined ? this.send(res, 404, 'text/plain', 'Not Found') : this.send(res, 200, 'text/plain', value)
    }
    this.send(res, 404, 'text/plain', 'Not Found')
  }

  private hostMetadata(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (url.pathname === '/latest/api/token') {
      this.imdsToken(req, res)
      return
    }
    if (this.imdsToken(req, res)) return
    const role = this.options.instanceRole
    if (url.pathname === '/latest/meta-data/iam/security-credentials/') {
      return role ? this.send(res, 200, 'text/plain', role.name) : this.send(res, 404, 'text/plain', 'Not Found')
    }
    if (role && url.pathname === `/latest/meta-data/iam/security-credentials/${role.name}`) {
      this.ensureKey(role.key)
      const expiration = new Date(this.now() + 6 * 3600_000).toISOString()
      return this.send(
        res,
        200,
        'text/plain',
        JSON.stringify({
          Code: 'Success',
          Type: 'AWS-HMAC',
          AccessKeyId: role.key.accessKeyId,
          SecretAccessKey: role.key.secretAccessKey,
          Token: role.key.sessionToken,
          Expiration: expiration,
        }),
      )
    }
    this.send(res, 404, 'text/plain', 'Not Found')
  }

  private ensureKey(key: FakeKey): void {
    if (!this.keys.some((k) => k.accessKeyId === key.accessKeyId)) this.keys.push(key)
  }

  private issueKey(): FakeKey & {expiration: string} {
    const key = {
      accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: randomBytes(60).toString('base64'),
    }
    this.keys.push(key)
    return {...key, expiration: new Date(this.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z')}
  }

  private credentialsXml(key: FakeKey & {expiration: string}): string {
    return `<Credentials><AccessKeyId>${key.accessKeyId}</AccessKeyId><SecretAccessKey>${escapeXml(key.secretAccessKey)}</SecretAccessKey><SessionToken>${escapeXml(key.sessionToken ?? '')}</SessionToken><Expiration>${key.expiration}</Expiration></Credentials>`
  }

  private sts(res: ServerResponse, action: string, p: Record<string, string>): void {
    if (action !== 'AssumeRole') throw new FakeAwsError('InvalidAction', `Could not find operation ${action} for version 2011-06-15`)
    if (!this.options.assumableRoles?.includes(p.RoleArn ?? ''))
      throw new FakeAwsError('AccessDenied', `User is not authorized to perform: sts:AssumeRole on resource: ${p.RoleArn}`, 403)
    const key = this.issueKey()
    this.calls.push({action, service: 'sts', region: null, status: 200, code: null, params: p})
    this.send(
      res,
      200,
      'text/xml',
      `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>${this.credentialsXml(key)}<AssumedRoleUser><Arn>${escapeXml(p.RoleArn)}/${escapeXml(p.RoleSessionName ?? '')}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>${requestId()}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
    )
  }

  private stsWebIdentity(res: ServerResponse, p: Record<string, string>): void {
    const ok =
      this.options.webIdentityToken !== undefined &&
      p.WebIdentityToken === this.options.webIdentityToken &&
      this.options.assumableRoles?.includes(p.RoleArn ?? '')
    this.calls.push({
      action: 'AssumeRoleWithWebIdentity',
      service: 'sts',
      region: null,
      status: ok ? 200 : 403,
      code: ok ? null : 'AccessDenied',
      params: {RoleArn: p.RoleArn ?? ''},
    })
    if (!ok) {
      return this.send(
        res,
        403,
        'text/xml',
        `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error><RequestId>${requestId()}</RequestId></ErrorResponse>`,
      )
    }
    const key = this.issueKey()
    this.send(
      res,
      200,
      'text/xml',
      `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>${this.credentialsXml(key)}</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>${requestId()}</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
    )
  }

  /** The ECS/EKS container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI). */
  private container(req: IncomingMessage, res: ServerResponse): void {
    const c = this.options.container
    if (!c || req.headers.authorization !== c.authorizationToken)
      return this.send(res, 403, 'application/json', JSON.stringify({message: 'forbidden'}))
    this.ensureKey(c.key)
    this.send(
      res,
      200,
      'application/json',
      JSON.stringify({
        AccessKeyId: c.key.accessKeyId,
        SecretAccessKey: c.key.secretAccessKey,
        Token: c.key.sessionToken,
        Expiration: new Date(this.now() + 3600_000).toISOString(),
      }),
    )
  }

  private sso(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const sso = this.options.sso
    if (!sso || req.headers['x-amz-sso_bearer_token'] !== sso.accessToken) {
      return this.send(res, 401, 'application/json', JSON.stringify({message: 'Session token not found or invalid'}))
    }
    if (!url.searchParams.get('account_id') || !url.searchParams.get('role_name'))
      return this.send(res, 400, 'application/json', JSON.stringify({message: 'missing account_id or role_name'}))
    this.ensureKey(sso.key)
    this.send(
      res,
      200,
      'application/json',
      JSON.stringify({
        roleCredentials: {
          accessKeyId: sso.key.accessKeyId,
          secretAccessKey: sso.key.secretAccessKey,
          sessionToken: sso.key.sessionToken,
          expiration: this.now() + 3600_000,
        },
      }),
    )
  }
}
