// files: with mode: mount on a VM: the boot script's lines, as text. Each bucket kind gets
// its cloud's FUSE tool with the prefix, region or endpoint of the entry and no key; every
// value is quoted; a failed mount ends the boot before the runner with exit 70; and the
// generated script is valid bash.
import {expect} from 'chai'
import {spawnSync} from 'node:child_process'

import type {FileEntry} from '../../../src/model/job-spec.js'
import {mountCommand, mountLines} from '../../../src/providers/vm/bucket-mounts.js'
import {bootScript, readRunnerScript} from '../../../src/providers/vm/boot-script.js'
import {jobSpec, launchRequest} from '../../integration/aws-helpers.js'

const CONSOLE = {event: 'SKYHOP-EV', exit: 'SKYHOP-EXIT'}

function mount(path: string, url: string, extra: {region?: string; endpoint?: string} = {}): FileEntry & {source: {kind: 'bucket'}} {
  const m = /^([a-z0-9]+):\/\/([^/]+)\/?(.*)$/.exec(url)!
  return {
    path,
    mode: 'mount',
    source: {kind: 'bucket', scheme: m[1] as 's3', bucket: m[2], key: m[3], region: extra.region ?? null, endpoint: extra.endpoint ?? null},
  }
}

describe('bucket mounts in the boot script', () => {
  it('mounts S3 with mountpoint-s3: region, prefix, endpoint; no key', () => {
    const {tool, command} = mountCommand(mount('/mnt/data', 's3://corpus/2026/en'), 'us-east-1')
    expect(tool).to.equal('mount-s3')
    expect(command).to.equal("mount-s3 --region 'us-east-1' --prefix '2026/en/' --allow-other 'corpus' '/mnt/data'")
    const custom = mountCommand(mount('/mnt/d', 's3://b1/', {region: 'eu-west-1', endpoint: 'http://minio:9000'}), 'us-east-1').command
    expect(custom).to.equal("mount-s3 --region 'eu-west-1' --endpoint-url 'http://minio:9000' --allow-other 'b1' '/mnt/d'")
  })

  it("mounts OSS, OBS, COS and GCS with their tools, on the region's internal endpoints and the instance's role", () => {
    expect(mountCommand(mount('/d', 'oss://ds/train/'), 'cn-hangzhou').command).to.equal(
      `ossfs 'ds:/train/' '/d' '-ourl=https://oss-cn-hangzhou-internal.aliyuncs.com' "-oram_role=http://100.100.100.200/latest/meta-data/ram/security-credentials/$(curl -fsS http://100.100.100.200/latest/meta-data/ram/security-credentials/)" -oallow_other`,
    )
    expect(mountCommand(mount('/d', 'obs://ds'), 'cn-north-4').command).to.equal(
      `obsfs 'ds:/' '/d' -o 'url=https://obs.cn-north-4.myhuaweicloud.com' -o allow_other`,
    )
    expect(mountCommand(mount('/d', 'cos://ds-1250000000/x'), 'ap-guangzhou').command).to.equal(
      `cosfs 'ds-1250000000:/x/' '/d' '-ourl=https://cos.ap-guangzhou.myqcloud.com' -ocam_role=sts -oallow_other`,
    )
    expect(mountCommand(mount('/d', 'gs://open/x/y/'), 'us-central1').command).to.equal(
      `gcsfuse --only-dir 'x/y' -o allow_other 'open' '/d'`,
    )
  })

  it('quotes what the job file wrote', () => {
    const {command} = mountCommand(mount("/mnt/it's here", 's3://bkt/a b/$(echo pwned)'), 'us-east-1')
    // bash reads back exactly what was written, and runs nothing of it.
    const script = `f() { printf '%s\\n' "$@"; }; f ${command.replace(/^mount-s3 /, '')}`
    const args = spawnSync('bash', ['-c', script], {encoding: 'utf8'}).stdout.split('\n')
    expect(args).to.include.members(["/mnt/it's here", 'a b/$(echo pwned)/', 'bkt'])
  })

  it('writes nothing without mounts; with one, installs the tool when missing and fails the boot with exit 70 when the mount fails', () => {
    expect(mountLines([], 'us-east-1', CONSOLE)).to.equal('')
    const copy: FileEntry = {path: '/x', mode: 'copy', source: {kind: 'local', path: '/y', directory: false}}
    expect(mountLines([copy], 'us-east-1', CONSOLE)).to.equal('')
    const lines = mountLines([mount('/mnt/data', 's3://corpus/2026/')], 'us-east-1', CONSOLE)
    expect(lines).to.include('command -v mount-s3 >/dev/null 2>&1 ||')
    expect(lines).to.include("|| sk_mount_fail 'files: cannot mount s3://corpus/2026/ at /mnt/data with mount-s3'")
    expect(lines).to.include('SKYHOP-EXIT 70 none')
    expect(lines).to.not.match(/AWS_SECRET|AWS_ACCESS_KEY|aws_secret/i)
  })

  it('goes into an AWS boot script before the runner starts, as valid bash', async () => {
    const spec = jobSpec('ls /mnt/data', {files: [mount('/mnt/data', 's3://corpus/2026/')]})
    const script = bootScript({
      request: launchRequest({spec}),
      runnerScript: await readRunnerScript(),
      noticeSources: ['aws'],
      stopRequestProbe: null,
    })
    const at = script.indexOf('mount-s3 --region')
    expect(at).to.be.greaterThan(0)
    expect(at).to.be.lessThan(script.indexOf('skyhop-runner.sh"'))
    expect(spawnSync('bash', ['-n'], {input: script}).status).to.equal(0)
  })
})
