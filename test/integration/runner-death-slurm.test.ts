// A runner that dies (SIGKILL) while its job runs under the real Slurm cluster: the job
// finishes on its own, Slurm keeps the job RUNNING until then (nothing starts beside it),
// and the attempt ends with the job's own exit code, read from the job.status the job's
// shell wrote, never LOST.
import {expect} from 'chai'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {LaunchHandle} from '../../src/model/attempt.js'
import {SlurmProvider} from '../../src/providers/slurm/slurm-provider.js'
import {pollUntil, removeTempDirs, requireSlurm, slurmRequest, tempDir} from '../helpers/slurm.js'
import {waitUntil} from '../helpers/wait.js'

const ENDED = new Set(['SUCCEEDED', 'FAILED', 'PREEMPTED', 'CANCELLED', 'LOST'])

function runnerPid(attemptDir: string): number {
  return Number(readFileSync(join(attemptDir, 'runner.pid'), 'utf8').trim())
}

describe('a Slurm runner killed mid-job (real Slurm)', function () {
  this.timeout(120_000)
  let home: string
  let provider: SlurmProvider
  const launched: LaunchHandle[] = []

  before(async function () {
    await requireSlurm(this)
    home = tempDir()
    provider = new SlurmProvider({home})
  })

  after(async () => {
    for (const handle of launched) await provider.cleanup(handle).catch(() => {})
    removeTempDirs()
  })

  for (const code of [0, 3]) {
    it(`ends the attempt with the job's own exit ${code}, once, when the runner is SIGKILLed`, async () => {
      const marks = join(home, `marks-${code}`)
      const script = `echo start >> ${marks}\nsleep 4\necho end >> ${marks}\nexit ${code}\n`
      const handle = await provider.launch(slurmRequest(home, script, {partition: 'high'}))
      launched.push(handle)
      const dir = (handle.data as {attemptDir: string}).attemptDir
      await pollUntil(provider, handle, (r) => r.state === 'RUNNING' && r.startedAt !== null, 60_000)
      await waitUntil(() => existsSync(marks), 10_000, 50)
      process.kill(runnerPid(dir), 'SIGKILL')
      // While the job runs on without its runner, the attempt is still RUNNING.
      const during = (await provider.poll([handle])).get(handle.externalId)
      expect(during?.state).to.equal('RUNNING')
      const {last, seen} = await pollUntil(provider, handle, (r) => ENDED.has(r.state), 60_000)
      expect(last.state, seen.join(' → ')).to.equal(code === 0 ? 'SUCCEEDED' : 'FAILED')
      expect(last.exitCode).to.equal(code)
      expect(readFileSync(marks, 'utf8')).to.equal('start\nend\n')
    })
  }
})
