// A FAKE of the Lambda Cloud API v1 (https://cloud.lambda.ai/api/v1): Bearer API keys,
// instance-types with capacity by region, instance-operations/launch (user_data run as
// cloud-init would, on this machine), instances list/get, instance-operations/terminate,
// ssh-keys; errors as Lambda writes them ({"error": {"code", "message", "suggestion"}}):
// global/invalid-api-key (401), instance-operations/launch/insufficient-capacity (400),
// global/quota-exceeded (400), global/object-does-not-exist (404), 429 throttling.
// Each instance gets its own 127.0.0.x address; the fake `ssh` (fake-ssh/ssh) reaches the
// instance's directory through `hosts/<ip>` under the boot directory.
import type {ChildProcess} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {join} from 'node:path'

import {FakeCloudServer, Injections, bootEnv, killGroup, readBody, runUserData, uuid} from './fake-cloud-server.js'

export interface FakeLambdaType {
  vcpus: number
  memoryGiB: number
  gpus: number
  priceCents: number
  description: string
}

export interface FakeLambdaOptions {
  apiKey: string
  /** region → instance type → free slots. */
  stock: Record<string, Record<string, number>>
  types: Record<string, FakeLambdaType>
  sshKeys: string[]
  /** Where instances' user data runs (one directory each); none: user data is not run. */
  bootDir?: string
  /** ms an instance stays `booting`. Default 100. */
  bootMs?: number
  /** Most instances the account may hold at once. */
  quota?: number
  now?: () => number
}

export interface FakeLambdaInstance {
  id: string
  name: string | null
  ip: string
  status: 'booting' | 'active' | 'terminating' | 'terminated'
  region: string
  type: string
  sshKeyNames: string[]
  fileSystemNames: string[]
  userData: string | null
  process: ChildProcess | null
}

type Injection = {path: string; status: number; code: string; message: string; times?: number}

export class FakeLambdaServer extends FakeCloudServer {
  readonly instances: FakeLambdaInstance[] = []
  readonly requests: Array<{method: string; path: string; body: unknown}> = []
  private readonly injections = new Injections<Injection>()
  private nextIp = 10
  protected override readonly trailingSlash = false

  constructor(readonly options: FakeLambdaOptions) {
    super()
  }

  /** The API base a provider is pointed at (LAMBDA_API_URL). */
  get apiUrl(): string {
    return `${this.url}/api/v1`
  }

  /** The next request to `path` (e.g. `/instance-operations/launch`) fails with this Lambda error. */
  inject(injection: Injection): void {
    this.injections.add(injection)
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake')
    const path = url.pathname.replace(/^\/api\/v1/, '')
    const raw = await readBody(req)
    let body: Record<string, unknown> = {}
    if (raw) {
      try {
        body = JSON.parse(raw) as Record<string, unknown>
      } catch {
        return this.error(res, 400, 'global/invalid-parameters', 'request body is not JSON')
      }
    }
    this.requests.push({method: req.method ?? 'GET', path, body})
    if (req.headers.authorization !== `Bearer ${this.options.apiKey}`) {
      return this.error(
        res,
        401,
        'global/invalid-api-key',
        'API key was invalid, expired, or deleted.',
        'Check your API key or create a new one, then try again.',
      )
    }
    const injected = this.injections.take((i) => i.path === path)
    if (injected) return this.error(res, injected.status, injected.code, injected.message)
    this.advance()
    if (req.method === 'GET' && path === '/instance-types') return this.json(res, 200, {data: this.instanceTypes()})
    if (req.method === 'GET' && path === '/ssh-keys') {
      return this.json(res, 200, {
        data: this.options.sshKeys.map((name, i) => ({id: `key-${i}`, name, public_key: 'ssh-ed25519 AAAA fake'})),
      })
    }
    if (req.method === 'GET' && path === '/instances')
      return this.json(res, 200, {data: this.instances.filter((i) => i.status !== 'terminated').map((i) => this.view(i))})
    const one = /^\/instances\/([^/]+)$/.exec(path)
    if (req.method === 'GET' && one) {
      const instance = this.instances.find((i) => i.id === one[1] && i.status !== 'terminated')
      return instance
        ? this.json(res, 200, {data: this.view(instance)})
        : this.error(res, 404, 'global/object-does-not-exist', 'Specified instance does not exist.')
    }
    if (req.method === 'POST' && path === '/instance-operations/launch') return this.launch(res, body)
    if (req.method === 'POST' && path === '/instance-operations/terminate') return this.terminate(res, body)
    return this.error(res, 404, 'global/object-does-not-exist', `no route ${req.method} ${path}`)
  }

  private launch(res: ServerResponse, body: Record<string, unknown>): void {
    const region = body.region_name
    const type = body.instance_type_name
    const keys = body.ssh_key_names
    if (typeof region !== 'string' || typeof type !== 'string' || !Array.isArray(keys) || keys.length !== 1) {
      return this.error(res, 400, 'global/invalid-parameters', 'region_name, instance_type_name and exactly one ssh_key_names are required')
    }
    if (!this.options.types[type]) return this.error(res, 400, 'global/invalid-parameters', `Invalid instance type ${type}`)
    const unknownKey = keys.find((k) => !this.options.sshKeys.includes(String(k)))
    if (unknownKey !== undefined) return this.error(res, 400, 'global/invalid-parameters', `SSH key ${String(unknownKey)} does not exist`)
    if (body.user_data !== undefined && typeof body.user_data !== 'string')
      return this.error(res, 400, 'global/invalid-parameters', 'user_data must be a string')
    const live = this.instances.filter((i) => i.status !== 'terminated').length
    if (this.options.quota !== undefined && live >= this.options.quota) {
      return this.error(
        res,
        400,
        'global/quota-exceeded',
        'Quota exceeded for instance launches.',
        'Contact support to increase your quota.',
      )
    }
    const free = this.options.stock[region]?.[type] ?? 0
    if (free <= 0) {
      return this.error(
        res,
        400,
        'instance-operations/launch/insufficient-capacity',
        'Not enough capacity to fulfill launch request.',
        'Choose an instance type with more availability, or try again later.',
      )
    }
    this.options.stock[region][type] = free - 1
    const instance: FakeLambdaInstance = {
      id: uuid().replace(/-/g, ''),
      name: typeof body.name === 'string' ? body.name : null,
      ip: `127.0.0.${this.nextIp++}`,
      status: 'booting',
      region,
      type,
      sshKeyNames: keys.map(String),
      fileSystemNames: Array.isArray(body.file_system_names) ? body.file_system_names.map(String) : [],
      userData: typeof body.user_data === 'string' ? body.user_data : null,
      process: null,
    }
    this.instances.push(instance)
    this.later(this.options.bootMs ?? 100, () => this.boot(instance))
    this.json(res, 200, {data: {instance_ids: [instance.id]}})
  }

  private boot(instance: FakeLambdaInstance): void {
    if (instance.status !== 'booting') return
    instance.status = 'active'
    const bootDir = this.options.bootDir
    if (!bootDir || instance.userData === null) return
    const dir = join(bootDir, instance.id)
    mkdirSync(join(bootDir, 'hosts'), {recursive: true})
    writeFileSync(join(bootDir, 'hosts', instance.ip), dir)
    // As cloud-init: the user data as given (Lambda takes it as text), in the instance's directory.
    instance.process = runUserData(dir, Buffer.from(instance.userData).toString('base64'), instance.id, {...bootEnv(dir), HOME: dir})
  }

  private terminate(res: ServerResponse, body: Record<string, unknown>): void {
    const ids = Array.isArray(body.instance_ids) ? body.instance_ids.map(String) : []
    const found = ids.map((id) => this.instances.find((i) => i.id === id && i.status !== 'terminated'))
    if (ids.length === 0 || found.some((i) => !i))
      return this.error(res, 404, 'global/object-does-not-exist', 'Specified instance does not exist.')
    for (const instance of found as FakeLambdaInstance[]) {
      instance.status = 'terminating'
      killGroup(instance.process)
      instance.process = null
      const stock = this.options.stock[instance.region]
      if (stock && instance.type in stock) stock[instance.type] += 1
      this.later(50, () => (instance.status = 'terminated'))
    }
    this.json(res, 200, {data: {terminated_instances: (found as FakeLambdaInstance[]).map((i) => this.view(i))}})
  }

  private advance(): void {
    // Boot timers move instances; nothing else changes with time here.
  }

  private instanceTypes(): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    for (const [name, t] of Object.entries(this.options.types)) {
      const regions = Object.entries(this.options.stock)
        .filter(([, types]) => (types[name] ?? 0) > 0)
        .map(([region]) => ({name: region, description: region}))
      out[name] = {
        instance_type: {
          name,
          description: t.description,
          gpu_description: t.description,
          price_cents_per_hour: t.priceCents,
          specs: {vcpus: t.vcpus, memory_gib: t.memoryGiB, storage_gib: 512, gpus: t.gpus},
        },
        regions_with_capacity_available: regions,
      }
    }
    return out
  }

  private view(i: FakeLambdaInstance): Record<string, unknown> {
    const t = this.options.types[i.type]
    return {
      id: i.id,
      name: i.name,
      ip: i.status === 'booting' ? null : i.ip,
      private_ip: i.status === 'booting' ? null : i.ip,
      status: i.status,
      ssh_key_names: i.sshKeyNames,
      file_system_names: i.fileSystemNames,
      region: {name: i.region, description: i.region},
      instance_type: {name: i.type, description: t?.description ?? i.type, price_cents_per_hour: t?.priceCents ?? 0},
      hostname: i.ip.replace(/\./g, '-'),
      is_reserved: false,
    }
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, {'content-type': 'application/json'})
    res.end(JSON.stringify(body))
  }

  private error(res: ServerResponse, status: number, code: string, message: string, suggestion?: string): void {
    this.json(res, status, {error: {code, message, ...(suggestion ? {suggestion} : {})}})
  }

  protected crashed(res: ServerResponse, error: Error): void {
    if (!res.headersSent) this.error(res, 500, 'global/internal-error', error.message)
    else res.end()
  }

  protected killInstances(): void {
    for (const i of this.instances) {
      killGroup(i.process)
      i.process = null
    }
  }
}
