// A sweep on the real Slurm cluster (scripts/slurm-up.sh) through the built CLI: every job
// runs as a Slurm job, one sweep controller polls Slurm in batches (one squeue per tick
// for all the sweep's jobs), and the results table says where each ran. Skipped without
// Slurm; a failure when CI is set (see test/helpers/slurm.ts).
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {parseEnvelope, runCli, tempHome} from '../helpers/cli.js'
import {requireSlurm} from '../helpers/slurm.js'

describe('sweep on Slurm (end to end)', function () {
  this.timeout(300_000)

  before(async function () {
    await requireSlurm(this)
  })

  it('runs every job of the sweep as a Slurm job, polled in batches', () => {
    const home = tempHome()
    const check = parseEnvelope(runCli(['check', '--json'], {home}).stdout)
    const slurm = check.result.providers.find((p: {provider: string}) => p.provider === 'slurm')
    expect(slurm?.enabled, `skyhop does not list slurm as enabled: ${JSON.stringify(slurm)}`).to.equal(true)

    const job = join(home, 'grid.yaml')
    writeFileSync(
      job,
      [
        'name: slurm-grid',
        'placement: {providers: {allow: [slurm]}}',
        'resources: {cpus: 1}',
        'matrix: {lr: [0.1, 0.2], seed: [1, 2]}',
        'run: echo "lr=$lr seed=$seed slurm job ${SLURM_JOB_ID:-none}"; sleep 1',
        '',
      ].join('\n'),
    )
    const r = runCli(['sweep', job, '-y', '--wait', '--max-parallel', '2', '--json'], {home, timeoutMs: 280_000})
    expect(r.code, r.stderr).to.equal(0)
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    const envelope = lines.at(-1)
    expect(envelope.ok).to.equal(true)
    const result = envelope.result
    expect(result.sweep.state).to.equal('SUCCEEDED')
    expect(result.jobs.map((j: {name: string}) => j.name)).to.deep.equal([
      'slurm-grid-lr-0.1-seed-1',
      'slurm-grid-lr-0.1-seed-2',
      'slurm-grid-lr-0.2-seed-1',
      'slurm-grid-lr-0.2-seed-2',
    ])
    for (const row of result.jobs) {
      expect(row.where).to.match(/^slurm\//)
      expect(row.exitCode).to.equal(0)
    }
    // Each job ran under Slurm, with its values in its environment.
    const logs = runCli(['logs', 'slurm-grid-lr-0.2-seed-1'], {home})
    expect(logs.stdout).to.match(/lr=0\.2 seed=1 slurm job \d+/)
    // One squeue per poller tick for all jobs in flight: never more calls than ticks.
    const {pollCalls, wallSeconds} = result.stats
    expect(pollCalls.slurm).to.be.greaterThan(0)
    expect(pollCalls.slurm).to.be.at.most(Math.ceil(wallSeconds / 0.25) + 2)
    // The controller never had more than 2 jobs in flight.
    let inFlight = 0
    let peak = 0
    for (const e of lines.slice(0, -1)) {
      if (e.event === 'job-started') peak = Math.max(peak, ++inFlight)
      if (e.event === 'job-ended') inFlight--
    }
    expect(peak).to.be.at.most(2)
  })
})
