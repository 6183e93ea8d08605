// Tencent Cloud API 3.0 error codes onto skyhop's taxonomy (issue 8). Every API answers
// HTTP 200 with `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}` on failure;
// the code decides. Codes as the CVM SDK lists them (tencentcloud-sdk-python-intl-en,
// tencentcloud/cvm/v20170312/errorcodes.py) plus the common ones of API 3.0:
//
//   ResourceInsufficient.*, ResourcesSoldOut.*, ResourceUnavailable.InstanceType,
//     ResourceNotFound.InvalidZoneInstanceType, InvalidParameterValue.ZoneNotSupported,
//     InvalidParameterValue.InsufficientOffering (spot out of stock),
//     LimitExceeded.SpotQuota ("the spot instance offerings are out of stock")  capacity / zone
//   InvalidParameterValue.InsufficientPrice (bid below the spot price)            capacity / offer
//   LimitExceeded.* (other), InstancesQuotaLimitExceeded                          quota / region
//   AuthFailure.*, UnauthorizedOperation*, InvalidAccount.* (balance, unpaid)     auth / provider
//   RequestLimitExceeded*, InternalError*, InternalServerError, 5xx, no answer    transient (retried)
//   InvalidImageId.* (images are regional)                                        unavailable / region
//   anything else                                                                 unavailable / offer
import {ProviderError, type BlockScope, type ProviderErrorCategory} from '../../errors.js'
import {redact} from '../../util/redact.js'
import {HttpTransportError} from '../vm/http.js'

const PROVIDER = 'tencentcloud'

/** A Tencent Cloud API answered with its error document. */
export class TencentApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly apiMessage: string,
    readonly requestId: string | null,
  ) {
    super(redact(`${code}: ${apiMessage}${requestId ? ` (request id ${requestId})` : ''}`))
    this.name = 'TencentApiError'
  }
}

interface Mapping {
  category: ProviderErrorCategory
  scope: BlockScope
  hint?: string
}

const EXACT: Record<string, Mapping> = {
  'ResourceUnavailable.InstanceType': {category: 'capacity', scope: 'zone'},
  'ResourceNotFound.InvalidZoneInstanceType': {category: 'capacity', scope: 'zone', hint: 'this instance type is not sold in this zone'},
  'InvalidParameterValue.ZoneNotSupported': {category: 'capacity', scope: 'zone'},
  'InvalidParameterValue.InsufficientOffering': {category: 'capacity', scope: 'zone'},
  // The SDK describes it as "the spot instance offerings are out of stock": stock, not the account's quota.
  'LimitExceeded.SpotQuota': {category: 'capacity', scope: 'zone'},
  'InvalidParameterValue.InsufficientPrice': {category: 'capacity', scope: 'offer', hint: 'the spot price is above the job’s max price'},
  InstancesQuotaLimitExceeded: {category: 'quota', scope: 'region', hint: 'raise the CVM quota in the console'},
  'AuthFailure.SignatureFailure': {category: 'auth', scope: 'provider', hint: 'check TENCENTCLOUD_SECRET_KEY (`skyhop check`)'},
  'AuthFailure.SecretIdNotFound': {category: 'auth', scope: 'provider', hint: 'check TENCENTCLOUD_SECRET_ID (`skyhop check`)'},
  'AuthFailure.SignatureExpire': {category: 'auth', scope: 'provider', hint: 'this machine’s clock is off by more than five minutes'},
  'AuthFailure.TokenFailure': {category: 'auth', scope: 'provider', hint: 'the session token is invalid or has expired'},
  'AuthFailure.UnauthorizedOperation': {category: 'auth', scope: 'provider', hint: 'the CAM user lacks a CVM permission skyhop needs'},
  'InvalidAccount.InsufficientBalance': {category: 'auth', scope: 'provider', hint: 'the account balance cannot pay for pay-as-you-go instances'},
  'InvalidAccount.UnpaidOrder': {category: 'auth', scope: 'provider', hint: 'the account has unpaid orders'},
}

export function mapTencentCode(code: string, status: number): Mapping {
  const exact = EXACT[code]
  if (exact) return exact
  if (code.startsWith('ResourceInsufficient') || code.startsWith('ResourcesSoldOut')) return {category: 'capacity', scope: 'zone'}
  if (code.startsWith('LimitExceeded')) return {category: 'quota', scope: 'region', hint: 'raise the quota in the CVM console'}
  if (code.startsWith('AuthFailure')) return {category: 'auth', scope: 'provider', hint: 'check the Tencent Cloud credentials (`skyhop check`)'}
  if (code.startsWith('UnauthorizedOperation')) return {category: 'auth', scope: 'provider', hint: 'the CAM user lacks a permission skyhop needs'}
  if (code.startsWith('RequestLimitExceeded') || code.startsWith('InternalError') || code === 'InternalServerError' || code === 'ResourceUnavailable.ServiceUnavailable' || status >= 500) {
    return {category: 'transient', scope: 'none'}
  }
  if (code.startsWith('InvalidImageId')) return {category: 'unavailable', scope: 'region', hint: 'give an image that exists in this region'}
  return {category: 'unavailable', scope: 'offer'}
}

export function isRetryableTencentError(error: unknown): boolean {
  if (error instanceof HttpTransportError) return error.kind !== 'aborted'
  if (error instanceof TencentApiError) return mapTencentCode(error.code, error.status).category === 'transient'
  return false
}

export interface TencentErrorContext {
  action: string
  region: string
  zone?: string | null
  instanceType?: string
}

/** A Tencent failure as a ProviderError; anything else is returned unchanged. */
export function toTencentProviderError(error: unknown, ctx: TencentErrorContext): unknown {
  const where = `${ctx.action} in ${ctx.zone ?? ctx.region}${ctx.instanceType ? ` (${ctx.instanceType})` : ''}`
  const details = {region: ctx.region, ...(ctx.zone ? {zone: ctx.zone} : {}), ...(ctx.instanceType ? {instanceType: ctx.instanceType} : {})}
  if (error instanceof HttpTransportError) return new ProviderError(PROVIDER, 'transient', `${where}: ${error.message}`, {backendCode: error.kind, details, cause: error})
  if (!(error instanceof TencentApiError)) return error
  const m = mapTencentCode(error.code, error.status)
  return new ProviderError(PROVIDER, m.category, redact(`${where}: ${error.message}`), {
    scope: m.scope,
    backendCode: error.code,
    hint: m.hint,
    details: {...details, ...(error.requestId ? {requestId: error.requestId} : {})},
    cause: error,
  })
}
