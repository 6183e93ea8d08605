// Reading runners' output.log files as lines, following them while the attempt runs: one
// file for a single node, several with a `[rank N] ` prefix for a gang's `--all-nodes`.
// Each file's lines come in order; lines of different files interleave as they are read.
import {type FSWatcher, closeSync, openSync, readSync, watch} from 'node:fs'
import {dirname, join} from 'node:path'
import {StringDecoder} from 'node:string_decoder'

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
  /**
   * Also read again as soon as anything in the files' folders changes (inotify, through
   * fs.watch), not only after idleMs: a job's first line then reaches a `launch --wait` when
   * it is written, not up to a poll later. Only for files written on this machine: a shared
   * filesystem raises no event for another host's writes, so the poll stays.
   */
  wakeOnChange?: boolean
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
  const waker = options.follow && options.wakeOnChange ? watchFolders(files.map((f) => dirname(f.path))) : null
  try {
    for (;;) {
      if (options.signal?.aborted) return
      // Decide "ended" before reading, so that everything written before the end is read.
      const ended = !options.follow || (await options.ended())
      // A change from here on wakes the pause below, even one made while this pass reads.
      if (waker) waker.changed = false
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
        if (!(await pause(idleMs(idle++), options.signal, waker))) return
      } else idle = 0
    }
  } finally {
    waker?.close()
  }
  for (const file of files) {
    const rest = file.pending + file.decoder.end()
    if (rest !== '') yield file.prefix + rest
  }
}

interface Waker {
  /** Whether something changed since the last read began. */
  changed: boolean
  wake?: () => void
  close: () => void
}

/**
 * Watches each folder (once); any change sets `changed` and ends a pause. A folder that
 * cannot be watched (not there yet, no inotify watches left) is only polled. The watchers
 * are unref'd: one left behind by a reader that stopped without closing it never keeps the
 * process alive.
 */
function watchFolders(folders: string[]): Waker {
  const watchers: FSWatcher[] = []
  const waker: Waker = {changed: false, close: () => watchers.forEach((w) => w.close())}
  for (const folder of new Set(folders)) {
    try {
      const w = watch(folder, () => {
        waker.changed = true
        waker.wake?.()
      })
      w.on('error', () => w.close())
      w.unref()
      watchers.push(w)
    } catch {
      // Polled only.
    }
  }
  return waker
}

/** Waits `ms`, less when the waker sees a change; false when the signal aborted. */
function pause(ms: number, signal: AbortSignal | undefined, waker: Waker | null): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false)
  if (waker?.changed) return Promise.resolve(true)
  return new Promise((resolve) => {
    const done = (goOn: boolean): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (waker) waker.wake = undefined
      resolve(goOn)
    }
    const onAbort = (): void => done(false)
    const timer = setTimeout(() => done(true), ms)
    signal?.addEventListener('abort', onAbort, {once: true})
    if (waker) waker.wake = () => done(true)
  })
}
