// `skyhop agent`: a long-running process that adopts every job, sweep and service whose
// controller lease expired (or that `launch --detach` left to agents) and drives it to its
// end in this process (docs/agent.md). Any number of agents on any machines share the work
// through the state store: an agent claims a piece of work with one conditional UPDATE of its
// lease (free or expired → this agent's), so exactly one agent wins each claim, and it keeps
// it by the same heartbeat a controller does. SIGTERM stops the scanning and hands every piece
// back (the drives stop and release their leases) for another agent to claim at once.
import {hostname} from 'node:os'

import {LEASE_TTL_MS} from '../controller/controller.js'
import {missingSecrets} from '../controller/contract-env.js'
import {isSkyhopError} from '../errors.js'
import {TERMINAL_JOB_STATES} from '../model/records.js'
import {TERMINAL_SERVICE_STATES} from '../model/service.js'
import {ServiceStore} from '../state/services.js'
import {redact} from '../util/redact.js'
import type {ServiceContext} from './context.js'
import {driveRecordedJob} from './controller.js'
import {driveRecordedService} from './serve.js'
import {driveRecordedSweep} from './sweep-controller.js'

export type AgentWorkKind = 'job' | 'sweep' | 'service'

export interface AgentEvent {
  ts: string
  /** This agent's name, the lease owner it claims under. */
  agent: string
  event: 'started' | 'adopted' | 'finished' | 'handed-back' | 'returned' | 'failed' | 'stopping' | 'stopped' | 'progress'
  kind?: AgentWorkKind
  id?: string
  name?: string
  /** The job's, sweep's or service's state when the drive ended. */
  state?: string
  message: string
}

export interface AgentWorkItem {
  kind: AgentWorkKind
  id: string
  name: string
  /**
   * finished: driven to an end; handed-back: released on SIGTERM; returned: left unfinished
   * (e.g. held for secrets); failed: the drive threw.
   */
  outcome: 'finished' | 'handed-back' | 'returned' | 'failed'
  state: string | null
  /** Milliseconds from the scan that found it to its claim. */
  claimMs: number
}

export interface AgentResult {
  agent: string
  scans: number
  adopted: number
  work: AgentWorkItem[]
}

export interface AgentOptions {
  /** Adopt what is unowned now, drive it to its end, and exit (scripts, tests). */
  once: boolean
  /** Aborted (SIGTERM): stop adopting, hand everything back. */
  signal: AbortSignal
  /** Between scans of the store; default a third of the lease period, at most 5 s. */
  intervalMs?: number
  /** At most this many pieces of work driven at once; default 64. */
  maxActive?: number
  onEvent?: (event: AgentEvent) => void
  /** The environment the drives read secrets from (default: this process's). */
  env?: NodeJS.ProcessEnv
}

/** How long work an agent gave back unfinished (held for secrets, a drive that failed) is left alone. */
const COOLDOWN_MS = 30_000

export function agentName(): string {
  return `agent:${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
}

export async function runAgent(ctx: ServiceContext, options: AgentOptions): Promise<AgentResult> {
  const name = agentName()
  const store = await ctx.store()
  const services = new ServiceStore(store)
  const env = options.env ?? process.env
  const intervalMs = options.intervalMs ?? Math.min(5000, Math.max(100, Math.floor(LEASE_TTL_MS / 3)))
  const maxActive = options.maxActive ?? 64
  const emit = (e: Omit<AgentEvent, 'ts' | 'agent'>): void => options.onEvent?.({ts: new Date().toISOString(), agent: name, ...e})
  const active = new Map<string, Promise<void>>()
  const cooldown = new Map<string, number>()
  const work: AgentWorkItem[] = []
  let scans = 0

  const stateOf = (kind: AgentWorkKind, id: string): string | null =>
    (kind === 'job' ? store.getJob(id)?.state : kind === 'sweep' ? store.getSweep(id)?.state : services.getService(id)?.state) ?? null
  const ended = (kind: AgentWorkKind, state: string | null): boolean =>
    state === null ||
    (kind === 'service'
      ? TERMINAL_SERVICE_STATES.has(state as never)
      : kind === 'sweep'
        ? state !== 'RUNNING'
        : TERMINAL_JOB_STATES.has(state as never))

  /** Drives claimed work in the background of this process; records how it ended. */
  const start = (kind: AgentWorkKind, id: string, label: string, claimMs: number, drive: () => Promise<unknown>): void => {
    emit({event: 'adopted', kind, id, name: label, message: `adopted ${kind} ${label} (${id})`})
    const run = (async () => {
      let outcome: AgentWorkItem['outcome']
      let message: string
      try {
        await drive()
        const state = stateOf(kind, id)
        if (ended(kind, state)) {
          outcome = 'finished'
          message = `${kind} ${label} (${id}) ended: ${state}`
        } else if (options.signal.aborted) {
          outcome = 'handed-back'
          message = `handed ${kind} ${label} (${id}) back (${state})`
        } else {
          outcome = 'returned'
          message = `${kind} ${label} (${id}) left unfinished (${state}); not claimed again for ${COOLDOWN_MS / 1000} s`
          cooldown.set(id, Date.now() + COOLDOWN_MS)
        }
      } catch (error) {
        outcome = 'failed'
        const why = isSkyhopError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error)
        message = `driving ${kind} ${label} (${id}) failed: ${redact(why)}`
        cooldown.set(id, Date.now() + COOLDOWN_MS)
      }
      const state = stateOf(kind, id)
      work.push({kind, id, name: label, outcome, state, claimMs})
      emit({event: outcome, kind, id, name: label, ...(state ? {state} : {}), message})
    })().finally(() => active.delete(id))
    active.set(id, run)
  }

  const cooling = (id: string): boolean => (cooldown.get(id) ?? 0) > Date.now()
  const room = (): boolean => active.size < maxActive && !options.signal.aborted

  const scan = (): void => {
    scans++
    const t0 = Date.now()
    const common = {signal: options.signal, owner: name, onSkip: (m: string) => emit({event: 'progress', message: m})}
    for (const sweep of store.orphanedSweeps()) {
      if (!room()) return
      if (active.has(sweep.id) || cooling(sweep.id)) continue
      // The claim: one conditional UPDATE; another agent that got there first makes it fail.
      if (!store.acquireSweepLease(sweep.id, name, LEASE_TTL_MS)) continue
      start('sweep', sweep.id, sweep.name, Date.now() - t0, () =>
        driveRecordedSweep(ctx, {
          ...common,
          sweep: sweep.id,
          onEvent: (e) => emit({event: 'progress', kind: 'sweep', id: sweep.id, message: e.message}),
        }),
      )
    }
    for (const job of store.orphanedJobs()) {
      if (!room()) return
      if (active.has(job.id) || cooling(job.id)) continue
      // A running sweep's jobs belong to the sweep's controller.
      if (job.sweepId !== null && store.getSweep(job.sweepId)?.state === 'RUNNING') continue
      // Held for secrets this agent lacks too: leave it to one started where they are exported.
      if (job.reason?.startsWith('held:') && missingSecrets(job.spec, env).length > 0) continue
      if (!store.acquireLease(job.id, name, LEASE_TTL_MS)) continue
      store.addEvent(job.id, null, 'agent-adopted', {agent: name})
      start('job', job.id, job.name, Date.now() - t0, () =>
        driveRecordedJob(ctx, {
          ...common,
          job: job.id,
          onEvent: (e) => emit({event: 'progress', kind: 'job', id: job.id, name: job.name, message: e.message}),
        }),
      )
    }
    for (const svc of services.orphanedServices()) {
      if (!room()) return
      if (active.has(svc.id) || cooling(svc.id)) continue
      if (!services.takeLease(svc.id, name, LEASE_TTL_MS)) continue
      store.addEvent(svc.id, null, 'agent-adopted', {agent: name})
      start('service', svc.id, svc.name, Date.now() - t0, () =>
        driveRecordedService(ctx, {
          ...common,
          service: svc.id,
          onEvent: (e) => emit({event: 'progress', kind: 'service', id: svc.id, name: svc.name, message: e.message}),
        }),
      )
    }
  }

  emit({event: 'started', message: `agent ${name} started (lease ${LEASE_TTL_MS / 1000} s, scan every ${intervalMs} ms)`})
  if (options.once) {
    scan()
  } else {
    while (!options.signal.aborted) {
      scan()
      await sleep(intervalMs, options.signal)
    }
    emit({event: 'stopping', message: `stopping: handing back ${active.size} piece(s) of work`})
  }
  while (active.size > 0) await Promise.allSettled([...active.values()])
  emit({event: 'stopped', message: `agent ${name} stopped`})
  return {agent: name, scans, adopted: work.length, work}
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, {once: true})
  })
}
