// What our own history says about a provider + region + accelerator: how long launches
// waited, how often they failed for capacity, how often spot was taken back. Recent
// observations weigh more (exponential decay); old ones are ignored.
import type {Confidence} from '../model/catalog.js'
import {CAPACITY_FAILURE_PENALTY_MINUTES, OBSERVATION_HALF_LIFE_HOURS, OBSERVATION_WINDOW_HOURS} from './priors.js'
import type {Observation} from './types.js'

interface Stats {
  waitWeight: number
  waitMinutesWeighted: number
  waits: number
  failureWeight: number
  failures: number
  preemptionWeight: number
  preemptions: number
  uptimeHoursWeighted: number
}

export interface ObservedQueue {
  minutes: number
  source: string
  confidence: Confidence
}

export interface ObservedRate {
  perHour: number
  source: string
  confidence: Confidence
}

/** Minimum weighted spot exposure before our own preemption rate is trusted over the catalog's. */
const MIN_UPTIME_HOURS = 10
/** A failure probability is never taken above this (10 tries before success at worst). */
const MAX_FAILURE_PROBABILITY = 0.9

export class ObservationIndex {
  // provider → region → accelerator ('' = CPU) → [on-demand, spot]
  private readonly stats = new Map<string, Map<string, Map<string, [Stats | null, Stats | null]>>>()
  readonly size: number

  constructor(observations: readonly Observation[], now: Date) {
    const nowMs = now.getTime()
    const decay = Math.LN2 / OBSERVATION_HALF_LIFE_HOURS
    let used = 0
    for (const o of observations) {
      const ageHours = (nowMs - Date.parse(o.at)) / 3_600_000
      if (!(ageHours >= -1) || ageHours > OBSERVATION_WINDOW_HOURS) continue
      const w = Math.exp(-decay * Math.max(0, ageHours))
      const s = this.slot(o.provider, o.region, o.accelerator ?? '', o.spot)
      used++
      switch (o.kind) {
        case 'provisioning-wait':
          s.waitWeight += w
          s.waitMinutesWeighted += w * o.minutes
          s.waits++
          break
        case 'capacity-failure':
        case 'quota-failure':
          s.failureWeight += w
          s.failures++
          break
        case 'preemption':
          s.preemptionWeight += w
          s.preemptions++
          break
        case 'spot-uptime':
          s.uptimeHoursWeighted += w * o.hours
          break
      }
    }
    this.size = used
  }

  private slot(provider: string, region: string, accelerator: string, spot: boolean): Stats {
    let byRegion = this.stats.get(provider)
    if (!byRegion) this.stats.set(provider, (byRegion = new Map()))
    let byAcc = byRegion.get(region)
    if (!byAcc) byRegion.set(region, (byAcc = new Map()))
    let pair = byAcc.get(accelerator)
    if (!pair) byAcc.set(accelerator, (pair = [null, null]))
    const i = spot ? 1 : 0
    let s = pair[i]
    if (!s) {
      s = {
        waitWeight: 0,
        waitMinutesWeighted: 0,
        waits: 0,
        failureWeight: 0,
        failures: 0,
        preemptionWeight: 0,
        preemptions: 0,
        uptimeHoursWeighted: 0,
      }
      pair[i] = s
    }
    return s
  }

  private get(provider: string, region: string, accelerator: string, spot: boolean): Stats | null {
    if (this.size === 0) return null
    return this.stats.get(provider)?.get(region)?.get(accelerator)?.[spot ? 1 : 0] ?? null
  }

  /**
   * Expected wait in minutes: the decayed mean of observed provisioning waits (or
   * `fallbackMinutes` when none were seen) plus, for capacity failures, the expected
   * number of failed tries p/(1−p) × a fixed penalty each. p is smoothed with one
   * pseudo-success so a single failure does not read as "never works".
   */
  queue(provider: string, region: string, accelerator: string, spot: boolean, fallbackMinutes: number): ObservedQueue | null {
    const s = this.get(provider, region, accelerator, spot)
    if (s === null || (s.waits === 0 && s.failures === 0)) return null
    const base = s.waitWeight > 0 ? s.waitMinutesWeighted / s.waitWeight : fallbackMinutes
    const p = Math.min(MAX_FAILURE_PROBABILITY, s.failureWeight / (s.failureWeight + s.waitWeight + 1))
    const minutes = base + (p / (1 - p)) * CAPACITY_FAILURE_PENALTY_MINUTES
    const n = s.waits + s.failures
    const weight = s.waitWeight + s.failureWeight
    const confidence: Confidence = weight >= 5 ? 'high' : weight >= 2 ? 'medium' : 'low'
    return {minutes, source: `observations: ${s.waits} waits, ${s.failures} capacity failures (${n} recent)`, confidence}
  }

  /** Preemptions per hour of spot uptime, once there is enough exposure to mean something. */
  preemptionRate(provider: string, region: string, accelerator: string): ObservedRate | null {
    const s = this.get(provider, region, accelerator, true)
    if (s === null || s.uptimeHoursWeighted < MIN_UPTIME_HOURS) return null
    const perHour = s.preemptionWeight / s.uptimeHoursWeighted
    const confidence: Confidence = s.uptimeHoursWeighted >= 100 ? 'high' : 'medium'
    return {
      perHour,
      source: `observations: ${s.preemptions} preemptions over ${s.uptimeHoursWeighted.toFixed(0)} weighted spot hours`,
      confidence,
    }
  }
}
