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

/** An ECS API answered with its JSON error document. */
export class AliyunApiError extends CloudApiError {}

const ALIYUN_ERRORS: CloudErrors = {
  provider: 'aliyun',
  apiError: AliyunApiError,
  table: {
    exact: {
      'OperationDenied.NoStock': {category: 'capacity', scope: 'zone'},
      'Zone.NotOnSale': {category: 'capacity', scope: 'zone'},
      'Zone.NotOpen': {category: 'capacity', scope: 'zone'},
      'InvalidZoneId.NotFound': {category: 'capacity', scope: 'zone'},
      'InvalidInstanceType.ZoneNotSupported': {category: 'capacity', scope: 'zone'},
      'InvalidInstanceType.NotSupported': {category: 'capacity', scope: 'zone'},
      'InvalidResourceType.NotSupported': {category: 'capacity', scope: 'zone'},
      'ResourceNotAvailable': {category: 'capacity', scope: 'zone'},
      'InvalidSpotPriceLimit.LowerThanPublicPrice': {
        category: 'capacity',
        scope: 'offer',
        hint: 'the spot price is above the job’s max price',
      },
      SignatureDoesNotMatch: {category: 'auth', scope: 'provider', hint: 'check ALIBABA_CLOUD_ACCESS_KEY_SECRET'},
      IncompleteSignature: {category: 'auth', scope: 'provider'},
      'InvalidSecurityToken.Expired': {category: 'auth', scope: 'provider', hint: 'the STS token has expired'},
      'InvalidSecurityToken.Malformed': {category: 'auth', scope: 'provider'},
      'InvalidAccount.NotEnoughBalance': {
        category: 'auth',
        scope: 'provider',
        hint: 'the account balance cannot pay for pay-as-you-go instances',
      },
      'Account.Arrearage': {category: 'auth', scope: 'provider', hint: 'the account is in arrears'},
      'InvalidImageId.NotFound': {
        category: 'unavailable',
        scope: 'region',
        hint: 'images are regional; give an image that exists in this region',
      },
      ServiceUnavailable: TRANSIENT,
      InternalError: TRANSIENT,
    },
    rules: [
      ['QuotaExceed', {category: 'quota', scope: 'region', hint: 'raise the quota in the ECS console (Quota Center)'}],
      ['InvalidAccessKeyId', {category: 'auth', scope: 'provider', hint: 'check ALIBABA_CLOUD_ACCESS_KEY_ID (`skyhop check`)'}],
      ['Forbidden', {category: 'auth', scope: 'provider', hint: 'the RAM user lacks an ECS permission skyhop needs'}],
      ['Throttling', TRANSIENT],
      [SERVER_ERROR, TRANSIENT],
    ],
  },
}

export function mapAliyunCode(code: string, status: number): ErrorMapping {
  return mapErrorCode(ALIYUN_ERRORS.table, code, status)
}

export function isRetryableAliyunError(error: unknown): boolean {
  return isRetryableCloudError(ALIYUN_ERRORS, error)
}

export function toAliyunProviderError(error: unknown, ctx: CloudErrorContext): unknown {
  return toCloudProviderError(ALIYUN_ERRORS, error, ctx)
}
