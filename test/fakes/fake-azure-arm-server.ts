// A FAKE of Azure for tests: a local HTTP server speaking the Microsoft identity platform's
// v2.0 token endpoint (client-credentials grant, AADSTS errors) and Azure Resource Manager
// as Microsoft documents it (resource groups, virtual networks, proximity placement groups and
// availability sets, virtual machines with their instance view and the network interfaces
// they make (one per networkInterfaceConfiguration, a private IP from the group's subnet), tag PATCH,
// retrieveBootDiagnosticsData and the serial log blob behind its SAS URL, subscription
// locations; `{"error": {"code", "message"}}` documents; long-running PUTs answered 201
// with an `Azure-AsyncOperation` status URL, deletes 202 with `Location`),
// and each VM's Instance Metadata Service (compute/name, compute/tagsList, Scheduled Events).
// Not Azure; tests reach it through AZURE_AUTHORITY_HOST, SKYHOP_AZURE_ARM_ENDPOINT and the
// provider's metadata URL.
//
// Real behaviour: refuses a wrong client secret (401 invalid_client, AADSTS7000215), an
// unknown tenant (400, AADSTS90002), unknown or expired tokens (401
// InvalidAuthenticationToken), an unknown subscription (404 SubscriptionNotFound) and
// actions a role lacks (403 AuthorizationFailed); per-location stock per VM size
// (SkuNotAvailable when a size is not sold there; the creation operation Failed with
// AllocationFailed when none is free), per-location family-cores and Spot (lowPriorityCores)
// quotas (409 OperationNotAllowed naming the family), throttling (429 TooManyRequests with
// Retry-After) and any error injected on demand; create-or-update by name; Spot evictions
// (a Preempt scheduled event with NotBefore, then the VM deleted: evictionPolicy Delete);
// and, given a boot directory, the customData run locally as cloud-init would, its
// power-off leaving the VM stopped (still allocated) with its serial log kept. A gang's VMs
// share their attempt's IMDS URL: the VM asking is the one answered (askingInstance).
import {createHmac, randomBytes, randomUUID} from 'node:crypto'
import type {ChildProcess} from 'node:child_process'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {join} from 'node:path'

import {askingInstance, FakeCloudServer, Injections, killGroup, readBody, runUserData} from './fake-cloud-server.js'

export interface FakeServicePrincipal {
  tenantId: string
  clientId: string
  clientSecret: string
}

export interface FakeAzureOptions {
  subscriptionId: string
  principals: FakeServicePrincipal[]
  /** location → VM size → free VMs. A size missing from a location is not sold there (SkuNotAvailable). */
  stock: Record<string, Record<string, number>>
  /** VM size → vCPUs and quota family (e.g. standardNCASv3_T4Family). */
  sizes: Record<string, {vcpus: number; family: string}>
  /** location → family (or `lowPriorityCores`) → core limit. */
  quotas?: Record<string, Record<string, number>>
  /** ARM actions the principal's role lacks, e.g. `Microsoft.Compute/virtualMachines/write`. */
  deniedActions?: string[]
  bootDir?: string
  /** ms from the VM PUT to its creation's end. */
  provisioningMs?: number
  now?: () => number
}

export interface FakeAzureVm {
  id: string
  name: string
  group: string
  location: string
  size: string
  tags: Record<string, string>
  body: Record<string, unknown>
  priority: string
  provisioningState: 'Creating' | 'Succeeded' | 'Failed' | 'Deleting'
  powerState: 'starting' | 'running' | 'stopping' | 'stopped' | 'deallocated'
  timeCreated: string
  process: ChildProcess | null
  deleted: boolean
  events: Array<Record<string, unknown>>
  /** Names of the NICs it made (networkInterfaceConfigurations), primary first. */
  nics: string[]
}

export interface FakeNic {
  name: string
  group: string
  location: string
  vm: string
  privateIp: string
  primary: boolean
}

export interface FakeGroup {
  name: string
  location: string
  tags: Record<string, string>
  provisioningState: 'Succeeded' | 'Deleting'
  vnets: string[]
  placementGroups: Array<{name: string; body: Record<string, unknown>}>
  availabilitySets: Array<{name: string; body: Record<string, unknown>}>
  /** The last host number given out on the subnet (Azure keeps .0 to .3 for itself). */
  lastHost: number
}

export interface AzureCall {
  action: string
  method: string
  path: string
  body: unknown
  /** The error code answered, or null. */
  code: string | null
}

interface Injection {
  action?: string
  status: number
  code: string
  message: string
  retryAfterSeconds?: number
  /** Put it in the VM creation's operation instead of the HTTP answer. */
  inOperation?: boolean
  times?: number
}

interface FakeOp {
  id: string
  status: 'InProgress' | 'Succeeded' | 'Failed'
  error?: {code: string; message: string}
  startTime: string
}

export class FakeAzureArmServer extends FakeCloudServer {
  readonly groups = new Map<string, FakeGroup>()
  readonly vms = new Map<string, FakeAzureVm>()
  /** Live NICs by `group/name`. */
  readonly nics = new Map<string, FakeNic>()
  readonly calls: AzureCall[] = []
  readonly tokenRequests: Array<{clientId: string; ok: boolean}> = []
  private readonly tokens = new Map<string, number>()
  private readonly ops = new Map<string, FakeOp>()
  private readonly injections = new Injections<Injection>()
  private readonly blobKey = randomBytes(16)
  protected override readonly trailingSlash = false

  constructor(readonly options: FakeAzureOptions) {
    super()
  }

  /** Base URL of a VM's IMDS, with `{attemptId}` for the provider to fill. */
  get metadataBaseTemplate(): string {
    return `${this.url}/_imds/{attemptId}`
  }

  // ------------------------------------------------------------------ test controls

  inject(injection: Injection): void {
    this.injections.add(injection)
  }

  /** The next `times` calls (of `action`) answer 429 with Retry-After, as ARM's throttling does. */
  throttle(times: number, action?: string, retryAfterSeconds = 1): void {
    this.inject({
      action,
      status: 429,
      code: 'TooManyRequests',
      message: "The request is being throttled as the limit has been reached for operation type - 'Write_1Min'.",
      retryAfterSeconds,
      times,
    })
  }

  setStock(location: string, size: string, free: number): void {
    ;(this.options.stock[location] ??= {})[size] = free
  }

  /** Evicts a Spot VM: a Preempt event now, NotBefore `noticeMs` away, then the VM is deleted. */
  evict(name: string, noticeMs: number): void {
    const vm = this.live().find((v) => v.name === name)
    if (!vm) throw new Error(`fake-azure: no VM ${name}`)
    vm.events.push({
      EventId: randomUUID().toUpperCase(),
      EventStatus: 'Scheduled',
      EventType: 'Preempt',
      ResourceType: 'VirtualMachine',
      Resources: [vm.name],
      NotBefore: new Date(this.now() + noticeMs).toUTCString(),
      Description: 'Virtual machine is being preempted.',
      EventSource: 'Platform',
      DurationInSeconds: -1,
    })
    this.later(noticeMs, () => this.removeVm(vm))
  }

  live(): FakeAzureVm[] {
    return [...this.vms.values()].filter((v) => !v.deleted)
  }

  override consoleOf(name: string): string {
    const vm = [...this.vms.values()].find((v) => v.name === name)
    return vm ? super.consoleOf(vm.id) : ''
  }

  protected override killInstances(): void {
    for (const vm of this.vms.values()) this.kill(vm)
  }

  protected override crashed(res: ServerResponse, error: Error): void {
    this.error(res, 500, 'InternalServerError', `Encountered internal server error. ${error.message}`)
  }

  // ------------------------------------------------------------------ HTTP

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = body === undefined ? '' : JSON.stringify(body)
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'x-ms-request-id': randomUUID(),
      ...headers,
    })
    res.end(text)
  }

  private error(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
    this.json(res, status, {error: {code, message}}, headers)
  }

  protected override async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake')
    const text = await readBody(req)
    const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname)
    if (token && req.method === 'POST') return this.token(res, token[1], text)
    if (url.pathname.startsWith('/_imds/')) return this.imds(req, res, url)
    if (url.pathname.startsWith('/_blob/')) return this.blob(res, url)
    const m = /^\/subscriptions\/([^/]+)(\/.*)?$/.exec(url.pathname)
    if (!m) return this.error(res, 404, 'NotFound', `No route for ${url.pathname}`)
    const method = req.method ?? 'GET'
    const path = m[2] ?? ''
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined
    const action = actionOf(method, path)
    const record = (code: string | null) => this.calls.push({action, method, path, body, code})
    const auth = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))
    const expires = auth ? this.tokens.get(auth[1]) : undefined
    if (expires === undefined || expires < this.now()) {
      record('InvalidAuthenticationToken')
      return this.error(res, 401, 'InvalidAuthenticationToken', 'The access token is invalid.')
    }
    if (m[1] !== this.options.subscriptionId) {
      record('SubscriptionNotFound')
      return this.error(res, 404, 'SubscriptionNotFound', `The subscription '${m[1]}' could not be found.`)
    }
    if (!url.searchParams.get('api-version') && !path.includes('/operations/')) {
      record('MissingApiVersionParameter')
      return this.error(
        res,
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      )
    }
    const injected = this.injections.take((i) => (!i.action || i.action === action) && !i.inOperation)
    if (injected) {
      record(injected.code)
      return this.error(
        res,
        injected.status,
        injected.code,
        injected.message,
        injected.retryAfterSeconds ? {'retry-after': String(injected.retryAfterSeconds)} : {},
      )
    }
    const denied = ARM_ACTIONS[action]
    if (denied && this.options.deniedActions?.includes(denied)) {
      record('AuthorizationFailed')
      return this.error(
        res,
        403,
        'AuthorizationFailed',
        `The client '${this.options.principals[0]?.clientId}' with object id '${randomUUID()}' does not have authorization to perform action '${denied}' over scope '/subscriptions/${m[1]}${path}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
      )
    }
    const answer = this.arm(action, path, url, body)
    record(answer.status >= 300 ? answer.code! : (answer.opError ?? null))
    if (answer.status >= 300) return this.error(res, answer.status, answer.code!, answer.message!)
    return this.json(res, answer.status, answer.body, answer.headers)
  }

  // ------------------------------------------------------------------ identity platform

  private token(res: ServerResponse, tenant: string, text: string): void {
    const form = new URLSearchParams(text)
    const clientId = form.get('client_id') ?? ''
    const fail = (status: number, error: string, aadsts: number, description: string) => {
      this.tokenRequests.push({clientId, ok: false})
      this.json(res, status, {
        error,
        error_description: `AADSTS${aadsts}: ${description}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${new Date(this.now()).toISOString()}`,
        error_codes: [aadsts],
        timestamp: new Date(this.now()).toISOString(),
        trace_id: randomUUID(),
        correlation_id: randomUUID(),
      })
    }
    if (!this.options.principals.some((p) => p.tenantId === tenant))
      return fail(
        400,
        'invalid_request',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      )
    if (form.get('grant_type') !== 'client_credentials')
      return fail(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.')
    const principal = this.options.principals.find((p) => p.tenantId === tenant && p.clientId === clientId)
    if (!principal)
      return fail(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`,
      )
    if (principal.clientSecret !== form.get('client_secret'))
      return fail(
        401,
        'invalid_client',
        7000215,
        'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.',
      )
    if (form.get('scope') !== 'https://management.azure.com/.default')
      return fail(400, 'invalid_scope', 1002012, `The provided value for scope ${form.get('scope')} is not valid.`)
    const token = `eyJ0eXAiOiJKV1QifQ.${randomBytes(32).toString('base64url')}.fake`
    this.tokens.set(token, this.now() + 3600_000)
    this.tokenRequests.push({clientId, ok: true})
    this.json(res, 200, {token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token})
  }

  // ------------------------------------------------------------------ Resource Manager

  private opUrl(location: string, op: FakeOp): string {
    return `${this.url}/subscriptions/${this.options.subscriptionId}/providers/Microsoft.Compute/locations/${location}/operations/${op.id}?api-version=2024-03-01`
  }

  private newOp(): FakeOp {
    const op: FakeOp = {id: randomUUID(), status: 'InProgress', startTime: new Date(this.now()).toISOString()}
    this.ops.set(op.id, op)
    return op
  }

  private arm(
    action: string,
    path: string,
    url: URL,
    body: Record<string, unknown> | undefined,
  ): {status: number; body?: unknown; headers?: Record<string, string>; code?: string; message?: string; opError?: string} {
    const sub = this.options.subscriptionId
    const seg = path.split('/').filter(Boolean)
    const groupName = seg[1] ?? ''
    const group = [...this.groups.values()].find((g) => g.name.toLowerCase() === groupName.toLowerCase())
    const noGroup = {status: 404, code: 'ResourceGroupNotFound', message: `Resource group '${groupName}' could not be found.`}
    switch (action) {
      case 'locations.list':
        return {
          status: 200,
          body: {
            value: Object.keys(this.options.stock).map((l) => ({
              id: `/subscriptions/${sub}/locations/${l}`,
              name: l,
              displayName: l,
              type: 'Region',
            })),
          },
        }
      case 'operations.get': {
        const op = this.ops.get(seg[seg.length - 1])
        if (!op) return {status: 404, code: 'NotFound', message: 'The operation was not found.'}
        return {status: 200, body: {startTime: op.startTime, status: op.status, name: op.id, ...(op.error ? {error: op.error} : {})}}
      }
      case 'resourceGroups.list': {
        const filter = url.searchParams.get('$filter') ?? ''
        const tag = /^tagName eq '([^']+)'$/.exec(filter)?.[1]
        const value = [...this.groups.values()].filter((g) => !tag || tag in g.tags).map((g) => this.renderGroup(g))
        return {status: 200, body: {value}}
      }
      case 'resourceGroups.get':
        return group ? {status: 200, body: this.renderGroup(group)} : noGroup
      case 'resourceGroups.createOrUpdate': {
        if (group?.provisioningState === 'Deleting')
          return {
            status: 409,
            code: 'ResourceGroupBeingDeleted',
            message: `The resource group '${groupName}' is in deprovisioning state and cannot perform this operation.`,
          }
        const g: FakeGroup = group ?? {
          name: groupName,
          location: String(body?.location ?? ''),
          tags: {},
          provisioningState: 'Succeeded',
          vnets: [],
          placementGroups: [],
          availabilitySets: [],
          lastHost: 3,
        }
        g.tags = (body?.tags as Record<string, string>) ?? {}
        this.groups.set(g.name, g)
        return {status: group ? 200 : 201, body: this.renderGroup(g)}
      }
      case 'resourceGroups.delete': {
        if (!group) return noGroup
        group.provisioningState = 'Deleting'
        for (const vm of this.live().filter((v) => v.group === group.name)) {
          vm.provisioningState = 'Deleting'
          this.kill(vm)
        }
        this.later(30, () => {
          for (const vm of this.live().filter((v) => v.group === group.name)) this.removeVm(vm)
          for (const [key, nic] of this.nics) if (nic.group === group.name) this.nics.delete(key)
          this.groups.delete(group.name)
        })
        const loc = `${this.url}/subscriptions/${sub}/operationresults/${randomUUID()}?api-version=2021-04-01`
        return {status: 202, headers: {location: loc, 'retry-after': '15'}}
      }
      case 'virtualNetworks.createOrUpdate': {
        if (!group) return noGroup
        group.vnets.push(seg[5])
        const op = this.newOp()
        op.status = 'Succeeded'
        return {
          status: 201,
          body: {name: seg[5], location: body?.location, properties: {...(body?.properties as object), provisioningState: 'Updating'}},
          headers: {'azure-asyncoperation': this.opUrl(String(body?.location), op)},
        }
      }
      case 'proximityPlacementGroups.createOrUpdate': {
        if (!group) return noGroup
        const ppg = {name: seg[5], body: body ?? {}}
        const known = group.placementGroups.findIndex((p) => p.name === ppg.name)
        if (known >= 0) group.placementGroups[known] = ppg
        else group.placementGroups.push(ppg)
        return {
          status: known >= 0 ? 200 : 201,
          body: {
            id: `/subscriptions/${sub}/resourceGroups/${group.name}/providers/Microsoft.Compute/proximityPlacementGroups/${ppg.name}`,
            name: ppg.name,
            type: 'Microsoft.Compute/proximityPlacementGroups',
            location: body?.location,
            tags: body?.tags ?? {},
            properties: {proximityPlacementGroupType: 'Standard', ...(body?.properties as object), virtualMachines: []},
          },
        }
      }
      case 'availabilitySets.createOrUpdate': {
        if (!group) return noGroup
        const set = {name: seg[5], body: body ?? {}}
        const known = group.availabilitySets.findIndex((a) => a.name === set.name)
        if (known >= 0) group.availabilitySets[known] = set
        else group.availabilitySets.push(set)
        return {
          status: 200,
          body: {
            id: `/subscriptions/${sub}/resourceGroups/${group.name}/providers/Microsoft.Compute/availabilitySets/${set.name}`,
            name: set.name,
            type: 'Microsoft.Compute/availabilitySets',
            location: body?.location,
            tags: body?.tags ?? {},
            sku: body?.sku ?? {name: 'Classic'},
            properties: {...(body?.properties as object), virtualMachines: []},
          },
        }
      }
      case 'networkInterfaces.get': {
        if (!group) return noGroup
        const nic = this.nics.get(`${group.name}/${seg[5]}`)
        if (!nic)
          return {
            status: 404,
            code: 'ResourceNotFound',
            message: `The Resource 'Microsoft.Network/networkInterfaces/${seg[5]}' under resource group '${groupName}' was not found.`,
          }
        return {status: 200, body: this.renderNic(nic)}
      }
      case 'virtualMachines.createOrUpdate':
        if (!group) return noGroup
        return this.putVm(group, seg[5], body ?? {})
      case 'virtualMachines.get': {
        const vm = this.live().find((v) => v.group === group?.name && v.name === seg[5])
        if (!group) return noGroup
        if (!vm)
          return {
            status: 404,
            code: 'ResourceNotFound',
            message: `The Resource 'Microsoft.Compute/virtualMachines/${seg[5]}' under resource group '${groupName}' was not found.`,
          }
        return {status: 200, body: this.renderVm(vm, url.searchParams.get('$expand') === 'instanceView')}
      }
      case 'virtualMachines.update': {
        const vm = this.live().find((v) => v.group === group?.name && v.name === seg[5])
        if (!vm)
          return {
            status: 404,
            code: 'ResourceNotFound',
            message: `The Resource 'Microsoft.Compute/virtualMachines/${seg[5]}' was not found.`,
          }
        if (body?.tags) vm.tags = body.tags as Record<string, string>
        return {status: 200, body: this.renderVm(vm, false)}
      }
      case 'virtualMachines.retrieveBootDiagnosticsData': {
        const vm = this.live().find((v) => v.group === group?.name && v.name === seg[5])
        if (!vm)
          return {
            status: 404,
            code: 'ResourceNotFound',
            message: `The Resource 'Microsoft.Compute/virtualMachines/${seg[5]}' was not found.`,
          }
        const se = new Date(this.now() + Number(url.searchParams.get('sasUriExpirationTimeInMinutes') ?? 120) * 60_000).toISOString()
        const sig = this.sign(vm.id, se)
        const base = `${this.url}/_blob/bootdiagnostics-${vm.name}-${vm.id}`
        return {
          status: 200,
          body: {
            consoleScreenshotBlobUri: `${base}/${vm.name}.${vm.id}.screenshot.bmp?sv=2018-03-28&sr=b&se=${encodeURIComponent(se)}&sp=r&sig=${encodeURIComponent(sig)}`,
            serialConsoleLogBlobUri: `${base}/${vm.name}.${vm.id}.serialconsole.log?sv=2018-03-28&sr=b&se=${encodeURIComponent(se)}&sp=r&sig=${encodeURIComponent(sig)}`,
          },
        }
      }
      default:
        return {status: 400, code: 'InvalidRequest', message: `fake-azure: ${action} is not implemented`}
    }
  }

  private putVm(group: FakeGroup, name: string, body: Record<string, unknown>) {
    const props = (body.properties ?? {}) as Record<string, any>
    const location = String(body.location ?? '')
    const size = String(props.hardwareProfile?.vmSize ?? '')
    const existing = this.live().find((v) => v.group === group.name && v.name === name)
    if (existing) {
      // Create-or-update: the same VM, its tags replaced.
      existing.tags = (body.tags as Record<string, string>) ?? existing.tags
      return {status: 200, body: this.renderVm(existing, false)}
    }
    const sizes = this.options.stock[location]
    if (!sizes || !(size in sizes))
      return {
        status: 409,
        code: 'SkuNotAvailable',
        message: `The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: ${size}' is currently not available in location '${location}'. Please try another size or deploy to a different location or different zone. See https://aka.ms/azureskunotavailable for details.`,
      }
    const info = this.options.sizes[size] ?? {vcpus: 2, family: 'standardDSv3Family'}
    const spot = props.priority === 'Spot'
    const limits = this.options.quotas?.[location] ?? {}
    const used = (pred: (v: FakeAzureVm) => boolean) =>
      this.live()
        .filter((v) => v.location === location && pred(v))
        .reduce((n, v) => n + (this.options.sizes[v.size]?.vcpus ?? 2), 0)
    const metric = spot ? 'lowPriorityCores' : info.family
    const limit = limits[metric]
    if (limit !== undefined) {
      const current = used((v) =>
        spot ? v.priority === 'Spot' : v.priority !== 'Spot' && this.options.sizes[v.size]?.family === info.family,
      )
      if (current + info.vcpus > limit) {
        return {
          status: 409,
          code: 'OperationNotAllowed',
          message: `Operation could not be completed as it results in exceeding approved ${spot ? 'LowPriorityCores' : `${info.family.replace(/Family$/, '')} Family Cores`} quota. Additional details - Deployment Model: Resource Manager, Location: ${location}, Current Limit: ${limit}, Current Usage: ${current}, Additional Required: ${info.vcpus}, (Minimum) New Limit Required: ${current + info.vcpus}. Submit a request for Quota increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView/Parameters/ by specifying parameters listed in the ‘Details’ section for deployment to succeed.`,
        }
      }
    }
    const op = this.newOp()
    const injected = this.injections.take((i) => (!i.action || i.action === 'virtualMachines.createOrUpdate') && i.inOperation === true)
    const vm: FakeAzureVm = {
      id: randomUUID(),
      name,
      group: group.name,
      location,
      size,
      tags: (body.tags as Record<string, string>) ?? {},
      body,
      priority: String(props.priority ?? 'Regular'),
      provisioningState: 'Creating',
      powerState: 'starting',
      timeCreated: new Date(this.now()).toISOString(),
      process: null,
      deleted: false,
      events: [],
      nics: [],
    }
    const fail = (code: string, message: string) => {
      op.status = 'Failed'
      op.error = {code, message}
    }
    if (injected) fail(injected.code, injected.message)
    else if (sizes[size] <= 0)
      fail(
        'AllocationFailed',
        'Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance',
      )
    const headers = {'azure-asyncoperation': this.opUrl(location, op), 'retry-after': '10'}
    if (op.error) return {status: 201, body: this.renderVm(vm, false), headers, opError: op.error.code}
    sizes[size] -= 1
    this.vms.set(vm.id, vm)
    // The VM makes its NICs at once, each with the next free address of the subnet.
    const configs = (props.networkProfile?.networkInterfaceConfigurations ?? []) as Array<{name: string; properties?: {primary?: boolean}}>
    for (const config of configs) {
      group.lastHost += 1
      const nic: FakeNic = {
        name: config.name,
        group: group.name,
        location,
        vm: name,
        privateIp: `10.0.0.${group.lastHost}`,
        primary: config.properties?.primary === true,
      }
      this.nics.set(`${group.name}/${nic.name}`, nic)
      vm.nics.push(nic.name)
    }
    this.later(this.options.provisioningMs ?? 30, () => {
      if (vm.deleted) return
      op.status = 'Succeeded'
      vm.provisioningState = 'Succeeded'
      vm.powerState = 'running'
      this.boot(vm)
    })
    return {status: 201, body: this.renderVm(vm, false), headers}
  }

  private renderGroup(g: FakeGroup): Record<string, unknown> {
    return {
      id: `/subscriptions/${this.options.subscriptionId}/resourceGroups/${g.name}`,
      name: g.name,
      type: 'Microsoft.Resources/resourceGroups',
      location: g.location,
      tags: g.tags,
      properties: {provisioningState: g.provisioningState},
    }
  }

  private renderVm(vm: FakeAzureVm, instanceView: boolean): Record<string, unknown> {
    const props = (vm.body.properties ?? {}) as Record<string, any>
    return {
      name: vm.name,
      id: `/subscriptions/${this.options.subscriptionId}/resourceGroups/${vm.group}/providers/Microsoft.Compute/virtualMachines/${vm.name}`,
      type: 'Microsoft.Compute/virtualMachines',
      location: vm.location,
      tags: vm.tags,
      properties: {
        vmId: vm.id,
        hardwareProfile: {vmSize: vm.size},
        storageProfile: props.storageProfile,
        osProfile: {...props.osProfile, customData: undefined},
        networkProfile: {
          ...props.networkProfile,
          networkInterfaces: vm.nics.map((nic) => ({
            id: `/subscriptions/${this.options.subscriptionId}/resourceGroups/${vm.group}/providers/Microsoft.Network/networkInterfaces/${nic}`,
            properties: {primary: this.nics.get(`${vm.group}/${nic}`)?.primary ?? false, deleteOption: 'Delete'},
          })),
        },
        ...(props.proximityPlacementGroup ? {proximityPlacementGroup: props.proximityPlacementGroup} : {}),
        ...(props.availabilitySet ? {availabilitySet: props.availabilitySet} : {}),
        diagnosticsProfile: props.diagnosticsProfile,
        priority: vm.priority,
        ...(props.evictionPolicy ? {evictionPolicy: props.evictionPolicy} : {}),
        ...(props.billingProfile ? {billingProfile: props.billingProfile} : {}),
        provisioningState: vm.provisioningState,
        timeCreated: vm.timeCreated,
        ...(instanceView
          ? {
              instanceView: {
                computerName: vm.name,
                statuses: [
                  {
                    code: `ProvisioningState/${vm.provisioningState.toLowerCase()}`,
                    level: 'Info',
                    displayStatus: `Provisioning ${vm.provisioningState.toLowerCase()}`,
                  },
                  {code: `PowerState/${vm.powerState}`, level: 'Info', displayStatus: `VM ${vm.powerState}`},
                ],
              },
            }
          : {}),
      },
    }
  }

  private renderNic(nic: FakeNic): Record<string, unknown> {
    const sub = this.options.subscriptionId
    const id = `/subscriptions/${sub}/resourceGroups/${nic.group}/providers/Microsoft.Network/networkInterfaces/${nic.name}`
    return {
      name: nic.name,
      id,
      etag: `W/"${randomUUID()}"`,
      type: 'Microsoft.Network/networkInterfaces',
      location: nic.location,
      properties: {
        provisioningState: 'Succeeded',
        ipConfigurations: [
          {
            name: 'ipconfig1',
            id: `${id}/ipConfigurations/ipconfig1`,
            type: 'Microsoft.Network/networkInterfaces/ipConfigurations',
            properties: {
              provisioningState: 'Succeeded',
              privateIPAddress: nic.privateIp,
              privateIPAllocationMethod: 'Dynamic',
              subnet: {
                id: `/subscriptions/${sub}/resourceGroups/${nic.group}/providers/Microsoft.Network/virtualNetworks/skyhop-vnet/subnets/default`,
              },
              primary: true,
              privateIPAddressVersion: 'IPv4',
            },
          },
        ],
        primary: nic.primary,
        virtualMachine: {id: `/subscriptions/${sub}/resourceGroups/${nic.group}/providers/Microsoft.Compute/virtualMachines/${nic.vm}`},
        nicType: 'Standard',
      },
    }
  }

  // ------------------------------------------------------------------ boot diagnostics blob

  private sign(vmId: string, expiry: string): string {
    return createHmac('sha256', this.blobKey).update(`${vmId}\n${expiry}`).digest('base64')
  }

  private blob(res: ServerResponse, url: URL): void {
    const vm = [...this.vms.values()].find((v) => url.pathname.includes(v.id) && !v.deleted)
    const xml = (status: number, code: string, message: string) => {
      const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`
      res.writeHead(status, {'content-type': 'application/xml', 'content-length': Buffer.byteLength(body)})
      res.end(body)
    }
    if (!vm) return xml(404, 'BlobNotFound', 'The specified blob does not exist.')
    const se = url.searchParams.get('se') ?? ''
    if (url.searchParams.get('sig') !== this.sign(vm.id, se) || Date.parse(se) < this.now())
      return xml(
        403,
        'AuthenticationFailed',
        'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.',
      )
    if (!url.pathname.endsWith('.serialconsole.log')) return xml(404, 'BlobNotFound', 'The specified blob does not exist.')
    const text = super.consoleOf(vm.id)
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': Buffer.byteLength(text),
      'x-ms-blob-type': 'AppendBlob',
    })
    res.end(text)
  }

  // ------------------------------------------------------------------ IMDS

  private imds(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const m = /^\/_imds\/([^/]+)(\/metadata\/.*)$/.exec(url.pathname)
    const attemptId = m ? decodeURIComponent(m[1]) : ''
    const ofAttempt = this.live().filter((v) => v.tags['skyhop-attempt-id'] === attemptId)
    // A gang's VMs share the attempt: the one asking is the one answered.
    const vm = ofAttempt.length > 1 ? askingInstance(req, ofAttempt) : (ofAttempt[0] ?? null)
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, {'content-type': type, 'content-length': Buffer.byteLength(body)})
      res.end(body)
    }
    if (!m || !vm) return send(404, 'text/plain', 'Not Found')
    if (req.headers.metadata !== 'true')
      return send(400, 'application/json', JSON.stringify({error: 'Bad request. Required metadata header not specified'}))
    if (!url.searchParams.get('api-version'))
      return send(400, 'application/json', JSON.stringify({error: 'Bad request. api-version was not specified'}))
    const path = m[2]
    if (path === '/metadata/instance/compute/name') return send(200, 'text/plain', vm.name)
    if (path === '/metadata/instance/compute/tagsList')
      return send(200, 'application/json', JSON.stringify(Object.entries(vm.tags).map(([name, value]) => ({name, value}))))
    if (path === '/metadata/scheduledevents')
      return send(200, 'application/json', JSON.stringify({DocumentIncarnation: 1 + vm.events.length, Events: vm.events}))
    send(404, 'text/plain', 'Not Found')
  }

  // ------------------------------------------------------------------ VMs' lives

  private boot(vm: FakeAzureVm): void {
    const customData = String(((vm.body.properties as Record<string, any>)?.osProfile?.customData as string) ?? '')
    if (!this.options.bootDir || !customData) return
    const child = runUserData(join(this.options.bootDir, vm.id), customData, vm.id)
    vm.process = child
    child.on('exit', () => {
      if (vm.process !== child) return
      vm.process = null
      // A power-off from the guest stops the VM without deallocating it: it still bills.
      if (vm.powerState === 'running') vm.powerState = 'stopped'
    })
  }

  private kill(vm: FakeAzureVm): void {
    const child = vm.process
    vm.process = null
    killGroup(child)
  }

  private removeVm(vm: FakeAzureVm): void {
    if (vm.deleted) return
    this.kill(vm)
    vm.deleted = true
    // deleteOption Delete: the NICs go with the VM.
    for (const nic of vm.nics) this.nics.delete(`${vm.group}/${nic}`)
    const free = this.options.stock[vm.location]
    if (free && vm.size in free) free[vm.size] += 1
  }
}

const ARM_ACTIONS: Record<string, string> = {
  'resourceGroups.createOrUpdate': 'Microsoft.Resources/subscriptions/resourceGroups/write',
  'resourceGroups.delete': 'Microsoft.Resources/subscriptions/resourceGroups/delete',
  'virtualNetworks.createOrUpdate': 'Microsoft.Network/virtualNetworks/write',
  'virtualMachines.createOrUpdate': 'Microsoft.Compute/virtualMachines/write',
  'virtualMachines.get': 'Microsoft.Compute/virtualMachines/read',
  'proximityPlacementGroups.createOrUpdate': 'Microsoft.Compute/proximityPlacementGroups/write',
  'networkInterfaces.get': 'Microsoft.Network/networkInterfaces/read',
  'availabilitySets.createOrUpdate': 'Microsoft.Compute/availabilitySets/write',
}

function actionOf(method: string, path: string): string {
  if (path === '/locations') return 'locations.list'
  if (/\/operations\/[^/]+$/.test(path)) return 'operations.get'
  if (/^\/resourcegroups$/i.test(path)) return 'resourceGroups.list'
  if (/^\/resourcegroups\/[^/]+$/i.test(path))
    return method === 'PUT' ? 'resourceGroups.createOrUpdate' : method === 'DELETE' ? 'resourceGroups.delete' : 'resourceGroups.get'
  if (/\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+$/.test(path)) return 'virtualNetworks.createOrUpdate'
  if (/\/providers\/Microsoft\.Network\/networkInterfaces\/[^/]+$/.test(path) && method === 'GET') return 'networkInterfaces.get'
  if (/\/providers\/Microsoft\.Compute\/proximityPlacementGroups\/[^/]+$/.test(path) && method === 'PUT')
    return 'proximityPlacementGroups.createOrUpdate'
  if (/\/providers\/Microsoft\.Compute\/availabilitySets\/[^/]+$/.test(path) && method === 'PUT') return 'availabilitySets.createOrUpdate'
  if (/\/virtualMachines\/[^/]+\/retrieveBootDiagnosticsData$/.test(path)) return 'virtualMachines.retrieveBootDiagnosticsData'
  if (/\/virtualMachines\/[^/]+$/.test(path))
    return method === 'PUT' ? 'virtualMachines.createOrUpdate' : method === 'PATCH' ? 'virtualMachines.update' : 'virtualMachines.get'
  return `${method} ${path}`
}
