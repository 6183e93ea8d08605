// Huawei Cloud ECS behind skyhop's Provider interface, on the VM machinery shared with
// AWS and Alibaba (vm/boot-script.ts, vm/console-channel.ts).
//
// Launch: POST /v1/{project_id}/cloudservers (pay-per-use) with X-Client-Token derived
// from the attempt's idempotency key, server_tags and metadata skyhop-job-id /
// skyhop-attempt-id, the boot script as user_data, and spot through
// extendparam.marketType=spot (+ spotPrice, the job's max price in CNY when it has one;
// without it ECS caps the bid at the pay-per-use price). The project id of each region
// comes from HUAWEICLOUD_SDK_PROJECT_ID / SKYHOP_HUAWEICLOUD_PROJECT_IDS or, failing
// those, from IAM (KeystoneListAuthProjects: the project named after the region).
// Creation is asynchronous: capacity errors such as Ecs.0319 often arrive in the job, not
// the answer, so launch() follows the job for a while (launchWaitMs) and turns a failed
// job into the same classified error, so the controller fails over at once.
//
// Ascend: offers whose accelerator is an Ascend NPU boot the image named by
// SKYHOP_HUAWEICLOUD_NPU_IMAGE (one carrying the Ascend driver, CANN and torch_npu); an
// NPU flavor is refused for a job whose runtimes exclude `cann` (the planner already
// filters by runtime; this is the adapter's own guard).
//
// Status and logs: the serial console, read with the Nova-compatible os-getConsoleOutput
// (it keeps working after the guest powers off, which stops an ECS). Cancel and preempt
// set the server metadata key skyhop_stop_request, which the boot script reads from the
// OpenStack metadata service (/openstack/latest/meta_data.json) and hands to the runner.
// Spot: Huawei documents no in-guest reclaim notice for ECS, so the runner polls nothing
// (`huaweicloud` notice source); skyhop sees the reclaim through the API (the spot server
// stops or disappears without its exit line) and relaunches. See docs/providers/huaweicloud.md for the grace
// a job can count on (none guaranteed).
//
// Gangs (nodes > 1, vm/gang.ts): one creation request with count = N in a server group made
// for the attempt (ECS server groups are anti-affinity only: the nodes land on different
// hosts of one zone) and deleted at cleanup, one X-Client-Token for the whole gang. The
// launch follows the creation job: a failed job whose sub-jobs created some servers (fewer
// granted than asked) deletes those and fails as the job's own classified error. Then every
// node must be ACTIVE with a private IP, each is tagged with its rank, and the rank and peer
// lists go to the job's object store. A stop request (metadata) set on one node is a notice
// to the whole gang through the store.
import {shipHandleData, shippedSamples, withShippedLog} from '../vm/shipped.js'
import {ProviderError} from '../../errors.js'
import type {CheckResult, LaunchRequest, LogOptions, Provider} from '../provider.js'
import type {AttemptState, LaunchHandle, PollResult} from '../../model/attempt.js'
import type {VmAdapterOptions} from '../vm/adapter-options.js'
import {clientOptionsFor} from '../../clouds/common/api-client.js'
import {bootUserData, readRunnerScript} from '../vm/boot-script.js'
import {
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
import {eventTime, ExitLineGrace, finalState, linesAfter, parseConsole} from '../vm/console-channel.js'
import {CredentialCache, type LoadedCredentials} from '../../clouds/common/credentials.js'
import {AdapterDispatcher} from '../../http/dispatcher.js'
import {PromiseCache} from '../../util/promise-cache.js'
import {configuredRegions, groupByRegion, regionsToScan} from '../vm/regions.js'
import {rfc3986Encode} from '../../clouds/common/signing-util.js'
import {abortableSleep} from '../../util/sleep.js'
import {loadHuaweiCredentials, type HuaweiAccount} from '../../clouds/huaweicloud/credentials.js'
import {EcsClient, HuaweiApi, huaweiClientToken, listAuthProjects, type EcsServer, type Env} from '../../clouds/huaweicloud/ecs-client.js'
import {HuaweiApiError, toHuaweiProviderError} from '../../clouds/huaweicloud/ecs-errors.js'

export const HUAWEI_TAGS = {
  jobId: 'skyhop-job-id',
  attemptId: 'skyhop-attempt-id',
  jobName: 'skyhop-job-name',
  /** A gang node's rank (0 is the head). */
  nodeRank: 'skyhop-node-rank',
} as const

/** The most nodes one gang may have: one creation request makes at most 500 servers, a server group holds far fewer. */
export const HUAWEI_MAX_NODES = 16
/** Server metadata key naming a gang node's server group. */
const SERVER_GROUP_KEY = 'skyhop_server_group'

/** Server metadata key carrying a stop request to the guest (`cancel 30`, `preempt 30`). */
export const HUAWEI_STOP_KEY = 'skyhop_stop_request'

/** ECS's limit on user data: 32 KB before base64. */
export const ECS_USER_DATA_LIMIT = 32 * 1024

export const DEFAULT_IMAGE_NAME = 'Ubuntu 22.04 server 64bit'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export interface HuaweiNetwork {
  vpcId: string
  subnetId: string
  securityGroupIds?: string[]
}

export interface HuaweiProviderOptions extends VmAdapterOptions {
  /** Regions listOwned() scans and check() probes (the first). Default SKYHOP_HUAWEICLOUD_REGIONS, HUAWEICLOUD_SDK_REGION or cn-north-4. */
  regions?: string[]
  credentials?: () => Promise<LoadedCredentials<HuaweiAccount>>
  /** VPC and subnet per region (ECS requires both). Default SKYHOP_HUAWEICLOUD_NETWORKS. */
  networks?: Record<string, HuaweiNetwork>
  /** Image name or id for ordinary offers and for Ascend offers. Default SKYHOP_HUAWEICLOUD_IMAGE / _NPU_IMAGE. */
  images?: {default?: string; npu?: string}
  /** System disk type. Default SSD. */
  volumeType?: string
  /** OpenStack metadata base for the stop probe; `{attemptId}` is replaced. Default SKYHOP_HUAWEICLOUD_METADATA_URL or 169.254.169.254. */
  metadataBaseUrl?: string
  /** How long launch() follows the creation job for an asynchronous failure. Default 180 s. */
  launchWaitMs?: number
  jobPollMs?: number
  /** How long a stopped on-demand server may lack its console exit line before the attempt is LOST. Default 10 min. */
  consoleGraceMs?: number
}

/** `cn-north-4=VPC/SUBNET[/SG[+SG…]],cn-east-3=…` as in SKYHOP_HUAWEICLOUD_NETWORKS. */
export function parseNetworks(text: string): Record<string, HuaweiNetwork> {
  const out: Record<string, HuaweiNetwork> = {}
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-z]{2}(?:-[a-z0-9]+)+)=([0-9A-Za-z-]+)\/([0-9A-Za-z-]+)(?:\/([0-9A-Za-z+-]+))?$/.exec(part)
    if (!m)
      throw new ProviderError(
        'huaweicloud',
        'unavailable',
        `SKYHOP_HUAWEICLOUD_NETWORKS: "${part}" is not region=VPC_ID/SUBNET_ID[/SECURITY_GROUP_ID]`,
        {scope: 'provider', code: 'PROVIDER_BAD_CONFIG'},
      )
    out[m[1]] = {vpcId: m[2], subnetId: m[3], ...(m[4] ? {securityGroupIds: m[4].split('+')} : {})}
  }
  return out
}

/** Bash for the boot script's stop probe: the stop key from the OpenStack metadata of this server. */
export function huaweiStopProbe(metadataBase: string): string {
  const base = metadataBase.replace(/\/$/, '')
  return [
    `m=$(curl -sf -m 2 '${base}/openstack/latest/meta_data.json') || return 0`,
    `[[ $m =~ \\"${HUAWEI_STOP_KEY}\\"[[:space:]]*:[[:space:]]*\\"([^\\"]*)\\" ]] && printf '%s\\n' "\${BASH_REMATCH[1]}"`,
    'return 0',
  ].join('\n')
}

/** Whether an offer's accelerator is an Ascend NPU (the CANN stack). */
export function isAscendOffer(offer: {accelerator: {name: string} | null}): boolean {
  return /^ascend/i.test(offer.accelerator?.name ?? '')
}

export class HuaweiProvider implements Provider {
  readonly name = 'huaweicloud'
  // Each attempt runs on an instance of its own: checkpoints travel through checkpoint.store.
  readonly attemptStorage = 'per-instance' as const
  // Its runner ships output.log and samples to the job's store (vm/shipped.ts).
  readonly shipsAttemptFiles = true
  readonly maxNodes = HUAWEI_MAX_NODES
  private readonly env: Env
  private readonly credentialCache: CredentialCache<HuaweiAccount>
  private readonly dispatcher: AdapterDispatcher
  private readonly apis = new PromiseCache<HuaweiApi>()
  private readonly clients = new PromiseCache<EcsClient>()
  private readonly images = new PromiseCache<string>()
  private readonly zones = new PromiseCache<string[]>()
  private readonly exitGrace = new ExitLineGrace()
  private iamProjects: Promise<Array<{id: string; name: string}>> | null = null

  constructor(private readonly options: HuaweiProviderOptions = {}) {
    this.env = options.env ?? process.env
    this.dispatcher = new AdapterDispatcher(options.dispatcher)
    this.credentialCache = new CredentialCache(options.credentials ?? (async () => loadHuaweiCredentials({env: this.env})))
  }

  private api(region: string): Promise<HuaweiApi> {
    return this.apis.get(
      region,
      async () => new HuaweiApi(clientOptionsFor(region, this.credentialCache, await this.dispatcher.get(), this.env, this.options)),
    )
  }

  /** The project id of a region: configured, else the IAM project named after the region. */
  async projectId(region: string): Promise<string> {
    const account = (await this.credentialCache.get()).credentials
    const configured = account.projectIds[region] ?? account.anyRegionProjectId
    if (configured) return configured
    this.iamProjects ??= (async () => listAuthProjects(await this.api(region)))()
    this.iamProjects.catch(() => (this.iamProjects = null))
    const found = (await this.iamProjects).find((p) => p.name === region)
    if (!found) {
      throw new ProviderError(this.name, 'auth', `no IAM project named ${region} is visible to this access key`, {
        scope: 'region',
        code: 'PROVIDER_NO_PROJECT',
        hint: 'Set SKYHOP_HUAWEICLOUD_PROJECT_IDS (region=project-id), or grant the key access to the region’s project.',
      })
    }
    return found.id
  }

  private client(region: string): Promise<EcsClient> {
    return this.clients.get(region, async () => new EcsClient(await this.api(region), await this.projectId(region)))
  }

  private regions(): string[] {
    return configuredRegions(
      this.options.regions,
      this.env.SKYHOP_HUAWEICLOUD_REGIONS,
      this.env.HUAWEICLOUD_SDK_REGION?.trim() || 'cn-north-4',
    )
  }

  private nowMs(): number {
    return (this.options.now ?? (() => new Date()))().getTime()
  }

  private network(region: string): HuaweiNetwork {
    const networks = this.options.networks ?? parseNetworks(this.env.SKYHOP_HUAWEICLOUD_NETWORKS ?? '')
    const n = networks[region]
    if (!n) {
      throw new ProviderError(this.name, 'unavailable', `no VPC and subnet configured for ${region}`, {
        scope: 'region',
        code: 'PROVIDER_NOT_CONFIGURED',
        hint: 'Set SKYHOP_HUAWEICLOUD_NETWORKS=region=VPC_ID/SUBNET_ID[/SECURITY_GROUP_ID] for each region skyhop may use.',
      })
    }
    return n
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
      async (region) => (await this.client(region)).availabilityZones(),
      'availability zones',
    )
  }

  private imageFor(client: EcsClient, wanted: string): Promise<string> {
    if (UUID.test(wanted)) return Promise.resolve(wanted)
    return this.images.get(`${client.region}\n${wanted}`, async () => {
      const id = await client.findImage(wanted)
      if (!id)
        throw new ProviderError(this.name, 'unavailable', `no active image named "${wanted}" in ${client.region}`, {
          scope: 'region',
          code: 'PROVIDER_IMAGE_NOT_FOUND',
        })
      return id
    })
  }

  /** The image for this request: the job's own, else the NPU image for Ascend offers, else the default. */
  private imageName(request: LaunchRequest): string {
    // A container image runs on the VM image's docker or podman: `image:` is not an IMS image then.
    if (request.spec.image && !request.spec.container) return request.spec.image
    if (isAscendOffer(request.offer)) {
      const npu = this.options.images?.npu ?? this.env.SKYHOP_HUAWEICLOUD_NPU_IMAGE?.trim()
      if (!npu) {
        throw new ProviderError(this.name, 'unavailable', `no image with CANN and torch_npu is configured for Ascend flavors`, {
          scope: 'provider',
          code: 'PROVIDER_NOT_CONFIGURED',
          hint: 'Set SKYHOP_HUAWEICLOUD_NPU_IMAGE to the name or id of an image with the Ascend driver, CANN and torch_npu, or give the job an `image`.',
        })
      }
      return npu
    }
    return this.options.images?.default ?? (this.env.SKYHOP_HUAWEICLOUD_IMAGE?.trim() || DEFAULT_IMAGE_NAME)
  }

  private zoneFor(client: EcsClient, zone: string | null): Promise<string> {
    if (zone) return Promise.resolve(zone)
    return this.zones
      .get(client.region, () => client.availabilityZones())
      .then((zs) => {
        if (!zs[0]) throw new ProviderError(this.name, 'capacity', `no available zone in ${client.region}`, {scope: 'region'})
        return zs[0]
      })
  }

  async launch(request: LaunchRequest): Promise<LaunchHandle> {
    const {offer, spec} = request
    if (offer.provider !== this.name)
      throw new ProviderError(this.name, 'user', `offer of ${offer.provider} given to the Huawei Cloud provider`)
    const runtimes = spec.resources.runtimes
    if (isAscendOffer(offer) && runtimes !== null && !runtimes.includes('cann')) {
      throw new ProviderError(
        this.name,
        'unavailable',
        `${offer.instanceType} carries ${offer.accelerator!.name} (CANN); the job runs on ${runtimes.join(', ')}`,
        {scope: 'offer', code: 'PROVIDER_RUNTIME_MISMATCH'},
      )
    }
    const nodes = nodeCount(request)
    const gang = gangObjectsFor(this.name, request, this.maxNodes)
    const region = offer.region
    const network = this.network(region)
    const imageName = this.imageName(request)
    const client = await this.client(region)
    const zone = await this.zoneFor(client, offer.zone)
    const imageId = await this.imageFor(client, imageName)
    const metadataBase = (this.options.metadataBaseUrl ?? (this.env.SKYHOP_HUAWEICLOUD_METADATA_URL?.trim() || undefined))?.replace(
      '{attemptId}',
      rfc3986Encode(request.attemptId),
    )
    const runnerScript = await (this.options.runnerScript ?? readRunnerScript)()
    const data = bootUserData(
      {
        request,
        runnerScript,
        noticeSources: ['huaweicloud'],
        stopRequestProbe: huaweiStopProbe(metadataBase ?? 'http://169.254.169.254'),
        pollIntervalSeconds: this.options.instancePollSeconds,
      },
      (d) => d.length <= ECS_USER_DATA_LIMIT,
    )
    if (!data.fits) {
      throw new ProviderError(
        this.name,
        'user',
        `the boot script is ${data.data.length} bytes even compressed; ECS takes at most ${ECS_USER_DATA_LIMIT}`,
        {code: 'PROVIDER_USER_DATA_TOO_LARGE'},
      )
    }
    // A max price in another currency was applied by the planner through the exchange
    // rate; without one here ECS bids up to the pay-per-use price.
    const maxPrice = request.spot && spec.maxPrice && spec.maxPrice.currency === offer.price.currency ? spec.maxPrice.amount : null
    // A node that fetches its runner at boot (every gang's; one whose user data cannot carry it) finds it in the store first.
    if (data.runnerFromStore) await publishRunner(await this.dispatcher.get(), this.name, request.gang!, runnerScript)
    const group = gang ? await client.createServerGroup(`skyhop-${request.attemptId}`) : null
    let created: {jobId: string; serverIds: string[]}
    try {
      created = await client.createServer({
        name: `skyhop-${request.jobName}-${request.attempt}`.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64),
        imageId,
        flavor: offer.instanceType,
        zone,
        vpcId: network.vpcId,
        subnetId: network.subnetId,
        securityGroupIds: network.securityGroupIds,
        rootVolume: {type: this.options.volumeType ?? 'SSD', sizeGiB: spec.resources.diskGB},
        userData: data.data.toString('base64'),
        // A gang's server group rides in the metadata, so listOwned() can release it too.
        metadata: {
          [HUAWEI_TAGS.jobId]: request.jobId,
          [HUAWEI_TAGS.attemptId]: request.attemptId,
          ...(group ? {[SERVER_GROUP_KEY]: group} : {}),
        },
        tags: [
          {key: HUAWEI_TAGS.jobId, value: request.jobId},
          {key: HUAWEI_TAGS.attemptId, value: request.attemptId},
          {key: HUAWEI_TAGS.jobName, value: request.jobName.slice(0, 43)},
        ],
        spot: request.spot ? {maxPrice} : null,
        clientToken: huaweiClientToken(request.idempotencyKey),
        count: nodes,
        serverGroupId: group,
      })
    } catch (error) {
      if (group) await client.deleteServerGroup(group).catch(() => undefined)
      throw error
    }
    const handleData = {
      attemptId: request.attemptId,
      jobId: request.jobId,
      ...shipHandleData(request.ship),
      spot: request.spot,
      instanceType: offer.instanceType,
      imageId,
      ecsJobId: created.jobId,
    }
    if (!gang) {
      const serverId = await this.followCreation(client, created, zone, offer.instanceType)
      return {provider: this.name, externalId: serverId, region, zone, data: handleData}
    }
    let ids: string[] = created.serverIds
    const release = () => this.releaseGang(client, ids, group)
    const ranked = await orRollBack(
      this.name,
      async () => {
        ids = await this.followGangCreation(client, created, nodes, zone, offer.instanceType, (found) => (ids = found))
        const ips = await this.gangIps(client, ids, nodes, zone)
        for (const [rank, id] of ids.entries()) await client.tagServer(id, [{key: HUAWEI_TAGS.nodeRank, value: String(rank)}])
        const ranks = rankNodes(ids.map((id) => ({id, ip: ips.get(id) ?? null})))
        await publishGang(await this.dispatcher.get(), this.name, gang, ranks)
        return ranks
      },
      release,
    )
    return {provider: this.name, externalId: ids[0], region, zone, data: {...handleData, nodes: ranked, serverGroupId: group}}
  }

  /**
   * Follows a gang's creation job until every server is created. A failed job is thrown as
   * its classified error after `seen` learns the servers its sub-jobs did create, so the
   * caller releases them (ECS can fail a batch with part of it built).
   */
  private async followGangCreation(
    client: EcsClient,
    created: {jobId: string; serverIds: string[]},
    asked: number,
    zone: string,
    flavor: string,
    seen: (ids: string[]) => void,
  ): Promise<string[]> {
    const sleep = this.options.sleep ?? abortableSleep
    const end = this.nowMs() + (this.options.launchWaitMs ?? 180_000)
    for (;;) {
      const job = await client.showJob(created.jobId)
      const ids = [...new Set([...created.serverIds, ...job.serverIds])]
      seen(ids)
      if (job.status === 'FAIL') {
        const error = toHuaweiProviderError(
          new HuaweiApiError(400, job.errorCode ?? 'Ecs.0002', job.failReason ?? 'the creation job failed', null),
          {action: 'CreatePostPaidServers', region: client.region, zone, flavor},
        )
        if (job.createdIds.length > 0 && error instanceof ProviderError && error.category === 'capacity')
          throw shortfall(this.name, job.createdIds.length, asked, zone, error.backendCode)
        throw error
      }
      if (job.status === 'SUCCESS' && ids.length >= asked) return ids.slice(0, asked)
      if (this.nowMs() >= end) throw shortfall(this.name, job.createdIds.length, asked, zone)
      await sleep(this.options.jobPollMs ?? 3000)
    }
  }

  /** Waits until every server of a gang is ACTIVE with a private IP; one in ERROR is a node not granted. */
  private async gangIps(client: EcsClient, ids: string[], asked: number, zone: string): Promise<Map<string, string>> {
    const sleep = this.options.sleep ?? abortableSleep
    const end = this.nowMs() + (this.options.launchWaitMs ?? 180_000)
    for (;;) {
      const servers = await Promise.all(ids.map((id) => client.showServer(id)))
      const bad = servers.filter((sv) => !sv || sv.status === 'ERROR' || sv.status === 'DELETED')
      if (bad.length > 0) throw shortfall(this.name, asked - bad.length, asked, zone)
      const up = servers.filter((sv): sv is EcsServer => !!sv && sv.status === 'ACTIVE' && !!sv.privateIp)
      if (up.length === ids.length) return new Map(up.map((sv) => [sv.id, sv.privateIp!]))
      if (this.nowMs() >= end) throw shortfall(this.name, up.length, asked, zone)
      await sleep(this.options.jobPollMs ?? 3000)
    }
  }

  /** Deletes a gang's servers (with their disks), then its server group (removeWhenEmpty). */
  private async releaseGang(client: EcsClient, ids: string[], group: string | null): Promise<void> {
    const live: string[] = []
    for (const id of ids) {
      const server = await client.showServer(id)
      if (server && server.status !== 'DELETED') live.push(id)
    }
    try {
      if (live.length > 0) await client.deleteServers(live)
    } catch (error) {
      // Deleted between the two calls: nothing left to release.
      if (!(error instanceof ProviderError && /^(Ecs\.0614|HTTP404)$/.test(error.backendCode ?? ''))) throw error
    }
    for (const id of ids) this.exitGrace.forget(id)
    if (!group) return
    await removeWhenEmpty(
      () =>
        client.deleteServerGroup(group).then(
          () => true,
          () => false,
        ),
      {now: () => this.nowMs(), sleep: (ms) => (this.options.sleep ?? abortableSleep)(ms), waitMs: this.options.launchWaitMs ?? 180_000},
    )
  }

  /** Follows the creation job until it succeeds, fails (thrown as a classified error) or the wait ends. */
  private async followCreation(
    client: EcsClient,
    created: {jobId: string; serverIds: string[]},
    zone: string,
    flavor: string,
  ): Promise<string> {
    const sleep = this.options.sleep ?? abortableSleep
    const end = this.nowMs() + (this.options.launchWaitMs ?? 180_000)
    let serverId = created.serverIds[0] ?? null
    for (;;) {
      const job = await client.showJob(created.jobId)
      serverId ??= job.serverIds[0] ?? null
      if (job.status === 'FAIL') {
        // ECS rolls a failed creation back; the code says why, as a synchronous answer would.
        throw toHuaweiProviderError(
          new HuaweiApiError(400, job.errorCode ?? 'Ecs.0002', job.failReason ?? 'the creation job failed', null),
          {action: 'CreatePostPaidServers', region: client.region, zone, flavor},
        )
      }
      if (serverId && (job.status === 'SUCCESS' || this.nowMs() >= end)) return serverId
      if (this.nowMs() >= end) {
        throw new ProviderError(
          this.name,
          'transient',
          `creation job ${created.jobId} named no server within ${Math.round((this.options.launchWaitMs ?? 180_000) / 1000)} s`,
          {scope: 'none'},
        )
      }
      await sleep(this.options.jobPollMs ?? 3000)
    }
  }

  async poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>> {
    const out = new Map<string, PollResult>()
    for (const [region, group] of groupByRegion(handles)) {
      const client = await this.client(region)
      // ShowServer per node, eight at a time; a gang's nodes are polled alone, then aggregated.
      const nodesHere = group.flatMap((h) =>
        gangNodes(h).map((n) => ({...h, externalId: n.externalId, data: {...h.data, nodes: undefined}})),
      )
      const polled = new Map<string, PollResult>()
      for (let i = 0; i < nodesHere.length; i += 8) {
        const slice = nodesHere.slice(i, i + 8)
        const results = await Promise.all(slice.map(async (h) => this.pollOne(client, h, await client.showServer(h.externalId))))
        slice.forEach((h, k) => polled.set(h.externalId, results[k]))
      }
      for (const h of group)
        out.set(
          h.externalId,
          pollOfHandle(h, (id) => polled.get(id)!),
        )
    }
    return out
  }

  private async pollOne(client: EcsClient, h: LaunchHandle, server: EcsServer | null): Promise<PollResult> {
    const spot = h.data.spot === true
    if (!server || server.status === 'DELETED') {
      if (spot)
        return {state: 'PREEMPTED', exitCode: null, reason: 'spot server released by ECS (reclaimed)', startedAt: null, endedAt: null}
      return {state: 'LOST', exitCode: null, reason: 'ECS no longer knows this server', startedAt: null, endedAt: null}
    }
    const base = {exitCode: null, reason: null, startedAt: server.created, endedAt: null}
    switch (server.status) {
      case 'BUILD':
      case 'REBUILD':
        return {...base, state: 'PROVISIONING'}
      case 'ERROR':
        return {...base, state: 'LOST', reason: `server in ERROR${server.fault ? `: ${server.fault}` : ''}`}
      case 'SHUTOFF':
      case 'STOPPED':
        break
      default:
        return {...base, state: 'RUNNING'}
    }
    // Stopped: the guest powered off after the job, or the spot server was reclaimed.
    const report = parseConsole(await client.consoleOutput(server.id))
    const startedAt = eventTime(report, 'run-start') ?? server.created
    if (report.ended) {
      this.exitGrace.forget(server.id)
      return {...finalState(report), startedAt, endedAt: eventTime(report, 'exit')}
    }
    if (spot)
      return {state: 'PREEMPTED', exitCode: null, reason: 'spot server stopped without its exit line (reclaimed)', startedAt, endedAt: null}
    if (this.exitGrace.waiting(server.id, this.nowMs(), this.options.consoleGraceMs ?? 10 * 60_000)) {
      return {state: 'RUNNING', exitCode: null, reason: 'server stopped; waiting for its console output', startedAt, endedAt: null}
    }
    const state: AttemptState = server.metadata[HUAWEI_STOP_KEY]?.startsWith('cancel') ? 'CANCELLED' : 'LOST'
    return {state, exitCode: null, reason: 'server stopped without an exit code on its console', startedAt, endedAt: null}
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
      logNodes(handle, options.node).map((n) => ({rank: n.rank, lines: this.serverLogs(handle.region, n.externalId, options)})),
      options.node === 'all',
    )
  }

  private async *serverLogs(region: string, serverId: string, options: LogOptions): AsyncIterable<string> {
    const client = await this.client(region)
    const sleep = this.options.sleep ?? abortableSleep
    let last = 0
    for (;;) {
      const server = await client.showServer(serverId)
      if (!server) return
      const report = parseConsole(await client.consoleOutput(serverId))
      const fresh = linesAfter(report, last, (n) => `[skyhop: ${n} line(s) fell out of the ECS console log]`)
      yield* fresh.lines
      last = fresh.last
      if (!options.follow || report.ended || server.status === 'SHUTOFF' || options.signal?.aborted) return
      await sleep(this.options.consolePollMs ?? 5000, options.signal)
      if (options.signal?.aborted) return
    }
  }

  async signal(handle: LaunchHandle, kind: 'cancel' | 'preempt', graceSeconds: number): Promise<void> {
    const client = await this.client(handle.region)
    for (const node of gangNodes(handle)) {
      const server = await client.showServer(node.externalId)
      if (!server || server.status === 'DELETED') continue
      await client.updateMetadata(node.externalId, {[HUAWEI_STOP_KEY]: `${kind} ${Math.max(0, Math.round(graceSeconds))}`})
    }
  }

  async cleanup(handle: LaunchHandle): Promise<void> {
    const client = await this.client(handle.region)
    const group = typeof handle.data.serverGroupId === 'string' ? handle.data.serverGroupId : null
    await this.releaseGang(
      client,
      gangNodes(handle).map((n) => n.externalId),
      group,
    )
  }

  /** Servers tagged by skyhop (only one attempt's with `attemptId`), in the provider's regions and `regions`. */
  async listOwned(query: {regions?: string[]; attemptId?: string} = {}): Promise<LaunchHandle[]> {
    const out: LaunchHandle[] = []
    for (const region of regionsToScan(this.regions(), query)) {
      const client = await this.client(region)
      const servers: EcsServer[] = []
      for (const id of await client.listServerIdsByTag(HUAWEI_TAGS.attemptId, query.attemptId)) {
        const server = await client.showServer(id)
        if (server && server.status !== 'DELETED') servers.push(server)
      }
      // A gang's servers are one attempt: one handle, the head's, with every node in rank order.
      const attemptOf = (sv: EcsServer) => sv.tags[HUAWEI_TAGS.attemptId] ?? sv.metadata[HUAWEI_TAGS.attemptId]
      const byAttempt = new Map<string, EcsServer[]>()
      for (const sv of servers) byAttempt.set(attemptOf(sv), [...(byAttempt.get(attemptOf(sv)) ?? []), sv])
      const rankOf = (sv: EcsServer) => Number(sv.tags[HUAWEI_TAGS.nodeRank] ?? 0)
      for (const members of byAttempt.values()) {
        const ranked = [...members].sort((a, b) => rankOf(a) - rankOf(b))
        const head = ranked[0]
        const gang = ranked.length > 1 || head.tags[HUAWEI_TAGS.nodeRank] !== undefined
        out.push({
          provider: this.name,
          externalId: head.id,
          region,
          zone: head.zone,
          data: {
            attemptId: attemptOf(head),
            jobId: head.tags[HUAWEI_TAGS.jobId] ?? head.metadata[HUAWEI_TAGS.jobId] ?? null,
            instanceType: head.flavor,
            // ECS marks spot servers with charging_mode 2 in their metadata.
            spot: head.metadata.charging_mode === '2',
            ...(gang
              ? {
                  nodes: ranked.map((m) => ({rank: rankOf(m), externalId: m.id, ip: m.privateIp})),
                  serverGroupId: head.metadata[SERVER_GROUP_KEY] ?? null,
                }
              : {}),
          },
        })
      }
    }
    return out
  }

  async close(): Promise<void> {
    await this.dispatcher.close()
  }
}
