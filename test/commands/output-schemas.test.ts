// CI contract: every command's --json output has a schema under schemas/output/, and here
// each command is run for real (the built CLI, real processes, a temp SKYHOP_HOME, the
// local provider) and its output validated against that schema with ajv: the envelope
// against envelope.json, the result against <command>.json. A command without a schema,
// or a schema without a command run here, fails the last test.
import {expect} from 'chai'
import {existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'

import {type FakeAzurePrices, startFakeAzurePrices, vmItem} from '../fakes/fake-azure-prices.js'
import {ROOT, parseEnvelope, runCli, runCliAsync, tempHome} from '../helpers/cli.js'
import {waitUntil} from '../helpers/wait.js'
import {SHARED_TRACES, requireSharedTraces} from '../unit/simulator/helpers.js'

const require = createRequire(import.meta.url)
const Ajv = require('ajv') as typeof import('ajv').default
const addFormats = require('ajv-formats') as typeof import('ajv-formats').default

const SCHEMA_DIR = join(ROOT, 'schemas', 'output')
const BASE = 'https://skyhop.dev/schemas/output/'
/** Schema files that describe no single command. */
const SHARED = new Set(['common', 'envelope'])

const ajv = new Ajv({allErrors: true, strict: false})
addFormats(ajv)
const schemaNames = readdirSync(SCHEMA_DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.replace(/\.json$/, ''))
for (const name of schemaNames) ajv.addSchema(JSON.parse(readFileSync(join(SCHEMA_DIR, `${name}.json`), 'utf8')))
// Output schemas may refer to the input ones (an offer is a catalog offer).
for (const f of readdirSync(join(ROOT, 'schemas')).filter((f) => f.endsWith('.schema.json')))
  ajv.addSchema(JSON.parse(readFileSync(join(ROOT, 'schemas', f), 'utf8')))

/** Commands whose output was validated, by schema name; and those whose case could not run here. */
const validated = new Map<string, number>()
const skipped = new Set<string>()

function check(schema: string, value: unknown, what: string): void {
  const validate = ajv.getSchema(schema.startsWith('http') ? schema : `${BASE}${schema}.json`)
  expect(validate, `no schema ${schema}`).to.not.equal(undefined)
  const ok = validate!(value)
  expect(ok, `${what}: ${ajv.errorsText(validate!.errors, {separator: '\n  '})}\n${JSON.stringify(value).slice(0, 2000)}`).to.equal(true)
}

/** Runs `skyhop ARGS --json`, validates the envelope and the result; returns the result. */
function json(schema: string, args: string[], opts: {home: string; env: Record<string, string>; code?: number}): any {
  const r = runCli([...args, '--json'], {home: opts.home, env: opts.env})
  expect(r.code, `skyhop ${args.join(' ')}: ${r.stderr}\n${r.stdout.slice(0, 1000)}`).to.equal(opts.code ?? 0)
  const envelope = parseEnvelope(r.stdout)
  check('envelope', envelope, `${args[0]} envelope`)
  expect(envelope.ok, JSON.stringify(envelope.error)).to.equal(true)
  check(schema, envelope.result, `skyhop ${args.join(' ')}`)
  validated.set(schema, (validated.get(schema) ?? 0) + 1)
  return envelope.result
}

const waitFor = (check: () => boolean, timeoutMs = 60_000): Promise<void> => waitUntil(check, timeoutMs, 200)

describe('--json output of every command matches its schema (built CLI)', function () {
  this.timeout(240_000)
  const home = tempHome()
  const config = join(home, 'config.yaml')
  // Local only, with a price so that costs are not all zero.
  writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n  local: {price_per_hour: 36}\n')
  const env: Record<string, string> = {SKYHOP_CONFIG: config}
  const o = {home, env}
  const jobFile = join(home, 'hello.yaml')
  writeFileSync(jobFile, 'name: hello\nrun: echo "hello $WHO"\nenvs: {WHO: schemas}\n')
  const sweepFile = join(home, 'grid.yaml')
  writeFileSync(sweepFile, 'name: grid\nmatrix: {a: [1, 2], b: [x, y]}\nrun: echo "a=$a b=$b"\n')
  let fake: FakeAzurePrices

  before(async () => {
    fake = await startFakeAzurePrices({items: [vmItem('Standard_NC24ads_A100_v4', 'westeurope', 4.1)]})
  })
  after(async () => fake.close())

  it('validate, init, import', () => {
    json('validate', ['validate', 'examples/hello.yaml', 'examples/cpu-batch.yaml'], o)
    json('import', ['import', 'test/data/foreign/skypilot/spot-bert_qa.yaml'], o)
    json('import', ['import', 'test/data/foreign/dstack/wan22.dstack.yml', '--output', join(home, 'wan22.yaml')], o)
    json('init', ['init', '--name', 'made', '--run', 'echo made', '--output', join(home, 'made.yaml')], o)
  })

  it('plan, launch (dry run and --wait), status, logs', () => {
    json('plan', ['plan', jobFile], o)
    json('launch', ['launch', jobFile, '--dry-run'], o)
    const launched = json('launch', ['launch', jobFile, '--yes', '--wait'], o)
    expect(launched.exitCode).to.equal(0)
    json('status', ['status'], o)
    json('status', ['status', 'hello'], o)
    const logs = json('logs', ['logs', 'hello'], o)
    expect(logs.lines.map((l: {line: string}) => l.line)).to.include('hello schemas')
  })

  it('serve up, status, logs, preempt, update, down', async () => {
    const serviceFile = (version: number) => {
      const file = join(home, `svc-${version}.yaml`)
      writeFileSync(
        file,
        `name: svc\nworkdir: ${join(ROOT, 'examples', 'model-server')}\nenvs: {MODEL_VERSION: "${version}"}\nrun: exec node server.mjs\n` +
          'service: {port: 8080, readiness: {path: /health, timeout: 2s}, replicas: 1}\n',
      )
      return file
    }
    const up = json('serve-up', ['serve', 'up', serviceFile(1)], o)
    expect(up.readyReplicas).to.equal(1)
    expect((await fetch(`${up.endpoint}/`)).status).to.equal(200)
    json('serve-status', ['serve', 'status'], o)
    json('serve-status', ['serve', 'status', 'svc'], o)
    json('serve-logs', ['serve', 'logs', 'svc'], o)
    json('serve-update', ['serve', 'update', 'svc', serviceFile(2)], o)
    json('serve-preempt', ['serve', 'preempt', 'svc', '--grace', '2s'], o)
    const down = json('serve-down', ['serve', 'down', 'svc'], o)
    expect(down.state).to.equal('STOPPED')
  })

  it("plan of a gang: each candidate's interconnect, documented or null", () => {
    const catalog = join(home, 'gang-catalog.json')
    const offer = (instanceType: string, extra: object) => ({
      // A provider with an adapter (no plan chooses one without, issue 21) that sets up InfiniBand
      // for an on-demand gang (GANG_FABRIC_SETUP): the catalog file's fabric stands.
      provider: 'azure',
      region: 'lab',
      instanceType,
      accelerator: {name: 'H100', count: 8},
      vcpus: 96,
      memoryGiB: 1024,
      price: {onDemand: 20, currency: 'USD'},
      ...extra,
    })
    writeFileSync(
      catalog,
      JSON.stringify({offers: [offer('ib', {interconnect: {kind: 'infiniband', gbps: 3200, source: 'lab wiring'}}), offer('plain', {})]}),
    )
    const gangFile = join(home, 'gang.yaml')
    writeFileSync(gangFile, 'name: gang\nnodes: 2\nresources: {accelerators: H100:8}\nrun: echo rank\n')
    const plan = json('plan', ['plan', gangFile, '--catalog', catalog, '--all-providers'], o)
    const fabric = Object.fromEntries(
      plan.candidates.map((c: {instanceType: string; interconnect: unknown}) => [c.instanceType, c.interconnect]),
    )
    expect(fabric).to.deep.equal({ib: {kind: 'infiniband', gbps: 3200, source: 'lab wiring'}, plain: null})
  })

  it('cancel and preempt a running job, then recover', async () => {
    const long = join(home, 'long.yaml')
    writeFileSync(long, "name: long\nrecovery: {max_restarts: 1}\nrun: |\n  trap 'exit 0' TERM\n  while true; do sleep 0.1; done\n")
    json('launch', ['launch', long, '--yes'], o)
    const running = () => parseEnvelope(runCli(['status', 'long', '--json'], o).stdout).result.job.state === 'RUNNING'
    await waitFor(running)
    json('preempt', ['preempt', 'long', '--grace', '2s'], o)
    // The detached controller relaunches it; cancel it once it runs again.
    await waitFor(() => {
      const job = parseEnvelope(runCli(['status', 'long', '--json'], o).stdout).result.job
      return job.state === 'RUNNING' && job.attempts === 2
    })
    const cancelled = json('cancel', ['cancel', 'long', '--grace', '2s'], o)
    expect(cancelled.job.state).to.equal('CANCELLED')
    json('cancel', ['cancel', 'long'], o)
    json('recover', ['recover'], o)
    // down: a job that has ended (nothing left to release), then the orphan sweep of this home.
    json('down', ['down', 'long'], o)
    json('down', ['down', '--orphans', '--yes'], o)
  })

  it('sweep (detached and --wait with JSON Lines), sweeps, status --sweep', async () => {
    const detached = json('sweep', ['sweep', sweepFile, '-y'], o)
    expect(detached.detached).to.equal(true)
    await waitFor(() => parseEnvelope(runCli(['sweeps', detached.sweep.id, '--json'], o).stdout).result.sweep.sweep.state !== 'RUNNING')

    // --wait --json: JSON Lines, each an event, the last the envelope.
    const r = runCli(['sweep', sweepFile, '-y', '--wait', '--set', 'b=z', '--json'], o)
    expect(r.code, r.stderr).to.equal(0)
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    for (const event of lines.slice(0, -1)) check(`${BASE}sweep.json#/definitions/event`, event, `event ${event.event}`)
    check('envelope', lines.at(-1), 'sweep --wait envelope')
    check('sweep', lines.at(-1).result, 'sweep --wait result')
    validated.set('sweep', (validated.get('sweep') ?? 0) + 1)

    json('sweeps', ['sweeps'], o)
    json('sweeps', ['sweeps', detached.sweep.id], o)
    json('status', ['status', '--sweep', detached.sweep.id], o)
  })

  it('agent --once (JSON Lines: events, then the envelope)', () => {
    // A job left unowned (no controller), as `launch --detach` leaves it with agents configured.
    // Its own home: an agent adopts every unowned job of its store, and this one's are known.
    const agentHome = tempHome()
    const config2 = join(agentHome, 'config.yaml')
    writeFileSync(config2, 'providers:\n  slurm: {enabled: false}\nagent: true\n')
    const a = {home: agentHome, env: {SKYHOP_CONFIG: config2}}
    const launched = json('launch', ['launch', jobFile, '-y', '--detach', '--name', 'for-agent'], a)
    expect(launched.agent).to.equal(true)
    const r = runCli(['agent', '--once', '--json'], a)
    expect(r.code, r.stderr).to.equal(0)
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    for (const event of lines.slice(0, -1)) check(`${BASE}agent.json#/definitions/event`, event, `event ${event.event}`)
    check('envelope', lines.at(-1), 'agent envelope')
    check('agent', lines.at(-1).result, 'agent result')
    expect(lines.at(-1).result.work.map((w: {id: string; outcome: string}) => [w.id, w.outcome])).to.deep.include([
      launched.job.id,
      'finished',
    ])
    validated.set('agent', (validated.get('agent') ?? 0) + 1)
  })

  it('cost, by job, provider and sweep', () => {
    for (const by of ['job', 'provider', 'sweep']) {
      const report = json('cost', ['cost', '--by', by, '--since', 'all'], o)
      expect(report.total.attempts).to.be.greaterThan(0)
    }
  })

  it('dashboard: its one document, printed once it listens, before it serves until a signal', async () => {
    const run = runCliAsync(['dashboard', '--port', '0', '--json'], {home, env})
    let out = ''
    run.child.stdout!.on('data', (d) => (out += d))
    try {
      await waitFor(() => out.includes('"tokenSource"'), 30_000)
      await new Promise((r) => setTimeout(r, 200))
    } finally {
      run.child.kill('SIGTERM')
    }
    const ended = await run
    expect(ended.code, ended.stderr).to.equal(0)
    const envelope = parseEnvelope(ended.stdout)
    check('envelope', envelope, 'dashboard envelope')
    check('dashboard', envelope.result, 'skyhop dashboard --port 0')
    validated.set('dashboard', (validated.get('dashboard') ?? 0) + 1)
  })

  it('check, accelerators, offers, catalog status, catalog refresh', async () => {
    json('check', ['check'], o)
    json('accelerators', ['accelerators'], o)
    json('offers', ['offers', '--accelerator', 'H100'], o)
    json('catalog-status', ['catalog', 'status'], o)
    const r = await runCliAsync(['catalog', 'refresh', '--provider', 'azure', '--json'], {
      home,
      env: {...env, SKYHOP_AZURE_ENDPOINT: fake.endpoint},
    })
    expect(r.code, r.stderr).to.equal(0)
    const envelope = parseEnvelope(r.stdout)
    check('envelope', envelope, 'catalog refresh envelope')
    check('catalog-refresh', envelope.result, 'catalog refresh')
    validated.set('catalog-refresh', 1)
  })

  it('simulate (on the shared spot traces)', function () {
    if (!existsSync(join(SHARED_TRACES, 'README.md'))) skipped.add('simulate')
    requireSharedTraces(this)
    const traces = join(SHARED_TRACES, 'availability', '1-node', 'aws-02-15-2023')
    const job = join(home, 'sim.yaml')
    writeFileSync(job, 'name: sim\nresources: {accelerators: V100:1}\nwork: {reference: V100:1, hours: 4}\ndeadline: 12h\nrun: echo\n')
    json(
      'simulate',
      ['simulate', job, '--traces', traces, '--zone', 'us-east-1a', '--seeds', '3', '--spot-price', '1', '--on-demand-price', '3'],
      o,
    )
  })

  it('errors use the envelope too', () => {
    const r = runCli(['status', 'no-such-job', '--json'], o)
    expect(r.code).to.equal(2)
    check('envelope', parseEnvelope(r.stdout), 'error envelope')
  })

  it('every command has a schema, and every schema was checked against real output', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, {hidden?: boolean; pluginName?: string}>
    }
    const commands = Object.entries(manifest.commands)
      .filter(([, c]) => !c.hidden)
      .map(([id]) => id.replace(/:/g, '-'))
    for (const command of commands) expect(schemaNames, `schemas/output/${command}.json is missing`).to.include(command)
    for (const name of schemaNames.filter((n) => !SHARED.has(n))) {
      expect(commands, `schemas/output/${name}.json describes no command`).to.include(name)
      if (!skipped.has(name)) expect(validated.get(name) ?? 0, `no real output of ${name} was validated`).to.be.greaterThan(0)
    }
  })
})
