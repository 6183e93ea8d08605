// The job file's `files:` and `outputs:` (docs/job-file.md#files-and-outputs), checked and
// normalized at the edge: every destination an absolute path on the machine, every source a
// local path that exists or a bucket URL of a known scheme, no destination on top of the
// checkpoint directory or the workdir. Each problem is a FieldError at its entry.
import {statSync} from 'node:fs'
import {dirname, posix, resolve} from 'node:path'

import type {BucketRef, BucketScheme, FileEntry, OutputEntry} from '../model/job-spec.js'
import {didYouMean} from '../util/did-you-mean.js'

export const BUCKET_SCHEMES: readonly BucketScheme[] = ['s3', 'oss', 'obs', 'cos', 'gs']

/** The FUSE tool a boot script mounts each kind of bucket with (docs/job-file.md#files-and-outputs). */
export const FUSE_TOOLS: Record<BucketScheme, string> = {
  s3: 'mountpoint-s3',
  oss: 'ossfs',
  obs: 'obsfs',
  cos: 'cosfs',
  gs: 'gcsfuse',
}

export type RawFileValue = string | {source: string; mode?: FileMode; region?: string; endpoint?: string; size?: string | number}
/** An entry of `mounts:`: always a mount, so it has no mode. */
export type RawMountValue = string | {source: string; region?: string; endpoint?: string; size?: string | number}
type FileMode = 'copy' | 'mount'
export type RawOutputValue = string | {to: string; region?: string; endpoint?: string}

/** A value that is not where it may be: the message says why, with a "did you mean" when one is near. */
export class FilesFieldError extends Error {
  constructor(
    message: string,
    readonly suggestion?: string,
  ) {
    super(message)
  }
}

/** `SCHEME://BUCKET/KEY`, or null when `text` has no `SCHEME://` (then it is a local path). Throws for an unknown scheme. */
export function parseBucketUrl(text: string): Omit<BucketRef, 'region' | 'endpoint'> | null {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(text)
  if (!m) return null
  const scheme = m[1].toLowerCase()
  if (!(BUCKET_SCHEMES as readonly string[]).includes(scheme)) {
    const near = didYouMean(scheme, [...BUCKET_SCHEMES])
    throw new FilesFieldError(
      `"${m[1]}://" is not a bucket URL skyhop knows; expected one of ${BUCKET_SCHEMES.map((s) => `${s}://`).join(', ')}`,
      near === undefined ? undefined : `${near}://${m[2]}`,
    )
  }
  const slash = m[2].indexOf('/')
  const bucket = slash === -1 ? m[2] : m[2].slice(0, slash)
  const key = slash === -1 ? '' : m[2].slice(slash + 1).replace(/^\/+/, '')
  if (!/^[a-z0-9][a-z0-9._-]{1,254}$/.test(bucket))
    throw new FilesFieldError(`"${text}": "${bucket}" is not a bucket name (lower-case letters, digits, '.', '_' and '-')`)
  if (scheme === 'cos' && !/-\d+$/.test(bucket))
    throw new FilesFieldError(`"${text}": a COS bucket is named BUCKET-APPID, e.g. data-1250000000`)
  return {scheme: scheme as BucketScheme, bucket, key}
}

/** A destination on the machine: absolute, normalized, never `/` itself. */
function machinePath(text: string, what: string): string {
  if (!text.startsWith('/'))
    throw new FilesFieldError(
      `${what} "${text}" is relative; write an absolute path on the machine (a relative one would land somewhere else on each backend)`,
    )
  const path = posix.normalize(text).replace(/\/+$/, '')
  if (path === '') throw new FilesFieldError(`${what} cannot be the machine's root directory`)
  return path
}

/** Whether one of the two paths is the other or under it. */
export function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(b + '/') || b.startsWith(a + '/')
}

export interface FilesContext {
  /** The job file, whose directory a relative local source is read from. */
  file: string
  checkpointDir: string | null
  /** The workdir's absolute path on the launching machine (local runs in it), when the job has one. */
  workdir: string | null
}

type At = <T>(path: Array<string | number>, fn: () => T) => T | undefined

/**
 * The job file's `files:` and `mounts:`, as one list of entries. `mounts:` is `files:` whose
 * entries are all `mode: mount` (a bucket URL, or {source, region, endpoint, size}), for those
 * who think of them apart, as SkyPilot's MOUNT mode and dstack's volumes are.
 */
export function normalizeFiles(
  raw: {files?: Record<string, RawFileValue>; mounts?: Record<string, RawMountValue>},
  ctx: FilesContext,
  at: At,
): FileEntry[] {
  const entries: FileEntry[] = []
  const keys: Array<[string, string]> = []
  const sections: Array<['files' | 'mounts', Record<string, RawFileValue>, FileMode]> = [
    ['files', raw.files ?? {}, 'copy'],
    ['mounts', raw.mounts ?? {}, 'mount'],
  ]
  for (const [section, values, mode] of sections) {
    for (const [dest, value] of Object.entries(values)) {
      const entry = at([section, dest], () => fileEntry(dest, value, ctx, mode))
      if (entry) {
        entries.push(entry)
        keys.push([section, dest])
      }
    }
  }
  // A mount hides whatever another entry placed under it, and a copy into a mount writes to the bucket.
  entries.forEach((b, j) => {
    const mount = entries.slice(0, j).find((a) => (a.mode === 'mount' || b.mode === 'mount') && overlaps(a.path, b.path))
    if (mount)
      at(keys[j], () => {
        throw new FilesFieldError(`${b.path} overlaps ${mount.path}, and one of them is a mount, whose path holds nothing else`)
      })
  })
  return entries
}

function fileEntry(dest: string, value: RawFileValue, ctx: FilesContext, defaultMode: FileMode): FileEntry {
  const path = machinePath(dest, 'the destination')
  const given = typeof value === 'string' ? {source: value} : value
  const mode = given.mode ?? defaultMode
  if (ctx.checkpointDir !== null && overlaps(path, posix.normalize(ctx.checkpointDir).replace(/\/+$/, '')))
    throw new FilesFieldError(`${path} collides with the checkpoint directory ${ctx.checkpointDir} (checkpoint.dir): choose another path`)
  if (ctx.workdir !== null && overlaps(path, ctx.workdir))
    throw new FilesFieldError(`${path} collides with the workdir ${ctx.workdir}: choose another path`)
  const bucket = parseBucketUrl(given.source)
  if (bucket) {
    // A source ending in / (or a bare bucket) is a prefix: copy mode copies every object under it,
    // listed at launch (checkpoint/transfers.ts findFileObjects).
    return {path, mode, source: {kind: 'bucket', ...bucket, region: given.region ?? null, endpoint: given.endpoint ?? null}}
  }
  const schemes = BUCKET_SCHEMES.map((s) => `${s}://`).join(', ')
  if (mode === 'mount' && defaultMode === 'mount')
    throw new FilesFieldError(`mounts: takes a bucket URL (${schemes}); a local path is copied: put it under files:`)
  if (mode === 'mount') throw new FilesFieldError(`mode: mount takes a bucket URL (${schemes}); a local path is copied (mode: copy)`)
  if (given.region !== undefined || given.endpoint !== undefined || given.size !== undefined)
    throw new FilesFieldError(`region, endpoint and size are a bucket's; ${given.source} is a local path`)
  const local = resolve(dirname(resolve(ctx.file)), given.source)
  let stats
  try {
    stats = statSync(local)
  } catch {
    throw new FilesFieldError(`${given.source} does not exist (looked for ${local})`)
  }
  if (!stats.isDirectory() && !stats.isFile()) throw new FilesFieldError(`${given.source} is neither a file nor a directory (${local})`)
  return {path, mode, source: {kind: 'local', path: local, directory: stats.isDirectory()}}
}

/** The object an output's archive is written to, under its destination: `NAME.tar`, NAME the path's last part. */
export function outputObjectName(path: string): string {
  return `${posix.basename(path)}.tar`
}

export function normalizeOutputs(raw: Record<string, RawOutputValue>, at: At): OutputEntry[] {
  const entries: OutputEntry[] = []
  const seen = new Map<string, string>()
  for (const [src, value] of Object.entries(raw)) {
    const entry = at(['outputs', src], (): OutputEntry => {
      const path = machinePath(src, 'an output')
      const given = typeof value === 'string' ? {to: value} : value
      if (given.to === 'store') {
        if (given.region !== undefined || given.endpoint !== undefined)
          throw new FilesFieldError("region and endpoint are a bucket's; `store` is the job's checkpoint store")
        return {path, to: {kind: 'store'}}
      }
      const bucket = parseBucketUrl(given.to)
      if (!bucket)
        throw new FilesFieldError(
          `"${given.to}" is neither a bucket URL (s3://BUCKET/PREFIX, …) nor \`store\``,
          didYouMean(given.to, ['store']),
        )
      return {
        path,
        to: {
          kind: 'bucket',
          ...bucket,
          key: bucket.key.replace(/\/+$/, ''),
          region: given.region ?? null,
          endpoint: given.endpoint ?? null,
        },
      }
    })
    if (!entry) continue
    const where = `${entry.to.kind === 'store' ? 'store' : `${entry.to.scheme}://${entry.to.bucket}/${entry.to.key}`}/${outputObjectName(entry.path)}`
    const other = seen.get(where)
    if (other !== undefined) {
      at(['outputs', src], () => {
        throw new FilesFieldError(`${entry.path} and ${other} would both be uploaded as ${where}: give them different destinations`)
      })
      continue
    }
    seen.set(where, entry.path)
    entries.push(entry)
  }
  return entries
}
