// Small hand-made offers for catalog tests, and a way to load them as the snapshot.
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {encodeSnapshot, type ProviderMeta} from '../../../src/catalog/snapshot.js'
import type {Offer} from '../../../src/model/catalog.js'
import {tempHome} from './helpers.js'

export function offer(partial: Partial<Offer> & Pick<Offer, 'provider' | 'region' | 'instanceType'>): Offer {
  return {
    zone: null,
    accelerator: null,
    vcpus: 8,
    memoryGiB: 32,
    price: {onDemand: 1, spot: null, currency: 'USD'},
    priceStatus: 'list',
    expectedQueueMinutes: null,
    preemptionRatePerHour: null,
    capacity: null,
    noticeSeconds: null,
    source: 'test fixture',
    asOf: '2026-01-01',
    confidence: 'high',
    ...partial,
  }
}

export const FIXTURE: Offer[] = [
  offer({
    provider: 'aws',
    region: 'us-east-1',
    instanceType: 'p4d.24xlarge',
    accelerator: {name: 'A100-40GB', count: 8},
    price: {onDemand: 21.96, spot: 8.19, currency: 'USD'},
  }),
  offer({
    provider: 'aws',
    region: 'us-west-2',
    instanceType: 'p4d.24xlarge',
    accelerator: {name: 'A100-40GB', count: 8},
    price: {onDemand: 21.96, spot: 9.73, currency: 'USD'},
  }),
  offer({
    provider: 'aws',
    region: 'us-east-1',
    instanceType: 'p5.48xlarge',
    accelerator: {name: 'H100-80GB', count: 8},
    price: {onDemand: 55.04, spot: 25.75, currency: 'USD'},
  }),
  offer({
    provider: 'aws',
    region: 'us-east-1',
    instanceType: 'p5.4xlarge',
    accelerator: {name: 'H100-80GB', count: 1},
    price: {onDemand: 6.88, spot: null, currency: 'USD'},
  }),
  offer({
    provider: 'lambda',
    region: 'us-east-1',
    instanceType: 'gpu_8x_a100',
    accelerator: {name: 'A100-40GB', count: 8},
    price: {onDemand: 15.92, spot: null, currency: 'USD'},
  }),
  offer({
    provider: 'lambda',
    region: 'us-east-1',
    instanceType: 'gpu_1x_a100',
    accelerator: {name: 'A100-40GB', count: 1},
    price: {onDemand: 1.99, spot: null, currency: 'USD'},
  }),
  offer({
    provider: 'aliyun',
    region: 'cn-beijing',
    instanceType: 'ecs.gn7-c12g1.3xlarge',
    accelerator: {name: 'A100-40GB', count: 1},
    price: {onDemand: 16.4, spot: null, currency: 'CNY'},
    priceStatus: 'estimate',
    confidence: 'low',
  }),
  offer({
    provider: 'huaweicloud',
    region: 'cn-north-4',
    instanceType: 'Snt9B',
    accelerator: {name: 'Ascend910B', count: 8},
    price: {onDemand: null, spot: null, currency: 'CNY'},
    priceStatus: 'unknown',
    vcpus: 0,
    memoryGiB: 0,
    unknownFields: ['vcpus', 'memoryGiB'],
  }),
  offer({
    provider: 'azure',
    region: 'eastus',
    instanceType: 'Standard_NC24ads_A100_v4',
    accelerator: {name: 'A100-80GB', count: 1},
    price: {onDemand: 3.673, spot: 0.444433, currency: 'USD'},
  }),
  offer({provider: 'azure', region: 'eastus', instanceType: 'Basic_A1', price: {onDemand: 0.023, spot: 0.0161, currency: 'USD'}}),
  offer({
    provider: 'gcp',
    region: 'us-central1',
    instanceType: 'a2-highgpu-8g',
    accelerator: {name: 'A100-40GB', count: 8},
    price: {onDemand: 29.38708, spot: 14.4308, currency: 'USD'},
  }),
]

/** Writes offers as a snapshot file; returns {home, snapshotFile} for loadCatalog. */
export function fixtureSnapshot(offers: Offer[] = FIXTURE): {home: string; snapshotFile: string} {
  const home = tempHome()
  const providers: Record<string, ProviderMeta> = {}
  for (const o of offers) {
    const m = (providers[o.provider] ??= {source: `fixture ${o.provider}`, asOf: o.asOf, rows: 0, origin: 'bundled'})
    m.rows++
  }
  const dir = join(home, 'fixture')
  mkdirSync(dir, {recursive: true})
  const snapshotFile = join(dir, 'offers.json')
  writeFileSync(snapshotFile, JSON.stringify(encodeSnapshot(offers, providers, ['test'])))
  return {home, snapshotFile}
}
