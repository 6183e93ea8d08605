// Tencent Cloud CVM behind skyhop's Provider interface, on the VM machinery shared with
// AWS and Alibaba (vm/boot-script.ts, vm/console-channel.ts).
//
// Launch: RunInstances with ClientToken = the attempt's idempotency key, TagSpecification
// skyhop-job-id / skyhop-attempt-id, the boot script as UserData (base64), and either
// POSTPAID_BY_HOUR or SPOTPAID with InstanceMarketOptions {MarketType: spot, SpotOptions:
// {MaxPrice}} (MaxPrice is mandatory: the job's max price when it has one in the offer's
// currency, else the on-demand price, which bids "up to on-demand").
//
// Status and logs: CVM has no console-output API, so the boot script mirrors its lines to
// a file (/var/lib/skyhop/console.log) and skyhop reads that file through TAT, the
// automation agent of Tencent's public images (RunCommand, then DescribeInvocationTasks):
// nothing inbound is opened, no key is needed. One RunCommand per region per status
// interval covers every running attempt there; its result is read on the next poll.
// Because TAT cannot reach a stopped instance, the boot script lingers after the job's
// exit line (default 10 minutes) before powering off; skyhop terminates the instance as
// soon as it has read the exit (cleanup), so the linger only bills when nobody watches.
// Cancel and preempt run the stop-request script through TAT (as Cloud Assistant does on
// Alibaba). Spot reclaims reach the runner through the metadata endpoint
// metadata.tencentyun.com/latest/meta-data/spot/termination-time (UTC+8 wall time, about
// two minutes ahead; the runner's `tencentcloud` notice source).
//
// Gangs (nodes > 1, vm/gang.ts): one RunInstances with InstanceCount = N in a placement group
// (DisasterRecoverGroup, type HOST: CVM's only placement construct spreads the nodes over
// hosts; it keeps them one group in one zone) made for the attempt and deleted at cleanup,
// the attempt's ClientToken for the whole gang. RunInstances is asynchronous, so the launch
// waits until every node runs with a private IP; a node that ends LAUNCH_FAILED (fewer
// granted than asked) terminates the others and fails the launch as a capacity failure of
// the zone. Each node is renamed `…-rank<N>` (CVM tags live in another service), then the
// rank and peer lists go to the job's object store.
import {shipHandleData, shippedSamples, withShippedLog} from '../vm/shipped.js'
import {ProviderError} from '../../errors.js'
import type {Currency, Money} from '../../model/job-spec.js'
import {type CheckResult, type LaunchRequest, type LogOptions, type Provider} from '../provider.js'
import {TERMINAL_ATTEMPT_STATES, type AttemptState, type LaunchHandle, type PollResult} from '../../model/attempt.js'
import type {VmAdapterOptions} from '../vm/adapter-options.js'
import {clientOptionsFor} from '../../clouds/common/api-client.js'
import {bootUserData, readRunnerScript, stopRequestScript} from '../vm/boot-script.js'
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
import {asciiClientToken} from '../../clouds/common/client-token.js'
import {eventTime, ExitLineGrace, finalState, linesAfter, parseConsole, type ConsoleReport} from '../vm/console-channel.js'
import {CredentialCache, type LoadedCredentials} from '../../clouds/common/credentials.js'
import {AdapterDispatcher} from '../../http/dispatcher.js'
import {PromiseCache} from '../../util/promise-cache.js'
import {configuredRegions, groupByRegion, regionsToScan} from '../vm/regions.js'
import {rfc3986Encode} from '../../clouds/common/signing-util.js'
import {abortableSleep} from '../../util/sleep.js'
import {loadTencentCredentials, type TencentCredentialOptions} from '../../clouds/tencentcloud/credentials.js'
import {
  CvmClient,
  TAT_FINISHED,
  TatClient,
  tencentEndpoint,
  type CvmInstance,
  type CvmRunInput,
  type Env,
} from '../../clouds/tencentcloud/cvm-client.js'
import type {TencentCredentials} from '../../clouds/tencentcloud/tc3.js'

export const TENCENT_TAGS = {jobId: 'skyhop-job-id', attemptId: 'skyhop-attempt-id', jobName: 'skyhop-job-name'} as const

/** The most nodes one gang may have: RunInstances creates at most 100 instances per call. */
export const TENCENT_MAX_NODES = 100

/** A gang node's name ends with its rank. */
const RANK_SUFFIX = /-rank(\d+)$/

/** CVM's limit on user data: 16 KB before base64. */
export const CVM_USER_DATA_LIMIT = 16 * 1024

/** Where the boot script mirrors its lines on a CVM instance (read back through TAT). */
export const TENCENT_CONSOLE_FILE = '/var/lib/skyhop/console.log'

export const DEFAULT_IMAGE_NAME = 'Ubuntu Server 22.04 LTS 64bit'

export interface TencentProviderOptions extends VmAdapterOptions {
  /** Regions listOwned() scans and check() probes (the first). Default SKYHOP_TENCENTCLOUD_REGIONS, TENCENTCLOUD_REGION or ap-guangzhou. */
  regions?: string[]
  credentials?: TencentCredentialOptions | (() => Promise<LoadedCredentials<TencentCredentials>>)
  /** Prices InquiryPriceRunInstances quotes: CNY on the China site (default), USD on the international one. */
  currency?: Currency
  /** Public image name (or an `img-` id) when the job names no image. Default SKYHOP_TENCENTCLOUD_IMAGE or Ubuntu 22.04. */
  image?: string
  network?: {vpcs?: Record<string, {vpcId: string; subnetId: string}>; securityGroupIds?: Record<string, string[]>}
  /**
   * Metadata base for the runner on the instance; `{attemptId}` is replaced.
   * Default SKYHOP_TENCENTCLOUD_METADATA_URL or metadata.tencentyun.com.
   */
  metadataBaseUrl?: string
  /** How often a running attempt's console file is read through TAT. Default 15 s. */
  statusIntervalMs?: number
  /** Seconds the instance stays up after the job's exit line so skyhop can read it. Default 600. */
  lingerSeconds?: number
  /** How long a gang's launch waits for every node to run with a private IP. Default 10 min. */
  gangLaunchWaitMs?: number
  /** How long cleanup waits for a gang's instances to go before it deletes their placement group. Default 3 min. */
  placementGroupWaitMs?: number
}

/** Bash printing the mirrored status lines (events, boot and exit; not the job's output). */
export function statusReadScript(consoleFile = TENCENT_CONSOLE_FILE): string {
  return [
    `C="\${SKYHOP_BOOT_CONSOLE:-${consoleFile}}"`,
    '[ -f "$C" ] || exit 0',
    // The newest lines when they exceed TAT's 24 KB output window; a line cut at the front
    // no longer starts with SKYHOP- and parseConsole() skips it.
    `grep -a '^SKYHOP-' "$C" | grep -av '^SKYHOP-LOG ' | tail -c 16000`,
  ].join('\n')
}

/** Bash printing the job's output lines after sequence number `after` (at most ~20 KB), and the exit line. */
export function logReadScript(after: number, consoleFile = TENCENT_CONSOLE_FILE): string {
  return [
    `C="\${SKYHOP_BOOT_CONSOLE:-${consoleFile}}"`,
    '[ -f "$C" ] || exit 0',
    `grep -a '^SKYHOP-LOG ' "$C" | awk -v n=${Math.max(0, Math.floor(after))} '$2 + 0 > n { b += length($0) + 1; if (b > 20000) exit; print }'`,
    `grep -a '^SKYHOP-EXIT ' "$C" | tail -n 1`,
  ].join('\n')
}

interface StatusCache {
  report: ConsoleReport | null
  /** When the last status read was issued (ms). */
  issuedAt: number
  /** The TAT invocation not yet read back. */
  pending: string | null
}

/** A status read whose TAT task has not finished after this long is given up on. */
const STALE_STATUS_READ_MS = 60_000

export class TencentProvider implements Provider {
  readonly name = 'tencentcloud'
  // Each attempt runs on an instance of its own: checkpoints travel through checkpoint.store.
  readonly attemptStorage = 'per-instance' as const
  // Its runner ships output.log and samples to the job's store (vm/shipped.ts).
  readonly shipsAttemptFiles = true
  private readonly env: Env
  private readonly credentialCache: CredentialCache<TencentCredentials>
  private readonly dispatcher: AdapterDispatcher
  private readonly cvms = new PromiseCache<CvmClient>()
  private readonly tats = new PromiseCache<TatClient>()
  private readonly images = new PromiseCache<string>()
  private readonly zones = new PromiseCache<string[]>()
  private readonly status = new Map<string, StatusCache>()
  private readonly exitGrace = new ExitLineGrace()
  readonly maxNodes = TENCENT_MAX_NODES

  constructor(private readonly options: TencentProviderOptions = {}) {
    this.env = options.env ?? process.env
    this.dispatcher = new AdapterDispatcher(options.dispatcher)
    const creds = options.credentials
    const load = typeof creds === 'function' ? creds : async () => loadTencentCredentials({env: this.env, ...creds})
    this.credentialCache = new CredentialCache(load)
  }

  private cvm(region: string): Promise<CvmClient> {
    return this.cvms.get(
      region,
      async () => new CvmClient(clientOptionsFor(region, this.credentialCache, await this.dispatcher.get(), this.env, this.options)),
    )
  }

  private tat(region: string): Promise<TatClient> {
    return this.tats.get(
      region,
      async () => new TatClient(clientOptionsFor(region, this.credentialCache, await this.dispatcher.get(), this.env, this.options)),
    )
  }

  private regions(): string[] {
    return configuredRegions(
      this.options.regions,
      this.env.SKYHOP_TENCENTCLOUD_REGIONS,
      this.env.TENCENTCLOUD_REGION?.trim() || 'ap-guangzhou',
    )
  }

  private nowMs(): number {
    return (this.options.now ?? (() => new Date()))().getTime()
  }

  /** The site's currency: USD on the international endpoint, CNY otherwise. */
  currency(): Currency {
    if (this.options.currency) return this.options.currency
    const url = this.options.endpoint ?? tencentEndpoint('cvm', this.env).url
    return new URL(url).hostname.includes('.intl.') ? 'USD' : 'CNY'
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
      async (region) => (await this.cvm(region)).describeZones(),
    )
  }

  private imageFor(region: string, requested: string | null): Promise<string> {
    const wanted = requested ?? this.options.image ?? (this.env.SKYHOP_TENCENTCLOUD_IMAGE?.trim() || DEFAULT_IMAGE_NAME)
    if (/^img-[a-z0-9]+$/.test(wanted)) return Promise.resolve(wanted)
    return this.images.get(`${region}\n${wanted}`, async () => {
      const id = await (await this.cvm(region)).findPublicImage(wanted)
      if (!id)
        throw new ProviderError(this.name, 'unavailable', `no public image named "${wanted}" in ${region}`, {
          scope: 'region',
          code: 'PROVIDER_IMAGE_NOT_FOUND',
          hint: 'Name an image id (img-…) in the job’s `image`, or set SKYHOP_TENCENTCLOUD_IMAGE.',
        })
      return id
    })
  }

  private zoneFor(region: string, zone: string | null): Promise<string> {
    if (zone) return Promise.resolve(zone)
    const zones = this.zones.get(region, async () =>
      (await (await this.cvm(region)).describeZones()).filter((z) => z.available).map((z) => z.zone),
    )
    return zones.then((zs) => {
      if (!zs[0]) throw new ProviderError(this.name, 'capacity', `no available zone in ${region}`, {scope: 'region'})
      return zs[0]
    })
  }

  /** The bid: the job's max price in the offer's currency, else the on-demand price. */
  private maxPrice(request: LaunchRequest): Money {
    const {offer, spec} = request
    if (spec.maxPrice && spec.maxPrice.currency === offer.price.currency) return spec.maxPrice
    // A max price in another currency was already applied by the planner through the
    // exchange rate; bidding up to on-demand keeps the instance from being outbid early.
    const cap = offer.price.onDemand ?? offer.price.spot
    if (cap === null)
      throw new ProviderError(this.name, 'unavailable', `${offer.instanceType} has neither an on-demand nor a spot price to bid with`, {
        scope: 'offer',
      })
    return {amount: cap, currency: offer.price.currency}
  }

  async launch(request: LaunchRequest): Promise<LaunchHandle> {
    const {offer, spec} = request
    if (offer.provider !== this.name)
      throw new ProviderError(this.name, 'user', `offer of ${offer.provider} given to the Tencent Cloud provider`)
    const nodes = nodeCount(request)
    const gang = gangObjectsFor(this.name, request, this.maxNodes)
    const region = offer.region
    const client = await this.cvm(region)
    const zone = await this.zoneFor(region, offer.zone)
    const imageId = await this.imageFor(region, spec.container ? null : spec.image)
    const metadataBase = (this.options.metadataBaseUrl ?? (this.env.SKYHOP_TENCENTCLOUD_METADATA_URL?.trim() || undefined))?.replace(
      '{attemptId}',
      rfc3986Encode(request.attemptId),
    )
    const runnerScript = await (this.options.runnerScript ?? readRunnerScript)()
    const data = bootUserData(
      {
        request,
        runnerScript,
        noticeSources: [metadataBase ? `tencentcloud=${metadataBase}` : 'tencentcloud'],
        // Stop requests arrive through TAT (signal()), not a probe.
        stopRequestProbe: null,
        consoleDevice: TENCENT_CONSOLE_FILE,
        pollIntervalSeconds: this.options.instancePollSeconds,
        flushSeconds: this.options.lingerSeconds ?? 600,
      },
      (d) => d.length <= CVM_USER_DATA_LIMIT,
    )
    if (!data.fits) {
      throw new ProviderError(
        this.name,
        'user',
        `the boot script is ${data.data.length} bytes even compressed; CVM takes at most ${CVM_USER_DATA_LIMIT}`,
        {
          code: 'PROVIDER_USER_DATA_TOO_LARGE',
          // Without a store the runner travels in the user data; with one the instance fetches it (bootUserData).
          hint: request.gang
            ? 'Keep run/setup short: fetch large scripts in setup, or bake them into the image.'
            : 'Set a checkpoint store (checkpoint.store in the job file, or checkpoint_store in the config): the instance then fetches the runner from it. A container job needs one here.',
        },
      )
    }
    const input: CvmRunInput = {
      imageId,
      instanceType: offer.instanceType,
      zone,
      clientToken: asciiClientToken(request.idempotencyKey),
      userData: data.data.toString('base64'),
      instanceName: `skyhop-${request.jobName}-${request.attempt}`,
      tags: [
        {key: TENCENT_TAGS.jobId, value: request.jobId},
        {key: TENCENT_TAGS.attemptId, value: request.attemptId},
        {key: TENCENT_TAGS.jobName, value: request.jobName.slice(0, 127)},
      ],
      spot: request.spot ? {maxPrice: this.maxPrice(request)} : null,
      systemDiskGiB: spec.resources.diskGB,
      vpc: this.options.network?.vpcs?.[region] ?? null,
      securityGroupIds: this.options.network?.securityGroupIds?.[region],
      terminateAt: spec.deadline ? new Date(spec.deadline).toISOString().replace(/\.\d{3}Z$/, 'Z') : null,
    }
    // A node that fetches its runner at boot (every gang's; one whose user data cannot carry it) finds it in the store first.
    if (data.runnerFromStore) await publishRunner(await this.dispatcher.get(), this.name, request.gang!, runnerScript)
    const group = gang
      ? await client.createPlacementGroup({
          name: `skyhop-${request.attemptId}`,
          type: 'HOST',
          clientToken: asciiClientToken(`${request.idempotencyKey}/placement`),
        })
      : null
    let ids: string[]
    try {
      ids = await client.runInstances({...input, count: nodes, placementGroupId: group})
    } catch (error) {
      if (group) await client.deletePlacementGroup(group).catch(() => false)
      throw error
    }
    const handleData = {
      attemptId: request.attemptId,
      jobId: request.jobId,
      imageId,
      spot: request.spot,
      instanceType: offer.instanceType,
      ...shipHandleData(request.ship),
    }
    if (!gang) return {provider: this.name, externalId: ids[0], region, zone, data: handleData}
    const release = () => this.releaseGang(client, ids, group)
    const ranked = await orRollBack(
      this.name,
      async () => {
        const ips = await this.gangUp(client, ids, nodes, zone)
        for (const [rank, id] of ids.entries()) await client.renameInstance(id, `skyhop-${request.jobName}-${request.attempt}-rank${rank}`)
        const ranks = rankNodes(ids.map((id) => ({id, ip: ips.get(id) ?? null})))
        await publishGang(await this.dispatcher.get(), this.name, gang, ranks)
        return ranks
      },
      release,
    )
    return {provider: this.name, externalId: ids[0], region, zone, data: {...handleData, nodes: ranked, placementGroupId: group}}
  }

  /**
   * Waits until every node of a gang runs with a private IP. A node that ended LAUNCH_FAILED
   * (or an id CVM never lists) means fewer were granted than asked: a capacity failure.
   */
  private async gangUp(client: CvmClient, ids: string[], asked: number, zone: string): Promise<Map<string, string>> {
    const sleep = this.options.sleep ?? abortableSleep
    const end = this.nowMs() + (this.options.gangLaunchWaitMs ?? 10 * 60_000)
    for (;;) {
      const found = await client.describeInstances({instanceIds: ids})
      const failed = found.filter((i) => i.state === 'LAUNCH_FAILED')
      if (failed.length > 0) throw shortfall(this.name, asked - failed.length, asked, zone, 'LAUNCH_FAILED')
      const up = found.filter((i) => i.state === 'RUNNING' && i.privateIp)
      if (up.length === asked) return new Map(up.map((i) => [i.instanceId, i.privateIp!]))
      if (this.nowMs() >= end) throw shortfall(this.name, up.length, asked, zone)
      await sleep(1000)
    }
  }

  /** Terminates a gang's instances, then deletes its placement group once they are gone (removeWhenEmpty). */
  private async releaseGang(client: CvmClient, ids: string[], group: string | null): Promise<void> {
    try {
      await client.terminateInstances(ids)
    } catch (error) {
      if (!(
        error instanceof ProviderError &&
        /^(InvalidInstanceId\.NotFound|UnsupportedOperation\.InstanceStateTerminat)/.test(error.backendCode ?? '')
      ))
        throw error
    }
    for (const id of ids) {
      this.status.delete(id)
      this.exitGrace.forget(id)
    }
    if (!group) return
    await removeWhenEmpty(() => client.deletePlacementGroup(group), {
      now: () => this.nowMs(),
      sleep: (ms) => (this.options.sleep ?? abortableSleep)(ms),
      waitMs: this.options.placementGroupWaitMs ?? 180_000,
    })
  }

  async poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>> {
    const out = new Map<string, PollResult>()
    for (const [region, handlesHere] of groupByRegion(handles)) {
      // Every node of a gang is polled as an instance of its own, then the gang aggregated.
      const group = handlesHere.flatMap((h) =>
        gangNodes(h).map((n) => ({...h, externalId: n.externalId, data: {...h.data, nodes: undefined}})),
      )
      const polled = new Map<string, PollResult>()
      await this.readPendingStatus(region, group)
      const found = new Map(
        (await (await this.cvm(region)).describeInstances({instanceIds: group.map((h) => h.externalId)})).map((i) => [i.instanceId, i]),
      )
      // Reads stay in lockstep per region: while any read of this region is still out (and
      // not stale), none is issued, so the next one covers every instance in one call.
      const now = this.nowMs()
      const readOut = group.some((h) => {
        const s = this.status.get(h.externalId)
        return s?.pending && now - s.issuedAt < STALE_STATUS_READ_MS
      })
      const due: string[] = []
      for (const h of group) {
        const instance = found.get(h.externalId)
        const result = this.pollOne(h, instance)
        polled.set(h.externalId, result)
        if (instance?.state === 'RUNNING' && !TERMINAL_ATTEMPT_STATES.has(result.state)) {
          const s = this.statusOf(h.externalId)
          if (!readOut && now - s.issuedAt >= (this.options.statusIntervalMs ?? 15_000)) due.push(h.externalId)
        }
      }
      await this.issueStatusReads(region, due)
      for (const h of handlesHere)
        out.set(
          h.externalId,
          pollOfHandle(h, (id) => polled.get(id)!),
        )
    }
    return out
  }

  private statusOf(id: string): StatusCache {
    let s = this.status.get(id)
    if (!s) {
      s = {report: null, issuedAt: 0, pending: null}
      this.status.set(id, s)
    }
    return s
  }

  /** Reads back the TAT status reads issued by earlier polls (one call per region). */
  private async readPendingStatus(region: string, handles: LaunchHandle[]): Promise<void> {
    const pending = handles.map((h) => this.status.get(h.externalId)?.pending).filter((p): p is string => !!p)
    if (pending.length === 0) return
    let tasks
    try {
      tasks = await (await this.tat(region)).describeInvocationTasks([...new Set(pending)])
    } catch (error) {
      if (error instanceof ProviderError && error.category === 'auth') throw error
      return
    }
    for (const t of tasks) {
      const s = this.status.get(t.instanceId)
      if (!s || s.pending !== t.invocationId || !TAT_FINISHED.has(t.status)) continue
      s.pending = null
      if (t.status === 'SUCCESS') s.report = parseConsole(t.output)
    }
  }

  /** One RunCommand for every running attempt in the region whose status read is due. */
  private async issueStatusReads(region: string, instanceIds: string[]): Promise<void> {
    for (let i = 0; i < instanceIds.length; i += 100) {
      const ids = instanceIds.slice(i, i + 100)
      try {
        const invocation = await (await this.tat(region)).runCommand(ids, statusReadScript(), 30)
        for (const id of ids) Object.assign(this.statusOf(id), {pending: invocation, issuedAt: this.nowMs()})
      } catch (error) {
        // The agent may not be online yet right after boot; the next poll tries again.
        if (error instanceof ProviderError && error.category === 'auth') throw error
        for (const id of ids) this.statusOf(id).issuedAt = this.nowMs()
      }
    }
  }

  private pollOne(h: LaunchHandle, instance: CvmInstance | undefined): PollResult {
    const report = this.status.get(h.externalId)?.report ?? null
    const startedAt = (report && eventTime(report, 'run-start')) ?? instance?.createdTime ?? null
    if (report?.ended) {
      this.exitGrace.forget(h.externalId)
      return {...finalState(report), startedAt, endedAt: eventTime(report, 'exit')}
    }
    if (!instance) {
      if (h.data.spot)
        return {
          state: 'PREEMPTED',
          exitCode: null,
          reason: 'instance gone (CVM terminates reclaimed spot instances)',
          startedAt,
          endedAt: null,
        }
      return {state: 'LOST', exitCode: null, reason: 'CVM no longer knows this instance', startedAt, endedAt: null}
    }
    const base = {exitCode: null, reason: null, startedAt, endedAt: null}
    switch (instance.state) {
      case 'PENDING':
      case 'STARTING':
        return {...base, state: 'PROVISIONING'}
      case 'LAUNCH_FAILED':
        return {
          ...base,
          state: 'LOST',
          reason: `launch failed (${instance.latestOperation ?? 'RunInstances'} ${instance.latestOperationState ?? 'FAILED'})`,
        }
      case 'RUNNING':
      case 'REBOOTING':
        return {...base, state: 'RUNNING'}
      default:
        break
    }
    // STOPPING, STOPPED, SHUTDOWN or TERMINATING without an exit line read back.
    if (h.data.spot && (instance.state === 'TERMINATING' || instance.state === 'SHUTDOWN')) {
      return {...base, state: 'PREEMPTED', reason: `spot instance ${instance.state.toLowerCase()} before its exit line was read`}
    }
    if (this.exitGrace.waiting(h.externalId, this.nowMs(), this.options.consoleGraceMs ?? 10 * 60_000)) {
      return {...base, state: 'RUNNING', reason: `instance ${instance.state}; its exit line was not read before it stopped`}
    }
    const state: AttemptState = h.data.spot ? 'PREEMPTED' : 'LOST'
    return {...base, state, reason: `instance ${instance.state} without an exit code read through TAT`}
  }

  /** Runs a read through TAT and waits for its output (logs only; poll() never waits). */
  private async runAndWait(region: string, instanceId: string, script: string, signal?: AbortSignal): Promise<string | null> {
    const tat = await this.tat(region)
    const invocation = await tat.runCommand([instanceId], script, 30)
    const sleep = this.options.sleep ?? abortableSleep
    const end = this.nowMs() + 60_000
    for (let step = 200; this.nowMs() < end && !signal?.aborted; step = Math.min(2000, step * 2)) {
      await sleep(step, signal)
      const [task] = (await tat.describeInvocationTasks([invocation])).filter((t) => t.instanceId === instanceId)
      if (task && TAT_FINISHED.has(task.status)) return task.status === 'SUCCESS' ? task.output : null
    }
    return null
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
    const client = await this.cvm(region)
    const sleep = this.options.sleep ?? abortableSleep
    let last = 0
    for (;;) {
      const [instance] = await client.describeInstances({instanceIds: [instanceId]})
      if (!instance || instance.state !== 'RUNNING') return
      let ended = false
      // Each read returns at most ~20 KB; keep reading while it brings lines.
      for (;;) {
        const output = await this.runAndWait(region, instanceId, logReadScript(last), options.signal)
        if (output === null) break
        const report = parseConsole(output)
        ended = report.ended
        const fresh = linesAfter(report, last, (n) => `[skyhop: ${n} line(s) missing from the console file]`)
        yield* fresh.lines
        const broughtLines = fresh.last > last
        last = fresh.last
        if (!broughtLines || options.signal?.aborted) break
      }
      if (!options.follow || ended || options.signal?.aborted) return
      await sleep(this.options.consolePollMs ?? 5000, options.signal)
      if (options.signal?.aborted) return
    }
  }

  async signal(handle: LaunchHandle, kind: 'cancel' | 'preempt', graceSeconds: number): Promise<void> {
    const attemptId = typeof handle.data.attemptId === 'string' ? handle.data.attemptId : null
    if (!attemptId) throw new ProviderError(this.name, 'user', `handle ${handle.externalId} carries no attempt id`)
    try {
      await (
        await this.tat(handle.region)
      ).runCommand(
        gangNodes(handle).map((n) => n.externalId),
        stopRequestScript(attemptId, kind, graceSeconds),
      )
    } catch (error) {
      // Already gone or stopped: nothing left to stop.
      if (
        error instanceof ProviderError &&
        /^(InvalidInstanceId|InvalidParameterValue\.InstanceIsNotRelatedToRegion|UnsupportedOperation\.InstanceStateNotRunning)/.test(
          error.backendCode ?? '',
        )
      )
        return
      throw error
    }
  }

  async cleanup(handle: LaunchHandle): Promise<void> {
    const client = await this.cvm(handle.region)
    const group = typeof handle.data.placementGroupId === 'string' ? handle.data.placementGroupId : null
    await this.releaseGang(
      client,
      gangNodes(handle).map((n) => n.externalId),
      group,
    )
  }

  /** Instances tagged by skyhop (only one attempt's with `attemptId`), in the provider's regions and `regions`. */
  async listOwned(query: {regions?: string[]; attemptId?: string} = {}): Promise<LaunchHandle[]> {
    const out: LaunchHandle[] = []
    for (const region of regionsToScan(this.regions(), query)) {
      const filter = query.attemptId
        ? {name: `tag:${TENCENT_TAGS.attemptId}`, values: [query.attemptId]}
        : {name: 'tag-key', values: [TENCENT_TAGS.attemptId]}
      const instances = (await (await this.cvm(region)).describeInstances({filters: [filter]})).filter((i) => i.state !== 'TERMINATING')
      // A gang's instances are one attempt: one handle, the head's, with every node in rank order.
      const byAttempt = new Map<string, CvmInstance[]>()
      for (const i of instances) {
        const key = i.tags[TENCENT_TAGS.attemptId]
        byAttempt.set(key, [...(byAttempt.get(key) ?? []), i])
      }
      const rankOf = (i: CvmInstance) => Number(RANK_SUFFIX.exec(i.name ?? '')?.[1] ?? 0)
      for (const members of byAttempt.values()) {
        const ranked = [...members].sort((a, b) => rankOf(a) - rankOf(b))
        const head = ranked[0]
        const gang = ranked.length > 1 || RANK_SUFFIX.test(head.name ?? '')
        out.push({
          provider: this.name,
          externalId: head.instanceId,
          region,
          zone: head.zone,
          data: {
            attemptId: head.tags[TENCENT_TAGS.attemptId],
            jobId: head.tags[TENCENT_TAGS.jobId] ?? null,
            instanceType: head.instanceType,
            spot: head.chargeType === 'SPOTPAID',
            ...(gang
              ? {
                  nodes: ranked.map((m) => ({rank: rankOf(m), externalId: m.instanceId, ip: m.privateIp})),
                  placementGroupId: head.placementGroupId,
                }
              : {}),
          },
        })
      }
    }
    return out
  }

  /** The hourly price of an instance type in a zone (InquiryPriceRunInstances), on-demand or spot, for `catalog refresh`. */
  async price(region: string, zone: string, instanceType: string, market: 'on-demand' | 'spot' = 'on-demand'): Promise<Money> {
    const client = await this.cvm(region)
    const imageId = await this.imageFor(region, null)
    const currency = this.currency()
    const spot = market === 'spot' ? {maxPrice: {amount: 1000, currency}} : null
    return client.inquiryPrice({imageId, instanceType, zone, spot}, currency)
  }

  async close(): Promise<void> {
    await this.dispatcher.close()
  }
}
