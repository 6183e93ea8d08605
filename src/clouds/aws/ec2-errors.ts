// EC2's error codes onto skyhop's taxonomy (issue 7). The category says how the controller
// reacts; the scope what it blocks before the next candidate:
//
//   InsufficientInstanceCapacity, InsufficientHostCapacity, Unsupported  capacity / zone
//   SpotMaxPriceTooLow                                                   capacity / offer
//   MaxSpotInstanceCountExceeded, VcpuLimitExceeded, InstanceLimitExceeded  quota / region
//   AuthFailure, UnauthorizedOperation, OptInRequired (and the other       auth / provider
//     signature and key errors AWS returns before EC2 sees the request)
//   RequestLimitExceeded, any 5xx, no answer at all                      transient (retried)
//   InvalidAMIID.* (AMI ids are regional)                                unavailable / region
//   anything else (a parameter this offer cannot take, …)                unavailable / offer
// Nothing here is `user`: every EC2 refusal we do not know is specific to where we asked,
// so the controller fails over instead of giving the job up.
import {
  isRetryableCloudError,
  SERVER_ERROR,
  toCloudProviderError,
  TRANSIENT,
  type CloudErrorContext,
  type CloudErrors,
  type ErrorMapping,
} from '../common/error-mapping.js'
import {AwsApiError} from './query-client.js'

export const EC2_ERROR_MAP: Readonly<Record<string, ErrorMapping>> = {
  InsufficientInstanceCapacity: {category: 'capacity', scope: 'zone'},
  InsufficientHostCapacity: {category: 'capacity', scope: 'zone'},
  Unsupported: {category: 'capacity', scope: 'zone', hint: 'this instance type is not offered in this zone'},
  SpotMaxPriceTooLow: {category: 'capacity', scope: 'offer', hint: 'the spot price is above the job’s max price'},
  MaxSpotInstanceCountExceeded: {category: 'quota', scope: 'region', hint: 'request a higher spot quota in the Service Quotas console'},
  VcpuLimitExceeded: {
    category: 'quota',
    scope: 'region',
    hint: 'request a higher vCPU quota for this instance family in the Service Quotas console',
  },
  InstanceLimitExceeded: {category: 'quota', scope: 'region', hint: 'request a higher instance quota in the Service Quotas console'},
  AuthFailure: {category: 'auth', scope: 'provider', hint: 'check the AWS credentials (`skyhop check`)'},
  UnauthorizedOperation: {category: 'auth', scope: 'provider', hint: 'the credentials lack an EC2 permission skyhop needs'},
  OptInRequired: {category: 'auth', scope: 'provider', hint: 'the account is not subscribed to this service or region'},
  // Rejected by AWS's front end before EC2: the keys themselves are wrong or stale.
  SignatureDoesNotMatch: {category: 'auth', scope: 'provider', hint: 'check the secret access key'},
  IncompleteSignature: {category: 'auth', scope: 'provider'},
  InvalidClientTokenId: {category: 'auth', scope: 'provider', hint: 'the access key id is not known to AWS'},
  MissingAuthenticationToken: {category: 'auth', scope: 'provider'},
  ExpiredToken: {category: 'auth', scope: 'provider', hint: 'the session token has expired; refresh the credentials'},
  RequestExpired: {category: 'auth', scope: 'provider', hint: 'this machine’s clock is off by more than five minutes'},
  RequestLimitExceeded: TRANSIENT,
  // STS's and the Price List API's name for the same thing: throttled, not unavailable.
  Throttling: TRANSIENT,
  'InvalidAMIID.NotFound': {
    category: 'unavailable',
    scope: 'region',
    hint: 'AMI ids are regional; give an image that exists in this region',
  },
  'InvalidAMIID.Malformed': {category: 'unavailable', scope: 'region'},
  'InvalidAMIID.Unavailable': {category: 'unavailable', scope: 'region'},
}

const EC2_ERRORS: CloudErrors = {
  provider: 'aws',
  apiError: AwsApiError,
  // EC2 answers some capacity codes with a 5xx status; the code decides, not the status.
  table: {exact: EC2_ERROR_MAP, rules: [[SERVER_ERROR, TRANSIENT]]},
}

/** Codes worth another try with backoff: throttling and AWS-side failures. */
export function isRetryableEc2Error(error: unknown): boolean {
  return isRetryableCloudError(EC2_ERRORS, error)
}

/** An EC2 failure as a ProviderError; anything else is returned unchanged. */
export function toProviderError(error: unknown, ctx: CloudErrorContext): unknown {
  return toCloudProviderError(EC2_ERRORS, error, ctx)
}
