// Builds the bundled offer snapshot (data/offers.json) from the collected price data:
// SkyPilot's public catalog CSVs (full Lambda and Nebius files, extracts of AWS, Azure,
// RunPod and OCI), western.csv (representative AWS/GCP/Azure GPU offers with per-region
// spot ranges) and china.csv (Tencent, Alibaba, Huawei). Every row keeps its source; rows
// that cannot be an offer are reported with the reason instead of being guessed at.
import type {AcceleratorRegistry} from '../accelerators.js'
import {BugError} from '../../errors.js'
import {effectiveSpot, fixAcceleratorCount, gcpTotal, isPlaceholderPrice, regionalSpot} from '../anomalies.js'
import {interconnectOf} from '../interconnect.js'
import {providerInfo} from '../providers.js'
import type {Confidence, Offer, PriceStatus} from '../../model/catalog.js'
import {minConfidence} from './figures.js'

export type CsvRecord = Record<string, string>

export interface SkypilotFile {
  /** Path inside the skypilot-catalog repo, e.g. `catalogs/v8/lambda/vms.csv`. */
  path: string
  commit: string
  provider: string
  rows: CsvRecord[]
  /** Rows of an extract are a subset of the upstream file. */
  extract: boolean
}

export interface OfferBuildInputs {
  registry: AcceleratorRegistry
  western: CsvRecord[]
  china: CsvRecord[]
  skypilot: SkypilotFile[]
  /** As-of date for SkyPilot-derived rows (ISO date). */
  skypilotAsOf: string
  /** As-of date for china.csv rows (ISO date). */
  chinaAsOf: string
}

export interface SkippedRow {
  file: string
  row: string
  reason: string
}

export interface OfferBuildResult {
  offers: Offer[]
  skipped: SkippedRow[]
}

const SKYPILOT_REPO = 'skypilot-org/skypilot-catalog'

export function skypilotSource(file: Pick<SkypilotFile, 'path' | 'commit'>): string {
  return `${SKYPILOT_REPO}:${file.path}@${file.commit}`
}

function num(cell: string | undefined): number | null {
  if (cell === undefined) return null
  const t = cell.trim()
  if (t === '') return null
  const n = Number(t)
  return Number.isFinite(n) ? n : null
}

function notice(provider: string): number | null {
  return providerInfo(provider)?.noticeSeconds.value ?? null
}

function joinNotes(...parts: Array<string | undefined | null>): string | undefined {
  const s = parts.filter((p): p is string => Boolean(p && p.trim() !== '')).join('; ')
  return s === '' ? undefined : s
}

function finish(
  o: Omit<Offer, 'priceStatus' | 'unknownFields' | 'notes'> & {
    priceStatus?: PriceStatus
    notes?: string
    vcpusKnown: boolean
    memKnown: boolean
  },
): Offer {
  const {vcpusKnown, memKnown, ...rest} = o
  const priceStatus: PriceStatus = o.priceStatus ?? (o.price.onDemand === null && o.price.spot === null ? 'unknown' : 'list')
  const offer: Offer = {...rest, priceStatus}
  if (!vcpusKnown || !memKnown) {
    offer.unknownFields = []
    if (!vcpusKnown) offer.unknownFields.push('vcpus')
    if (!memKnown) offer.unknownFields.push('memoryGiB')
  }
  if (o.notes === undefined) delete offer.notes
  const fabric = interconnectOf(offer.provider, offer.instanceType)
  if (fabric !== undefined) offer.interconnect = fabric
  return offer
}

// ---------------------------------------------------------------- SkyPilot CSVs

/** Lambda sells an H100 PCIe that SkyPilot's catalog labels plain `H100`. */
function skypilotAccelerator(provider: string, instanceType: string, name: string): string {
  if (provider === 'lambda' && /h100_pcie/i.test(instanceType)) return 'H100-PCIE'
  return name
}

export function offersFromSkypilot(file: SkypilotFile, inputs: OfferBuildInputs, skipped: SkippedRow[]): Offer[] {
  const out: Offer[] = []
  const source = skypilotSource(file)
  // v6 azure is an older snapshot than the v8 files.
  const baseConfidence: Confidence = file.path.includes('/v6/') ? 'medium' : 'high'
  for (const r of file.rows) {
    const instanceType = r.InstanceType
    const rowText = `${instanceType} ${r.Region} ${r.AvailabilityZone ?? ''}`.trim()
    const count = num(r.AcceleratorCount)
    let accelerator: Offer['accelerator'] = null
    const notes: string[] = []
    if (r.AcceleratorName && r.AcceleratorName !== '' && count !== null && count > 0) {
      const label = skypilotAccelerator(file.provider, instanceType, r.AcceleratorName)
      const acc = inputs.registry.resolve(label)
      if (!acc) {
        skipped.push({file: file.path, row: rowText, reason: `accelerator "${label}" is not in the registry`})
        continue
      }
      const fixed = fixAcceleratorCount(file.provider, instanceType, count)
      if (fixed.fixed) notes.push(`accelerator count corrected from ${count} to ${fixed.count}`)
      accelerator = {name: acc.name, count: fixed.count}
    }
    let onDemand = num(r.Price)
    if (isPlaceholderPrice(file.provider, instanceType, onDemand)) {
      notes.push(`placeholder price ${onDemand} means not sold`)
      onDemand = null
    }
    const rawSpot = num(r.SpotPrice)
    const spot = effectiveSpot(onDemand, rawSpot)
    if (rawSpot !== null && spot === null) notes.push('spot price equals on-demand: no spot market')
    const vcpus = num(r.vCPUs)
    const mem = num(r.MemoryGiB)
    out.push(
      finish({
        provider: file.provider,
        region: r.Region,
        zone: r.AvailabilityZone && r.AvailabilityZone !== '' ? r.AvailabilityZone : null,
        instanceType,
        accelerator,
        vcpus: vcpus ?? 0,
        memoryGiB: mem ?? 0,
        vcpusKnown: vcpus !== null,
        memKnown: mem !== null,
        price: {onDemand, spot, currency: 'USD'},
        expectedQueueMinutes: null,
        preemptionRatePerHour: null,
        capacity: null,
        noticeSeconds: notice(file.provider),
        source,
        asOf: inputs.skypilotAsOf,
        confidence: baseConfidence,
        notes: joinNotes(...notes),
      }),
    )
  }
  return out
}

// ---------------------------------------------------------------- western.csv

/** `L4 (1/4 partition)` → `L4`; `RTX PRO 6000 Server (96GB)` → `RTX PRO 6000 Server`. */
export function stripParenthetical(label: string): string {
  return label.replace(/\s*\([^)]*\)\s*$/, '').trim()
}

function westernConfidence(source: string, notes: string): Confidence {
  let c: Confidence = source.includes('/v6/') ? 'medium' : 'high'
  if (/anomaly/i.test(notes)) c = 'low'
  else if (/verify|outlier|inconsistent/i.test(notes)) c = minConfidence(c, 'medium')
  return c
}

/**
 * @param covered `provider|instanceType|region` keys that per-zone SkyPilot rows already
 *   cover; western.csv's per-region summary of the same offers is then left out.
 */
export function offersFromWestern(rows: CsvRecord[], inputs: OfferBuildInputs, covered: Set<string>, skipped: SkippedRow[]): Offer[] {
  const out: Offer[] = []
  for (const r of rows) {
    const provider = r.cloud
    const rowText = `${r.cloud} ${r.instance_type} ${r.region}`
    if (covered.has(`${provider}|${r.instance_type}|${r.region}`)) {
      skipped.push({file: 'western.csv', row: rowText, reason: 'covered by the per-zone rows of the SkyPilot extract'})
      continue
    }
    const label = stripParenthetical(r.accelerator)
    const acc = inputs.registry.resolve(label)
    if (!acc) {
      skipped.push({file: 'western.csv', row: rowText, reason: `accelerator "${label}" is not in the registry`})
      continue
    }
    const notes: string[] = []
    const fixed = fixAcceleratorCount(provider, r.instance_type, Number(r.accel_count))
    if (fixed.fixed) notes.push(`accelerator count corrected from ${r.accel_count} to ${fixed.count}`)
    let instanceType = r.instance_type
    let onDemand = num(r.ondemand_usd_h)
    const min = num(r.spot_usd_h_min)
    const max = num(r.spot_usd_h_max)
    let spot = regionalSpot(onDemand, min, max)
    let priceStatus: PriceStatus | undefined
    if (r.price_scope === 'accelerator_only') {
      // "(a3-megagpu-8g host)": the catalog row is the GPUs alone; the host VM's row was not
      // captured, so the offer's total is unknown. A wildcard host is no offer at all.
      const host = /^\(([^)\s]+)\s+host\)$/.exec(r.instance_type)
      if (!host || host[1].includes('*')) {
        skipped.push({file: 'western.csv', row: rowText, reason: 'accelerator-only price without a concrete host instance type'})
        continue
      }
      instanceType = host[1]
      notes.push(
        `catalog has the accelerators alone (on-demand ${r.ondemand_usd_h}, spot ${r.spot_usd_h_min} $/h); the host VM price was not captured, so the total is unknown`,
      )
      onDemand = null
      spot = null
      priceStatus = 'unknown'
    } else {
      if (min !== null && max !== null && min !== max)
        notes.push(`spot ${min}–${max} $/h across zones; the highest real spot market is used`)
      if ((min !== null || max !== null) && spot === null) notes.push('spot price equals on-demand: no spot market')
      if (/DERIVED/.test(r.notes)) priceStatus = 'estimate'
      // "VM 0.73948/0.36975 + GPU 2.93391/1.4341": check the total is the sum of its parts.
      const parts = /VM ([\d.]+)\/([\d.]+) \+ \S+ ([\d.]+)\/([\d.]+)/.exec(r.notes)
      if (provider === 'gcp' && parts) {
        const sum = gcpTotal({onDemand: Number(parts[1]), spot: Number(parts[2])}, {onDemand: Number(parts[3]), spot: Number(parts[4])})
        if (onDemand === null || sum.onDemand === null || Math.abs(sum.onDemand - onDemand) > 1e-4) {
          throw new BugError(`western.csv ${rowText}: on-demand ${onDemand} is not VM + GPU ${sum.onDemand}`)
        }
      }
    }
    if (isPlaceholderPrice(provider, instanceType, onDemand)) {
      onDemand = null
      priceStatus = undefined
    }
    const vcpus = num(r.vcpus)
    const mem = num(r.mem_gib)
    const source = r.source.replace(/^skypilot-org\/skypilot-catalog:/, `${SKYPILOT_REPO}:`)
    out.push(
      finish({
        provider,
        region: r.region,
        zone: null,
        instanceType,
        accelerator: {name: acc.name, count: fixed.count},
        vcpus: vcpus ?? 0,
        memoryGiB: mem ?? 0,
        vcpusKnown: vcpus !== null,
        memKnown: mem !== null,
        price: {onDemand, spot, currency: 'USD'},
        priceStatus,
        expectedQueueMinutes: null,
        preemptionRatePerHour: null,
        capacity: null,
        noticeSeconds: notice(provider),
        source: `${source} via western.csv`,
        asOf: inputs.skypilotAsOf,
        confidence: westernConfidence(r.source, r.notes),
        notes: joinNotes(r.notes, ...notes),
      }),
    )
  }
  return out
}

// ---------------------------------------------------------------- china.csv

const CHINA_PROVIDERS: Record<string, string> = {tencent: 'tencentcloud', alibaba: 'aliyun', huawei: 'huaweicloud'}

/** The free-text accelerator labels of china.csv, read once by a person. */
export const CHINA_ACCELERATORS: Record<string, string> = {
  'T4 (1/4 vGPU, 4GB)': 'T4',
  'T4 (1/2 vGPU, 8GB)': 'T4',
  T4: 'T4',
  'T4 16GB': 'T4',
  P4: 'P4',
  P40: 'P40',
  'A10 24GB': 'A10',
  'A100 NVLink 40GB': 'A100-40GB',
  'A100 40GB': 'A100-40GB',
  'A100 80GB': 'A100-80GB',
  'V100 NVLink 32GB': 'V100-32GB',
  'V100 16GB': 'V100-16GB',
  'L20 48GB (per 3rd-party)': 'L20',
  'H800/H20-class (per 3rd-party: H800)': 'H800',
  'Ascend 910 (snt9)': 'Ascend910',
  'Ascend 910B (Snt9B)': 'Ascend910B',
  'Ascend 910C-class (INFERRED)': 'Ascend910C',
}

/** Tencent's region ids for the city names its docs list. */
const TENCENT_CITIES: Record<string, string> = {
  Guangzhou: 'ap-guangzhou',
  Shanghai: 'ap-shanghai',
  Nanjing: 'ap-nanjing',
  Beijing: 'ap-beijing',
  Chengdu: 'ap-chengdu',
  Chongqing: 'ap-chongqing',
  'Hong Kong': 'ap-hongkong',
  Frankfurt: 'eu-frankfurt',
}

/** Region ids named in a free-text cell; `cn-north-4/9` names cn-north-4 and cn-north-9. */
export function regionsIn(cell: string, provider: string): string[] {
  const out: string[] = []
  for (const m of cell.matchAll(/\b((?:ap|cn|eu|na|sa|me|af)-[a-z]+)(?:-(\d+)((?:\/\d+)*))?(?=[\s,;()]|$)/g)) {
    if (m[2] === undefined) out.push(m[1])
    else for (const n of [m[2], ...(m[3] ? m[3].split('/').filter(Boolean) : [])]) out.push(`${m[1]}-${n}`)
  }
  if (out.length === 0 && provider === 'tencentcloud') {
    for (const city of cell.split(',').map((c) => c.trim())) if (TENCENT_CITIES[city]) out.push(TENCENT_CITIES[city])
  }
  return [...new Set(out)]
}

/** `1-8` → [1, 8]; `8-16/node` → [8, 16]; `0.25` → [0.25]: only the counts the source states. */
export function countsIn(cell: string): number[] {
  const m = /^(\d+(?:\.\d+)?)(?:\s*-\s*(\d+(?:\.\d+)?))?/.exec(cell.trim())
  if (!m) return []
  return m[2] === undefined ? [Number(m[1])] : [Number(m[1]), Number(m[2])]
}

/** The highest figure of a price cell (`2.4-19 (conflicting…)` → 19, `~16.4` → 16.4). */
export function upperPrice(cell: string): number | null {
  const head = cell.split('(')[0]
  const nums = [...head.matchAll(/\d+(?:\.\d+)?/g)].map((m) => Number(m[0]))
  return nums.length === 0 ? null : Math.max(...nums)
}

export function offersFromChina(rows: CsvRecord[], inputs: OfferBuildInputs, skipped: SkippedRow[]): Offer[] {
  const out: Offer[] = []
  for (const r of rows) {
    const rowText = `${r.cloud} ${r.instance_type}`
    const provider = CHINA_PROVIDERS[r.cloud]
    if (!provider) {
      skipped.push({file: 'china.csv', row: rowText, reason: `${r.cloud}: no concrete instance type or price in the source`})
      continue
    }
    if (r.instance_type.startsWith('(') || r.accelerator === '' || r.accelerator === '(none)') {
      skipped.push({file: 'china.csv', row: rowText, reason: 'describes spot or billing semantics, not an offer'})
      continue
    }
    const name = CHINA_ACCELERATORS[r.accelerator.trim()]
    const acc = name ? inputs.registry.resolve(name) : undefined
    if (!acc) {
      skipped.push({file: 'china.csv', row: rowText, reason: `accelerator label "${r.accelerator}" has no registry entry`})
      continue
    }
    const regions = regionsIn(r.regions, provider)
    if (regions.length === 0) {
      skipped.push({file: 'china.csv', row: rowText, reason: `no concrete region in "${r.regions}"`})
      continue
    }
    const counts = countsIn(r.accel_count)
    if (counts.length === 0) {
      skipped.push({file: 'china.csv', row: rowText, reason: `no accelerator count in "${r.accel_count}"`})
      continue
    }
    // "Snt9B (Ascend 910B) servers, 8 NPU/node" → "Snt9B".
    const instanceType = r.instance_type.includes(' ') ? r.instance_type.split(/\s+/)[0] : r.instance_type
    const status = r.status.toUpperCase()
    let onDemand: number | null = null
    let currency: 'USD' | 'CNY' = provider === 'tencentcloud' ? 'USD' : 'CNY'
    let priceStatus: PriceStatus = 'unknown'
    const notes: string[] = []
    if (status.startsWith('SOURCED (USD)')) {
      onDemand = num(r.price_usd_h)
      currency = 'USD'
      priceStatus = 'list'
    } else if (status.startsWith('ESTIMATE')) {
      onDemand = upperPrice(r.price_cny_h)
      currency = 'CNY'
      priceStatus = 'estimate'
      if (/\d\s*-\s*\d/.test(r.price_cny_h.split('(')[0]))
        notes.push(`estimate is the upper end of ${r.price_cny_h.split('(')[0].trim()} CNY/h`)
      if (r.price_type && r.price_type !== 'on-demand') notes.push(`price basis: ${r.price_type}`)
    }
    const hedged = /UNVERIFIED|INFERRED|per 3rd-party/i.test(`${r.accelerator} ${r.notes}`)
    let confidence: Confidence
    if (priceStatus === 'list') confidence = r.notes.trim() === '' ? 'high' : 'medium'
    else if (priceStatus === 'estimate') confidence = 'low'
    else confidence = hedged ? 'low' : 'medium'
    const vcpus = num(r.vcpus)
    const mem = num(r.mem_gib)
    const zoneMatch = /Zone (\d+)/.exec(r.regions)
    for (const region of regions) {
      for (const count of counts) {
        out.push(
          finish({
            provider,
            region,
            // Tencent zone ids are `<region>-<n>`; the list price is Guangzhou Zone 3's.
            zone: provider === 'tencentcloud' && zoneMatch && region === regions[0] ? `${region}-${zoneMatch[1]}` : null,
            instanceType,
            accelerator: {name: acc.name, count},
            vcpus: vcpus ?? 0,
            memoryGiB: mem ?? 0,
            vcpusKnown: vcpus !== null,
            memKnown: mem !== null,
            price: {onDemand, spot: null, currency},
            priceStatus,
            expectedQueueMinutes: null,
            preemptionRatePerHour: null,
            capacity: null,
            noticeSeconds: notice(provider),
            source: `china.csv: ${r.source}`,
            asOf: inputs.chinaAsOf,
            confidence,
            notes: joinNotes(`status ${r.status}`, r.notes, ...notes),
          }),
        )
      }
    }
  }
  return out
}

// ---------------------------------------------------------------- all together

export function offerKey(o: Pick<Offer, 'provider' | 'region' | 'zone' | 'instanceType'>): string {
  return `${o.provider}|${o.region}|${o.zone ?? ''}|${o.instanceType}`
}

export function compareOffers(a: Offer, b: Offer): number {
  return (
    a.provider.localeCompare(b.provider) ||
    a.region.localeCompare(b.region) ||
    (a.zone ?? '').localeCompare(b.zone ?? '') ||
    a.instanceType.localeCompare(b.instanceType) ||
    (a.accelerator?.count ?? 0) - (b.accelerator?.count ?? 0)
  )
}

export function buildOffers(inputs: OfferBuildInputs): OfferBuildResult {
  const skipped: SkippedRow[] = []
  const offers: Offer[] = []
  const covered = new Set<string>()
  for (const file of inputs.skypilot) {
    const rows = offersFromSkypilot(file, inputs, skipped)
    for (const o of rows) covered.add(`${o.provider}|${o.instanceType}|${o.region}`)
    offers.push(...rows)
  }
  offers.push(...offersFromWestern(inputs.western, inputs, covered, skipped))
  offers.push(...offersFromChina(inputs.china, inputs, skipped))
  offers.sort(compareOffers)
  // Same place, same type, same count twice would make a merge ambiguous.
  const seen = new Set<string>()
  for (const o of offers) {
    const k = `${offerKey(o)}|${o.accelerator?.count ?? 0}`
    if (seen.has(k)) throw new BugError(`offers: duplicate row ${k}`)
    seen.add(k)
  }
  return {offers, skipped}
}
