// Generated catalogs for the catalog-scale benchmarks (plan, offers): n offers over every
// accelerator of the registry (and CPU-only), written the way a user meets them — refreshed
// provider files as `catalog refresh` leaves them in ${home}/catalog/, or one user catalog
// file (`--catalog FILE`, JSON `{offers: [...]}`). Seeded, so every run plans the same world.
import {existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {ROOT} from './lib.mjs'

const dist = (p) => join(ROOT, 'dist', p)
const {loadRegistry} = await import(dist('catalog/accelerators.js'))
const snapshotModule = await import(dist('catalog/snapshot.js'))
const {encodeBinary} = snapshotModule
const {refreshedFile, catalogDir} = await import(dist('catalog/catalog.js'))

/** The providers `catalog refresh` writes files for. */
export const REFRESHED_PROVIDERS = ['aws', 'gcp', 'azure', 'aliyun', 'huaweicloud', 'tencentcloud']
const CNY = new Set(['aliyun', 'huaweicloud', 'tencentcloud'])
const COUNTS = [1, 2, 4, 8]

// mulberry32
function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** n offers, 6 providers × 40 regions × 3 zones, every registry accelerator and CPU-only. */
export function generateOffers(n, seed = 1) {
  const r = rng(seed)
  const accs = [
    null,
    ...loadRegistry()
      .all()
      .map((a) => a.name),
  ]
  const offers = new Array(n)
  for (let i = 0; i < n; i++) {
    const provider = REFRESHED_PROVIDERS[Math.floor(r() * REFRESHED_PROVIDERS.length)]
    const region = `region-${Math.floor(r() * 40)}`
    const acc = accs[Math.floor(r() * accs.length)]
    const count = acc === null ? 0 : COUNTS[Math.floor(r() * COUNTS.length)]
    const od = acc === null ? 0.05 + r() : (0.3 + r() * 5) * count
    const hasSpot = r() < 0.6
    const cny = CNY.has(provider)
    offers[i] = {
      provider,
      region,
      zone: `${region}${'abc'[Math.floor(r() * 3)]}`,
      instanceType: `t${i}`,
      accelerator: acc === null ? null : {name: acc, count},
      vcpus: 8 * Math.max(1, count) * (1 + Math.floor(r() * 4)),
      memoryGiB: 64 * Math.max(1, count) * (1 + Math.floor(r() * 4)),
      price: {
        onDemand: r() < 0.97 ? (cny ? od * 7.2 : od) : null,
        spot: hasSpot ? (cny ? od * 2.4 : od / 3) : null,
        currency: cny ? 'CNY' : 'USD',
      },
      priceStatus: r() < 0.9 ? 'list' : 'estimate',
      expectedQueueMinutes: null,
      preemptionRatePerHour: hasSpot && r() < 0.5 ? r() * 0.5 : null,
      capacity: r() < 0.5 ? 1 + Math.floor(r() * 16) : null,
      noticeSeconds: null,
      source: 'bench generator',
      asOf: '2026-01-01',
      confidence: 'medium',
    }
  }
  return offers
}

/** Writes the offers as refreshed provider files under `${home}/catalog/`. */
export function writeRefreshed(home, offers) {
  mkdirSync(catalogDir(home), {recursive: true})
  for (const provider of REFRESHED_PROVIDERS) {
    const rows = offers.filter((o) => o.provider === provider)
    const meta = {
      [provider]: {
        source: 'bench generator',
        asOf: '2026-01-01',
        rows: rows.length,
        origin: 'refreshed',
        fetchedAt: '2026-01-01T00:00:00Z',
      },
    }
    writeFileSync(refreshedFile(home, provider), encodeBinary(rows, meta, ['bench generator']))
  }
}

/**
 * Writes the offers as a user catalog file (JSON, the form `--catalog` reads), as a user's
 * inventory would: fields left out where they hold their defaults (null, list price, high confidence).
 */
export function writeUserCatalog(file, offers) {
  const chunks = ['{"offers": [\n']
  for (let i = 0; i < offers.length; i++) {
    const o = {...offers[i]}
    for (const [k, v] of Object.entries(o)) if (v === null) delete o[k]
    if (o.priceStatus === 'list') delete o.priceStatus
    delete o.source
    delete o.asOf
    if (o.price.spot === null) delete o.price.spot
    chunks.push((i > 0 ? ',\n' : '') + JSON.stringify(o))
  }
  chunks.push('\n]}\n')
  writeFileSync(file, chunks.join(''))
}

const GENERATOR_VERSION = 2

/**
 * A skyhop home holding `n` generated offers as refreshed provider files, with the same
 * offers as a user catalog file `user.json` beside them, and Slurm disabled in its config
 * (catalog scale is measured apart from the Slurm query, which bench/cli-startup.mjs covers).
 * Kept under bench/tmp/ between runs; made again when the generator or the file format changes.
 */
export function scaleHome(n) {
  const {BINARY_FORMAT} = snapshotModule
  const home = join(ROOT, 'bench', 'tmp', `catalog-${n}`)
  const stamp = join(home, 'generated')
  const want = `${GENERATOR_VERSION} ${BINARY_FORMAT} ${n}`
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return {home, userFile: join(home, 'user.json'), generatedMs: 0}
  const t0 = performance.now()
  rmSync(home, {recursive: true, force: true})
  mkdirSync(home, {recursive: true})
  writeFileSync(join(home, 'config.yaml'), 'providers:\n  slurm: {enabled: false}\n')
  const offers = generateOffers(n, 1)
  writeRefreshed(home, offers)
  writeUserCatalog(join(home, 'user.json'), offers)
  writeFileSync(stamp, want)
  return {home, userFile: join(home, 'user.json'), generatedMs: performance.now() - t0}
}
