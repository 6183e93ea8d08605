// Azure Resource Manager errors onto skyhop's taxonomy. ARM answers a failed call with
// `{"error": {"code", "message", "details": [...]}}` and a failed long-running operation
// ends `{"status": "Failed", "error": {"code", "message"}}`; the code decides. Codes from
// the Azure docs ("Resolve errors for SKU not available", "Troubleshoot allocation
// failures", "Resolve errors for resource quotas", "Understand how ARM throttles
// requests", the Compute error-code list):
//
//   SkuNotAvailable (the size is not offered here / for this subscription), AllocationFailed,
//     ZonalAllocationFailed, OverconstrainedAllocationRequest,
//     OverconstrainedZonalAllocationRequest (no capacity, spot or not)          capacity / offer
//   OperationNotAllowed naming a quota (“… exceeding approved standardNCASv3_T4 Family
//     Cores quota”, “… LowPriorityCores quota”), QuotaExceeded                  quota / region
//   TooManyRequests, SubscriptionRequestsThrottled, 429 (Retry-After honoured),
//     InternalServerError, RetryableError, 5xx, no answer                       transient (retried)
//   InvalidAuthenticationToken*, ExpiredAuthenticationToken, AuthenticationFailed,
//     AuthorizationFailed, LinkedAuthorizationFailed, SubscriptionNotFound,
//     MissingSubscriptionRegistration, ReadOnlyDisabledSubscription               auth / provider
//   LocationNotAvailableForResourceType, NoRegisteredProviderFound             unavailable / region
//   anything else (OperationNotAllowed for another reason, InvalidParameter…)   unavailable / offer
import {ProviderError} from '../../errors.js'
import {redact} from '../../util/redact.js'
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
import type {RetryVerdict} from '../../http/retry.js'

/** ARM answered with its error document, or an operation ended Failed. */
export class AzureApiError extends CloudApiError {
  /** The Retry-After ARM asked for (429 and 503), in ms. */
  retryAfterMs?: number
}

const AUTH: ErrorMapping = {
  category: 'auth',
  scope: 'provider',
  hint: 'check the service principal and its role on the subscription (`skyhop check`)',
}

const QUOTA: ErrorMapping = {
  category: 'quota',
  scope: 'region',
  hint: 'ask for more vCPU quota for this VM family (Subscriptions → Usage + quotas); the message names the family',
}

const AZURE_ERRORS: CloudErrors = {
  provider: 'azure',
  apiError: AzureApiError,
  table: {
    exact: {
      SkuNotAvailable: {category: 'capacity', scope: 'offer', hint: 'this VM size is not offered in this region for this subscription now'},
      AllocationFailed: {category: 'capacity', scope: 'offer'},
      ZonalAllocationFailed: {category: 'capacity', scope: 'offer'},
      OverconstrainedAllocationRequest: {category: 'capacity', scope: 'offer'},
      OverconstrainedZonalAllocationRequest: {category: 'capacity', scope: 'offer'},
      QuotaExceeded: QUOTA,
      TooManyRequests: TRANSIENT,
      SubscriptionRequestsThrottled: TRANSIENT,
      InternalServerError: TRANSIENT,
      RetryableError: TRANSIENT,
      ExpiredAuthenticationToken: AUTH,
      AuthenticationFailed: AUTH,
      AuthorizationFailed: {
        category: 'auth',
        scope: 'provider',
        hint: 'give the service principal the Contributor role on the subscription',
      },
      LinkedAuthorizationFailed: AUTH,
      SubscriptionNotFound: {category: 'auth', scope: 'provider', hint: 'check AZURE_SUBSCRIPTION_ID'},
      MissingSubscriptionRegistration: {
        category: 'auth',
        scope: 'provider',
        hint: 'register Microsoft.Compute and Microsoft.Network on the subscription',
      },
      ReadOnlyDisabledSubscription: AUTH,
      LocationNotAvailableForResourceType: {category: 'unavailable', scope: 'region'},
      NoRegisteredProviderFound: {category: 'unavailable', scope: 'region'},
    },
    rules: [
      ['InvalidAuthenticationToken', AUTH],
      [SERVER_ERROR, TRANSIENT],
      [(_code, status) => status === 429, TRANSIENT],
    ],
  },
}

export function mapAzureCode(code: string, status: number): ErrorMapping {
  return mapErrorCode(AZURE_ERRORS.table, code, status)
}

/** Transient errors are retried, after the Retry-After ARM sent when it sent one. */
export function azureRetryVerdict(error: unknown): boolean | RetryVerdict {
  if (!isRetryableCloudError(AZURE_ERRORS, error)) return false
  return error instanceof AzureApiError && error.retryAfterMs !== undefined ? {retry: true, afterMs: error.retryAfterMs} : true
}

/** OperationNotAllowed is ARM's answer to a quota too; its message says which. */
function isQuotaRefusal(error: AzureApiError): boolean {
  return error.code === 'OperationNotAllowed' && /quota/i.test(error.apiMessage)
}

/** An Azure failure as a ProviderError; anything else is returned unchanged. */
export function toAzureProviderError(error: unknown, ctx: CloudErrorContext): unknown {
  if (error instanceof AzureApiError && isQuotaRefusal(error)) {
    return new ProviderError(
      'azure',
      QUOTA.category,
      redact(`${ctx.action} in ${ctx.region}${ctx.instanceType ? ` (${ctx.instanceType})` : ''}: ${error.message}`),
      {
        scope: QUOTA.scope,
        backendCode: error.code,
        hint: QUOTA.hint,
        details: {
          region: ctx.region,
          ...(ctx.instanceType ? {instanceType: ctx.instanceType} : {}),
          ...(error.requestId ? {requestId: error.requestId} : {}),
        },
        cause: error,
      },
    )
  }
  return toCloudProviderError(AZURE_ERRORS, error, ctx)
}

/** ARM's error document as an AzureApiError. */
export function parseAzureError(status: number, body: string, headers: Record<string, string | string[] | undefined>): AzureApiError {
  let json: {error?: {code?: string; message?: string}; code?: string; message?: string} = {}
  try {
    json = JSON.parse(body) as typeof json
  } catch {
    // No document: the status decides.
  }
  const e = json.error ?? json
  const code = e.code ?? (status === 429 ? 'TooManyRequests' : status >= 500 ? 'InternalServerError' : `HTTP${status}`)
  const requestId = headers['x-ms-request-id']
  const error = new AzureApiError(status, code, e.message ?? `HTTP ${status}`, typeof requestId === 'string' ? requestId : null)
  const after = headers['retry-after']
  if (typeof after === 'string' && /^\d+$/.test(after.trim())) error.retryAfterMs = Number(after) * 1000
  return error
}
