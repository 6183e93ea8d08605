// `resources.accelerators: auto` through the built CLI (docs/planner.md#accelerators-auto): with
// no earlier runs `plan` considers CPU-only machines and accelerators alike (within the
// runtimes) and says so; with earlier runs recorded in the real store (as the controller
// records them from the runner's samples) it plans what `plan --right-size` would, without the
// flag; `launch` records the choice for `status`, and the run it launches joins the same
// history. Misspelt or misshapen `auto` is a located error (exit 3).
import {expect} from 'chai'
import {readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'

import {loadJobFile} from '../../src/job/load.js'
import {expandMatrix} from '../../src/job/matrix.js'
import type {UsageSummary} from '../../src/model/usage.js'
import {usageFingerprint} from '../../src/providers/usage-samples.js'
import {Store} from '../../src/state/store.js'
import {ROOT, parseEnvelope, runCli, tempHome} from '../helpers/cli.js'

const require = createRequire(import.meta.url)
const Ajv = require('ajv') as typeof import('ajv').default
const addFormats = require('ajv-formats') as typeof import('ajv-formats').default
const ajv = new Ajv({allErrors: true, strict: false})
addFormats(ajv)
for (const dir of [join(ROOT, 'schemas', 'output'), join(ROOT, 'schemas')])
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) ajv.addSchema(JSON.parse(readFileSync(join(dir, f), 'utf8')))

/** The result as its command's output schema (schemas/output/NAME.json) allows it. */
function valid(name: string, result: unknown): void {
  const validate = ajv.getSchema(`https://skyhop.dev/schemas/output/${name}.json`)!
  expect(validate(result), JSON.stringify(validate.errors)).to.equal(true)
}

const JOB = 'name: trainer\nresources: {accelerators: auto}\nrun: python train.py\n'

/** `runs` finished attempts of the job in `file` on H100:1 (by its canonical name, as an attempt records it), each with what it used. */
function history(home: string, file: string, runs: number, usage: Partial<UsageSummary>): void {
  const spec = loadJobFile(file).spec
  const store = Store.open(home)
  try {
    for (let i = 0; i < runs; i++) {
      const job = store.createJob({name: spec.name, file, spec})
      const a = store.recordAttemptIntent({
        jobId: job.id,
        provider: 'aws',
        region: 'us-east-1',
        zone: null,
        instanceType: 'p5.4xlarge',
        accelerator: 'H100-80GB',
        acceleratorCount: 1,
        spot: false,
        pricePerHour: 6.88,
        currency: 'USD',
        onDemandPricePerHour: 6.88,
      })!
      store.updateAttempt(a.id, {state: 'SUCCEEDED', startedAt: '2026-12-01T10:00:00.000Z', endedAt: '2026-12-01T12:00:00.000Z'})
      const summary: UsageSummary = {
        samples: 720,
        firstAt: '2026-12-01T10:00:10.000Z',
        lastAt: '2026-12-01T12:00:00.000Z',
        cpuBusy: 0.95,
        cores: 16,
        memPeakMiB: 6000,
        memTotalMiB: 256_000,
        accelerators: 1,
        acceleratorTool: 'nvidia-smi',
        acceleratorBusy: 0.02,
        acceleratorMemPeakMiB: 22_000,
        acceleratorMemTotalMiB: 81_559,
        last: null,
        ...usage,
      }
      store.recordUsage({attemptId: a.id, jobId: job.id, jobName: spec.name, fingerprint: usageFingerprint(spec), summary})
    }
  } finally {
    store.close()
  }
}

/** AWS's H100, L40S and CPU-only machines of 16 cores, at their list prices. */
function catalog(home: string): string {
  const file = join(home, 'catalog.json')
  const offer = (instanceType: string, accelerator: {name: string; count: number} | null, memoryGiB: number, onDemand: number) => ({
    provider: 'aws',
    region: 'us-east-1',
    instanceType,
    ...(accelerator ? {accelerator} : {}),
    vcpus: 16,
    memoryGiB,
    price: {onDemand, currency: 'USD'},
  })
  writeFileSync(
    file,
    JSON.stringify({
      offers: [
        offer('p5.4xlarge', {name: 'H100', count: 1}, 256, 6.88),
        offer('g6e.4xlarge', {name: 'L40S', count: 1}, 128, 3.004),
        offer('c7i.4xlarge', null, 32, 0.714),
      ],
    }),
  )
  return file
}

function setup(body = JOB) {
  const home = tempHome()
  const file = join(home, 'job.yaml')
  writeFileSync(file, body)
  return {home, file, catalog: catalog(home)}
}

function plan(home: string, file: string, catalogFile: string) {
  const r = runCli(['plan', file, '--all-providers', '--catalog', catalogFile, '--json'], {home})
  expect(r.code, r.stderr).to.equal(0)
  const result = parseEnvelope(r.stdout).result
  valid('plan', result)
  return result
}

describe('accelerators: auto', function () {
  this.timeout(120_000)

  it('without earlier runs plans CPU-only machines and accelerators alike, and says there is no history', () => {
    const {home, file, catalog: cat} = setup()
    const result = plan(home, file, cat)
    expect(result.autoAccelerators).to.deep.equal({
      runs: 0,
      kind: null,
      request: null,
      text: "no earlier runs of trainer to choose from: planned any accelerator or a CPU-only machine, as its runtimes allow; the first run's usage sizes the next",
    })
    expect(result.rightSize).to.equal(null)
    expect(result.chosen.instanceType).to.equal('c7i.4xlarge')
    expect(result.candidates.map((c: any) => c.instanceType)).to.deep.equal(['c7i.4xlarge', 'g6e.4xlarge', 'p5.4xlarge'])
    const text = runCli(['plan', file, '--all-providers', '--catalog', cat], {home})
    expect(text.stdout).to.include('Accelerators (auto): no earlier runs of trainer to choose from')

    // runtimes: [cuda] keeps it on accelerators that run CUDA.
    const cuda = setup(JOB.replace('{accelerators: auto}', '{accelerators: auto, runtimes: [cuda]}'))
    const onCuda = plan(cuda.home, cuda.file, cuda.catalog)
    expect(onCuda.candidates.map((c: any) => c.instanceType)).to.deep.equal(['g6e.4xlarge', 'p5.4xlarge'])
    expect(onCuda.autoAccelerators.text).to.include('planned any accelerator running cuda,')
  })

  it('after runs that left the GPU idle beside saturated CPUs plans a CPU-only machine, as --right-size would', () => {
    const {home, file, catalog: cat} = setup()
    history(home, file, 3, {})
    const result = plan(home, file, cat)
    expect(result.chosen.instanceType).to.equal('c7i.4xlarge')
    expect(result.chosen.accelerator).to.equal(null)
    expect(result.autoAccelerators).to.deep.include({runs: 3, kind: 'cpu-only', request: 'cpu'})
    expect(result.autoAccelerators.text).to.equal(
      '3 runs used ≤ 21 GB of 80 GB and were 2% busy while the CPUs were 95% busy: CPU-only c7i.4xlarge (aws) would cost 90% less: planned cpu instead of H100-80GB:1 (the accelerators idled while the CPUs were saturated)',
    )
    expect(result.rightSize.applied).to.equal(true)
    // Exactly what --right-size plans for the job written with the configuration the runs had.
    const fixed = setup(JOB.replace('auto', 'H100:1'))
    history(fixed.home, fixed.file, 3, {})
    const r = runCli(['plan', fixed.file, '--all-providers', '--catalog', fixed.catalog, '--right-size', '--json'], {home: fixed.home})
    const sized = parseEnvelope(r.stdout).result
    expect(result.candidates.map((c: any) => c.key)).to.deep.equal(sized.candidates.map((c: any) => c.key))
    const options = (rs: any) => rs.options.map((o: any) => ({kind: o.kind, key: o.candidate.key, saving: o.saving}))
    expect(options(result.rightSize)).to.deep.equal(options(sized.rightSize))
    expect(result.rightSize.text).to.equal(sized.rightSize.text)

    const text = runCli(['plan', file, '--all-providers', '--catalog', cat], {home})
    expect(text.stdout).to.include('Accelerators (auto): 3 runs used ≤ 21 GB of 80 GB')
  })

  it('after runs that kept the GPU busy and its memory full keeps their GPU, though a CPU machine costs less', () => {
    const {home, file, catalog: cat} = setup()
    history(home, file, 2, {acceleratorBusy: 0.93, acceleratorMemPeakMiB: 78_000, cpuBusy: 0.3})
    const result = plan(home, file, cat)
    expect(result.chosen.instanceType).to.equal('p5.4xlarge')
    expect(result.autoAccelerators).to.deep.include({runs: 2, kind: 'as-measured', request: 'H100-80GB:1'})
    expect(result.rightSize.applied).to.equal(false)
  })

  it('launch records the choice; status shows it; the run joins the same history', () => {
    const home = tempHome()
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
    const env = {SKYHOP_CONFIG: config}
    const file = join(home, 'job.yaml')
    // Three seconds of one busy core, sampled every half second.
    writeFileSync(
      file,
      'name: trainer\nresources: {accelerators: auto}\nusage: {sample_interval: 0.5s}\nrun: |\n  end=$((SECONDS+3)); while ((SECONDS<end)); do :; done\n',
    )
    // Earlier runs on a GPU it left idle beside 2 saturated cores: this machine's CPUs do the work.
    history(home, file, 3, {cores: 2})
    const launched = runCli(['launch', file, '--yes', '--wait', '--provider', 'local'], {home, env})
    expect(launched.code, launched.stderr).to.equal(0)
    expect(launched.stderr).to.include('Accelerators (auto): 3 runs used ≤ 21 GB of 80 GB and were 2% busy while the CPUs were 95% busy')
    const r = runCli(['status', 'trainer', '--json'], {home, env})
    valid('status', parseEnvelope(r.stdout).result)
    const job = parseEnvelope(r.stdout).result.job
    expect(job.autoAccelerators).to.deep.include({runs: 3, kind: 'cpu-only', request: 'cpu'})
    const event = job.events.find((e: any) => e.kind === 'accelerators-chosen')
    expect(event.data).to.deep.include({runs: 3, kind: 'cpu-only', request: 'cpu'})
    expect(runCli(['status', 'trainer'], {home, env}).stdout).to.match(
      /accelerators: auto — 3 runs used .*: planned cpu instead of H100-80GB:1/,
    )
    // The CPU run is found by the job as written: the next plan counts it.
    const next = parseEnvelope(runCli(['plan', file, '--json'], {home, env}).stdout).result
    expect(next.autoAccelerators.runs).to.equal(4)
  })

  it('sweep chooses once for every job, from the runs of all its jobs', () => {
    const home = tempHome()
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
    const env = {SKYHOP_CONFIG: config}
    const file = join(home, 'job.yaml')
    writeFileSync(file, 'name: grid\nresources: {accelerators: auto}\nmatrix: {lr: [1, 2]}\nrun: echo $lr\n')
    // Earlier runs of one of its jobs, on a GPU left idle beside 2 saturated cores.
    const spec = loadJobFile(file).spec
    const [first] = expandMatrix(spec, spec.matrix)
    const one = join(home, 'one.yaml')
    writeFileSync(one, `name: ${first.name}\nresources: {accelerators: auto}\nrun: echo $lr\n`)
    history(home, one, 2, {cores: 2})
    const r = runCli(['sweep', file, '-y', '--wait'], {home, env})
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stderr).to.include('Accelerators (auto, every job): 2 runs used ≤ 21 GB of 80 GB')
    const jobs = parseEnvelope(runCli(['status', '--sweep', 'grid', '--json'], {home, env}).stdout).result.jobs
    expect(jobs).to.have.length(2)
    for (const j of jobs) {
      const detail = parseEnvelope(runCli(['status', j.id, '--json'], {home, env}).stdout).result.job
      expect(detail.autoAccelerators).to.deep.include({runs: 2, kind: 'cpu-only', request: 'cpu'})
      expect(detail.events.map((e: any) => e.kind)).to.include('accelerators-chosen')
    }
  })

  for (const [title, value, path] of [
    ['a misspelt auto', 'autoo', '/resources/accelerators'],
    ['auto as a filter key', '{auto: 1}', '/resources/accelerators/auto'],
    ['auto among alternatives', '[H100:1, auto]', '/resources/accelerators/1'],
  ]) {
    it(`refuses ${title} with a located error (exit 3)`, () => {
      const {home, file} = setup(`name: trainer\nresources:\n  accelerators: ${value}\nrun: python train.py\n`)
      const r = runCli(['plan', file, '--json'], {home})
      expect(r.code).to.equal(3)
      const error = parseEnvelope(r.stdout).error!
      expect(error.code).to.equal('JOB_FILE_INVALID')
      const issue = error.details.issues.find((i: any) => i.path === path)
      expect(issue, JSON.stringify(error.details)).to.include({line: 3})
    })
  }
})
