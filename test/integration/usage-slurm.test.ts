// Utilisation on the real Slurm cluster (scripts/slurm-up.sh): the runner inside the Slurm job
// samples the job's process tree and the vendor tools on the job's PATH (fake ones printing
// recorded real output, test/data/vendor-tools/), writing samples.jsonl into the shared
// attempt directory, where the provider hands them to skyhop while the job still runs.
import {expect} from 'chai'

import type {LaunchHandle} from '../../src/model/attempt.js'
import {SlurmProvider} from '../../src/providers/slurm/slurm-provider.js'
import {parseSamples, summarizeSamples} from '../../src/providers/usage-samples.js'
import {pollUntil, removeTempDirs, requireSlurm, slurmRequest, tempDir} from '../helpers/slurm.js'
import {until} from '../helpers/wait.js'
import {fakeToolDir} from '../helpers/vendor-tools.js'

const ENDED = new Set(['SUCCEEDED', 'FAILED', 'PREEMPTED', 'CANCELLED', 'LOST'])

describe('utilisation on Slurm (real Slurm)', function () {
  this.timeout(120_000)
  const launched: Array<{provider: SlurmProvider; handle: LaunchHandle}> = []
  const path = process.env.PATH

  before(async function () {
    await requireSlurm(this)
  })
  afterEach(async () => {
    process.env.PATH = path
    for (const {provider, handle} of launched.splice(0)) await provider.cleanup(handle).catch(() => undefined)
  })
  after(() => removeTempDirs())

  async function launch(home: string, script: string): Promise<{provider: SlurmProvider; handle: LaunchHandle}> {
    const provider = new SlurmProvider({home})
    const req = slurmRequest(home, script)
    req.spec = {...req.spec, usage: {sampleIntervalSeconds: 0.5, idle: null}}
    const handle = await provider.launch(req)
    launched.push({provider, handle})
    return {provider, handle}
  }

  it('samples a CPU-bound job on a node whose "NPUs" sit idle, readable while it runs', async () => {
    const home = tempDir()
    // sbatch hands the submitter's environment to the job: the runner finds the tools there.
    process.env.PATH = `${fakeToolDir(home, ['npu-smi'])}:${path}`
    const {provider, handle} = await launch(home, 'end=$((SECONDS+8)); while ((SECONDS<end)); do :; done; echo done')
    const live = await until(
      async () => summarizeSamples(parseSamples((await provider.usageSamples(handle))?.text ?? '')),
      (s) => s !== null && s.samples >= 2,
      60_000,
      250,
    )
    expect((await provider.poll([handle])).get(handle.externalId)!.state).to.equal('RUNNING')
    expect(live!.last!.tool).to.equal('npu-smi')
    expect(live!.accelerators).to.equal(8)
    expect(live!.acceleratorBusy).to.equal(0)
    const {last} = await pollUntil(provider, handle, (r) => ENDED.has(r.state))
    expect(last.state).to.equal('SUCCEEDED')
    const done = summarizeSamples(parseSamples((await provider.usageSamples(handle))!.text))!
    expect(done.samples).to.be.greaterThan(live!.samples)
    expect(done.cpuBusy).to.be.greaterThan(0)
    expect(done.memPeakMiB).to.be.greaterThan(0)
  })

  it('never lets a hanging tool hold the job back', async () => {
    const home = tempDir()
    process.env.PATH = `${fakeToolDir(home, ['nvidia-smi', 'npu-smi'], 'hang')}:${path}`
    const started = Date.now()
    const {provider, handle} = await launch(home, 'sleep 2; echo done')
    const {last} = await pollUntil(provider, handle, (r) => ENDED.has(r.state))
    expect(last.state).to.equal('SUCCEEDED')
    expect(Date.now() - started).to.be.lessThan(30_000)
    const lines: string[] = []
    for await (const line of provider.logs(handle, {follow: false})) lines.push(line)
    expect(lines).to.include('done')
  })
})
