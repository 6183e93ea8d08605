// A controller killed after it recorded its attempt's end (SUCCEEDED) but before it recorded
// the job's: the next controller (`recover`, an agent) must settle the job from that end, not
// launch the finished job again. Found by the agent chaos test (three agents SIGKILLed at
// random): a job "started more than once". Reproduced here exactly, through the built CLI on
// the local provider: a job runs to its end, then the store is put back to the moment of the
// kill (job RUNNING, its job-succeeded event not yet written, no lease).
import {expect} from 'chai'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {Store} from '../../src/state/store.js'
import {parseEnvelope, runCli, tempHome} from '../helpers/cli.js'

describe('recover settles an attempt end its dead controller did not answer', function () {
  this.timeout(120_000)

  for (const [verdict, run, exitCode] of [
    ['SUCCEEDED', 'echo start >> "$MARKS"; exit 0', 0],
    ['FAILED', 'echo start >> "$MARKS"; exit 3', 3],
  ] as const) {
    it(`a job whose only attempt ended ${verdict} ends ${verdict}, and its run does not start again`, () => {
      const home = tempHome('skyhop-unsettled-')
      const config = join(home, 'config.yaml')
      writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
      const marks = join(home, 'starts')
      writeFileSync(join(home, 'job.yaml'), `name: once\nrun: '${run}'\n`)
      const env = {SKYHOP_CONFIG: config, SKYHOP_LEASE_TTL_SECONDS: '1'}
      const launched = runCli(['launch', join(home, 'job.yaml'), '-y', '--wait', '--json', '--env', `MARKS=${marks}`], {home, env})
      expect(launched.code, launched.stderr).to.equal(exitCode)
      const jobId = parseEnvelope(launched.stdout).result.job.id as string

      // Back to the moment the controller died: the attempt's end recorded, the job's not.
      const store = Store.open(home)
      const db = store.db
      const kinds = db.prepare(`SELECT kind FROM events WHERE job_id = ? AND kind LIKE 'job-%'`).pluck().all(jobId)
      expect(kinds).to.include(verdict === 'SUCCEEDED' ? 'job-succeeded' : 'job-failed')
      db.prepare(`DELETE FROM events WHERE job_id = ? AND kind IN ('job-succeeded', 'job-failed')`).run(jobId)
      db.prepare(
        `UPDATE jobs SET state = 'RUNNING', exit_code = NULL, reason = NULL, lease_owner = NULL, lease_expires_at = NULL WHERE id = ?`,
      ).run(jobId)
      store.close()

      const recovered = runCli(['recover', '--json'], {home, env})
      expect([0, 7], recovered.stderr).to.include(recovered.code)
      let job: Record<string, any> = {}
      for (let i = 0; i < 100; i++) {
        job = parseEnvelope(runCli(['status', jobId, '--json'], {home, env}).stdout).result.job
        if (job.state === verdict) break
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200)
      }
      expect(job.state).to.equal(verdict)
      expect(job.attemptsDetail.map((a: any) => a.state)).to.deep.equal([verdict])
      expect(readFileSync(marks, 'utf8')).to.equal('start\n')
    })
  }
})
