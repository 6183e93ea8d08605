// `skyhop plan` end to end on the built CLI: a hand-made catalog, the ranking a user sees,
// the --json result validated against schemas/output/plan.json, exit 5 with grouped reasons.
import {expect} from 'chai'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'

import {ROOT, parseEnvelope, runCli, tempHome} from '../helpers/cli.js'
import {sqliteOnly} from '../helpers/pg-suite.js'

const require = createRequire(import.meta.url)
const Ajv = require('ajv') as typeof import('ajv').default
const addFormats = require('ajv-formats') as typeof import('ajv-formats').default
const ajv = new Ajv({allErrors: true, strict: false})
addFormats(ajv)
const validateResult = ajv.compile(JSON.parse(readFileSync(join(ROOT, 'schemas', 'output', 'plan.json'), 'utf8')))

// Slurm: A100-80GB×8 at an internal 4 USD/h; AWS: H100×8 at 30 USD/h and A100×8 at 25 USD/h.
const CATALOG = {
  offers: [
    {
      provider: 'slurm',
      region: 'lab',
      instanceType: 'gpu-a100',
      accelerator: {name: 'A100-80GB', count: 8},
      vcpus: 64,
      memoryGiB: 512,
      price: {onDemand: 4, currency: 'USD'},
      expectedQueueMinutes: 360,
    },
    {
      provider: 'aws',
      region: 'us-east-1',
      instanceType: 'p5.48xlarge',
      accelerator: {name: 'H100-80GB', count: 8},
      vcpus: 192,
      memoryGiB: 2048,
      price: {onDemand: 30, spot: 12, currency: 'USD'},
    },
    {
      provider: 'aws',
      region: 'us-west-2',
      instanceType: 'p4de.24xlarge',
      accelerator: {name: 'A100-80GB', count: 8},
      vcpus: 96,
      memoryGiB: 1152,
      price: {onDemand: 25, currency: 'USD'},
    },
    {
      provider: 'huaweicloud',
      region: 'cn-southwest-2',
      instanceType: 'snt9b.8',
      accelerator: {name: 'Ascend910B', count: 8},
      vcpus: 192,
      memoryGiB: 1536,
      price: {onDemand: 20, currency: 'CNY'},
    },
  ],
}

function setup(job: string): {dir: string; job: string; catalog: string} {
  const dir = tempHome('skyhop-plan-')
  writeFileSync(join(dir, 'catalog.json'), JSON.stringify(CATALOG))
  writeFileSync(join(dir, 'job.yaml'), job)
  return {dir, job: join(dir, 'job.yaml'), catalog: join(dir, 'catalog.json')}
}

const TRAIN = `name: train
resources:
  accelerators: [H100:8, A100-80GB:8]
  runtimes: [cuda]
work:
  reference: A100-80GB:8
  hours: 10
run: python train.py
`
// No PATH: no sinfo, so which providers are enabled depends only on the env we give.
const ENV = {PATH: '/nonexistent', AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_PROFILE: undefined}

describe('skyhop plan (built bin/run.js)', () => {
  it('ranks by cost across the whole catalog, validates against the output schema', () => {
    const f = setup(TRAIN)
    const r = runCli(['plan', f.job, '--catalog', f.catalog, '--all-providers', '--json'], {env: ENV})
    expect(r.code, r.stderr).to.equal(0)
    const env = parseEnvelope(r.stdout)
    expect(validateResult(env.result), ajv.errorsText(validateResult.errors)).to.equal(true)
    const c = env.result.candidates
    // Slurm: 10 h × 4 = 40 USD (queue 6 h is not billed); H100: 10 × 312/989 = 3.155 h × 30 = 94.6; A100 aws 250.
    expect(c.map((x: {provider: string; instanceType: string}) => `${x.provider}:${x.instanceType}`)).to.deep.equal([
      'slurm:gpu-a100',
      'aws:p5.48xlarge',
      'aws:p4de.24xlarge',
    ])
    expect(c[0]).to.include({estimatedCostUsd: 40, estimatedQueueHours: 6, estimatedRunHours: 10, hourlyPriceUsd: 4, spot: false})
    expect(c[1].estimatedRunHours).to.be.closeTo((10 * 312) / 989, 1e-3)
    expect(env.result.chosen).to.deep.equal(c[0])
    expect(env.result.excluded.map((g: {reason: string; subject: string}) => `${g.reason}:${g.subject}`)).to.include(
      'accelerator-mismatch:Ascend910B',
    )
    expect(env.result.enabledProviders).to.equal(null)
  })

  it('--objective time picks the cloud H100 over the 6-hour Slurm queue', () => {
    const f = setup(TRAIN)
    const r = runCli(['plan', f.job, '--catalog', f.catalog, '--all-providers', '--objective', 'time', '--json'], {env: ENV})
    const env = parseEnvelope(r.stdout)
    expect(env.result.objective).to.equal('time')
    expect(env.result.chosen.instanceType).to.equal('p5.48xlarge')
  })

  sqliteOnly(
    'it checks for the SQLite file itself; with a database URL, plan reads the shared store',
    it('plans without creating a state store in a fresh home, and reads the one that exists', () => {
      const f = setup(TRAIN)
      const home = tempHome()
      expect(runCli(['plan', f.job, '--catalog', f.catalog, '--all-providers'], {env: ENV, home}).code).to.equal(0)
      expect(existsSync(join(home, 'state.db'))).to.equal(false)
      expect(runCli(['status'], {env: ENV, home}).code).to.equal(0)
      expect(existsSync(join(home, 'state.db'))).to.equal(true)
      expect(runCli(['plan', f.job, '--catalog', f.catalog, '--all-providers'], {env: ENV, home}).code).to.equal(0)
    }),
  )

  it('prints a table with the choice marked and, with --explain, the excluded groups', () => {
    // Any 8 devices, CUDA only: the Ascend offer is dropped for its software stack.
    const f = setup(TRAIN.replace('[H100:8, A100-80GB:8]', '{count: 8}'))
    const r = runCli(['plan', f.job, '--catalog', f.catalog, '--all-providers', '--explain', '--top', '2'], {env: ENV})
    expect(r.code).to.equal(0)
    const lines = r.stdout.split('\n')
    const header = lines.findIndex((l) => l.includes('PROVIDER'))
    expect(lines[header]).to.match(/PROVIDER\s+REGION\s+INSTANCE\s+ACCELERATORS\s+SPOT\s+\$\/H\s+QUEUE\s+RUN\s+FINISH\s+TOTAL/)
    expect(lines[header + 1]).to.match(/^✔\s+slurm\s+lab\s+gpu-a100\s+A100-80GB×8\s+4\.00\s+6\.0h\s+10\.0h\s+16\.\dh\s+\$40\.0$/)
    expect(lines[header + 3]).to.not.match(/p4de/)
    expect(r.stdout).to.match(/runtime-mismatch: Ascend910B runs cann; the job runs on cuda/)
  })

  it('plans only enabled providers by default: AWS with credentials in the environment', () => {
    const f = setup(TRAIN)
    const r = runCli(['plan', f.job, '--catalog', f.catalog, '--json'], {
      env: {...ENV, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x'},
    })
    const env = parseEnvelope(r.stdout)
    expect(env.result.enabledProviders).to.deep.equal(['aws', 'local'])
    expect(env.result.chosen.provider).to.equal('aws')
    expect(env.result.excluded.find((g: {reason: string}) => g.reason === 'provider-disabled').subject).to.equal('slurm')
  })

  it('says at plan time that a multi-node job on a cloud needs an object store, and what to set', () => {
    const f = setup(TRAIN.replace('run: python train.py', 'nodes: 2\nrun: python train.py'))
    const r = runCli(['plan', f.job, '--catalog', f.catalog, '--json'], {
      env: {...ENV, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x'},
    })
    expect(r.code, r.stderr).to.equal(0)
    const env = parseEnvelope(r.stdout)
    expect(validateResult(env.result), ajv.errorsText(validateResult.errors)).to.equal(true)
    expect(env.result.chosen.provider).to.equal('aws')
    expect(env.result.assumptions).to.include(
      'a 2-node job on aws needs an object store for its nodes to find each other: set checkpoint.store in the job file (or checkpoint_store in the config), or those candidates are refused at launch',
    )
    const stored = setup(
      TRAIN.replace(
        'run: python train.py',
        'nodes: 2\ncheckpoint:\n  store: {url: s3://ckpt/runs, region: us-east-1}\nrun: python train.py',
      ),
    )
    const withStore = runCli(['plan', stored.job, '--catalog', stored.catalog, '--json'], {
      env: {...ENV, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x'},
    })
    expect(withStore.code, withStore.stderr).to.equal(0)
    expect(parseEnvelope(withStore.stdout).result.assumptions.join('\n')).to.not.include('object store')
  })

  it("shows a gang's inter-node fabric as the adapter sets it up (AWS: one EFA per node), prefers it, and excludes the rest when it is required", () => {
    const awsEnv = {...ENV, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x'}
    // p5.48xlarge has EFA at 3,200 Gbit/s in skyhop's table (the catalog file leaves it to the
    // table); the AWS adapter sets up one EFA interface of its 32 network cards, so the plan
    // says 100. p4de.24xlarge is not documented.
    const f = setup(TRAIN.replace('run: python train.py', 'nodes: 2\nrun: python train.py'))
    const human = runCli(['plan', f.job, '--catalog', f.catalog], {env: awsEnv})
    expect(human.code, human.stderr).to.equal(0)
    expect(human.stdout).to.match(/FABRIC/)
    expect(human.stdout).to.match(/p5\.48xlarge\s+H100-80GB×8 ×2 nodes\s+efa 100G/)
    expect(human.stdout).to.match(/p4de\.24xlarge\s+A100-80GB×8 ×2 nodes\s+\?/)
    expect(human.stdout).to.match(
      /2-node gang: where the nodes have no documented fast fabric .* keeps 70% of linear speed-up instead of 90%/,
    )

    const preferred = parseEnvelope(runCli(['plan', f.job, '--catalog', f.catalog, '--json'], {env: awsEnv}).stdout)
    expect(validateResult(preferred.result), ajv.errorsText(validateResult.errors)).to.equal(true)
    const byType = (t: string) => preferred.result.candidates.find((c: {instanceType: string}) => c.instanceType === t)
    expect(byType('p5.48xlarge').interconnect).to.include({kind: 'efa', gbps: 100})
    expect(byType('p5.48xlarge').interconnect.source).to.include('skyhop sets up one EFA interface, on network card 0 of 32')
    expect(byType('p4de.24xlarge').interconnect).to.equal(null)
    // 10 h on one A100×8 node, on two: 10 / (2 × 0.7) on the p4de's undocumented networking.
    expect(byType('p4de.24xlarge').estimatedRunHours).to.be.closeTo(10 / (2 * 0.7), 1e-3)
    expect(byType('p5.48xlarge').estimates.runHours.source).to.not.include('gang on')

    const required = setup(
      TRAIN.replace('run: python train.py', 'nodes: 2\nrun: python train.py').replace(
        'runtimes: [cuda]',
        'runtimes: [cuda]\n  interconnect: required',
      ),
    )
    const r = runCli(['plan', required.job, '--catalog', required.catalog, '--json'], {env: awsEnv})
    expect(r.code, r.stderr).to.equal(0)
    const env = parseEnvelope(r.stdout)
    expect(validateResult(env.result), ajv.errorsText(validateResult.errors)).to.equal(true)
    expect(env.result.candidates.map((c: {instanceType: string}) => c.instanceType)).to.deep.equal(['p5.48xlarge'])
    expect(env.result.excluded.find((g: {reason: string}) => g.reason === 'interconnect')).to.deep.include({
      subject: 'aws/p4de.24xlarge',
      count: 1,
    })
  })

  it('an Azure Spot gang is shown on ethernet with the reason, and left out when a fabric is required', () => {
    // ND H100 v5 has InfiniBand in skyhop's table, but Azure takes no Spot VM into the availability
    // set that would join the gang to one network.
    const dir = tempHome('skyhop-plan-')
    const catalog = join(dir, 'catalog.json')
    writeFileSync(
      catalog,
      JSON.stringify({
        offers: [
          {
            provider: 'azure',
            region: 'eastus',
            instanceType: 'Standard_ND96isr_H100_v5',
            accelerator: {name: 'H100-80GB', count: 8},
            vcpus: 96,
            memoryGiB: 1900,
            price: {onDemand: 98, spot: 30, currency: 'USD'},
            preemptionRatePerHour: 0.01,
          },
        ],
      }),
    )
    const gang = TRAIN.replace('run: python train.py', 'nodes: 2\nspot: auto\nrun: python train.py')
    writeFileSync(join(dir, 'job.yaml'), gang)
    const human = runCli(['plan', join(dir, 'job.yaml'), '--catalog', catalog, '--all-providers'], {env: ENV})
    expect(human.code, human.stderr).to.equal(0)
    expect(human.stdout).to.match(/Standard_ND96isr_H100_v5\s+H100-80GB×8 ×2 nodes\s+infiniband 3200G/)
    expect(human.stdout).to.match(/Standard_ND96isr_H100_v5\s+H100-80GB×8 ×2 nodes\s+ethernet/)
    const planned = parseEnvelope(
      runCli(['plan', join(dir, 'job.yaml'), '--catalog', catalog, '--all-providers', '--json'], {env: ENV}).stdout,
    )
    expect(validateResult(planned.result), ajv.errorsText(validateResult.errors)).to.equal(true)
    const spot = planned.result.candidates.find((c: {spot: boolean}) => c.spot)
    expect(spot.interconnect).to.include({kind: 'ethernet', gbps: null})
    expect(spot.interconnect.source).to.include('Spot VMs cannot join an availability set')

    writeFileSync(join(dir, 'job.yaml'), gang.replace('runtimes: [cuda]', 'runtimes: [cuda]\n  interconnect: required'))
    const explained = runCli(['plan', join(dir, 'job.yaml'), '--catalog', catalog, '--all-providers', '--explain'], {env: ENV})
    expect(explained.code, explained.stderr).to.equal(0)
    expect(explained.stdout).to.include("azure/Standard_ND96isr_H100_v5 spot: a Spot gang does not get the shape's infiniband")
    const required = parseEnvelope(
      runCli(['plan', join(dir, 'job.yaml'), '--catalog', catalog, '--all-providers', '--json'], {env: ENV}).stdout,
    )
    expect(required.result.candidates.map((c: {spot: boolean}) => c.spot)).to.deep.equal([false])
  })

  it('a one-node plan has no fabric column and no interconnect field', () => {
    const f = setup(TRAIN)
    const r = runCli(['plan', f.job, '--catalog', f.catalog], {env: {...ENV, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x'}})
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.not.match(/FABRIC/)
  })

  it('exits 5 with the reasons grouped when nothing is feasible', () => {
    const f = setup(TRAIN)
    const r = runCli(['plan', f.job, '--catalog', f.catalog], {env: ENV})
    expect(r.code).to.equal(5)
    expect(r.stderr).to.match(/^error\[NO_FEASIBLE_PLAN\]: no offer can run train/)
    expect(r.stderr).to.match(/provider-disabled: aws is not enabled/)
    expect(r.stderr).to.match(/hint: .*--all-providers/)
    const json = runCli(['plan', f.job, '--catalog', f.catalog, '--json'], {env: ENV})
    expect(json.code).to.equal(5)
    const env = parseEnvelope(json.stdout)
    expect(env.error!.code).to.equal('NO_FEASIBLE_PLAN')
    expect(env.error!.details.excluded.map((g: {reason: string}) => g.reason)).to.include('provider-disabled')
  })

  it('never plans onto a provider without an adapter, even with --all-providers; --explain says no-adapter', () => {
    // The cheapest A100-80GB×8 is on Lambda Cloud, which the catalog lists but skyhop cannot launch on (issue 21).
    const f = setup(TRAIN)
    const withLambda = {
      offers: [
        ...CATALOG.offers,
        {
          provider: 'lambda',
          region: 'us-east-1',
          instanceType: 'gpu_8x_a100_80gb_sxm4',
          accelerator: {name: 'A100-80GB', count: 8},
          vcpus: 96,
          memoryGiB: 1360,
          price: {onDemand: 1, currency: 'USD'},
        },
      ],
    }
    writeFileSync(f.catalog, JSON.stringify(withLambda))
    const r = runCli(['plan', f.job, '--catalog', f.catalog, '--all-providers', '--json'], {env: ENV})
    expect(r.code, r.stderr).to.equal(0)
    const env = parseEnvelope(r.stdout)
    expect(validateResult(env.result), ajv.errorsText(validateResult.errors)).to.equal(true)
    expect(env.result.candidates.map((c: {provider: string}) => c.provider)).to.not.include('lambda')
    expect(env.result.excluded.find((g: {reason: string}) => g.reason === 'no-adapter')).to.deep.include({subject: 'lambda', count: 1})
    const text = runCli(['plan', f.job, '--catalog', f.catalog, '--all-providers', '--explain'], {env: ENV})
    expect(text.code, text.stderr).to.equal(0)
    expect(text.stdout).to.match(/no-adapter: lambda has no adapter in skyhop/)
  })

  it('plans the bundled examples', () => {
    for (const example of ['examples/hello.yaml', 'examples/cpu-batch.yaml', 'examples/train-gpu.yaml']) {
      const r = runCli(['plan', example, '--all-providers', '--json'], {env: ENV})
      expect(r.code, `${example}: ${r.stdout}${r.stderr}`).to.equal(0)
      const env = parseEnvelope(r.stdout)
      expect(validateResult(env.result), `${example}: ${ajv.errorsText(validateResult.errors)}`).to.equal(true)
    }
  })
})

describe('what a new user trips over: plans', function () {
  this.timeout(60_000)
  const slurmOff = (home: string) => {
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
    return {SKYHOP_CONFIG: config}
  }

  it('a CANN-only job plans onto Ascend whose prices are unknown: chosen, its cost unknown with how to fix it, exit 0', () => {
    const home = tempHome()
    const file = join(home, 'cann.yaml')
    writeFileSync(file, 'name: cann\nrun: x\nresources:\n  accelerators: {vendor: huawei, count: 1..8}\n  runtimes: [cann]\n')
    const json = runCli(['plan', file, '--all-providers', '--json'], {home, env: slurmOff(home)})
    expect(json.code, json.stderr).to.equal(0)
    const result = parseEnvelope(json.stdout).result
    expect(result.chosen.provider).to.equal('huaweicloud')
    expect(result.chosen.estimatedCostUsd).to.equal(null)
    expect(result.chosen.hourlyPriceUsd).to.equal(null)
    expect(result.assumptions.join('\n')).to.match(/has no known price, so its cost is unknown.*skyhop catalog refresh/)
    const text = runCli(['plan', file, '--all-providers'], {home, env: slurmOff(home)})
    expect(text.code, text.stderr).to.equal(0)
    expect(text.stdout).to.match(/Chosen: huaweicloud .*, cost unknown \(no known price\)/)
    expect(text.stdout).not.to.match(/\$0\.00/)
  })

  it('a CNY price is ranked at the dated public rate, named with its date in --json and the notes; config may give its own', () => {
    const home = tempHome()
    const catalog = join(home, 'npu.yaml')
    writeFileSync(
      catalog,
      'offers:\n  - {provider: slurm, region: campus-hpc, instanceType: npu-partition, accelerator: {name: Ascend910B, count: 8}, vcpus: 192, memoryGiB: 1536, price: {onDemand: 40, currency: CNY}}\n',
    )
    const file = join(home, 'cann.yaml')
    writeFileSync(file, 'name: cann\nrun: x\nresources:\n  accelerators: {vendor: huawei, count: 8}\n  runtimes: [cann]\n')
    const r = runCli(['plan', file, '--catalog', catalog, '--all-providers', '--json'], {home})
    expect(r.code, r.stderr).to.equal(0)
    const result = parseEnvelope(r.stdout).result
    expect(validateResult(result), ajv.errorsText(validateResult.errors)).to.equal(true)
    expect(result.catalog.fx).to.deep.include({cnyPerUsd: 6.9858, asOf: '2026-01-27'})
    expect(result.catalog.fx.source).to.match(/^CFETS central parity .*chinamoney\.com\.cn/)
    // 40 CNY an hour at 6.9858 CNY per USD.
    expect(result.chosen.hourlyPriceUsd).to.be.closeTo(40 / 6.9858, 1e-3)
    expect(result.assumptions.join('\n')).to.include('prices in CNY are ranked in USD at 6.9858 CNY per USD of 2026-01-27 (CFETS')

    const config = join(home, 'config.yaml')
    writeFileSync(config, 'fx: {cny_per_usd: 8, as_of: 2026-12-01, source: my bank}\n')
    const own = runCli(['plan', file, '--catalog', catalog, '--all-providers', '--json'], {home, env: {SKYHOP_CONFIG: config}})
    expect(own.code, own.stderr).to.equal(0)
    const mine = parseEnvelope(own.stdout).result
    expect(mine.catalog.fx).to.deep.equal({cnyPerUsd: 8, asOf: '2026-12-01', source: 'my bank'})
    expect(mine.chosen.hourlyPriceUsd).to.be.closeTo(5, 1e-9)
  })

  it('a job of a domestic runtime the catalog has no offer for says so and how to add offers; with the example price sheet it plans onto that card', () => {
    const home = tempHome()
    const job = (runtime: string) => {
      const file = join(home, `${runtime}.yaml`)
      writeFileSync(file, `name: ${runtime}\nrun: x\nresources:\n  accelerators: {count: 1..8}\n  runtimes: [${runtime}]\n`)
      return file
    }
    const none = runCli(['plan', job('neuware'), '--all-providers'], {home, env: slurmOff(home)})
    expect(none.code).to.equal(5)
    expect(none.stderr).to.match(/none of the \d+ offers in the catalog has an accelerator of the job's runtimes/)
    expect(none.stderr).to.include('docs/catalog.md#domestic-accelerators')
    expect(none.stderr).to.include('examples/domestic-pool.yaml')
    const sheet = join(ROOT, 'examples', 'domestic-pool.yaml')
    for (const [runtime, accelerator] of [
      ['neuware', 'MLU370-X8'],
      ['dtk', 'DCU-K100'],
      ['xpu', 'Kunlunxin-P800'],
      ['maca', 'MetaX-C500'],
      ['musa', 'MTT-S4000'],
      ['corex', 'BI-V150'],
    ]) {
      const r = runCli(['plan', job(runtime), '--catalog', sheet, '--all-providers', '--json'], {home})
      expect(r.code, `${runtime}: ${r.stderr}`).to.equal(0)
      const result = parseEnvelope(r.stdout).result
      expect(result.chosen.accelerator, runtime).to.deep.equal({name: accelerator, count: 8})
      // The sheet leaves prices to the user: chosen, its cost unknown, never $0.
      expect(result.chosen.estimatedCostUsd, runtime).to.equal(null)
    }
  })

  it('with max_price the same job exits 5, the unknown price first', () => {
    const home = tempHome()
    const file = join(home, 'cann.yaml')
    writeFileSync(
      file,
      'name: cann\nrun: x\nmax_price: 50USD\nresources:\n  accelerators: {vendor: huawei, count: 1..8}\n  runtimes: [cann]\n',
    )
    const r = runCli(['plan', file, '--all-providers'], {home, env: slurmOff(home)})
    expect(r.code).to.equal(5)
    expect(r.stderr.split('\n')[1]).to.match(
      /price-unknown: huaweicloud offers have no known price, which the job's max_price cannot be checked against/,
    )
  })

  it('plan --explain on an infeasible plan lists every group and does not suggest --explain', () => {
    const home = tempHome()
    const file = join(home, 'asc.yaml')
    writeFileSync(file, 'name: asc\nrun: x\nresources:\n  accelerators: Ascend910:1\nplacement:\n  providers: [aws]\n')
    const short = runCli(['plan', file], {home, env: slurmOff(home)})
    expect(short.code).to.equal(5)
    expect(short.stderr).to.match(/more groups/)
    const r = runCli(['plan', file, '--explain'], {home, env: slurmOff(home)})
    expect(r.code).to.equal(5)
    expect(r.stderr).not.to.match(/more groups/)
    expect(r.stderr).not.to.match(/--explain/)
  })
})
