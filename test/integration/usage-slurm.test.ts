// Utilisation on the real Slurm cluster (scripts/slurm-up.sh): the runner inside the Slurm job
// samples the job's process tree and the vendor tools on the job's PATH (fake ones printing
// recorded real output, test/data/vendor-tools/), writing samples.jsonl into the shared
// attempt directory, where the provider hands them to skyhop while the job still runs.
import {expect} from 'chai'

import type {LaunchHandle} from '../../src/model/attempt.js'
import {SlurmProvider} from '../../src/providers/slurm/slurm-provider.js'
import {NO_USAGE, addSamples, gangSummaryOf, parseSamples, summarizeSamples} from '../../src/providers/usage-samples.js'
import {pollUntil, removeTempDirs, requireSlurm, slurmRequest, tempDir} from '../helpers/slurm.js'
import {bashTimesSeconds, sampledCpuSeconds} from '../helpers/usage.js'
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

  async function launch(
    home: string,
    script: string,
    options: Parameters<typeof slurmRequest>[2] = {},
  ): Promise<{provider: SlurmProvider; handle: LaunchHandle}> {
    const provider = new SlurmProvider({home})
    const req = slurmRequest(home, script, options)
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

  it("samples every rank of a gang on its own node, each rank's file read by rank", async () => {
    const home = tempDir()
    process.env.PATH = `${fakeToolDir(home, ['npu-smi'])}:${path}`
    // Rank 1 keeps a core busy and reports its own CPU time; the head sleeps.
    const script = 'if [ "$SKYHOP_NODE_RANK" = 1 ]; then end=$((SECONDS+6)); while ((SECONDS<end)); do :; done; times; else sleep 6; fi'
    const {provider, handle} = await launch(home, script, {partition: 'gang-high', nodes: 2, cpus: 1})
    const {last} = await pollUntil(provider, handle, (r) => ENDED.has(r.state))
    expect(last.state).to.equal('SUCCEEDED')
    const read = async (rank: number) => parseSamples((await provider.usageSamples(handle, 0, rank))?.text ?? '')
    const [head, other] = [await read(0), await read(1)]
    expect(head.length).to.be.greaterThan(3)
    expect(other.length).to.be.greaterThan(3)
    expect(await provider.usageSamples(handle, 0, 2)).to.equal(null)
    // Each rank's runner sampled its own node: the busy loop shows on rank 1 only.
    const lines: string[] = []
    for await (const line of provider.logs(handle, {follow: false, node: 1})) lines.push(line)
    const own = bashTimesSeconds(lines.join('\n'))
    const sampled = sampledCpuSeconds(other, 0.5)
    expect(own, lines.join('\n')).to.be.at.least(0.5)
    expect(sampled, `own ${String(own)} s, sampled ${sampled} s`).to.be.at.least(0.6 * own!)
    expect(sampledCpuSeconds(head, 0.5)).to.be.below(0.3 * own!)
    const gang = gangSummaryOf([addSamples(NO_USAGE, head), addSamples(NO_USAGE, other)])!
    expect(gang.samples).to.equal(head.length + other.length)
    expect(gang.ranks!.map((r) => r.accelerators)).to.deep.equal([8, 8])
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
