// The live view of a sweep on a terminal (stderr): one line per running job and a summary
// line, redrawn in place at most every 100 ms. Without a terminal, `lines` mode prints
// one plain line per job that ends instead, so CI logs stay readable.
import type {SweepEvent} from '../services/sweep.js'
import {costText, formatSeconds, formatUsd} from './render-sweep.js'

interface RunningJob {
  name: string
  values: string
  status: string
  since: number
}

export class SweepView {
  private readonly running = new Map<string, RunningJob>()
  private done = 0
  private failed = 0
  private cancelled = 0
  private costUsd = 0
  private unknownCost = false
  private drawn = 0
  private timer?: NodeJS.Timeout
  private dirty = false

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly total: number,
    private readonly mode: 'live' | 'lines',
  ) {
    if (mode === 'live') {
      this.timer = setInterval(() => this.draw(), 100)
      this.timer.unref()
    }
  }

  onEvent(e: SweepEvent): void {
    const id = e.jobId ?? ''
    switch (e.event) {
      case 'sweep-started': {
        // Jobs the plan could not place (or that ended before a restart) are already done.
        const ended = (e.data?.ended ?? {}) as {succeeded?: number; failed?: number; cancelled?: number}
        this.failed += ended.failed ?? 0
        this.cancelled += ended.cancelled ?? 0
        this.done += (ended.succeeded ?? 0) + (ended.failed ?? 0) + (ended.cancelled ?? 0)
        if (this.mode === 'lines' && this.done > 0)
          this.stream.write(
            `[${this.done}/${this.total}] already ended: ${ended.succeeded ?? 0} succeeded, ${ended.failed ?? 0} failed, ${ended.cancelled ?? 0} cancelled\n`,
          )
        break
      }
      case 'job-started':
        this.running.set(id, {
          name: e.name ?? id,
          values: Object.entries((e.data?.values ?? {}) as Record<string, unknown>)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(' '),
          status: 'starting',
          since: Date.now(),
        })
        break
      case 'job-ended': {
        this.running.delete(id)
        this.done++
        const state = e.data?.state
        if (state === 'FAILED') this.failed++
        if (state === 'CANCELLED') this.cancelled++
        // A job at an unknown price makes the running total unknown, not $0 more.
        if (e.data?.costUsd === null) this.unknownCost = true
        else this.costUsd += Number(e.data?.costUsd ?? 0)
        if (this.mode === 'lines') this.stream.write(`[${this.done}/${this.total}] ${e.message}\n`)
        break
      }
      case 'budget-stop':
        this.done++
        this.cancelled++
        if (this.mode === 'lines') this.stream.write(`[${this.done}/${this.total}] ${e.message}\n`)
        break
      default: {
        const job = this.running.get(id)
        if (job) job.status = e.message.startsWith(`${job.name}: `) ? e.message.slice(job.name.length + 2) : e.message
        else if (this.mode === 'lines' && /failover|recovering|restarting|waiting|idle-released|lease-lost|job-error/.test(e.event))
          this.stream.write(`skyhop: ${e.message}\n`)
      }
    }
    this.dirty = true
  }

  private summary(): string {
    return `[${this.done}/${this.total} done] ${this.running.size} running · ${this.failed} failed · ${this.cancelled} cancelled · ${this.unknownCost ? costText(null, this.costUsd) : formatUsd(this.costUsd)} spent`
  }

  private lastDraw = 0

  private draw(): void {
    // Redraw on news, and every second anyway so that running times move.
    if (!this.dirty && (this.running.size === 0 || Date.now() - this.lastDraw < 1000)) return
    this.dirty = false
    this.lastDraw = Date.now()
    const width = Math.max(40, (this.stream.columns ?? 100) - 1)
    const room = Math.max(1, (this.stream.rows ?? 24) - 3)
    const jobs = [...this.running.values()]
    const lines = jobs
      .slice(0, room)
      .map((j) => `  ${j.name}  ${j.values}  ${formatSeconds((Date.now() - j.since) / 1000)}  ${j.status}`.slice(0, width))
    if (jobs.length > room) lines.push(`  … and ${jobs.length - room} more`)
    lines.push(this.summary().slice(0, width))
    this.clear()
    this.stream.write(lines.join('\n') + '\n')
    this.drawn = lines.length
  }

  private clear(): void {
    if (this.drawn > 0) this.stream.write(`\u001B[${this.drawn}A\u001B[J`)
    this.drawn = 0
  }

  /** Stops redrawing and removes the live lines (the results table follows on stdout). */
  stop(): void {
    if (this.timer) clearInterval(this.timer)
    if (this.mode === 'live') this.clear()
  }
}

/**
 * What `sweep --wait` shows of its events: JSON Lines on stdout under --json (the envelope
 * follows as the last line), else the live view on a terminal or one line per job in a log.
 */
export function sweepProgress(options: {json: boolean; decorated: boolean; total: number}): {onEvent(e: SweepEvent): void; stop(): void} {
  if (options.json) return {onEvent: (e) => process.stdout.write(JSON.stringify(e) + '\n'), stop: () => undefined}
  const view = new SweepView(process.stderr, options.total, options.decorated ? 'live' : 'lines')
  return {onEvent: (e) => view.onEvent(e), stop: () => view.stop()}
}
