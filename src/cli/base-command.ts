// The base of every skyhop command: the --json envelope, the one place where errors
// become messages and exit codes, and the I/O facts (TTY, CI) that decide whether a
// spinner or a prompt may appear.
import {Command, Errors, Interfaces} from '@oclif/core'

import {BugError, ExitCode, InterruptedError, InvalidFileError, SkyhopError, UsageError, formatIssue, isSkyhopError} from '../errors.js'
import {redact} from '../util/redact.js'
import {AppContext} from './context.js'
import {restoreFlagMessage} from './flags.js'
import {runProviderHook} from './plugins.js'
import {resolveHome} from './home.js'

export type Envelope<T> = {ok: true; result: T} | {ok: false; error: ReturnType<SkyhopError['toJSON']>}

/**
 * A command that asks before it acts declares what it says when it cannot ask (no
 * terminal, --json, CI, SKYHOP_NONINTERACTIVE): its --yes is then required.
 */
export interface Confirmation {
  /** The hint of the CONFIRMATION_REQUIRED error (exit 2) when nobody can be asked. */
  hint: string
  /** The InterruptedError (exit 130) a "no" ends the command with; without it, confirm() returns false. */
  declined?: {message: string; hint: string}
}

/** Per question: what the refusal says beyond the command's declaration, and the default answer. */
export interface ConfirmOptions {
  refusal?: {message?: string; hint?: string; details?: unknown}
  /** Shown (on stdout) just before the question, only when it is asked. */
  preface?: () => string
  default?: boolean
}

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true
  static confirmation?: Confirmation

  /** True when a person is at the terminal and we may prompt or spin. */
  protected get interactive(): boolean {
    return Boolean(process.stdin.isTTY && process.stdout.isTTY) && !process.env.CI && !nonInteractiveEnv() && !this.jsonEnabled()
  }

  /** True when stderr is a terminal we may draw progress on. */
  protected get decorated(): boolean {
    return Boolean(process.stderr.isTTY) && !process.env.CI && !nonInteractiveEnv() && !this.jsonEnabled()
  }

  /** skyhop's data directory: SKYHOP_HOME, else oclif's per-user data dir. */
  protected get home(): string {
    return resolveHome(this.config.dataDir)
  }

  private appContext?: AppContext

  /** Collaborators (store, providers, planner) for this invocation, built lazily. */
  protected get ctx(): AppContext {
    this.appContext ??= new AppContext(
      this.home,
      (m) => this.warnLine(m),
      () => runProviderHook(this.config),
    )
    return this.appContext
  }

  /** Why no prompt may appear (for messages that say what to pass instead). */
  protected whyNotInteractive(): string {
    if (this.jsonEnabled()) return '--json is set'
    if (process.env.CI) return 'CI is set'
    if (nonInteractiveEnv()) return 'SKYHOP_NONINTERACTIVE is set'
    return 'stdin or stdout is not a terminal'
  }

  /**
   * The one "--yes or a person" rule: true with --yes; without a terminal, CONFIRMATION_REQUIRED
   * (exit 2, the command's declared hint); else asks. A "no" throws the command's declared
   * InterruptedError, or returns false when it declares none.
   */
  protected async confirm(yes: boolean | undefined, question: string, options: ConfirmOptions = {}): Promise<boolean> {
    if (yes) return true
    const declared = (this.constructor as typeof BaseCommand).confirmation
    if (!declared) throw new BugError(`${this.id ?? 'this command'} asks for a confirmation but declares no static confirmation`)
    if (!this.interactive) {
      throw new UsageError(options.refusal?.message ?? 'not confirming without a terminal', {
        code: 'CONFIRMATION_REQUIRED',
        hint: options.refusal?.hint ?? declared.hint,
        ...(options.refusal?.details === undefined ? {} : {details: options.refusal.details}),
      })
    }
    if (options.preface) this.out(options.preface())
    const {confirm} = await import('@inquirer/prompts')
    const answer = await confirm({message: question, default: options.default ?? true})
    if (!answer && declared.declined) throw new InterruptedError(declared.declined.message, {hint: declared.declined.hint})
    return answer
  }

  /** Ends the process with this code once the result is printed (a job's own, 4 for a failed provider…). */
  protected exitWith(code: number | null | undefined): void {
    if (code !== null && code !== undefined && code !== 0) process.exitCode = code
  }

  /** Output a renderer split between stdout (results) and stderr (notes). */
  protected show(rendered: {out?: string; note?: string}): void {
    if (rendered.note !== undefined) this.note(rendered.note)
    if (rendered.out !== undefined) this.out(rendered.out)
  }

  protected warnLine(message: string): void {
    if (!this.jsonEnabled() || process.stderr.isTTY) process.stderr.write(`warning: ${message}\n`)
  }

  protected override async finally(err: Error | undefined): Promise<void> {
    this.appContext?.close()
    return super.finally(err)
  }

  /** Human output to stdout; silent under --json. */
  protected out(text: string): void {
    if (!this.jsonEnabled()) process.stdout.write(text.endsWith('\n') ? text : text + '\n')
  }

  /** Warnings and progress always go to stderr, never stdout. */
  protected note(text: string): void {
    if (!this.jsonEnabled()) process.stderr.write(text.endsWith('\n') ? text : text + '\n')
  }

  /**
   * The --json document: colorized for a person at a terminal (oclif's way), else plain
   * `JSON.stringify` in one write. oclif tokenizes the whole document to colorize it even
   * when stdout is a pipe, which for `offers --all --json` (~850 KB) cost more than the command.
   */
  override logJson(json: unknown): void {
    if (process.stdout.isTTY) super.logJson(json)
    else process.stdout.write(JSON.stringify(json, null, 2) + '\n')
  }

  protected override toSuccessJson(result: unknown): Envelope<unknown> {
    return {ok: true, result}
  }

  protected override toErrorJson(err: unknown): Envelope<never> {
    return {ok: false, error: toSkyhopError(err).toJSON()}
  }

  protected override async catch(err: Error & {exitCode?: number}): Promise<void> {
    // oclif's own exit (this.exit / help) is control flow, not an error.
    if (err instanceof Errors.ExitError) throw err
    restoreFlagMessage(err)
    const error = toSkyhopError(err)
    process.exitCode = error.exitCode
    if (this.jsonEnabled()) {
      this.logJson(this.toErrorJson(error))
      return
    }
    process.stderr.write(renderError(error) + '\n')
    if (error instanceof BugError && process.env.DEBUG) process.stderr.write(String(err.stack) + '\n')
  }
}

/** SKYHOP_NONINTERACTIVE=1 (or true/yes): a pipeline's promise that nobody is at the terminal. */
export function nonInteractiveEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.SKYHOP_NONINTERACTIVE?.trim().toLowerCase()
  return v !== undefined && v !== '' && v !== '0' && v !== 'false' && v !== 'no'
}

/** Maps anything thrown onto the taxonomy. Unknown errors are bugs, exit 1. */
export function toSkyhopError(err: unknown): SkyhopError {
  if (isSkyhopError(err)) return err
  if (err instanceof Errors.CLIError) {
    // Flag and argument parse failures: the user's input, exit 2.
    const message = redact(err.message.replace(/\n\s*See more help with --help\s*$/, ''))
    return new UsageError(message, {code: 'USAGE', hint: 'See --help for the flags this command takes.'})
  }
  if (err && typeof err === 'object' && 'code' in err && (err as {code: unknown}).code === 'ERR_USE_AFTER_CLOSE') {
    return new UsageError('input closed before an answer was given', {code: 'PROMPT_CLOSED'})
  }
  const message = err instanceof Error ? err.message : String(err)
  return new BugError(`internal error: ${redact(message)}`, {
    hint: 'This is a bug in skyhop. Run again with DEBUG=1 for the stack trace and report it.',
    cause: err,
  })
}

export function renderError(error: SkyhopError): string {
  const lines: string[] = []
  if (error instanceof InvalidFileError) {
    lines.push(`error[${error.code}]: ${error.issues.length === 1 ? 'invalid file' : `${error.issues.length} problems`}`)
    for (const issue of error.issues) lines.push(`  ${formatIssue(issue)}`)
  } else {
    lines.push(`error[${error.code}]: ${error.message}`)
  }
  if (error.hint) lines.push(`hint: ${error.hint}`)
  return lines.join('\n')
}

export type Flags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type Args<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

export {ExitCode}
