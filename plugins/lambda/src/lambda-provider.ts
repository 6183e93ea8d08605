// Lambda Cloud (https://cloud.lambda.ai/api/v1, docs/providers/lambda.md) as a skyhop
// provider. REST with the API key as a Bearer token: launch (instance-operations/launch, with
// the boot script as cloud-init user_data), the instance list for polls and the orphan sweep,
// terminate. Lambda has no console-output API and no guest agent, so the status and log
// channel is SSH with the user's key (the key named at launch): the boot script mirrors the
// runner's events and output to a file, read back with `sudo cat`, and a stop request is
// the boot script's stopRequestScript run through `sudo bash -s`. Lambda has no spot market:
// a preemption notice is skyhop's own (`skyhop preempt`), delivered through the same path.
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'

import type {
  CheckResult,
  HttpClient as HttpClientType,
  LaunchHandle,
  LaunchRequest,
  LogOptions,
  OwnedQuery,
  PollResult,
  Offer,
  Provider,
  ProviderError as ProviderErrorType,
  ProviderErrorCategory,
  BlockScope,
} from 'skyhop/provider'

import {loadApiKey, LOOKED} from './credentials.js'
import {LAMBDA_ACCELERATORS, offersFrom, type LambdaInstanceType} from './instance-types.js'

type Kit = typeof import('skyhop/provider')

export const DEFAULT_API_URL = 'https://cloud.lambda.ai/api/v1'
/** The file the boot script mirrors to, instead of a serial console nobody can read. */
export const CONSOLE_FILE = '/var/log/skyhop-console.log'
/** Instance names: `skyhop.<job id>.<attempt id>` (Lambda has no tags to find them by). */
const NAME_PREFIX = 'skyhop.'

export interface LambdaProviderOptions {
  env: NodeJS.ProcessEnv
  userHome: string
  /** Interval of logs({follow}) reads. Default 5 s. */
  consolePollMs?: number
  /** Per HTTP request. Default 30 s. */
  timeoutMs?: number
}

interface LambdaInstance {
  id: string
  name?: string | null
  ip?: string | null
  private_ip?: string | null
  status: 'booting' | 'active' | 'unhealthy' | 'terminating' | 'terminated' | string
  region?: {name: string}
  instance_type?: {name: string}
}

interface LambdaErrorBody {
  error?: {code?: string; message?: string; suggestion?: string}
}

export class LambdaProvider implements Provider {
  readonly name = 'lambda'
  readonly attemptStorage = 'per-instance' as const
  readonly maxNodes = 1
  private readonly api: string
  private http?: HttpClientType
  /** What was last read of each instance's console: an ended report stays the attempt's end after termination. */
  private readonly ended = new Map<string, PollResult>()

  constructor(
    private readonly kit: Kit,
    private readonly options: LambdaProviderOptions,
  ) {
    this.api = (options.env.LAMBDA_API_URL ?? '').trim().replace(/\/+$/, '') || DEFAULT_API_URL
  }

  async check(): Promise<CheckResult> {
    const key = loadApiKey(this.options.env, this.options.userHome)
    if (!key) return {provider: this.name, ok: false, source: null, message: `no API key found (looked at ${LOOKED})`}
    try {
      const types = await this.call<{data: Record<string, unknown>}>('GET', '/instance-types')
      return {
        provider: this.name,
        ok: true,
        source: key.source,
        message: `credentials work: ${Object.keys(types.data ?? {}).length} instance types`,
      }
    } catch (error) {
      const e = error as ProviderErrorType
      return {provider: this.name, ok: false, source: key.source, message: this.kit.redact(e.hint ? `${e.message} (${e.hint})` : e.message)}
    }
  }

  /**
   * The types with capacity now, one offer per region that has it, at Lambda's prices: they
   * replace the catalog's Lambda rows while planning, so a plan goes where capacity is.
   */
  async liveOffers(): Promise<Offer[]> {
    const types = await this.call<{data: Record<string, LambdaInstanceType>}>('GET', '/instance-types')
    return offersFrom(types.data ?? {}, new Date().toISOString().slice(0, 10)).offers
  }

  liveOfferScope(): {regions: readonly string[] | null; accelerators: readonly string[] | null} {
    // '' stands for CPU-only types.
    return {regions: null, accelerators: ['', ...new Set(Object.values(LAMBDA_ACCELERATORS))]}
  }

  async launch(request: LaunchRequest): Promise<LaunchHandle> {
    const {ProviderError, bootScript, readRunnerScript} = this.kit
    if ((request.spec.nodes ?? 1) > 1) {
      throw new ProviderError(this.name, 'unavailable', 'a gang (nodes > 1) cannot launch on Lambda Cloud here', {scope: 'provider'})
    }
    if (request.spot) throw new ProviderError(this.name, 'user', 'Lambda Cloud has no spot instances', {scope: 'provider'})
    if (request.secrets && Object.keys(request.secrets).length > 0 && !request.secretsObject) {
      throw new ProviderError(
        this.name,
        'unavailable',
        "the job has secrets, which reach a cloud instance only through the job's checkpoint store",
        {
          scope: 'provider',
          hint: 'Set checkpoint_store in the job file or the config (docs/job-contract.md).',
        },
      )
    }
    const name = instanceName(request.jobId, request.attemptId)
    // Lambda's launch has no idempotency token: a retried launch finds its instance by name.
    const existing = (await this.instances()).find((i) => i.name === name && i.status !== 'terminated')
    if (existing) return this.handleOf(existing, request)
    const sshKey = await this.sshKeyName()
    const userData = bootScript({
      request,
      runnerScript: await readRunnerScript(),
      noticeSources: [],
      // Stop requests arrive over SSH (signal()): there is no metadata endpoint to poll.
      stopRequestProbe: null,
      consoleDevice: CONSOLE_FILE,
      // Powering off does not end a Lambda instance (or its billing): skyhop terminates it
      // through the API once the attempt has ended (cleanup()).
      shutdownCommand: 'true',
    })
    const fileSystem = (this.options.env.LAMBDA_FILE_SYSTEM ?? '').trim()
    const body = {
      region_name: request.offer.region,
      instance_type_name: request.offer.instanceType,
      ssh_key_names: [sshKey],
      file_system_names: fileSystem ? [fileSystem] : [],
      quantity: 1,
      name,
      user_data: userData,
    }
    const launched = await this.call<{data: {instance_ids: string[]}}>('POST', '/instance-operations/launch', body)
    const id = launched.data?.instance_ids?.[0]
    if (!id) throw new ProviderError(this.name, 'transient', 'the launch answered without an instance id', {code: 'PROVIDER_HTTP'})
    return {
      provider: this.name,
      externalId: id,
      region: request.offer.region,
      zone: null,
      data: {attemptId: request.attemptId, jobId: request.jobId, name},
    }
  }

  async poll(handles: LaunchHandle[]): Promise<Map<string, PollResult>> {
    const out = new Map<string, PollResult>()
    if (handles.length === 0) return out
    const byId = new Map((await this.instances()).map((i) => [i.id, i]))
    await Promise.all(
      handles.map(async (h) => {
        const known = this.ended.get(h.externalId)
        if (known) return out.set(h.externalId, known)
        const instance = byId.get(h.externalId)
        if (!instance || instance.status === 'terminated' || instance.status === 'terminating') {
          return out.set(h.externalId, lost(instance ? `instance ${instance.status}` : 'the instance is gone'))
        }
        if (instance.status === 'booting' || !instance.ip) return out.set(h.externalId, pending('PROVISIONING', 'booting'))
        if (instance.status === 'unhealthy') return out.set(h.externalId, lost('Lambda reports the instance unhealthy'))
        let text: string
        try {
          text = await this.readConsole(instance.ip)
        } catch (error) {
          // sshd not up yet, or a blip: the instance is active, the job not seen yet.
          return out.set(h.externalId, pending('PROVISIONING', `console not readable yet: ${(error as Error).message}`))
        }
        out.set(h.externalId, this.resultOf(h.externalId, text))
      }),
    )
    return out
  }

  async *logs(handle: LaunchHandle, options: LogOptions): AsyncIterable<string> {
    const pollMs = this.options.consolePollMs ?? 5000
    let last = 0
    for (;;) {
      const instance = (await this.instances()).find((i) => i.id === handle.externalId)
      if (!instance?.ip || instance.status === 'terminated') return
      const report = this.kit.parseConsole(await this.readConsole(instance.ip).catch(() => ''))
      const next = this.kit.linesAfter(report, last, (n) => `[skyhop] ${n} lines missing`)
      last = next.last
      yield* next.lines
      if (!options.follow || report.ended || options.signal?.aborted) return
      await new Promise((resolve) => setTimeout(resolve, pollMs))
      if (options.signal?.aborted) return
    }
  }

  async signal(handle: LaunchHandle, kind: 'cancel' | 'preempt', graceSeconds: number): Promise<void> {
    const attemptId = typeof handle.data.attemptId === 'string' ? handle.data.attemptId : null
    if (!attemptId) throw new this.kit.BugError(`lambda: handle ${handle.externalId} has no attemptId`)
    const instance = (await this.instances()).find((i) => i.id === handle.externalId)
    if (!instance?.ip || instance.status !== 'active') {
      // Not running a job yet (or any more): a cancel ends it by terminating.
      if (kind === 'cancel') await this.cleanup(handle)
      return
    }
    await this.ssh(instance.ip, 'sudo bash -s', this.kit.stopRequestScript(attemptId, kind, graceSeconds))
  }

  async cleanup(handle: LaunchHandle): Promise<void> {
    const instance = (await this.instances()).find((i) => i.id === handle.externalId)
    if (!instance || instance.status === 'terminated' || instance.status === 'terminating') return
    // The console's end state, kept for a poll after the instance is gone.
    if (instance.ip && !this.ended.has(handle.externalId))
      this.resultOf(handle.externalId, await this.readConsole(instance.ip).catch(() => ''))
    try {
      await this.call('POST', '/instance-operations/terminate', {instance_ids: [handle.externalId]})
    } catch (error) {
      if ((error as ProviderErrorType).backendCode === 'global/object-does-not-exist') return
      throw error
    }
  }

  async listOwned(query: OwnedQuery = {}): Promise<LaunchHandle[]> {
    const out: LaunchHandle[] = []
    for (const i of await this.instances()) {
      // A terminating instance is already being released: not an orphan.
      if (i.status === 'terminated' || i.status === 'terminating' || !i.name?.startsWith(NAME_PREFIX)) continue
      const [jobId, attemptId] = i.name.slice(NAME_PREFIX.length).split('.')
      if (!jobId || !attemptId) continue
      if (query.attemptId && attemptId !== query.attemptId) continue
      out.push({provider: this.name, externalId: i.id, region: i.region?.name ?? '', zone: null, data: {attemptId, jobId, name: i.name}})
    }
    return out
  }

  /** The attempt's state from its console; an ended one is remembered. */
  private resultOf(id: string, text: string): PollResult {
    const {parseConsole, finalState, eventTime} = this.kit
    const report = parseConsole(text)
    const startedAt = eventTime(report, 'run-start') ?? eventTime(report, 'start')
    if (!report.ended) {
      // RUNNING once the runner started the job: a stop request before that finds no runner to signal.
      const state = eventTime(report, 'run-start') ? 'RUNNING' : 'PROVISIONING'
      return {state, exitCode: null, reason: report.booted ? null : 'booting', startedAt, endedAt: null}
    }
    const end = finalState(report)
    const result: PollResult = {...end, startedAt, endedAt: eventTime(report, 'exit') ?? new Date().toISOString()}
    this.ended.set(id, result)
    return result
  }

  private async readConsole(ip: string): Promise<string> {
    // SKYHOP_BOOT_CONSOLE is never set on a real instance (see the boot script).
    return this.ssh(ip, `sudo cat -- "\${SKYHOP_BOOT_CONSOLE:-${CONSOLE_FILE}}"`)
  }

  /** Runs a command on the instance over SSH with the user's key; stdout, or an error with stderr's last line. */
  private ssh(ip: string, command: string, stdin?: string): Promise<string> {
    const env = this.options.env
    const user = (env.LAMBDA_SSH_USER ?? '').trim() || 'ubuntu'
    const key = this.sshKeyFile()
    const args = [
      ...(key ? ['-i', key] : []),
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=accept-new',
      '-o',
      'ConnectTimeout=10',
      '-o',
      'ServerAliveInterval=10',
      `${user}@${ip}`,
      command,
    ]
    return new Promise((resolve, reject) => {
      const child = spawn('ssh', args, {stdio: ['pipe', 'pipe', 'pipe'], env: process.env})
      let out = ''
      let err = ''
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
      child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')))
      child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')))
      child.on('error', (e) => {
        clearTimeout(timer)
        reject(
          new this.kit.ProviderError(this.name, 'unavailable', `ssh could not run: ${e.message}`, {hint: 'Install an OpenSSH client.'}),
        )
      })
      child.on('close', (code) => {
        clearTimeout(timer)
        if (code === 0) resolve(out)
        else
          reject(
            new this.kit.ProviderError(this.name, 'transient', `ssh ${user}@${ip} exited ${code}: ${err.trim().split('\n').pop() ?? ''}`),
          )
      })
      // ssh that fails to connect exits before reading its input: not this call's error.
      child.stdin.on('error', () => undefined)
      child.stdin.end(stdin ?? '')
    })
  }

  private sshKeyFile(): string | null {
    const given = (this.options.env.LAMBDA_SSH_KEY_FILE ?? '').trim()
    if (given) return given
    for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
      const file = join(this.options.userHome, '.ssh', name)
      if (existsSync(file)) return file
    }
    return null
  }

  /** LAMBDA_SSH_KEY_NAME, else the account's only SSH key. */
  private async sshKeyName(): Promise<string> {
    const given = (this.options.env.LAMBDA_SSH_KEY_NAME ?? '').trim()
    if (given) return given
    const keys = (await this.call<{data: Array<{name: string}>}>('GET', '/ssh-keys')).data ?? []
    if (keys.length === 1) return keys[0].name
    throw new this.kit.ProviderError(
      this.name,
      'user',
      keys.length === 0 ? 'the account has no SSH key, and skyhop reads the job over SSH' : `the account has ${keys.length} SSH keys`,
      {
        scope: 'provider',
        hint: 'Set LAMBDA_SSH_KEY_NAME to the name of the key whose private half LAMBDA_SSH_KEY_FILE (default ~/.ssh/id_ed25519) holds.',
      },
    )
  }

  private async instances(): Promise<LambdaInstance[]> {
    return (await this.call<{data: LambdaInstance[]}>('GET', '/instances')).data ?? []
  }

  /** One API call; Lambda's error document becomes a ProviderError of its category. */
  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const key = loadApiKey(this.options.env, this.options.userHome)
    if (!key) throw new this.kit.ProviderError(this.name, 'auth', `no API key found (looked at ${LOOKED})`)
    this.kit.registerSecret(key.key)
    this.http ??= new this.kit.HttpClient({
      provider: this.name,
      dispatcher: this.kit.createDispatcher({connectTimeoutMs: 10_000}),
      timeoutMs: this.options.timeoutMs ?? 30_000,
      retry: {retries: 3},
    })
    const res = await this.http.request({
      method,
      url: `${this.api}${path}`,
      headers: {
        authorization: `Bearer ${key.key}`,
        accept: 'application/json',
        ...(body === undefined ? {} : {'content-type': 'application/json'}),
      },
      ...(body === undefined ? {} : {body: JSON.stringify(body)}),
      // 429 and 5xx are retried by the client; every other answer is classified here.
      accept: (s) => s < 500 && s !== 429,
    })
    let parsed: unknown
    try {
      parsed = JSON.parse(res.body)
    } catch {
      throw new this.kit.ProviderError(this.name, 'transient', `${method} ${path}: HTTP ${res.status}, response is not JSON`, {
        code: 'PROVIDER_HTTP',
      })
    }
    if (res.status >= 200 && res.status < 300) return parsed as T
    throw this.apiError(method, path, res.status, (parsed as LambdaErrorBody).error)
  }

  private apiError(method: string, path: string, status: number, error: LambdaErrorBody['error']): ProviderErrorType {
    const code = error?.code ?? `http-${status}`
    const {category, scope} = classify(code, status)
    return new this.kit.ProviderError(
      this.name,
      category,
      `${method} ${path}: ${this.kit.redact(error?.message ?? `HTTP ${status}`)} (${code})`,
      {
        backendCode: code,
        ...(scope ? {scope} : {}),
        ...(error?.suggestion ? {hint: this.kit.redact(error.suggestion)} : {}),
      },
    )
  }

  private handleOf(i: LambdaInstance, request: LaunchRequest): LaunchHandle {
    return {
      provider: this.name,
      externalId: i.id,
      region: i.region?.name ?? request.offer.region,
      zone: null,
      data: {attemptId: request.attemptId, jobId: request.jobId, name: i.name},
    }
  }
}

/**
 * Lambda's error codes onto the taxonomy. Capacity is per instance type and region: the
 * failover moves on to the next offer (another type here, or this type elsewhere). The
 * instance quota is the account's, so it blocks the provider.
 */
export function classify(code: string, status: number): {category: ProviderErrorCategory; scope?: BlockScope} {
  if (code.endsWith('/insufficient-capacity')) return {category: 'capacity', scope: 'offer'}
  if (code === 'global/quota-exceeded' || code.endsWith('/quota-exceeded')) return {category: 'quota', scope: 'provider'}
  if (code === 'global/invalid-api-key' || code === 'global/account-inactive' || status === 401 || status === 403) return {category: 'auth'}
  if (code === 'global/object-does-not-exist' || status === 404) return {category: 'unavailable', scope: 'offer'}
  return {category: 'user', scope: 'offer'}
}

export function instanceName(jobId: string, attemptId: string): string {
  return `${NAME_PREFIX}${jobId}.${attemptId}`
}

function pending(state: 'PROVISIONING', reason: string): PollResult {
  return {state, exitCode: null, reason, startedAt: null, endedAt: null}
}

function lost(reason: string): PollResult {
  return {state: 'LOST', exitCode: null, reason, startedAt: null, endedAt: new Date().toISOString()}
}
