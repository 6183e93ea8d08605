// AWS STS over the Query API, for the credential chain's role profiles: AssumeRole
// (role_arn + source_profile / credential_source) and AssumeRoleWithWebIdentity
// (web_identity_token_file, as on EKS). Returned secrets are registered for redaction.
import type {Dispatcher} from 'undici'

import {ProviderError} from '../../errors.js'
import {registerSecret} from '../../util/redact.js'
import type {LoadedCredentials} from '../common/credentials.js'
import {stsEndpoint, type Env} from './endpoints.js'
import {queryCall} from './query-client.js'
import type {AwsCredentials} from './sigv4.js'
import {at, textAt, type XmlElement} from './xml.js'

export const STS_VERSION = '2011-06-15'

export interface StsContext {
  env: Env
  dispatcher: Dispatcher
  timeoutMs: number
  /** Region of the regional STS endpoint; the global endpoint when absent. */
  region?: string
  now?: () => Date
}

function credentialsFrom(result: XmlElement | undefined, action: string): {credentials: AwsCredentials; expiresAt: string | null} {
  const c = at(result, 'Credentials')
  const accessKeyId = textAt(c, 'AccessKeyId')
  const secretAccessKey = textAt(c, 'SecretAccessKey')
  const sessionToken = textAt(c, 'SessionToken')
  if (!accessKeyId || !secretAccessKey || !sessionToken) throw new ProviderError('aws', 'auth', `STS ${action} returned no credentials`)
  registerSecret(accessKeyId)
  registerSecret(secretAccessKey)
  registerSecret(sessionToken)
  const expiresAt = textAt(c, 'Expiration') ?? null
  return {credentials: {accessKeyId, secretAccessKey, sessionToken, ...(expiresAt ? {expiration: expiresAt} : {})}, expiresAt}
}

export interface AssumeRoleInput {
  roleArn: string
  sessionName: string
  externalId?: string
  durationSeconds?: number
}

export async function assumeRole(
  base: AwsCredentials,
  input: AssumeRoleInput,
  ctx: StsContext,
): Promise<Omit<LoadedCredentials<AwsCredentials>, 'source'>> {
  const params: Array<[string, string]> = [
    ['RoleArn', input.roleArn],
    ['RoleSessionName', input.sessionName],
  ]
  if (input.externalId) params.push(['ExternalId', input.externalId])
  if (input.durationSeconds) params.push(['DurationSeconds', String(input.durationSeconds)])
  const region = ctx.region ?? 'us-east-1'
  const root = await queryCall({
    endpoint: stsEndpoint(ctx.region, ctx.env).url,
    region,
    service: 'sts',
    action: 'AssumeRole',
    version: STS_VERSION,
    params,
    credentials: base,
    dispatcher: ctx.dispatcher,
    timeoutMs: ctx.timeoutMs,
    now: ctx.now,
  })
  return credentialsFrom(at(root, 'AssumeRoleResult'), 'AssumeRole')
}

export async function assumeRoleWithWebIdentity(
  input: AssumeRoleInput & {webIdentityToken: string},
  ctx: StsContext,
): Promise<Omit<LoadedCredentials<AwsCredentials>, 'source'>> {
  registerSecret(input.webIdentityToken)
  const params: Array<[string, string]> = [
    ['RoleArn', input.roleArn],
    ['RoleSessionName', input.sessionName],
    ['WebIdentityToken', input.webIdentityToken],
  ]
  if (input.durationSeconds) params.push(['DurationSeconds', String(input.durationSeconds)])
  const root = await queryCall({
    endpoint: stsEndpoint(ctx.region, ctx.env).url,
    region: ctx.region ?? 'us-east-1',
    service: 'sts',
    action: 'AssumeRoleWithWebIdentity',
    version: STS_VERSION,
    params,
    credentials: null,
    dispatcher: ctx.dispatcher,
    timeoutMs: ctx.timeoutMs,
    now: ctx.now,
  })
  return credentialsFrom(at(root, 'AssumeRoleWithWebIdentityResult'), 'AssumeRoleWithWebIdentity')
}
