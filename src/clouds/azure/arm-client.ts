// A typed client of Azure Resource Manager for one subscription: resource groups (PUT,
// DELETE, list by tag), virtual networks, proximity placement groups, availability sets, network interfaces
// (a VM's private IP), virtual machines (PUT, GET with the instance
// view, PATCH of tags, retrieveBootDiagnosticsData) and long-running operations (the
// `Azure-AsyncOperation` status URL, else `Location`). Every call carries the ARM token as
// a Bearer header and its api-version; failures are AzureApiError (arm-errors.ts), retried
// when transient, after ARM's Retry-After when it sends one. Endpoint:
// SKYHOP_AZURE_ARM_ENDPOINT (a test fake) or management.azure.com. (SKYHOP_AZURE_ENDPOINT
// is the Retail Prices API of `catalog refresh`.)
import {retriedCall, type ApiClientOptions} from '../common/api-client.js'
import {sendRequest} from '../../http/request.js'
import {abortableSleep} from '../../util/sleep.js'
import {UsageError} from '../../errors.js'
import {AzureApiError, azureRetryVerdict, parseAzureError, toAzureProviderError} from './arm-errors.js'
import type {AzureCredentials} from './credentials.js'

export const API_VERSIONS = {
  resources: '2021-04-01',
  compute: '2024-03-01',
  network: '2023-09-01',
} as const

export function armEndpoint(env: Record<string, string | undefined>): {url: string; source: string} {
  const override = env.SKYHOP_AZURE_ARM_ENDPOINT?.trim()
  if (override) {
    const u = new URL(override)
    if (u.protocol !== 'https:' && u.protocol !== 'http:')
      throw new UsageError(`SKYHOP_AZURE_ARM_ENDPOINT must be http(s): ${override}`, {code: 'ENDPOINT_INVALID'})
    return {url: u.toString().replace(/\/$/, ''), source: 'SKYHOP_AZURE_ARM_ENDPOINT'}
  }
  return {url: 'https://management.azure.com', source: 'default'}
}

export interface ArmResponse {
  status: number
  body: Record<string, unknown>
  /** Where to poll a long-running operation (Azure-AsyncOperation, else Location), if ARM said. */
  operationUrl: string | null
  retryAfterMs: number | null
}

export interface AzureVm {
  name: string
  resourceGroup: string
  location: string
  vmSize: string
  tags: Record<string, string>
  provisioningState: string | null
  /** `running`, `stopped`, `deallocated`, `starting`, `stopping`, … (PowerState/… of the instance view). */
  powerState: string | null
  priority: string | null
  /** When the VM was created (properties.timeCreated). */
  timeCreated: string | null
  /** Resource ids of its network interfaces, primary first (properties.networkProfile.networkInterfaces). */
  nicIds: string[]
}

export interface ResourceGroup {
  name: string
  location: string
  tags: Record<string, string>
  provisioningState: string | null
}

export type ArmClientOptions = ApiClientOptions<AzureCredentials> & {sleep?: (ms: number) => Promise<void>; operationPollMs?: number}

function parseVm(raw: Record<string, unknown>, resourceGroup: string): AzureVm {
  const props = (raw.properties ?? {}) as {
    hardwareProfile?: {vmSize?: string}
    provisioningState?: string
    priority?: string
    timeCreated?: string
    instanceView?: {statuses?: Array<{code?: string}>}
    networkProfile?: {networkInterfaces?: Array<{id?: string; properties?: {primary?: boolean}}>}
  }
  const power = props.instanceView?.statuses?.find((s) => s.code?.startsWith('PowerState/'))?.code?.slice('PowerState/'.length) ?? null
  return {
    name: String(raw.name ?? ''),
    resourceGroup,
    location: String(raw.location ?? ''),
    vmSize: props.hardwareProfile?.vmSize ?? '',
    tags: (raw.tags as Record<string, string>) ?? {},
    provisioningState: props.provisioningState ?? null,
    powerState: power,
    priority: props.priority ?? null,
    timeCreated: props.timeCreated ?? null,
    nicIds: [...(props.networkProfile?.networkInterfaces ?? [])]
      .sort((a, b) => Number(b.properties?.primary === true) - Number(a.properties?.primary === true))
      .map((n) => n.id ?? '')
      .filter(Boolean),
  }
}

export class ArmClient {
  readonly endpoint: string

  constructor(private readonly options: ArmClientOptions) {
    this.endpoint = options.endpoint?.replace(/\/$/, '') ?? armEndpoint(options.env ?? process.env).url
  }

  private async once(method: string, pathOrUrl: string, apiVersion: string | null, body: unknown): Promise<ArmResponse> {
    const {accessToken, subscriptionId} = await this.options.credentials()
    const url = pathOrUrl.startsWith('http')
      ? new URL(pathOrUrl)
      : new URL(`${this.endpoint}/subscriptions/${encodeURIComponent(subscriptionId)}${pathOrUrl}`)
    if (apiVersion) url.searchParams.set('api-version', apiVersion)
    const res = await sendRequest({
      url,
      method,
      headers: {
        authorization: `Bearer ${accessToken}`,
        accept: 'application/json',
        ...(body === undefined ? {} : {'content-type': 'application/json'}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: this.options.timeoutMs ?? 20_000,
      dispatcher: this.options.dispatcher,
    })
    if (res.status >= 300) throw parseAzureError(res.status, res.body, res.headers)
    let json: Record<string, unknown> = {}
    if (res.body.trim() !== '') {
      try {
        json = JSON.parse(res.body) as Record<string, unknown>
      } catch {
        throw new AzureApiError(res.status, 'MalformedResponse', `the answer to ${method} ${url.pathname} is not JSON`, null)
      }
    }
    const header = (name: string) => {
      const v = res.headers[name]
      return typeof v === 'string' && v ? v : null
    }
    const after = header('retry-after')
    return {
      status: res.status,
      body: json,
      operationUrl: header('azure-asyncoperation') ?? header('location'),
      retryAfterMs: after && /^\d+$/.test(after) ? Number(after) * 1000 : null,
    }
  }

  /** One call with retries; failures come back as ProviderError. */
  async call(
    action: string,
    method: string,
    path: string,
    options: {apiVersion?: string | null; body?: unknown; region?: string; instanceType?: string} = {},
  ): Promise<ArmResponse> {
    return retriedCall(
      this.options,
      action,
      () => this.once(method, path, options.apiVersion === undefined ? API_VERSIONS.resources : options.apiVersion, options.body),
      azureRetryVerdict,
      (error) => toAzureProviderError(error, {action, region: options.region ?? this.options.region, instanceType: options.instanceType}),
    )
  }

  /**
   * Polls a long-running operation to its end. The Azure-AsyncOperation URL answers
   * `{"status": "InProgress" | "Succeeded" | "Failed" | "Canceled", "error"}`; a Location URL
   * answers 202 while running and 200/204 when done. A failure is thrown classified.
   */
  async wait(response: ArmResponse, context: {action: string; region?: string; instanceType?: string}, timeoutMs = 900_000): Promise<void> {
    if (!response.operationUrl) return
    const sleep = this.options.sleep ?? abortableSleep
    const until = Date.now() + timeoutMs
    let delay = response.retryAfterMs ?? this.options.operationPollMs ?? 2000
    for (;;) {
      await sleep(Math.min(delay, this.options.operationPollMs ?? delay))
      const r = await this.call(`${context.action} (operation)`, 'GET', response.operationUrl, {apiVersion: null, ...context})
      const status = typeof r.body.status === 'string' ? r.body.status : r.status === 202 ? 'InProgress' : 'Succeeded'
      if (status === 'Succeeded') return
      if (status === 'Failed' || status === 'Canceled') {
        const e = (r.body.error ?? {}) as {code?: string; message?: string}
        throw toAzureProviderError(new AzureApiError(200, e.code ?? status, e.message ?? `operation ${status}`, null), {
          action: context.action,
          region: context.region ?? this.options.region,
          instanceType: context.instanceType,
        })
      }
      if (Date.now() > until) {
        throw toAzureProviderError(new AzureApiError(504, 'InternalServerError', `operation not done within ${timeoutMs} ms`, null), {
          action: context.action,
          region: context.region ?? this.options.region,
        })
      }
      delay = r.retryAfterMs ?? delay
    }
  }

  async putResourceGroup(name: string, location: string, tags: Record<string, string>): Promise<void> {
    await this.call('resourceGroups.createOrUpdate', 'PUT', `/resourcegroups/${name}`, {body: {location, tags}, region: location})
  }

  /** Starts deleting a resource group and all it holds; false when it was already gone. */
  async deleteResourceGroup(name: string): Promise<boolean> {
    try {
      await this.call('resourceGroups.delete', 'DELETE', `/resourcegroups/${name}`)
      return true
    } catch (error) {
      if ((error as {backendCode?: string}).backendCode === 'ResourceGroupNotFound') return false
      throw error
    }
  }

  async getResourceGroup(name: string): Promise<ResourceGroup | null> {
    try {
      const r = await this.call('resourceGroups.get', 'GET', `/resourcegroups/${name}`)
      return toGroup(r.body)
    } catch (error) {
      if ((error as {backendCode?: string}).backendCode === 'ResourceGroupNotFound') return null
      throw error
    }
  }

  /** Resource groups carrying a tag (ARM's `$filter=tagName eq 'T'`), following nextLink. */
  async resourceGroupsTagged(tagName: string): Promise<ResourceGroup[]> {
    const out: ResourceGroup[] = []
    let next: string | null = `/resourcegroups?$filter=${encodeURIComponent(`tagName eq '${tagName}'`)}`
    while (next) {
      const r: ArmResponse = await this.call('resourceGroups.list', 'GET', next, {
        apiVersion: next.startsWith('http') ? null : API_VERSIONS.resources,
      })
      for (const raw of (r.body.value as Array<Record<string, unknown>> | undefined) ?? []) out.push(toGroup(raw))
      next = typeof r.body.nextLink === 'string' ? r.body.nextLink : null
    }
    return out
  }

  async putVirtualNetwork(group: string, name: string, location: string, tags: Record<string, string>): Promise<void> {
    const r = await this.call(
      'virtualNetworks.createOrUpdate',
      'PUT',
      `/resourceGroups/${group}/providers/Microsoft.Network/virtualNetworks/${name}`,
      {
        apiVersion: API_VERSIONS.network,
        region: location,
        body: {
          location,
          tags,
          properties: {
            addressSpace: {addressPrefixes: ['10.0.0.0/16']},
            subnets: [{name: 'default', properties: {addressPrefix: '10.0.0.0/24'}}],
          },
        },
      },
    )
    await this.wait(r, {action: 'virtualNetworks.createOrUpdate', region: location})
  }

  /**
   * A proximity placement group: the VMs that name it are placed in one datacenter, close to
   * each other (the gang of an offer with an InfiniBand fabric). Created synchronously.
   */
  async putProximityPlacementGroup(
    group: string,
    name: string,
    location: string,
    vmSize: string,
    tags: Record<string, string>,
  ): Promise<string> {
    const path = `/resourceGroups/${group}/providers/Microsoft.Compute/proximityPlacementGroups/${name}`
    const r = await this.call('proximityPlacementGroups.createOrUpdate', 'PUT', path, {
      apiVersion: API_VERSIONS.compute,
      region: location,
      body: {location, tags, properties: {proximityPlacementGroupType: 'Standard', intent: {vmSizes: [vmSize]}}},
    })
    return typeof r.body.id === 'string' ? r.body.id : `/subscriptions/${(await this.options.credentials()).subscriptionId}${path}`
  }

  /**
   * An availability set in a proximity placement group, one fault domain: the VMs that name
   * it share the InfiniBand network of their shape (not open to Spot VMs). Created
   * synchronously.
   */
  async putAvailabilitySet(
    group: string,
    name: string,
    location: string,
    placementGroupId: string,
    tags: Record<string, string>,
  ): Promise<string> {
    const path = `/resourceGroups/${group}/providers/Microsoft.Compute/availabilitySets/${name}`
    const r = await this.call('availabilitySets.createOrUpdate', 'PUT', path, {
      apiVersion: API_VERSIONS.compute,
      region: location,
      body: {
        location,
        tags,
        sku: {name: 'Aligned'},
        properties: {platformFaultDomainCount: 1, platformUpdateDomainCount: 1, proximityPlacementGroup: {id: placementGroupId}},
      },
    })
    return typeof r.body.id === 'string' ? r.body.id : `/subscriptions/${(await this.options.credentials()).subscriptionId}${path}`
  }

  /** The primary private IP of a network interface (by resource id); null when it has none yet or is gone. */
  async privateIp(nicId: string): Promise<string | null> {
    const path = nicId.replace(/^\/subscriptions\/[^/]+/i, '')
    try {
      const r = await this.call('networkInterfaces.get', 'GET', path, {apiVersion: API_VERSIONS.network})
      const configs =
        (r.body.properties as {ipConfigurations?: Array<{properties?: {primary?: boolean; privateIPAddress?: string}}>} | undefined)
          ?.ipConfigurations ?? []
      const primary = configs.find((c) => c.properties?.primary === true) ?? configs[0]
      return primary?.properties?.privateIPAddress ?? null
    } catch (error) {
      const code = (error as {backendCode?: string}).backendCode
      if (code === 'ResourceNotFound' || code === 'ResourceGroupNotFound' || code === 'NotFound') return null
      throw error
    }
  }

  /** PUTs a VM and waits for its creation; ARM's PUT is create-or-update, so the same name never makes a second one. */
  async putVirtualMachine(group: string, name: string, body: Record<string, unknown>, location: string, vmSize: string): Promise<void> {
    const ctx = {region: location, instanceType: vmSize}
    const r = await this.call(
      'virtualMachines.createOrUpdate',
      'PUT',
      `/resourceGroups/${group}/providers/Microsoft.Compute/virtualMachines/${name}`,
      {
        apiVersion: API_VERSIONS.compute,
        body,
        ...ctx,
      },
    )
    await this.wait(r, {action: 'virtualMachines.createOrUpdate', ...ctx})
  }

  /** A VM with its instance view (power state), or null when it does not exist. */
  async getVirtualMachine(group: string, name: string): Promise<AzureVm | null> {
    try {
      const r = await this.call(
        'virtualMachines.get',
        'GET',
        `/resourceGroups/${group}/providers/Microsoft.Compute/virtualMachines/${name}?$expand=instanceView`,
        {
          apiVersion: API_VERSIONS.compute,
        },
      )
      return parseVm(r.body, group)
    } catch (error) {
      const code = (error as {backendCode?: string}).backendCode
      if (code === 'ResourceNotFound' || code === 'ResourceGroupNotFound' || code === 'NotFound') return null
      throw error
    }
  }

  /** Sets tags on a VM (PATCH merges nothing: the whole tag set is sent). */
  async setVmTags(group: string, name: string, tags: Record<string, string>): Promise<boolean> {
    try {
      const r = await this.call(
        'virtualMachines.update',
        'PATCH',
        `/resourceGroups/${group}/providers/Microsoft.Compute/virtualMachines/${name}`,
        {
          apiVersion: API_VERSIONS.compute,
          body: {tags},
        },
      )
      await this.wait(r, {action: 'virtualMachines.update'})
      return true
    } catch (error) {
      const code = (error as {backendCode?: string}).backendCode
      if (code === 'ResourceNotFound' || code === 'ResourceGroupNotFound') return false
      throw error
    }
  }

  /**
   * The VM's serial log through managed boot diagnostics: retrieveBootDiagnosticsData gives a
   * SAS URL of the log blob, read with a plain GET (the SAS is the credential). Null when the
   * VM is gone; empty before the first line.
   */
  async serialLog(group: string, name: string): Promise<string | null> {
    let uri: string | undefined
    try {
      const r = await this.call(
        'virtualMachines.retrieveBootDiagnosticsData',
        'POST',
        `/resourceGroups/${group}/providers/Microsoft.Compute/virtualMachines/${name}/retrieveBootDiagnosticsData?sasUriExpirationTimeInMinutes=10`,
        {apiVersion: API_VERSIONS.compute},
      )
      uri = typeof r.body.serialConsoleLogBlobUri === 'string' ? r.body.serialConsoleLogBlobUri : undefined
    } catch (error) {
      const code = (error as {backendCode?: string}).backendCode
      if (code === 'ResourceNotFound' || code === 'ResourceGroupNotFound') return null
      throw error
    }
    if (!uri) return ''
    const blob = await retriedCall(
      this.options,
      'bootDiagnostics.serialLog',
      async () => {
        const res = await sendRequest({
          url: uri,
          method: 'GET',
          timeoutMs: this.options.timeoutMs ?? 20_000,
          dispatcher: this.options.dispatcher,
        })
        // The blob exists once the VM has written to its console.
        if (res.status === 404) return ''
        if (res.status >= 300) throw parseAzureError(res.status, res.body, res.headers)
        return res.body
      },
      azureRetryVerdict,
      (error) => toAzureProviderError(error, {action: 'bootDiagnostics.serialLog', region: this.options.region}),
    )
    return blob
  }

  /** The locations of the subscription (check()). */
  async listLocations(): Promise<string[]> {
    const r = await this.call('subscriptions.listLocations', 'GET', '/locations', {apiVersion: '2022-12-01'})
    return ((r.body.value as Array<{name?: string}> | undefined) ?? []).map((l) => l.name ?? '').filter(Boolean)
  }
}

function toGroup(raw: Record<string, unknown>): ResourceGroup {
  return {
    name: String(raw.name ?? ''),
    location: String(raw.location ?? ''),
    tags: (raw.tags as Record<string, string>) ?? {},
    provisioningState: ((raw.properties as {provisioningState?: string} | undefined) ?? {}).provisioningState ?? null,
  }
}
