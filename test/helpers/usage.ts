// What a job's samples say it used, set against what the job itself says it used: for tests
// whose job measures its own CPU time (bash's `times`), on a shared machine where a busy loop
// gets whatever share of a core the other load leaves it.
import type {UsageSample} from '../../src/model/usage.js'

/** CPU seconds the samples account for: each sample's cores over the time since the previous one (the first: `firstSeconds`). */
export function sampledCpuSeconds(samples: readonly UsageSample[], firstSeconds: number): number {
  let total = 0
  samples.forEach((s, i) => {
    const dt = i === 0 ? firstSeconds : (Date.parse(s.ts) - Date.parse(samples[i - 1].ts)) / 1000
    total += s.cpuCores * dt
  })
  return total
}

/** The CPU seconds (user + system) in the first line of bash's `times` output (`0m6.120s 0m0.010s`), found in a log; null when absent. */
export function bashTimesSeconds(log: string): number | null {
  const m = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/m.exec(log)
  return m ? Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]) : null
}
