// SkyPilot's `file_mounts` and dstack's `files` → skyhop `files:` (docs/job-file.md#files-and-outputs).
// What converts: a local path that exists (written absolute, as the skyhop file may be written
// elsewhere), a bucket URL of a scheme skyhop parses, copy or mount. What does not is listed at
// its line with why, never dropped: a bucket SkyPilot would create, a store skyhop has no
// provider for, a destination that is not an absolute path, a local path missing here.
import {existsSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, isAbsolute, relative, resolve, sep} from 'node:path'

import {BUCKET_SCHEMES} from '../files.js'
import {type Draft, isMap} from './common.js'

type Path = Array<string | number>

/** A local path of the foreign file (relative to its directory, `~` the importing user's home) → absolute. */
function localPath(path: string, file: string): string {
  if (path === '~' || path.startsWith('~/')) return resolve(homedir(), path.slice(2))
  return isAbsolute(path) ? path : resolve(dirname(resolve(file)), path)
}

function files(draft: Draft): Record<string, unknown> {
  return (draft.job.files ??= {}) as Record<string, unknown>
}

/** Adds a local source at `dest` when it exists here; else lists it. Returns whether it was added. */
function addLocal(draft: Draft, at: Path, dest: string, path: string, file: string): boolean {
  const absolute = localPath(path, file)
  if (!existsSync(absolute)) {
    draft.note(at, 'left-out', `${path} does not exist here (looked for ${absolute}); write \`files: {${dest}: PATH}\` where it does`)
    return false
  }
  files(draft)[dest] = absolute
  if (absolute !== path)
    draft.note(at, 'approximated', `"${path}" is written as ${absolute}: skyhop reads a relative source from the job file's own directory`)
  return true
}

/** Stores SkyPilot names by URL scheme that skyhop has no provider for. */
const SKYPILOT_FOREIGN_STORES: Record<string, string> = {
  cos: "SkyPilot's cos:// is IBM Cloud Object Storage (cos://REGION/BUCKET), not Tencent Cloud COS; skyhop has no IBM provider",
  r2: 'skyhop has no Cloudflare R2 provider (R2 speaks S3: give the bucket as s3://BUCKET/PREFIX with its endpoint)',
  oci: 'skyhop has no Oracle Cloud Object Storage provider',
  nebius: 'skyhop has no Nebius Object Storage provider',
  https: 'skyhop has no Azure Blob Storage provider',
  http: 'skyhop copies no http:// URL; fetch it in `setup`',
}

const MODES: Record<string, 'copy' | 'mount'> = {COPY: 'copy', MOUNT: 'mount', MOUNT_CACHED: 'mount'}

/** `file_mounts: {DEST: SOURCE | {source, name, store, mode, …}}` → `files:`. */
export function importSkypilotFileMounts(value: unknown, file: string, draft: Draft): void {
  if (value === undefined || value === null) return
  if (!isMap(value)) {
    draft.note(['file_mounts'], 'left-out', 'file_mounts is not a map of destination → source; nothing converted')
    return
  }
  for (const [dest, spec] of Object.entries(value)) {
    const at = ['file_mounts', dest]
    if (!dest.startsWith('/')) {
      const why = dest.startsWith('~')
        ? "~ is the home of the machine's user, which skyhop does not know here"
        : "a relative path is under SkyPilot's remote workdir (~/sky_workdir), which skyhop does not have"
      draft.note(at, 'left-out', `"${dest}" is not an absolute path: skyhop places files at absolute paths, and ${why}; write it as /…`)
      continue
    }
    if (typeof spec === 'string') {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) addBucket(draft, at, dest, spec, 'copy')
      else addLocal(draft, at, dest, spec, file)
      continue
    }
    if (!isMap(spec)) {
      draft.note(at, 'left-out', `${JSON.stringify(spec)} is neither a path, a bucket URL nor a storage spec; not converted`)
      continue
    }
    const modeText = typeof spec.mode === 'string' ? spec.mode.toUpperCase() : 'MOUNT'
    // SkyPilot's default for a storage spec is MOUNT.
    let mode = MODES[modeText]
    if (mode === undefined) {
      draft.note([...at, 'mode'], 'left-out', `"${String(spec.mode)}" is not a SkyPilot mode (COPY, MOUNT, MOUNT_CACHED); not converted`)
      continue
    }
    if (modeText === 'MOUNT_CACHED')
      draft.note(
        [...at, 'mode'],
        'approximated',
        'MOUNT_CACHED is written as mode: mount: the FUSE tool reads through; writes are not cached on local disk first',
      )
    for (const key of Object.keys(spec))
      if (!['source', 'name', 'store', 'mode'].includes(key))
        draft.note([...at, key], 'no-equivalent', `skyhop has no storage option ${key}`)
    const source = typeof spec.source === 'string' && spec.source.trim() !== '' ? spec.source : null
    const name = typeof spec.name === 'string' && spec.name.trim() !== '' ? spec.name : null
    if (source !== null && /^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
      if (name !== null) draft.note([...at, 'name'], 'no-equivalent', `the bucket is ${source}; the name ${name} is not used`)
      addBucket(draft, at, dest, source, mode)
      continue
    }
    if (source !== null) {
      // SkyPilot uploads the directory to a bucket it creates, then mounts or copies it.
      if (mode === 'mount') {
        draft.note(
          at,
          'approximated',
          `skyhop copies ${source} to ${dest} (mode: copy); it creates no bucket${name === null ? '' : ` ${name}`} to mount, so writes under ${dest} stay on the machine`,
        )
        mode = 'copy'
      }
      addLocal(draft, at, dest, source, file)
      continue
    }
    const store = typeof spec.store === 'string' ? spec.store : null
    draft.note(
      at,
      'left-out',
      `SkyPilot creates (or reuses) the bucket ${name ?? '(no name given)'}${store === null ? '' : ` on ${store}`} and ${modeText === 'COPY' ? 'copies' : 'mounts'} it here; skyhop creates no buckets: create it, then write \`${dest}: {source: s3://BUCKET/, mode: ${mode}}\`, or save results with \`outputs:\``,
    )
  }
}

/**
 * A bucket URL as a files: source. SkyPilot copies a bucket path whether it names one object
 * or a folder (its own example copies both, as `gs://…/train-00001-of-01024` and
 * `s3://…/results0`); skyhop reads a path without a final `/` as one object, so a folder's must
 * end in `/`. The URL cannot tell which, so it is kept and the choice is said.
 */
function addBucket(draft: Draft, at: Path, dest: string, url: string, mode: 'copy' | 'mount'): void {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)(\/.*)?$/i.exec(url)
  const scheme = (m?.[1] ?? '').toLowerCase()
  if (!m || !(BUCKET_SCHEMES as readonly string[]).includes(scheme) || scheme === 'cos') {
    draft.note(at, 'left-out', `${url}: ${SKYPILOT_FOREIGN_STORES[scheme] ?? `skyhop knows no ${scheme}:// store`}; not converted`)
    return
  }
  const key = (m[3] ?? '').replace(/^\/+/, '')
  if (mode === 'copy' && key !== '' && !key.endsWith('/'))
    draft.note(
      at,
      'approximated',
      `copied as one object; SkyPilot also copies a folder written so: if ${url} is one, write ${url}/ (every object under it)`,
    )
  files(draft)[dest] = mode === 'copy' ? url : {source: url, mode}
}

/**
 * dstack's `files: ["LOCAL:REMOTE" | "PATH" | {local_path, path}]`. An absolute REMOTE is a
 * skyhop destination. A relative one is under dstack's working directory (the repo), which is
 * skyhop's workdir: a file already at that place in the workdir needs nothing; with no workdir,
 * one whose local path is the same relative path from the configuration's directory makes that
 * directory the workdir (noted: the whole directory is uploaded). Anything else is listed.
 */
export function importDstackFiles(value: unknown, file: string, draft: Draft): void {
  if (value === undefined || value === null) return
  if (!Array.isArray(value)) {
    draft.note(['files'], 'left-out', 'files is not a list; nothing converted')
    return
  }
  const base = dirname(resolve(file))
  value.forEach((entry, i) => {
    const at = ['files', i]
    let local: string
    let remote: string
    if (typeof entry === 'string') {
      const parts = entry.split(':')
      if (parts.length > 2 || parts.some((p) => p === '')) {
        draft.note(at, 'left-out', `"${entry}" is not LOCAL:REMOTE or PATH; not converted`)
        return
      }
      local = parts[0]
      remote = parts[1] ?? parts[0]
    } else if (isMap(entry) && typeof entry.local_path === 'string' && typeof entry.path === 'string') {
      local = entry.local_path
      remote = entry.path
    } else {
      draft.note(at, 'left-out', `${JSON.stringify(entry)} is neither LOCAL:REMOTE nor {local_path, path}; not converted`)
      return
    }
    if (remote.startsWith('/')) {
      addLocal(draft, at, remote, local, file)
      return
    }
    const absolute = localPath(local, file)
    const workdir = typeof draft.job.workdir === 'string' ? draft.job.workdir : null
    const inside = (dir: string) => {
      const rel = relative(dir, absolute)
      return (
        rel !== '' &&
        !rel.startsWith('..') &&
        !isAbsolute(rel) &&
        rel.split(sep).join('/') === remote.replace(/^\.\//, '').replace(/\/+$/, '')
      )
    }
    if (!existsSync(absolute)) {
      draft.note(
        at,
        'left-out',
        `${local} does not exist here (looked for ${absolute}); dstack copies it into the run's working directory, skyhop's workdir`,
      )
      return
    }
    if (workdir !== null && inside(workdir)) {
      draft.note(at, 'approximated', `${local} is already ./${remote} in the workdir ${workdir}; nothing to add`)
      return
    }
    if (workdir === null && inside(base)) {
      draft.job.workdir = base
      draft.note(
        at,
        'approximated',
        `dstack copies ${local} into the run's working directory; the workdir is set to ${base}, where it is ./${remote} (the whole directory is uploaded: add a .skyhopignore to leave parts out)`,
      )
      return
    }
    draft.note(
      at,
      'left-out',
      `${remote} is relative to dstack's working directory, and ${absolute} is not at that place in ${workdir === null ? `this directory (${base})` : `the workdir ${workdir}`}; write \`files: {/ABSOLUTE/PATH: ${absolute}}\` and use that path`,
    )
  })
}
