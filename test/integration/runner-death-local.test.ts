// A local runner that dies (SIGKILL) while its job runs, end to end through the built CLI:
// the job runs on in its own process group, the controller waits for it (no second copy
// starts beside it), and the attempt ends with the job's own exit code from job.status,
// never LOST, so nothing runs twice.
import {expect} from 'chai'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {parseEnvelope, runCli, tempHome} from '../helpers/cli.js'
import {sleep, waitUntil} from '../helpers/wait.js'

function localOnly(home: string): Record<string, string> {
  const config = join(home, 'config.yaml')
  writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
  return {SKYHOP_CONFIG: config}
}

function status(home: string, env: Record<string, string>, job: string) {
  return parseEnvelope(runCli(['status', job, '--json'], {home, env}).stdout).result.job
}

describe('a local runner killed mid-job (end to end)', function () {
  this.timeout(120_000)

  for (const [code, final] of [
    [0, 'SUCCEEDED'],
    [3, 'FAILED'],
  ] as const) {
    it(`records the job's own exit ${code} (${final}) and never runs it again`, async () => {
      const home = tempHome()
      const env = localOnly(home)
      const marks = join(home, 'marks')
      const file = join(home, 'job.yaml')
      // Retries on any failure would show a rerun, if the controller believed the attempt lost.
      writeFileSync(
        file,
        `name: once\nrecovery: {max_restarts_on_errors: 3}\nrun: |\n  echo "start $SKYHOP_ATTEMPT" >> ${marks}\n  sleep 4\n  echo "end $SKYHOP_ATTEMPT" >> ${marks}\n  exit ${code}\n`,
      )
      expect(runCli(['launch', file, '-y'], {home, env}).code).to.equal(0)
      await waitUntil(() => existsSync(marks), 30_000, 50)
      const job = status(home, env, 'once')
      const attemptDir = join(home, 'attempts', job.attemptsDetail[0].id)
      const runner = Number(readFileSync(join(attemptDir, 'runner.pid'), 'utf8').trim())
      process.kill(runner, 'SIGKILL')
      await sleep(1500)
      // The job outlives its runner; the attempt is still running, nothing new started.
      const during = status(home, env, 'once')
      expect(during.attemptsDetail).to.have.length(1)
      expect(during.attemptsDetail[0].state).to.equal('RUNNING')
      await waitUntil(() => status(home, env, 'once').state === final, 60_000, 250)
      const after = status(home, env, 'once')
      expect(after.attemptsDetail).to.have.length(1)
      expect(after.attemptsDetail[0].exitCode).to.equal(code)
      expect(readFileSync(join(attemptDir, 'job.status'), 'utf8').trim()).to.equal(String(code))
      expect(existsSync(join(attemptDir, 'exit_code'))).to.equal(false)
      await sleep(1000)
      expect(readFileSync(marks, 'utf8')).to.equal('start 1\nend 1\n')
    })
  }
})
