// What every cloud's credential loader shares: the result shape (credentials plus a source
// that names where they came from, never the secret), the environment and home directory
// they read (injected, so tests never touch the user's files), a cache that reloads
// temporary credentials before they expire, and the "nothing found" error.
import {readFile} from 'node:fs/promises'
import {homedir} from 'node:os'
import {isAbsolute, join} from 'node:path'

import {ProviderError} from '../../errors.js'

export interface LoadedCredentials<T> {
  credentials: T
  /** e.g. `environment (AWS_ACCESS_KEY_ID)`, `profile dev (~/.aws/credentials)`. Never a secret. */
  source: string
  /** ISO-8601 time after which the credentials stop working; null when they do not expire. */
  expiresAt: string | null
}

export interface CredentialContext {
  env: Record<string, string | undefined>
  homeDir: string
}

export function defaultContext(partial: Partial<CredentialContext> = {}): CredentialContext {
  return {env: partial.env ?? process.env, homeDir: partial.homeDir ?? homedir()}
}

/** A file's text, or null when it does not exist; other read errors propagate. */
export async function readOptionalFile(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return null
    throw error
  }
}

/** `~/x` and relative paths resolve against the (injected) home directory. */
export function expandHome(path: string, homeDir: string): string {
  if (path === '~') return homeDir
  if (path.startsWith('~/')) return join(homeDir, path.slice(2))
  return isAbsolute(path) ? path : join(homeDir, path)
}

/** `~/.aws/credentials` style display path: the home directory is shown as `~`. */
export function displayPath(path: string, homeDir: string): string {
  return path.startsWith(`${homeDir}/`) ? `~/${path.slice(homeDir.length + 1)}` : path
}

export function nonEmpty(value: string | undefined | null): string | undefined {
  const v = value?.trim()
  return v ? v : undefined
}

export function noCredentialsError(provider: string, looked: string[], hint: string): ProviderError {
  return new ProviderError(provider, 'auth', `no credentials found (looked at: ${looked.join('; ')})`, {
    code: 'PROVIDER_NO_CREDENTIALS',
    hint,
  })
}

/** A credentials file that exists but cannot be used: a user error, blocking the provider. */
export function badCredentialsFile(provider: string, where: string, problem: string): ProviderError {
  return new ProviderError(provider, 'auth', `${where}: ${problem}`, {code: 'PROVIDER_BAD_CREDENTIALS'})
}

/**
 * Holds loaded credentials and reloads them a margin before they expire (temporary
 * credentials from STS, SSO or instance metadata). Concurrent callers share one load.
 */
export class CredentialCache<T> {
  private current: LoadedCredentials<T> | null = null
  private pending: Promise<LoadedCredentials<T>> | null = null

  constructor(
    private readonly load: () => Promise<LoadedCredentials<T>>,
    private readonly options: {refreshMarginMs?: number; now?: () => number} = {},
  ) {}

  async get(): Promise<LoadedCredentials<T>> {
    const now = (this.options.now ?? Date.now)()
    const margin = this.options.refreshMarginMs ?? 5 * 60_000
    const cur = this.current
    if (cur && (cur.expiresAt === null || Date.parse(cur.expiresAt) - margin > now)) return cur
    this.pending ??= this.load().then(
      (loaded) => {
        this.current = loaded
        this.pending = null
        return loaded
      },
      (error) => {
        this.pending = null
        throw error
      },
    )
    return this.pending
  }

  /** Forget the cached value, e.g. after the backend rejected it. */
  invalidate(): void {
    this.current = null
  }
}
