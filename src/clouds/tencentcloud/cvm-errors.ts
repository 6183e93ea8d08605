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

/** A Tencent Cloud API answered with its error document. */
export class TencentApiError extends CloudApiError {}

const TENCENT_ERRORS: CloudErrors = {
  provider: 'tencentcloud',
  apiError: TencentApiError,
  table: {
    exact: {
      'ResourceUnavailable.InstanceType': {category: 'capacity', scope: 'zone'},
      'ResourceNotFound.InvalidZoneInstanceType': {
        category: 'capacity',
        scope: 'zone',
        hint: 'this instance type is not sold in this zone',
      },
      'InvalidParameterValue.ZoneNotSupported': {category: 'capacity', scope: 'zone'},
      'InvalidParameterValue.InsufficientOffering': {category: 'capacity', scope: 'zone'},
      // The SDK describes it as "the spot instance offerings are out of stock": stock, not the account's quota.
      'LimitExceeded.SpotQuota': {category: 'capacity', scope: 'zone'},
      'InvalidParameterValue.InsufficientPrice': {
        category: 'capacity',
        scope: 'offer',
        hint: 'the spot price is above the job’s max price',
      },
      InstancesQuotaLimitExceeded: {category: 'quota', scope: 'region', hint: 'raise the CVM quota in the console'},
      'AuthFailure.SignatureFailure': {category: 'auth', scope: 'provider', hint: 'check TENCENTCLOUD_SECRET_KEY (`skyhop check`)'},
      'AuthFailure.SecretIdNotFound': {category: 'auth', scope: 'provider', hint: 'check TENCENTCLOUD_SECRET_ID (`skyhop check`)'},
      'AuthFailure.SignatureExpire': {category: 'auth', scope: 'provider', hint: 'this machine’s clock is off by more than five minutes'},
      'AuthFailure.TokenFailure': {category: 'auth', scope: 'provider', hint: 'the session token is invalid or has expired'},
      'AuthFailure.UnauthorizedOperation': {category: 'auth', scope: 'provider', hint: 'the CAM user lacks a CVM permission skyhop needs'},
      'InvalidAccount.InsufficientBalance': {
        category: 'auth',
        scope: 'provider',
        hint: 'the account balance cannot pay for pay-as-you-go instances',
      },
      'InvalidAccount.UnpaidOrder': {category: 'auth', scope: 'provider', hint: 'the account has unpaid orders'},
      InternalServerError: TRANSIENT,
      'ResourceUnavailable.ServiceUnavailable': TRANSIENT,
    },
    rules: [
      ['ResourceInsufficient', {category: 'capacity', scope: 'zone'}],
      ['ResourcesSoldOut', {category: 'capacity', scope: 'zone'}],
      ['LimitExceeded', {category: 'quota', scope: 'region', hint: 'raise the quota in the CVM console'}],
      ['AuthFailure', {category: 'auth', scope: 'provider', hint: 'check the Tencent Cloud credentials (`skyhop check`)'}],
      ['UnauthorizedOperation', {category: 'auth', scope: 'provider', hint: 'the CAM user lacks a permission skyhop needs'}],
      ['RequestLimitExceeded', TRANSIENT],
      ['InternalError', TRANSIENT],
      [SERVER_ERROR, TRANSIENT],
      // Below the 5xx rule: an image code that comes with a server error is retried, not blocked for the region.
      ['InvalidImageId', {category: 'unavailable', scope: 'region', hint: 'give an image that exists in this region'}],
    ],
  },
}

export function mapTencentCode(code: string, status: number): ErrorMapping {
  return mapErrorCode(TENCENT_ERRORS.table, code, status)
}

export function isRetryableTencentError(error: unknown): boolean {
  return isRetryableCloudError(TENCENT_ERRORS, error)
}

/** A Tencent failure as a ProviderError; anything else is returned unchanged. */
export function toTencentProviderError(error: unknown, ctx: CloudErrorContext): unknown {
  return toCloudProviderError(TENCENT_ERRORS, error, ctx)
}
