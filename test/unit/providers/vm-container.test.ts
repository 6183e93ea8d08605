// A container job on a VM cloud: what the boot script gives the instance. runner.conf names
// the image and no runtime (the runner takes the instance's podman or docker); the instance's
// accelerators go in once per runtime (container-args-podman, container-args-docker), the
// vendor's way; podman is installed at boot only where the VM image has neither; the runner
// is shipped with its container section; and the whole fits EC2's 16 KB of user data.
import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {gunzipSync} from 'node:zlib'

import {CheckpointSigner} from '../../../src/checkpoint/checkpoint-store.js'
import {parseContainerReference} from '../../../src/job/image.js'
import {awsStopProbe, EC2_USER_DATA_LIMIT} from '../../../src/providers/aws/aws-provider.js'
import {finalState, parseConsole} from '../../../src/providers/vm/console-channel.js'
import {attemptFiles, bootScript, bootUserData, readRunnerScript} from '../../../src/providers/vm/boot-script.js'
import {jobSpec, launchRequest, offer} from '../../integration/aws-helpers.js'

const IMAGE = 'nvcr.io/nvidia/pytorch:24.05-py3'

function containerRequest(accelerator: {name: string; count: number} | null) {
  return launchRequest({
    spec: jobSpec('python train.py', {image: IMAGE, container: parseContainerReference(IMAGE), setup: 'pip install -r requirements.txt'}),
    offer: offer({accelerator}),
  })
}

describe('a container job on a VM', () => {
  it('names the image and no runtime in runner.conf (the boot script adds the one the instance has), and passes the accelerators once per runtime', async () => {
    const input = {
      request: containerRequest({name: 'A10G', count: 2}),
      runnerScript: await readRunnerScript(),
      noticeSources: ['aws'],
      stopRequestProbe: null,
    }
    const files = attemptFiles(input, '/var/lib/skyhop/attempts/a1')
    expect(files['runner.conf']).to.match(/^containerImage=.*nvcr\.io\/nvidia\/pytorch:24\.05-py3/m)
    expect(files['runner.conf']).to.not.match(/^containerRuntime=/m)
    expect(files['container-args-docker']).to.equal('--gpus\n"device=0,1"\n')
    expect(files['container-args-podman']).to.equal('--device\nnvidia.com/gpu=0\n--device\nnvidia.com/gpu=1\n')
    // The runner is shipped with its container section.
    expect(files['skyhop-runner.sh']).to.include('sr_ctr_command() {')
  })

  it('passes Ascend NPUs as Huawei documents, and nothing for a CPU-only instance', async () => {
    const runnerScript = await readRunnerScript()
    const npu = attemptFiles(
      {request: containerRequest({name: 'Ascend910B', count: 1}), runnerScript, noticeSources: ['aws'], stopRequestProbe: null},
      '/d',
    )
    expect(npu['container-args-podman'].split('\n')).to.include.members([
      '/dev/davinci0',
      '/dev/davinci_manager',
      'ASCEND_VISIBLE_DEVICES=0',
    ])
    const cpu = attemptFiles({request: containerRequest(null), runnerScript, noticeSources: ['aws'], stopRequestProbe: null}, '/d')
    expect(Object.keys(cpu).filter((k) => k.startsWith('container-args'))).to.deep.equal([])
  })

  it('installs podman at boot only when the VM image has neither runtime, and never under a test root', async () => {
    const runnerScript = await readRunnerScript()
    const script = bootScript({request: containerRequest(null), runnerScript, noticeSources: ['aws'], stopRequestProbe: null})
    expect(script).to.include(
      'if [[ -z ${SKYHOP_BOOT_ROOT-} ]] && ! command -v podman >/dev/null 2>&1 && ! command -v docker >/dev/null 2>&1; then',
    )
    // The runtime found goes into runner.conf with its accelerator arguments; registry
    // credentials come from the secrets' environment, the password on stdin.
    expect(script).to.include(`printf '\\ncontainerRuntime=%s\\n' "$sk_rt" >>"$D/runner.conf"`)
    expect(script).to.include('mv -f "$D/container-args-$sk_rt" "$D/container-args"')
    expect(script).to.include(`printf '%s' "$SKYHOP_REGISTRY_PASSWORD" | "$sk_rt"`)
    expect(script).to.include("--password-stdin 'nvcr.io'")
    expect(spawnSync('bash', ['-n'], {input: script}).status).to.equal(0)
    const plain = bootScript({request: launchRequest(), runnerScript, noticeSources: ['aws'], stopRequestProbe: null})
    expect(plain).to.not.include('install -y podman')
  })

  it("fits EC2's 16 KB of user data with a store, whose runner the instance fetches (without one the runner rides along)", async () => {
    const signer = new CheckpointSigner({
      env: {
        AWS_ACCESS_KEY_ID: 'AKIAFAKEEXAMPLE00001',
        AWS_SECRET_ACCESS_KEY: 'fake/Secret+Key/ForTests0000000000000001',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      homeDir: '/nonexistent',
    })
    const store = {url: 's3://my-training-checkpoints/team/runs', region: 'us-west-2', endpoint: null, syncIntervalSeconds: null}
    const now = new Date()
    const request = {
      ...containerRequest({name: 'A10G', count: 8}),
      checkpointSync: await signer.sync(store, 'j-0123456789', {now, checkpointIntervalSeconds: 600}),
      gang: await signer.gang(store, 'j-0123456789', 'a-0123456789', now),
    }
    const input = {
      request,
      runnerScript: await readRunnerScript(),
      noticeSources: ['aws'],
      stopRequestProbe: awsStopProbe('http://169.254.169.254'),
    }
    const fits = (d: Buffer): boolean => d.length <= EC2_USER_DATA_LIMIT
    const data = bootUserData(input, fits)
    expect(data.fits, `${data.data.length} bytes`).to.equal(true)
    const script = (data.data[0] === 0x1f ? gunzipSync(data.data) : data.data).toString('utf8')
    expect(script).to.include('containerRuntime=%s')
    // Without a store the runner rides along, and with its container section it is too large for EC2.
    const alone = bootUserData({...input, request: {...request, checkpointSync: null, gang: null}}, fits)
    // eslint-disable-next-line no-console
    console.log(
      `      measured: ${data.data.length} bytes of user data with a store; ${alone.data.length} without (limit ${EC2_USER_DATA_LIMIT})`,
    )
    expect(alone.runnerFromStore).to.equal(false)
  })
  it("an image that could not be pulled ends the attempt FAILED with the runner's words, not a bare exit code", () => {
    const message = 'cannot pull container image localhost:1/x:y with podman (see output.log)'
    const report = parseConsole(
      [
        `SKYHOP-EV {"ts":"2026-01-01T00:00:01.000Z","event":"image-pull-failed","message":${JSON.stringify(message)},"exitCode":125}`,
        'SKYHOP-EV {"ts":"2026-01-01T00:00:01.100Z","event":"exit","exitCode":125}',
        'SKYHOP-EXIT 125 125',
      ].join('\n'),
    )
    expect(finalState(report)).to.deep.equal({state: 'FAILED', exitCode: 125, reason: message})
    expect(finalState(parseConsole('SKYHOP-EXIT 3 3')).reason).to.equal('exit 3')
  })
})
