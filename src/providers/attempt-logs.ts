// Reading runners' output.log files as lines, following them while the attempt runs: one
// file for a single node, several with a `[rank N] ` prefix for a gang's `--all-nodes`.
// Each file's lines come in order; lines of different files interleave as they are read.
import {closeSync, openSync, readSync} from 'node:fs'
import {join} from 'node:path'
import {StringDecoder} from 'node:string_decoder'
import {setTimeout as sleep} from 'node:timers/promises'

import {ProviderError} from '../errors.js'

export interface LogSource {
  path: string
  /** Put before each line ('' for none). */
  prefix: string
}

export interface FollowOptions {
  follow: boolean
  signal?: AbortSignal
  /** Whether the writers are done; asked before each read, so that all they wrote before is read. */
  ended: () => boolean | Promise<boolean>
  /** How long to wait after the `n`th read in a row that found nothing (default 200 ms). */
  idleMs?: (n: number) => number
}

/**
 * The files an attempt's logs come from, on a filesystem this process sees: `node` is a
 * rank (default 0, the head), or 'all' for every rank, each line prefixed `[rank N] ` when
 * there are several. A single node's log is the attempt directory's own output.log; a
 * gang's rank writes node-<rank>/output.log.
 */
export function logSources(provider: string, attemptDir: string, numNodes: number, node: number | 'all' | undefined): LogSource[] {
  const fileOf = (rank: number): string => (numNodes > 1 ? join(attemptDir, `node-${rank}`, 'output.log') : join(attemptDir, 'output.log'))
  if (node === 'all') {
    return Array.from({length: numNodes}, (_, rank) => ({path: fileOf(rank), prefix: numNodes > 1 ? `[rank ${rank}] ` : ''}))
  }
  const rank = node ?? 0
  if (!Number.isInteger(rank) || rank < 0 || rank >= numNodes) {
    throw new ProviderError(provider, 'user', `the attempt has no node ${String(rank)}`, {
      code: 'NODE_RANK_INVALID',
      hint: numNodes === 1 ? 'It runs on one node: rank 0.' : `Its ranks are 0 to ${numNodes - 1}.`,
    })
  }
  return [{path: fileOf(rank), prefix: ''}]
}

export async function* followLogFiles(sources: LogSource[], options: FollowOptions): AsyncIterable<string> {
  const files = sources.map((s) => ({...s, position: 0, pending: '', decoder: new StringDecoder('utf8')}))
  const buffer = Buffer.alloc(64 * 1024)
  const idleMs = options.idleMs ?? (() => 200)
  let idle = 0
  for (;;) {
    if (options.signal?.aborted) return
    // Decide "ended" before reading, so that everything written before the end is read.
    const ended = !options.follow || (await options.ended())
    let read = 0
    for (const file of files) {
      let fd: number
      try {
        fd = openSync(file.path, 'r')
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
        continue
      }
      try {
        let n: number
        while ((n = readSync(fd, buffer, 0, buffer.length, file.position)) > 0) {
          file.position += n
          read += n
          file.pending += file.decoder.write(buffer.subarray(0, n))
          const lines = file.pending.split('\n')
          file.pending = lines.pop()!
          for (const line of lines) yield file.prefix + line
          if (options.signal?.aborted) return
        }
      } finally {
        closeSync(fd)
      }
    }
    if (read === 0 && ended) break
    if (read === 0) {
      try {
        await sleep(idleMs(idle++), undefined, {signal: options.signal})
      } catch {
        return
      }
    } else idle = 0
  }
  for (const file of files) {
    const rest = file.pending + file.decoder.end()
    if (rest !== '') yield file.prefix + rest
  }
}
