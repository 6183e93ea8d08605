// The runner's keeper (`--keep`, used on Slurm and clouds, where the keeper's end is the
// attempt's end) when its runner is killed in the window after the runner started the job's
// shell and before that shell wrote job.pgid: the keeper must wait for the job, not end the
// attempt at once (on Slurm that was LOST, a relaunch, and the job run twice: the chaos
// suite's Slurm kills found it). Run directly, outside Slurm: the keeper is plain bash.
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {runnerScriptPath} from '../../src/providers/attempt-dir.js'
import {children, isLive, killChildren, makeAttempt, removeDirs, waitFor} from '../helpers/runner-attempt.js'

/** The keeper in a session of its own, as srun starts it; its exit code and stderr. */
function startKeeper(dir: string): {pid: number; done: Promise<number | null>; stderr: () => string} {
  const child = spawn('bash', [runnerScriptPath(), '--keep', dir], {detached: true, stdio: ['ignore', 'ignore', 'pipe']})
  children.push(child)
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return {pid: child.pid!, done: new Promise((resolve) => child.on('exit', (code) => resolve(code))), stderr: () => stderr}
}

/** An attempt whose runner waits for a go file before it starts the job: a kill lands before the job's shell exists. */
function heldAttempt(): string {
  const {dir} = makeAttempt({run: 'echo ran', config: {holdFile: '/nonexistent/go', holdTimeoutSeconds: 600}})
  return dir
}

describe("the runner's keeper when the runner dies before the job's shell wrote job.pgid", function () {
  this.timeout(60_000)
  afterEach(killChildren)
  after(removeDirs)

  it("waits while the job's shell (the runner's command line) lives, then ends with the job's own status", async () => {
    const dir = heldAttempt()
    const keeper = startKeeper(dir)
    const runner = await waitFor(
      'runner.pid',
      () => existsSync(join(dir, 'runner.pid')) && Number(readFileSync(join(dir, 'runner.pid'), 'utf8')),
    )
    // The moment of the race, set up by hand: the job's shell (a fork of the runner, so with
    // its command line) alive, no job.pgid yet; then the runner dies.
    const shell = spawn('bash', ['-c', 'sleep 30; true', 'skyhop-runner.sh', dir], {detached: true, stdio: 'ignore'})
    children.push(shell)
    await waitFor('the shell to start', () => isLive(shell.pid!))
    process.kill(runner, 'SIGKILL')
    await new Promise((resolve) => setTimeout(resolve, 2000))
    expect(isLive(keeper.pid), `the keeper ended: ${keeper.stderr()}`).to.equal(true)
    // The shell writes job.pgid and the job ends with status 3: the keeper ends with it.
    writeFileSync(join(dir, 'job.pgid'), `${shell.pid}\n`)
    writeFileSync(join(dir, 'job.status'), '3\n')
    expect(await keeper.done).to.equal(3)
    expect(keeper.stderr()).to.contain("waiting for the job's own status")
  })

  it('ends at once with the runner when no shell of it is left (the job never started)', async () => {
    const dir = heldAttempt()
    const keeper = startKeeper(dir)
    const runner = await waitFor(
      'runner.pid',
      () => existsSync(join(dir, 'runner.pid')) && Number(readFileSync(join(dir, 'runner.pid'), 'utf8')),
    )
    process.kill(runner, 'SIGKILL')
    expect(await keeper.done).to.equal(137)
    expect(existsSync(join(dir, 'job.pgid'))).to.equal(false)
  })
})
