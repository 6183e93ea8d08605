// Reads back what the boot script (boot-script.ts) mirrors to a VM's serial console:
// `SKYHOP-EV <event json>`, `SKYHOP-LOG <n> <line>`, `SKYHOP-EXIT <runner rc> <job rc|none>`.
// The clouds return the console's recent tail (EC2: the last 64 KB) with kernel and
// cloud-init lines around ours, sometimes with CRs or a prefix glued on; only our
// prefixed lines count, and each is parsed defensively. Also what every adapter does with
// a report: take the output lines it has not yet read, and give an ended instance time for
// its exit line to appear.
import type {RunnerEvent} from '../../runner/contract.js'
import type {AttemptState} from '../../model/attempt.js'
import {CONSOLE_PREFIX} from './boot-script.js'

export interface ConsoleReport {
  /** The boot script started (its BOOT line is in the tail, or anything after it). */
  booted: boolean
  events: RunnerEvent[]
  /** Output lines with their 1-based sequence numbers, in order, without duplicates. */
  logs: Array<{seq: number; line: string}>
  /** The runner's own exit code; null until the EXIT line is seen. */
  runnerExit: number | null
  /**
   * The job's exit code from the runner's exit_code file, or from the job's own job.status
   * when the runner died first (the keeper waited for the job); null when neither exists.
   */
  jobExit: number | null
  ended: boolean
}

export function parseConsole(text: string): ConsoleReport {
  const report: ConsoleReport = {booted: false, events: [], logs: [], runnerExit: null, jobExit: null, ended: false}
  const seen = new Set<number>()
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '')
    const at = line.indexOf('SKYHOP-')
    if (at < 0) continue
    const body = line.slice(at)
    if (body.startsWith(`${CONSOLE_PREFIX.boot} `)) report.booted = true
    else if (body.startsWith(`${CONSOLE_PREFIX.event} `)) {
      report.booted = true
      try {
        const ev = JSON.parse(body.slice(CONSOLE_PREFIX.event.length + 1)) as RunnerEvent
        if (ev && typeof ev.event === 'string' && typeof ev.ts === 'string') report.events.push(ev)
      } catch {
        // A line cut by the console's tail window or by interleaved kernel output.
      }
    } else if (body.startsWith(`${CONSOLE_PREFIX.log} `)) {
      report.booted = true
      const m = /^SKYHOP-LOG (\d+) ?(.*)$/.exec(body)
      if (m && !seen.has(Number(m[1]))) {
        seen.add(Number(m[1]))
        report.logs.push({seq: Number(m[1]), line: m[2]})
      }
    } else if (body.startsWith(`${CONSOLE_PREFIX.exit} `)) {
      const m = /^SKYHOP-EXIT (\d+) (\d+|none)/.exec(body)
      if (m) {
        report.booted = true
        report.ended = true
        report.runnerExit = Number(m[1])
        report.jobExit = m[2] === 'none' ? null : Number(m[2])
      }
    }
  }
  report.logs.sort((a, b) => a.seq - b.seq)
  return report
}

/** The attempt's end state from an ended console report. */
export function finalState(report: ConsoleReport): {state: AttemptState; exitCode: number | null; reason: string | null} {
  const names = new Set(report.events.map((e) => e.event))
  if (report.jobExit === null) {
    const error = report.events.find((e) => e.event === 'error' || e.event === 'no-slot')
    const message = typeof error?.message === 'string' ? error.message : `runner exited ${report.runnerExit ?? '?'} without an exit code`
    return {state: 'LOST', exitCode: null, reason: message}
  }
  // As the local provider decides: a stop wins over the exit code, because a job that
  // checkpointed and exited 0 on a notice still has work left.
  if (names.has('cancel')) return {state: 'CANCELLED', exitCode: report.jobExit, reason: `cancelled; exit ${report.jobExit}`}
  if (names.has('notice')) return {state: 'PREEMPTED', exitCode: report.jobExit, reason: `interruption notice; exit ${report.jobExit}`}
  if (report.jobExit === 0) return {state: 'SUCCEEDED', exitCode: 0, reason: null}
  // A container image that could not be pulled: the runner's own words, as on the local provider.
  const pull = report.events.find((e) => e.event === 'image-pull-failed')
  if (typeof pull?.message === 'string') return {state: 'FAILED', exitCode: report.jobExit, reason: pull.message}
  return {state: 'FAILED', exitCode: report.jobExit, reason: `exit ${report.jobExit}`}
}

/** The ISO time of the first event of a kind, if any. */
export function eventTime(report: ConsoleReport, name: string): string | null {
  return report.events.find((e) => e.event === name)?.ts ?? null
}

/**
 * The output lines after sequence number `after`, with a note (`gapNote`) where lines are
 * missing because they fell out of the cloud's console window; and the last sequence number
 * now read.
 */
export function linesAfter(report: ConsoleReport, after: number, gapNote: (missing: number) => string): {lines: string[]; last: number} {
  const lines: string[] = []
  let last = after
  for (const {seq, line} of report.logs) {
    if (seq <= last) continue
    if (seq > last + 1) lines.push(gapNote(seq - last - 1))
    lines.push(line)
    last = seq
  }
  return {lines, last}
}

/**
 * When each ended instance was first seen without its exit line. The clouds publish
 * console output late, so such an attempt stays RUNNING for a grace period before it is
 * given up.
 */
export class ExitLineGrace {
  private readonly firstSeen = new Map<string, number>()

  /** Whether `id` is within `graceMs` of first being seen ended without its exit line; past that it is forgotten. */
  waiting(id: string, nowMs: number, graceMs: number): boolean {
    const first = this.firstSeen.get(id) ?? nowMs
    if (nowMs - first < graceMs) {
      this.firstSeen.set(id, first)
      return true
    }
    this.firstSeen.delete(id)
    return false
  }

  /** The exit line was read, or the instance is gone. */
  forget(id: string): void {
    this.firstSeen.delete(id)
  }
}
