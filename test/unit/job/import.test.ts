// The importer's mapping on small written sources (the real files are in
// test/commands/import.test.ts): accelerator forms, alternatives, dstack's GPU ranges,
// placement, recovery, envs, the listing of keys, and foreign-file detection.
import {expect} from 'chai'
import {mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {COMPAT_VARIABLES} from '../../../src/job/import/common.js'
import {detectForeign, importForeign, ImportRefusal} from '../../../src/job/import/index.js'
import {readDocument} from '../../../src/util/located-document.js'

const dir = mkdtempSync(join(tmpdir(), 'skyhop-import-'))
let n = 0
function imp(text: string, name = `task${n++}.yaml`, from?: 'skypilot' | 'dstack') {
  const file = join(dir, name)
  writeFileSync(file, text)
  return importForeign(readDocument(file, 'T'), {from})
}
const paths = (r: ReturnType<typeof imp>) => r.unmapped.map((u) => `${u.path} ${u.kind}`)

describe('import: SkyPilot tasks', () => {
  it('reads every accelerator form: one, a list (ordered), a set (any), the YAML reading of {A100:1, V100:1}', () => {
    expect(imp('resources: {accelerators: A100:8}\nrun: x\n').job.resources).to.deep.equal({accelerators: 'A100-40GB:8'})
    expect(imp('resources: {accelerators: H100}\nrun: x\n').job.resources).to.deep.equal({accelerators: 'H100-80GB:1'})
    expect(imp('resources:\n  accelerators: [V100:1, T4:1]\nrun: x\n').job.resources).to.deep.equal({
      accelerators: ['V100-16GB:1', 'T4:1'],
      accelerator_order: 'ordered',
    })
    expect(imp('resources:\n  accelerators: {A100: 2, L4: 4}\nrun: x\n').job.resources).to.deep.equal({
      accelerators: ['A100-40GB:2', 'L4:4'],
      accelerator_order: 'any',
    })
    expect(imp('resources:\n  accelerators: {A100-80GB:1, H100:1}\nrun: x\n').job.resources).to.deep.equal({
      accelerators: ['A100-80GB:1', 'H100-80GB:1'],
      accelerator_order: 'any',
    })
    expect(imp("resources:\n  accelerators: '{L4:1, A10G:1}'\nrun: x\n").job.resources).to.deep.equal({
      accelerators: ['L4:1', 'A10G:1'],
      accelerator_order: 'any',
    })
  })

  it('reads any_of and ordered alternatives: accelerators, clouds, regions and a mix of spot', () => {
    const r = imp(
      [
        'resources:',
        '  ordered:',
        '    - {infra: aws/us-east-1, accelerators: H100:8, use_spot: true}',
        '    - {cloud: gcp, region: us-central1, accelerators: A100-80GB:8}',
        'run: x',
      ].join('\n'),
    )
    expect(r.job.resources).to.deep.equal({accelerators: ['H100-80GB:8', 'A100-80GB:8'], accelerator_order: 'ordered'})
    expect(r.job.placement).to.deep.equal({providers: {allow: ['aws', 'gcp']}, regions: {allow: ['aws/us-east-1', 'gcp/us-central1']}})
    expect(r.job.spot).to.equal('auto')
    expect(paths(r)).to.include('/resources/ordered approximated')
    const perAlt = imp(
      'resources:\n  cpus: 8+\n  zone: z\n  any_of:\n    - {accelerators: L4:1, cpus: 16+, ports: 80}\n    - {accelerators: T4:1}\nrun: x\n',
    )
    expect(perAlt.job.resources).to.deep.equal({accelerators: ['L4:1', 'T4:1'], accelerator_order: 'any', cpus: '8+'})
    expect(paths(perAlt)).to.deep.equal([
      '/resources/zone no-equivalent',
      '/resources/any_of/0/cpus approximated',
      '/resources/any_of/0/ports no-equivalent',
    ])
    const any = imp('resources:\n  use_spot: true\n  any_of:\n    - {accelerators: L4:1}\n    - {accelerators: A10G:1}\nrun: x\n')
    expect(any.job.resources).to.deep.equal({accelerators: ['L4:1', 'A10G:1'], accelerator_order: 'any'})
    expect(any.job.spot).to.equal('spot')
  })

  it('maps num_nodes, cpus, memory, disk, max_hourly_cost, autostop and job_recovery', () => {
    const r = imp(
      [
        'name: big',
        'num_nodes: 4',
        'resources:',
        '  accelerators: A100:8',
        '  cpus: 32+',
        '  memory: 256+',
        '  disk_size: 1024',
        '  max_hourly_cost: 40',
        '  autostop: 10',
        '  job_recovery: {strategy: EAGER_NEXT_REGION, max_restarts_on_errors: 2, recover_on_exit_codes: [0, 33]}',
        'run: x',
      ].join('\n'),
    )
    expect(r.job).to.deep.include({name: 'big', nodes: 4, compat: 'skypilot', max_price: '40USD', idle_timeout: '10m'})
    expect(r.job.resources).to.deep.equal({accelerators: 'A100-40GB:8', cpus: '32+', memory: '256GB+', disk: '1024GB'})
    expect(r.job.recovery).to.deep.equal({strategy: 'eager-next-region', max_restarts_on_errors: 2, restart_on_exit_codes: [33]})
    expect(paths(r)).to.include.members([
      '/resources/max_hourly_cost approximated',
      '/resources/autostop approximated',
      '/resources/job_recovery/recover_on_exit_codes approximated',
    ])
  })

  it('lists each key with no equivalent at its line, maps workdir against the task file, converts a bucket, and keeps a container image', () => {
    const r = imp(
      [
        'name: t',
        'workdir: .',
        'file_mounts: {/data: s3://bucket}',
        'resources:',
        '  image_id: docker:nvcr.io/nvidia/pytorch:24.05-py3',
        '  ports: 8080',
        '  zone: us-east-1a',
        '  cloud: kubernetes',
        'run: x',
      ].join('\n'),
    )
    expect(r.job).to.not.have.any.keys('data', 'placement')
    // A bare bucket is a prefix already (every object in it), copied as SkyPilot copies it.
    expect(r.job.files).to.deep.equal({'/data': 's3://bucket'})
    // Relative to the task file, written absolute: the skyhop file may be written elsewhere.
    expect(r.job.workdir).to.equal(dir)
    expect(r.job.image).to.equal('docker:nvcr.io/nvidia/pytorch:24.05-py3')
    expect(r.unmapped.map((u) => [u.path, u.kind, u.line])).to.deep.equal([
      ['/workdir', 'approximated', 2],
      ['/resources/ports', 'no-equivalent', 6],
      ['/resources/zone', 'no-equivalent', 7],
      ['/resources/cloud', 'no-equivalent', 8],
    ])
  })

  it('turns envs without a value and secrets into skyhop secrets, dropping values written in the file', () => {
    const r = imp('envs: {A: 1, TOKEN: null}\nsecrets: {HF_TOKEN: hf_xxx, WANDB: null}\nrun: x\n')
    expect(r.job.envs).to.deep.equal({A: 1})
    expect(r.job.secrets).to.deep.equal(['TOKEN', 'HF_TOKEN', 'WANDB'])
    expect(JSON.stringify(r)).to.not.include('hf_xxx')
    expect(paths(r)).to.deep.equal(['/envs/TOKEN approximated', '/secrets/HF_TOKEN approximated'])
  })

  it("lists SkyPilot's own variables the job reads that compat does not set", () => {
    const r = imp('num_nodes: 2\nrun: echo $SKYPILOT_NODE_RANK ${SKYPILOT_TASK_ID} $SKY_NODE_IPS $MY_VAR\n')
    expect(r.unmapped.map((u) => u.reason.match(/\$\w+/)![0])).to.deep.equal(['$SKYPILOT_TASK_ID', '$SKY_NODE_IPS'])
  })

  it('refuses a task with nothing to run and accelerators skyhop does not know', () => {
    expect(() => imp('num_nodes: 2\nsetup: pip install x\n')).to.throw(ImportRefusal, /no `run` command/)
    expect(() => imp('resources: {accelerators: Nonexistent9000:1}\nrun: x\n')).to.throw(ImportRefusal, /none of the accelerators/)
    const partly = imp('resources: {accelerators: {Nonexistent9000: 1, L4: 1}}\nrun: x\n')
    expect(partly.job.resources).to.deep.equal({accelerators: 'L4:1'})
    expect(partly.unmapped[0].reason).to.include('Nonexistent9000')
  })

  it('names the job from the file when the task has none or one skyhop cannot take', () => {
    expect(imp('num_nodes: 1\nrun: x\n', 'my_task.sky.yaml').job.name).to.equal('my_task')
    const r = imp('name: my task!\nnum_nodes: 1\nrun: x\n')
    expect(r.job.name).to.equal('my-task-')
    expect(paths(r)).to.include('/name approximated')
  })
})

describe('import: workdir', () => {
  it('keeps an absolute SkyPilot workdir as it is, and lists a git workdir as having no equivalent', () => {
    expect(imp('workdir: /srv/code\nrun: x\n').job.workdir).to.equal('/srv/code')
    expect(paths(imp('workdir: /srv/code\nrun: x\n'))).to.deep.equal([])
    const git = imp('workdir: {url: https://github.com/a/b, ref: main}\nrun: x\n')
    expect(git.job).to.not.have.key('workdir')
    expect(paths(git)).to.deep.equal(['/workdir no-equivalent'])
  })

  it("maps dstack's first local repo to the workdir; remote repos and working_dir are listed", () => {
    const r = imp(
      [
        'type: task',
        'repos:',
        '  - https://github.com/a/b.git',
        '  - ../code:/repo',
        '  - local_path: /other',
        'working_dir: /repo',
        'commands: [x]',
      ].join('\n'),
      'repos.dstack.yml',
    )
    expect(r.job.workdir).to.equal(join(dir, '..', 'code'))
    expect(paths(r)).to.deep.equal([
      '/repos/0 no-equivalent',
      '/repos/1 approximated',
      '/repos/2 no-equivalent',
      '/working_dir no-equivalent',
    ])
    expect(imp('type: task\nrepos: [{local_path: /abs}]\ncommands: [x]\n', 'abs.dstack.yml').job.workdir).to.equal('/abs')
  })
})

describe('import: SkyPilot file_mounts and dstack files', () => {
  it('converts every SkyPilot file_mounts form, and lists at its line what it cannot: a bucket to create, IBM cos://, a ~ destination, a missing path', () => {
    writeFileSync(join(dir, 'vocab.txt'), 'a\n')
    mkdirSync(join(dir, 'configs'), {recursive: true})
    const r = imp(
      [
        'name: fm',
        'file_mounts:',
        '  /configs: ./configs', // a local directory, relative to the task file
        '  /data/vocab.txt: vocab.txt',
        '  /datasets: s3://imagenet-bucket/train', // a bucket path: copied whole
        '  /whole: gs://open-data', // a bare bucket
        '  /mnt/ro:',
        '    source: s3://corpus/2026/',
        '    mode: MOUNT',
        '  /mnt/cached:',
        '    source: oss://corpus/2026',
        '    mode: MOUNT_CACHED',
        '  /copied:',
        '    source: s3://models/llama',
        '    mode: COPY',
        '  /checkpoint:',
        '    name: my-ckpt-bucket',
        '    store: s3',
        '    mode: MOUNT',
        '    persistent: true',
        '  /output:',
        '    name: # Fill in your bucket name',
        '    mode: MOUNT',
        '  /ibm: cos://us-east/bucket/x',
        '  /r2: r2://bucket/x',
        '  ~/lit: ./configs',
        '  /missing: ./not-here',
        '  /code:',
        '    name: sky-code',
        '    source: ./configs',
        '    mode: MOUNT',
        'run: echo',
        '',
      ].join('\n'),
    )
    expect(r.job.files).to.deep.equal({
      '/configs': join(dir, 'configs'),
      '/data/vocab.txt': join(dir, 'vocab.txt'),
      '/datasets': 's3://imagenet-bucket/train',
      '/whole': 'gs://open-data',
      '/mnt/ro': {source: 's3://corpus/2026/', mode: 'mount'},
      '/mnt/cached': {source: 'oss://corpus/2026', mode: 'mount'},
      '/copied': 's3://models/llama',
      '/code': join(dir, 'configs'),
    })
    expect(r.unmapped.map((u) => [u.path, u.kind, u.line])).to.deep.equal([
      ['/file_mounts/~1configs', 'approximated', 3],
      ['/file_mounts/~1data~1vocab.txt', 'approximated', 4],
      ['/file_mounts/~1datasets', 'approximated', 5],
      ['/file_mounts/~1mnt~1cached/mode', 'approximated', 12],
      ['/file_mounts/~1copied', 'approximated', 13],
      ['/file_mounts/~1checkpoint', 'left-out', 16],
      ['/file_mounts/~1checkpoint/persistent', 'no-equivalent', 20],
      ['/file_mounts/~1output', 'left-out', 21],
      ['/file_mounts/~1ibm', 'left-out', 24],
      ['/file_mounts/~1r2', 'left-out', 25],
      ['/file_mounts/~0~1lit', 'left-out', 26],
      ['/file_mounts/~1missing', 'left-out', 27],
      ['/file_mounts/~1code', 'approximated', 28],
      ['/file_mounts/~1code', 'approximated', 28],
    ])
    const why = (path: string) => r.unmapped.filter((u) => u.path === path).map((u) => u.reason)
    expect(why('/file_mounts/~1checkpoint')[0]).to.equal(
      'SkyPilot creates (or reuses) the bucket my-ckpt-bucket on s3 and mounts it here; skyhop creates no buckets: create it, then write `/checkpoint: {source: s3://BUCKET/, mode: mount}`, or save results with `outputs:`',
    )
    expect(why('/file_mounts/~1output')[0]).to.include('the bucket (no name given)')
    expect(why('/file_mounts/~1ibm')[0]).to.include('IBM Cloud Object Storage')
    expect(why('/file_mounts/~1datasets')[0]).to.equal(
      'copied as one object; SkyPilot also copies a folder written so: if s3://imagenet-bucket/train is one, write s3://imagenet-bucket/train/ (every object under it)',
    )
    expect(why('/file_mounts/~0~1lit')[0]).to.include(
      '"~/lit" is not an absolute path: skyhop places files at absolute paths, and ~ is the home of the machine\'s user',
    )
    expect(why('/file_mounts/~1missing')[0]).to.include(`./not-here does not exist here (looked for ${join(dir, 'not-here')})`)
  })

  it("converts dstack's files: LOCAL:REMOTE to an absolute path, PATH into the workdir, and lists the rest", () => {
    const sub = mkdtempSync(join(dir, 'ds-'))
    writeFileSync(join(sub, 'train.py'), 'print(1)\n')
    writeFileSync(join(sub, 'requirements.txt'), 'torch\n')
    mkdirSync(join(sub, 'keys'))
    writeFileSync(join(sub, 'keys', 'id'), 'k\n')
    const file = join(sub, '.dstack.yml')
    writeFileSync(
      file,
      [
        'type: task',
        'files:',
        '  - requirements.txt', // the working directory: the config's directory becomes the workdir
        '  - train.py',
        '  - keys/id:/root/.ssh/id', // absolute remote
        '  - local_path: keys',
        '    path: /etc/keys',
        '  - ../elsewhere.txt:data/x.txt', // relative remote, not at that place: listed
        '  - a:b:c',
        'commands: [python train.py]',
        '',
      ].join('\n'),
    )
    const r = importForeign(readDocument(file, 'T'), {})
    expect(r.job.workdir).to.equal(sub)
    expect(r.job.files).to.deep.equal({'/root/.ssh/id': join(sub, 'keys', 'id'), '/etc/keys': join(sub, 'keys')})
    expect(r.unmapped.map((u) => [u.path, u.kind, u.line])).to.deep.equal([
      ['/files/0', 'approximated', 3],
      ['/files/1', 'approximated', 4],
      ['/files/2', 'approximated', 5],
      ['/files/3', 'approximated', 6],
      ['/files/4', 'left-out', 8],
      ['/files/5', 'left-out', 9],
    ])
    expect(r.unmapped[0].reason).to.include(`the workdir is set to ${sub}, where it is ./requirements.txt`)
    expect(r.unmapped[1].reason).to.equal(`train.py is already ./train.py in the workdir ${sub}; nothing to add`)
    expect(r.unmapped[4].reason).to.include('does not exist here')
  })

  it('imports the real SkyPilot and dstack files with mounts: nothing silently dropped', () => {
    const foreign = join(process.cwd(), 'test', 'data', 'foreign')
    const read = (p: string) => importForeign(readDocument(join(foreign, p), 'T'), {})
    const lora = read('skypilot/llama-3_1-lora.yaml')
    expect(lora.unmapped.filter((u) => u.path.startsWith('/file_mounts')).map((u) => [u.path, u.kind])).to.deep.equal([
      ['/file_mounts/~1configs', 'left-out'],
      ['/file_mounts/~1output', 'left-out'],
    ])
    expect(lora.unmapped.find((u) => u.path === '/file_mounts/~1output')!.reason).to.include('the bucket $CHECKPOINT_BUCKET_NAME')
    const cifar = read('skypilot/spot-lightning_cifar10.yaml')
    expect(cifar.unmapped.filter((u) => u.path.startsWith('/file_mounts')).map((u) => [u.path, u.kind])).to.deep.equal([
      ['/file_mounts/~1checkpoint', 'left-out'],
      ['/file_mounts/~0~1lit', 'left-out'],
    ])
    // SkyPilot's own file_mounts example: every form it shows, each converted or listed at its line.
    const example = read('skypilot/using_file_mounts.yaml')
    const skyDir = join(foreign, 'skypilot')
    expect(example.job.files).to.deep.include({
      '/sky': skyDir,
      '/train-00001-of-01024': 'gs://cloud-tpu-test-datasets/fake_imagenet/train-00001-of-01024',
      '/data/train-00001-of-01024': 'gs://cloud-tpu-test-datasets/fake_imagenet/train-00001-of-01024',
      '/s3-data-test': 's3://fah-public-data-covid19-cryptic-pockets/human/il6/PROJ14534/RUN999/CLONE0/results0',
      '/s3-data-file': 's3://fah-public-data-covid19-cryptic-pockets/human/il6/PROJ14534/RUN999/CLONE0/results0/frame0.xtc',
    })
    const mounts = example.unmapped.filter((u) => u.path.startsWith('/file_mounts/'))
    // The 15 entries of the file: each is listed, the 5 converted ones with what changed (a path
    // written absolute, a bucket path copied as one object).
    expect(new Set(mounts.map((u) => u.path)).size).to.equal(15)
    expect(mounts.filter((u) => u.kind === 'left-out').map((u) => [u.path, u.line])).to.deep.include.members([
      ['/file_mounts/~1setup.py', 29],
      ['/file_mounts/~0~1tmpfile', 32],
      ['/file_mounts/relative_dir', 61],
      ['/file_mounts/~0~1data~1train-00001-of-01024', 71],
    ])
    expect(mounts.find((u) => u.path === '/file_mounts/relative_dir')!.reason).to.include("SkyPilot's remote workdir (~/sky_workdir)")
    // qlora's requirements.txt and train.py are not in test/data: listed, not written as paths that do not exist.
    const qlora = read('dstack/qlora.dstack.yml')
    expect(qlora.job).to.not.have.any.keys('files', 'workdir')
    expect(qlora.unmapped.filter((u) => u.path.startsWith('/files')).map((u) => [u.path, u.kind, u.line])).to.deep.equal([
      ['/files/0', 'left-out', 10],
      ['/files/1', 'left-out', 11],
    ])
  })
})

describe('import: dstack run configurations', () => {
  it("keeps dstack's image as the job's container image", () => {
    const r = imp('type: task\nimage: nvcr.io/nvidia/pytorch:24.05-py3\ncommands: [x]\n')
    expect(r.job.image).to.equal('docker:nvcr.io/nvidia/pytorch:24.05-py3')
    expect(r.unmapped.map((u) => u.path)).to.not.include('/image')
  })

  const gpu = (spec: string) => imp(`type: task\ncommands: [x]\nresources:\n  gpu: ${spec}\n`).job.resources
  it("reads dstack's GPU forms: count, name, name:count, memory ranges, vendor, name lists and mappings", () => {
    expect(gpu('1')).to.deep.equal({accelerators: {vendor: 'nvidia', count: 1}})
    expect(gpu('1..8')).to.deep.equal({accelerators: {vendor: 'nvidia', count: '1..8'}})
    expect(gpu('2..')).to.deep.equal({accelerators: {vendor: 'nvidia', count: '2+'}})
    expect(gpu('A100:2')).to.deep.equal({accelerators: 'A100-40GB:2'})
    expect(gpu('A100:80GB:2')).to.deep.equal({accelerators: {name: 'A100-80GB', memory: '80GB', count: 2}})
    expect(gpu('24GB..80GB:2')).to.deep.equal({accelerators: {vendor: 'nvidia', memory: '24GB..80GB', count: 2}})
    expect(gpu('40GB..')).to.deep.equal({accelerators: {vendor: 'nvidia', memory: '40GB..', count: 1}})
    expect(gpu('amd:192GB:8')).to.deep.equal({accelerators: {vendor: 'amd', memory: '192GB', count: 8}})
    expect(gpu('A10G,L4')).to.deep.equal({accelerators: 'A10G,L4:1'})
    expect(gpu('{name: [H100, H200], count: 1..8}')).to.deep.equal({accelerators: 'H100-80GB,H200:1..8'})
    expect(gpu('{name: A100, memory: 40GB..80GB, count: {min: 2, max: 4}}')).to.deep.equal({
      accelerators: {name: 'A100-40GB', memory: '40GB..80GB', count: '2..4'},
    })
    expect(gpu('v5litepod-8')).to.deep.equal({accelerators: 'TPU-v5e:1'})
  })

  it('maps cpu, memory and disk ranges to at-least values, listing the upper bounds and the architecture', () => {
    const r = imp('type: task\ncommands: [x]\nresources:\n  cpu: arm:8..16\n  memory: 64GB..\n  disk: 100GB..200GB\n  shm_size: 8GB\n')
    expect(r.job.resources).to.deep.equal({cpus: '8+', memory: '64GB+', disk: '100GB'})
    expect(paths(r)).to.deep.equal([
      '/resources/cpu no-equivalent',
      '/resources/cpu approximated',
      '/resources/disk approximated',
      '/resources/shm_size no-equivalent',
    ])
  })

  it('maps env, spot_policy, retry, max_price, idle_duration, stop_duration, backends and regions', () => {
    const r = imp(
      [
        'type: task',
        'name: t',
        'nodes: 2',
        'env: [A=1, TOKEN]',
        'commands: [echo $A]',
        'spot_policy: auto',
        'retry: {on_events: [interruption, error], duration: 1h}',
        'max_price: 2.5',
        'idle_duration: 5m',
        'stop_duration: 90s',
        'backends: [aws, vastai]',
        'regions: [us-east-1]',
      ].join('\n'),
    )
    expect(r.job).to.deep.include({
      name: 't',
      nodes: 2,
      compat: 'dstack',
      spot: 'auto',
      max_price: '2.5USD',
      idle_timeout: '5m',
      envs: {A: '1'},
      secrets: ['TOKEN'],
      placement: {providers: {allow: ['aws']}, regions: {allow: ['us-east-1']}},
      recovery: {grace: '90s'},
    })
    expect(paths(r)).to.include.members([
      '/retry approximated',
      '/retry/duration no-equivalent',
      '/backends/1 no-equivalent',
      '/max_price approximated',
    ])
    expect(imp('type: task\ncommands: [x]\nretry: false\n').job.recovery).to.deep.equal({max_restarts: 0})
  })

  it('joins commands as dstack does (&&, a background command braced) and rewrites its ${{ }} interpolations', () => {
    const r = imp(
      'type: task\ncommands:\n  - pip install x\n  - tensorboard &\n  - python t.py ${{ run.args }} --token ${{ secrets.HF }}\n',
    )
    expect(r.job.run).to.equal('pip install x &&\n{ tensorboard & } &&\npython t.py  --token ${HF}')
    expect(r.job.secrets).to.deep.equal(['HF'])
    expect(paths(r)).to.deep.equal(['/commands no-equivalent'])
  })

  it('holds the machine for a dev environment, and refuses fleets and commandless services', () => {
    const dev = imp('type: dev-environment\nide: vscode\ninit: [pip install x]\n')
    expect(dev.job.run).to.equal('pip install x && sleep infinity')
    expect(paths(dev)).to.include.members(['/type approximated', '/ide no-equivalent'])
    expect(() => imp('type: fleet\nnodes: 2\n')).to.throw(ImportRefusal, /fleet configuration describes no job/)
    expect(() => imp('type: service\nimage: nginx\nport: 80\n')).to.throw(ImportRefusal, /has no `commands`/)
    expect(() => imp('type: task\ncommands: [x]\nresources: {gpu: tt:1}\n')).to.throw(ImportRefusal, /"tt"/)
  })
})

describe('import: detection', () => {
  it('tells SkyPilot from dstack from skyhop by the keys only each uses', () => {
    expect(detectForeign({num_nodes: 2, run: 'x'})).to.deep.include({format: 'skypilot', evidence: ['/num_nodes']})
    expect(detectForeign({resources: {accelerators: {A100: 1}}, envs: {A: 1}, run: 'x'})).to.equal(null)
    expect(detectForeign({resources: {accelerators: {A100: 1}}, run: 'x'}, {lenient: true})).to.deep.include({format: 'skypilot'})
    expect(detectForeign({resources: {accelerators: {A100: 1}, ports: 80}, run: 'x'})).to.deep.include({format: 'skypilot'})
    expect(detectForeign({type: 'service', commands: ['x'], port: 80})).to.deep.include({format: 'dstack', kind: 'service'})
    expect(detectForeign({type: 'fleet', nodes: 2, placement: 'cluster'})).to.deep.include({format: 'dstack', kind: 'fleet'})
    // A skyhop file: nothing; a skyhop file with one stray foreign key: still skyhop's own mistakes.
    expect(detectForeign({name: 'a', run: 'x', resources: {accelerators: {vendor: 'nvidia'}}})).to.equal(null)
    expect(detectForeign({name: 'a', run: 'x', spot: 'spot', num_nodes: 2})).to.equal(null)
    expect(detectForeign({name: 'a', run: 'x', regions: ['us-east-1'], ports: [80]})).to.equal(null)
    expect(detectForeign({name: 'a', run: 'x', resources: {accelerators: {vendr: 'nvidia'}}})).to.equal(null)
    expect(detectForeign({name: 'a', run: 'x', resources: {accelerators: {count: 2}}})).to.equal(null)
    expect(detectForeign({run: 'x', regions: ['us-east-1']})).to.equal(null)
    expect(detectForeign({python: '3.11', env: ['A=1'], run: 'x'})).to.deep.include({format: 'dstack'})
    // A minimal SkyPilot task has no mark; only import (lenient) takes it.
    expect(detectForeign({run: 'x', resources: {accelerators: 'V100:1'}})).to.equal(null)
    expect(detectForeign({run: 'x', resources: {accelerators: 'V100:1'}}, {lenient: true})).to.deep.include({format: 'skypilot'})
  })

  it('--from forces the format of a file with no marks', () => {
    const r = imp('name: a\nrun: echo\n', 'plain.yaml', 'skypilot')
    expect(r.format).to.equal('skypilot')
    expect(r.job).to.deep.equal({name: 'a', compat: 'skypilot', run: 'echo'})
    expect(() => imp('name: a\nrun: echo\n', 'plain2.yaml')).to.throw(ImportRefusal, /--from skypilot or --from dstack/)
  })

  it("knows the same compat variables as the runner sets (src/runner/skyhop-runner.sh's sr_gang_env)", () => {
    const runner = readFileSync(new URL('../../../src/runner/skyhop-runner.sh', import.meta.url), 'utf8')
    for (const [name, vars] of Object.entries(COMPAT_VARIABLES)) {
      const line = new RegExp(`\\n\\s*${name}\\)\\n([^;]+);;`).exec(runner)
      expect(line, `no ${name}) case in sr_gang_env`).to.not.equal(null)
      const set = [...line![1].matchAll(/([A-Z][A-Z0-9_]+)=/g)].map((m) => m[1])
      expect(set.sort()).to.deep.equal([...vars].sort())
    }
  })
})
