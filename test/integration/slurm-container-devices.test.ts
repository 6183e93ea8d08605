// The accelerators Slurm allocated, and only those, inside a podman container, on the REAL
// Slurm test cluster (scripts/slurm-up.sh) with the REAL podman and the offline test image
// (scripts/podman-up.sh). The cluster's nodes have GRES over stand-in device nodes (copies of
// /dev/null made by slurm-up.sh: this machine has no accelerators): npu:4 over
// /dev/davinci[0-3] (a GRES Slurm sets no variable for: the runner asks scontrol) and
// gpu:kunlun:4 over /dev/xpu[0-3] (SLURM_STEP_GPUS). Other jobs hold some of the devices
// first, so the job's own are not simply the first ones, and each gang rank's differ.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {LaunchHandle} from '../../src/model/attempt.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import {readEvents} from '../../src/providers/attempt-dir.js'
import {SlurmProvider, type SlurmHandleData} from '../../src/providers/slurm/slurm-provider.js'
import {ProviderError} from '../../src/errors.js'
import {deviceArgs} from '../../src/runner/container.js'
import {requirePodman, TEST_IMAGE} from '../helpers/podman.js'
import {clusterIdle, clusterReport, pollUntil, removeTempDirs, requireSlurm, slurm, slurmRequest, tempDir} from '../helpers/slurm.js'

const ENDED = new Set(['SUCCEEDED', 'FAILED', 'PREEMPTED', 'CANCELLED', 'LOST'])
const dirOf = (handle: LaunchHandle): string => (handle.data as unknown as SlurmHandleData).attemptDir

// What the job prints from inside its container: every stand-in device node it can see, and
// the vendors' visible-devices variables.
const LOOK = [
  'for f in /dev/davinci* /dev/devmm_svm /dev/hisi_hdc /dev/xpu*; do [ -e "$f" ] && echo "dev $f"; done',
  'echo "ASCEND=${ASCEND_VISIBLE_DEVICES-unset} XPU=${XPU_VISIBLE_DEVICES-unset}"',
].join('\n')

const devicesIn = (log: string): string[] =>
  log
    .split('\n')
    .filter((l) => l.startsWith('dev '))
    .map((l) => l.slice(4))
    .sort()

/** "0-1,3" → [0, 1, 3]. */
function indexList(text: string): number[] {
  return text.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number)
    return b === undefined ? [a] : Array.from({length: b - a + 1}, (_, i) => a + i)
  })
}

/** Each node's IDX list of GRES `name` for Slurm job `id`, as `scontrol show job -d` says. */
async function allocated(id: string, name: string): Promise<Map<string, number[]>> {
  const text = await slurm('scontrol', ['show', 'job', '-d', id])
  const out = new Map<string, number[]>()
  for (const m of text.matchAll(/^\s*Nodes=(\S+)\s.*GRES=(\S*)/gm)) {
    const idx = new RegExp(`(?:^|,)${name}(?::[^:(,]+)?:\\d+\\(IDX:([\\d,-]+)\\)`).exec(m[2])
    const nodes = (await slurm('scontrol', ['show', 'hostnames', m[1]])).trim().split('\n')
    for (const node of nodes) out.set(node, idx ? indexList(idx[1]) : [])
  }
  return out
}

describe('slurm provider: the allocated accelerators inside a podman container (real Slurm, real podman, stand-in devices)', function () {
  this.timeout(240_000)
  let home: string
  let provider: SlurmProvider
  const cleanups: Array<() => Promise<unknown>> = []

  /** A job that holds GRES on a node until cancelled, running before the test's own. */
  async function holdDevices(partition: string, node: string, gres: string): Promise<string> {
    const id = (
      await slurm('sbatch', [
        '--parsable',
        `--partition=${partition}`,
        `--nodelist=${node}`,
        `--gres=${gres}`,
        '--output=/dev/null',
        '--wrap=sleep 600',
      ])
    ).trim()
    cleanups.push(() => slurm('scancel', [id]))
    for (let i = 0; i < 150; i++) {
      if ((await slurm('squeue', ['--noheader', `--jobs=${id}`, '--format=%T'])).trim() === 'RUNNING') return id
      await new Promise((r) => setTimeout(r, 200))
    }
    throw new Error(`the job holding ${gres} on ${node} never ran\n${await clusterReport()}`)
  }

  function withAccelerator(req: LaunchRequest, name: string, count: number): LaunchRequest {
    return {...req, offer: {...req.offer, accelerator: {name, count}}}
  }

  before(async function () {
    await requireSlurm(this)
    await requirePodman(this)
    const gres = (await slurm('sinfo', ['--noheader', '--Node', '--nodes=n1', '--format=%G'])).trim()
    if (!/npu:4/.test(gres) || !/gpu:kunlun:4/.test(gres)) {
      throw new Error(`the test cluster's nodes have no stand-in GRES (sinfo says "${gres}"): run scripts/slurm-up.sh again`)
    }
    home = tempDir()
    provider = new SlurmProvider({home, gres: {Ascend910B: 'npu', 'Kunlunxin-P800': 'gpu:kunlun', Gaudi2: 'gpu'}})
  })

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
  })

  after(() => removeTempDirs())

  it('Ascend (GRES npu, indices from scontrol): exactly the allocated /dev/davinciN, the shared nodes, ASCEND_VISIBLE_DEVICES', async () => {
    await clusterIdle()
    const blocker = await holdDevices('high', 'n1', 'npu:1')
    const held = (await allocated(blocker, 'npu')).get('n1')!
    const req = withAccelerator(slurmRequest(home, LOOK, {image: TEST_IMAGE, partition: 'high'}), 'Ascend910B', 2)
    const handle = await provider.launch(req)
    cleanups.push(() => provider.cleanup(handle))
    const dir = dirOf(handle)
    // Slurm's own answer for the job, read while it runs (the runner's container takes a moment).
    let mine: number[] = []
    for (let i = 0; i < 300 && mine.length === 0; i++) {
      mine = (await allocated(handle.externalId, 'npu')).get('n1') ?? []
      if (mine.length === 0) await new Promise((r) => setTimeout(r, 200))
    }
    const {last, seen} = await pollUntil(provider, handle, (r) => ENDED.has(r.state), 120_000)
    const log = readFileSync(join(dir, 'output.log'), 'utf8')
    expect(last.state, `${seen.join(' → ')}\n${log}`).to.equal('SUCCEEDED')
    expect(mine).to.have.length(2)
    expect(mine).to.not.include.members(held)
    expect(devicesIn(log)).to.deep.equal(
      [...mine.map((i) => `/dev/davinci${i}`), '/dev/davinci_manager', '/dev/devmm_svm', '/dev/hisi_hdc'].sort(),
    )
    expect(log).to.contain(`ASCEND=${mine.join(',')} XPU=unset`)
    const event = readEvents(dir).find((e) => e.event === 'container-devices')!
    expect(event).to.include({vendor: 'huawei', from: 'scontrol show job -d (npu)'})
    expect(event.indices).to.deep.equal(mine)
    // The runner's expansion is the device map's (the driver paths are absent on this host).
    expect(event.args).to.deep.equal(deviceArgs('podman', {vendor: 'huawei', indices: mine}, () => false))
  })

  it("Kunlunxin (GRES gpu:kunlun) in a two-node gang: each rank gets its own node's devices from SLURM_STEP_GPUS, not the batch node's", async () => {
    await clusterIdle()
    // Every node's first free index differs (n1: 0, n2: 1, n3: 2, n4: 3), wherever the gang lands.
    for (const [node, held] of [
      ['n2', 1],
      ['n3', 2],
      ['n4', 3],
    ] as const)
      await holdDevices('gang-high', node, `gpu:kunlun:${held}`)
    const req = withAccelerator(slurmRequest(home, LOOK, {image: TEST_IMAGE, partition: 'gang-high', nodes: 2}), 'Kunlunxin-P800', 1)
    const handle = await provider.launch(req)
    cleanups.push(() => provider.cleanup(handle))
    const dir = dirOf(handle)
    let mine = new Map<string, number[]>()
    for (let i = 0; i < 300 && mine.size === 0; i++) {
      mine = await allocated(handle.externalId, 'gpu')
      if (mine.size === 0) await new Promise((r) => setTimeout(r, 200))
    }
    const {last, seen} = await pollUntil(provider, handle, (r) => ENDED.has(r.state), 150_000)
    const logs = [0, 1].map((rank) => readFileSync(join(dir, `node-${rank}`, 'output.log'), 'utf8'))
    expect(last.state, `${seen.join(' → ')}\n${logs.join('\n')}`).to.equal('SUCCEEDED')
    // Rank r runs on the r-th node of the job's list (the batch script's order).
    const nodes = [...mine.keys()].sort()
    expect(nodes).to.have.length(2)
    const indices = nodes.map((node) => mine.get(node)!)
    expect(indices[0]).to.not.deep.equal(indices[1])
    for (const rank of [0, 1]) {
      expect(indices[rank]).to.have.length(1)
      expect(devicesIn(logs[rank]), `rank ${rank} on ${nodes[rank]}`).to.deep.equal([`/dev/xpu${indices[rank][0]}`, '/dev/xpuctrl'])
      expect(logs[rank]).to.contain(`ASCEND=unset XPU=${indices[rank][0]}`)
      const event = readEvents(join(dir, `node-${rank}`)).find((e) => e.event === 'container-devices')!
      expect(event).to.include({vendor: 'kunlunxin', from: 'SLURM_STEP_GPUS'})
      expect(event.args).to.deep.equal(deviceArgs('podman', {vendor: 'kunlunxin', indices: indices[rank]}))
    }
  })

  it('a container job without accelerators sees none of the node’s devices, and its attempt has no container-devices', async () => {
    await clusterIdle()
    const handle = await provider.launch(slurmRequest(home, LOOK, {image: TEST_IMAGE, partition: 'high'}))
    cleanups.push(() => provider.cleanup(handle))
    const dir = dirOf(handle)
    const {last, seen} = await pollUntil(provider, handle, (r) => ENDED.has(r.state), 120_000)
    const log = readFileSync(join(dir, 'output.log'), 'utf8')
    expect(last.state, `${seen.join(' → ')}\n${log}`).to.equal('SUCCEEDED')
    expect(devicesIn(log)).to.deep.equal([])
    expect(log).to.contain('ASCEND=unset XPU=unset')
    expect(readEvents(dir).map((e) => e.event)).to.not.include('container-devices')
  })

  it('an accelerator whose vendor has no device map is refused at launch (CONTAINER_DEVICES_UNKNOWN), as a user error', async () => {
    const req = withAccelerator(slurmRequest(home, LOOK, {image: TEST_IMAGE, partition: 'high'}), 'Gaudi2', 1)
    const error = await provider.launch(req).then(
      () => null,
      (e: unknown) => e,
    )
    expect(error).to.be.instanceOf(ProviderError)
    expect((error as ProviderError).category).to.equal('user')
    expect((error as ProviderError).code).to.equal('CONTAINER_DEVICES_UNKNOWN')
    expect((error as ProviderError).message).to.match(/Gaudi2: no container device map for vendor "intel" \(known: nvidia, amd, huawei/)
  })
})
