// AWS credentials from the standard chain, written here because the official
// @aws-sdk/credential-providers are not a dependency. Order, as the SDKs resolve it:
//
//   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
//      skipped when a profile is chosen explicitly (the `profile` option, i.e. skyhop's
//      flag/config). AWS_PROFILE alone does not skip it, as with the AWS CLI.
//   2. the shared files, profile = option ?? AWS_PROFILE ?? `default`:
//      AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials, `[name]`) and AWS_CONFIG_FILE
//      (~/.aws/config, `[profile name]`, `[default]`); the credentials file wins per key.
//      Within a profile: role_arn (AssumeRole from source_profile, or credential_source
//      Environment / Ec2InstanceMetadata / EcsContainer, or web_identity_token_file),
//      then SSO (sso_session or legacy sso_start_url, using the token cached by
//      `aws sso login`), then static keys, then credential_process.
//   3. web identity from AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (EKS IRSA).
//   4. container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI).
//   5. instance role from IMDSv2 (unless AWS_EC2_METADATA_DISABLED=true).
//
// Not supported, with a clear error: mfa_serial (needs a prompt), refreshing an expired
// SSO token (run `aws sso login`), IMDSv1 fallback, `[services]` endpoint sections.
// A profile named explicitly that does not exist is an error, never a silent fall-through.
import {execFile} from 'node:child_process'
import {createHash} from 'node:crypto'
import type {Dispatcher} from 'undici'

import {HttpTransportError, ProviderError} from '../../errors.js'
import {redact, registerSecret} from '../../util/redact.js'
import {
  CredentialCache,
  badCredentialsFile,
  defaultContext,
  displayPath,
  expandHome,
  noCredentialsError,
  nonEmpty,
  readOptionalFile,
  type CredentialContext,
  type LoadedCredentials,
} from '../common/credentials.js'
import {AdapterDispatcher} from '../../http/dispatcher.js'
import {sendRequest} from '../../http/request.js'
import {parseIni} from '../common/ini.js'
import {ssoPortalEndpoint} from './endpoints.js'
import {AwsApiError} from './query-client.js'
import type {AwsCredentials} from './sigv4.js'
import {assumeRole, assumeRoleWithWebIdentity, type StsContext} from './sts.js'

export type {AwsCredentials} from './sigv4.js'

const PROVIDER = 'aws'

export interface AwsCredentialOptions extends Partial<CredentialContext> {
  /** Profile chosen by skyhop's own flag or config; skips the environment keys. */
  profile?: string
  /** For STS, SSO, container and instance metadata calls. Created on demand when absent. */
  dispatcher?: Dispatcher
  /** Deadline of each STS / SSO / container call. Default 5 s. */
  timeoutMs?: number
  /** Deadline of each instance-metadata call; short because off EC2 nothing answers. Default 1 s. */
  imdsTimeoutMs?: number
  /** Runs a credential_process command and returns its stdout. Default: /bin/sh -c, 30 s. */
  runProcess?: (command: string) => Promise<string>
  now?: () => Date
}

type Loaded = LoadedCredentials<AwsCredentials>

interface Profiles {
  /** Merged settings per profile name (credentials file wins). */
  profiles: Map<string, Record<string, string>>
  /** `[sso-session name]` sections of the config file. */
  ssoSessions: Map<string, Record<string, string>>
  /** Which file defined each profile, for the source label. */
  origin: Map<string, string>
  configPath: string
  credentialsPath: string
}

function register(c: AwsCredentials): AwsCredentials {
  registerSecret(c.accessKeyId)
  registerSecret(c.secretAccessKey)
  registerSecret(c.sessionToken)
  return c
}

class Chain {
  private readonly ctx: CredentialContext
  private readonly dispatchers: AdapterDispatcher

  constructor(private readonly options: AwsCredentialOptions) {
    this.ctx = defaultContext(options)
    this.dispatchers = new AdapterDispatcher(options.dispatcher, {connect: {timeout: options.timeoutMs ?? 5000}})
  }

  private get env() {
    return this.ctx.env
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))()
  }

  private dispatcher(): Promise<Dispatcher> {
    return this.dispatchers.get()
  }

  private async sts(region: string | undefined): Promise<StsContext> {
    return {env: this.env, dispatcher: await this.dispatcher(), timeoutMs: this.options.timeoutMs ?? 5000, region, now: this.options.now}
  }

  async resolve(): Promise<Loaded> {
    const looked: string[] = []
    const explicit = nonEmpty(this.options.profile)
    const profileName = explicit ?? nonEmpty(this.env.AWS_PROFILE) ?? 'default'

    if (!explicit) {
      const fromEnv = this.fromEnv()
      if (fromEnv) return fromEnv
      looked.push(this.envNote())
    }

    const files = await this.readProfiles()
    if (files.profiles.has(profileName)) return this.fromProfile(profileName, files, [])
    if (explicit || nonEmpty(this.env.AWS_PROFILE)) {
      throw badCredentialsFile(
        PROVIDER,
        `profile ${profileName}`,
        `not found in ${displayPath(files.credentialsPath, this.ctx.homeDir)} or ${displayPath(files.configPath, this.ctx.homeDir)}`,
      )
    }
    looked.push(
      `profile default in ${displayPath(files.credentialsPath, this.ctx.homeDir)} and ${displayPath(files.configPath, this.ctx.homeDir)}`,
    )

    const webIdentity = await this.fromWebIdentityEnv()
    if (webIdentity) return webIdentity
    looked.push('AWS_WEB_IDENTITY_TOKEN_FILE')

    const container = await this.fromContainer()
    if (container) return container
    looked.push('container credentials')

    if ((this.env.AWS_EC2_METADATA_DISABLED ?? '').toLowerCase() === 'true') looked.push('instance metadata (disabled)')
    else {
      const imds = await this.fromImds(false)
      if (imds) return imds
      looked.push('instance metadata')
    }
    throw noCredentialsError(
      PROVIDER,
      looked,
      'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run `aws configure` / `aws sso login`, or choose a profile with AWS_PROFILE',
    )
  }

  private envNote(): string {
    const id = nonEmpty(this.env.AWS_ACCESS_KEY_ID)
    const secret = nonEmpty(this.env.AWS_SECRET_ACCESS_KEY)
    if (id && !secret) return 'environment (AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not)'
    if (!id && secret) return 'environment (AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not)'
    return 'environment'
  }

  private fromEnv(): Loaded | null {
    const accessKeyId = nonEmpty(this.env.AWS_ACCESS_KEY_ID)
    const secretAccessKey = nonEmpty(this.env.AWS_SECRET_ACCESS_KEY)
    if (!accessKeyId || !secretAccessKey) return null
    const sessionToken = nonEmpty(this.env.AWS_SESSION_TOKEN)
    const expiresAt = nonEmpty(this.env.AWS_CREDENTIAL_EXPIRATION) ?? null
    return {
      credentials: register({accessKeyId, secretAccessKey, ...(sessionToken ? {sessionToken} : {})}),
      source: 'environment (AWS_ACCESS_KEY_ID)',
      expiresAt,
    }
  }

  private async readProfiles(): Promise<Profiles> {
    const credentialsPath = expandHome(nonEmpty(this.env.AWS_SHARED_CREDENTIALS_FILE) ?? '~/.aws/credentials', this.ctx.homeDir)
    const configPath = expandHome(nonEmpty(this.env.AWS_CONFIG_FILE) ?? '~/.aws/config', this.ctx.homeDir)
    const [credText, configText] = await Promise.all([readOptionalFile(credentialsPath), readOptionalFile(configPath)])
    const profiles = new Map<string, Record<string, string>>()
    const origin = new Map<string, string>()
    const ssoSessions = new Map<string, Record<string, string>>()
    if (configText !== null) {
      for (const [section, values] of parseIni(configText)) {
        let name: string | null = null
        if (section === 'default') name = 'default'
        else if (/^profile\s+/.test(section)) name = section.replace(/^profile\s+/, '').trim()
        else if (/^sso-session\s+/.test(section)) ssoSessions.set(section.replace(/^sso-session\s+/, '').trim(), values)
        // Other sections (e.g. `[services x]`, or `[name]` without the prefix) are not profiles in the config file.
        if (name === null) continue
        // `[profile default]` wins over `[default]`, as in the SDKs.
        if (name === 'default' && section === 'default' && profiles.has('default')) continue
        profiles.set(name, {...values})
        origin.set(name, displayPath(configPath, this.ctx.homeDir))
      }
    }
    if (credText !== null) {
      for (const [section, values] of parseIni(credText)) {
        profiles.set(section, {...profiles.get(section), ...values})
        origin.set(section, displayPath(credentialsPath, this.ctx.homeDir))
      }
    }
    return {profiles, ssoSessions, origin, configPath, credentialsPath}
  }

  private async fromProfile(name: string, files: Profiles, visited: string[]): Promise<Loaded> {
    if (visited.includes(name))
      throw badCredentialsFile(PROVIDER, `profile ${name}`, `source_profile cycle (${[...visited, name].join(' → ')})`)
    const p = files.profiles.get(name)
    if (!p) throw badCredentialsFile(PROVIDER, `profile ${name}`, `not found (referenced by profile ${visited[visited.length - 1]})`)
    const where = `profile ${name}`

    if (p.role_arn) return this.fromRoleProfile(name, p, files, visited)

    if (p.sso_session || p.sso_start_url) return this.fromSso(name, p, files)

    const accessKeyId = nonEmpty(p.aws_access_key_id)
    const secretAccessKey = nonEmpty(p.aws_secret_access_key)
    if (accessKeyId || secretAccessKey) {
      if (!accessKeyId || !secretAccessKey)
        throw badCredentialsFile(PROVIDER, where, 'has only one of aws_access_key_id and aws_secret_access_key')
      const sessionToken = nonEmpty(p.aws_session_token)
      return {
        credentials: register({accessKeyId, secretAccessKey, ...(sessionToken ? {sessionToken} : {})}),
        source: `${where} (${files.origin.get(name)})`,
        expiresAt: null,
      }
    }

    if (p.credential_process) return this.fromProcess(name, p.credential_process)

    throw badCredentialsFile(PROVIDER, where, 'has no credentials (no keys, role_arn, sso_session or credential_process)')
  }

  private async fromRoleProfile(name: string, p: Record<string, string>, files: Profiles, visited: string[]): Promise<Loaded> {
    const where = `profile ${name}`
    if (p.mfa_serial)
      throw badCredentialsFile(PROVIDER, where, 'uses mfa_serial, which skyhop cannot prompt for; export temporary credentials instead')
    const region = nonEmpty(p.region) ?? nonEmpty(this.env.AWS_REGION) ?? nonEmpty(this.env.AWS_DEFAULT_REGION)
    const roleArn = p.role_arn
    const sessionName = nonEmpty(p.role_session_name) ?? `skyhop-${this.now().getTime()}`
    const durationSeconds = p.duration_seconds ? Number(p.duration_seconds) : undefined
    let base: Loaded
    let via: string
    if (p.web_identity_token_file) {
      const token = await readOptionalFile(expandHome(p.web_identity_token_file, this.ctx.homeDir))
      if (token === null) throw badCredentialsFile(PROVIDER, where, `web_identity_token_file ${p.web_identity_token_file} does not exist`)
      const out = await this.stsCall(where, async () =>
        assumeRoleWithWebIdentity({roleArn, sessionName, durationSeconds, webIdentityToken: token.trim()}, await this.sts(region)),
      )
      return {...out, source: `${where} (web identity, role ${roleArn})`}
    }
    if (p.source_profile) {
      // A profile may name itself as its source: its own static keys assume the role.
      if (p.source_profile === name) {
        const {role_arn: _r, ...keysOnly} = p
        const selfFiles = {...files, profiles: new Map(files.profiles).set(name, keysOnly)}
        base = await this.fromProfile(name, selfFiles, visited)
      } else base = await this.fromProfile(p.source_profile, files, [...visited, name])
      via = `source profile ${p.source_profile}`
    } else if (p.credential_source) {
      const src = p.credential_source
      const found =
        src === 'Environment'
          ? this.fromEnv()
          : src === 'Ec2InstanceMetadata'
            ? await this.fromImds(true)
            : src === 'EcsContainer'
              ? await this.fromContainer()
              : undefined
      if (found === undefined)
        throw badCredentialsFile(PROVIDER, where, `unknown credential_source ${src} (Environment, Ec2InstanceMetadata or EcsContainer)`)
      if (found === null) throw badCredentialsFile(PROVIDER, where, `credential_source ${src} has no credentials`)
      base = found
      via = `credential_source ${src}`
    } else {
      throw badCredentialsFile(PROVIDER, where, 'has role_arn but no source_profile, credential_source or web_identity_token_file')
    }
    const out = await this.stsCall(where, async () =>
      assumeRole(base.credentials, {roleArn, sessionName, externalId: nonEmpty(p.external_id), durationSeconds}, await this.sts(region)),
    )
    return {...out, source: `${where} (role ${roleArn} via ${via})`}
  }

  /** STS failures are auth failures of the profile; transport failures stay transient. */
  private async stsCall<T>(where: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      if (error instanceof AwsApiError) {
        throw new ProviderError(PROVIDER, error.status >= 500 ? 'transient' : 'auth', `${where}: STS refused: ${error.message}`, {
          backendCode: error.code,
          cause: error,
        })
      }
      if (error instanceof HttpTransportError)
        throw new ProviderError(PROVIDER, 'transient', `${where}: STS: ${error.message}`, {cause: error})
      throw error
    }
  }

  private async fromSso(name: string, p: Record<string, string>, files: Profiles): Promise<Loaded> {
    const where = `profile ${name}`
    let startUrl = nonEmpty(p.sso_start_url)
    let ssoRegion = nonEmpty(p.sso_region)
    let cacheKey = startUrl
    if (p.sso_session) {
      const session = files.ssoSessions.get(p.sso_session)
      if (!session) throw badCredentialsFile(PROVIDER, where, `sso_session ${p.sso_session} has no [sso-session ${p.sso_session}] section`)
      startUrl = nonEmpty(session.sso_start_url)
      ssoRegion = nonEmpty(session.sso_region)
      cacheKey = p.sso_session
    }
    const accountId = nonEmpty(p.sso_account_id)
    const roleName = nonEmpty(p.sso_role_name)
    if (!startUrl || !ssoRegion || !accountId || !roleName || !cacheKey) {
      throw badCredentialsFile(PROVIDER, where, 'SSO needs sso_start_url, sso_region, sso_account_id and sso_role_name')
    }
    const cacheFile = expandHome(`~/.aws/sso/cache/${createHash('sha1').update(cacheKey).digest('hex')}.json`, this.ctx.homeDir)
    const cached = await readOptionalFile(cacheFile)
    const login = `run \`aws sso login --profile ${name}\``
    if (cached === null) throw new ProviderError(PROVIDER, 'auth', `${where}: no SSO token cached; ${login}`, {code: 'PROVIDER_SSO_LOGIN'})
    let token: {accessToken?: string; expiresAt?: string}
    try {
      token = JSON.parse(cached) as typeof token
    } catch {
      throw new ProviderError(PROVIDER, 'auth', `${where}: the cached SSO token is not JSON; ${login}`, {code: 'PROVIDER_SSO_LOGIN'})
    }
    if (!token.accessToken || !token.expiresAt || Date.parse(token.expiresAt) <= this.now().getTime()) {
      throw new ProviderError(PROVIDER, 'auth', `${where}: the SSO session has expired; ${login}`, {code: 'PROVIDER_SSO_LOGIN'})
    }
    registerSecret(token.accessToken)
    const url = new URL('federation/credentials', ssoPortalEndpoint(ssoRegion, this.env).url)
    url.searchParams.set('account_id', accountId)
    url.searchParams.set('role_name', roleName)
    const res = await this.transport(where, 'SSO', async () =>
      sendRequest({
        url: url.toString(),
        method: 'GET',
        headers: [['x-amz-sso_bearer_token', token.accessToken!]],
        timeoutMs: this.options.timeoutMs ?? 5000,
        dispatcher: await this.dispatcher(),
      }),
    )
    if (res.status === 401 || res.status === 403)
      throw new ProviderError(PROVIDER, 'auth', `${where}: SSO refused the token (${res.status}); ${login}`, {code: 'PROVIDER_SSO_LOGIN'})
    if (res.status !== 200)
      throw new ProviderError(PROVIDER, res.status >= 500 ? 'transient' : 'auth', `${where}: SSO GetRoleCredentials answered ${res.status}`)
    const rc = (
      JSON.parse(res.body) as {
        roleCredentials?: {accessKeyId?: string; secretAccessKey?: string; sessionToken?: string; expiration?: number}
      }
    ).roleCredentials
    if (!rc?.accessKeyId || !rc.secretAccessKey) throw new ProviderError(PROVIDER, 'auth', `${where}: SSO returned no role credentials`)
    const expiresAt = rc.expiration ? new Date(rc.expiration).toISOString() : null
    return {
      credentials: register({
        accessKeyId: rc.accessKeyId,
        secretAccessKey: rc.secretAccessKey,
        ...(rc.sessionToken ? {sessionToken: rc.sessionToken} : {}),
        ...(expiresAt ? {expiration: expiresAt} : {}),
      }),
      source: `${where} (SSO, account ${accountId}, role ${roleName})`,
      expiresAt,
    }
  }

  private async transport<T>(where: string, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      if (error instanceof HttpTransportError)
        throw new ProviderError(PROVIDER, 'transient', `${where}: ${what}: ${error.message}`, {cause: error})
      throw error
    }
  }

  private async fromProcess(name: string, command: string): Promise<Loaded> {
    const where = `profile ${name}`
    const run = this.options.runProcess ?? runShell
    let stdout: string
    try {
      stdout = await run(command)
    } catch (error) {
      // The command's own output may hold a secret; redact() removes the registered ones.
      throw new ProviderError(PROVIDER, 'auth', `${where}: credential_process failed: ${redact((error as Error).message)}`)
    }
    let parsed: {Version?: number; AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string; Expiration?: string}
    try {
      parsed = JSON.parse(stdout) as typeof parsed
    } catch {
      throw new ProviderError(PROVIDER, 'auth', `${where}: credential_process did not print JSON`)
    }
    if (parsed.Version !== 1)
      throw new ProviderError(PROVIDER, 'auth', `${where}: credential_process output has Version ${String(parsed.Version)}, expected 1`)
    if (!parsed.AccessKeyId || !parsed.SecretAccessKey)
      throw new ProviderError(PROVIDER, 'auth', `${where}: credential_process output lacks AccessKeyId or SecretAccessKey`)
    if (parsed.Expiration && Date.parse(parsed.Expiration) <= this.now().getTime())
      throw new ProviderError(PROVIDER, 'auth', `${where}: credential_process returned expired credentials`)
    return {
      credentials: register({
        accessKeyId: parsed.AccessKeyId,
        secretAccessKey: parsed.SecretAccessKey,
        ...(parsed.SessionToken ? {sessionToken: parsed.SessionToken} : {}),
        ...(parsed.Expiration ? {expiration: parsed.Expiration} : {}),
      }),
      source: `${where} (credential_process)`,
      expiresAt: parsed.Expiration ?? null,
    }
  }

  private async fromWebIdentityEnv(): Promise<Loaded | null> {
    const file = nonEmpty(this.env.AWS_WEB_IDENTITY_TOKEN_FILE)
    const roleArn = nonEmpty(this.env.AWS_ROLE_ARN)
    if (!file || !roleArn) return null
    const token = await readOptionalFile(expandHome(file, this.ctx.homeDir))
    if (token === null) throw badCredentialsFile(PROVIDER, 'AWS_WEB_IDENTITY_TOKEN_FILE', `${file} does not exist`)
    const region = nonEmpty(this.env.AWS_REGION) ?? nonEmpty(this.env.AWS_DEFAULT_REGION)
    const sessionName = nonEmpty(this.env.AWS_ROLE_SESSION_NAME) ?? `skyhop-${this.now().getTime()}`
    const out = await this.stsCall('web identity', async () =>
      assumeRoleWithWebIdentity({roleArn, sessionName, webIdentityToken: token.trim()}, await this.sts(region)),
    )
    return {...out, source: `web identity (AWS_WEB_IDENTITY_TOKEN_FILE, role ${roleArn})`}
  }

  private async fromContainer(): Promise<Loaded | null> {
    const relative = nonEmpty(this.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)
    const full = nonEmpty(this.env.AWS_CONTAINER_CREDENTIALS_FULL_URI)
    if (!relative && !full) return null
    const url = relative ? new URL(relative, 'http://169.254.170.2') : new URL(full!)
    if (!relative && url.protocol === 'http:' && !isAllowedContainerHost(url.hostname)) {
      throw badCredentialsFile(
        PROVIDER,
        'AWS_CONTAINER_CREDENTIALS_FULL_URI',
        `plain http is only allowed to loopback or the ECS/EKS agent addresses, not ${url.hostname}`,
      )
    }
    let auth = nonEmpty(this.env.AWS_CONTAINER_AUTHORIZATION_TOKEN)
    const authFile = nonEmpty(this.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)
    if (authFile) auth = (await readOptionalFile(authFile))?.trim() ?? auth
    registerSecret(auth)
    const variable = relative ? 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI' : 'AWS_CONTAINER_CREDENTIALS_FULL_URI'
    const res = await this.transport('container credentials', variable, async () =>
      sendRequest({
        url: url.toString(),
        method: 'GET',
        headers: auth ? [['Authorization', auth]] : [],
        timeoutMs: this.options.timeoutMs ?? 5000,
        dispatcher: await this.dispatcher(),
      }),
    )
    if (res.status !== 200) throw new ProviderError(PROVIDER, 'auth', `container credentials endpoint answered ${res.status}`)
    return {...parseMetadataCredentials(res.body, 'container credentials'), source: `container credentials (${variable})`}
  }

  /** IMDSv2: token, role name, role credentials. null when no metadata service answers. */
  private async fromImds(required: boolean): Promise<Loaded | null> {
    const mode = (this.env.AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE ?? '').toLowerCase()
    const base =
      nonEmpty(this.env.AWS_EC2_METADATA_SERVICE_ENDPOINT) ?? (mode === 'ipv6' ? 'http://[fd00:ec2::254]' : 'http://169.254.169.254')
    const timeoutMs = this.options.imdsTimeoutMs ?? 1000
    const dispatcher = await this.dispatcher()
    const call = (path: string, method: string, headers: Array<[string, string]>) =>
      sendRequest({url: new URL(path, base).toString(), method, headers, timeoutMs, dispatcher})
    let token: string
    try {
      const res = await call('/latest/api/token', 'PUT', [['X-aws-ec2-metadata-token-ttl-seconds', '21600']])
      if (res.status !== 200) {
        if (required) throw new ProviderError(PROVIDER, 'auth', `instance metadata refused a session token (${res.status})`)
        return null
      }
      token = res.body.trim()
    } catch (error) {
      if (error instanceof HttpTransportError && !required) return null
      if (error instanceof HttpTransportError)
        throw new ProviderError(PROVIDER, 'auth', `instance metadata: ${error.message}`, {cause: error})
      throw error
    }
    registerSecret(token)
    const tokenHeader: Array<[string, string]> = [['X-aws-ec2-metadata-token', token]]
    const list = await this.transport('instance metadata', 'IMDS', () =>
      call('/latest/meta-data/iam/security-credentials/', 'GET', tokenHeader),
    )
    const role = list.status === 200 ? list.body.split('\n')[0]?.trim() : undefined
    if (!role) {
      if (required) throw new ProviderError(PROVIDER, 'auth', 'this instance has no IAM role attached')
      return null
    }
    const res = await this.transport('instance metadata', 'IMDS', () =>
      call(`/latest/meta-data/iam/security-credentials/${encodeURIComponent(role)}`, 'GET', tokenHeader),
    )
    if (res.status !== 200) throw new ProviderError(PROVIDER, 'auth', `instance metadata answered ${res.status} for role ${role}`)
    return {...parseMetadataCredentials(res.body, `instance role ${role}`), source: `instance role ${role} (IMDSv2)`}
  }
}

function isAllowedContainerHost(host: string): boolean {
  return (
    host === 'localhost' ||
    host === '169.254.170.2' ||
    host === '169.254.170.23' ||
    host === '[fd00:ec2::23]' ||
    /^127\./.test(host) ||
    host === '[::1]'
  )
}

/** The JSON shape shared by IMDS and the container endpoint. */
function parseMetadataCredentials(body: string, what: string): Omit<Loaded, 'source'> {
  let j: {Code?: string; AccessKeyId?: string; SecretAccessKey?: string; Token?: string; Expiration?: string}
  try {
    j = JSON.parse(body) as typeof j
  } catch {
    throw new ProviderError(PROVIDER, 'auth', `${what}: the answer is not JSON`)
  }
  if ((j.Code && j.Code !== 'Success') || !j.AccessKeyId || !j.SecretAccessKey)
    throw new ProviderError(PROVIDER, 'auth', `${what}: no usable credentials (${j.Code ?? 'missing keys'})`)
  return {
    credentials: register({
      accessKeyId: j.AccessKeyId,
      secretAccessKey: j.SecretAccessKey,
      ...(j.Token ? {sessionToken: j.Token} : {}),
      ...(j.Expiration ? {expiration: j.Expiration} : {}),
    }),
    expiresAt: j.Expiration ?? null,
  }
}

function runShell(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], {timeout: 30_000, maxBuffer: 1024 * 1024}, (error, stdout) => {
      if (error) reject(new Error(`exit ${String((error as NodeJS.ErrnoException & {code?: unknown}).code ?? 'error')}`))
      else resolve(stdout)
    })
  })
}

/** Resolves AWS credentials once through the chain described at the top of this file. */
export async function loadAwsCredentials(options: AwsCredentialOptions = {}): Promise<LoadedCredentials<AwsCredentials>> {
  return new Chain(options).resolve()
}

/** A cache over the chain that reloads temporary credentials five minutes before they expire. */
export function awsCredentialCache(options: AwsCredentialOptions = {}): CredentialCache<AwsCredentials> {
  return new CredentialCache(() => loadAwsCredentials(options), {now: options.now ? () => options.now!().getTime() : undefined})
}
