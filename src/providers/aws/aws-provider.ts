// AWS EC2 behind skyhop's Provider interface.
//
// Launch: one RunInstances per attempt, ClientToken = the attempt's idempotency key (so a
// retried launch never starts a second instance), tags skyhop:job-id / skyhop:attempt-id
// on the instance and its volumes, spot through InstanceMarketOptions (with the job's max
// price in USD when it has one), and the shared boot script (vm/boot-script.ts) as user
// data; InstanceInitiatedShutdownBehavior=terminate makes the instance release itself when
// the job ends.
//
// Status and logs channel (documented in docs/providers/aws.md): nothing inbound is opened and no
// key pair is needed. The boot script mirrors the runner's events and the job's output to
// the serial console; poll() reads the instance state with one DescribeInstances per
// region (filter by instance id, so unknown ids do not fail the batch) and, once an
// instance has ended, its console output (GetConsoleOutput, Latest) for the exit code.
// logs() follows the same console output; EC2 keeps its last 64 KB, so a job that prints
// faster than logs() polls loses lines from the stream (a gap line says how many).
// Cancel and preempt: signal() sets the tag skyhop:stop-request=`<kind> <grace>`; the boot
// script reads it from instance metadata (instance tags in IMDS are enabled at launch) and
// hands it to the runner as `stop-request` + SIGTERM, exactly as the local provider does.
// Spot interruptions reach the runner through IMDSv2 spot/instance-action (two minutes).
//
// Gangs (nodes > 1, vm/gang.ts): one RunInstances with MinCount = MaxCount = N in a cluster
// placement group made for the attempt (`skyhop-<attempt id>`, deleted at cleanup), the
// attempt's ClientToken for the whole gang, each instance tagged with its rank (launch-index
// order) once launched; then the rank list and peer list go to the job's object store. Any
// step failing terminates what was launched. The handle is the head's, with data.nodes.
// A gang of a shape with EFA (gangFabric, the planner's own judgement) gets one EFA interface
// per node and a security group of its own that lets all traffic between its members
// (efaGroupName), deleted with the placement group.
import {shipHandleData, shippedSamples, withShippedLog} from '../vm/shipped.js'
import {ProviderError} from '../../errors.js'
import type {VmAdapterOptions} from '../vm/adapter-options.js'
import {clientOptionsFor} from '../../clouds/common/api-client.js'
import {bootUserData, readRunnerScript} from '../vm/boot-script.js'
import {
  allNodeIds,
  gangNodes,
  gangObjectsFor,
  logNodes,
  mergedLogs,
  nodeCount,
  orRollBack,
  pollOfHandle,
  publishGang,
  publishRunner,
  rankNodes,
  removeWhenEmpty,
  shortfall,
} from '../vm/gang.js'
import {checkByListingZones} from '../vm/check.js'
import {asciiClientToken} from '../../clouds/common/client-token.js'
import {eventTime, ExitLineGrace, finalState, linesAfter, parseConsole} from '../vm/console-channel.js'
import {CredentialCache, type LoadedCredentials} from '../../clouds/common/credentials.js'
import {AdapterDispatcher} from '../../http/dispatcher.js'
import {PromiseCache} from '../../util/promise-cache.js'
import {configuredRegions, groupByRegion, regionsToScan} from '../vm/regions.js'
import {rfc3986Encode} from '../../clouds/common/signing-util.js'
import {abortableSleep} from '../../util/sleep.js'
import type {CheckResult, LaunchRequest, LogOptions, OwnedQuery, Provider} from '../provider.js'
import type {AttemptState, LaunchHandle, PollResult} from '../../model/attempt.js'
import {loadAwsCredentials, type AwsCredentialOptions, type AwsCredentials} from '../../clouds/aws/credentials.js'
import {Ec2Client, type Ec2Instance, type SpotPrice} from '../../clouds/aws/ec2-client.js'
import type {Env} from '../../clouds/aws/endpoints.js'
import {ImageResolver} from './images.js'
import {gangFabric} from '../../model/catalog.js'

export const AWS_TAGS = {
  jobId: 'skyhop:job-id',
  attemptId: 'skyhop:attempt-id',
  jobName: 'skyhop:job-name',
  stopRequest: 'skyhop:stop-request',
  /** A gang node's rank (0 is the head). */
  nodeRank: 'skyhop:node-rank',
} as const

/** The most nodes one gang may have: one RunInstances in one cluster placement group. */
export const AWS_MAX_NODES = 64

/** EC2's limit on user data before base64. */
export const EC2_USER_DATA_LIMIT = 16 * 1024

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down']

export interface AwsProviderOptions extends VmAdapterOptions {
  /** Regions listOwned() scans and check() probes (the first). Default: AWS_REGION or us-east-1. */
  regions?: string[]
  /** How to find credentials (profile, home dir), or a loader of your own. */
  credentials?: AwsCredentialOptions | (() => Promise<LoadedCredentials<AwsCredentials>>)
  /** EC2 endpoint for every region; otherwise SKYHOP_AWS_ENDPOINT / AWS_ENDPOINT_URL(_EC2) / the default. */
  endpoint?: string
  /** Launch networking: subnet per zone, security groups per region, instance profile. */
  network?: {subnetIds?: Record<string, string>; securityGroupIds?: Record<string, string[]>; iamInstanceProfile?: string}
  /** Metadata base for the runner and the stop probe on the instance; `{attemptId}` is replaced. Default IMDS (169.254.169.254). */
  metadataBaseUrl?: string
  /** How long cleanup waits for a gang's instances to terminate before it deletes their placement group. Default 3 min. */
  placementGroupWaitMs?: number
}

/** A gang's cluster placement group: named after the attempt, so a retried launch finds it. */
export function placementGroupName(attemptId: string): string {
  return `skyhop-${attemptId}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 255)
}

/** A gang's EFA security group: named after the attempt, so a retried launch and listOwned find it. */
export function efaGroupName(attemptId: string): string {
  return `skyhop-efa-${attemptId}`.replace(/[^A-Za-z0-9._\-:/()#,@[\]+=&;{}!$*]/g, '_').slice(0, 255)
}

/** The idempotency key as EC2's ClientToken. */
export const clientTokenFor = asciiClientToken

/** The bash the boot script runs to read a stop request from the instance's tags in IMDS. */
export function awsStopProbe(metadataBase: string): string {
  const base = metadataBase.replace(/\/$/, '')
  return [
    `t=$(curl -sf -m 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' '${base}/latest/api/token') || return 0`,
    `curl -sf -m 2 -H "X-aws-ec2-metadata-token: $t" '${base}/latest/meta-data/tags/instance/${AWS_TAGS.stopRequest}' || true`,
  ].join('\n')
}

export class AwsProvider implements Provider {
  readonly name = 'aws'
  // Each attempt runs on an instance of its own: checkpoints travel through checkpoint.store.
  readonly attemptStorage = 'per-instance' as const
  // Its runner ships output.log and samples to the job's store (vm/shipped.ts).
  readonly shipsAttemptFiles = true
  readonly maxNodes = AWS_MAX_NODES
  private readonly env: Env
  private readonly credentialCache: CredentialCache<AwsCredentials>
  private readonly dispatcher: AdapterDispatcher
  private readonly clients = new PromiseCache<Ec2Client>()
  private readonly images = new ImageResolver()
  private readonly exitGrace = new ExitLineGrace()

  constructor(private readonly options: AwsProviderOptions = {}) {
    this.env = options.env ?? process.env
    this.dispatcher = new AdapterDispatcher(options.dispatcher)
    const creds = options.credentials
    const load =
      typeof creds === 'function'
        ? creds
        : async () =>
            loadAwsCredentials({env: this.env, ...creds, dispatcher: creds?.dispatcher ?? (await this.dispatcher.get()), now: options.now})
    this.credentialCache = new CredentialCache(load, {now: options.now ? () => options.now!().getTime() : undefined})
  }

  private client(region: string): Promise<Ec2Client> {
    return this.clients.get(
      region,
      async () => new Ec2Client(clientOptionsFor(region, this.credentialCache, await this.dispatcher.get(), this.env, this.options)),
    )
  }

  private regions(): string[] {
    return configuredRegions(
      this.options.regions,
      undefined,
      this.env.AWS_REGION?.trim() || this.env.AWS_DEFAULT_REGION?.trim() || 'us-east-1',
    )
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))()
  }

  /** A container image runs under the instance's podman or docker, installed at boot when the VM image has neither (boot-script.ts). */
  async runsContainers(): Promise<boolean> {
    return true
  }

  async check(): Promise<CheckResult> {
    return checkByListingZones(
      this.name,
      this.credentialCache,
      () => this.regions()[0],
      async (region) => (await this.client(region)).describeAvailabilityZones(),
      'availability zones',
    )
  }

  async launch(request: LaunchRequest): Promise<LaunchHandle> {
    const {offer, spec} = request
    if (offer.provider !== this.name) throw new ProviderError(this.name, 'user', `offer of ${offer.provider} given to the AWS provider`)
    const nodes = nodeCount(request)
    const gang = gangObjectsFor(this.name, request, this.maxNodes)
    const region = offer.region
    const client = await this.client(region)
    // A container image runs on the default VM image (its docker or podman): `image:` is not an AMI then.
    const image = await this.images.resolve(client, offer, spec.container ? null : spec.image)
    const metadataBase = this.options.metadataBaseUrl?.replace('{attemptId}', rfc3986Encode(request.attemptId))
    const runnerScript = await (this.options.runnerScript ?? readRunnerScript)()
    const data = bootUserData(
      {
        request,
        runnerScript,
        noticeSources: [metadataBase ? `aws=${metadataBase}` : 'aws'],
        stopRequestProbe: awsStopProbe(metadataBase ?? 'http://169.254.169.254'),
        pollIntervalSeconds: this.options.instancePollSeconds,
      },
      (d) => d.length <= EC2_USER_DATA_LIMIT,
    )
    if (!data.fits) {
      throw new ProviderError(
        this.name,
        'user',
        `the boot script is ${data.data.length} bytes even compressed; EC2 takes at most ${EC2_USER_DATA_LIMIT}`,
        {
          code: 'PROVIDER_USER_DATA_TOO_LARGE',
          // Without a store the runner travels in the user data; with one the instance fetches it (bootUserData).
          hint: request.gang
            ? 'Keep run/setup short: fetch large scripts in setup, or bake them into the image.'
            : 'Set a checkpoint store (checkpoint.store in the job file, or checkpoint_store in the config): the instance then fetches the runner from it. A container job needs one here.',
        },
      )
    }
    const maxPrice = request.spot && spec.maxPrice?.currency === 'USD' ? spec.maxPrice : null
    const tags = [
      {key: AWS_TAGS.jobId, value: request.jobId},
      {key: AWS_TAGS.attemptId, value: request.attemptId},
      {key: AWS_TAGS.jobName, value: request.jobName.slice(0, 256)},
      {key: 'Name', value: `skyhop-${request.jobName}-${request.attempt}`.slice(0, 256)},
    ]
    // A node that fetches its runner at boot (every gang's; one whose user data cannot carry it) finds it in the store first.
    if (data.runnerFromStore) await publishRunner(await this.dispatcher.get(), this.name, request.gang!, runnerScript)
    const group = gang ? placementGroupName(request.attemptId) : null
    if (group) await client.createPlacementGroup(group, 'cluster', tags.slice(0, 3))
    // EFA: what the plan promised for this gang (gangFabric), set up as AWS documents it. One
    // `efa` interface (EFA with ENA) as the primary one, device 0 on network card 0
    // (docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa-acc-inst-types.md); no more: EC2 gives
    // a public IPv4 only to an instance launched with one interface (EC2 API reference,
    // InstanceNetworkInterfaceSpecification.AssociatePublicIpAddress), and a node in a
    // default subnet reaches its store through it. The interface must be in a security group
    // that allows all traffic to and from itself (efa-start.md, "Prepare an EFA-enabled
    // security group"; AWS PCS working-with_networking_efa_create-sg): one per attempt.
    const subnetId = offer.zone ? (this.options.network?.subnetIds?.[offer.zone] ?? null) : null
    const userGroups = this.options.network?.securityGroupIds?.[region] ?? []
    let efaGroup: string | null = null
    if (gang && gangFabric(offer, request.spot)?.kind === 'efa') {
      try {
        const vpc = subnetId ? await client.subnetVpc(subnetId) : null
        efaGroup = await client.createSecurityGroup(
          efaGroupName(request.attemptId),
          'skyhop gang: EFA traffic between the nodes of one attempt',
          vpc,
          tags.slice(0, 3),
        )
        await client.allowGroupToItself(efaGroup)
      } catch (error) {
        await client.deletePlacementGroup(group!).catch(() => false)
        if (efaGroup) await client.deleteSecurityGroup(efaGroup).catch(() => false)
        throw error
      }
    }
    let instances: Ec2Instance[]
    try {
      instances = await client.runInstances({
        imageId: image.imageId,
        instanceType: offer.instanceType,
        zone: offer.zone,
        clientToken: clientTokenFor(request.idempotencyKey),
        userData: data.data.toString('base64'),
        tags,
        spot: request.spot ? {maxPrice} : null,
        rootVolume:
          spec.resources.diskGB && image.rootDeviceName ? {deviceName: image.rootDeviceName, sizeGiB: spec.resources.diskGB} : null,
        subnetId,
        securityGroupIds: userGroups,
        iamInstanceProfile: this.options.network?.iamInstanceProfile,
        count: nodes,
        placementGroup: group,
        networkInterfaces: efaGroup
          ? [{deviceIndex: 0, networkCardIndex: 0, interfaceType: 'efa', subnetId, securityGroupIds: [...userGroups, efaGroup]}]
          : null,
      })
    } catch (error) {
      if (group) await client.deletePlacementGroup(group).catch(() => false)
      if (efaGroup) await client.deleteSecurityGroup(efaGroup).catch(() => false)
      throw error
    }
    const head = instances[0]
    const handleData = {
      attemptId: request.attemptId,
      jobId: request.jobId,
      imageId: image.imageId,
      spot: request.spot,
      instanceType: offer.instanceType,
      ...shipHandleData(request.ship),
    }
    if (!gang) return {provider: this.name, externalId: head.instanceId, region, zone: head.zone ?? offer.zone, data: handleData}
    const release = () =>
      this.releaseGang(
        client,
        instances.map((i) => i.instanceId),
        group,
        efaGroup,
      )
    // EC2 grants MinCount or nothing; a shorter answer is a gang that cannot run.
    if (instances.length < nodes) {
      await release().catch(() => undefined)
      throw shortfall(this.name, instances.length, nodes, offer.zone ?? region)
    }
    const ranked = await orRollBack(
      this.name,
      async () => {
        for (const [rank, i] of instances.entries())
          await client.createTags([i.instanceId], [{key: AWS_TAGS.nodeRank, value: String(rank)}])
        const known = await this.privateIps(client, instances)
        const nodesOf = rankNodes(instances.map((i) => ({id: i.instanceId, ip: known.get(i.instanceId) ?? null})))
        await publishGang(await this.dispatcher.get(), this.name, gang, nodesOf)
        return nodesOf
      },
      release,
    )
    return {
      provider: this.name,
      externalId: head.instanceId,
      region,
      zone: head.zone ?? offer.zone,
      data: {...handleData, nodes: ranked, placementGroup: group, ...(efaGroup ? {efaSecurityGroup: efaGroup} : {})},
    }
  }

  /** Each instance's private IP; EC2 assigns it at launch, and a describe has it when the launch answer did not. */
  private async privateIps(client: Ec2Client, instances: Ec2Instance[]): Promise<Map<string, string>> {
    const known = new Map(instances.filter((i) => i.privateIp).map((i) => [i.instanceId, i.privateIp!]))
    const sleep = this.options.sleep ?? abortableSleep
    for (let tries = 0; known.size < instances.length && tries < 30; tries++) {
      if (tries > 0) await sleep(1000)
      const missing = instances.filter((i) => !known.has(i.instanceId)).map((i) => i.instanceId)
      for (const i of await client.describeInstances({filters: [{name: 'instance-id', values: missing}]}))
        if (i.privateIp) known.set(i.instanceId, i.privateIp)
    }
    return known
  }

  /**
   * Terminates a gang's instances, then deletes its placement group and EFA security group
   * once they are gone (removeWhenEmpty: EC2 refuses both while an instance is in them).
   */
  private async releaseGang(client: Ec2Client, ids: string[], group: string | null, efaGroup: string | null = null): Promise<void> {
    try {
      await client.terminateInstances(ids)
    } catch (error) {
      if (!(error instanceof ProviderError && error.backendCode?.startsWith('InvalidInstanceID'))) throw error
    }
    for (const id of ids) this.exitGrace.forget(id)
    const wait = {
      now: () => this.now().getTime(),
      sleep: (ms: number) => (this.options.sleep ?? abortableSleep)(ms),
      waitMs: this.options.placementGroupWaitMs ?? 180_000,
    }
    if (group) await removeWhenEmpty(() => client.deletePlacementGroup(group), wait)
    if (efaGroup) await removeWhenEmpty(() => client.deleteSecurityGroup(efaGroup), wait)
  }

  async poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>> {
    const out = new Map<string, PollResult>()
    for (const [region, group] of groupByRegion(handles)) {
      const client = await this.client(region)
      // Filtering by id (not InstanceId.N) keeps one unknown id from failing the batch;
      // EC2 takes at most 200 values per filter.
      const byId = new Map<string, Ec2Instance>()
      const all = allNodeIds(group)
      for (let i = 0; i < all.length; i += 200) {
        const ids = all.slice(i, i + 200)
        for (const found of await client.describeInstances({filters: [{name: 'instance-id', values: ids}]}))
          byId.set(found.instanceId, found)
      }
      const polled = new Map<string, PollResult>()
      for (const id of all) {
        const instance = byId.get(id)
        polled.set(
          id,
          instance
            ? await this.pollOne(client, instance)
            : {state: 'LOST', exitCode: null, reason: 'EC2 no longer knows this instance', startedAt: null, endedAt: null},
        )
      }
      for (const h of group)
        out.set(
          h.externalId,
          pollOfHandle(h, (id) => polled.get(id)!),
        )
    }
    return out
  }

  private async pollOne(client: Ec2Client, instance: Ec2Instance): Promise<PollResult> {
    const base = {exitCode: null, reason: instance.stateReasonMessage, startedAt: instance.launchTime, endedAt: null}
    if (instance.state === 'pending') return {...base, state: 'PROVISIONING'}
    if (instance.state === 'running') return {...base, state: 'RUNNING'}
    // The instance has ended or is ending: its console holds the job's exit.
    const report = parseConsole((await client.getConsoleOutput(instance.instanceId)) ?? '')
    const startedAt = eventTime(report, 'run-start') ?? instance.launchTime
    const endedAt = eventTime(report, 'exit')
    if (report.ended) {
      this.exitGrace.forget(instance.instanceId)
      return {...finalState(report), startedAt, endedAt}
    }
    const reason = instance.stateReasonCode ?? ''
    if (reason === 'Server.SpotInstanceTermination' || reason === 'Server.SpotInstanceShutdown') {
      return {state: 'PREEMPTED', exitCode: null, reason: instance.stateReasonMessage ?? reason, startedAt, endedAt}
    }
    if (reason.startsWith('Server.') && !report.booted) {
      return {state: 'LOST', exitCode: null, reason: instance.stateReasonMessage ?? reason, startedAt, endedAt}
    }
    // Ended without its exit line yet: EC2 updates console output with a delay.
    if (this.exitGrace.waiting(instance.instanceId, this.now().getTime(), this.options.consoleGraceMs ?? 10 * 60_000)) {
      return {
        state: 'RUNNING',
        exitCode: null,
        reason: `instance ${instance.state}; waiting for its console output`,
        startedAt,
        endedAt: null,
      }
    }
    const state: AttemptState = instance.tags[AWS_TAGS.stopRequest]?.startsWith('cancel') ? 'CANCELLED' : 'LOST'
    return {
      state,
      exitCode: null,
      reason: `instance ${instance.state} (${instance.stateReasonMessage ?? 'no reason given'}) without an exit code on its console`,
      startedAt,
      endedAt,
    }
  }

  logs(handle: LaunchHandle, options: LogOptions): AsyncIterable<string> {
    return withShippedLog(this.options.attemptObjects, handle, options, () => this.consoleLogs(handle, options))
  }

  /** The samples the runner shipped to the job's store (vm/shipped.ts); null without a store. */
  usageSamples(handle: LaunchHandle, offset?: number, rank = 0): Promise<{text: string; offset: number} | null> {
    return shippedSamples(this.options.attemptObjects, handle, offset, rank)
  }

  private consoleLogs(handle: LaunchHandle, options: LogOptions): AsyncIterable<string> {
    const nodes = logNodes(handle, options.node)
    return mergedLogs(
      nodes.map((n) => ({rank: n.rank, lines: this.instanceLogs(handle.region, n.externalId, options)})),
      options.node === 'all',
    )
  }

  private async *instanceLogs(region: string, instanceId: string, options: LogOptions): AsyncIterable<string> {
    const client = await this.client(region)
    const sleep = this.options.sleep ?? abortableSleep
    let last = 0
    for (;;) {
      const report = parseConsole((await client.getConsoleOutput(instanceId)) ?? '')
      const fresh = linesAfter(report, last, (n) => `[skyhop: ${n} line(s) fell out of the EC2 console window]`)
      yield* fresh.lines
      last = fresh.last
      if (!options.follow || report.ended || options.signal?.aborted) return
      const [instance] = await client.describeInstances({filters: [{name: 'instance-id', values: [instanceId]}]})
      if (!instance || instance.state === 'terminated') {
        // One more read: the exit line may have landed since.
        const again = parseConsole((await client.getConsoleOutput(instanceId)) ?? '')
        for (const {seq, line} of again.logs)
          if (seq > last) {
            yield line
            last = seq
          }
        return
      }
      await sleep(this.options.consolePollMs ?? 5000, options.signal)
      if (options.signal?.aborted) return
    }
  }

  async signal(handle: LaunchHandle, kind: 'cancel' | 'preempt', graceSeconds: number): Promise<void> {
    const client = await this.client(handle.region)
    try {
      await client.createTags(
        gangNodes(handle).map((n) => n.externalId),
        [{key: AWS_TAGS.stopRequest, value: `${kind} ${Math.max(0, Math.round(graceSeconds))}`}],
      )
    } catch (error) {
      // Already gone: nothing left to stop.
      if (error instanceof ProviderError && error.backendCode?.startsWith('InvalidInstanceID')) return
      throw error
    }
  }

  async cleanup(handle: LaunchHandle): Promise<void> {
    const client = await this.client(handle.region)
    const group = typeof handle.data.placementGroup === 'string' ? handle.data.placementGroup : null
    const efaGroup = typeof handle.data.efaSecurityGroup === 'string' ? handle.data.efaSecurityGroup : null
    await this.releaseGang(
      client,
      gangNodes(handle).map((n) => n.externalId),
      group,
      efaGroup,
    )
  }

  async listOwned(query: OwnedQuery = {}): Promise<LaunchHandle[]> {
    const out: LaunchHandle[] = []
    for (const region of regionsToScan(this.regions(), query)) {
      const client = await this.client(region)
      // Looking for one attempt's run, an ended one counts too (EC2 lists terminated instances
      // for about an hour): the job may have finished while nobody was watching, and its
      // console still holds the exit code.
      const instances = await client.describeInstances({
        filters: query.attemptId
          ? [{name: `tag:${AWS_TAGS.attemptId}`, values: [query.attemptId]}]
          : [
              {name: 'tag-key', values: [AWS_TAGS.attemptId]},
              {name: 'instance-state-name', values: LIVE_STATES},
            ],
      })
      // A gang's instances are one attempt: one handle, the head's, with every node in rank
      // order (the rank tag; the launch index when the launch died before tagging).
      const byAttempt = new Map<string, Ec2Instance[]>()
      for (const i of instances) {
        const key = i.tags[AWS_TAGS.attemptId]
        byAttempt.set(key, [...(byAttempt.get(key) ?? []), i])
      }
      const rankOf = (i: Ec2Instance) => Number(i.tags[AWS_TAGS.nodeRank] ?? i.launchIndex)
      for (const members of byAttempt.values()) {
        const ranked = [...members].sort((a, b) => rankOf(a) - rankOf(b))
        const head = ranked[0]
        const gang = ranked.length > 1 || head.tags[AWS_TAGS.nodeRank] !== undefined
        out.push({
          provider: this.name,
          externalId: head.instanceId,
          region,
          zone: head.zone,
          data: {
            attemptId: head.tags[AWS_TAGS.attemptId],
            jobId: head.tags[AWS_TAGS.jobId] ?? null,
            instanceType: head.instanceType,
            spot: head.lifecycle === 'spot',
            // Already on its way out (or gone): nothing left to release.
            releasing: ranked.every((m) => m.state === 'shutting-down' || m.state === 'terminated'),
            ...(gang
              ? {
                  nodes: ranked.map((m) => ({rank: rankOf(m), externalId: m.instanceId, ip: m.privateIp})),
                  placementGroup: placementGroupName(head.tags[AWS_TAGS.attemptId]),
                  // Its EFA group, by name among the head's groups (an id is what DeleteSecurityGroup takes).
                  ...(() => {
                    const efa = head.securityGroups.find((g) => g.name === efaGroupName(head.tags[AWS_TAGS.attemptId]))
                    return efa ? {efaSecurityGroup: efa.id} : {}
                  })(),
                }
              : {}),
          },
        })
      }
    }
    return out
  }

  /** Current Linux spot prices per zone, for `catalog refresh`. */
  async spotPrices(region: string, instanceTypes: string[]): Promise<SpotPrice[]> {
    return (await this.client(region)).describeSpotPriceHistory({instanceTypes})
  }

  /** Closes the dispatcher this provider created (not an injected one). */
  async close(): Promise<void> {
    await this.dispatcher.close()
  }
}
