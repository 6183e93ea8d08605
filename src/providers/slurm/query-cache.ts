// Answers of Slurm's read-only cluster queries (sinfo, scontrol ping/show), kept for a few
// seconds in a small file per query under the skyhop home, so that the commands a user or a
// script runs back to back (`plan`, then `launch`; a sweep's planning) do not each ask
// slurmctld the same thing. Only successful answers are kept; a stale, unreadable or
// foreign entry is a miss, and the query runs again. Launch-time checks never read it
// (they ask Slurm afresh), but their fresh answers replace what is kept.
import {createHash} from 'node:crypto'
import {mkdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {writeAtomic} from '../../util/write-atomic.js'
import type {CommandResult, SlurmCommand, SlurmRunner} from './commands.js'

/** How long a kept answer counts: a few seconds, the span of commands run back to back. */
export const DEFAULT_QUERY_CACHE_TTL_MS = 5_000

export interface QueryCacheOptions {
  /** Directory of the cache files, e.g. `${home}/cache/slurm`. */
  dir: string
  /** Default DEFAULT_QUERY_CACHE_TTL_MS. */
  ttlMs?: number
  /**
   * Which cluster the answers are about: part of every key, so two clusters (two SLURM_CONFs,
   * two configured cluster names) never share an answer.
   */
  cluster: string
  now?: () => number
}

interface Entry {
  key: string
  at: number
  result: CommandResult
}

/** The queries whose answers may be kept: read-only facts about the cluster, never a job's state. */
export function cacheableQuery(command: SlurmCommand, args: readonly string[]): boolean {
  if (command === 'sinfo') return true
  if (command !== 'scontrol') return false
  return args[0] === 'ping' || (args[0] === 'show' && (args[1] === 'config' || args[1] === 'partition'))
}

/** Whether an answer may be kept: it succeeded (and a ping says the controller is up). */
function keepable(command: SlurmCommand, args: readonly string[], result: CommandResult): boolean {
  if (result.code !== 0) return false
  if (command === 'scontrol' && args[0] === 'ping') return /is UP/.test(result.stdout)
  return true
}

export class SlurmQueryCache {
  private readonly ttlMs: number
  private readonly now: () => number

  constructor(private readonly options: QueryCacheOptions) {
    this.ttlMs = options.ttlMs ?? DEFAULT_QUERY_CACHE_TTL_MS
    this.now = options.now ?? Date.now
  }

  private keyOf(command: SlurmCommand, args: readonly string[]): string {
    return JSON.stringify([this.options.cluster, command, ...args])
  }

  private fileOf(key: string): string {
    return join(this.options.dir, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`)
  }

  /** The kept answer, if one is younger than the TTL; null otherwise (or when the file cannot be read). */
  get(command: SlurmCommand, args: readonly string[]): CommandResult | null {
    const key = this.keyOf(command, args)
    let entry: Entry
    try {
      entry = JSON.parse(readFileSync(this.fileOf(key), 'utf8')) as Entry
    } catch {
      return null
    }
    if (entry?.key !== key || typeof entry.at !== 'number' || typeof entry.result?.stdout !== 'string') return null
    const age = this.now() - entry.at
    // A clock stepped backwards makes the age negative: treat that as stale too.
    if (age < 0 || age >= this.ttlMs) return null
    return {code: entry.result.code, stdout: entry.result.stdout, stderr: entry.result.stderr ?? ''}
  }

  /**
   * A fact skyhop found out about the cluster by other means than one query (the container
   * runtime: several probes), kept for `ttlMs`; null when none is kept or it is older.
   */
  getFact(name: string, ttlMs: number): string | null {
    const key = this.keyOf('sinfo', [`fact:${name}`])
    try {
      const entry = JSON.parse(readFileSync(this.fileOf(key), 'utf8')) as Entry
      const age = this.now() - entry.at
      if (entry?.key !== key || typeof entry.result?.stdout !== 'string' || !(age >= 0 && age < ttlMs)) return null
      return entry.result.stdout
    } catch {
      return null
    }
  }

  putFact(name: string, value: string): void {
    const key = this.keyOf('sinfo', [`fact:${name}`])
    try {
      mkdirSync(this.options.dir, {recursive: true, mode: 0o700})
      writeAtomic(this.fileOf(key), JSON.stringify({key, at: this.now(), result: {code: 0, stdout: value, stderr: ''}}), {mode: 0o600})
    } catch {
      // As put: the next command finds it out again.
    }
  }

  /** Keeps a successful answer; anything else is not kept. Failing to write only costs a later query. */
  put(command: SlurmCommand, args: readonly string[], result: CommandResult): void {
    if (!cacheableQuery(command, args) || !keepable(command, args, result)) return
    const key = this.keyOf(command, args)
    const file = this.fileOf(key)
    const entry: Entry = {key, at: this.now(), result}
    try {
      mkdirSync(this.options.dir, {recursive: true, mode: 0o700})
      writeAtomic(file, JSON.stringify(entry), {mode: 0o600})
    } catch {
      // A read-only or full home: the next command asks Slurm again.
    }
  }
}

/**
 * A runner that answers cacheable queries from the cache when `mode` is 'cached', and keeps
 * every successful cacheable answer it gets from Slurm (fresh reads refresh the cache).
 */
export function cachingRunner(run: SlurmRunner, cache: SlurmQueryCache): {cached: SlurmRunner; fresh: SlurmRunner} {
  const ask: (useCache: boolean) => SlurmRunner = (useCache) => async (command, args, options) => {
    const cacheable = cacheableQuery(command, args)
    if (cacheable && useCache) {
      const hit = cache.get(command, args)
      if (hit) return hit
    }
    const result = await run(command, args, options)
    if (cacheable) cache.put(command, args, result)
    return result
  }
  return {cached: ask(true), fresh: ask(false)}
}
