import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {createRegistry, loadRegistry, normalizeName} from '../../../src/catalog/accelerators.js'
import {parseCsvRecords} from '../../../src/catalog/build/csv.js'
import {REGISTRY_SPEC} from '../../../src/catalog/build/registry.js'
import type {Accelerator} from '../../../src/model/catalog.js'
import {BugError} from '../../../src/errors.js'
import {RUNTIMES} from '../../../src/model/job-spec.js'
import {CATALOG_SOURCES} from './helpers.js'

describe('catalog: accelerator registry', () => {
  const registry = loadRegistry()

  it('resolves every spelling of the Ascend 910B to one entry', () => {
    for (const name of ['910B', 'Ascend910B', 'ascend-910b', 'ASCEND 910B', 'Huawei Ascend 910B', 'huawei-910b', 'Snt9B']) {
      expect(registry.resolve(name)?.name, name).to.equal('Ascend910B')
    }
  })

  it('maps SkyPilot-style names: H100 is the 80 GB SXM part, A100 the 40 GB one', () => {
    expect(registry.resolve('H100')?.name).to.equal('H100-80GB')
    expect(registry.resolve('h100-80gb')?.name).to.equal('H100-80GB')
    expect(registry.resolve('H100-MEGA')?.name).to.equal('H100-80GB')
    expect(registry.resolve('NVIDIA H100')?.name).to.equal('H100-80GB')
    expect(registry.resolve('A100')?.name).to.equal('A100-40GB')
    expect(registry.resolve('A100-80GB')?.name).to.equal('A100-80GB')
    expect(registry.resolve('a100_80gb')?.name).to.equal('A100-80GB')
    expect(registry.resolve('V100')?.name).to.equal('V100-16GB')
    expect(registry.resolve('tpu-v5litepod')?.name).to.equal('TPU-v5e')
    expect(registry.resolve('Google Cloud TPU v5e')?.name).to.equal('TPU-v5e')
    expect(registry.resolve('MLU370')?.name).to.equal('MLU370-X8')
    expect(registry.resolve('K100-AI')?.name).to.equal('DCU-K100')
    expect(registry.resolve('S4000')?.name).to.equal('MTT-S4000')
  })

  it("resolves the device names the vendors' tools print (mx-smi, mthreads-gmi, xpu-smi) to entries with sourced memory", () => {
    // The names as test/data/vendor-tools/ records them (SOURCES.md).
    const seen = {'MetaX C550': 'MetaX-C550', 'MTT S5000': 'MTT-S5000', 'Intel(R) Arc(TM) B580': 'Arc-B580', 'Intel® Arc™ B580': 'Arc-B580'}
    for (const [printed, name] of Object.entries(seen)) expect(registry.resolve(printed)?.name, printed).to.equal(name)
    const memory = (name: string) => registry.resolve(name)!.memoryGB
    expect(memory('MetaX C550')).to.deep.include({value: 64, confidence: 'medium'})
    expect(memory('MTT S5000')).to.deep.include({value: 80, confidence: 'medium'})
    expect(memory('B580')).to.deep.include({value: 12, confidence: 'medium'})
    for (const name of ['MetaX C550', 'MTT S5000', 'B580']) expect(memory(name).source, name).to.match(/^accelerators\.csv: .+/)
    expect(registry.resolve('MTT S5000')!.memoryBandwidthTBs.value).to.equal(1.6)
    expect(registry.resolve('B580')!.memoryBandwidthTBs.value).to.equal(0.456)
    // No figure any page published: unknown, not guessed.
    expect(registry.resolve('C550')!.memoryBandwidthTBs).to.deep.equal({value: null, confidence: null, source: null})
    expect(registry.resolve('S5000')!.denseTflops16.value).to.equal(null)
    expect(registry.resolve('B580')!.runtime).to.equal('oneapi')
    // The neighbours stay apart.
    expect(registry.resolve('C500')?.name).to.equal('MetaX-C500')
    expect(registry.resolve('S4000')?.name).to.equal('MTT-S4000')
  })

  it('keeps near-miss names apart and does not guess', () => {
    expect(registry.resolve('A10')?.name).to.equal('A10')
    expect(registry.resolve('A10G')?.name).to.equal('A10G')
    expect(registry.resolve('910B4')?.name).to.equal('Ascend910B4')
    expect(registry.resolve('910B4-1')?.name).to.equal('Ascend910B4-1')
    expect(registry.resolve('H1000')).to.equal(undefined)
    expect(registry.resolve('')).to.equal(undefined)
  })

  it('suggests the closest canonical name for a misspelling', () => {
    expect(registry.suggest('H10O')).to.equal('H100-80GB')
    expect(registry.suggest('Ascnd910B')).to.equal('Ascend910B')
    expect(registry.suggest('MI300')).to.equal('MI300X')
    expect(registry.suggest('zzzzzzzz')).to.equal(undefined)
  })

  it('lists vendors and every entry, each with a valid runtime', () => {
    expect(registry.vendors()).to.include.members([
      'nvidia',
      'amd',
      'intel',
      'google',
      'aws',
      'huawei',
      'cambricon',
      'hygon',
      'kunlunxin',
      'iluvatar',
      'moorethreads',
      'metax',
      'biren',
    ])
    for (const a of registry.all()) expect(RUNTIMES, a.name).to.include(a.runtime)
    const byVendor = (v: string) =>
      new Set(
        registry
          .all()
          .filter((a) => a.vendor === v)
          .map((a) => a.runtime),
      )
    expect([...byVendor('huawei')]).to.deep.equal(['cann'])
    expect([...byVendor('cambricon')]).to.deep.equal(['neuware'])
    expect([...byVendor('hygon')]).to.deep.equal(['dtk'])
  })

  it('gives every figure a source and confidence, or nulls all three', () => {
    for (const a of registry.all()) {
      for (const key of ['memoryGB', 'memoryBandwidthTBs', 'denseTflops16', 'fp32Tflops'] as const) {
        const f = a[key]
        if (f.value === null) expect(f.confidence, `${a.name}.${key}`).to.equal(null)
        else {
          expect(f.source, `${a.name}.${key}`).to.be.a('string').and.not.equal('')
          expect(['high', 'medium', 'low'], `${a.name}.${key}`).to.include(f.confidence)
        }
      }
    }
  })

  it('keeps unpublished figures unknown and hedged ones low confidence', () => {
    const p800 = registry.resolve('P800')!
    expect(p800.memoryBandwidthTBs.value).to.equal(null)
    expect(p800.denseTflops16).to.include({value: 345, confidence: 'low'})
    const b = registry.resolve('910B')!
    // "~280-400 FP16 depending on variant (UNCERTAIN)": the lower bound, low, the cell kept.
    expect(b.denseTflops16).to.include({value: 280, confidence: 'low'})
    expect(b.denseTflops16.raw).to.match(/280-400/)
    expect(registry.resolve('H100')!.denseTflops16).to.include({value: 989, confidence: 'high'})
    expect(registry.resolve('B200')!.denseTflops16.value).to.equal(null)
    expect(registry.resolve('V100-32GB')!.memoryGB.value).to.equal(32)
    expect(registry.resolve('910B4')!.memoryGB.value).to.equal(32)
    expect(registry.resolve('910B4-1')!.memoryGB.value).to.equal(64)
  })

  it('normalizes names by case and punctuation only', () => {
    expect(normalizeName('Ascend-910B')).to.equal('ascend910b')
    expect(normalizeName(' h100_80GB ')).to.equal('h10080gb')
  })

  it('refuses a registry where one spelling names two entries', () => {
    const entry = (name: string, aliases: string[]): Accelerator => ({
      name,
      aliases,
      vendor: 'x',
      memoryGB: {value: null, confidence: null, source: null},
      memoryBandwidthTBs: {value: null, confidence: null, source: null},
      denseTflops16: {value: null, confidence: null, source: null},
      fp32Tflops: {value: null, confidence: null, source: null},
      runtime: 'cuda',
      k8sResource: null,
      notes: null,
    })
    expect(() => createRegistry([entry('A', ['shared']), entry('B', ['Shared'])])).to.throw(BugError, /names both A and B/)
  })

  it('loads fast and caches', () => {
    const t = performance.now()
    for (let i = 0; i < 1000; i++) loadRegistry().resolve('910b')
    expect(performance.now() - t).to.be.below(200)
    expect(loadRegistry()).to.equal(registry)
  })

  describe('against data/sources/accelerators.csv', () => {
    it('has an entry for every row, carrying that row as its display name', () => {
      const rows = parseCsvRecords(readFileSync(join(CATALOG_SOURCES, 'accelerators.csv'), 'utf8'))
      expect(rows.length).to.be.greaterThan(30)
      const mapped = new Set(REGISTRY_SPEC.map((s) => s.csv).filter(Boolean))
      for (const r of rows) {
        expect(mapped.has(r.accelerator), r.accelerator).to.equal(true)
        expect(registry.resolve(r.accelerator), r.accelerator).to.not.equal(undefined)
      }
    })

    it('resolves every SkyPilot accelerator name', () => {
      const names = parseCsvRecords(
        readFileSync(join(CATALOG_SOURCES, 'skypilot-catalog/catalogs/v8/common/accelerators.csv'), 'utf8'),
      ).map((r) => r.AcceleratorName)
      for (const n of names) expect(registry.resolve(n), n).to.not.equal(undefined)
    })
  })
})
