// Classifies a cloud's API errors from that cloud's own table (kept beside its adapter:
// aws/ec2-errors.ts, aliyun/ecs-errors.ts, tencentcloud/cvm-errors.ts,
// huaweicloud/ecs-errors.ts): exact codes first, then the cloud's rules in its order
// (code prefixes, patterns, where a 5xx status counts), and anything else is specific to
// the offer, so the controller fails over instead of giving the job up. Also the one way
// a classified failure is retried and worded as a ProviderError.
import {HttpTransportError, ProviderError, type BlockScope, type ProviderErrorCategory} from '../../errors.js'
import {redact} from '../../util/redact.js'
import type {CloudApiError} from './api-error.js'

export interface ErrorMapping {
  category: ProviderErrorCategory
  scope: BlockScope
  hint?: string
}

export const TRANSIENT: ErrorMapping = {category: 'transient', scope: 'none'}

const OFFER_UNAVAILABLE: ErrorMapping = {category: 'unavailable', scope: 'offer'}

/** Matches any code answered with a 5xx status; each cloud places it where its precedence puts it. */
export const SERVER_ERROR = (_code: string, status: number): boolean => status >= 500

/** A code prefix, a code pattern, or a test of code and status. */
export type CodeMatch = string | RegExp | ((code: string, status: number) => boolean)

export interface ErrorTable {
  exact: Readonly<Record<string, ErrorMapping>>
  /** Tried in order after the exact codes; the first that matches decides. */
  rules: ReadonlyArray<readonly [CodeMatch, ErrorMapping]>
}

function matches(match: CodeMatch, code: string, status: number): boolean {
  if (typeof match === 'string') return code.startsWith(match)
  if (match instanceof RegExp) return match.test(code)
  return match(code, status)
}

export function mapErrorCode(table: ErrorTable, code: string, status: number): ErrorMapping {
  // hasOwn: a code such as `constructor` must not find Object.prototype's.
  if (Object.hasOwn(table.exact, code)) return table.exact[code]
  for (const [match, mapping] of table.rules) if (matches(match, code, status)) return mapping
  return OFFER_UNAVAILABLE
}

/** One cloud's error vocabulary: its provider name, its API error class and its table. */
export interface CloudErrors {
  provider: string
  apiError: abstract new (...args: never[]) => CloudApiError
  table: ErrorTable
  /** Where the code alone does not decide: the message narrows (or widens) the table's mapping. */
  refine?: (error: CloudApiError, mapped: ErrorMapping) => ErrorMapping
}

/** Worth another try with backoff: no answer (unless the caller aborted), or a code the table calls transient. */
export function isRetryableCloudError(cloud: CloudErrors, error: unknown): boolean {
  if (error instanceof HttpTransportError) return error.kind !== 'aborted'
  if (error instanceof cloud.apiError) return mapErrorCode(cloud.table, error.code, error.status).category === 'transient'
  return false
}

export interface CloudErrorContext {
  action: string
  region: string
  zone?: string | null
  instanceType?: string
}

/** A failure of this cloud's API (or of reaching it) as a ProviderError; anything else is returned unchanged. */
export function toCloudProviderError(cloud: CloudErrors, error: unknown, ctx: CloudErrorContext): unknown {
  const where = `${ctx.action} in ${ctx.zone ?? ctx.region}${ctx.instanceType ? ` (${ctx.instanceType})` : ''}`
  const details = {region: ctx.region, ...(ctx.zone ? {zone: ctx.zone} : {}), ...(ctx.instanceType ? {instanceType: ctx.instanceType} : {})}
  if (error instanceof HttpTransportError) {
    return new ProviderError(cloud.provider, 'transient', `${where}: ${error.message}`, {backendCode: error.kind, details, cause: error})
  }
  if (!(error instanceof cloud.apiError)) return error
  const byCode = mapErrorCode(cloud.table, error.code, error.status)
  const mapped = cloud.refine ? cloud.refine(error, byCode) : byCode
  return new ProviderError(cloud.provider, mapped.category, redact(`${where}: ${error.message}`), {
    scope: mapped.scope,
    backendCode: error.code,
    hint: mapped.hint,
    details: {...details, ...(error.requestId ? {requestId: error.requestId} : {})},
    cause: error,
  })
}
