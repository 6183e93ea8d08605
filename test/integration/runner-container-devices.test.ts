// The runner's side of container-devices (contract.ts): the REAL skyhop-runner.sh reads a
// device list from the variables the file names (as Slurm's step would have them) and expands
// the vendor's template itself, in bash. Its arguments must be exactly the device map's
// (deviceArgs, TypeScript) for every vendor and runtime; what it cannot use fails the attempt
// with the reason, before any container starts. The container runtime is the real podman (the
// runner refuses a runtime that is not installed); most vendors' device nodes do not exist
// here, so those containers fail to start: only the runner's `container-devices` event, written
// before, is looked at.
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {readEvents, runnerScriptPath, writeAttemptDir} from '../../src/providers/attempt-dir.js'
import {
  deviceArgs,
  renderContainerDevices,
  VENDOR_DEVICES,
  type ContainerRuntime,
  type DeviceIndexSources,
} from '../../src/runner/container.js'
import type {RunnerEvent} from '../../src/runner/contract.js'
import {requirePodman, TEST_IMAGE} from '../helpers/podman.js'

const dirs: string[] = []

/** Runs the runner over a fresh attempt directory with `devices` as container-devices; its events. */
async function runWith(devices: string, env: Record<string, string>, runtime: ContainerRuntime = 'podman'): Promise<RunnerEvent[]> {
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-ctr-dev-'))
  dirs.push(dir)
  writeAttemptDir(dir, {
    setup: null,
    run: 'true',
    env: {SKYHOP_CHECKPOINT_DIR: join(dir, 'ckpt')},
    config: {
      graceSeconds: 5,
      signal: 'SIGTERM',
      workdir: join(dir, 'work'),
      noticeSources: [],
      pollIntervalSeconds: 1,
      sampleIntervalSeconds: 0,
      containerImage: TEST_IMAGE,
      containerRuntime: runtime,
    },
  })
  writeFileSync(join(dir, 'container-devices'), devices)
  const child = spawn('bash', [runnerScriptPath(), dir], {stdio: 'ignore', env: {PATH: process.env.PATH ?? '/usr/bin:/bin', ...env}})
  await new Promise((resolve) => child.on('exit', resolve))
  return readEvents(dir)
}

const sources = (env: string[], scontrolGres: string | null = null): DeviceIndexSources => ({env, scontrolGres})

describe('skyhop-runner.sh: container-devices, the allocation read on the node', function () {
  this.timeout(120_000)

  before(async function () {
    await requirePodman(this)
  })

  after(() => {
    for (const d of dirs) rmSync(d, {recursive: true, force: true})
  })

  it("expands every vendor's template as deviceArgs does (podman; docker for NVIDIA's --gpus list), from the first variable set", async () => {
    const cases: Array<[string, ContainerRuntime]> = [
      ...Object.keys(VENDOR_DEVICES).map((v): [string, ContainerRuntime] => [v, 'podman']),
      ['nvidia', 'docker'],
    ]
    for (const [vendor, runtime] of cases) {
      // Slurm's spelling: ranges, unordered, repeated; the unset variable before is passed over.
      const events = await runWith(
        renderContainerDevices(runtime, vendor, sources(['SKYHOP_T_UNSET', 'SKYHOP_T_DEVS'])),
        {SKYHOP_T_DEVS: '3,0-1,1'},
        runtime,
      )
      const event = events.find((e) => e.event === 'container-devices')
      expect(event, `${vendor}/${runtime}: ${JSON.stringify(events)}`).to.not.equal(undefined)
      expect(event).to.include({vendor, from: 'SKYHOP_T_DEVS'})
      expect(event!.indices).to.deep.equal([0, 1, 3])
      // The read-only driver paths go in where they exist on this host, in both.
      expect(event!.args, `${vendor}/${runtime}`).to.deep.equal(deviceArgs(runtime, {vendor, indices: [0, 1, 3]}, existsSync))
    }
  })

  it('fails the attempt before any container when no source names a device, with where it looked', async () => {
    const events = await runWith(
      renderContainerDevices('podman', 'huawei', sources(['ASCEND_VISIBLE_DEVICES', 'SLURM_STEP_GPUS'], 'npu')),
      {},
    )
    const error = events.find((e) => e.event === 'error')
    expect(error?.message).to.equal(
      'the job asked for huawei accelerators, but none were found allocated on node ?: none of ASCEND_VISIBLE_DEVICES SLURM_STEP_GPUS is set and scontrol shows no IDX of GRES npu for this node',
    )
    const names = events.map((e) => e.event)
    for (const name of ['container-devices', 'setup-start', 'run-start'] as const) expect(names).to.not.include(name)
  })

  it("refuses Slurm's NoDevFiles (a GRES without File=) and anything that is not a list of indices", async () => {
    const file = renderContainerDevices('podman', 'kunlunxin', sources(['SLURM_STEP_GPUS']))
    const noFiles = (await runWith(file, {SLURM_STEP_GPUS: 'NoDevFiles'})).find((e) => e.event === 'error')
    expect(noFiles?.message).to.match(/^SLURM_STEP_GPUS is NoDevFiles: the site's gres.conf gives the job's GRES no File=/)
    const uuid = (await runWith(file, {SLURM_STEP_GPUS: 'GPU-5f2a,1'})).find((e) => e.event === 'error')
    expect(uuid?.message).to.equal("SLURM_STEP_GPUS='GPU-5f2a,1' is not a list of device indices")
  })
})
