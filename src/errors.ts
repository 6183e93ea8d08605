// The one error taxonomy of skyhop. Every failure a user can see is one of these
// classes; each has a stable `code` (for scripts and the --json envelope) and an exit
// code. Only src/cli/base-command.ts turns them into output and process exit codes.

/** Process exit codes, stable and documented in docs/exit-codes.md. */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  invalidJobFile: 3,
  provider: 4,
  noFeasiblePlan: 5,
  jobLost: 6,
  /** A command did part of its work and reports what it could not do (`recover` with a provider down): run it again. */
  partial: 7,
  /** The user may not do this to someone else's job, sweep or service: it needs a role from the config. */
  permission: 8,
  /** A launch would take its owner's (or team's) running spend over the budget the config sets. */
  budget: 9,
  interrupted: 130,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

export interface ErrorJson {
  code: string
  message: string
  hint?: string
  details?: unknown
}

export abstract class SkyhopError extends Error {
  abstract readonly code: string
  abstract readonly exitCode: number
  /** One line telling the user what to do about it. */
  readonly hint?: string
  /** JSON-safe detail for --json output; must never contain a secret. */
  readonly details?: unknown

  constructor(message: string, options: {hint?: string; details?: unknown; cause?: unknown} = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = new.target.name
    this.hint = options.hint
    this.details = options.details
  }

  toJSON(): ErrorJson {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? {hint: this.hint} : {}),
      ...(this.details === undefined ? {} : {details: this.details}),
    }
  }
}

/** The user asked for something that cannot mean anything: bad flag, unknown name. Exit 2. */
export class UsageError extends SkyhopError {
  readonly exitCode = ExitCode.usage
  readonly code: string
  constructor(message: string, options: {code?: string; hint?: string; details?: unknown} = {}) {
    super(message, options)
    this.code = options.code ?? 'USAGE'
  }
}

/** One problem found in a job (or catalog/config) file, located as precisely as we can. */
export interface FileIssue {
  file: string
  line?: number
  column?: number
  /** JSON-pointer-like path of the offending field, e.g. `/resources/accelerators/0`. */
  path: string
  message: string
  suggestion?: string
}

export function formatIssue(issue: FileIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}:${issue.column ?? 1}`
  const field = issue.path === '' ? '' : ` ${issue.path}:`
  const dym = issue.suggestion ? ` (did you mean "${issue.suggestion}"?)` : ''
  return `${where}:${field} ${issue.message}${dym}`
}

/** A job, catalog or config file that does not satisfy its contract. Exit 3. */
export class InvalidFileError extends SkyhopError {
  readonly exitCode = ExitCode.invalidJobFile
  readonly code: string
  readonly issues: FileIssue[]
  constructor(issues: FileIssue[], options: {code?: string; hint?: string} = {}) {
    const head = issues.length === 1 ? formatIssue(issues[0]) : `${issues.length} problems:\n  ${issues.map(formatIssue).join('\n  ')}`
    super(head, {hint: options.hint, details: {issues}})
    this.code = options.code ?? 'JOB_FILE_INVALID'
    this.issues = issues
  }
}

/**
 * How the controller should react to a provider failure. The scope says what to block
 * before trying the next candidate.
 */
export type ProviderErrorCategory = 'capacity' | 'quota' | 'auth' | 'transient' | 'user' | 'unavailable'
export type BlockScope = 'offer' | 'zone' | 'region' | 'provider' | 'none'

export const defaultScope: Record<ProviderErrorCategory, BlockScope> = {
  capacity: 'zone',
  quota: 'region',
  auth: 'provider',
  transient: 'none',
  user: 'none',
  unavailable: 'provider',
}

/** A backend said no, or could not be reached, or credentials are missing. Exit 4. */
export class ProviderError extends SkyhopError {
  readonly exitCode = ExitCode.provider
  readonly code: string
  readonly category: ProviderErrorCategory
  readonly scope: BlockScope
  readonly provider: string
  /** The backend's own error code (e.g. `InsufficientInstanceCapacity`), for the record. */
  readonly backendCode?: string
  constructor(
    provider: string,
    category: ProviderErrorCategory,
    message: string,
    options: {code?: string; scope?: BlockScope; backendCode?: string; hint?: string; details?: unknown; cause?: unknown} = {},
  ) {
    super(`${provider}: ${message}`, options)
    this.provider = provider
    this.category = category
    this.scope = options.scope ?? defaultScope[category]
    this.backendCode = options.backendCode
    this.code = options.code ?? `PROVIDER_${category.toUpperCase()}`
  }

  override toJSON(): ErrorJson {
    const base = super.toJSON()
    return {
      ...base,
      details: {
        provider: this.provider,
        category: this.category,
        scope: this.scope,
        ...(this.backendCode ? {backendCode: this.backendCode} : {}),
        ...(typeof this.details === 'object' && this.details !== null ? this.details : {}),
      },
    }
  }
}

/**
 * What a backend answered, or that it did not answer, before the adapter that called it
 * has classified it into a ProviderError: a transport failure, a cloud's error document, a
 * response that does not parse. Adapters classify every one of these; one that escaped
 * would still exit 4, under its own code.
 */
export abstract class BackendError extends SkyhopError {
  readonly exitCode = ExitCode.provider
}

export type HttpTransportFailure = 'timeout' | 'network' | 'aborted'

/** A request that never produced a response: refused, reset, DNS, the deadline passed, or the caller aborted. */
export class HttpTransportError extends BackendError {
  readonly code = 'HTTP_TRANSPORT'
  readonly kind: HttpTransportFailure
  /** The socket's or undici's own code (`ECONNREFUSED`, `UND_ERR_SOCKET`), when there is one. */
  readonly networkCode?: string
  constructor(kind: HttpTransportFailure, message: string, options: {cause?: unknown; networkCode?: string} = {}) {
    super(message, {cause: options.cause})
    this.kind = kind
    this.networkCode = options.networkCode
  }
}

/** The planner found no candidate; details group the exclusion reasons. Exit 5. */
export class NoFeasiblePlanError extends SkyhopError {
  readonly exitCode = ExitCode.noFeasiblePlan
  readonly code = 'NO_FEASIBLE_PLAN'
}

/** The job ended without an exit code of its own: killed, lost, attempts exhausted. Exit 6. */
export class JobLostError extends SkyhopError {
  readonly exitCode = ExitCode.jobLost
  readonly code: string
  constructor(message: string, options: {code?: string; hint?: string; details?: unknown} = {}) {
    super(message, options)
    this.code = options.code ?? 'JOB_LOST'
  }
}

/** Acting on another user's job, sweep or service without the role the config requires. Exit 8. */
export class PermissionError extends SkyhopError {
  readonly exitCode = ExitCode.permission
  readonly code = 'PERMISSION_DENIED'
}

/** A launch that would take a user's or a team's running spend over its budget. Exit 9. */
export class BudgetExceededError extends SkyhopError {
  readonly exitCode = ExitCode.budget
  readonly code = 'BUDGET_EXCEEDED'
}

/** SIGINT/SIGTERM reached the CLI. Exit 130. */
export class InterruptedError extends SkyhopError {
  readonly exitCode = ExitCode.interrupted
  readonly code = 'INTERRUPTED'
}

/**
 * Another controller holds the job's (or sweep's) lease: this one steps aside. Callers
 * catch it and report the job as skipped; one that escapes exits 1, as it always did.
 */
export class LeaseHeldError extends SkyhopError {
  readonly exitCode = ExitCode.internal
  readonly code = 'LEASE_HELD'
}

/** Our fault: an invariant broke. Exit 1. */
export class BugError extends SkyhopError {
  readonly exitCode = ExitCode.internal
  readonly code = 'INTERNAL'
}

export function isSkyhopError(err: unknown): err is SkyhopError {
  return err instanceof SkyhopError
}

/**
 * Anything a provider call threw, as a ProviderError the controller can classify: another
 * taxonomy error is the user's to fix; anything else is taken as transient (retried).
 */
export function asProviderError(provider: string, error: unknown): ProviderError {
  if (error instanceof ProviderError) return error
  if (isSkyhopError(error)) return new ProviderError(provider, 'user', error.message, {code: error.code, cause: error})
  const message = error instanceof Error ? error.message : String(error)
  return new ProviderError(provider, 'transient', message, {code: 'PROVIDER_UNEXPECTED', cause: error})
}
