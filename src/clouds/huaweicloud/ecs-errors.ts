// Huawei Cloud error codes onto skyhop's taxonomy (issue 8). Two families answer skyhop:
// the API gateway in front of every service (`{"error_code": "APIGW.0301", "error_msg"}`,
// Huawei's "API Request Signing Guide: error codes", support.huaweicloud.com/devg-apisign/
// api-sign-errorcode.html) and ECS itself (`{"error": {"code": "Ecs.0319", "message"}}`,
// ECS API reference "Error Codes", support.huaweicloud.com/api-ecs/ecs_07_0002.html; the
// codes also come back in a failed job's `error_code`, because creation is asynchronous):
//
//   Ecs.0319 insufficient flavor capacity, Ecs.0029 flavor absent or abandoned here,
//     Ecs.0027 private flavor                                                capacity / zone
//   Ecs.0001 ECS count (vCPU, RAM) quota, Ecs.0021 EVS disk quota,
//     Ecs.0013 EIP quota, Ecs.0022 server-group quota                        quota / region
//   APIGW.0301/0303/0305 wrong AK/SK or signature, APIGW.0302/0306 denied,
//     Ecs.0003 no permission or balance, Ecs.0004 authentication failed,
//     Ecs.0030 frozen                                                        auth / provider
//   Common.0013 the project id belongs to another region (per-region config)  auth / region
//   APIGW.0308 throttled (429), Ecs.0002 task not submitted, Ecs.0603 busy,
//     Ecs.1000-1300 dependent service (Nova, IAM, VPC, EVS) failed or
//     timed out, any 5xx, no answer                                          transient (retried)
//   Ecs.0031/0032 image missing or not active, Ecs.0902 spot with a
//     Marketplace image (images are regional)                                unavailable / region
//   anything else (Ecs.0005 invalid parameters, …)                           unavailable / offer
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

/** A Huawei Cloud API (or a failed asynchronous job) answered with an error code. */
export class HuaweiApiError extends CloudApiError {}

export const HUAWEI_ERROR_MAP: Readonly<Record<string, ErrorMapping>> = {
  'Ecs.0319': {category: 'capacity', scope: 'zone', hint: 'this flavor is out of capacity in this availability zone'},
  'Ecs.0029': {category: 'capacity', scope: 'zone', hint: 'this flavor is not sold here'},
  'Ecs.0027': {category: 'capacity', scope: 'zone', hint: 'this flavor is private to other accounts'},
  'Ecs.0001': {category: 'quota', scope: 'region', hint: 'raise the ECS quota (instances, vCPUs, memory) in the console'},
  'Ecs.0021': {category: 'quota', scope: 'region', hint: 'raise the EVS disk quota'},
  'Ecs.0013': {category: 'quota', scope: 'region', hint: 'raise the EIP quota'},
  'Ecs.0022': {category: 'quota', scope: 'region'},
  'APIGW.0301': {category: 'auth', scope: 'provider', hint: 'check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK (`skyhop check`)'},
  'APIGW.0303': {category: 'auth', scope: 'provider', hint: 'check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK'},
  'APIGW.0305': {category: 'auth', scope: 'provider'},
  'APIGW.0302': {category: 'auth', scope: 'provider', hint: 'the IAM user lacks an ECS permission skyhop needs'},
  'APIGW.0306': {category: 'auth', scope: 'provider', hint: 'the IAM user lacks an ECS permission skyhop needs'},
  'Ecs.0003': {category: 'auth', scope: 'provider', hint: 'the account lacks permission, is frozen, or its balance is insufficient'},
  'Ecs.0004': {category: 'auth', scope: 'provider'},
  'Ecs.0030': {category: 'auth', scope: 'provider', hint: 'the account is frozen'},
  'Common.0013': {
    category: 'auth',
    scope: 'region',
    hint: 'the project id used for this region belongs to another one (SKYHOP_HUAWEICLOUD_PROJECT_IDS)',
  },
  'APIGW.0308': TRANSIENT,
  'Ecs.0002': TRANSIENT,
  'Ecs.0603': TRANSIENT,
  'Ecs.0031': {category: 'unavailable', scope: 'region', hint: 'images are regional; give an image that exists in this region'},
  'Ecs.0032': {category: 'unavailable', scope: 'region'},
  'Ecs.0902': {category: 'unavailable', scope: 'region', hint: 'spot ECSs cannot use Marketplace images'},
}

const HUAWEI_ERRORS: CloudErrors = {
  provider: 'huaweicloud',
  apiError: HuaweiApiError,
  table: {
    exact: HUAWEI_ERROR_MAP,
    rules: [
      // Ecs.1000-1300: a service ECS depends on (Nova, IAM, VPC, EVS) failed or timed out.
      [/^Ecs\.1[0-3]\d\d$/, TRANSIENT],
      [SERVER_ERROR, TRANSIENT],
    ],
  },
}

export function mapHuaweiCode(code: string, status: number): ErrorMapping {
  return mapErrorCode(HUAWEI_ERRORS.table, code, status)
}

export function isRetryableHuaweiError(error: unknown): boolean {
  return isRetryableCloudError(HUAWEI_ERRORS, error)
}

export interface HuaweiErrorContext extends Omit<CloudErrorContext, 'instanceType'> {
  flavor?: string
}

/** A Huawei failure as a ProviderError; anything else is returned unchanged. */
export function toHuaweiProviderError(error: unknown, ctx: HuaweiErrorContext): unknown {
  const {flavor, ...rest} = ctx
  return toCloudProviderError(HUAWEI_ERRORS, error, {...rest, instanceType: flavor})
}
