// A Slurm job's container image (src/providers/slurm/containers.ts): finding the cluster's
// runtime (pyxis from `srun --help`, else apptainer/singularity/podman/docker here), the
// words that wrap the job step for pyxis and apptainer, and the batch script they go into.
// pyxis is not installed here: its `srun --help` lines are recorded from the plugin's own
// option table (NVIDIA/pyxis, pyxis_slurm.c), labelled as such.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseContainerReference} from '../../src/job/image.js'
import type {SlurmRunner} from '../../src/providers/slurm/commands.js'
import {enrootImage, slurmDeviceSources, srunHasPyxis, stepWrap, wrapsStep} from '../../src/providers/slurm/containers.js'
import {SlurmProvider} from '../../src/providers/slurm/slurm-provider.js'
import {renderBatchScript} from '../../src/providers/slurm/submit.js'
import {
  deviceArgs,
  deviceTemplate,
  expandDeviceTemplate,
  renderContainerDevices,
  UnknownVendorError,
  type DeviceTemplateLine,
} from '../../src/runner/container.js'

const SRUN_HELP_PLAIN = `Usage: srun [OPTIONS(0)... [executable(0) [args(0)...]]] [ : [OPTIONS(N)...]] executable(N) [args(N)...]

Parallel run options:
  -A, --account=name          charge job to specified account
      --container             Path to OCI container bundle
`
// Recorded: the lines pyxis adds to srun --help (its SPANK options), as on a DGX cluster.
const SRUN_HELP_PYXIS = `${SRUN_HELP_PLAIN}
Options provided by plugins:
      --container-image=[USER@][REGISTRY#]IMAGE[:TAG]|PATH
                              [pyxis] the image to use for the container
                              filesystem. Can be either a docker image given as
      --container-mounts=SRC:DST[:FLAGS][,SRC:DST...]
                              [pyxis] bind mount[s] inside the container. Mount
`

const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-slurm-ctr-'))
  dirs.push(dir)
  return dir
}
after(() => {
  for (const dir of dirs) rmSync(dir, {recursive: true, force: true})
})

/** A runner that answers `srun --help` with `help` and counts the calls. */
function srunRunner(help: string | null): {runner: SlurmRunner; calls: string[]} {
  const calls: string[] = []
  const runner: SlurmRunner = async (command, args) => {
    calls.push(`${command} ${args.join(' ')}`)
    if (command === 'srun' && help !== null) return {code: 0, stdout: help, stderr: ''}
    return {code: 1, stdout: '', stderr: `${command}: not recorded`}
  }
  return {runner, calls}
}

describe('slurm containers', () => {
  it("sees pyxis in srun --help, and only there (srun's own --container is OCI bundles, not images)", () => {
    expect(srunHasPyxis(SRUN_HELP_PYXIS)).to.equal(true)
    expect(srunHasPyxis(SRUN_HELP_PLAIN)).to.equal(false)
  })

  it('spells an image for enroot: the registry before #, Docker Hub without one', () => {
    expect(enrootImage(parseContainerReference('nvcr.io/nvidia/pytorch:24.05-py3'))).to.equal('nvcr.io#nvidia/pytorch:24.05-py3')
    expect(enrootImage(parseContainerReference('registry.example.com:5000/team/img@sha256:' + 'a'.repeat(64)))).to.equal(
      'registry.example.com:5000#team/img@sha256:' + 'a'.repeat(64),
    )
    expect(enrootImage(parseContainerReference('ubuntu:22.04'))).to.equal('ubuntu:22.04')
  })

  it('wraps the step for pyxis and apptainer with the contract paths mounted once each; podman and docker run beside the runner', () => {
    const image = parseContainerReference('nvcr.io/nvidia/pytorch:24.05-py3')
    const mounts = ['/shared/att/a1', '/shared/att/a1/work', '/shared/ckpt/job', 'work']
    expect(stepWrap('pyxis', image, mounts)).to.deep.equal({
      srunOptions: [
        '--container-image=nvcr.io#nvidia/pytorch:24.05-py3',
        '--container-mounts=/shared/att/a1:/shared/att/a1,/shared/ckpt/job:/shared/ckpt/job',
        '--no-container-entrypoint',
      ],
      prefix: [],
    })
    expect(stepWrap('apptainer', image, mounts)).to.deep.equal({
      srunOptions: [],
      prefix: ['apptainer', 'exec', '--bind', '/shared/att/a1,/shared/ckpt/job', 'docker://nvcr.io/nvidia/pytorch:24.05-py3'],
    })
    expect(stepWrap('singularity', image, mounts).prefix[0]).to.equal('singularity')
    // GPUs: apptainer's own flags bring the vendor's libraries in; pyxis's enroot hooks do that itself.
    expect(stepWrap('apptainer', image, ['/a'], 'nvidia').prefix.slice(0, 4)).to.deep.equal(['apptainer', 'exec', '--nv', '--bind'])
    expect(stepWrap('apptainer', image, ['/a'], 'amd').prefix).to.include('--rocm')
    expect(stepWrap('pyxis', image, ['/a'], 'nvidia')).to.deep.equal(stepWrap('pyxis', image, ['/a']))
    for (const runtime of ['podman', 'docker'] as const) {
      expect(wrapsStep(runtime)).to.equal(false)
      expect(stepWrap(runtime, image, mounts)).to.deep.equal({srunOptions: [], prefix: []})
    }
    expect(() => stepWrap('pyxis', image, ['/a,b'])).to.throw(/cannot mount \/a,b into the container/)
  })

  it('puts the wrap into the batch script quoted, for one node and for a gang, and bash reads it', () => {
    const image = parseContainerReference('nvcr.io/nvidia/pytorch:24.05-py3')
    const wrap = stepWrap('apptainer', image, ['/shared/att/a1'])
    const one = renderBatchScript({
      attemptId: 'a1',
      attemptDir: '/shared/att/a1',
      runnerPath: '/shared/att/a1/skyhop-runner.sh',
      cpusPerTask: 2,
      wrap,
    })
    expect(one).to.include(
      "exec srun --nodes=1 --ntasks=1 --cpus-per-task=2 --export=ALL --quiet 'apptainer' 'exec' '--bind' '/shared/att/a1' 'docker://nvcr.io/nvidia/pytorch:24.05-py3' bash '/shared/att/a1/skyhop-runner.sh' --keep '/shared/att/a1'",
    )
    const pyxis = stepWrap('pyxis', image, ['/shared/att/a1'])
    const gang = renderBatchScript({
      attemptId: 'a1',
      attemptDir: '/shared/att/a1',
      runnerPath: '/r.sh',
      cpusPerTask: null,
      nodes: 2,
      wrap: pyxis,
    })
    expect(gang).to.match(
      /exec srun --nodes=2 --ntasks-per-node=1 --export=ALL --quiet '--container-image=nvcr.io#nvidia\/pytorch:24.05-py3' '--container-mounts=\/shared\/att\/a1:\/shared\/att\/a1' '--no-container-entrypoint' bash -c /,
    )
    for (const script of [one, gang]) execFileSync('bash', ['-n'], {input: script})
  })

  it('finds pyxis from srun --help, once, and keeps the answer in the query cache for the next command', async () => {
    const home = tempDir()
    const first = srunRunner(SRUN_HELP_PYXIS)
    const queryCache = {dir: join(home, 'cache')}
    const provider = new SlurmProvider({home, runner: first.runner, env: {PATH: ''}, queryCache})
    expect(await provider.runsContainers()).to.equal(true)
    expect(await provider.containerUnsupported()).to.equal(null)
    expect(first.calls).to.deep.equal(['srun --help'])
    const second = srunRunner(null)
    const again = new SlurmProvider({home, runner: second.runner, env: {PATH: ''}, queryCache})
    expect(await again.runsContainers()).to.equal(true)
    expect(second.calls).to.deep.equal([])
  })

  it('without pyxis looks for apptainer on PATH; with nothing found says what it looked for', async () => {
    const bin = join(tempDir(), 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'apptainer'), '#!/bin/sh\nexit 0\n')
    chmodSync(join(bin, 'apptainer'), 0o755)
    const withApptainer = new SlurmProvider({home: tempDir(), runner: srunRunner(SRUN_HELP_PLAIN).runner, env: {PATH: bin}})
    expect(await withApptainer.runsContainers()).to.equal(true)

    const none = new SlurmProvider({home: tempDir(), runner: srunRunner(SRUN_HELP_PLAIN).runner, env: {PATH: join(tempDir(), 'empty')}})
    expect(await none.runsContainers()).to.equal(false)
    expect(await none.containerUnsupported()).to.equal(
      "no container runtime found: looked for pyxis (srun --help offers --container-image), then apptainer, singularity, podman or docker on the submitting machine's PATH",
    )
    const off = new SlurmProvider({home: tempDir(), runner: srunRunner(SRUN_HELP_PYXIS).runner, containerRuntime: null})
    expect(await off.runsContainers()).to.equal(false)
    expect(await off.containerUnsupported()).to.equal('providers.slurm.container_runtime is none')
  })
})

describe("slurm: where a podman/docker job's allocated accelerators are read on its node", () => {
  it('per vendor and GRES: the vendor variable a prolog sets first, SLURM_STEP_GPUS for a gpu GRES, scontrol for any', () => {
    expect(slurmDeviceSources('huawei', 'npu', 1)).to.deep.equal({env: ['ASCEND_VISIBLE_DEVICES'], scontrolGres: 'npu'})
    expect(slurmDeviceSources('huawei', 'gpu:910b', 1)).to.deep.equal({
      env: ['ASCEND_VISIBLE_DEVICES', 'SLURM_STEP_GPUS', 'SLURM_JOB_GPUS'],
      scontrolGres: 'gpu',
    })
    expect(slurmDeviceSources('nvidia', 'gpu:a100', 1)).to.deep.equal({env: ['SLURM_STEP_GPUS', 'SLURM_JOB_GPUS'], scontrolGres: 'gpu'})
    // A gang's ranks get the batch node's SLURM_JOB_GPUS through srun --export=ALL: never read there.
    expect(slurmDeviceSources('nvidia', 'gpu:a100', 2)).to.deep.equal({env: ['SLURM_STEP_GPUS'], scontrolGres: 'gpu'})
    expect(slurmDeviceSources('amd', 'gpu:mi300x', 1)).to.deep.equal({
      env: ['SLURM_STEP_GPUS', 'SLURM_JOB_GPUS', 'ROCR_VISIBLE_DEVICES'],
      scontrolGres: 'gpu',
    })
    expect(slurmDeviceSources('hygon', 'dcu', 4)).to.deep.equal({env: ['ROCR_VISIBLE_DEVICES'], scontrolGres: 'dcu'})
    expect(slurmDeviceSources('cambricon', 'mlu:590', 1)).to.deep.equal({env: ['MLU_VISIBLE_DEVICES'], scontrolGres: 'mlu'})
    expect(slurmDeviceSources('kunlunxin', 'gpu:kunlun', 2)).to.deep.equal({
      env: ['XPU_VISIBLE_DEVICES', 'SLURM_STEP_GPUS'],
      scontrolGres: 'gpu',
    })
  })

  it('container-devices: the sources, then the device map as a template the runner expands', () => {
    expect(renderContainerDevices('docker', 'nvidia', slurmDeviceSources('nvidia', 'gpu:a100', 1))).to.equal(
      ['vendor\tnvidia', 'from\tSLURM_STEP_GPUS\tSLURM_JOB_GPUS', 'gres\tgpu', 'list\t--gpus\t"device={list}"', ''].join('\n'),
    )
    expect(renderContainerDevices('podman', 'huawei', slurmDeviceSources('huawei', 'npu', 1))).to.equal(
      [
        'vendor\thuawei',
        'from\tASCEND_VISIBLE_DEVICES',
        'gres\tnpu',
        'each\t--device\t/dev/davinci{i}',
        'once\t--device\t/dev/davinci_manager',
        'once\t--device\t/dev/devmm_svm',
        'once\t--device\t/dev/hisi_hdc',
        'exists\t/usr/local/Ascend/driver\t--volume\t/usr/local/Ascend/driver:/usr/local/Ascend/driver:ro',
        'exists\t/usr/local/bin/npu-smi\t--volume\t/usr/local/bin/npu-smi:/usr/local/bin/npu-smi:ro',
        'exists\t/usr/local/dcmi\t--volume\t/usr/local/dcmi:/usr/local/dcmi:ro',
        'exists\t/etc/ascend_install.info\t--volume\t/etc/ascend_install.info:/etc/ascend_install.info:ro',
        'list\t--env\tASCEND_VISIBLE_DEVICES={list}',
        '',
      ].join('\n'),
    )
  })

  it('a template expands each per index, list with the sorted indices, once as is, exists where the path is; no indices, nothing', () => {
    const lines: DeviceTemplateLine[] = [
      {kind: 'each', args: ['--device', '/dev/x{i}', '--device', '/dev/y{i}']},
      {kind: 'once', args: ['--device', '/dev/ctl']},
      {kind: 'exists', path: '/opt/here', args: ['--volume', '/opt/here:/opt/here:ro']},
      {kind: 'exists', path: '/opt/gone', args: ['--volume', '/opt/gone:/opt/gone:ro']},
      {kind: 'list', args: ['--env', 'V={list}', '"device={list}"']},
    ]
    expect(expandDeviceTemplate(lines, [1, 3], (p) => p === '/opt/here')).to.deep.equal([
      ...['--device', '/dev/x1', '--device', '/dev/y1', '--device', '/dev/x3', '--device', '/dev/y3', '--device', '/dev/ctl'],
      ...['--volume', '/opt/here:/opt/here:ro', '--env', 'V=1,3', '"device=1,3"'],
    ])
    expect(expandDeviceTemplate(lines, [])).to.deep.equal([])
    // deviceArgs sorts and dedupes first (the runner does the same with Slurm's lists).
    expect(deviceArgs('podman', {vendor: 'kunlunxin', indices: [3, 1, 3]})).to.deep.equal(
      expandDeviceTemplate(deviceTemplate('podman', 'kunlunxin'), [1, 3]),
    )
  })

  it('a vendor without a device map is UnknownVendorError; a field with a tab or newline is refused', () => {
    expect(() => renderContainerDevices('podman', 'intel', slurmDeviceSources('intel', 'gpu', 1))).to.throw(
      UnknownVendorError,
      /no container device map for vendor "intel" \(known: nvidia, amd, huawei, cambricon, hygon, kunlunxin\)/,
    )
    expect(() => renderContainerDevices('podman', 'nvidia', {env: ['A\tB'], scontrolGres: null})).to.throw(
      RangeError,
      /cannot be one field/,
    )
  })
})
