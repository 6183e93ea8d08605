// The README's "Using skyhop from CI" recipe, run as a pipeline would: SKYHOP_* variables
// instead of flags (SKYHOP_HOME, SKYHOP_CONFIG, SKYHOP_CATALOG, SKYHOP_NONINTERACTIVE),
// `launch --yes --wait --json` whose result.exitCode and process exit code are the job's,
// and a sweep planned against the catalog the pipeline names.
import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {BIN, ROOT, parseEnvelope, runCli, tempHome} from '../helpers/cli.js'
import {databaseEnv} from '../helpers/pg-suite.js'

/** The pipeline's environment: everything by variable, only this machine as a backend. */
function pipelineEnv(home: string): Record<string, string> {
  const config = join(home, 'ci-config.yaml')
  writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
  const catalog = join(home, 'ci-catalog.json')
  writeFileSync(
    catalog,
    JSON.stringify({
      offers: [
        {
          provider: 'local',
          region: 'local',
          instanceType: 'ci-box',
          accelerator: null,
          vcpus: 2,
          memoryGiB: 2,
          price: {onDemand: 0.36, currency: 'USD'},
        },
      ],
    }),
  )
  return {SKYHOP_HOME: home, SKYHOP_CONFIG: config, SKYHOP_CATALOG: catalog, SKYHOP_NONINTERACTIVE: '1'}
}

describe('CI recipe: SKYHOP_* variables, launch --yes --wait --json, exit codes', function () {
  this.timeout(120_000)

  it("launch --yes --wait --json: the job's exit code in result.exitCode and as the process exit code", () => {
    const home = tempHome()
    const env = pipelineEnv(home)
    const job = join(home, 'job.yaml')
    writeFileSync(job, 'name: ci-job\nrun: echo testing; exit 3\n')
    const r = runCli(['launch', job, '--yes', '--wait', '--json'], {home, env})
    expect(r.code, r.stderr).to.equal(3)
    const out = parseEnvelope(r.stdout)
    expect(out.ok).to.equal(true)
    expect(out.result.exitCode).to.equal(3)
    expect(out.result.job.state).to.equal('FAILED')
    // SKYHOP_CATALOG stood in for --catalog: the plan saw only the pipeline's catalog.
    expect(out.result.plan.chosen).to.deep.include({provider: 'local', instanceType: 'ci-box', hourlyPriceUsd: 0.36})
    expect(out.result.attempts[0].pricePerHour).to.equal(0.36)
    // A passing job: 0 both ways.
    writeFileSync(job, 'name: ci-job\nrun: echo fine\n')
    const ok = runCli(['launch', job, '--yes', '--wait', '--json'], {home, env})
    expect(ok.code, ok.stderr).to.equal(0)
    expect(parseEnvelope(ok.stdout).result.exitCode).to.equal(0)
  })

  it('sweeps against SKYHOP_CATALOG and reports the cost at the catalog price', () => {
    const home = tempHome()
    const env = pipelineEnv(home)
    const job = join(home, 'grid.yaml')
    writeFileSync(job, 'name: ci-grid\nmatrix: {n: [1, 2]}\nrun: sleep 1\n')
    const r = runCli(['sweep', job, '--yes', '--wait', '--json'], {home, env})
    expect(r.code, r.stderr).to.equal(0)
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!).result
    expect(result.jobs.map((j: {instanceType: string}) => j.instanceType)).to.deep.equal(['ci-box', 'ci-box'])
    // 0.36 USD/h is $0.0001 a second; each job holds its slot for at least its 1 s sleep.
    for (const j of result.jobs) expect(j.cost.usd).to.be.at.least(0.0001)
    const cost = parseEnvelope(runCli(['cost', '--by', 'sweep', '--json'], {home, env}).stdout).result
    expect(cost.groups[0].key).to.equal(result.sweep.id)
    expect(cost.total.cost.usd).to.be.closeTo(result.totals.costUsd, 1e-6)
  })

  it('SKYHOP_NONINTERACTIVE=1 never prompts, even on a terminal', () => {
    const home = tempHome()
    const env = pipelineEnv(home)
    // `script` gives the CLI a real pseudo-terminal, where it would otherwise ask.
    const onTty = (args: string[]) =>
      spawnSync('script', ['-qec', [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], {
        cwd: ROOT,
        env: {...process.env, CI: '', ...env, ...databaseEnv(home)},
        encoding: 'utf8',
        timeout: 60_000,
      })
    const init = onTty(['init'])
    expect(init.status, init.stdout).to.equal(2)
    expect(init.stdout).to.include('not prompting because SKYHOP_NONINTERACTIVE is set')
    const launch = onTty(['launch', 'examples/hello.yaml'])
    expect(launch.status, launch.stdout).to.equal(2)
    expect(launch.stdout).to.include('CONFIRMATION_REQUIRED')
  })
})
