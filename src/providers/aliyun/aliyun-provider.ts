// Alibaba Cloud ECS behind skyhop's Provider interface, on the VM machinery shared with
// AWS (vm/boot-script.ts, vm/console-channel.ts).
//
// Launch: RunInstances with ClientToken = the attempt's idempotency key, tags
// skyhop:job-id / skyhop:attempt-id, the boot script as UserData, pay-as-you-go, and spot
// through SpotStrategy (SpotWithPriceLimit when the job has a max price, else
// SpotAsPriceGo) with a one-hour protection period (SpotDuration=1) by default. The image
// is the job's `image` (an image id) or the newest image of a family (default Ubuntu 22.04).
//
// Differences from AWS that matter:
// - An ECS instance does not release itself on guest shutdown: it stops (and a stopped
//   pay-as-you-go instance still bills its disks). skyhop deletes it when the attempt ends
//   (the controller calls cleanup()), on reconcile (listOwned), and ECS's AutoReleaseTime is
//   set from the job's deadline when it has one.
// - Status and logs come from GetInstanceConsoleOutput (the same console mirror).
// - Cancel and preempt run the stop-request script through Cloud Assistant (RunCommand),
//   which ECS public images carry; nothing inbound is opened.
// - Spot reclaim notices reach the runner through the metadata endpoint
//   /latest/meta-data/instance/spot/termination-time (about five minutes ahead).
//
// Gangs (nodes > 1, vm/gang.ts): one RunInstances with Amount = MinAmount = N (ECS creates
// all or none) in a LowLatency deployment set made for the attempt (deleted at cleanup once
// its instances are released), the attempt's ClientToken for the whole gang, a rank tag on
// each instance (RunInstances order, TagResources), then the rank and peer lists to the
// job's object store. Any step failing releases what was created.
import {shipHandleData, shippedSamples, withShippedLog} from '../vm/shipped.js'
import {ProviderError} from '../../errors.js'
import type {CheckResult, LaunchRequest, LogOptions, OwnedQuery, Provider} from '../provider.js'
import type {AttemptState, LaunchHandle, PollResult} from '../../model/attempt.js'
import type {VmAdapterOptions} from '../vm/adapter-options.js'
import {clientOptionsFor} from '../../clouds/common/api-client.js'
import {bootUserData, readRunnerScript, stopRequestScript} from '../vm/boot-script.js'
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
import type {AliyunCredentials} from '../../clouds/aliyun/acs3.js'
import {loadAliyunCredentials, type AliyunCredentialOptions} from '../../clouds/aliyun/credentials.js'
import {EcsClient, type EcsInstance, type EcsSpotPrice} from '../../clouds/aliyun/ecs-client.js'

export const ALIYUN_TAGS = {
  jobId: 'skyhop:job-id',
  attemptId: 'skyhop:attempt-id',
  jobName: 'skyhop:job-name',
  /** A gang node's rank (0 is the head). */
  nodeRank: 'skyhop:node-rank',
} as const

/** The most nodes one gang may have: RunInstances creates at most 100 instances per call. */
export const ALIYUN_MAX_NODES = 100

/** ECS's limit on user data: 32 KB after base64. */
export const ECS_USER_DATA_LIMIT = 32 * 1024

export const DEFAULT_IMAGE_FAMILY = 'acs:ubuntu_22_04_x64'

export interface AliyunProviderOptions extends VmAdapterOptions {
  /** Regions listOwned() scans and check() probes (the first). Default ALIBABA_CLOUD_REGION_ID, the profile's region or cn-hangzhou. */
  regions?: string[]
  credentials?: AliyunCredentialOptions | (() => Promise<LoadedCredentials<AliyunCredentials>>)
  /** VSwitch per zone and security group per region (ECS needs both in a VPC). */
  network?: {vSwitchIds?: Record<string, string>; securityGroupIds?: Record<string, string>}
  /** Image family when the job names no image. */
  imageFamily?: string
  /** Spot protection period in hours (SpotDuration): 1 (default) or 0. */
  spotProtectionHours?: 0 | 1
  /** Metadata base for the runner on the instance; `{attemptId}` is replaced. Default 100.100.100.200. */
  metadataBaseUrl?: string
  /** How long cleanup waits for a gang's instances to be released before it deletes their deployment set. Default 3 min. */
  deploymentSetWaitMs?: number
}

export class AliyunProvider implements Provider {
  readonly name = 'aliyun'
  // Each attempt runs on an instance of its own: checkpoints travel through checkpoint.store.
  readonly attemptStorage = 'per-instance' as const
  // Its runner ships output.log and samples to the job's store (vm/shipped.ts).
  readonly shipsAttemptFiles = true
  readonly maxNodes = ALIYUN_MAX_NODES
  private readonly env: Record<string, string | undefined>
  private readonly credentialCache: CredentialCache<AliyunCredentials>
  private readonly dispatcher: AdapterDispatcher
  private readonly clients = new PromiseCache<EcsClient>()
  private profileRegion: string | null = null
  private readonly exitGrace = new ExitLineGrace()

  constructor(private readonly options: AliyunProviderOptions = {}) {
    this.env = options.env ?? process.env
    // undici's default keep-alive here (4 s, not the other adapters' 10 s), as this adapter has always run.
    this.dispatcher = new AdapterDispatcher(options.dispatcher, {connect: {timeout: 10_000}})
    const creds = options.credentials
    const load =
      typeof creds === 'function'
        ? creds
        : async () => {
            const loaded = await loadAliyunCredentials({env: this.env, ...creds})
            this.profileRegion = loaded.region
            return loaded
          }
    this.credentialCache = new CredentialCache(load)
  }

  private client(region: string): Promise<EcsClient> {
    return this.clients.get(
      region,
      async () => new EcsClient(clientOptionsFor(region, this.credentialCache, await this.dispatcher.get(), this.env, this.options)),
    )
  }

  private regions(): string[] {
    return configuredRegions(
      this.options.regions,
      undefined,
      this.env.ALIBABA_CLOUD_REGION_ID?.trim() || this.profileRegion || 'cn-hangzhou',
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
      async (region) => (await this.client(region)).describeZones(),
    )
  }

  async launch(request: LaunchRequest): Promise<LaunchHandle> {
    const {offer, spec} = request
    if (offer.provider !== this.name)
      throw new ProviderError(this.name, 'user', `offer of ${offer.provider} given to the Alibaba Cloud provider`)
    const nodes = nodeCount(request)
    const gang = gangObjectsFor(this.name, request, this.maxNodes)
    const client = await this.client(offer.region)
    const metadataBase = this.options.metadataBaseUrl?.replace('{attemptId}', rfc3986Encode(request.attemptId))
    const runnerScript = await (this.options.runnerScript ?? readRunnerScript)()
    const data = bootUserData(
      {
        request,
        runnerScript,
        noticeSources: [metadataBase ? `aliyun=${metadataBase}` : 'aliyun'],
        // Stop requests arrive through Cloud Assistant (signal()), not a probe.
        stopRequestProbe: null,
        pollIntervalSeconds: this.options.instancePollSeconds,
      },
      // ECS measures user data after base64.
      (d) => d.toString('base64').length <= ECS_USER_DATA_LIMIT,
    )
    if (!data.fits) {
      throw new ProviderError(
        this.name,
        'user',
        `the boot script is too large for ECS user data (${ECS_USER_DATA_LIMIT} bytes after base64)`,
        {code: 'PROVIDER_USER_DATA_TOO_LARGE'},
      )
    }
    const limit = request.spot && spec.maxPrice ? spec.maxPrice : null
    if (limit && offer.price.currency !== limit.currency) {
      throw new ProviderError(
        this.name,
        'user',
        `the job's max price is in ${limit.currency}, this offer is priced in ${offer.price.currency}`,
        {scope: 'offer'},
      )
    }
    // A node that fetches its runner at boot (every gang's; one whose user data cannot carry it) finds it in the store first.
    if (data.runnerFromStore) await publishRunner(await this.dispatcher.get(), this.name, request.gang!, runnerScript)
    const deploymentSet = gang
      ? await client.createDeploymentSet({
          name: `skyhop-${request.attemptId}`.replace(/[^A-Za-z0-9:_-]/g, '_').slice(0, 128),
          strategy: 'LowLatency',
          clientToken: asciiClientToken(`${request.idempotencyKey}/deployment-set`),
        })
      : null
    let ids: string[]
    try {
      ids = await client.runInstances({
        imageId: (spec.container ? null : spec.image) ?? `family:${this.options.imageFamily ?? DEFAULT_IMAGE_FAMILY}`,
        instanceType: offer.instanceType,
        zone: offer.zone,
        clientToken: asciiClientToken(request.idempotencyKey),
        userData: data.data.toString('base64'),
        tags: [
          {key: ALIYUN_TAGS.jobId, value: request.jobId},
          {key: ALIYUN_TAGS.attemptId, value: request.attemptId},
          {key: ALIYUN_TAGS.jobName, value: request.jobName.slice(0, 128)},
        ],
        spot: request.spot ? {priceLimit: limit, protectionHours: this.options.spotProtectionHours ?? 1} : null,
        vSwitchId: offer.zone ? this.options.network?.vSwitchIds?.[offer.zone] : null,
        securityGroupId: this.options.network?.securityGroupIds?.[offer.region],
        systemDiskGiB: spec.resources.diskGB,
        autoReleaseTime: spec.deadline ? new Date(spec.deadline).toISOString().replace(/\.\d{3}Z$/, 'Z') : null,
        amount: nodes,
        deploymentSetId: deploymentSet,
      })
    } catch (error) {
      if (deploymentSet) await client.deleteDeploymentSet(deploymentSet).catch(() => false)
      throw error
    }
    const handleData = {
      attemptId: request.attemptId,
      jobId: request.jobId,
      spot: request.spot,
      instanceType: offer.instanceType,
      ...shipHandleData(request.ship),
    }
    if (!gang) return {provider: this.name, externalId: ids[0], region: offer.region, zone: offer.zone, data: handleData}
    const release = () => this.releaseGang(client, ids, deploymentSet)
    if (ids.length < nodes) {
      await release().catch(() => undefined)
      throw shortfall(this.name, ids.length, nodes, offer.zone ?? offer.region)
    }
    const {ranked, zone} = await orRollBack(
      this.name,
      async () => {
        for (const [rank, id] of ids.entries()) await client.tagInstances([id], [{key: ALIYUN_TAGS.nodeRank, value: String(rank)}])
        const known = await this.described(client, ids)
        const zone = this.checkPlacement(known, ids, offer.zone, deploymentSet)
        const ranks = rankNodes(ids.map((id) => ({id, ip: known.get(id)?.privateIp ?? null})))
        await publishGang(await this.dispatcher.get(), this.name, gang, ranks)
        return {ranked: ranks, zone}
      },
      release,
    )
    return {
      provider: this.name,
      externalId: ids[0],
      region: offer.region,
      // A zone-less offer's gang is where ECS put it: a block or a relaunch names that zone.
      zone: offer.zone ?? zone,
      data: {...handleData, nodes: ranked, deploymentSetId: deploymentSet},
    }
  }

  /**
   * Each instance as DescribeInstances lists it once it has its private IP (ECS assigns it at
   * creation). An instance never listed with one is left out: publishGang refuses the gang.
   */
  private async described(client: EcsClient, ids: string[]): Promise<Map<string, EcsInstance>> {
    const known = new Map<string, EcsInstance>()
    const sleep = this.options.sleep ?? abortableSleep
    for (let tries = 0; known.size < ids.length && tries < 30; tries++) {
      if (tries > 0) await sleep(1000)
      for (const i of await client.describeInstances({instanceIds: ids.filter((id) => !known.has(id))}))
        if (i.privateIp) known.set(i.instanceId, i)
    }
    return known
  }

  /**
   * A gang's nodes must sit in one zone (the offer's, when it names one) and in the gang's
   * deployment set: one RunInstances call has one zone and one VSwitch, and the set keeps
   * them close, but a gang that runs across zones pays cross-zone latency on every collective
   * and is not what was planned, so what ECS reports is checked rather than assumed. Returns
   * the zone; throws (the caller releases the gang) when they are spread or outside the set.
   */
  private checkPlacement(known: Map<string, EcsInstance>, ids: string[], zone: string | null, deploymentSet: string | null): string | null {
    const listed = ids.flatMap((id) => (known.has(id) ? [known.get(id)!] : []))
    const zones = [...new Set(listed.map((i) => i.zone ?? '?'))]
    const where = (i: EcsInstance) => `${i.instanceId} in ${i.zone ?? 'an unreported zone'}`
    if (zones.length > 1 || (zone !== null && zones.length === 1 && zones[0] !== zone)) {
      throw new ProviderError(
        this.name,
        'unavailable',
        `the gang's nodes were not placed in one zone${zone ? ` (${zone})` : ''}: ${listed.map(where).join(', ')}; released them`,
        {code: 'GANG_ZONE_SPLIT', scope: 'offer'},
      )
    }
    const outside = listed.filter((i) => i.deploymentSetId !== deploymentSet)
    if (outside.length > 0) {
      throw new ProviderError(
        this.name,
        'unavailable',
        `the gang's nodes ${outside.map((i) => i.instanceId).join(', ')} are not in its deployment set ${deploymentSet}; released them`,
        {code: 'GANG_OUTSIDE_DEPLOYMENT_SET', scope: 'offer'},
      )
    }
    return zones.length === 1 && zones[0] !== '?' ? zones[0] : null
  }

  /** Releases a gang's instances, then deletes its deployment set once ECS lets it (removeWhenEmpty). */
  private async releaseGang(client: EcsClient, ids: string[], deploymentSet: string | null): Promise<void> {
    try {
      await client.deleteInstances(ids)
    } catch (error) {
      if (!(
        error instanceof ProviderError &&
        (error.backendCode === 'InvalidInstanceId.NotFound' || error.backendCode === 'InvalidInstanceId.NotExist')
      ))
        throw error
    }
    for (const id of ids) this.exitGrace.forget(id)
    if (!deploymentSet) return
    await removeWhenEmpty(() => client.deleteDeploymentSet(deploymentSet), {
      now: () => this.now().getTime(),
      sleep: (ms) => (this.options.sleep ?? abortableSleep)(ms),
      waitMs: this.options.deploymentSetWaitMs ?? 180_000,
    })
  }

  async poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>> {
    const out = new Map<string, PollResult>()
    for (const [region, group] of groupByRegion(handles)) {
      const client = await this.client(region)
      const all = allNodeIds(group)
      const found = new Map((await client.describeInstances({instanceIds: all})).map((i) => [i.instanceId, i]))
      const spotOf = new Map(group.flatMap((h) => gangNodes(h).map((n) => [n.externalId, h.data.spot === true])))
      const polled = new Map<string, PollResult>()
      for (const id of all) {
        const instance = found.get(id)
        if (instance) polled.set(id, await this.pollOne(client, instance))
        else if (spotOf.get(id))
          polled.set(id, {
            state: 'PREEMPTED',
            exitCode: null,
            reason: 'instance released (ECS releases reclaimed spot instances)',
            startedAt: null,
            endedAt: null,
          })
        else
          polled.set(id, {
            state: 'LOST',
            exitCode: null,
            reason: 'ECS no longer knows this instance',
            startedAt: null,
            endedAt: null,
          })
      }
      for (const h of group)
        out.set(
          h.externalId,
          pollOfHandle(h, (id) => polled.get(id)!),
        )
    }
    return out
  }

  private async pollOne(client: EcsClient, instance: EcsInstance): Promise<PollResult> {
    const base = {exitCode: null, reason: null, startedAt: instance.creationTime, endedAt: null}
    if (instance.status === 'Pending' || instance.status === 'Starting') return {...base, state: 'PROVISIONING'}
    if (instance.lockReasons.includes('Recycling')) return {...base, state: 'PREEMPTED', reason: 'spot instance reclaimed (Recycling)'}
    if (instance.status === 'Running') return {...base, state: 'RUNNING'}
    const report = parseConsole((await client.getConsoleOutput(instance.instanceId)) ?? '')
    const startedAt = eventTime(report, 'run-start') ?? instance.creationTime
    if (report.ended) {
      this.exitGrace.forget(instance.instanceId)
      return {...finalState(report), startedAt, endedAt: eventTime(report, 'exit')}
    }
    if (this.exitGrace.waiting(instance.instanceId, this.now().getTime(), this.options.consoleGraceMs ?? 10 * 60_000)) {
      return {
        state: 'RUNNING',
        exitCode: null,
        reason: `instance ${instance.status}; waiting for its console output`,
        startedAt,
        endedAt: null,
      }
    }
    const state: AttemptState = 'LOST'
    return {state, exitCode: null, reason: `instance ${instance.status} without an exit code on its console`, startedAt, endedAt: null}
  }

  logs(handle: LaunchHandle, options: LogOptions): AsyncIterable<string> {
    return withShippedLog(this.options.attemptObjects, handle, options, () => this.consoleLogs(handle, options))
  }

  /** The samples the runner shipped to the job's store (vm/shipped.ts); null without a store. */
  usageSamples(handle: LaunchHandle, offset?: number, rank = 0): Promise<{text: string; offset: number} | null> {
    return shippedSamples(this.options.attemptObjects, handle, offset, rank)
  }

  private consoleLogs(handle: LaunchHandle, options: LogOptions): AsyncIterable<string> {
    return mergedLogs(
      logNodes(handle, options.node).map((n) => ({rank: n.rank, lines: this.instanceLogs(handle.region, n.externalId, options)})),
      options.node === 'all',
    )
  }

  private async *instanceLogs(region: string, instanceId: string, options: LogOptions): AsyncIterable<string> {
    const client = await this.client(region)
    const sleep = this.options.sleep ?? abortableSleep
    let last = 0
    for (;;) {
      const report = parseConsole((await client.getConsoleOutput(instanceId)) ?? '')
      const fresh = linesAfter(report, last, (n) => `[skyhop: ${n} line(s) fell out of the ECS console window]`)
      yield* fresh.lines
      last = fresh.last
      if (!options.follow || report.ended || options.signal?.aborted) return
      const [instance] = await client.describeInstances({instanceIds: [instanceId]})
      if (!instance) return
      await sleep(this.options.consolePollMs ?? 5000, options.signal)
      if (options.signal?.aborted) return
    }
  }

  async signal(handle: LaunchHandle, kind: 'cancel' | 'preempt', graceSeconds: number): Promise<void> {
    const client = await this.client(handle.region)
    const attemptId = typeof handle.data.attemptId === 'string' ? handle.data.attemptId : null
    if (!attemptId) throw new ProviderError(this.name, 'user', `handle ${handle.externalId} carries no attempt id`)
    try {
      await client.runCommand(
        gangNodes(handle).map((n) => n.externalId),
        stopRequestScript(attemptId, kind, graceSeconds),
      )
    } catch (error) {
      if (error instanceof ProviderError && error.backendCode?.startsWith('InvalidInstance')) return
      throw error
    }
  }

  async cleanup(handle: LaunchHandle): Promise<void> {
    const client = await this.client(handle.region)
    const deploymentSet = typeof handle.data.deploymentSetId === 'string' ? handle.data.deploymentSetId : null
    await this.releaseGang(
      client,
      gangNodes(handle).map((n) => n.externalId),
      deploymentSet,
    )
  }

  async listOwned(query: OwnedQuery = {}): Promise<LaunchHandle[]> {
    const out: LaunchHandle[] = []
    for (const region of regionsToScan(this.regions(), query)) {
      const client = await this.client(region)
      const instances = await client.describeInstances({
        tags: [{key: ALIYUN_TAGS.attemptId, ...(query.attemptId ? {value: query.attemptId} : {})}],
      })
      // A gang's instances are one attempt: one handle, the head's, with every node in rank order.
      const byAttempt = new Map<string, EcsInstance[]>()
      for (const i of instances) {
        const key = i.tags[ALIYUN_TAGS.attemptId]
        byAttempt.set(key, [...(byAttempt.get(key) ?? []), i])
      }
      const rankOf = (i: EcsInstance) => Number(i.tags[ALIYUN_TAGS.nodeRank] ?? 0)
      for (const members of byAttempt.values()) {
        const ranked = [...members].sort((a, b) => rankOf(a) - rankOf(b))
        const head = ranked[0]
        const gang = ranked.length > 1 || head.tags[ALIYUN_TAGS.nodeRank] !== undefined
        out.push({
          provider: this.name,
          externalId: head.instanceId,
          region,
          zone: head.zone,
          data: {
            attemptId: head.tags[ALIYUN_TAGS.attemptId],
            jobId: head.tags[ALIYUN_TAGS.jobId] ?? null,
            instanceType: head.instanceType,
            spot: head.spotStrategy !== null && head.spotStrategy !== 'NoSpot',
            ...(gang
              ? {
                  nodes: ranked.map((m) => ({rank: rankOf(m), externalId: m.instanceId, ip: m.privateIp})),
                  deploymentSetId: head.deploymentSetId,
                }
              : {}),
          },
        })
      }
    }
    return out
  }

  /** Spot prices and the on-demand price, for `catalog refresh`. */
  async spotPrices(region: string, instanceType: string): Promise<EcsSpotPrice[]> {
    return (await this.client(region)).describeSpotPriceHistory({instanceType})
  }

  async onDemandPrice(region: string, instanceType: string) {
    return (await this.client(region)).describePrice(instanceType)
  }

  async close(): Promise<void> {
    await this.dispatcher.close()
  }
}
