// `skyhop simulate --service` on the built CLI: hand-made traces (three zones, 10-minute
// ticks over 4 days), the --json result against schemas/output/simulate.json, the table, the
// sizing from --qps, and the exit codes of what cannot be replayed. The 9-zone traces are
// replayed by bench/serve.mjs.
import {expect} from 'chai'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'

import {ROOT, parseEnvelope, runCli, tempHome} from '../helpers/cli.js'

const require = createRequire(import.meta.url)
const Ajv = require('ajv') as typeof import('ajv').default
const addFormats = require('ajv-formats') as typeof import('ajv-formats').default
const ajv = new Ajv({allErrors: true, strict: false})
addFormats(ajv)
const validateResult = ajv.compile(JSON.parse(readFileSync(join(ROOT, 'schemas', 'output', 'simulate.json'), 'utf8')))

const SERVICE = `name: llm
resources:
  accelerators: [V100:1, K80:1]
work:
  reference: V100:1
  hours: 1
throughput: {V100: 1, K80: 0.25}
run: exec node server.mjs
spot: auto
service:
  port: 8080
  replicas:
    min: 2
    max: 12
    target_qps_per_replica: 50
  spot:
    base_on_demand: 1
    spread: zones
`

function setup(service = SERVICE): {dir: string; file: string; traces: string} {
  const dir = tempHome('skyhop-simulate-service-')
  const traces = join(dir, 'traces')
  mkdirSync(traces)
  const ticks = 576
  const pattern = (period: number, off: number, phase: number) =>
    Array.from({length: ticks}, (_, i) => ((i + phase) % period < off ? 0 : 1))
  writeFileSync(join(traces, 'us-west-2a_v100_1.json'), JSON.stringify({metadata: {gap_seconds: 600}, data: pattern(30, 6, 0)}))
  writeFileSync(join(traces, 'us-west-2b_v100_1.json'), JSON.stringify({metadata: {gap_seconds: 600}, data: pattern(47, 5, 11)}))
  writeFileSync(join(traces, 'us-east-1c_v100_1.json'), JSON.stringify({metadata: {gap_seconds: 600}, data: pattern(61, 9, 23)}))
  writeFileSync(join(traces, 'us-west-2a_k80_1.json'), JSON.stringify({metadata: {gap_seconds: 600}, data: pattern(20, 2, 0)}))
  writeFileSync(join(dir, 'service.yaml'), service)
  return {dir, file: join(dir, 'service.yaml'), traces}
}

const PRICES = ['--spot-price', 'V100=0.9', '--on-demand-price', 'V100=3', '--spot-price', 'K80=0.2', '--on-demand-price', 'K80=0.9']

describe('skyhop simulate --service (built bin/run.js)', () => {
  it('replays every service policy in --json, valid against the schema: on-demand always at target, skyhop above spot alone', () => {
    const f = setup()
    const r = runCli(['simulate', f.file, '--service', '--traces', f.traces, ...PRICES, '--seeds', '6', '--duration', '1d', '--json'], {
      home: f.dir,
    })
    expect(r.code, r.stderr).to.equal(0)
    const env = parseEnvelope(r.stdout)
    expect(validateResult(env.result), ajv.errorsText(validateResult.errors)).to.equal(true)
    const res = env.result
    // No --qps: the file's minimum, on the configuration cheapest at that count (K80 spot is cheapest per replica).
    expect(res.service).to.include({target: 2, demandQps: null, baseOnDemand: 1, spread: 'zones'})
    expect(res.settings).to.include({seeds: 6, durationHours: 24, startupSeconds: 120, noticeSeconds: 120, respotSeconds: 300})
    const by = Object.fromEntries(res.policies.map((p: {name: string}) => [p.name, p]))
    expect(Object.keys(by)).to.deep.equal(['on-demand', 'spot', 'spot-floor', 'skyhop'])
    expect(by['on-demand'].availabilityAtTarget.mean).to.equal(1)
    expect(by['on-demand'].costRelativeToOnDemand).to.be.closeTo(1, 1e-9)
    expect(by.skyhop.availabilityAtOne.mean).to.equal(1)
    expect(by.skyhop.availabilityAtTarget.mean).to.be.above(by.spot.availabilityAtTarget.mean)
    expect(by.skyhop.costRelativeToOnDemand).to.be.below(1)
    expect(by.spot.onDemandHours).to.equal(0)

    const table = runCli(['simulate', f.file, '--service', '--traces', f.traces, ...PRICES, '--seeds', '3', '--duration', '12h'], {
      home: f.dir,
    })
    expect(table.code, table.stderr).to.equal(0)
    expect(table.stdout).to.match(/AT TARGET/)
    expect(table.stdout).to.match(/^skyhop\s/m)
  })

  it('sizes the replicas from --qps by each accelerator’s throughput and replays the cheapest that carries it', () => {
    const f = setup()
    const r = runCli(
      ['simulate', f.file, '--service', '--traces', f.traces, ...PRICES, '--qps', '200', '--seeds', '2', '--duration', '6h', '--json'],
      {home: f.dir},
    )
    expect(r.code, r.stderr).to.equal(0)
    const res = parseEnvelope(r.stdout).result
    const sizing = Object.fromEntries(res.sizing.map((o: {name: string}) => [o.name.split(':')[0], o]))
    // 200 requests/s at 50 per V100 replica: 4 V100; a K80 does a quarter: 16, above max 12.
    expect(sizing['V100-16GB']).to.include({replicas: 4, capacityQps: 200, meets: true})
    expect(sizing.K80).to.include({replicas: 12, meets: false})
    expect(res.service).to.include({target: 4, demandQps: 200, qpsPerReplica: 50})
    expect(res.service.configuration).to.match(/^V100/)
    expect(res.traces.zones).to.have.length(3)
  })

  it('exits 3 for a file without service:, 2 for --qps without a per-replica rate, a service flag without --service, an unknown policy', () => {
    const f = setup()
    const job = join(f.dir, 'job.yaml')
    writeFileSync(job, 'name: j\nresources:\n  accelerators: V100:1\nrun: echo\n')
    const noService = runCli(['simulate', job, '--service', '--traces', f.traces, ...PRICES, '--json'], {home: f.dir})
    expect(noService.code).to.equal(3)
    expect(parseEnvelope(noService.stdout).error).to.include({code: 'SERVICE_BLOCK_MISSING'})

    const g = setup(SERVICE.replace('  replicas:\n    min: 2\n    max: 12\n    target_qps_per_replica: 50\n', '  replicas: 2\n'))
    const qps = runCli(['simulate', g.file, '--service', '--traces', g.traces, ...PRICES, '--qps', '100', '--json'], {home: g.dir})
    expect(qps.code).to.equal(2)
    expect(parseEnvelope(qps.stdout).error).to.include({code: 'SIMULATE_NEEDS_QPS_PER_REPLICA'})
    const badQps = runCli(['simulate', f.file, '--service', '--traces', f.traces, ...PRICES, '--qps', 'lots'], {home: f.dir})
    expect(badQps.code).to.equal(2)
    expect(badQps.stderr).to.match(/--qps "lots"/)

    const withoutService = runCli(['simulate', f.file, '--traces', f.traces, ...PRICES, '--startup', '1m', '--json'], {home: f.dir})
    expect(withoutService.code).to.equal(2)
    expect(parseEnvelope(withoutService.stdout).error).to.include({code: 'FLAGS_CONFLICT'})
    const policy = runCli(['simulate', f.file, '--service', '--traces', f.traces, ...PRICES, '--policy', 'greedy', '--json'], {home: f.dir})
    expect(policy.code).to.equal(2)
    expect(parseEnvelope(policy.stdout).error).to.include({code: 'UNKNOWN_POLICY'})
  })
})
