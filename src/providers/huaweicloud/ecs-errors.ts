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
import {ProviderError, type BlockScope, type ProviderErrorCategory} from '../../errors.js'
import {redact} from '../../util/redact.js'
import {HttpTransportError} from '../vm/http.js'

const PROVIDER = 'huaweicloud'

/** A Huawei Cloud API (or a failed asynchronous job) answered with an error code. */
export class HuaweiApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly apiMessage: string,
    readonly requestId: string | null,
  ) {
    super(redact(`${code}: ${apiMessage}${requestId ? ` (request id ${requestId})` : ''}`))
    this.name = 'HuaweiApiError'
  }
}

interface Mapping {
  category: ProviderErrorCategory
  scope: BlockScope
  hint?: string
}

export const HUAWEI_ERROR_MAP: Readonly<Record<string, Mapping>> = {
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
  'Common.0013': {category: 'auth', scope: 'region', hint: 'the project id used for this region belongs to another one (SKYHOP_HUAWEICLOUD_PROJECT_IDS)'},
  'APIGW.0308': {category: 'transient', scope: 'none'},
  'Ecs.0002': {category: 'transient', scope: 'none'},
  'Ecs.0603': {category: 'transient', scope: 'none'},
  'Ecs.0031': {category: 'unavailable', scope: 'region', hint: 'images are regional; give an image that exists in this region'},
  'Ecs.0032': {category: 'unavailable', scope: 'region'},
  'Ecs.0902': {category: 'unavailable', scope: 'region', hint: 'spot ECSs cannot use Marketplace images'},
}

export function mapHuaweiCode(code: string, status: number): Mapping {
  const known = HUAWEI_ERROR_MAP[code]
  if (known) return known
  if (/^Ecs\.1[0-3]\d\d$/.test(code) || status >= 500) return {category: 'transient', scope: 'none'}
  return {category: 'unavailable', scope: 'offer'}
}

export function isRetryableHuaweiError(error: unknown): boolean {
  if (error instanceof HttpTransportError) return error.kind !== 'aborted'
  if (error instanceof HuaweiApiError) return mapHuaweiCode(error.code, error.status).category === 'transient'
  return false
}

export interface HuaweiErrorContext {
  action: string
  region: string
  zone?: string | null
  flavor?: string
}

/** A Huawei failure as a ProviderError; anything else is returned unchanged. */
export function toHuaweiProviderError(error: unknown, ctx: HuaweiErrorContext): unknown {
  const where = `${ctx.action} in ${ctx.zone ?? ctx.region}${ctx.flavor ? ` (${ctx.flavor})` : ''}`
  const details = {region: ctx.region, ...(ctx.zone ? {zone: ctx.zone} : {}), ...(ctx.flavor ? {instanceType: ctx.flavor} : {})}
  if (error instanceof HttpTransportError) return new ProviderError(PROVIDER, 'transient', `${where}: ${error.message}`, {backendCode: error.kind, details, cause: error})
  if (!(error instanceof HuaweiApiError)) return error
  const m = mapHuaweiCode(error.code, error.status)
  return new ProviderError(PROVIDER, m.category, redact(`${where}: ${error.message}`), {
    scope: m.scope,
    backendCode: error.code,
    hint: m.hint,
    details: {...details, ...(error.requestId ? {requestId: error.requestId} : {})},
    cause: error,
  })
}
