// The container device map and runner.conf's container keys: the runtime arguments each
// vendor's accelerators get (as the vendors' container docs pass them), and the settings the
// runner would refuse, refused before anything is written.
import {expect} from 'chai'
import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {loadConfig} from '../../../src/config.js'
import {InvalidFileError, UsageError} from '../../../src/errors.js'
import {renderRunnerConf, writeAttemptDir} from '../../../src/providers/attempt-dir.js'
import {deviceArgs, UnknownVendorError, VENDOR_DEVICES} from '../../../src/runner/container.js'
import type {RunnerConfig} from '../../../src/runner/contract.js'

const base: RunnerConfig = {graceSeconds: 30, signal: 'SIGTERM', workdir: '/w', noticeSources: [], pollIntervalSeconds: 1}

describe('container device arguments per vendor', () => {
  it('NVIDIA: docker --gpus with the device list, podman CDI names', () => {
    expect(deviceArgs('docker', {vendor: 'nvidia', indices: [1, 0]})).to.deep.equal(['--gpus', '"device=0,1"'])
    expect(deviceArgs('podman', {vendor: 'nvidia', indices: [0, 1]})).to.deep.equal([
      '--device',
      'nvidia.com/gpu=0',
      '--device',
      'nvidia.com/gpu=1',
    ])
  })

  it('AMD ROCm: /dev/kfd, /dev/dri, group video, seccomp unconfined, ROCR_VISIBLE_DEVICES', () => {
    expect(deviceArgs('podman', {vendor: 'amd', indices: [0, 1]})).to.deep.equal([
      '--device',
      '/dev/kfd',
      '--device',
      '/dev/dri',
      '--group-add',
      'video',
      '--security-opt',
      'seccomp=unconfined',
      '--env',
      'ROCR_VISIBLE_DEVICES=0,1',
    ])
  })

  it('Huawei Ascend: each davinci node, the manager nodes, the driver and npu-smi read-only, ASCEND_VISIBLE_DEVICES', () => {
    const present = new Set(['/usr/local/Ascend/driver', '/usr/local/bin/npu-smi'])
    expect(deviceArgs('docker', {vendor: 'huawei', indices: [0, 1, 2, 3]}, (p) => present.has(p))).to.deep.equal([
      '--device',
      '/dev/davinci0',
      '--device',
      '/dev/davinci1',
      '--device',
      '/dev/davinci2',
      '--device',
      '/dev/davinci3',
      '--device',
      '/dev/davinci_manager',
      '--device',
      '/dev/devmm_svm',
      '--device',
      '/dev/hisi_hdc',
      '--volume',
      '/usr/local/Ascend/driver:/usr/local/Ascend/driver:ro',
      '--volume',
      '/usr/local/bin/npu-smi:/usr/local/bin/npu-smi:ro',
      '--env',
      'ASCEND_VISIBLE_DEVICES=0,1,2,3',
    ])
  })

  it('Cambricon: cambricon_dev per device and cambricon_ctl', () => {
    expect(deviceArgs('podman', {vendor: 'cambricon', indices: [2]}, () => false)).to.deep.equal([
      '--device',
      '/dev/cambricon_dev2',
      '--device',
      '/dev/cambricon_ctl',
      '--env',
      'MLU_VISIBLE_DEVICES=2',
    ])
  })

  it('Hygon DCU: /dev/kfd, /dev/mkfd, /dev/dri, hyhal read-only', () => {
    expect(deviceArgs('docker', {vendor: 'hygon', indices: [0]})).to.deep.equal([
      '--device',
      '/dev/kfd',
      '--device',
      '/dev/mkfd',
      '--device',
      '/dev/dri',
      '--volume',
      '/opt/hyhal:/opt/hyhal:ro',
      '--group-add',
      'video',
      '--security-opt',
      'seccomp=unconfined',
      '--env',
      'HIP_VISIBLE_DEVICES=0',
    ])
  })

  it('Kunlunxin: xpu per device and xpuctrl', () => {
    expect(deviceArgs('podman', {vendor: 'kunlunxin', indices: [0, 1]})).to.deep.equal([
      '--device',
      '/dev/xpu0',
      '--device',
      '/dev/xpu1',
      '--device',
      '/dev/xpuctrl',
      '--env',
      'XPU_VISIBLE_DEVICES=0,1',
    ])
  })

  it('every vendor entry names its source; no devices means no arguments; an unknown vendor is refused', () => {
    for (const [vendor, map] of Object.entries(VENDOR_DEVICES)) expect(map.source, vendor).to.match(/^https:\/\//)
    expect(deviceArgs('podman', {vendor: 'huawei', indices: []})).to.deep.equal([])
    expect(() => deviceArgs('podman', {vendor: 'biren', indices: [0]})).to.throw(
      UnknownVendorError,
      /no container device map for vendor "biren"/,
    )
    expect(() => deviceArgs('podman', {vendor: 'amd', indices: [-1]})).to.throw(RangeError)
  })
})

describe('runner.conf container keys', () => {
  it('writes containerImage and containerRuntime shell-quoted, and container-args one per line', () => {
    const conf = renderRunnerConf({...base, containerImage: 'localhost/x:y', containerRuntime: 'podman'})
    expect(conf).to.contain("containerImage='localhost/x:y'\ncontainerRuntime='podman'\n")
    const dir = mkdtempSync(join(tmpdir(), 'skyhop-ctr-'))
    const args = ['--env', "A=it's $(data)", '--device', '/dev/davinci0']
    writeAttemptDir(dir, {setup: null, run: 'true', env: {}, config: {...base, containerImage: 'localhost/x:y', containerArgs: args}})
    expect(readFileSync(join(dir, 'container-args'), 'utf8')).to.equal(args.join('\n') + '\n')
    writeAttemptDir(dir, {setup: null, run: 'true', env: {}, config: base})
    expect(existsSync(join(dir, 'container-args'))).to.equal(false)
  })

  it('refuses what the runner could not use', () => {
    const bad: Array<[Partial<RunnerConfig>, RegExp]> = [
      [{containerImage: 'a b'}, /not an image reference/],
      [{containerImage: "x'y"}, /not an image reference/],
      [{containerImage: 'x', containerRuntime: 'rm -rf /'}, /containerRuntime must be podman or docker/],
      [{containerRuntime: 'podman'}, /need a containerImage/],
    ]
    for (const [extra, message] of bad) expect(() => renderRunnerConf({...base, ...extra}), message.source).to.throw(UsageError, message)
    const dir = mkdtempSync(join(tmpdir(), 'skyhop-ctr-'))
    expect(() =>
      writeAttemptDir(dir, {
        setup: null,
        run: 'true',
        env: {},
        config: {...base, containerImage: 'x', containerArgs: ['--env', 'A=1\n--privileged']},
      }),
    ).to.throw(UsageError, /cannot be one line of container-args/)
    expect(existsSync(join(dir, 'runner.conf'))).to.equal(false)
  })
})

describe('config: providers.local.container_runtime', () => {
  const withConfig = (text: string): string => {
    const home = mkdtempSync(join(tmpdir(), 'skyhop-ctr-home-'))
    writeFileSync(join(home, 'config.yaml'), text)
    return home
  }

  it('reads podman, docker, a path to one, or none; unset is null (detect)', () => {
    for (const value of ['podman', 'docker', '/usr/local/bin/docker', 'none']) {
      expect(loadConfig(withConfig(`providers:\n  local: {container_runtime: ${value}}\n`)).providers.local.containerRuntime).to.equal(
        value,
      )
    }
    expect(loadConfig(withConfig('providers:\n  local: {max_concurrent: 2}\n')).providers.local.containerRuntime).to.equal(null)
  })

  it('refuses anything else at its line', () => {
    expect(() => loadConfig(withConfig('providers:\n  local: {container_runtime: "podman; rm -rf ~"}\n'))).to.throw(
      InvalidFileError,
      /container_runtime/,
    )
  })
})
