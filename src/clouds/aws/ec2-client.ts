// A typed EC2 client over the Query API (Version 2016-11-15): SigV4-signed form POSTs
// through an injected undici dispatcher, XML answers read with our own safe parser,
// throttling and 5xx retried with capped exponential backoff, and every other failure
// mapped onto skyhop's taxonomy (ec2-errors.ts). One client per region.
import {ProviderError, BugError, UsageError} from '../../errors.js'
import type {Money} from '../../model/job-spec.js'
import {retriedCall, type ApiClientOptions} from '../common/api-client.js'
import {isRetryableEc2Error, toProviderError} from './ec2-errors.js'
import {ec2Endpoint} from './endpoints.js'
import {queryCall, type QueryParams} from './query-client.js'
import type {AwsCredentials} from './sigv4.js'
import {items, textAt, type XmlElement} from './xml.js'

export const EC2_API_VERSION = '2016-11-15'

/** `env` is read for AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL and SKYHOP_AWS_ENDPOINT. */
export type Ec2ClientOptions = ApiClientOptions<AwsCredentials>

export interface Tag {
  key: string
  value: string
}

export type Ec2InstanceState = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped'

export interface Ec2Instance {
  instanceId: string
  instanceType: string
  imageId: string | null
  state: Ec2InstanceState
  zone: string | null
  launchTime: string | null
  /** e.g. `Server.SpotInstanceTermination`, `Client.InstanceInitiatedShutdown`. */
  stateReasonCode: string | null
  stateReasonMessage: string | null
  /** `spot` for spot instances, null for on-demand. */
  lifecycle: string | null
  tags: Record<string, string>
  privateIp: string | null
  publicIp: string | null
  /** The instance's place among those one RunInstances launched (0-based). */
  launchIndex: number
  /** Its security groups (groupSet), by name and id. */
  securityGroups: Array<{id: string; name: string}>
}

export interface RunInstancesInput {
  imageId: string
  instanceType: string
  zone?: string | null
  /** Idempotency token, at most 64 ASCII characters. */
  clientToken: string
  /** Base64 of the user data. */
  userData?: string
  tags?: Tag[]
  spot?: {maxPrice?: Money | null} | null
  /** Root volume size in GiB and the image's root device name. */
  rootVolume?: {deviceName: string; sizeGiB: number} | null
  subnetId?: string | null
  securityGroupIds?: string[]
  iamInstanceProfile?: string | null
  keyName?: string | null
  /** The instance terminates itself on `shutdown` (no idle billing). Default true. */
  terminateOnShutdown?: boolean
  /** Expose instance tags in IMDS (the cancel channel). Default true. */
  metadataTags?: boolean
  /** How many instances, all or none (MinCount = MaxCount). Default 1. */
  count?: number
  /** A placement group the instances go in (a gang's cluster group). */
  placementGroup?: string | null
  /**
   * The instance's network interfaces (NetworkInterface.N), e.g. a gang's EFA. When given,
   * the subnet and security groups go on each interface: EC2 refuses them at instance level
   * beside interfaces (InvalidParameterCombination).
   */
  networkInterfaces?: NetworkInterfaceSpec[] | null
}

/** One interface RunInstances creates (EC2 API reference: InstanceNetworkInterfaceSpecification). */
export interface NetworkInterfaceSpec {
  deviceIndex: number
  networkCardIndex: number
  /** `efa`: EFA with ENA (an IP address); `efa-only`: the EFA device alone; `interface`: ENA. */
  interfaceType: 'interface' | 'efa' | 'efa-only'
  subnetId?: string | null
  securityGroupIds: string[]
}

export interface SpotPrice {
  instanceType: string
  zone: string
  productDescription: string
  price: Money
  timestamp: string
}

export interface Ec2Image {
  imageId: string
  name: string
  creationDate: string
  rootDeviceName: string | null
  architecture: string | null
}

export interface Ec2Filter {
  name: string
  values: string[]
}

function filterParams(filters: Ec2Filter[], prefix = 'Filter'): Array<[string, string]> {
  const out: Array<[string, string]> = []
  filters.forEach((f, i) => {
    out.push([`${prefix}.${i + 1}.Name`, f.name])
    f.values.forEach((v, j) => out.push([`${prefix}.${i + 1}.Value.${j + 1}`, v]))
  })
  return out
}

function listParams(name: string, values: string[]): Array<[string, string]> {
  return values.map((v, i) => [`${name}.${i + 1}`, v])
}

const STATES: ReadonlySet<string> = new Set(['pending', 'running', 'shutting-down', 'terminated', 'stopping', 'stopped'])

export function parseInstance(item: XmlElement): Ec2Instance {
  const tags: Record<string, string> = {}
  for (const t of items(item, 'tagSet')) tags[textAt(t, 'key') ?? ''] = textAt(t, 'value') ?? ''
  const state = textAt(item, 'instanceState/name') ?? 'pending'
  return {
    instanceId: textAt(item, 'instanceId') ?? '',
    instanceType: textAt(item, 'instanceType') ?? '',
    imageId: textAt(item, 'imageId') ?? null,
    state: (STATES.has(state) ? state : 'pending') as Ec2InstanceState,
    zone: textAt(item, 'placement/availabilityZone') ?? null,
    launchTime: textAt(item, 'launchTime') ?? null,
    stateReasonCode: textAt(item, 'stateReason/code') ?? null,
    stateReasonMessage: textAt(item, 'stateReason/message') ?? null,
    lifecycle: textAt(item, 'instanceLifecycle') ?? null,
    tags,
    privateIp: textAt(item, 'privateIpAddress') ?? null,
    publicIp: textAt(item, 'ipAddress') ?? null,
    launchIndex: Number(textAt(item, 'amiLaunchIndex') ?? '0') || 0,
    securityGroups: items(item, 'groupSet').map((g) => ({id: textAt(g, 'groupId') ?? '', name: textAt(g, 'groupName') ?? ''})),
  }
}

export class Ec2Client {
  readonly region: string
  readonly endpoint: string

  constructor(private readonly options: Ec2ClientOptions) {
    this.region = options.region
    this.endpoint = options.endpoint ?? ec2Endpoint(options.region, options.env ?? process.env).url
  }

  /** One action with retries; failures come back as ProviderError. */
  async call(action: string, params: QueryParams, context: {zone?: string | null; instanceType?: string} = {}): Promise<XmlElement> {
    return retriedCall(
      this.options,
      action,
      async () =>
        queryCall({
          endpoint: this.endpoint,
          region: this.region,
          service: 'ec2',
          action,
          version: EC2_API_VERSION,
          params,
          credentials: await this.options.credentials(),
          dispatcher: this.options.dispatcher,
          timeoutMs: this.options.timeoutMs ?? 20_000,
          now: this.options.now,
        }),
      isRetryableEc2Error,
      (error) => toProviderError(error, {action, region: this.region, zone: context.zone, instanceType: context.instanceType}),
    )
  }

  /** The instances launched, in launch-index order; all `count` of them or an error (MinCount = MaxCount). */
  async runInstances(input: RunInstancesInput): Promise<Ec2Instance[]> {
    if (!/^[\x20-\x7e]{1,64}$/.test(input.clientToken))
      throw new BugError('RunInstances: ClientToken must be 1-64 printable ASCII characters')
    const count = String(input.count ?? 1)
    const p: Array<[string, string]> = [
      ['ImageId', input.imageId],
      ['InstanceType', input.instanceType],
      ['MinCount', count],
      ['MaxCount', count],
      ['ClientToken', input.clientToken],
    ]
    if (input.zone) p.push(['Placement.AvailabilityZone', input.zone])
    if (input.placementGroup) p.push(['Placement.GroupName', input.placementGroup])
    if (input.userData) p.push(['UserData', input.userData])
    if (input.terminateOnShutdown ?? true) p.push(['InstanceInitiatedShutdownBehavior', 'terminate'])
    p.push(['MetadataOptions.HttpTokens', 'required'], ['MetadataOptions.HttpEndpoint', 'enabled'])
    if (input.metadataTags ?? true) p.push(['MetadataOptions.InstanceMetadataTags', 'enabled'])
    if (input.spot) {
      p.push(
        ['InstanceMarketOptions.MarketType', 'spot'],
        ['InstanceMarketOptions.SpotOptions.SpotInstanceType', 'one-time'],
        ['InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior', 'terminate'],
      )
      const max = input.spot.maxPrice
      if (max) {
        if (max.currency !== 'USD')
          throw new UsageError(`EC2 spot max price must be in USD, not ${max.currency}`, {code: 'MAX_PRICE_CURRENCY'})
        p.push(['InstanceMarketOptions.SpotOptions.MaxPrice', max.amount.toFixed(4)])
      }
    }
    if (input.rootVolume) {
      p.push(
        ['BlockDeviceMapping.1.DeviceName', input.rootVolume.deviceName],
        ['BlockDeviceMapping.1.Ebs.VolumeSize', String(Math.ceil(input.rootVolume.sizeGiB))],
        ['BlockDeviceMapping.1.Ebs.VolumeType', 'gp3'],
        ['BlockDeviceMapping.1.Ebs.DeleteOnTermination', 'true'],
      )
    }
    const nics = input.networkInterfaces ?? []
    // Query names: NetworkInterface.N.DeviceIndex / NetworkCardIndex / InterfaceType / SubnetId /
    // SecurityGroupId.M (the `Groups` member's locationName). No AssociatePublicIpAddress: EC2
    // takes it only with one interface, and the subnet's default is what a launch without
    // interfaces gets too.
    nics.forEach((nic, i) => {
      const at = `NetworkInterface.${i + 1}`
      p.push(
        [`${at}.DeviceIndex`, String(nic.deviceIndex)],
        [`${at}.NetworkCardIndex`, String(nic.networkCardIndex)],
        [`${at}.InterfaceType`, nic.interfaceType],
        [`${at}.DeleteOnTermination`, 'true'],
      )
      if (nic.subnetId) p.push([`${at}.SubnetId`, nic.subnetId])
      p.push(...listParams(`${at}.SecurityGroupId`, nic.securityGroupIds))
    })
    if (nics.length === 0) {
      if (input.subnetId) p.push(['SubnetId', input.subnetId])
      p.push(...listParams('SecurityGroupId', input.securityGroupIds ?? []))
    }
    if (input.iamInstanceProfile)
      p.push([input.iamInstanceProfile.startsWith('arn:') ? 'IamInstanceProfile.Arn' : 'IamInstanceProfile.Name', input.iamInstanceProfile])
    if (input.keyName) p.push(['KeyName', input.keyName])
    const tags = input.tags ?? []
    if (tags.length > 0) {
      ;['instance', 'volume'].forEach((type, i) => {
        p.push([`TagSpecification.${i + 1}.ResourceType`, type])
        tags.forEach((t, j) =>
          p.push([`TagSpecification.${i + 1}.Tag.${j + 1}.Key`, t.key], [`TagSpecification.${i + 1}.Tag.${j + 1}.Value`, t.value]),
        )
      })
    }
    const root = await this.call('RunInstances', p, {zone: input.zone, instanceType: input.instanceType})
    const launched = items(root, 'instancesSet').map(parseInstance)
    // What the controller made of this when it was a bare Error: transient, unexpected.
    if (launched.length === 0)
      throw new ProviderError('aws', 'transient', 'RunInstances returned no instance', {code: 'PROVIDER_UNEXPECTED'})
    return launched.sort((a, b) => a.launchIndex - b.launchIndex)
  }

  /**
   * A placement group (a gang's `cluster` group: one zone, low-latency network between its
   * instances). One that already exists under the name is taken as created, so a retried
   * launch goes on.
   */
  async createPlacementGroup(name: string, strategy: 'cluster' | 'spread' | 'partition', tags: Tag[] = []): Promise<void> {
    const p: Array<[string, string]> = [
      ['GroupName', name],
      ['Strategy', strategy],
    ]
    if (tags.length > 0) {
      p.push(['TagSpecification.1.ResourceType', 'placement-group'])
      tags.forEach((t, j) => p.push([`TagSpecification.1.Tag.${j + 1}.Key`, t.key], [`TagSpecification.1.Tag.${j + 1}.Value`, t.value]))
    }
    try {
      await this.call('CreatePlacementGroup', p)
    } catch (error) {
      if (error instanceof ProviderError && error.backendCode === 'InvalidPlacementGroup.Duplicate') return
      throw error
    }
  }

  /** Deletes a placement group; false while instances are still in it (InvalidPlacementGroup.InUse); one already gone counts as deleted. */
  async deletePlacementGroup(name: string): Promise<boolean> {
    try {
      await this.call('DeletePlacementGroup', [['GroupName', name]])
      return true
    } catch (error) {
      if (error instanceof ProviderError && error.backendCode === 'InvalidPlacementGroup.Unknown') return true
      if (error instanceof ProviderError && error.backendCode === 'InvalidPlacementGroup.InUse') return false
      throw error
    }
  }

  /**
   * A security group, in the subnet's VPC or (vpcId null) the region's default VPC; its id.
   * One that already exists under the name is looked up, so a retried launch goes on.
   */
  async createSecurityGroup(name: string, description: string, vpcId: string | null, tags: Tag[] = []): Promise<string> {
    const p: Array<[string, string]> = [
      ['GroupName', name],
      ['GroupDescription', description],
    ]
    if (vpcId) p.push(['VpcId', vpcId])
    if (tags.length > 0) {
      p.push(['TagSpecification.1.ResourceType', 'security-group'])
      tags.forEach((t, j) => p.push([`TagSpecification.1.Tag.${j + 1}.Key`, t.key], [`TagSpecification.1.Tag.${j + 1}.Value`, t.value]))
    }
    try {
      const id = textAt(await this.call('CreateSecurityGroup', p), 'groupId')
      if (!id) throw new ProviderError('aws', 'transient', 'CreateSecurityGroup returned no groupId', {code: 'PROVIDER_UNEXPECTED'})
      return id
    } catch (error) {
      if (!(error instanceof ProviderError && error.backendCode === 'InvalidGroup.Duplicate')) throw error
      const filters = [{name: 'group-name', values: [name]}, ...(vpcId ? [{name: 'vpc-id', values: [vpcId]}] : [])]
      const found = items(await this.call('DescribeSecurityGroups', filterParams(filters)), 'securityGroupInfo')
      const id = found.length === 1 ? textAt(found[0], 'groupId') : undefined
      if (!id) throw error
      return id
    }
  }

  /**
   * Allows all traffic into and out of the group from and to itself (a UserIdGroupPair naming
   * the group), what EFA's OS bypass needs. A rule already there counts as added.
   */
  async allowGroupToItself(groupId: string): Promise<void> {
    for (const action of ['AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupEgress']) {
      try {
        await this.call(action, [
          ['GroupId', groupId],
          ['IpPermissions.1.IpProtocol', '-1'],
          ['IpPermissions.1.Groups.1.GroupId', groupId],
        ])
      } catch (error) {
        if (!(error instanceof ProviderError && error.backendCode === 'InvalidPermission.Duplicate')) throw error
      }
    }
  }

  /** Deletes a security group; false while an interface still uses it (DependencyViolation); one already gone counts as deleted. */
  async deleteSecurityGroup(groupId: string): Promise<boolean> {
    try {
      await this.call('DeleteSecurityGroup', [['GroupId', groupId]])
      return true
    } catch (error) {
      if (error instanceof ProviderError && error.backendCode === 'InvalidGroup.NotFound') return true
      if (error instanceof ProviderError && error.backendCode === 'DependencyViolation') return false
      throw error
    }
  }

  /** The VPC a subnet is in. */
  async subnetVpc(subnetId: string): Promise<string> {
    const found = items(await this.call('DescribeSubnets', listParams('SubnetId', [subnetId])), 'subnetSet')
    const vpc = found.length === 1 ? textAt(found[0], 'vpcId') : undefined
    if (!vpc) throw new ProviderError('aws', 'unavailable', `subnet ${subnetId} not found`, {code: 'PROVIDER_UNEXPECTED'})
    return vpc
  }

  /** All instances matching the ids and/or filters, following NextToken. */
  async describeInstances(query: {instanceIds?: string[]; filters?: Ec2Filter[]}): Promise<Ec2Instance[]> {
    const out: Ec2Instance[] = []
    let nextToken: string | undefined
    do {
      const p: Array<[string, string]> = [...listParams('InstanceId', query.instanceIds ?? []), ...filterParams(query.filters ?? [])]
      // MaxResults cannot be combined with InstanceId.
      if (!query.instanceIds?.length) p.push(['MaxResults', '1000'])
      if (nextToken) p.push(['NextToken', nextToken])
      const root = await this.call('DescribeInstances', p)
      for (const reservation of items(root, 'reservationSet'))
        for (const item of items(reservation, 'instancesSet')) out.push(parseInstance(item))
      nextToken = textAt(root, 'nextToken') || undefined
    } while (nextToken)
    return out
  }

  async terminateInstances(instanceIds: string[]): Promise<Array<{instanceId: string; state: string}>> {
    if (instanceIds.length === 0) return []
    const root = await this.call('TerminateInstances', listParams('InstanceId', instanceIds))
    return items(root, 'instancesSet').map((i) => ({
      instanceId: textAt(i, 'instanceId') ?? '',
      state: textAt(i, 'currentState/name') ?? '',
    }))
  }

  async createTags(resourceIds: string[], tags: Tag[]): Promise<void> {
    const p: Array<[string, string]> = [...listParams('ResourceId', resourceIds)]
    tags.forEach((t, i) => p.push([`Tag.${i + 1}.Key`, t.key], [`Tag.${i + 1}.Value`, t.value]))
    await this.call('CreateTags', p)
  }

  /** The instance's serial console output (decoded), or null when EC2 has none yet. */
  async getConsoleOutput(instanceId: string, latest = true): Promise<string | null> {
    const root = await this.call('GetConsoleOutput', [
      ['InstanceId', instanceId],
      ...(latest ? ([['Latest', 'true']] as Array<[string, string]>) : []),
    ])
    const output = textAt(root, 'output')
    return output ? Buffer.from(output, 'base64').toString('utf8') : null
  }

  /** Linux/UNIX spot prices since `startTime` (default now: the current price per zone). */
  async describeSpotPriceHistory(query: {
    instanceTypes: string[]
    zone?: string
    startTime?: Date
    productDescription?: string
  }): Promise<SpotPrice[]> {
    const out: SpotPrice[] = []
    let nextToken: string | undefined
    const start = (query.startTime ?? (this.options.now ?? (() => new Date()))()).toISOString()
    do {
      const p: Array<[string, string]> = [
        ...listParams('InstanceType', query.instanceTypes),
        ['ProductDescription.1', query.productDescription ?? 'Linux/UNIX'],
        ['StartTime', start],
        ['MaxResults', '1000'],
      ]
      if (query.zone) p.push(['AvailabilityZone', query.zone])
      if (nextToken) p.push(['NextToken', nextToken])
      const root = await this.call('DescribeSpotPriceHistory', p)
      for (const i of items(root, 'spotPriceHistorySet')) {
        const amount = Number(textAt(i, 'spotPrice'))
        if (!Number.isFinite(amount)) continue
        out.push({
          instanceType: textAt(i, 'instanceType') ?? '',
          zone: textAt(i, 'availabilityZone') ?? '',
          productDescription: textAt(i, 'productDescription') ?? '',
          price: {amount, currency: 'USD'},
          timestamp: textAt(i, 'timestamp') ?? '',
        })
      }
      nextToken = textAt(root, 'nextToken') || undefined
    } while (nextToken)
    return out
  }

  async describeImages(query: {owners?: string[]; imageIds?: string[]; filters?: Ec2Filter[]}): Promise<Ec2Image[]> {
    const p: Array<[string, string]> = [
      ...listParams('Owner', query.owners ?? []),
      ...listParams('ImageId', query.imageIds ?? []),
      ...filterParams(query.filters ?? []),
    ]
    const root = await this.call('DescribeImages', p)
    return items(root, 'imagesSet').map((i) => ({
      imageId: textAt(i, 'imageId') ?? '',
      name: textAt(i, 'name') ?? '',
      creationDate: textAt(i, 'creationDate') ?? '',
      rootDeviceName: textAt(i, 'rootDeviceName') ?? null,
      architecture: textAt(i, 'architecture') ?? null,
    }))
  }

  async describeAvailabilityZones(): Promise<Array<{zone: string; state: string}>> {
    const root = await this.call('DescribeAvailabilityZones', [])
    return items(root, 'availabilityZoneInfo').map((i) => ({zone: textAt(i, 'zoneName') ?? '', state: textAt(i, 'zoneState') ?? ''}))
  }
}
