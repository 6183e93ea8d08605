// Shared benchmark helpers: wall time and peak memory of real processes, the machine and
// commit they ran on, and results written with the date to bench/results/ by the script
// alone. Every benchmark measures its own baseline (bare `node -e 0`, or the direct
// command) in the same run and reports ratios to it.
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, tmpdir, totalmem} from 'node:os'
import {join} from 'node:path'

export const ROOT = join(import.meta.dirname, '..')
export const BIN = join(ROOT, 'bin', 'run.js')

/** The skyhop commit being measured, with `+dirty` when the tree has uncommitted changes. */
export function commit() {
  const head = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], {cwd: ROOT, encoding: 'utf8'})
  if (head.status !== 0) return 'unknown'
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'bin', 'schemas', 'data'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  return head.stdout.trim() + (dirty.stdout.trim() === '' ? '' : '+dirty')
}

export function machine() {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  }
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

// GNU time reports the child's peak RSS (getrusage ru_maxrss); Debian package `time`.
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null
const rssDir = mkdtempSync(join(tmpdir(), 'skyhop-bench-rss-'))
process.on('exit', () => rmSync(rssDir, {recursive: true, force: true}))

/**
 * Runs `cmd args` once and returns {ms, rssMB, status, stdout, stderr}. Peak RSS comes from
 * GNU time (null without it); the wrapper costs the same for every command measured, the
 * baseline included, so ratios stay fair.
 */
export function runOnce(cmd, args, {env = process.env, cwd = ROOT, input} = {}) {
  const rssFile = join(rssDir, 'rss')
  const [c, a] = GNU_TIME ? [GNU_TIME, ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, args]
  const t0 = process.hrtime.bigint()
  const r = spawnSync(c, a, {env, cwd, input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], maxBuffer: 1 << 30})
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  let rssMB = null
  if (GNU_TIME && existsSync(rssFile)) {
    const kb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop())
    if (Number.isFinite(kb)) rssMB = kb / 1024
    rmSync(rssFile, {force: true})
  }
  return {ms, rssMB, status: r.status, stdout: r.stdout, stderr: r.stderr}
}

/**
 * Runs `cmd args` `runs` times after one warm-up; returns {times, rss} (ms, MB). Throws when
 * the exit code is not `expectCode`, with the command's stderr.
 */
export function measureProcess(cmd, args, {runs = 10, env = process.env, cwd = ROOT, expectCode = 0, warmup = 1} = {}) {
  const times = []
  const rss = []
  for (let i = 0; i < runs + warmup; i++) {
    const r = runOnce(cmd, args, {env, cwd})
    if (r.status !== expectCode) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${String(r.stderr).slice(0, 2000)}`)
    if (i >= warmup) {
      times.push(r.ms)
      if (r.rssMB !== null) rss.push(r.rssMB)
    }
  }
  return {times, rss}
}

/** Runs `cmd args` `runs` times (after one warm-up) and returns wall times in ms. */
export function timeProcess(cmd, args, options = {}) {
  return measureProcess(cmd, args, options).times
}

/** Bare Node start, the baseline every CLI figure is divided by: {ms, rssMB} medians. */
export function nodeBaseline(runs = 10) {
  const {times, rss} = measureProcess(process.execPath, ['-e', '0'], {runs})
  return {ms: median(times), rssMB: rss.length ? median(rss) : null}
}

/** Spawns a command and resolves with ms until `predicate(stdoutSoFar)` first holds. */
export function timeToOutput(cmd, args, predicate, {env = process.env, cwd = ROOT} = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const child = spawn(cmd, args, {env, cwd, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    let done = false
    child.stdout.on('data', (d) => {
      out += d
      if (!done && predicate(out)) {
        done = true
        resolve(Number(process.hrtime.bigint() - t0) / 1e6)
      }
    })
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) => {
      if (!done) reject(new Error(`${cmd} ${args.join(' ')} exited ${code} before the expected output: ${err.slice(0, 2000)}`))
    })
  })
}

export const fmt = (x, digits = 1) => (x === null || x === undefined ? '' : Number(x).toFixed(digits))

/** A markdown table from rows of objects and [header, key, format?] columns. */
export function table(rows, columns) {
  const head = `| ${columns.map((c) => c[0]).join(' | ')} |`
  const rule = `|${columns.map((c) => (c[2] === 'text' || c[2] === undefined ? '---' : '---:')).join('|')}|`
  const cell = (r, c) => {
    const v = r[c[1]]
    if (v === null || v === undefined) return ''
    if (typeof v === 'boolean') return v ? 'yes' : 'NO'
    if (typeof c[2] === 'number') return Number(v).toFixed(c[2])
    return String(v)
  }
  return [head, rule, ...rows.map((r) => `| ${columns.map((c) => cell(r, c)).join(' | ')} |`)].join('\n')
}

/**
 * Writes bench/results/<name>-<date>.json and .md, the header (machine, CPU, Node, commit,
 * date) included, and returns the paths. Everything in the files comes from the script.
 */
export function record(name, data, markdown) {
  const dir = join(import.meta.dirname, 'results')
  mkdirSync(dir, {recursive: true})
  const now = new Date().toISOString()
  const date = now.slice(0, 10)
  const base = join(dir, `${name}-${date}`)
  const m = machine()
  const rev = commit()
  writeFileSync(`${base}.json`, JSON.stringify({name, date: now, commit: rev, machine: m, ...data}, null, 2) + '\n')
  writeFileSync(
    `${base}.md`,
    `# ${name} — ${date}\n\nMachine: ${m.cores} × ${m.cpu}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; skyhop ${rev}; run at ${now}\n\n${markdown}\n`,
  )
  return [`${base}.json`, `${base}.md`]
}
