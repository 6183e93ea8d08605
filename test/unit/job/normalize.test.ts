import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {loadJobFile} from '../../../src/job/load.js'
import {AUTO_REQUEST} from '../../../src/model/job-spec.js'

const NOW = new Date('2026-11-27T12:00:00Z')
const dir = mkdtempSync(join(tmpdir(), 'skyhop-spec-'))

function load(content: string, ext = 'yaml') {
  const file = join(dir, `f${Math.random().toString(36).slice(2)}.${ext}`)
  writeFileSync(file, content)
  return loadJobFile(file, {now: NOW}).spec
}

describe('job file normalization', () => {
  it('fills documented defaults', () => {
    const spec = load('name: a\nrun: echo hi\n')
    expect(spec.spot).to.equal('on-demand')
    expect(spec.objective).to.equal('cost')
    expect(spec.nodes).to.equal(1)
    expect(spec.resources.accelerators).to.deep.equal([])
    expect(spec.recovery).to.deep.include({strategy: 'eager-next-region', maxRestarts: 3, graceSeconds: 30, signal: 'SIGTERM'})
    expect(spec.idleTimeoutSeconds).to.equal(60)
  })

  it('reads nodes and compat, one name or a list', () => {
    expect(load('name: a\nrun: x\n').compat).to.deep.equal([])
    expect(load('name: a\nrun: x\nnodes: 4\ncompat: skypilot\n')).to.deep.include({nodes: 4, compat: ['skypilot']})
    expect(load('name: a\nrun: x\ncompat: [torchrun, dstack]\n').compat).to.deep.equal(['torchrun', 'dstack'])
  })

  it('reads resources.interconnect only when written, so older specs stay as they were', () => {
    expect(load('name: a\nrun: x\nnodes: 2\n').resources).to.not.have.property('interconnect')
    expect(load('name: a\nrun: x\nnodes: 2\nresources:\n  interconnect: required\n').resources.interconnect).to.equal('required')
  })

  it('reads accelerators: auto (any case) as one open request, marked auto only when written', () => {
    for (const written of ['auto', 'AUTO', '" Auto "']) {
      const spec = load(`name: a\nrun: x\nresources:\n  accelerators: ${written}\n  runtimes: [cann]\n`)
      expect(spec.resources.accelerators).to.deep.equal([AUTO_REQUEST])
      expect(spec.resources.auto).to.deep.equal({choice: null})
      expect(spec.resources.runtimes).to.deep.equal(['cann'])
    }
    expect(load('name: a\nrun: x\nresources:\n  accelerators: H100:8\n').resources).to.not.have.property('auto')
  })

  it('resolves accelerator aliases to canonical names', () => {
    const spec = load('name: a\nrun: x\nresources:\n  accelerators: [910B:8, "A100,H100:8", {vendor: cambricon, count: 1..4}]\n')
    const [ascend, either, filter] = spec.resources.accelerators
    expect(ascend.count).to.deep.equal({min: 8, max: 8})
    expect(ascend.names).to.have.length(1)
    expect(ascend.names![0]).to.match(/Ascend.*910B/i)
    expect(either.names).to.have.length(2)
    expect(filter.names).to.equal(null)
    expect(filter.vendors).to.deep.equal(['cambricon'])
    expect(filter.count).to.deep.equal({min: 1, max: 4})
    // Messages quote a filter as a person would write it, never as JSON.
    expect(filter.text).to.equal('any cambricon accelerator ×1..4')
    const open = load('name: a\nrun: x\nresources:\n  accelerators: {count: 1..8}\n').resources.accelerators[0]
    expect(open.text).to.equal('any accelerator ×1..8')
    const named = load('name: a\nrun: x\nresources:\n  accelerators: {name: [A100, H100], memory: 40GB..}\n').resources.accelerators[0]
    expect(named.text).to.match(/^A100\S* or H100\S* with 40GB\.\. memory$/)
  })

  it('parses work, deadline, budget and checkpoint', () => {
    const spec = load(
      'name: a\nrun: x\nwork: {reference: "A100-80GB:8", hours: 12}\ndeadline: 36h\nbudget: 1500 CNY\nmax_price: $30\ncheckpoint: {dir: /ckpt, interval: 30m}\n',
    )
    expect(spec.work!.hours).to.equal(12)
    expect(spec.work!.reference!.count).to.equal(8)
    expect(spec.deadline).to.equal('2026-11-29T00:00:00.000Z')
    expect(spec.budget).to.deep.equal({amount: 1500, currency: 'CNY'})
    expect(spec.maxPrice).to.deep.equal({amount: 30, currency: 'USD'})
    expect(spec.checkpoint).to.deep.equal({dir: '/ckpt', intervalSeconds: 1800, store: null})
  })

  it('reads a checkpoint store, and says where a bad one is', () => {
    const good = load(`name: s\nrun: x\ncheckpoint:\n  interval: 10m\n  store: {url: s3://bkt/p, region: us-east-1, sync_interval: 2m}\n`)
    expect(good.checkpoint.store).to.deep.equal({url: 's3://bkt/p', region: 'us-east-1', endpoint: null, syncIntervalSeconds: 120})
    expect(() => load(`name: s\nrun: x\ncheckpoint:\n  store: {url: gs://b/p, region: us-east-1}\n`)).to.throw(/\/checkpoint\/store\/url/)
    expect(() => load(`name: s\nrun: x\ncheckpoint:\n  store: {url: s3://bkt/p}\n`)).to.throw(/region/)
    expect(() => load(`name: s\nrun: x\ncheckpoint:\n  store: {url: s3://bkt/p, region: us-east-1, sync_interval: often}\n`)).to.throw(
      /sync_interval/,
    )
  })

  it('reads JSON job files and a $schema key', () => {
    const spec = load('{"$schema": "../schemas/job.schema.json", "name": "j", "run": "x", "envs": {"N": 3, "B": true}}', 'json')
    expect(spec.name).to.equal('j')
    expect(spec.envs).to.deep.equal({N: '3', B: 'true'})
  })

  it('keeps placement and data', () => {
    const spec = load(
      'name: a\nrun: x\nplacement:\n  providers: [aws, aliyun]\n  regions: {deny: [us-east-1]}\ndata:\n  - {uri: "s3://b/k", location: aws/us-east-1, size: 500GB}\n',
    )
    expect(spec.placement.providers).to.deep.equal({allow: ['aws', 'aliyun'], deny: []})
    expect(spec.placement.regions).to.deep.equal({allow: null, deny: ['us-east-1']})
    expect(spec.data).to.deep.equal([{uri: 's3://b/k', provider: 'aws', region: 'us-east-1', sizeGB: 500}])
  })

  it('loads every example', () => {
    for (const f of ['hello', 'train-gpu', 'cpu-batch']) {
      expect(loadJobFile(join('examples', `${f}.yaml`), {now: NOW}).spec.name).to.be.a('string')
    }
  })
})
