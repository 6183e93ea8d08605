// `skyhop simulate` end to end on the built CLI: hand-made traces, the --json result checked
// against schemas/output/simulate.json, the table a person sees, and the exit codes of
// what cannot be simulated.
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
const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'output', 'simulate.json'), 'utf8'))
const validateResult = ajv.compile(schema)

const JOB = `name: train
resources:
  accelerators: V100:1
work:
  reference: V100:1
  hours: 6
deadline: 10h
run: python train.py
`

/** Two zones in two regions, 10-minute ticks over 4 days, spot on and off in different rhythms. */
function setup(job = JOB): {dir: string; job: string; traces: string} {
  const dir = tempHome('skyhop-simulate-')
  const traces = join(dir, 'traces')
  mkdirSync(traces)
  const ticks = 576
  const a = Array.from({length: ticks}, (_, i) => (i % 30 < 20 ? 1 : 0))
  const b = Array.from({length: ticks}, (_, i) => (i % 47 < 12 ? 0 : 1))
  writeFileSync(join(traces, 'us-west-2a_v100_1.json'), JSON.stringify({metadata: {gap_seconds: 600}, data: a}))
  writeFileSync(join(traces, 'us-east-1c_v100_1.json'), JSON.stringify({metadata: {gap_seconds: 600}, data: b}))
  writeFileSync(join(dir, 'job.yaml'), job)
  return {dir, job: join(dir, 'job.yaml'), traces}
}

const PRICES = ['--spot-price', '1', '--on-demand-price', '3']

describe('skyhop simulate (built bin/run.js)', () => {
  it('reports every policy in --json, valid against the output schema, with no missed deadline for the safe ones', () => {
    const f = setup()
    const r = runCli(['simulate', f.job, '--traces', f.traces, ...PRICES, '--seeds', '12', '--json'], {home: f.dir})
    expect(r.code, r.stderr).to.equal(0)
    const env = parseEnvelope(r.stdout)
    expect(env.ok).to.equal(true)
    expect(validateResult(env.result), ajv.errorsText(validateResult.errors)).to.equal(true)
    const names = env.result.policies.map((p: {name: string}) => p.name)
    expect(names).to.deep.equal(['on-demand', 'spot', 'greedy', 'uniform-progress', 'omniscient', 'hourly-price', 'skyhop'])
    for (const p of env.result.policies) {
      if (p.safe) expect(p.deadlineMisses, p.name).to.equal(0)
      expect(p).to.have.keys(schema.definitions.job.properties.policies.items.required)
    }
    expect(env.result.settings).to.include({seeds: 12, changeoverHours: 0.2, noticeSeconds: 120})
    expect(env.result.traces.markets.map((m: {zone: string}) => m.zone).sort()).to.deep.equal(['us-east-1c', 'us-west-2a'])
    expect(env.result.job).to.include({workHours: 6, nodes: 1})
  })

  it('prints the zones and a table of policies, and honours --policy, --zone, --changeover and --notice', () => {
    const f = setup()
    const r = runCli(
      [
        'simulate',
        f.job,
        '--traces',
        f.traces,
        ...PRICES,
        '--seeds',
        '5',
        '--policy',
        'greedy',
        '--policy',
        'skyhop',
        '--zone',
        'us-west-2a',
        '--changeover',
        '12m',
        '--notice',
        '0',
      ],
      {home: f.dir},
    )
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.match(/train: 6 h of work, deadline 10 h \(job fraction 0\.60\), changeover 0\.20 h, notice 0 s/)
    expect(r.stdout).to.match(/^us-west-2a\s+V100-16GB×1\s+1\.00\s+1\.000\s+3\.000/m)
    expect(r.stdout).to.not.match(/^us-east-1c/m)
    expect(r.stdout).to.match(/^POLICY\s+SAFE\s+COST\/OD/m)
    expect(r.stdout).to.match(/^greedy\s+yes/m)
    expect(r.stdout).to.match(/^skyhop\s+yes/m)
    expect(r.stdout).to.not.match(/^uniform-progress/m)
  })

  it('gives the same result over worker threads as in one thread, seed for seed (--threads)', () => {
    const f = setup()
    const run = (threads: string) => {
      const r = runCli(['simulate', f.job, '--traces', f.traces, ...PRICES, '--seeds', '40', '--threads', threads, '--json'], {home: f.dir})
      expect(r.code, r.stderr).to.equal(0)
      const result = parseEnvelope(r.stdout).result
      // Wall-clock figures apart: the decide calls' latencies and the elapsed time.
      delete result.elapsedMs
      for (const p of result.policies) {
        expect(p.decisionLatencyUs.calls).to.be.greaterThan(0)
        delete p.decisionLatencyUs.p50
        delete p.decisionLatencyUs.p99
        delete p.decisionLatencyUs.max
      }
      return result
    }
    expect(run('3')).to.deep.equal(run('1'))
    const bad = runCli(['simulate', f.job, '--traces', f.traces, ...PRICES, '--threads', '0'], {home: f.dir})
    expect(bad.code).to.equal(2)
  })

  it('exits 2 for an unknown policy, a bad duration, a job without a deadline; 3 for a bad trace file', () => {
    const f = setup()
    const policy = runCli(['simulate', f.job, '--traces', f.traces, ...PRICES, '--policy', 'greedyy', '--json'], {home: f.dir})
    expect(policy.code).to.equal(2)
    expect(parseEnvelope(policy.stdout).error).to.include({code: 'UNKNOWN_POLICY'})
    const duration = runCli(['simulate', f.job, '--traces', f.traces, ...PRICES, '--changeover', 'soon'], {home: f.dir})
    expect(duration.code).to.equal(2)
    expect(duration.stderr).to.match(/error\[BAD_DURATION\]: --changeover/)
    const g = setup(JOB.replace('deadline: 10h\n', ''))
    const deadline = runCli(['simulate', g.job, '--traces', g.traces, ...PRICES, '--json'], {home: g.dir})
    expect(deadline.code).to.equal(2)
    expect(parseEnvelope(deadline.stdout).error).to.include({code: 'SIMULATE_NEEDS_DEADLINE'})
    writeFileSync(join(f.traces, 'us-west-2b_v100_1.json'), '{"metadata": {"gap_seconds": 600}, "data": [1, -1]}')
    const bad = runCli(['simulate', f.job, '--traces', f.traces, ...PRICES, '--json'], {home: f.dir})
    expect(bad.code).to.equal(3)
    const err = parseEnvelope(bad.stdout).error!
    expect(err.code).to.equal('TRACE_FILE_INVALID')
    expect(err.details.issues[0]).to.include({path: '/data/1'})
    expect(err.details.issues[0].file).to.match(/us-west-2b_v100_1\.json$/)
  })
})
