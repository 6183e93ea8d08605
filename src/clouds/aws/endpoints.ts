// Where AWS API calls go. The standard overrides apply (AWS_ENDPOINT_URL_<SERVICE>, then
// AWS_ENDPOINT_URL, both ignored when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true) for the
// China partition, VPC endpoints and tests; SKYHOP_AWS_ENDPOINT, skyhop's own per-provider
// override, wins for EC2. Without an override the partition's regional endpoint is used.
import {UsageError} from '../../errors.js'

export type Env = Record<string, string | undefined>

/** `aws-cn` for China regions, else `aws` (GovCloud and ISO partitions use the aws suffix rules below). */
export function dnsSuffix(region: string): string {
  return region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'
}

function configured(service: string, env: Env): string | undefined {
  if ((env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '').toLowerCase() === 'true') return undefined
  const specific = env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`]
  return specific?.trim() || env.AWS_ENDPOINT_URL?.trim() || undefined
}

function checked(url: string, variable: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new UsageError(`${variable} is not a URL: ${url}`, {code: 'ENDPOINT_INVALID'})
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    throw new UsageError(`${variable} must be http(s): ${url}`, {code: 'ENDPOINT_INVALID'})
  return parsed.toString()
}

export interface Endpoint {
  url: string
  /** Which setting chose it, for `skyhop check` and error messages. */
  source: string
}

export function ec2Endpoint(region: string, env: Env): Endpoint {
  if (env.SKYHOP_AWS_ENDPOINT?.trim())
    return {url: checked(env.SKYHOP_AWS_ENDPOINT.trim(), 'SKYHOP_AWS_ENDPOINT'), source: 'SKYHOP_AWS_ENDPOINT'}
  const override = configured('ec2', env)
  if (override)
    return {
      url: checked(override, 'AWS_ENDPOINT_URL(_EC2)'),
      source: env.AWS_ENDPOINT_URL_EC2?.trim() ? 'AWS_ENDPOINT_URL_EC2' : 'AWS_ENDPOINT_URL',
    }
  return {url: `https://ec2.${region}.${dnsSuffix(region)}/`, source: 'default'}
}

export function stsEndpoint(region: string | undefined, env: Env): Endpoint {
  const override = configured('sts', env)
  if (override)
    return {
      url: checked(override, 'AWS_ENDPOINT_URL(_STS)'),
      source: env.AWS_ENDPOINT_URL_STS?.trim() ? 'AWS_ENDPOINT_URL_STS' : 'AWS_ENDPOINT_URL',
    }
  if (!region) return {url: 'https://sts.amazonaws.com/', source: 'default'}
  return {url: `https://sts.${region}.${dnsSuffix(region)}/`, source: 'default'}
}

export function ssoPortalEndpoint(region: string, env: Env): Endpoint {
  const override = configured('sso', env)
  if (override)
    return {
      url: checked(override, 'AWS_ENDPOINT_URL(_SSO)'),
      source: env.AWS_ENDPOINT_URL_SSO?.trim() ? 'AWS_ENDPOINT_URL_SSO' : 'AWS_ENDPOINT_URL',
    }
  return {url: `https://portal.sso.${region}.${dnsSuffix(region)}/`, source: 'default'}
}

/** The `Host` header value for a URL: host plus a non-default port. */
export function hostHeader(url: URL): string {
  return url.host
}
