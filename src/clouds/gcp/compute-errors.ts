// Compute Engine errors onto skyhop's taxonomy. An API call that fails answers
// `{"error": {"code": HTTP, "message", "status", "errors": [{"reason", "domain", "message"}]}}`
// (the reason decides, else the status); a long-running operation that fails ends DONE with
// `"error": {"errors": [{"code", "message"}]}` (the code decides). Codes from the Compute
// Engine docs ("Troubleshooting resource availability errors", "Resource quotas", "API
// rate limits", the v1 Operation reference) and Google's API error model (AIP-193):
//
//   ZONE_RESOURCE_POOL_EXHAUSTED(_WITH_DETAILS), resourcePoolExhausted,
//     UNSUPPORTED_OPERATION with a machine type the zone lacks                capacity / zone
//   QUOTA_EXCEEDED, quotaExceeded (CPUs, GPUs per region: NVIDIA_T4_GPUS…)     quota / region
//     … of the project-wide GPUS_ALL_REGIONS ("Limit: 1.0 globally")           quota / provider
//   rateLimitExceeded, userRateLimitExceeded, RESOURCE_EXHAUSTED (429),
//     backendError, internalError, 5xx, no answer                              transient (retried)
//   insufficientPermissions, ACCESS_TOKEN_SCOPE_INSUFFICIENT, forbidden,
//     PERMISSION_DENIED, authError, UNAUTHENTICATED (401)                      auth / provider
//   accessNotConfigured (the Compute Engine API is off in the project)        auth / provider
//   notFound on the image                                                     unavailable / region
//   anything else                                                             unavailable / offer
import {CloudApiError} from '../common/api-error.js'
import {
  isRetryableCloudError,
  mapErrorCode,
  SERVER_ERROR,
  toCloudProviderError,
  TRANSIENT,
  type CloudErrorContext,
  type CloudErrors,
  type ErrorMapping,
} from '../common/error-mapping.js'

/** Compute Engine answered with its error document, or an operation ended with an error. */
export class GcpApiError extends CloudApiError {}

const SCOPE_HINT =
  'the token lacks the Compute Engine scope: a VM’s service account needs the `compute` or `cloud-platform` access scope; a key needs roles/compute.instanceAdmin.v1'

const GCP_ERRORS: CloudErrors = {
  provider: 'gcp',
  apiError: GcpApiError,
  table: {
    exact: {
      ZONE_RESOURCE_POOL_EXHAUSTED: {category: 'capacity', scope: 'zone'},
      ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS: {category: 'capacity', scope: 'zone'},
      resourcePoolExhausted: {category: 'capacity', scope: 'zone'},
      QUOTA_EXCEEDED: {category: 'quota', scope: 'region', hint: 'ask for more quota: IAM & Admin → Quotas (the message names the metric)'},
      quotaExceeded: {category: 'quota', scope: 'region', hint: 'ask for more quota: IAM & Admin → Quotas (the message names the metric)'},
      rateLimitExceeded: TRANSIENT,
      userRateLimitExceeded: TRANSIENT,
      RESOURCE_EXHAUSTED: TRANSIENT,
      backendError: TRANSIENT,
      internalError: TRANSIENT,
      insufficientPermissions: {category: 'auth', scope: 'provider', hint: SCOPE_HINT},
      ACCESS_TOKEN_SCOPE_INSUFFICIENT: {category: 'auth', scope: 'provider', hint: SCOPE_HINT},
      forbidden: {
        category: 'auth',
        scope: 'provider',
        hint: 'the service account lacks a Compute Engine permission (roles/compute.instanceAdmin.v1)',
      },
      PERMISSION_DENIED: {category: 'auth', scope: 'provider', hint: 'the service account lacks a Compute Engine permission'},
      authError: {category: 'auth', scope: 'provider', hint: 'the access token was refused (`skyhop check`)'},
      UNAUTHENTICATED: {category: 'auth', scope: 'provider', hint: 'the access token was refused (`skyhop check`)'},
      accessNotConfigured: {category: 'auth', scope: 'provider', hint: 'enable the Compute Engine API in the project'},
      SERVICE_DISABLED: {category: 'auth', scope: 'provider', hint: 'enable the Compute Engine API in the project'},
      notFound: {category: 'unavailable', scope: 'region'},
    },
    rules: [
      [/^ZONE_RESOURCE_POOL_EXHAUSTED/, {category: 'capacity', scope: 'zone'}],
      [SERVER_ERROR, TRANSIENT],
      [(_code, status) => status === 429, TRANSIENT],
    ],
  }, // Every region answers the same to a project out of its global GPU quota: block the
  // provider, not one region after another.
  refine: (error, mapped) =>
    mapped.category === 'quota' && /\bGPUS_ALL_REGIONS\b|\bglobally\b/.test(error.message)
      ? {
          category: 'quota',
          scope: 'provider',
          hint: 'the project-wide GPU quota GPUS_ALL_REGIONS is used up, so every region refuses: ask for more under IAM & Admin → Quotas',
        }
      : mapped,
}

export function mapGcpCode(code: string, status: number): ErrorMapping {
  return mapErrorCode(GCP_ERRORS.table, code, status)
}

export function isRetryableGcpError(error: unknown): boolean {
  return isRetryableCloudError(GCP_ERRORS, error)
}

/** A Compute Engine failure as a ProviderError; anything else is returned unchanged. */
export function toGcpProviderError(error: unknown, ctx: CloudErrorContext): unknown {
  return toCloudProviderError(GCP_ERRORS, error, ctx)
}

/** The API's error document as a GcpApiError: the first reason, else the status, else the HTTP status. */
export function parseGcpError(status: number, body: string): GcpApiError {
  let json: {error?: {code?: number; message?: string; status?: string; errors?: Array<{reason?: string; message?: string}>}} = {}
  try {
    json = JSON.parse(body) as typeof json
  } catch {
    return new GcpApiError(status, status >= 500 ? 'backendError' : `HTTP${status}`, `HTTP ${status}: ${body.slice(0, 200)}`, null)
  }
  const e = json.error ?? {}
  const code = e.errors?.[0]?.reason ?? e.status ?? `HTTP${status}`
  return new GcpApiError(status, code, e.message ?? e.errors?.[0]?.message ?? `HTTP ${status}`, null)
}
