// Azure virtual machines behind skyhop's Provider interface, through ARM REST.
//
// Launch: every attempt gets a resource group of its own, `skyhop-<attempt id>`, tagged
// with the job and attempt ids, holding its virtual network, the VM, and what the VM makes
// for itself (its NIC, public IP and OS disk, all `deleteOption: Delete`). Clean-up is
// deleting the group: one call releases everything, and nothing is left behind if a launch
// died half way. (A group per attempt rather than per job: a job's replacement attempt
// may run, held, while the attempt it replaces is released.) Names come from the attempt id,
// and ARM's PUT is create-or-update, so a retried launch meets the same group and VM; a VM
// that already exists with the attempt's tag is adopted without a second PUT. Spot through
// `priority: Spot`, `evictionPolicy: Delete` and `billingProfile.maxPrice` (the job's
// max_price in USD, else -1: up to the on-demand price). The boot script is the VM's
// customData, which cloud-init runs at first boot.
//
// Status and logs channel (docs/providers/azure.md): the boot script mirrors the runner's
// events and the job's output to the serial console, which managed boot diagnostics keep in
// a blob that retrieveBootDiagnosticsData hands out by SAS URL. Cancel and preempt: the
// VM tag skyhop-stop-request, which the boot script reads from IMDS (compute/tagsList).
// Spot evictions reach the runner through Scheduled Events (`Preempt`, at least 30 s).
//
// Gangs (nodes > 1, vm/gang.ts): the attempt's group holds N VMs, `<vm name>-<rank>`, each
// with its own NIC on the group's one subnet (so the nodes reach each other by private IP)
// and, when the offer's fabric is InfiniBand or the like, all in one proximity placement
// group (and, on demand, one availability set: one InfiniBand network). ARM creates VMs
// one PUT each: the N PUTs go out together, and the launch succeeds only when every
// creation does. Each VM's customData names the VM, which finds its rank in
// the gang's rank list; the runner comes from the job's store; once every NIC has its
// private IP the rank list and peer list go there too. Any step failing deletes the group,
// with every VM made so far. A Preempt scheduled event on one node reaches the others
// through the gang's notice object. The handle is the head's (rank 0), with data.nodes.
import {shipHandleData, shippedSamples, withShippedLog} from '../vm/shipped.js'
import {generateKeyPairSync} from 'node:crypto'

import {ProviderError} from '../../errors.js'
import {clientOptionsFor} from '../../clouds/common/api-client.js'
import {CredentialCache, type LoadedCredentials} from '../../clouds/common/credentials.js'
import {rfc3986Encode, sha256Hex} from '../../clouds/common/signing-util.js'
import {ArmClient, type AzureVm, type ResourceGroup} from '../../clouds/azure/arm-client.js'
import {loadAzureCredentials, type AzureCredentials} from '../../clouds/azure/credentials.js'
import {AdapterDispatcher} from '../../http/dispatcher.js'
import {shellQuote} from '../../runner/contract.js'
import {abortableSleep} from '../../util/sleep.js'
import type {AttemptState, GangNode, LaunchHandle, PollResult} from '../../model/attempt.js'
import type {CheckResult, LaunchRequest, LogOptions, OwnedQuery, Provider} from '../provider.js'
import {bootUserData, readRunnerScript} from '../vm/boot-script.js'
import {checkByListingZones} from '../vm/check.js'
import {eventTime, ExitLineGrace, finalState, linesAfter, parseConsole} from '../vm/console-channel.js'
import {isFastFabric} from '../../model/catalog.js'
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
} from '../vm/gang.js'
import type {VmAdapterOptions} from '../vm/adapter-options.js'
import {configuredRegions} from '../vm/regions.js'

export const AZURE_TAGS = {
  jobId: 'skyhop-job-id',
  attemptId: 'skyhop-attempt-id',
  jobName: 'skyhop-job-name',
  stopRequest: 'skyhop-stop-request',
  /** `true` on a Spot attempt's group and VM: a Spot VM gone from its group was evicted. */
  spot: 'skyhop-spot',
  /** On a gang's group and VMs: how many nodes it has (listOwned knows a gang of one from a single VM). */
  nodes: 'skyhop-nodes',
  /** A gang VM's rank (0 is the head). */
  nodeRank: 'skyhop-node-rank',
} as const

/**
 * The most nodes one gang may have: skyhop's own bound, as on AWS and GCP (ARM creates VMs
 * one PUT each, all going out together; the group's /24 subnet holds 251 addresses).
 */
export const AZURE_MAX_NODES = 64

/** A gang's proximity placement group, in the attempt's group. */
export const AZURE_PLACEMENT_GROUP = 'skyhop-ppg'

/** An on-demand InfiniBand gang's availability set, in the attempt's group. */
export const AZURE_AVAILABILITY_SET = 'skyhop-avset'

/** ARM's limit on customData, base64 included. */
export const AZURE_CUSTOM_DATA_LIMIT = 65_535

export interface AzureProviderOptions extends VmAdapterOptions {
  /** Regions check() names. Default SKYHOP_AZURE_REGIONS, else eastus. */
  regions?: string[]
  credentials?: () => Promise<LoadedCredentials<AzureCredentials>>
  /** Interval of long-running operation polls when ARM sends no Retry-After. Default 2 s. */
  operationPollMs?: number
  /**
   * Marketplace image `publisher:offer:sku:version`. Default SKYHOP_AZURE_IMAGE, else Ubuntu
   * 22.04 (the HPC image with NVIDIA drivers for GPUs).
   */
  image?: string
}

/** The resource group of an attempt: a valid name (≤ 90 of letters, digits, `._-()`), the same for the same attempt. */
export function resourceGroupFor(attemptId: string): string {
  const clean = attemptId.replace(/[^A-Za-z0-9._-]/g, '_')
  return clean === attemptId && clean.length <= 80 ? `skyhop-${clean}` : `skyhop-${clean.slice(0, 60)}-${sha256Hex(attemptId).slice(0, 10)}`
}

/** The VM's name (and computer name): at most 64 characters of letters, digits and `-`. */
export function vmNameFor(attemptId: string): string {
  const clean = attemptId.replace(/[^A-Za-z0-9-]/g, '-')
  return clean === attemptId && clean.length <= 50 ? `skyhop-${clean}` : `skyhop-${clean.slice(0, 40)}-${sha256Hex(attemptId).slice(0, 10)}`
}

/** A gang node's VM name: the attempt's VM name and the rank (at most 61 characters). */
export function gangVmNameFor(attemptId: string, rank: number): string {
  return `${vmNameFor(attemptId)}-${rank}`
}

/** The bash the boot script runs to read a stop request from the VM's tags in IMDS. */
export function azureStopProbe(metadataBase: string): string {
  const base = metadataBase.replace(/\/$/, '')
  return [
    `curl -sf -m 2 -H 'Metadata: true' '${base}/metadata/instance/compute/tagsList?api-version=2021-02-01' |`,
    `  sed -n 's/.*"name": *"${AZURE_TAGS.stopRequest}", *"value": *"\\([^"]*\\)".*/\\1/p' || true`,
  ].join('\n')
}

/**
 * An OpenSSH `ssh-rsa` public key. Azure requires one for a Linux VM without a password; its
 * private half is thrown away, so nobody can log in.
 */
function throwawaySshKey(): string {
  const {publicKey} = generateKeyPairSync('rsa', {modulusLength: 2048})
  const jwk = publicKey.export({format: 'jwk'}) as {n: string; e: string}
  const part = (b: Buffer) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(b.length)
    return Buffer.concat([len, b])
  }
  const mpint = (b64: string) => {
    const b = Buffer.from(b64, 'base64url')
    return b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b
  }
  return `ssh-rsa ${Buffer.concat([part(Buffer.from('ssh-rsa')), part(mpint(jwk.e)), part(mpint(jwk.n))]).toString('base64')} skyhop-no-login`
}

export class AzureProvider implements Provider {
  readonly name = 'azure'
  readonly attemptStorage = 'per-instance' as const
  // Its runner ships output.log and samples to the job's store (vm/shipped.ts).
  readonly shipsAttemptFiles = true
  readonly maxNodes = AZURE_MAX_NODES
  private readonly env: Record<string, string | undefined>
  private readonly credentialCache: CredentialCache<AzureCredentials>
  private readonly dispatcher: AdapterDispatcher
  private clientPromise: Promise<ArmClient> | null = null
  private readonly exitGrace = new ExitLineGrace()

  constructor(private readonly options: AzureProviderOptions = {}) {
    this.env = options.env ?? process.env
    this.dispatcher = new AdapterDispatcher(options.dispatcher)
    const load =
      options.credentials ?? (async () => loadAzureCredentials({env: this.env, dispatcher: await this.dispatcher.get(), now: options.now}))
    this.credentialCache = new CredentialCache(load, {now: options.now ? () => options.now!().getTime() : undefined})
  }

  /** One client: ARM is global, the location travels in each resource. */
  private client(): Promise<ArmClient> {
    this.clientPromise ??= this.dispatcher.get().then(
      (dispatcher) =>
        new ArmClient({
          ...clientOptionsFor(this.regions()[0], this.credentialCache, dispatcher, this.env, this.options),
          sleep: this.options.sleep,
          operationPollMs: this.options.operationPollMs,
        }),
    )
    return this.clientPromise
  }

  private regions(): string[] {
    return configuredRegions(this.options.regions, this.env.SKYHOP_AZURE_REGIONS, 'eastus')
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
      () => 'the subscription',
      async () => (await this.client()).listLocations(),
      'locations',
    )
  }

  private imageReference(request: LaunchRequest): Record<string, string> {
    const image = request.spec.container ? null : request.spec.image
    const given = image ?? this.options.image ?? (this.env.SKYHOP_AZURE_IMAGE?.trim() || null)
    if (given) {
      const parts = given.split(':')
      if (parts.length !== 4 || parts.some((p) => p === '')) {
        throw new ProviderError(this.name, 'user', `image ${JSON.stringify(given)} is not an Azure Marketplace URN`, {
          code: 'PROVIDER_IMAGE_INVALID',
          hint: 'give publisher:offer:sku:version, e.g. Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest',
        })
      }
      return {publisher: parts[0], offer: parts[1], sku: parts[2], version: parts[3]}
    }
    return request.offer.accelerator
      ? {publisher: 'microsoft-dsvm', offer: 'ubuntu-hpc', sku: '2204', version: 'latest'}
      : {publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest'}
  }

  /** The VM resource (virtualMachines.createOrUpdate's body). */
  vmBody(
    request: LaunchRequest,
    where: {subscriptionId: string; group: string; name: string},
    customData: string,
    tags: Record<string, string>,
    placement: {proximityPlacementGroupId: string; availabilitySetId: string | null} | null = null,
  ): Record<string, unknown> {
    const {subscriptionId, group, name} = where
    const {offer, spec} = request
    const maxPrice = request.spot ? (spec.maxPrice?.currency === 'USD' ? spec.maxPrice.amount : -1) : null
    return {
      location: offer.region,
      tags,
      properties: {
        hardwareProfile: {vmSize: offer.instanceType},
        storageProfile: {
          imageReference: this.imageReference(request),
          osDisk: {
            createOption: 'FromImage',
            deleteOption: 'Delete',
            managedDisk: {storageAccountType: 'Premium_LRS'},
            ...(spec.resources.diskGB ? {diskSizeGB: Math.ceil(spec.resources.diskGB)} : {}),
          },
        },
        osProfile: {
          computerName: name,
          adminUsername: 'skyhop',
          customData,
          linuxConfiguration: {
            disablePasswordAuthentication: true,
            ssh: {publicKeys: [{path: '/home/skyhop/.ssh/authorized_keys', keyData: throwawaySshKey()}]},
          },
        },
        networkProfile: {
          networkApiVersion: '2020-11-01',
          networkInterfaceConfigurations: [
            {
              name: `${name}-nic`,
              properties: {
                primary: true,
                deleteOption: 'Delete',
                ipConfigurations: [
                  {
                    name: 'ipconfig1',
                    properties: {
                      subnet: {
                        id: `/subscriptions/${subscriptionId}/resourceGroups/${group}/providers/Microsoft.Network/virtualNetworks/skyhop-vnet/subnets/default`,
                      },
                      // Standard public IPs are closed to inbound traffic: only the way out, to the store.
                      publicIPAddressConfiguration: {name: `${name}-ip`, sku: {name: 'Standard'}, properties: {deleteOption: 'Delete'}},
                    },
                  },
                ],
              },
            },
          ],
        },
        diagnosticsProfile: {bootDiagnostics: {enabled: true}},
        ...(placement ? {proximityPlacementGroup: {id: placement.proximityPlacementGroupId}} : {}),
        ...(placement?.availabilitySetId ? {availabilitySet: {id: placement.availabilitySetId}} : {}),
        ...(request.spot ? {priority: 'Spot', evictionPolicy: 'Delete', billingProfile: {maxPrice}} : {priority: 'Regular'}),
      },
    }
  }

  async launch(request: LaunchRequest): Promise<LaunchHandle> {
    const {offer} = request
    if (offer.provider !== this.name) throw new ProviderError(this.name, 'user', `offer of ${offer.provider} given to the Azure provider`)
    const gang = gangObjectsFor(this.name, request, this.maxNodes)
    const client = await this.client()
    const {subscriptionId} = (await this.credentialCache.get()).credentials
    const group = resourceGroupFor(request.attemptId)
    const handle: LaunchHandle = {
      provider: this.name,
      externalId: gang ? gangVmNameFor(request.attemptId, 0) : vmNameFor(request.attemptId),
      region: offer.region,
      zone: offer.zone,
      data: {
        attemptId: request.attemptId,
        jobId: request.jobId,
        ...shipHandleData(request.ship),
        spot: request.spot,
        instanceType: offer.instanceType,
        resourceGroup: group,
      },
    }
    const metadataBase = (this.options.metadataBaseUrl ?? this.env.SKYHOP_AZURE_METADATA_URL?.trim())?.replace(
      '{attemptId}',
      rfc3986Encode(request.attemptId),
    )
    const runnerScript = await (this.options.runnerScript ?? readRunnerScript)()
    const customData = (instanceIdCommand?: string): string => {
      const data = bootUserData(
        {
          request,
          runnerScript,
          noticeSources: [metadataBase ? `azure=${metadataBase}` : 'azure'],
          stopRequestProbe: azureStopProbe(metadataBase ?? 'http://169.254.169.254'),
          pollIntervalSeconds: this.options.instancePollSeconds,
          ...(instanceIdCommand ? {instanceIdCommand} : {}),
        },
        (d) => Math.ceil(d.length / 3) * 4 <= AZURE_CUSTOM_DATA_LIMIT,
      )
      if (!data.fits) {
        throw new ProviderError(
          this.name,
          'user',
          `the boot script is ${data.data.length} bytes even compressed; Azure customData holds at most ${AZURE_CUSTOM_DATA_LIMIT} base64`,
          {
            code: 'PROVIDER_USER_DATA_TOO_LARGE',
            hint: 'Keep run/setup short: fetch large scripts in setup, or bake them into the image.',
          },
        )
      }
      return data.data.toString('base64')
    }
    const tags = {
      [AZURE_TAGS.jobId]: request.jobId,
      [AZURE_TAGS.attemptId]: request.attemptId,
      [AZURE_TAGS.jobName]: request.jobName.slice(0, 256),
      [AZURE_TAGS.spot]: String(request.spot),
      ...(gang ? {[AZURE_TAGS.nodes]: String(nodeCount(request))} : {}),
    }
    if (gang) return this.launchGang(client, request, handle, {subscriptionId, group, tags, customData, runnerScript})
    const name = handle.externalId
    // A retried launch (this process or another) meets the VM it made: adopt it.
    const existing = await client.getVirtualMachine(group, name)
    if (existing) {
      if (existing.tags[AZURE_TAGS.attemptId] === request.attemptId) return handle
      throw this.nameTaken(name, group, request.attemptId)
    }
    const data = customData()
    await client.putResourceGroup(group, offer.region, tags)
    try {
      await client.putVirtualNetwork(group, 'skyhop-vnet', offer.region, tags)
      const body = this.vmBody(request, {subscriptionId, group, name}, data, tags)
      await client.putVirtualMachine(group, name, body, offer.region, offer.instanceType)
    } catch (error) {
      // Nothing of a failed launch stays: its group goes, with whatever got made in it.
      await client.deleteResourceGroup(group).catch(() => false)
      throw error
    }
    return handle
  }

  private nameTaken(name: string, group: string, attemptId: string): ProviderError {
    return new ProviderError(this.name, 'unavailable', `VM ${name} in ${group} exists and is not attempt ${attemptId}'s`, {
      code: 'PROVIDER_NAME_TAKEN',
      scope: 'offer',
    })
  }

  /**
   * A gang: the runner to the job's store, the group, its vnet (and proximity placement
   * group when the offer's fabric needs the nodes close), then every node's VM PUT together;
   * once all exist, their private IPs, and the rank and peer lists to the store. A VM of a
   * retried launch that exists already is adopted, not PUT again (its customData and key
   * cannot change). Anything failing after the group exists deletes it: every VM made so far
   * goes with it.
   */
  private async launchGang(
    client: ArmClient,
    request: LaunchRequest,
    handle: LaunchHandle,
    ctx: {
      subscriptionId: string
      group: string
      tags: Record<string, string>
      customData: (instanceIdCommand?: string) => string
      runnerScript: string
    },
  ): Promise<LaunchHandle> {
    const {offer} = request
    const {group, tags} = ctx
    const gang = request.gang!
    const nodes = nodeCount(request)
    const names = Array.from({length: nodes}, (_, rank) => gangVmNameFor(request.attemptId, rank))
    // Each VM's customData names the VM: one PUT per VM lets every node carry its own, and
    // the node finds its rank by that name in the rank list (no IMDS call needed for it).
    const data = names.map((name) => ctx.customData(`printf %s ${shellQuote(name)}`))
    await publishRunner(await this.dispatcher.get(), this.name, gang, ctx.runnerScript)
    const release = async () => {
      await client.deleteResourceGroup(group)
      for (const name of names) this.exitGrace.forget(name)
    }
    await client.putResourceGroup(group, offer.region, tags)
    const ranked = await orRollBack(
      this.name,
      async () => {
        await client.putVirtualNetwork(group, 'skyhop-vnet', offer.region, tags)
        const placement = isFastFabric(offer.interconnect) ? await this.placeClose(client, request, group, tags) : null
        const created = await Promise.allSettled(
          names.map(async (name, rank) => {
            const existing = await client.getVirtualMachine(group, name)
            if (existing && existing.tags[AZURE_TAGS.attemptId] !== request.attemptId) throw this.nameTaken(name, group, request.attemptId)
            if (existing) return
            const vmTags = {...tags, [AZURE_TAGS.nodeRank]: String(rank)}
            const body = this.vmBody(request, {subscriptionId: ctx.subscriptionId, group, name}, data[rank], vmTags, placement)
            await client.putVirtualMachine(group, name, body, offer.region, offer.instanceType)
          }),
        )
        const failed = created.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
        if (failed.length > 0) throw this.gangFailure(failed, nodes - failed.length, nodes, offer.region)
        const ips = await this.privateIps(client, group, names)
        const ranked = rankNodes(names.map((name, i) => ({id: name, ip: ips[i]})))
        await publishGang(await this.dispatcher.get(), this.name, gang, ranked)
        return ranked
      },
      release,
    )
    return {
      ...handle,
      data: {
        ...handle.data,
        nodes: ranked,
        ...(isFastFabric(offer.interconnect)
          ? {placementGroup: AZURE_PLACEMENT_GROUP, ...(request.spot ? {} : {availabilitySet: AZURE_AVAILABILITY_SET})}
          : {}),
      },
    }
  }

  /**
   * Where a gang on a fast fabric goes: a proximity placement group keeps its VMs in one
   * datacenter, and Azure joins VMs to one InfiniBand network only inside one availability
   * set (or scale set), so an on-demand gang also gets an availability set in it. Azure
   * refuses Spot VMs in availability sets: a Spot gang is only placed close.
   */
  private async placeClose(
    client: ArmClient,
    request: LaunchRequest,
    group: string,
    tags: Record<string, string>,
  ): Promise<{proximityPlacementGroupId: string; availabilitySetId: string | null}> {
    const {offer} = request
    const proximityPlacementGroupId = await client.putProximityPlacementGroup(
      group,
      AZURE_PLACEMENT_GROUP,
      offer.region,
      offer.instanceType,
      tags,
    )
    const availabilitySetId = request.spot
      ? null
      : await client.putAvailabilitySet(group, AZURE_AVAILABILITY_SET, offer.region, proximityPlacementGroupId, tags)
    return {proximityPlacementGroupId, availabilitySetId}
  }

  /**
   * What a gang's failed creation says: a node short of capacity is the gang's capacity
   * failure (GANG_PARTIAL_CAPACITY, with the node's scope and Azure's code); any other
   * failure as it came.
   */
  private gangFailure(failed: unknown[], granted: number, asked: number, region: string): unknown {
    const capacity = failed.find((e): e is ProviderError => e instanceof ProviderError && e.category === 'capacity')
    if (!capacity) return failed[0]
    return new ProviderError(this.name, 'capacity', `only ${granted} of ${asked} nodes were granted in ${region}; released them`, {
      code: 'GANG_PARTIAL_CAPACITY',
      scope: capacity.scope,
      ...(capacity.backendCode ? {backendCode: capacity.backendCode} : {}),
      cause: capacity,
    })
  }

  /** Each node's private IP, from its primary NIC; ARM assigns it when the NIC is made, with the VM. */
  private async privateIps(client: ArmClient, group: string, names: string[]): Promise<Array<string | null>> {
    return Promise.all(
      names.map(async (name) => {
        const vm = await client.getVirtualMachine(group, name)
        return vm?.nicIds[0] ? client.privateIp(vm.nicIds[0]) : null
      }),
    )
  }

  private group(handle: LaunchHandle): string {
    return typeof handle.data.resourceGroup === 'string' ? handle.data.resourceGroup : resourceGroupFor(String(handle.data.attemptId))
  }

  async poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>> {
    const client = await this.client()
    const out = new Map<string, PollResult>()
    for (const h of handles) {
      const polled = new Map<string, PollResult>()
      for (const node of gangNodes(h)) {
        const vm = await client.getVirtualMachine(this.group(h), node.externalId)
        polled.set(node.externalId, vm ? await this.pollOne(client, vm) : this.gone(h, node.externalId))
      }
      out.set(
        h.externalId,
        pollOfHandle(h, (name) => polled.get(name)!),
      )
    }
    return out
  }

  /**
   * A VM ARM no longer knows. A Spot VM is deleted by Azure when evicted (evictionPolicy
   * Delete), and skyhop deletes only through its group: a Spot VM gone from a group that is
   * still there was evicted.
   */
  private gone(handle: LaunchHandle, name: string): PollResult {
    this.exitGrace.forget(name)
    if (handle.data.spot === true) {
      return {
        state: 'PREEMPTED',
        exitCode: null,
        reason: 'Spot VM evicted by Azure (deleted: evictionPolicy Delete)',
        startedAt: null,
        endedAt: null,
      }
    }
    return {state: 'LOST', exitCode: null, reason: 'Azure no longer knows this VM', startedAt: null, endedAt: null}
  }

  private async pollOne(client: ArmClient, vm: AzureVm): Promise<PollResult> {
    const base = {exitCode: null, reason: null, startedAt: vm.timeCreated, endedAt: null}
    if (vm.provisioningState === 'Creating' || vm.powerState === null || vm.powerState === 'starting')
      return {...base, state: 'PROVISIONING'}
    if (vm.powerState === 'running') return {...base, state: 'RUNNING'}
    const report = parseConsole((await client.serialLog(vm.resourceGroup, vm.name)) ?? '')
    const startedAt = eventTime(report, 'run-start') ?? vm.timeCreated
    const endedAt = eventTime(report, 'exit')
    if (report.ended) {
      this.exitGrace.forget(vm.name)
      return {...finalState(report), startedAt, endedAt}
    }
    if (this.exitGrace.waiting(vm.name, this.now().getTime(), this.options.consoleGraceMs ?? 10 * 60_000)) {
      return {state: 'RUNNING', exitCode: null, reason: `VM ${vm.powerState}; waiting for its serial log`, startedAt, endedAt: null}
    }
    const state: AttemptState = vm.tags[AZURE_TAGS.stopRequest]?.startsWith('cancel') ? 'CANCELLED' : 'LOST'
    return {state, exitCode: null, reason: `VM ${vm.powerState} without an exit code in its serial log`, startedAt, endedAt}
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
      logNodes(handle, options.node).map((n) => ({rank: n.rank, lines: this.vmLogs(handle, n.externalId, options)})),
      options.node === 'all',
    )
  }

  private async *vmLogs(handle: LaunchHandle, name: string, options: LogOptions): AsyncIterable<string> {
    const client = await this.client()
    const sleep = this.options.sleep ?? abortableSleep
    let last = 0
    for (;;) {
      const text = await client.serialLog(this.group(handle), name)
      const report = parseConsole(text ?? '')
      const fresh = linesAfter(report, last, (n) => `[skyhop: ${n} line(s) missing from the boot diagnostics log]`)
      yield* fresh.lines
      last = fresh.last
      if (!options.follow || report.ended || text === null || options.signal?.aborted) return
      await sleep(this.options.consolePollMs ?? 5000, options.signal)
      if (options.signal?.aborted) return
    }
  }

  async signal(handle: LaunchHandle, kind: 'cancel' | 'preempt', graceSeconds: number): Promise<void> {
    const client = await this.client()
    const group = this.group(handle)
    for (const node of gangNodes(handle)) {
      const vm = await client.getVirtualMachine(group, node.externalId)
      if (!vm) continue
      await client.setVmTags(group, node.externalId, {
        ...vm.tags,
        [AZURE_TAGS.stopRequest]: `${kind} ${Math.max(0, Math.round(graceSeconds))}`,
      })
    }
  }

  /** Deleting the attempt's group releases every node of it, with their NICs, disks and placement group. */
  async cleanup(handle: LaunchHandle): Promise<void> {
    const client = await this.client()
    await client.deleteResourceGroup(this.group(handle))
    for (const node of gangNodes(handle)) this.exitGrace.forget(node.externalId)
  }

  async listOwned(query: OwnedQuery = {}): Promise<LaunchHandle[]> {
    const client = await this.client()
    let groups = (await client.resourceGroupsTagged(AZURE_TAGS.attemptId)).filter(
      (g) => !query.attemptId || g.tags[AZURE_TAGS.attemptId] === query.attemptId,
    )
    // A gang's group says how many nodes it holds: its VMs are named by rank.
    const nodesOf = (g: ResourceGroup): GangNode[] | null => {
      const count = Number(g.tags[AZURE_TAGS.nodes] ?? '')
      if (!Number.isInteger(count) || count < 2) return null
      return Array.from({length: count}, (_, rank) => ({rank, externalId: gangVmNameFor(g.tags[AZURE_TAGS.attemptId], rank), ip: null}))
    }
    const headOf = (g: ResourceGroup) => nodesOf(g)?.[0].externalId ?? vmNameFor(g.tags[AZURE_TAGS.attemptId])
    // Looking for one attempt's run (recover after a crash): a group without a VM holds no
    // run to adopt, and the launch again meets the same names. A gang's group with some of
    // its VMs is adopted: they bill, and its poll finds the missing nodes gone, which ends the
    // gang and releases the group. For the orphan sweep every group counts: an empty one is
    // still the attempt's leftover.
    if (query.attemptId) {
      const holding = await Promise.all(
        groups.map(async (g) => {
          const names = nodesOf(g)?.map((n) => n.externalId) ?? [headOf(g)]
          const vms = await Promise.all(names.map((name) => client.getVirtualMachine(g.name, name)))
          return vms.some((vm) => vm !== null) ? g : null
        }),
      )
      groups = holding.filter((g) => g !== null)
    }
    return groups.map((g) => {
      const attemptId = g.tags[AZURE_TAGS.attemptId]
      const nodes = nodesOf(g)
      return {
        provider: this.name,
        externalId: headOf(g),
        region: g.location,
        zone: null,
        data: {
          attemptId,
          jobId: g.tags[AZURE_TAGS.jobId] ?? null,
          resourceGroup: g.name,
          spot: g.tags[AZURE_TAGS.spot] === 'true',
          // Deleting already: nothing left to release.
          releasing: g.provisioningState === 'Deleting',
          ...(nodes ? {nodes} : {}),
        },
      }
    })
  }

  async close(): Promise<void> {
    await this.dispatcher.close()
  }
}
