// A runner that dies (SIGKILL) while its job runs under the real Slurm cluster: the job
// finishes on its own, Slurm keeps the job RUNNING until then (nothing starts beside it),
// and the attempt ends with the job's own exit code, read from the job.status the job's
// shell wrote, never LOST.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {LaunchHandle} from '../../src/model/attempt.js'
import {parseEnvelope, runCli, tempHome} from '../helpers/cli.js'
import {SlurmProvider} from '../../src/providers/slurm/slurm-provider.js'
import {pollUntil, removeTempDirs, requireSlurm, slurmRequest, tempDir} from '../helpers/slurm.js'
import {waitUntil} from '../helpers/wait.js'

const ENDED = new Set(['SUCCEEDED', 'FAILED', 'PREEMPTED', 'CANCELLED', 'LOST'])

/** The attempt's directory under the home, wherever the Slurm provider keeps it. */
function findAttemptDir(home: string, attemptId: string): string {
  const out = execFileSync('find', [home, '-type', 'd', '-name', `*${attemptId}*`], {encoding: 'utf8'})
    .trim()
    .split('\n')[0]
  if (!out) throw new Error(`no attempt directory for ${attemptId} under ${home}`)
  return out
}

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

  it('end to end: the controller waits for the job, records its exit code once, and starts no second attempt', async () => {
    const cliHome = tempHome('skyhop-slurm-death-')
    const config = join(cliHome, 'config.yaml')
    writeFileSync(config, 'providers:\n  local: {enabled: false}\n  slurm: {partitions: [high]}\n')
    const env = {SKYHOP_CONFIG: config}
    const marks = join(cliHome, 'marks')
    const file = join(cliHome, 'job.yaml')
    writeFileSync(
      file,
      `name: once\nrecovery: {max_restarts_on_errors: 3}\nrun: |\n  echo "start $SKYHOP_ATTEMPT" >> ${marks}\n  sleep 4\n  echo "end $SKYHOP_ATTEMPT" >> ${marks}\n`,
    )
    const status = () => parseEnvelope(runCli(['status', 'once', '--json'], {home: cliHome, env}).stdout).result.job
    const launched = runCli(['launch', file, '-y'], {home: cliHome, env})
    expect(launched.code, launched.stderr).to.equal(0)
    await waitUntil(() => existsSync(marks), 60_000, 100)
    const attemptDir = join(cliHome, 'slurm', 'attempts', status().attemptsDetail[0].id)
    const dir = existsSync(attemptDir) ? attemptDir : findAttemptDir(cliHome, status().attemptsDetail[0].id)
    process.kill(runnerPid(dir), 'SIGKILL')
    await waitUntil(() => status().state === 'SUCCEEDED', 60_000, 500)
    const job = status()
    expect(job.attemptsDetail).to.have.length(1)
    expect(job.attemptsDetail[0]).to.include({state: 'SUCCEEDED', exitCode: 0})
    expect(readFileSync(marks, 'utf8')).to.equal('start 1\nend 1\n')
  })

  it("a cancel after the runner died still reaches the job (its keeper passes Slurm's signal on)", async () => {
    const marks = join(home, 'marks-cancel')
    const script = `trap 'echo stopped >> ${marks}; exit 0' TERM\necho start >> ${marks}\nwhile true; do sleep 0.2; done\n`
    const handle = await provider.launch(slurmRequest(home, script, {partition: 'high'}))
    launched.push(handle)
    const dir = (handle.data as {attemptDir: string}).attemptDir
    await pollUntil(provider, handle, (r) => r.state === 'RUNNING' && r.startedAt !== null, 60_000)
    await waitUntil(() => existsSync(marks), 10_000, 50)
    process.kill(runnerPid(dir), 'SIGKILL')
    await new Promise((r) => setTimeout(r, 1000))
    expect((await provider.poll([handle])).get(handle.externalId)?.state).to.equal('RUNNING')
    await provider.signal(handle, 'cancel', 5)
    const {last, seen} = await pollUntil(provider, handle, (r) => ENDED.has(r.state), 30_000)
    expect(last.state, seen.join(' → ')).to.equal('CANCELLED')
    expect(last.exitCode).to.equal(0)
    expect(readFileSync(marks, 'utf8')).to.equal('start\nstopped\n')
  })

  it('a runner killed before it started the job leaves the attempt LOST (relaunched), never FAILED with its own exit 137', async () => {
    const marks = join(home, 'marks-unstarted')
    // Held: the runner waits for a go file before it starts the job, so the kill lands before the job exists.
    const hold = {file: join(home, `go-${Date.now()}`), timeoutSeconds: 600}
    const handle = await provider.launch({...slurmRequest(home, `echo start >> ${marks}\n`, {partition: 'high'}), hold})
    launched.push(handle)
    const dir = (handle.data as {attemptDir: string}).attemptDir
    await waitUntil(() => existsSync(join(dir, 'runner.pid')), 60_000, 100)
    process.kill(runnerPid(dir), 'SIGKILL')
    const {last, seen} = await pollUntil(provider, handle, (r) => ENDED.has(r.state), 60_000)
    expect(last.state, seen.join(' → ')).to.equal('LOST')
    expect(last.exitCode).to.equal(null)
    expect(existsSync(marks)).to.equal(false)
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
