import {expect} from 'chai'

import {effectiveSpot, fixAcceleratorCount, gcpTotal, isPlaceholderPrice, regionalSpot} from '../../../src/catalog/anomalies.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {parseFigure, parseRowConfidence} from '../../../src/catalog/build/figures.js'
import {countsIn, regionsIn, stripParenthetical, upperPrice} from '../../../src/catalog/build/offers.js'
import {tempHome} from './helpers.js'

describe('catalog: anomaly rules', () => {
  it('reads spot equal to on-demand as no spot market (with catalog rounding)', () => {
    expect(effectiveSpot(33.872, 33.872)).to.equal(null)
    // p4d eu-central-1: on-demand 27.43298, "spot" 27.433 in two AZs.
    expect(effectiveSpot(27.43298, 27.433)).to.equal(null)
    expect(effectiveSpot(1.39, 1.39)).to.equal(null)
    expect(effectiveSpot(3.06, 0.5349)).to.equal(0.5349)
    expect(effectiveSpot(3.06, null)).to.equal(null)
    expect(effectiveSpot(3.06, 0)).to.equal(null)
    expect(effectiveSpot(null, 19.5)).to.equal(19.5)
  })

  it('takes the highest real spot market of a region, skipping zones with none', () => {
    expect(regionalSpot(55.04, 17.6289, 25.7522)).to.equal(25.7522)
    expect(regionalSpot(27.43298, 13.3383, 27.433)).to.equal(13.3383)
    expect(regionalSpot(1, null, null)).to.equal(null)
    expect(regionalSpot(1, 1, 1)).to.equal(null)
  })

  it('corrects Azure ND96isr_H100_v5 to eight GPUs and leaves others alone', () => {
    expect(fixAcceleratorCount('azure', 'Standard_ND96isr_H100_v5', 12)).to.deep.equal({count: 8, fixed: true})
    expect(fixAcceleratorCount('azure', 'Standard_ND96isr_H100_v5', 8)).to.deep.equal({count: 8, fixed: false})
    expect(fixAcceleratorCount('aws', 'Standard_ND96isr_H100_v5', 12)).to.deep.equal({count: 12, fixed: false})
  })

  it('adds a GCP VM row and its accelerator row into one offer price', () => {
    // western.csv a2-highgpu-1g us-central1: VM 0.73948/0.36975 + GPU 2.93391/1.4341.
    const t = gcpTotal({onDemand: 0.73948, spot: 0.36975}, {onDemand: 2.93391, spot: 1.4341})
    expect(t.onDemand).to.be.closeTo(3.67339, 1e-9)
    expect(t.spot).to.be.closeTo(1.80385, 1e-9)
    expect(gcpTotal({onDemand: 1, spot: null}, {onDemand: 2, spot: 1}).spot).to.equal(null)
  })

  it('treats GCP 700.0 TPU prices as placeholders', () => {
    expect(isPlaceholderPrice('gcp', 'tpu-v6e-1', 700)).to.equal(true)
    expect(isPlaceholderPrice('gcp', 'tpu-v6e-1', 2.7)).to.equal(false)
    expect(isPlaceholderPrice('gcp', 'a2-highgpu-1g', 700)).to.equal(false)
  })

  describe('in the bundled snapshot', () => {
    const catalog = loadCatalog({home: tempHome()})

    it('has no spot price at or above on-demand', () => {
      for (const o of catalog.offers) {
        if (o.price.spot !== null && o.price.onDemand !== null)
          expect(o.price.spot, `${o.provider} ${o.instanceType} ${o.region}`).to.be.below(o.price.onDemand)
      }
    })

    it('has eight H100s on Azure ND96isr_H100_v5', () => {
      const nd = catalog.offers.filter((o) => o.instanceType === 'Standard_ND96isr_H100_v5')
      expect(nd).to.have.length.greaterThan(0)
      for (const o of nd) expect(o.accelerator).to.deep.equal({name: 'H100-80GB', count: 8})
    })

    it('prices GCP GPU VMs as VM + accelerator, and leaves accelerator-only rows unknown', () => {
      const a2 = catalog.offers.find((o) => o.provider === 'gcp' && o.instanceType === 'a2-highgpu-1g' && o.region === 'us-central1')!
      expect(a2.price.onDemand).to.equal(3.67339)
      const mega = catalog.offers.find((o) => o.provider === 'gcp' && o.instanceType === 'a3-megagpu-8g')!
      expect(mega.priceStatus).to.equal('unknown')
      expect(mega.price.onDemand).to.equal(null)
      expect(mega.unknownFields).to.deep.equal(['vcpus', 'memoryGiB'])
      expect(mega.notes).to.match(/host VM/)
    })

    it('keeps CNY prices in CNY, marks estimates and unknowns', () => {
      const ali = catalog.offers.filter((o) => o.provider === 'aliyun')
      expect(ali.length).to.be.greaterThan(0)
      for (const o of ali) {
        expect(o.price.currency).to.equal('CNY')
        expect(o.priceStatus).to.equal('estimate')
        expect(o.confidence).to.equal('low')
      }
      const huawei = catalog.offers.filter((o) => o.provider === 'huaweicloud')
      for (const o of huawei) expect(o).to.deep.include({priceStatus: 'unknown', price: {onDemand: null, spot: null, currency: 'CNY'}})
      const tencentList = catalog.offers.find((o) => o.provider === 'tencentcloud' && o.instanceType === 'GN7.2XLARGE32')!
      expect(tencentList).to.deep.include({
        priceStatus: 'list',
        price: {onDemand: 1.26, spot: null, currency: 'USD'},
        zone: 'ap-guangzhou-3',
      })
    })

    it('sets the interruption notice per provider from spot_semantics.md', () => {
      const notice = (p: string) => new Set(catalog.offers.filter((o) => o.provider === p).map((o) => o.noticeSeconds))
      expect([...notice('aws')]).to.deep.equal([120])
      expect([...notice('gcp')]).to.deep.equal([30])
      expect([...notice('azure')]).to.deep.equal([30])
      expect([...notice('aliyun')]).to.deep.equal([300])
      expect([...notice('tencentcloud')]).to.deep.equal([120])
      // ECS spot has no in-guest notice; CCE's 5-minute alert does not apply to the VMs skyhop launches.
      expect([...notice('huaweicloud')]).to.deep.equal([0])
      expect([...notice('lambda')]).to.deep.equal([null])
    })
  })
})

describe('catalog: reading the collected source cells', () => {
  it('parses spec-sheet figures without inventing', () => {
    expect(parseFigure('989', 'high', 's')).to.deep.equal({value: 989, confidence: 'high', source: 's'})
    expect(parseFigure('~1.6 (UNCERTAIN; 0.4-1.6 cited)', 'medium', 's')).to.include({value: 1.6, confidence: 'low'})
    expect(parseFigure('~24-49 FP16 (UNVERIFIED)', 'low', 's')).to.include({value: 24, confidence: 'low'})
    expect(parseFigure('65 (FP16 only; no BF16)', 'high', 's')).to.include({value: 65, confidence: 'high', raw: '65 (FP16 only; no BF16)'})
    expect(parseFigure('UNVERIFIED', 'low', 's')).to.deep.equal({value: null, confidence: null, source: 's', raw: 'UNVERIFIED'})
    expect(parseFigure('', 'high', 's')).to.deep.equal({value: null, confidence: null, source: null})
  })

  it('reads row confidences, split by memory and throughput where the row says so', () => {
    expect(parseRowConfidence('HIGH')).to.deep.equal({memory: 'high', compute: 'high'})
    expect(parseRowConfidence('HIGH (INT8 LOW)')).to.deep.equal({memory: 'high', compute: 'high'})
    expect(parseRowConfidence('LOW-MEDIUM')).to.deep.equal({memory: 'low', compute: 'low'})
    expect(parseRowConfidence('MEDIUM-HIGH')).to.deep.equal({memory: 'medium', compute: 'medium'})
    expect(parseRowConfidence('MEDIUM (mem/cores) LOW (flops)')).to.deep.equal({memory: 'medium', compute: 'low'})
    expect(parseRowConfidence('MEDIUM (no public NVIDIA datasheet; press-reported)')).to.deep.equal({memory: 'medium', compute: 'medium'})
  })

  it('reads free-text regions, counts and price ranges of china.csv', () => {
    expect(regionsIn('cn-southwest-2 (Guiyang1), cn-north-4/9 (Ulanqab) - availability by allow-list', 'huaweicloud')).to.deep.equal([
      'cn-southwest-2',
      'cn-north-4',
      'cn-north-9',
    ])
    expect(regionsIn('cn-* (varies)', 'aliyun')).to.deep.equal([])
    expect(regionsIn('Guangzhou, Shanghai, Hong Kong, Frankfurt', 'tencentcloud')).to.deep.equal([
      'ap-guangzhou',
      'ap-shanghai',
      'ap-hongkong',
      'eu-frankfurt',
    ])
    expect(regionsIn('ap-guangzhou (Zone 3 list price); GN7 also Shanghai/Nanjing', 'tencentcloud')).to.deep.equal(['ap-guangzhou'])
    expect(countsIn('1-8')).to.deep.equal([1, 8])
    expect(countsIn('8-16/node')).to.deep.equal([8, 16])
    expect(countsIn('0.25')).to.deep.equal([0.25])
    expect(upperPrice('2.4-19 (conflicting third-party figures)')).to.equal(19)
    expect(upperPrice('~16.4')).to.equal(16.4)
    expect(upperPrice('')).to.equal(null)
    expect(stripParenthetical('L4 (1/4 partition)')).to.equal('L4')
  })
})
