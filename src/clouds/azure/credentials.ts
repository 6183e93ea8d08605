// Azure credentials: a service principal from the environment variables the Azure SDKs'
// EnvironmentCredential reads (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET) and
// the subscription skyhop launches in (AZURE_SUBSCRIPTION_ID), exchanged for an ARM access
// token with the client-credentials grant at the Microsoft identity platform's v2.0 token
// endpoint (`{authority}/{tenant}/oauth2/v2.0/token`, scope
// `https://management.azure.com/.default`). The authority is AZURE_AUTHORITY_HOST (the SDKs'
// variable for sovereign clouds, and a test's fake), else login.microsoftonline.com. Tokens
// last about an hour; CredentialCache renews them five minutes before they expire.
import type {Dispatcher} from 'undici'

import {ProviderError} from '../../errors.js'
import {sendRequest} from '../../http/request.js'
import {registerSecret} from '../../util/redact.js'
import {noCredentialsError, nonEmpty, type LoadedCredentials} from '../common/credentials.js'

const PROVIDER = 'azure'

export const ARM_SCOPE = 'https://management.azure.com/.default'

export interface AzureCredentials {
  accessToken: string
  subscriptionId: string
}

export interface AzureCredentialOptions {
  env: Record<string, string | undefined>
  dispatcher: Dispatcher
  now?: () => Date
}

/** The identity platform's answer to a refused grant: `invalid_client` (AADSTS7000215 a wrong secret), `unauthorized_client`, … */
const AUTH_HINTS: Record<string, string> = {
  invalid_client: 'AZURE_CLIENT_SECRET is wrong or expired: make a new client secret for the app registration',
  unauthorized_client: 'AZURE_CLIENT_ID names no application in this tenant',
  invalid_request: 'check AZURE_TENANT_ID (the directory) and AZURE_CLIENT_ID',
}

export function authorityHost(env: Record<string, string | undefined>): string {
  return (nonEmpty(env.AZURE_AUTHORITY_HOST) ?? 'https://login.microsoftonline.com').replace(/\/$/, '')
}

export async function loadAzureCredentials(options: AzureCredentialOptions): Promise<LoadedCredentials<AzureCredentials>> {
  const {env} = options
  const tenant = nonEmpty(env.AZURE_TENANT_ID)
  const clientId = nonEmpty(env.AZURE_CLIENT_ID)
  const secret = nonEmpty(env.AZURE_CLIENT_SECRET)
  const subscriptionId = nonEmpty(env.AZURE_SUBSCRIPTION_ID)
  if (!tenant || !clientId || !secret) {
    const missing = [!tenant && 'AZURE_TENANT_ID', !clientId && 'AZURE_CLIENT_ID', !secret && 'AZURE_CLIENT_SECRET'].filter(Boolean)
    throw noCredentialsError(
      PROVIDER,
      [`environment (${missing.join(', ')} not set)`],
      'set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET to a service principal (`az ad sp create-for-rbac`)',
    )
  }
  registerSecret(secret)
  if (!subscriptionId) {
    throw new ProviderError(PROVIDER, 'auth', 'AZURE_SUBSCRIPTION_ID is not set: skyhop needs the subscription to launch in', {
      code: 'PROVIDER_BAD_CREDENTIALS',
      hint: '`az account show --query id` prints it',
    })
  }
  const uri = `${authorityHost(env)}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`
  const res = await sendRequest({
    url: uri,
    method: 'POST',
    headers: {'content-type': 'application/x-www-form-urlencoded', accept: 'application/json'},
    body: new URLSearchParams({grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope: ARM_SCOPE}).toString(),
    timeoutMs: 20_000,
    dispatcher: options.dispatcher,
  }).catch((error: unknown) => {
    throw new ProviderError(PROVIDER, 'transient', `token for ${clientId}: ${(error as Error).message}`, {
      code: 'PROVIDER_HTTP',
      cause: error,
    })
  })
  let json: {access_token?: string; expires_in?: number; error?: string; error_description?: string; error_codes?: number[]} = {}
  try {
    json = JSON.parse(res.body) as typeof json
  } catch {
    // Reported with the status below.
  }
  if (res.status === 429 || res.status >= 500)
    throw new ProviderError(PROVIDER, 'transient', `token for ${clientId}: the identity platform answered HTTP ${res.status}`, {
      backendCode: String(res.status),
    })
  if (res.status !== 200 || !json.access_token) {
    const code = json.error ?? `HTTP${res.status}`
    // The description's first line carries the AADSTS code and what it means; the rest is trace ids.
    const description = (json.error_description ?? '').split(/\r?\n/)[0]
    throw new ProviderError(
      PROVIDER,
      'auth',
      `service principal ${clientId} (tenant ${tenant}): ${code}${description ? `: ${description}` : ''}`,
      {
        code: 'PROVIDER_BAD_CREDENTIALS',
        backendCode: code,
        hint: AUTH_HINTS[code] ?? 'check the service principal (`skyhop check`)',
      },
    )
  }
  registerSecret(json.access_token)
  const now = (options.now ?? (() => new Date()))()
  return {
    credentials: {accessToken: json.access_token, subscriptionId},
    source: `environment (AZURE_CLIENT_ID ${clientId})`,
    expiresAt: new Date(now.getTime() + (json.expires_in ?? 3600) * 1000).toISOString(),
  }
}
