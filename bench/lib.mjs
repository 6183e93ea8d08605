// Shared benchmark helpers: wall-time medians of real processes, the machine they ran
// on, and results written with the date to bench/results/.
import {spawnSync} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {cpus, totalmem} from 'node:os'
import {join} from 'node:path'

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

/** Runs `cmd args` `runs` times (after one warm-up) and returns wall times in ms. */
export function timeProcess(cmd, args, {runs = 20, env = process.env, cwd = process.cwd(), expectCode = 0} = {}) {
  const times = []
  for (let i = 0; i <= runs; i++) {
    const t0 = process.hrtime.bigint()
    const r = spawnSync(cmd, args, {env, cwd, stdio: ['ignore', 'pipe', 'pipe']})
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    if (r.status !== expectCode) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
    if (i > 0) times.push(ms)
  }
  return times
}

/** Writes bench/results/<name>-<date>.json and .md; returns the paths. */
export function record(name, data, markdown) {
  const dir = join(import.meta.dirname, 'results')
  mkdirSync(dir, {recursive: true})
  const date = new Date().toISOString().slice(0, 10)
  const base = join(dir, `${name}-${date}`)
  writeFileSync(`${base}.json`, JSON.stringify({name, date: new Date().toISOString(), machine: machine(), ...data}, null, 2) + '\n')
  const m = machine()
  writeFileSync(
    `${base}.md`,
    `# ${name} — ${date}\n\nMachine: ${m.cores} × ${m.cpu}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}\n\n${markdown}\n`,
  )
  return [`${base}.json`, `${base}.md`]
}
