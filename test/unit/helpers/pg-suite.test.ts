// The PostgreSQL run of the suite (test/helpers/pg-suite.ts): a home's state is one store for
// the test process and the CLI it runs, on the run's engine, and no other home's.
import {expect} from 'chai'
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {Store} from '../../../src/state/store.js'
import {parseEnvelope, runCli, tempHome} from '../../helpers/cli.js'
import {suiteEngine} from '../../helpers/engines.js'
import {testJobSpec} from '../../helpers/job-spec.js'
import {databaseUrlOf, sqliteOnly, stateDump, stateValue} from '../../helpers/pg-suite.js'

function noSlurm(home: string): Record<string, string> {
  const config = join(home, 'config.yaml')
  writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
  return {SKYHOP_CONFIG: config}
}

function jobIn(home: string, name: string): string {
  const store = Store.open(home)
  try {
    return store.createJob({name, file: null, spec: testJobSpec({name, run: 'true'})}).id
  } finally {
    store.close()
  }
}

describe(`the suite's engine: ${suiteEngine()} (SKYHOP_TEST_ENGINE)`, () => {
  it('a job stored in-process is what the CLI on that home sees, on the engine of the run, and no other home sees it', () => {
    const home = tempHome()
    const id = jobIn(home, 'shared-one')
    const seen = runCli(['status', '--json'], {home, env: noSlurm(home)})
    expect(seen.code, seen.stderr).to.equal(0)
    expect(parseEnvelope(seen.stdout).result.jobs.map((j: {id: string}) => j.id)).to.deep.equal([id])
    const other = tempHome()
    const empty = runCli(['status', '--json'], {home: other, env: noSlurm(other)})
    expect(parseEnvelope(empty.stdout).result.jobs).to.deep.equal([])
    expect(stateValue(home, 'SELECT name FROM jobs WHERE id = ?', id)).to.equal('shared-one')
    expect(stateDump(home)).to.include('shared-one')
    expect(stateDump(other)).not.to.include('shared-one')
    const onPostgres = suiteEngine() === 'postgres'
    expect(existsSync(join(home, 'state.db'))).to.equal(!onPostgres)
    expect(databaseUrlOf(home) ?? '').to.match(onPostgres ? /^postgres:.*search_path/ : /^$/)
  })

  describe('a suite marked SQLite-only', () => {
    sqliteOnly('it checks where the state lives')

    it('runs on SQLite whatever the run', () => {
      const home = tempHome()
      jobIn(home, 'in-the-file')
      expect(databaseUrlOf(home)).to.equal(null)
      expect(existsSync(join(home, 'state.db'))).to.equal(true)
      expect(stateDump(home)).to.include('in-the-file')
    })

    // The suite's own after hooks still run on SQLite.
    after(() => {
      if (databaseUrlOf(tempHome()) !== null) throw new Error('an after hook of a SQLite-only suite ran on PostgreSQL')
    })
  })

  describe('a suite after it', () => {
    it('runs on the engine of the run again', () => {
      expect(databaseUrlOf(tempHome()) !== null).to.equal(suiteEngine() === 'postgres')
    })
  })

  sqliteOnly(
    'it checks where the state lives',
    it('a test marked SQLite-only runs on SQLite whatever the run', () => {
      const home = tempHome()
      const r = runCli(['status', '--json'], {home, env: noSlurm(home)})
      expect(r.code, r.stderr).to.equal(0)
      expect(existsSync(join(home, 'state.db'))).to.equal(true)
    }),
  )
})
