// Packs a job's workdir (its code) into one tar archive, the same bytes for the same content:
// entries sorted by path, every mtime 0, owner and group 0, GNU format (no atime or ctime).
// So the archive's sha256 names the content, a re-launch of unchanged code finds the object
// it uploaded before, and a Slurm stage is what a cloud would get. Files that `.gitignore`
// or `.skyhopignore` exclude are left out (docs/job-file.md#workdir lists the pattern
// features honoured); `.git` itself is never packed.
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {createReadStream, lstatSync, readdirSync, readFileSync} from 'node:fs'
import {mkdtemp, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/** The ignore files read in every directory, lowest precedence first. */
export const IGNORE_FILES = ['.gitignore', '.skyhopignore'] as const

interface IgnoreRule {
  /** Matches a path relative to the directory of the file that holds the rule. */
  regex: RegExp
  negate: boolean
  dirOnly: boolean
  /** The directory (relative to the workdir, '' for its root) of the ignore file. */
  base: string
}

/** One `.gitignore` line as a rule, or null for a blank line or a comment. */
export function parseIgnoreLine(line: string, base: string): IgnoreRule | null {
  // Trailing spaces are dropped unless escaped with a backslash (gitignore(5)).
  let text = line.replace(/(?<!\\)\s+$/, '')
  if (text === '' || text.startsWith('#')) return null
  let negate = false
  if (text.startsWith('!')) {
    negate = true
    text = text.slice(1)
  } else if (text.startsWith('\\!') || text.startsWith('\\#')) {
    text = text.slice(1)
  }
  let dirOnly = false
  if (text.endsWith('/')) {
    dirOnly = true
    text = text.replace(/\/+$/, '')
  }
  if (text === '') return null
  // A slash at the start or in the middle anchors the pattern to the ignore file's directory;
  // without one it matches a name at any depth below it.
  const anchored = text.includes('/')
  if (text.startsWith('/')) text = text.slice(1)
  if (!anchored) text = `**/${text}`
  return {regex: new RegExp(`^${globToRegex(text)}$`), negate, dirOnly, base}
}

/** gitignore's glob: `*` and `?` stop at a slash, `**` crosses them, `[...]` is a class. */
function globToRegex(glob: string): string {
  let out = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (c === '*' && glob[i + 1] === '*') {
      const atStart = i === 0 || glob[i - 1] === '/'
      const slashAfter = glob[i + 2] === '/'
      if (atStart && slashAfter) {
        out += '(?:.*/)?'
        i += 2
      } else if (atStart && i + 2 === glob.length) {
        out += '.*'
        i += 1
      } else {
        out += '[^/]*'
        i += 1
      }
    } else if (c === '*') {
      out += '[^/]*'
    } else if (c === '?') {
      out += '[^/]'
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2)
      if (end === -1) {
        out += '\\['
        continue
      }
      let body = glob.slice(i + 1, end)
      if (body.startsWith('!')) body = `^${body.slice(1)}`
      out += `[${body.replace(/\\/g, '\\\\')}]`
      i = end
    } else if (c === '\\' && i + 1 < glob.length) {
      out += escapeRegex(glob[++i])
    } else {
      out += escapeRegex(c)
    }
  }
  return out
}

function escapeRegex(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c
}

/** Whether the rules (in order, the last match wins) exclude `path` (relative to the workdir). */
function ignored(rules: readonly IgnoreRule[], path: string, isDir: boolean): boolean {
  let result = false
  for (const rule of rules) {
    if (rule.dirOnly && !isDir) continue
    if (rule.base !== '' && !path.startsWith(`${rule.base}/`)) continue
    const relative = rule.base === '' ? path : path.slice(rule.base.length + 1)
    if (rule.regex.test(relative)) result = !rule.negate
  }
  return result
}

/** A workdir's entries to pack and, when asked for, their fingerprint (workdirFingerprint's value). */
export interface WorkdirScan {
  /** Relative to the workdir, sorted (a directory before what it holds). */
  entries: string[]
  fingerprint: string | null
}

/** How long the walk runs between two turns of the event loop: long enough that yielding costs nothing. */
const WALK_SLICE_MS = 4

interface ScanOptions {
  /** Stat every entry kept, and hash what workdirFingerprint hashes. */
  fingerprint: boolean
  /** At most this long between two turns of the event loop (default 4 ms; 0: before every directory). */
  sliceMs?: number
}

/**
 * The paths to pack, relative to `dir`, sorted (a directory before what it holds), and with
 * `fingerprint` their fingerprint (see workdirFingerprint) in the same walk: each entry kept
 * is stat'ed right after its directory is read, so every path is built once. A directory that
 * is ignored is not entered, so nothing under it can be re-included: git's rule.
 *
 * Synchronous calls on purpose: a workdir of 10,000 files is 10,000 stats, and each async one
 * is a round trip through the thread pool (~3 times the CPU here, even 64 at a time). But the
 * walk hands the event loop a turn every few milliseconds, between directories, so that what
 * the caller started before it (the HEAD of the archive last packed) goes out and is answered
 * while the files are stat'ed, instead of after.
 */
export async function scanWorkdir(dir: string, options: ScanOptions & {fingerprint: true}): Promise<WorkdirScan & {fingerprint: string}>
export async function scanWorkdir(dir: string, options: ScanOptions): Promise<WorkdirScan>
export async function scanWorkdir(dir: string, options: ScanOptions): Promise<WorkdirScan> {
  const sliceMs = options.sliceMs ?? WALK_SLICE_MS
  const out: string[] = []
  const hash = options.fingerprint ? createHash('sha256') : null
  let sliceStart = Date.now()
  const walk = async (relative: string, inherited: readonly IgnoreRule[]): Promise<void> => {
    if (Date.now() - sliceStart >= sliceMs) {
      await new Promise((resolve) => setImmediate(resolve))
      sliceStart = Date.now()
    }
    const absolute = relative === '' ? dir : join(dir, relative)
    const listing = readdirSync(absolute, {withFileTypes: true}).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))
    const rules = [...inherited]
    for (const name of IGNORE_FILES) {
      if (!listing.some((e) => e.name === name && e.isFile())) continue
      for (const line of readFileSync(join(absolute, name), 'utf8').split(/\r?\n/)) {
        const rule = parseIgnoreLine(line, relative)
        if (rule) rules.push(rule)
      }
    }
    // One hash update per directory: the same digest as one update of all the lines joined.
    const lines: string[] = []
    for (const entry of listing) {
      if (entry.name === '.git') continue
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`
      const isDir = entry.isDirectory()
      // Sockets, fifos and devices are not code: tar could not restore them as they were anyway.
      if (!isDir && !entry.isFile() && !entry.isSymbolicLink()) continue
      if (ignored(rules, path, isDir)) continue
      out.push(path)
      if (hash) lines.push(fingerprintLine(path, lstatSync(`${absolute}/${entry.name}`)))
      if (isDir) {
        // Entered in place, so the order stays: a directory, what it holds, then its next sibling.
        if (hash && lines.length > 0) hash.update(lines.splice(0).join(''))
        await walk(path, rules)
      }
    }
    if (hash && lines.length > 0) hash.update(lines.join(''))
  }
  await walk('', [])
  return {entries: out, fingerprint: hash ? hash.digest('hex') : null}
}

/** The paths to pack, relative to `dir`, sorted (a directory before what it holds); see scanWorkdir. */
export async function workdirEntries(dir: string): Promise<string[]> {
  return (await scanWorkdir(dir, {fingerprint: false})).entries
}

export interface PackedWorkdir {
  /** The archive, in a temporary directory of its own: remove it with `dispose()`. */
  file: string
  sha256: string
  bytes: number
  /** Files, directories and links packed. */
  entries: number
  dispose(): Promise<void>
}

/** One entry's part of a fingerprint. mtimeMs keeps the microseconds; bigint stats (nanoseconds) take twice as long here. */
function fingerprintLine(path: string, info: {mode: number; size: number; mtimeMs: number}): string {
  return `${path}\0${info.mode}\0${info.size}\0${info.mtimeMs}\n`
}

/**
 * What the archive of `entries` would depend on, without reading a file: each entry's path,
 * mode, size and mtime (to the microsecond), hashed. The same fingerprint as an earlier pack means
 * the same archive, the way git's index trusts unchanged stat data, so an unchanged
 * re-launch stats 10,000 files instead of reading and hashing a gigabyte. (A file rewritten
 * with the same size within the same microsecond would not be seen: git's "racy" case.)
 * scanWorkdir gives the same value for the entries it finds, in the same walk.
 */
export async function workdirFingerprint(dir: string, entries: readonly string[]): Promise<string> {
  const hash = createHash('sha256')
  const parts: string[] = []
  for (const path of entries) parts.push(fingerprintLine(path, lstatSync(`${dir}/${path}`)))
  hash.update(parts.join(''))
  return hash.digest('hex')
}

/** Packs `dir` into a deterministic tar archive (see the module comment); `entries` when already listed. */
export async function packWorkdir(dir: string, listed?: readonly string[]): Promise<PackedWorkdir> {
  const entries = listed ?? (await workdirEntries(dir))
  const tmp = await mkdtemp(join(tmpdir(), 'skyhop-workdir-'))
  const file = join(tmp, 'workdir.tar')
  const dispose = () => rm(tmp, {recursive: true, force: true})
  try {
    await runTar(
      [
        '--create',
        `--file=${file}`,
        `--directory=${dir}`,
        '--format=gnu',
        '--mtime=@0',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '--no-recursion',
        '--null',
        '--files-from=-',
      ],
      entries.map((e) => `${e}\0`).join(''),
    )
    const hash = createHash('sha256')
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
    return {file, sha256: hash.digest('hex'), bytes: (await stat(file)).size, entries: entries.length, dispose}
  } catch (error) {
    await dispose()
    throw error
  }
}

/** Unpacks an archive made by packWorkdir into `dir` (which must exist). */
export function unpackWorkdir(file: string, dir: string): Promise<void> {
  return runTar(['--extract', `--file=${file}`, `--directory=${dir}`, '--no-same-owner'], '')
}

function runTar(args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', args, {stdio: ['pipe', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar ${args[0]} failed (exit ${code}): ${stderr.trim()}`))))
    // A tar that exits early (an error) closes its stdin: its exit code and stderr say why, not EPIPE.
    child.stdin.on('error', () => undefined)
    child.stdin.end(input)
  })
}
