// Alibaba Cloud ECS error codes onto skyhop's taxonomy (issue 8):
//
//   OperationDenied.NoStock, zone-not-on-sale / type-not-in-zone codes   capacity / zone
//   InvalidSpotPriceLimit.LowerThanPublicPrice (spot price above limit)  capacity / offer
//   QuotaExceed.*                                                        quota / region
//   InvalidAccessKeyId.*, SignatureDoesNotMatch, IncompleteSignature,
//     InvalidSecurityToken.*, Forbidden*, arrears / balance codes         auth / provider
//   Throttling*, ServiceUnavailable, InternalError, any 5xx, no answer   transient (retried)
//   InvalidImageId.NotFound (images are regional)                        unavailable / region
//   anything else                                                        unavailable / offer
import {ProviderError, type BlockScope, type ProviderErrorCategory} from '../../errors.js'
import {redact} from '../../util/redact.js'
import {HttpTransportError} from '../vm/http.js'

const PROVIDER = 'aliyun'

/** An ECS API answered with its JSON error document. */
export class AliyunApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly apiMessage: string,
    readonly requestId: string | null,
  ) {
    super(redact(`${code}: ${apiMessage}${requestId ? ` (request id ${requestId})` : ''}`))
    this.name = 'AliyunApiError'
  }
}

interface Mapping {
  category: ProviderErrorCategory
  scope: BlockScope
  hint?: string
}

const EXACT: Record<string, Mapping> = {
  'OperationDenied.NoStock': {category: 'capacity', scope: 'zone'},
  'Zone.NotOnSale': {category: 'capacity', scope: 'zone'},
  'Zone.NotOpen': {category: 'capacity', scope: 'zone'},
  'InvalidZoneId.NotFound': {category: 'capacity', scope: 'zone'},
  'InvalidInstanceType.ZoneNotSupported': {category: 'capacity', scope: 'zone'},
  'InvalidInstanceType.NotSupported': {category: 'capacity', scope: 'zone'},
  'InvalidResourceType.NotSupported': {category: 'capacity', scope: 'zone'},
  'ResourceNotAvailable': {category: 'capacity', scope: 'zone'},
  'InvalidSpotPriceLimit.LowerThanPublicPrice': {category: 'capacity', scope: 'offer', hint: 'the spot price is above the job’s max price'},
  SignatureDoesNotMatch: {category: 'auth', scope: 'provider', hint: 'check ALIBABA_CLOUD_ACCESS_KEY_SECRET'},
  IncompleteSignature: {category: 'auth', scope: 'provider'},
  'InvalidSecurityToken.Expired': {category: 'auth', scope: 'provider', hint: 'the STS token has expired'},
  'InvalidSecurityToken.Malformed': {category: 'auth', scope: 'provider'},
  'InvalidAccount.NotEnoughBalance': {category: 'auth', scope: 'provider', hint: 'the account balance cannot pay for pay-as-you-go instances'},
  'Account.Arrearage': {category: 'auth', scope: 'provider', hint: 'the account is in arrears'},
  'InvalidImageId.NotFound': {category: 'unavailable', scope: 'region', hint: 'images are regional; give an image that exists in this region'},
}

export function mapAliyunCode(code: string, status: number): Mapping {
  const exact = EXACT[code]
  if (exact) return exact
  if (code.startsWith('QuotaExceed')) return {category: 'quota', scope: 'region', hint: 'raise the quota in the ECS console (Quota Center)'}
  if (code.startsWith('InvalidAccessKeyId')) return {category: 'auth', scope: 'provider', hint: 'check ALIBABA_CLOUD_ACCESS_KEY_ID (`skyhop check`)'}
  if (code.startsWith('Forbidden')) return {category: 'auth', scope: 'provider', hint: 'the RAM user lacks an ECS permission skyhop needs'}
  if (code.startsWith('Throttling') || code === 'ServiceUnavailable' || code === 'InternalError' || status >= 500) return {category: 'transient', scope: 'none'}
  return {category: 'unavailable', scope: 'offer'}
}

export function isRetryableAliyunError(error: unknown): boolean {
  if (error instanceof HttpTransportError) return error.kind !== 'aborted'
  if (error instanceof AliyunApiError) return mapAliyunCode(error.code, error.status).category === 'transient'
  return false
}

export function toAliyunProviderError(error: unknown, ctx: {action: string; region: string; zone?: string | null; instanceType?: string}): unknown {
  const where = `${ctx.action} in ${ctx.zone ?? ctx.region}${ctx.instanceType ? ` (${ctx.instanceType})` : ''}`
  const details = {region: ctx.region, ...(ctx.zone ? {zone: ctx.zone} : {}), ...(ctx.instanceType ? {instanceType: ctx.instanceType} : {})}
  if (error instanceof HttpTransportError) return new ProviderError(PROVIDER, 'transient', `${where}: ${error.message}`, {backendCode: error.kind, details, cause: error})
  if (!(error instanceof AliyunApiError)) return error
  const m = mapAliyunCode(error.code, error.status)
  return new ProviderError(PROVIDER, m.category, redact(`${where}: ${error.message}`), {
    scope: m.scope,
    backendCode: error.code,
    hint: m.hint,
    details: {...details, ...(error.requestId ? {requestId: error.requestId} : {})},
    cause: error,
  })
}
