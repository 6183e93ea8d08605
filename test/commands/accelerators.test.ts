import {expect} from 'chai'

import {parseEnvelope, runCli} from '../helpers/cli.js'
import {schemaErrors} from '../unit/catalog/helpers.js'

describe('skyhop accelerators', () => {
  it('lists the registry with the cheapest offers, as JSON matching its schema', () => {
    const r = runCli(['accelerators', '--json'])
    expect(r.code, r.stderr).to.equal(0)
    const result = parseEnvelope(r.stdout).result
    expect(schemaErrors('accelerators', result)).to.equal('')
    const h100 = result.accelerators.find((a: {accelerator: {name: string}}) => a.accelerator.name === 'H100-80GB')
    expect(h100.accelerator.denseTflops16).to.deep.include({value: 989, confidence: 'high'})
    expect(h100.cheapestOnDemand).to.include.keys('provider', 'region', 'instanceType', 'perDeviceUsd')
    expect(h100.offers).to.be.greaterThan(10)
  })

  it('filters by vendor, runtime and memory', () => {
    const huawei = parseEnvelope(runCli(['accelerators', '--vendor', 'Huawei', '--json']).stdout).result
    const names = huawei.accelerators.map((a: {accelerator: {name: string}}) => a.accelerator.name)
    expect(names).to.include.members(['Ascend910B', 'Ascend910C', 'Ascend310P'])
    for (const a of huawei.accelerators) expect(a.accelerator.runtime).to.equal('cann')
    const big = parseEnvelope(runCli(['accelerators', '--runtime', 'cuda', '--min-memory', '90', '--json']).stdout).result
    for (const a of big.accelerators) {
      expect(a.accelerator.runtime).to.equal('cuda')
      expect(a.accelerator.memoryGB.value).to.be.at.least(90)
    }
    expect(big.accelerators.map((a: {accelerator: {name: string}}) => a.accelerator.name)).to.include('H200')
  })

  it('takes --min-memory as a size, as job files write it (80GB, 1TB)', () => {
    const gb = runCli(['accelerators', '--min-memory', '80GB', '--json'])
    expect(gb.code, gb.stderr).to.equal(0)
    const names = (r: ReturnType<typeof runCli>) =>
      parseEnvelope(r.stdout).result.accelerators.map((a: {accelerator: {name: string}}) => a.accelerator.name)
    expect(names(gb)).to.include('H100-80GB')
    expect(names(gb)).to.deep.equal(names(runCli(['accelerators', '--min-memory', '80', '--json'])))
    expect(names(runCli(['accelerators', '--min-memory', '1TB', '--json']))).to.deep.equal([])
    const bad = runCli(['accelerators', '--min-memory', 'lots'])
    expect(bad.code).to.equal(2)
    expect(bad.stderr).to.include('--min-memory: "lots" is not a size')
  })

  it('marks low-confidence figures with ~ in the table', () => {
    const r = runCli(['accelerators', '--vendor', 'cambricon'])
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.match(/MLU590\s+cambricon\s+neuware\s+~64/)
    expect(r.stdout).to.include('~ estimate or low-confidence figure')
  })

  it('exits 2 with a suggestion for an unknown vendor', () => {
    const r = runCli(['accelerators', '--vendor', 'nvidai'])
    expect(r.code).to.equal(2)
    expect(r.stderr).to.include('unknown vendor "nvidai" (did you mean "nvidia"?)')
  })
})
