// `skyhop offers` as a user runs it: the built CLI in a real process, its --json result
// validated against schemas/output/offers.json, exit codes and messages checked.
import {expect} from 'chai'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {ROOT, parseEnvelope, runCli, tempHome} from '../helpers/cli.js'
import {schemaErrors} from '../unit/catalog/helpers.js'

describe('skyhop offers', () => {
  it('lists A100:8 offers cheapest first as JSON matching its schema', () => {
    const r = runCli(['offers', '--accelerator', 'A100:8', '--json'])
    expect(r.code, r.stderr).to.equal(0)
    const env = parseEnvelope(r.stdout)
    expect(env.ok).to.equal(true)
    expect(schemaErrors('offers', env.result)).to.equal('')
    const offers = env.result.offers as Array<{offer: {accelerator: {name: string; count: number}}; priceUsd: number | null}>
    expect(offers.length).to.be.greaterThan(5)
    for (const o of offers) expect(o.offer.accelerator).to.deep.equal({name: 'A100-40GB', count: 8})
    const prices = offers.map((o) => o.priceUsd).filter((p): p is number => p !== null)
    expect(prices).to.deep.equal([...prices].sort((a, b) => a - b))
    expect(env.result.query.accelerator.names).to.deep.equal(['A100-40GB'])
    expect(r.stderr).to.equal('')
  })

  it('writes --json to a pipe as plain JSON, byte for byte JSON.stringify of the envelope, even with FORCE_COLOR', () => {
    const r = runCli(['offers', '--all', '--json'], {env: {FORCE_COLOR: '3'}})
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.not.include('\u001B[')
    const env = JSON.parse(r.stdout) as {ok: boolean; result: {offers: unknown[]}}
    expect(env.result.offers.length).to.be.greaterThan(500)
    expect(r.stdout).to.equal(JSON.stringify(env, null, 2) + '\n')
  })

  it('prints a table that flags estimated prices with ~ and a legend', () => {
    const r = runCli(['offers', '--accelerator', 'A10', '--provider', 'aliyun'])
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.match(/^PROVIDER\s+REGION/)
    expect(r.stdout).to.match(/~¥19\.00/)
    expect(r.stdout).to.include('~ estimate')
    expect(r.stdout).to.match(/CNY converted at 6\.9858 per USD \(CFETS central parity .*chinamoney\.com\.cn.*, 2026-01-27\)/)
  })

  it('filters by spot, region and max price, and sorts by price per TFLOPS', () => {
    const r = runCli([
      'offers',
      '--accelerator',
      'H100:8',
      '--spot',
      '--region',
      'us-east-1',
      '--max-price',
      '40',
      '--sort',
      'price-per-tflops',
      '--json',
    ])
    expect(r.code, r.stderr).to.equal(0)
    const result = parseEnvelope(r.stdout).result
    expect(result.offers.length).to.be.greaterThan(0)
    for (const o of result.offers) {
      expect(o.offer.region).to.equal('us-east-1')
      expect(o.offer.price.spot).to.be.a('number')
      expect(o.priceUsd).to.be.at.most(40)
    }
  })

  // The built bundle is pure ASCII (scripts/bundle.mjs escapes what esbuild leaves in regular
  // expressions) and bin/run.js reads it as latin1: the price pattern holds `¥`, and would no
  // longer match if the escaping changed what it means.
  it('matches a ¥ price through the ASCII bundle', () => {
    const bundle = readFileSync(join(ROOT, 'dist', 'bundle', 'skyhop.cjs'))
    expect(
      bundle.findIndex((byte) => byte > 0x7f),
      'first non-ASCII byte in the bundle',
    ).to.equal(-1)
    const yen = runCli(['offers', '--accelerator', 'A100:8', '--max-price', '¥200', '--json'])
    expect(yen.code, yen.stderr).to.equal(0)
    const result = parseEnvelope(yen.stdout).result
    expect(result.offers.length).to.be.greaterThan(0)
    const cap = 200 / 6.9858 // CNY per USD in data/fx.json
    for (const o of result.offers) expect(o.priceUsd).to.be.at.most(cap + 1e-9)
    const all = parseEnvelope(runCli(['offers', '--accelerator', 'A100:8', '--json']).stdout).result
    expect(all.offers.length, 'the cap removes some offers').to.be.greaterThan(result.offers.length)
  })

  it('uses exactly the offers of --catalog FILE', () => {
    const home = tempHome()
    const file = join(home, 'pool.yaml')
    writeFileSync(
      file,
      'offers:\n  - {provider: onprem, region: lab, instanceType: atlas-800, accelerator: {name: 910B, count: 8}, vcpus: 192, memoryGiB: 1024, price: {onDemand: 20, currency: CNY}}\n',
    )
    const r = runCli(['offers', '--catalog', file, '--json'], {home})
    expect(r.code, r.stderr).to.equal(0)
    const result = parseEnvelope(r.stdout).result
    expect(result.total).to.equal(1)
    expect(result.offers[0].offer).to.deep.include({provider: 'onprem', accelerator: {name: 'Ascend910B', count: 8}})
    expect(result.sources).to.deep.equal([
      {provider: 'onprem', origin: 'file', source: `file ${file}`, asOf: result.offers[0].offer.asOf, fetchedAt: null, rows: 1, file},
    ])
  })

  it('marks offers of providers without an adapter: launchable false in --json, * with a legend in the table', () => {
    const json = runCli(['offers', '--accelerator', 'A100:8', '--provider', 'lambda', '--provider', 'aws', '--all', '--json'])
    expect(json.code, json.stderr).to.equal(0)
    const result = parseEnvelope(json.stdout).result
    expect(schemaErrors('offers', result)).to.equal('')
    const by = (p: string) =>
      (result.offers as Array<{offer: {provider: string}; launchable: boolean}>).filter((o) => o.offer.provider === p)
    expect(by('lambda').length).to.be.greaterThan(0)
    expect(by('aws').length).to.be.greaterThan(0)
    for (const o of by('lambda')) expect(o.launchable).to.equal(false)
    for (const o of by('aws')) expect(o.launchable).to.equal(true)
    const text = runCli(['offers', '--accelerator', 'A100:8', '--provider', 'lambda', '--provider', 'aws'])
    expect(text.code, text.stderr).to.equal(0)
    expect(text.stdout).to.match(/^lambda\*\s/m)
    expect(text.stdout).to.match(/^aws\s/m)
    expect(text.stdout).to.include('* no adapter: listed for comparison; skyhop cannot launch there')
  })

  it('exits 3 with file:line:col for an invalid --catalog file', () => {
    const home = tempHome()
    const file = join(home, 'bad.yaml')
    writeFileSync(
      file,
      'offers:\n  - provider: aws\n    region: us-east-1\n    instanceType: x\n    vcpus: 1\n    memoryGiB: 1\n    price: {onDemand: 1, currency: USD}\n    acelerator: {name: H100, count: 8}\n',
    )
    const r = runCli(['offers', '--catalog', file], {home})
    expect(r.code).to.equal(3)
    expect(r.stderr).to.include('error[CATALOG_FILE_INVALID]')
    expect(r.stderr).to.include(`${file}:8:5: /offers/0/acelerator: unknown key "acelerator" (did you mean "accelerator"?)`)
  })

  it('exits 2 with a suggestion for an unknown accelerator, provider or region, also under --json', () => {
    const acc = runCli(['offers', '--accelerator', 'H10O:8'])
    expect(acc.code).to.equal(2)
    expect(acc.stderr).to.include('error[UNKNOWN_ACCELERATOR]: unknown accelerator "H10O" (did you mean "H100-80GB"?)')
    const prov = runCli(['offers', '--provider', 'alibaba-cloud', '--json'])
    expect(prov.code).to.equal(2)
    expect(parseEnvelope(prov.stdout).error!.code).to.equal('UNKNOWN_PROVIDER')
    const region = runCli(['offers', '--region', 'us-eats-1', '--json'])
    expect(region.code).to.equal(2)
    expect(parseEnvelope(region.stdout).error).to.deep.include({code: 'UNKNOWN_REGION'})
    expect(parseEnvelope(region.stdout).error!.details.suggestion).to.equal('us-east-1')
    const sort = runCli(['offers', '--sort', 'cheapest'])
    expect(sort.code).to.equal(2)
  })
})
