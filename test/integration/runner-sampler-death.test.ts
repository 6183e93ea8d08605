// A runner killed outright (kill -9: nothing of it runs again) must not leave its utilisation
// sampler behind for a whole sample interval. The chaos suite at a quarter of its full size
// counted such processes as orphans: the sampler napped its 10 s before it looked whether
// its runner still lived.
import {expect} from 'chai'
import {readFileSync, readdirSync} from 'node:fs'

import {readJobPgid} from '../../src/providers/attempt-dir.js'
import {killChildren, makeAttempt, removeDirs, startRunner, waitFor} from '../helpers/runner-attempt.js'

/** Live processes whose command line names the attempt directory (the runner and its subshells), with their process group. */
function processesOf(dir: string): number[] {
  return groupsOf(dir).map(([pid]) => pid)
}

function groupsOf(dir: string): Array<[pid: number, pgid: number]> {
  const pids: Array<[number, number]> = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (/^[ZX]/.test(fields[0])) continue
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(dir)) pids.push([Number(entry), Number(fields[2])])
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

describe('the runner killed outright leaves no sampler behind', function () {
  this.timeout(30_000)
  afterEach(killChildren)
  after(removeDirs)

  it('the sampler (10 s interval) is gone within 3 s of its runner and the job', async () => {
    const {dir} = makeAttempt({run: 'sleep 60', config: {sampleIntervalSeconds: 10}})
    const runner = startRunner(dir)
    const pgid = await waitFor('the job to start', () => readJobPgid(dir))
    // The sampler: a subshell in the runner's own process group (the job's shell has a group
    // of its own), the same one on two looks a moment apart (short-lived subshells come and go).
    const runnerPid = runner.child.pid!
    const samplerNow = () => groupsOf(dir).find(([pid, group]) => group === runnerPid && pid !== runnerPid)?.[0]
    let sampler: number | undefined
    await waitFor('the sampler to start', () => {
      const seen = samplerNow()
      const steady = seen !== undefined && seen === sampler
      sampler = seen
      return steady
    })
    process.kill(runnerPid, 'SIGKILL')
    process.kill(-pgid, 'SIGKILL')
    const start = Date.now()
    let left = processesOf(dir)
    while (left.length > 0 && Date.now() - start < 3000) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      left = processesOf(dir)
    }
    expect(left, 'processes of the attempt still alive 3 s after its runner and job were killed').to.deep.equal([])
  })
})
