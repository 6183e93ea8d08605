// Google Compute Engine behind skyhop's Provider interface.
//
// Launch: one instances.insert per attempt, with `requestId` derived from the attempt's
// idempotency key and the zone (a retried insert is answered with its first operation, and
// the instance name is derived from the attempt too, so a retry after the requestId's hour
// finds the instance by name: `alreadyExists` adopts it). Labels skyhop-job-id /
// skyhop-attempt-id / skyhop-job-name carry ownership (the orphan sweep filters by them;
// label values are lower-case, so the exact attempt id also goes in a metadata item). Spot
// through `scheduling.provisioningModel: SPOT` with `instanceTerminationAction: DELETE`;
// GPUs are built into A2/A3/A4/G2 machine types, and attached to N1 types as
// guestAccelerators (nvidia-tesla-t4, …); any GPU VM has onHostMaintenance TERMINATE. The
// shared boot script (vm/boot-script.ts) is the `startup-script` metadata item, which the
// guest agent of Google's images runs as root at boot.
//
// An offer with a zone launches there; one with only a region (the bundled catalog's GCP
// offers) tries the region's zones in order (zones.list, UP), each capacity failure moving
// to the next, and fails the region (capacity, scope region) once every zone has refused,
// so the controller fails over to the next region.
//
// Status and logs channel (docs/providers/gcp.md): the boot script mirrors the runner's
// events and the job's output to serial port 1, which instances.getSerialPortOutput reads
// back; nothing inbound is opened. An instance that powered itself off is TERMINATED with
// its serial output still readable. A spot VM taken back is deleted by Compute Engine
// (DELETE): its `compute.instances.preempted` zone operation says so when the instance is
// gone before its exit line was read.
// Cancel and preempt: signal() sets the metadata item skyhop-stop-request=`<kind> <grace>`,
// which the boot script reads from the metadata server. Spot notices reach the runner
// through the metadata server's instance/preempted, read with wait_for_change (30 s notice).
import {shipHandleData, shippedSamples, withShippedLog} from '../vm/shipped.js'
import {ProviderError} from '../../errors.js'
import {clientOptionsFor} from '../../clouds/common/api-client.js'
import {CredentialCache, type LoadedCredentials} from '../../clouds/common/credentials.js'
import {sha256Hex} from '../../clouds/common/signing-util.js'
import {ComputeClient, regionOfZone, requestIdFor, type GcpInstance} from '../../clouds/gcp/compute-client.js'
import {loadGcpCredentials, type GcpCredentialOptions, type GcpCredentials} from '../../clouds/gcp/credentials.js'
import {AdapterDispatcher} from '../../http/dispatcher.js'
import {abortableSleep} from '../../util/sleep.js'
import type {AttemptState, GangNode, LaunchHandle, PollResult} from '../../model/attempt.js'
import type {Offer} from '../../model/catalog.js'
import {PromiseCache} from '../../util/promise-cache.js'
import {rfc3986Encode} from '../../clouds/common/signing-util.js'
import type {CheckResult, LaunchRequest, LogOptions, OwnedQuery, Provider} from '../provider.js'
import {bootScript, readRunnerScript} from '../vm/boot-script.js'
import {checkByListingZones} from '../vm/check.js'
import {eventTime, ExitLineGrace, finalState, linesAfter, parseConsole} from '../vm/console-channel.js'
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
  shortfall,
} from '../vm/gang.js'
import type {VmAdapterOptions} from '../vm/adapter-options.js'
import {configuredRegions} from '../vm/regions.js'

export const GCP_LABELS = {
  jobId: 'skyhop-job-id',
  attemptId: 'skyhop-attempt-id',
  jobName: 'skyhop-job-name',
} as const

/** Metadata items: the exact attempt id (labels are lower-cased), the stop request, the boot script. */
export const GCP_METADATA = {
  attemptId: 'skyhop-attempt-id',
  jobId: 'skyhop-job-id',
  stopRequest: 'skyhop-stop-request',
  startupScript: 'startup-script',
} as const

/** The most nodes one gang may have: one instances.bulkInsert. */
export const GCP_MAX_NODES = 64

/** A gang's instances carry their count, so listOwned knows a gang of one from a single VM. */
export const GCP_NODES_LABEL = 'skyhop-nodes'

/** Compute Engine's limit on one metadata value. */
export const GCP_METADATA_VALUE_LIMIT = 256 * 1024

/** N1 GPUs by skyhop's accelerator name; A2/A3/A4/G2 types carry theirs. */
const N1_ACCELERATORS: Record<string, string> = {
  T4: 'nvidia-tesla-t4',
  'V100-16GB': 'nvidia-tesla-v100',
  V100: 'nvidia-tesla-v100',
  'P100-16GB': 'nvidia-tesla-p100',
  P100: 'nvidia-tesla-p100',
  P4: 'nvidia-tesla-p4',
}

/** Accelerator-optimised families whose GPUs come with the machine type. */
const GPU_FAMILIES = /^(a2|a3|a4|g2)-/

export interface GcpProviderOptions extends VmAdapterOptions {
  /** Regions check() probes (the first). Default SKYHOP_GCP_REGIONS, else CLOUDSDK_COMPUTE_REGION, else us-central1. */
  regions?: string[]
  credentials?: Partial<GcpCredentialOptions> | (() => Promise<LoadedCredentials<GcpCredentials>>)
  /** Network of the instances: default `global/networks/default` with an ephemeral external IP (for the store's URLs). */
  network?: {network?: string; subnetworks?: Record<string, string>; externalIp?: boolean; serviceAccount?: string}
  /** Source image for every launch. Default: Google's Deep Learning VM image for GPUs, Debian 12 otherwise (SKYHOP_GCP_IMAGE). */
  image?: string
  /** Interval of operation polls. Default 1 s. */
  operationPollMs?: number
}

/** The instance name of an attempt: a valid RFC 1035 name, the same for the same attempt. */
export function instanceNameFor(attemptId: string): string {
  const clean = attemptId.toLowerCase().replace(/[^a-z0-9-]/g, '-')
  if (clean === attemptId && `skyhop-${clean}`.length <= 63 && /[a-z0-9]$/.test(clean)) return `skyhop-${clean}`
  return `skyhop-${clean.slice(0, 40).replace(/-+$/, '')}-${sha256Hex(attemptId).slice(0, 10)}`
}

/** A label value: lower-case letters, digits, `_` and `-`, at most 63 characters. */
export function labelValue(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '_')
    .slice(0, 63)
}

/** The base of a gang's instance names (`BASE-1` … `BASE-N`), short enough for the suffix. */
export function gangNameFor(attemptId: string): string {
  const name = instanceNameFor(attemptId)
  return name.length <= 59 ? name : `skyhop-g${sha256Hex(attemptId).slice(0, 20)}`
}

/**
 * The bash a gang node runs to learn its own instance name, its id in the gang's rank list:
 * Google's images run the startup script without cloud-init, so the metadata server says.
 */
export function gcpInstanceIdCommand(metadataBase: string): string {
  return `curl -sf -m 5 -H 'Metadata-Flavor: Google' '${metadataBase.replace(/\/$/, '')}/computeMetadata/v1/instance/name'`
}

/** The bash the boot script runs to read a stop request from the instance's metadata. */
export function gcpStopProbe(metadataBase: string): string {
  const base = metadataBase.replace(/\/$/, '')
  return `curl -sf -m 2 -H 'Metadata-Flavor: Google' '${base}/computeMetadata/v1/instance/attributes/${GCP_METADATA.stopRequest}' || true`
}

const ENDED: ReadonlySet<string> = new Set(['STOPPING', 'STOPPED', 'TERMINATED', 'SUSPENDING', 'SUSPENDED'])

export class GcpProvider implements Provider {
  readonly name = 'gcp'
  readonly attemptStorage = 'per-instance' as const
  // Its runner ships output.log and samples to the job's store (vm/shipped.ts).
  readonly shipsAttemptFiles = true
  readonly maxNodes = GCP_MAX_NODES
  private readonly env: Record<string, string | undefined>
  private readonly credentialCache: CredentialCache<GcpCredentials>
  private readonly dispatcher: AdapterDispatcher
  private readonly clients = new PromiseCache<ComputeClient>()
  private readonly exitGrace = new ExitLineGrace()

  constructor(private readonly options: GcpProviderOptions = {}) {
    this.env = options.env ?? process.env
    this.dispatcher = new AdapterDispatcher(options.dispatcher)
    const creds = options.credentials
    const load =
      typeof creds === 'function'
        ? creds
        : async () =>
            loadGcpCredentials({
              env: this.env,
              ...creds,
              dispatcher: creds?.dispatcher ?? (await this.dispatcher.get()),
              now: options.now,
            })
    this.credentialCache = new CredentialCache(load, {now: options.now ? () => options.now!().getTime() : undefined})
  }

  private client(region: string): Promise<ComputeClient> {
    return this.clients.get(
      region,
      async () =>
        new ComputeClient({
          ...clientOptionsFor(region, this.credentialCache, await this.dispatcher.get(), this.env, this.options),
          sleep: this.options.sleep,
          operationPollMs: this.options.operationPollMs,
        }),
    )
  }

  private regions(): string[] {
    return configuredRegions(this.options.regions, this.env.SKYHOP_GCP_REGIONS, this.env.CLOUDSDK_COMPUTE_REGION?.trim() || 'us-central1')
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
      async (region) => (await this.client(region)).listZones(region),
    )
  }

  /** The image an offer boots: the job's `image:` when it is a GCE image path, else Google's own. */
  private sourceImage(offer: Offer, request: LaunchRequest): string {
    const image = request.spec.container ? null : request.spec.image
    if (image && /^(projects\/|global\/images\/|https:\/\/)/.test(image)) return image
    if (image) {
      throw new ProviderError(this.name, 'user', `image ${JSON.stringify(image)} is not a Compute Engine image path`, {
        code: 'PROVIDER_IMAGE_INVALID',
        hint: 'give `projects/PROJECT/global/images/NAME` or `…/images/family/FAMILY`',
      })
    }
    const configured = this.options.image ?? this.env.SKYHOP_GCP_IMAGE?.trim()
    if (configured) return configured
    return offer.accelerator
      ? 'projects/deeplearning-platform-release/global/images/family/common-cu123-debian-11-py310'
      : 'projects/debian-cloud/global/images/family/debian-12'
  }

  /** The instance resource for one zone (instances.insert's body). */
  instanceBody(request: LaunchRequest, zone: string, name: string, script: string): Record<string, unknown> {
    const {offer, spec} = request
    const gpu = offer.accelerator !== null && !/^tpu/i.test(offer.accelerator.name)
    const accelerators: Array<Record<string, unknown>> = []
    if (gpu && !GPU_FAMILIES.test(offer.instanceType)) {
      const type = N1_ACCELERATORS[offer.accelerator!.name]
      if (!type) {
        throw new ProviderError(
          this.name,
          'unavailable',
          `no Compute Engine accelerator type known for ${offer.accelerator!.name} on ${offer.instanceType}`,
          {
            code: 'PROVIDER_OFFER_UNSUPPORTED',
            scope: 'offer',
          },
        )
      }
      accelerators.push({acceleratorType: `zones/${zone}/acceleratorTypes/${type}`, acceleratorCount: offer.accelerator!.count})
    }
    const net = this.options.network ?? {}
    const region = regionOfZone(zone)
    return {
      name,
      machineType: `zones/${zone}/machineTypes/${offer.instanceType}`,
      labels: {
        [GCP_LABELS.jobId]: labelValue(request.jobId),
        [GCP_LABELS.attemptId]: labelValue(request.attemptId),
        [GCP_LABELS.jobName]: labelValue(request.jobName),
      },
      metadata: {
        items: [
          {key: GCP_METADATA.startupScript, value: script},
          {key: GCP_METADATA.attemptId, value: request.attemptId},
          {key: GCP_METADATA.jobId, value: request.jobId},
        ],
      },
      disks: [
        {
          boot: true,
          autoDelete: true,
          initializeParams: {
            sourceImage: this.sourceImage(offer, request),
            ...(spec.resources.diskGB ? {diskSizeGb: String(Math.ceil(spec.resources.diskGB))} : {}),
          },
        },
      ],
      networkInterfaces: [
        {
          network: net.network ?? 'global/networks/default',
          ...(net.subnetworks?.[region] ? {subnetwork: net.subnetworks[region]} : {}),
          ...(net.externalIp === false ? {} : {accessConfigs: [{type: 'ONE_TO_ONE_NAT', name: 'External NAT'}]}),
        },
      ],
      ...(accelerators.length ? {guestAccelerators: accelerators} : {}),
      ...(net.serviceAccount
        ? {serviceAccounts: [{email: net.serviceAccount, scopes: ['https://www.googleapis.com/auth/cloud-platform']}]}
        : {}),
      scheduling: request.spot
        ? {provisioningModel: 'SPOT', instanceTerminationAction: 'DELETE', onHostMaintenance: 'TERMINATE', automaticRestart: false}
        : {provisioningModel: 'STANDARD', onHostMaintenance: gpu ? 'TERMINATE' : 'MIGRATE', automaticRestart: !gpu},
    }
  }

  async launch(request: LaunchRequest): Promise<LaunchHandle> {
    const {offer} = request
    if (offer.provider !== this.name) throw new ProviderError(this.name, 'user', `offer of ${offer.provider} given to the GCP provider`)
    if (/^tpu-/.test(offer.instanceType)) {
      throw new ProviderError(
        this.name,
        'unavailable',
        `${offer.instanceType} is a Cloud TPU, not a Compute Engine VM; skyhop launches VMs only`,
        {
          code: 'PROVIDER_OFFER_UNSUPPORTED',
          scope: 'offer',
        },
      )
    }
    const gang = gangObjectsFor(this.name, request, this.maxNodes)
    const region = offer.region
    const client = await this.client(region)
    const metadataBase = (this.options.metadataBaseUrl ?? this.env.SKYHOP_GCP_METADATA_URL?.trim())?.replace(
      '{attemptId}',
      rfc3986Encode(request.attemptId),
    )
    const runnerScript = await (this.options.runnerScript ?? readRunnerScript)()
    const script = bootScript({
      request,
      runnerScript,
      noticeSources: [metadataBase ? `gcp=${metadataBase}` : 'gcp'],
      stopRequestProbe: gcpStopProbe(metadataBase ?? 'http://metadata.google.internal'),
      pollIntervalSeconds: this.options.instancePollSeconds,
      ...(gang ? {instanceIdCommand: gcpInstanceIdCommand(metadataBase ?? 'http://metadata.google.internal')} : {}),
    })
    if (script.length > GCP_METADATA_VALUE_LIMIT) {
      throw new ProviderError(
        this.name,
        'user',
        `the boot script is ${script.length} bytes; a Compute Engine metadata value holds at most ${GCP_METADATA_VALUE_LIMIT}`,
        {
          code: 'PROVIDER_USER_DATA_TOO_LARGE',
          hint: 'Keep run/setup short: fetch large scripts in setup, or bake them into the image.',
        },
      )
    }
    // A gang's nodes fetch the runner at boot: it is in the store before they look.
    if (gang) await publishRunner(await this.dispatcher.get(), this.name, gang, runnerScript)
    const name = gang ? gangNameFor(request.attemptId) : instanceNameFor(request.attemptId)
    const zones = offer.zone ? [offer.zone] : await client.listZones(region)
    if (zones.length === 0) {
      throw new ProviderError(this.name, 'unavailable', `region ${region} has no zone that is UP`, {
        code: 'PROVIDER_NO_ZONE',
        scope: 'region',
      })
    }
    let last: ProviderError | null = null
    for (const zone of zones) {
      try {
        if (gang) return await this.insertGang(client, request, zone, name, script)
        const instance = await this.insert(client, request, zone, name, script)
        return {
          provider: this.name,
          externalId: instance.name,
          region,
          zone,
          data: {
            attemptId: request.attemptId,
            jobId: request.jobId,
            ...shipHandleData(request.ship),
            spot: request.spot,
            instanceType: offer.instanceType,
            instanceId: instance.id,
          },
        }
      } catch (error) {
        // The zone has no room (or lacks the type): the next zone of the region may.
        if (!(error instanceof ProviderError) || error.category !== 'capacity' || error.scope !== 'zone' || offer.zone) throw error
        last = error
      }
    }
    throw new ProviderError(
      this.name,
      'capacity',
      `no zone of ${region} could take ${offer.instanceType}: ${last!.message.replace(/^gcp: /, '')}`,
      {
        scope: 'region',
        backendCode: last!.backendCode,
        cause: last,
      },
    )
  }

  /**
   * A gang: one instances.bulkInsert of N instances (`minCount = count`: all or nothing),
   * named BASE-1 … BASE-N in rank order; then every node's private IP, and the rank list and
   * peer list to the job's store. A step failing after the instances exist deletes them all.
   */
  private async insertGang(
    client: ComputeClient,
    request: LaunchRequest,
    zone: string,
    base: string,
    script: string,
  ): Promise<LaunchHandle> {
    const {offer} = request
    const nodes = nodeCount(request)
    const {name: _single, ...properties} = this.instanceBody(request, zone, base, script)
    // A bulk template names its machine type and accelerators without the zone.
    properties.machineType = offer.instanceType
    if (Array.isArray(properties.guestAccelerators))
      properties.guestAccelerators = (properties.guestAccelerators as Array<{acceleratorType: string; acceleratorCount: number}>).map(
        (a) => ({
          ...a,
          acceleratorType: a.acceleratorType.split('/').pop(),
        }),
      )
    properties.labels = {...(properties.labels as Record<string, string>), [GCP_NODES_LABEL]: String(nodes)}
    try {
      const op = await client.bulkInsert(
        zone,
        {count: nodes, minCount: nodes, namePattern: `${base}-#`, instanceProperties: properties},
        requestIdFor(`${request.idempotencyKey}/${zone}/gang`),
        offer.instanceType,
      )
      await client.waitOperation(op, {instanceType: offer.instanceType})
    } catch (error) {
      // The gang exists already (a retry after the requestId's hour): it is checked below.
      if (!(error instanceof ProviderError && error.backendCode === 'alreadyExists')) throw error
    }
    const names = Array.from({length: nodes}, (_, rank) => `${base}-${rank + 1}`)
    return orRollBack(
      this.name,
      async () => {
        const found = await Promise.all(names.map((n) => client.getInstance(zone, n)))
        const ours = found.filter((i): i is GcpInstance => i !== null && i.metadata[GCP_METADATA.attemptId] === request.attemptId)
        if (ours.length < nodes) throw shortfall(this.name, ours.length, nodes, zone)
        const ranked = rankNodes(ours.map((i) => ({id: i.name, ip: i.privateIp})))
        await publishGang(await this.dispatcher.get(), this.name, request.gang!, ranked)
        return {
          provider: this.name,
          externalId: ranked[0].externalId,
          region: offer.region,
          zone,
          data: {
            attemptId: request.attemptId,
            jobId: request.jobId,
            spot: request.spot,
            instanceType: offer.instanceType,
            ...shipHandleData(request.ship),
            nodes: ranked,
            nodeIds: Object.fromEntries(ours.map((i) => [i.name, i.id])),
          },
        }
      },
      async () => {
        await Promise.all(names.map((n) => client.deleteInstance(zone, n)))
      },
    )
  }

  /**
   * Inserts and waits for the operation. An instance of this name that exists already (a
   * retry after the requestId's hour) is adopted when it is this attempt's.
   */
  private async insert(client: ComputeClient, request: LaunchRequest, zone: string, name: string, script: string): Promise<GcpInstance> {
    const body = this.instanceBody(request, zone, name, script)
    // Compute Engine answers a requestId with its first operation for an hour, a failed one
    // included: after an operation that failed for a passing reason (backendError), the
    // same requestId would only replay that failure. The next try takes a requestId of its
    // own; the instance name still keeps it from making a second instance.
    for (let round = 0; ; round++) {
      let op
      try {
        op = await client.insertInstance(zone, body, requestIdFor(`${request.idempotencyKey}/${zone}${round ? `/${round}` : ''}`))
      } catch (error) {
        if (error instanceof ProviderError && error.backendCode === 'alreadyExists') break
        throw error
      }
      try {
        await client.waitOperation(op, {instanceType: request.offer.instanceType})
        break
      } catch (error) {
        if (!(error instanceof ProviderError && error.category === 'transient') || round >= 2) throw error
      }
    }
    const instance = await client.getInstance(zone, name)
    if (!instance) {
      throw new ProviderError(this.name, 'transient', `instance ${name} in ${zone} is not there after its insert succeeded`, {
        code: 'PROVIDER_HTTP',
      })
    }
    if (instance.metadata[GCP_METADATA.attemptId] !== request.attemptId) {
      throw new ProviderError(this.name, 'unavailable', `instance ${name} in ${zone} exists and is not attempt ${request.attemptId}'s`, {
        code: 'PROVIDER_NAME_TAKEN',
        scope: 'offer',
      })
    }
    return instance
  }

  async poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>> {
    const out = new Map<string, PollResult>()
    for (const h of handles) {
      const client = await this.client(h.region)
      const zone = h.zone ?? ''
      const ids = (h.data.nodeIds ?? {}) as Record<string, string>
      const polled = new Map<string, PollResult>()
      for (const node of gangNodes(h)) {
        const name = node.externalId
        const instance = await client.getInstance(zone, name)
        const id = ids[name] ?? (typeof h.data.instanceId === 'string' ? h.data.instanceId : null)
        polled.set(name, instance ? await this.pollOne(client, instance) : await this.gone(client, zone, name, id))
      }
      out.set(
        h.externalId,
        pollOfHandle(h, (name) => polled.get(name)!),
      )
    }
    return out
  }

  /** An instance Compute Engine no longer knows: deleted after a spot preemption (its zone operation says), or by someone. */
  private async gone(client: ComputeClient, zone: string, name: string, id: string | null): Promise<PollResult> {
    const preempted = id
      ? (await client.listOperations(zone, `(operationType = "compute.instances.preempted") AND (targetId = "${id}")`)).find(
          (op) => op.targetId === id,
        )
      : undefined
    this.exitGrace.forget(name)
    if (preempted) {
      return {
        state: 'PREEMPTED',
        exitCode: null,
        reason: 'spot VM preempted by Compute Engine (deleted)',
        startedAt: null,
        endedAt: preempted.insertTime,
      }
    }
    return {state: 'LOST', exitCode: null, reason: 'Compute Engine no longer knows this instance', startedAt: null, endedAt: null}
  }

  private async pollOne(client: ComputeClient, instance: GcpInstance): Promise<PollResult> {
    const startedAt = instance.lastStartTimestamp ?? instance.creationTimestamp
    const base = {exitCode: null, reason: instance.statusMessage, startedAt, endedAt: null}
    if (instance.status === 'PROVISIONING' || instance.status === 'STAGING') return {...base, state: 'PROVISIONING'}
    if (!ENDED.has(instance.status)) return {...base, state: 'RUNNING'}
    const report = parseConsole((await client.serialPortOutput(instance.zone, instance.name)) ?? '')
    const ranAt = eventTime(report, 'run-start') ?? startedAt
    const endedAt = eventTime(report, 'exit')
    if (report.ended) {
      this.exitGrace.forget(instance.name)
      return {...finalState(report), startedAt: ranAt, endedAt}
    }
    if (this.exitGrace.waiting(instance.name, this.now().getTime(), this.options.consoleGraceMs ?? 10 * 60_000)) {
      return {
        state: 'RUNNING',
        exitCode: null,
        reason: `instance ${instance.status}; waiting for its serial output`,
        startedAt: ranAt,
        endedAt: null,
      }
    }
    const state: AttemptState = instance.metadata[GCP_METADATA.stopRequest]?.startsWith('cancel') ? 'CANCELLED' : 'LOST'
    return {
      state,
      exitCode: null,
      reason: `instance ${instance.status} without an exit code on its serial console`,
      startedAt: ranAt,
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
    return mergedLogs(
      logNodes(handle, options.node).map((n) => ({rank: n.rank, lines: this.instanceLogs(handle, n.externalId, options)})),
      options.node === 'all',
    )
  }

  private async *instanceLogs(handle: LaunchHandle, name: string, options: LogOptions): AsyncIterable<string> {
    const client = await this.client(handle.region)
    const zone = handle.zone ?? ''
    const sleep = this.options.sleep ?? abortableSleep
    let last = 0
    for (;;) {
      const text = await client.serialPortOutput(zone, name)
      const report = parseConsole(text ?? '')
      const fresh = linesAfter(report, last, (n) => `[skyhop: ${n} line(s) fell out of the serial port output Compute Engine keeps]`)
      yield* fresh.lines
      last = fresh.last
      if (!options.follow || report.ended || text === null || options.signal?.aborted) return
      await sleep(this.options.consolePollMs ?? 5000, options.signal)
      if (options.signal?.aborted) return
    }
  }

  async signal(handle: LaunchHandle, kind: 'cancel' | 'preempt', graceSeconds: number): Promise<void> {
    const client = await this.client(handle.region)
    for (const node of gangNodes(handle))
      await client.setMetadataItem(
        handle.zone ?? '',
        node.externalId,
        GCP_METADATA.stopRequest,
        `${kind} ${Math.max(0, Math.round(graceSeconds))}`,
      )
  }

  async cleanup(handle: LaunchHandle): Promise<void> {
    const client = await this.client(handle.region)
    for (const node of gangNodes(handle)) {
      await client.deleteInstance(handle.zone ?? '', node.externalId)
      this.exitGrace.forget(node.externalId)
    }
  }

  async listOwned(query: OwnedQuery = {}): Promise<LaunchHandle[]> {
    // One aggregated list covers every zone of every region: the labels are the project's own.
    const client = await this.client(this.regions()[0])
    const filter = query.attemptId
      ? `labels.${GCP_LABELS.attemptId} = "${labelValue(query.attemptId)}"`
      : `labels.${GCP_LABELS.attemptId}:*`
    const instances = (await client.aggregatedInstances(filter)).filter(
      (i) => !query.attemptId || i.metadata[GCP_METADATA.attemptId] === query.attemptId,
    )
    // A gang's instances are one attempt: one handle, the head's, every node in rank order
    // (BASE-1 … BASE-N).
    const byAttempt = new Map<string, GcpInstance[]>()
    for (const i of instances) {
      const key = i.metadata[GCP_METADATA.attemptId] ?? i.labels[GCP_LABELS.attemptId]
      byAttempt.set(key, [...(byAttempt.get(key) ?? []), i])
    }
    const rankOf = (i: GcpInstance) => Number(/-(\d+)$/.exec(i.name)?.[1] ?? 1) - 1
    return [...byAttempt.entries()].map(([attemptId, members]) => {
      const ranked = [...members].sort((a, b) => rankOf(a) - rankOf(b))
      const head = ranked[0]
      const gang = head.labels[GCP_NODES_LABEL] !== undefined
      return {
        provider: this.name,
        externalId: head.name,
        region: regionOfZone(head.zone),
        zone: head.zone,
        data: {
          attemptId,
          jobId: head.metadata[GCP_METADATA.jobId] ?? head.labels[GCP_LABELS.jobId] ?? null,
          instanceType: head.machineType,
          instanceId: head.id,
          spot: head.provisioningModel === 'SPOT',
          // STOPPING may be a power-off that leaves a billed disk behind: only gone is released.
          releasing: false,
          ...(gang
            ? {
                nodes: ranked.map((m): GangNode => ({rank: rankOf(m), externalId: m.name, ip: m.privateIp})),
                nodeIds: Object.fromEntries(ranked.map((m) => [m.name, m.id])),
              }
            : {}),
        },
      }
    })
  }

  /** Closes the dispatcher this provider created (not an injected one). */
  async close(): Promise<void> {
    await this.dispatcher.close()
  }
}
