// What a job's samples say it used, set against what the job itself says it used: for tests
// whose job measures its own CPU time (bash's `times`), on a shared machine where a busy loop
// gets whatever share of a core the other load leaves it.
import {expect} from 'chai'

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

/**
 * The job's loop ran a second or more of CPU (bash's `times` in its log) and the samples, taken
 * every `intervalSeconds`, account for at least 60% of it: the share a busy loop gets here
 * varies, the two must agree. Returns the figures, for the caller's further messages.
 */
export function expectSamplesCoverOwnCpu(log: string, samples: readonly UsageSample[], intervalSeconds: number): string {
  const own = bashTimesSeconds(log)
  const sampled = sampledCpuSeconds(samples, intervalSeconds)
  const text = `own ${String(own)} s, sampled ${sampled.toFixed(2)} s: ${JSON.stringify(samples.map((s) => [s.cpuCores, Math.round(s.rssMiB)]))}`
  expect(own, text).to.be.at.least(1)
  expect(sampled, text).to.be.at.least(0.6 * own!)
  return text
}
