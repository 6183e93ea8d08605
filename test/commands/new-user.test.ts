// What a new user trips over (issue 23), each through the built CLI as they met it.
import {expect} from 'chai'
import {existsSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseEnvelope, runCli, tempHome} from '../helpers/cli.js'

/** Only local, so nothing here depends on Slurm being up. */
function localOnly(home: string): Record<string, string> {
  const config = join(home, 'config.yaml')
  writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
  return {SKYHOP_CONFIG: config}
}

describe('what a new user trips over', function () {
  this.timeout(120_000)

  it('launch of a file with a matrix exits 2 pointing at sweep, and records nothing', () => {
    const home = tempHome()
    const env = localOnly(home)
    const file = join(home, 'mat.yaml')
    writeFileSync(file, 'name: mat\nrun: echo $k\nmatrix:\n  k: [1, 2]\n')
    const r = runCli(['launch', file, '--yes', '--detach'], {home, env})
    expect(r.code, r.stderr).to.equal(2)
    expect(r.stderr).to.include('MATRIX_NEEDS_SWEEP')
    expect(r.stderr).to.include(`skyhop sweep ${file}`)
    const jobs = parseEnvelope(runCli(['status', '--json'], {home, env}).stdout).result
    expect(JSON.stringify(jobs)).not.to.include('"mat')
  })

  it('a newline in a matrix value keeps the sweep table one row per job', () => {
    const home = tempHome()
    const env = localOnly(home)
    const file = join(home, 'nl.yaml')
    writeFileSync(file, 'name: nl\nrun: echo "[$k]"\nmatrix:\n  k: ["a\\nb", c]\n')
    const r = runCli(['sweep', file, '--yes', '--wait'], {home, env})
    expect(r.code, r.stderr).to.equal(0)
    const table = r.stdout.split('\n')
    const header = table.findIndex((l) => l.startsWith('JOB'))
    expect(header, r.stdout).to.be.at.least(0)
    const rows = table.slice(header + 1, header + 3)
    expect(rows[0]).to.match(/^nl-\S+\s+k=a\\nb\s+SUCCEEDED/)
    expect(rows[1]).to.match(/^nl-\S+\s+k=c\s+SUCCEEDED/)
  })
  it('keeps the default state out of the data dir where plugins install writes node_modules and package.json', () => {
    const xdg = mkdtempSync(join(tmpdir(), 'skyhop-xdg-'))
    const config = join(xdg, 'config.yaml')
    writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
    const r = runCli(['status', '--json'], {env: {SKYHOP_HOME: undefined, XDG_DATA_HOME: xdg, SKYHOP_CONFIG: config}})
    expect(r.code, r.stderr).to.equal(0)
    expect(existsSync(join(xdg, 'skyhop', 'state', 'state.db'))).to.equal(true)
    expect(existsSync(join(xdg, 'skyhop', 'state.db'))).to.equal(false)
  })

  it('launch --region mars blames the flag, not the job file, and records nothing', () => {
    const home = tempHome()
    const env = localOnly(home)
    const file = join(home, 'plain.yaml')
    writeFileSync(file, 'name: plain\nrun: echo hi\n')
    const r = runCli(['launch', file, '--region', 'mars', '--yes', '--detach'], {home, env})
    expect(r.code).to.equal(5)
    expect(r.stderr).to.match(
      /^error\[NO_FEASIBLE_PLAN\]: --region mars: none of the offers that meet the job's other rules is there; they are in local\/local/,
    )
    expect(r.stderr).to.include('local/local is outside --region mars')
    expect(r.stderr).not.to.include('placement.regions')
    expect(JSON.stringify(parseEnvelope(runCli(['status', '--json'], {home, env}).stdout).result)).not.to.include('"plain"')
  })
})
