// Google Cloud credentials, from the places Google's own libraries look (Application
// Default Credentials), in their order:
//   1. GOOGLE_APPLICATION_CREDENTIALS: a service-account key file (JSON, `type:
//      service_account`) or an authorized-user file;
//   2. gcloud's ADC file, ~/.config/gcloud/application_default_credentials.json (or under
//      CLOUDSDK_CONFIG), as `gcloud auth application-default login` writes it;
//   3. the metadata server of the VM skyhop runs on, only when GCE_METADATA_HOST names it
//      (an offline check cannot tell whether this machine is a GCE VM; the google-auth
//      libraries honour the same variable).
// A service-account key becomes an access token through a self-signed JWT (RS256, with
// node:crypto) exchanged at the key's token_uri (RFC 7523, the jwt-bearer grant); an
// authorized user's refresh token at its token URI; the metadata server hands one out.
// Tokens last an hour; CredentialCache reloads them five minutes before they expire.
// The project is GOOGLE_CLOUD_PROJECT / CLOUDSDK_CORE_PROJECT, else the key's project_id,
// else the ADC file's quota_project_id, else the metadata server's.
import {createSign} from 'node:crypto'

import type {Dispatcher} from 'undici'

import {ProviderError} from '../../errors.js'
import {sendRequest} from '../../http/request.js'
import {registerSecret} from '../../util/redact.js'
import {
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
import type {GcsSigningKey} from './gcs-presign.js'

const PROVIDER = 'gcp'

/** Compute Engine's read-write scope: all skyhop needs (the broader cloud-platform scope also covers it). */
export const COMPUTE_SCOPE = 'https://www.googleapis.com/auth/compute'
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform'

export const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token'

export interface GcpCredentials {
  accessToken: string
  project: string
}

export interface GcpCredentialOptions extends Partial<CredentialContext> {
  dispatcher: Dispatcher
  now?: () => Date
  /** Scopes asked for in the JWT. Default the Compute Engine scope. */
  scopes?: string[]
}

interface ServiceAccountKey {
  type: 'service_account'
  project_id?: string
  private_key_id?: string
  private_key: string
  client_email: string
  token_uri?: string
}

interface AuthorizedUser {
  type: 'authorized_user'
  client_id: string
  client_secret: string
  refresh_token: string
  quota_project_id?: string
  token_uri?: string
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url')
}

/** The signed JWT a service account presents for a token (RFC 7523; Google's "OAuth 2.0 for server to server"). */
export function serviceAccountAssertion(key: ServiceAccountKey, scopes: string[], now: Date): string {
  const iat = Math.floor(now.getTime() / 1000)
  const header = {alg: 'RS256', typ: 'JWT', ...(key.private_key_id ? {kid: key.private_key_id} : {})}
  const claims = {iss: key.client_email, scope: scopes.join(' '), aud: key.token_uri ?? DEFAULT_TOKEN_URI, iat, exp: iat + 3600}
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`
  const signature = createSign('RSA-SHA256').update(signingInput).sign(key.private_key)
  return `${signingInput}.${base64url(signature)}`
}

/** POSTs a form to a token endpoint; the OAuth error (`invalid_grant`, `invalid_scope`) becomes an auth ProviderError. */
async function tokenRequest(
  dispatcher: Dispatcher,
  uri: string,
  form: Record<string, string>,
  what: string,
  now: Date,
): Promise<{token: string; expiresAt: string}> {
  const res = await sendRequest({
    url: uri,
    method: 'POST',
    headers: {'content-type': 'application/x-www-form-urlencoded', accept: 'application/json'},
    body: new URLSearchParams(form).toString(),
    timeoutMs: 20_000,
    dispatcher,
  }).catch((error: unknown) => {
    throw new ProviderError(PROVIDER, 'transient', `${what}: ${(error as Error).message}`, {code: 'PROVIDER_HTTP', cause: error})
  })
  let json: {access_token?: string; expires_in?: number; error?: string; error_description?: string} = {}
  try {
    json = JSON.parse(res.body) as typeof json
  } catch {
    // Reported below with the status.
  }
  if (res.status >= 500 || res.status === 429) {
    throw new ProviderError(PROVIDER, 'transient', `${what}: the token endpoint answered HTTP ${res.status}`, {
      backendCode: String(res.status),
    })
  }
  if (res.status !== 200 || !json.access_token) {
    const code = json.error ?? `HTTP${res.status}`
    throw new ProviderError(PROVIDER, 'auth', `${what}: ${code}${json.error_description ? `: ${json.error_description}` : ''}`, {
      code: 'PROVIDER_BAD_CREDENTIALS',
      backendCode: code,
      hint:
        code === 'invalid_grant'
          ? 'the key was deleted or disabled, or this machine’s clock is off; make a new key (`gcloud iam service-accounts keys create`)'
          : 'check the credentials (`skyhop check`)',
    })
  }
  registerSecret(json.access_token)
  const expiresIn = typeof json.expires_in === 'number' ? json.expires_in : 3600
  return {token: json.access_token, expiresAt: new Date(now.getTime() + expiresIn * 1000).toISOString()}
}

function parseKeyFile(text: string, where: string): ServiceAccountKey | AuthorizedUser {
  let json: Record<string, unknown>
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch {
    throw badCredentialsFile(PROVIDER, where, 'not JSON (expected a service-account key or an authorized-user file)')
  }
  if (json.type === 'service_account') {
    if (typeof json.private_key !== 'string' || typeof json.client_email !== 'string')
      throw badCredentialsFile(PROVIDER, where, 'a service-account key needs private_key and client_email')
    return json as unknown as ServiceAccountKey
  }
  if (json.type === 'authorized_user') {
    if (typeof json.refresh_token !== 'string' || typeof json.client_id !== 'string' || typeof json.client_secret !== 'string')
      throw badCredentialsFile(PROVIDER, where, 'an authorized-user file needs client_id, client_secret and refresh_token')
    return json as unknown as AuthorizedUser
  }
  throw badCredentialsFile(
    PROVIDER,
    where,
    `type ${JSON.stringify(json.type ?? null)} is not supported (a service_account key or an authorized_user file is)`,
  )
}

function projectFromEnv(env: Record<string, string | undefined>): string | undefined {
  return nonEmpty(env.GOOGLE_CLOUD_PROJECT) ?? nonEmpty(env.CLOUDSDK_CORE_PROJECT) ?? nonEmpty(env.GCLOUD_PROJECT)
}

function noProject(where: string): ProviderError {
  return new ProviderError(PROVIDER, 'auth', `no project: ${where} names none and GOOGLE_CLOUD_PROJECT is not set`, {
    code: 'PROVIDER_BAD_CREDENTIALS',
    hint: 'set GOOGLE_CLOUD_PROJECT to the project skyhop launches in',
  })
}

async function fromKeyFile(
  path: string,
  label: string,
  options: GcpCredentialOptions,
  ctx: CredentialContext,
): Promise<LoadedCredentials<GcpCredentials> | null> {
  const text = await readOptionalFile(path)
  if (text === null) return null
  const shown = displayPath(path, ctx.homeDir)
  const key = parseKeyFile(text, shown)
  const now = (options.now ?? (() => new Date()))()
  if (key.type === 'service_account') {
    registerSecret(key.private_key)
    const project = projectFromEnv(ctx.env) ?? nonEmpty(key.project_id)
    if (!project) throw noProject(shown)
    const assertion = serviceAccountAssertion(key, options.scopes ?? [COMPUTE_SCOPE], now)
    const {token, expiresAt} = await tokenRequest(
      options.dispatcher,
      key.token_uri ?? DEFAULT_TOKEN_URI,
      {grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion},
      `service account ${key.client_email} (${shown})`,
      now,
    )
    return {credentials: {accessToken: token, project}, source: `${label}: service account ${key.client_email}`, expiresAt}
  }
  registerSecret(key.refresh_token)
  registerSecret(key.client_secret)
  const project = projectFromEnv(ctx.env) ?? nonEmpty(key.quota_project_id)
  if (!project) throw noProject(shown)
  const {token, expiresAt} = await tokenRequest(
    options.dispatcher,
    key.token_uri ?? DEFAULT_TOKEN_URI,
    {grant_type: 'refresh_token', client_id: key.client_id, client_secret: key.client_secret, refresh_token: key.refresh_token},
    `authorized user (${shown})`,
    now,
  )
  return {credentials: {accessToken: token, project}, source: `${label}: authorized user`, expiresAt}
}

/** The metadata server's base URL when GCE_METADATA_HOST names it. */
export function metadataHost(env: Record<string, string | undefined>): string | undefined {
  const host = nonEmpty(env.GCE_METADATA_HOST)
  if (!host) return undefined
  return /^https?:\/\//.test(host) ? host.replace(/\/$/, '') : `http://${host}`
}

async function fromMetadata(base: string, options: GcpCredentialOptions, env: Record<string, string | undefined>) {
  const get = async (path: string) => {
    const res = await sendRequest({
      url: `${base}/computeMetadata/v1/${path}`,
      method: 'GET',
      headers: {'Metadata-Flavor': 'Google'},
      timeoutMs: 5000,
      dispatcher: options.dispatcher,
    }).catch((error: unknown) => {
      throw new ProviderError(PROVIDER, 'auth', `metadata server ${base}: ${(error as Error).message}`, {
        code: 'PROVIDER_NO_CREDENTIALS',
        cause: error,
      })
    })
    if (res.status !== 200)
      throw new ProviderError(PROVIDER, 'auth', `metadata server ${base}: ${path} answered HTTP ${res.status}`, {
        code: 'PROVIDER_BAD_CREDENTIALS',
      })
    return res.body
  }
  const json = JSON.parse(await get('instance/service-accounts/default/token')) as {access_token?: string; expires_in?: number}
  if (!json.access_token) throw new ProviderError(PROVIDER, 'auth', `metadata server ${base}: no access_token in its answer`)
  registerSecret(json.access_token)
  const project = projectFromEnv(env) ?? (await get('project/project-id')).trim()
  const now = (options.now ?? (() => new Date()))()
  return {
    credentials: {accessToken: json.access_token, project},
    source: 'metadata server (the VM’s service account)',
    expiresAt: new Date(now.getTime() + (json.expires_in ?? 3600) * 1000).toISOString(),
  }
}

/** The ADC file gcloud writes. */
export function adcPath(env: Record<string, string | undefined>, homeDir: string): string {
  const config = nonEmpty(env.CLOUDSDK_CONFIG)
  return config
    ? `${expandHome(config, homeDir)}/application_default_credentials.json`
    : expandHome('~/.config/gcloud/application_default_credentials.json', homeDir)
}

export async function loadGcpCredentials(options: GcpCredentialOptions): Promise<LoadedCredentials<GcpCredentials>> {
  const ctx = defaultContext(options)
  const looked: string[] = []
  const explicit = nonEmpty(ctx.env.GOOGLE_APPLICATION_CREDENTIALS)
  if (explicit) {
    const path = expandHome(explicit, ctx.homeDir)
    const found = await fromKeyFile(path, 'GOOGLE_APPLICATION_CREDENTIALS', options, ctx)
    // Named but missing is the user's mistake, not "look elsewhere".
    if (!found) throw badCredentialsFile(PROVIDER, `GOOGLE_APPLICATION_CREDENTIALS (${explicit})`, 'no such file')
    return found
  }
  looked.push('GOOGLE_APPLICATION_CREDENTIALS')
  const adc = adcPath(ctx.env, ctx.homeDir)
  const fromAdc = await fromKeyFile(adc, `gcloud ADC (${displayPath(adc, ctx.homeDir)})`, options, ctx)
  if (fromAdc) return fromAdc
  looked.push(displayPath(adc, ctx.homeDir))
  const md = metadataHost(ctx.env)
  if (md) return fromMetadata(md, options, ctx.env)
  looked.push('the metadata server (set GCE_METADATA_HOST on a GCE VM)')
  throw noCredentialsError(
    PROVIDER,
    looked,
    'set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run `gcloud auth application-default login`',
  )
}

/**
 * The service-account key that signs Cloud Storage URLs (gcs-presign.ts): the key file named by
 * GOOGLE_APPLICATION_CREDENTIALS, else gcloud's application-default file. A V4 URL is signed
 * with a private key the controller holds, so an authorized-user login or the metadata server,
 * which hold none, cannot sign one: each is refused with what would.
 */
export async function loadGcsSigningKey(options: Partial<CredentialContext> = {}): Promise<LoadedCredentials<GcsSigningKey>> {
  const ctx = defaultContext(options)
  const explicit = nonEmpty(ctx.env.GOOGLE_APPLICATION_CREDENTIALS)
  const path = explicit ? expandHome(explicit, ctx.homeDir) : adcPath(ctx.env, ctx.homeDir)
  const label = explicit ? 'GOOGLE_APPLICATION_CREDENTIALS' : `gcloud ADC (${displayPath(path, ctx.homeDir)})`
  const text = await readOptionalFile(path)
  if (text === null) {
    if (explicit) throw badCredentialsFile(PROVIDER, `GOOGLE_APPLICATION_CREDENTIALS (${explicit})`, 'no such file')
    throw noCredentialsError(
      PROVIDER,
      ['GOOGLE_APPLICATION_CREDENTIALS', displayPath(path, ctx.homeDir)],
      'set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file: signing Cloud Storage URLs needs its private key',
    )
  }
  const key = parseKeyFile(text, displayPath(path, ctx.homeDir))
  if (key.type !== 'service_account') {
    throw new ProviderError(PROVIDER, 'auth', `${label} is an authorized-user login, which holds no key to sign Cloud Storage URLs with`, {
      code: 'PROVIDER_BAD_CREDENTIALS',
      hint: 'set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file (`gcloud iam service-accounts keys create`)',
    })
  }
  registerSecret(key.private_key)
  return {
    credentials: {clientEmail: key.client_email, privateKey: key.private_key},
    source: `${label}: service account ${key.client_email}`,
    expiresAt: null,
  }
}
