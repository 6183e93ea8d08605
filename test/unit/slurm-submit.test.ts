// What the Slurm provider hands sbatch (exact argument vectors, the batch script, names
// and tags), and its offers from recorded sinfo/scontrol output of a GPU cluster, which
// this machine does not have (fake-slurm outputs, labelled as such).
import {expect} from 'chai'
import {execFileSync, spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ProviderError} from '../../src/errors.js'
import type {SlurmRunner} from '../../src/providers/slurm/commands.js'
import {SlurmProvider} from '../../src/providers/slurm/slurm-provider.js'
import {renderSecretsObject} from '../../src/providers/vm/boot-script.js'
import {
  minutesUntil,
  renderBatchScript,
  resourceArgs,
  SECRETS_FIFO_FILE,
  sbatchArgs,
  shapeFor,
  slurmJobName,
  slurmTag,
} from '../../src/providers/slurm/submit.js'
import {partitionOffer, slurmSpec} from '../helpers/slurm.js'

describe('slurm submission', () => {
  const spec = slurmSpec('true', {
    resources: {
      accelerators: [],
      acceleratorOrder: 'any',
      runtimes: null,
      cpus: {value: 4, atLeast: true},
      memoryGB: {value: 1.5, atLeast: false},
      diskGB: null,
    },
  })

  it('turns a job and an offer into resource flags, accelerators into --gres through the mapping', () => {
    const gpuOffer = partitionOffer('gpu', {accelerator: {name: 'A100-80GB', count: 8}})
    const shape = shapeFor(spec, gpuOffer, {gresByAccelerator: {'A100-80GB': 'gpu:a100'}, account: 'proj1', qos: 'normal'})
    expect(resourceArgs(shape)).to.deep.equal([
      '--partition=gpu',
      '--nodes=1',
      '--ntasks=1',
      '--cpus-per-task=4',
      '--mem=1536M',
      '--gres=gpu:a100:8',
      '--account=proj1',
      '--qos=normal',
    ])
    expect(resourceArgs(shapeFor(slurmSpec('true', {nodes: 2}), partitionOffer('high'), {gresByAccelerator: {}}))).to.deep.equal([
      '--partition=high',
      '--nodes=2',
      '--ntasks-per-node=1',
    ])
  })

  it('refuses an accelerator it has no GRES name for, as a user error with the fix', () => {
    const e = (() => {
      try {
        shapeFor(spec, partitionOffer('npu', {accelerator: {name: 'Ascend910B', count: 8}}), {gresByAccelerator: {}})
      } catch (error) {
        return error
      }
    })()
    expect(e).to.be.instanceOf(ProviderError)
    expect((e as ProviderError).category).to.equal('user')
    expect((e as ProviderError).hint).to.match(/providers\.slurm\.gres/)
  })

  it('builds the sbatch argument vector: tag, requeue, output into the attempt directory, only named variables exported', () => {
    const shape = shapeFor(slurmSpec('true'), partitionOffer('low'), {gresByAccelerator: {}})
    expect(
      sbatchArgs({
        shape,
        jobName: 'skyhop-x-a1',
        tag: 'skyhop:att-1',
        attemptDir: '/data/att 1',
        batchScript: '/data/att 1/slurm-batch.sh',
        requeue: true,
        exportNames: ['PATH', 'HOME'],
      }),
    ).to.deep.equal([
      '--parsable',
      '--job-name=skyhop-x-a1',
      '--comment=skyhop:att-1',
      '--partition=low',
      '--nodes=1',
      '--ntasks=1',
      '--requeue',
      '--chdir=/data/att 1',
      '--output=/data/att 1/slurm.out',
      '--export=PATH,HOME',
      '/data/att 1/slurm-batch.sh',
    ])
    expect(
      sbatchArgs({shape, jobName: 'n', tag: 't', attemptDir: '/d', batchScript: '/d/b', requeue: false, exportNames: []}),
    ).to.include.members(['--no-requeue', '--export=NONE'])
  })

  it('writes a batch script that runs the runner as one step, with paths as data', () => {
    const script = renderBatchScript({
      attemptId: 'att-1',
      attemptDir: "/tmp/it's here",
      runnerPath: '/tmp/x/skyhop-runner.sh',
      cpusPerTask: 2,
    })
    expect(script).to.match(/^#!\/bin\/bash\n/)
    expect(script).to.include(
      `exec srun --nodes=1 --ntasks=1 --cpus-per-task=2 --export=ALL --quiet bash '/tmp/x/skyhop-runner.sh' --keep '/tmp/it'\\''s here'`,
    )
    // bash agrees that the quoted path is one word.
    const dir = mkdtempSync(join(tmpdir(), 'skyhop-batch-'))
    try {
      const probe = join(dir, 'probe.sh')
      writeFileSync(probe, script.replace('exec srun --nodes=1 --ntasks=1 --cpus-per-task=2 --export=ALL --quiet bash', 'printf "%s\\n"'))
      expect(execFileSync('bash', [probe], {encoding: 'utf8'})).to.equal("/tmp/x/skyhop-runner.sh\n--keep\n/tmp/it's here\n")
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('with secrets, the batch script reads them from a FIFO in memory before the step, never from sbatch', async () => {
    const dir = mkdtempSync(join(tmpdir(), "skyhop-batch-it's-"))
    const script = renderBatchScript({
      attemptId: 'att-3',
      attemptDir: dir,
      runnerPath: '/tmp/x/skyhop-runner.sh',
      cpusPerTask: null,
      secrets: true,
    })
    const step = 'exec srun --nodes=1 --ntasks=1 --export=ALL --quiet bash'
    expect(script.indexOf('mkfifo')).to.be.greaterThan(0).and.below(script.indexOf(step))
    // The step prints what it inherits instead of running the runner.
    const probe = join(dir, 'probe.sh')
    writeFileSync(probe, script.replace(`${step} `, `exec bash -c 'printf "[%s]" "$SK_A" "$SK_B"' `))
    try {
      const child = spawn('bash', [probe], {env: {...process.env, SLURMD_NODENAME: 'n7'}})
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      const named = join(dir, SECRETS_FIFO_FILE)
      for (let i = 0; i < 100 && !existsSync(named); i++) await new Promise((r) => setTimeout(r, 50))
      const [node, fifo] = readFileSync(named, 'utf8').trim().split(' ')
      expect(node).to.equal('n7')
      expect(fifo.startsWith('/dev/shm/skyhop-secrets.') || fifo.startsWith(tmpdir())).to.equal(true)
      const a = `it's "$HOME"\n`
      const b = 'x='
      writeFileSync(fifo, renderSecretsObject({SK_A: a, SK_B: b}) + 'end\n')
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
      expect(code).to.equal(0)
      expect(out).to.equal(`[${a}][${b}]`)
      // Nothing of them is left: the FIFO's directory and its name in the attempt directory are gone.
      expect(existsSync(named)).to.equal(false)
      expect(existsSync(fifo)).to.equal(false)
      // A job cancelled while it waits (SIGTERM) leaves neither behind either.
      const waiting = spawn('bash', [probe], {env: {...process.env, SLURMD_NODENAME: 'n7'}})
      for (let i = 0; i < 100 && !existsSync(named); i++) await new Promise((r) => setTimeout(r, 50))
      const second = readFileSync(named, 'utf8').trim().split(' ')[1]
      expect(second).to.not.equal(fifo)
      waiting.kill('SIGTERM')
      expect(await new Promise<number | null>((resolve) => waiting.on('close', resolve))).to.equal(143)
      expect(existsSync(named)).to.equal(false)
      expect(existsSync(second)).to.equal(false)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('writes a gang batch script: the peer list from Slurm before one step of one runner per node, paths as data', () => {
    const script = renderBatchScript({
      attemptId: 'att-2',
      attemptDir: "/tmp/it's here",
      runnerPath: '/tmp/x/skyhop-runner.sh',
      cpusPerTask: 2,
      nodes: 3,
    })
    expect(script).to.include(`dir='/tmp/it'\\''s here'`)
    expect(script).to.include('scontrol show hostnames "$SLURM_JOB_NODELIST"')
    expect(script).to.include(`sinfo --noheader --all --Node --nodes="$SLURM_JOB_NODELIST" --format='%N %o'`)
    expect(script).to.include('[ "$count" -eq 3 ]')
    // The list is renamed into place before the step starts, so no runner reads half of it.
    const written = script.indexOf('mv -f "$dir/node-ips.tmp" "$dir/node-ips"')
    const step = script.indexOf('exec srun --nodes=3 --ntasks-per-node=1 --cpus-per-task=2 --export=ALL --quiet bash -c ')
    expect(written).to.be.greaterThan(0)
    expect(step).to.be.greaterThan(written)
    expect(script.trimEnd().endsWith(`'/tmp/x/skyhop-runner.sh' "$dir"`)).to.equal(true)
    expect(script).to.include('SKYHOP_RUNNER_NODE_RANK=$rank exec bash "$0" --keep "$1"')
    const dir = mkdtempSync(join(tmpdir(), 'skyhop-batch-'))
    try {
      const probe = join(dir, 'probe.sh')
      writeFileSync(probe, script)
      execFileSync('bash', ['-n', probe])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
    // One node: the script of old, unchanged.
    expect(renderBatchScript({attemptId: 'a', attemptDir: '/d', runnerPath: '/r', cpusPerTask: null, nodes: 1})).to.equal(
      renderBatchScript({attemptId: 'a', attemptDir: '/d', runnerPath: '/r', cpusPerTask: null}),
    )
  })

  it('names and tags jobs safely', () => {
    expect(slurmJobName('train llama; $(rm -rf /)', 2)).to.equal('skyhop-train-llama-rm-rf-a2')
    expect(slurmJobName('***', 1)).to.equal('skyhop-job-a1')
    expect(slurmTag('att-1', 'att-1')).to.equal('skyhop:att-1')
    expect(slurmTag('att-1', 'key-1')).to.equal('skyhop:att-1:key-1')
    expect(slurmTag('att-1', 'a key with spaces')).to.match(/^skyhop:att-1:[0-9a-f]{32}$/)
  })

  it('reads start times as minutes, Slurm\'s "a year from now" as unknown', () => {
    const now = new Date('2026-11-27T22:52:00')
    expect(minutesUntil('2026-11-27T22:52:00', now)).to.deep.equal({minutes: 0, known: true})
    expect(minutesUntil('2026-11-27T23:02:30', now)).to.deep.equal({minutes: 11, known: true})
    expect(minutesUntil('2027-11-27T22:52:29', now)).to.deep.equal({minutes: 365 * 24 * 60, known: false})
    // Both answered by this cluster with two unlimited jobs ahead.
    expect(minutesUntil('6110-12-21T01:47:29', now)).to.deep.equal({minutes: 365 * 24 * 60, known: false})
    expect(minutesUntil('10193-01-12T03:54:29', now)).to.deep.equal({minutes: 365 * 24 * 60, known: false})
    expect(minutesUntil('garbage', now)).to.equal(null)
  })
})

describe('slurm offers (fake-slurm: recorded output of a GPU cluster)', () => {
  // sinfo and scontrol as a cluster with an A100 partition, a preemptible scavenger
  // partition, a DOWN one and a hidden one prints them.
  const outputs: Record<string, string> = {
    sinfo: [
      'gpu|up|64|512000|gpu:a100:8(S:0-1)|3|mix|2-00:00:00',
      'gpu|up|64|512000|gpu:a100:8(S:0-1)|1|down*|2-00:00:00',
      'scav|up|32|128000|(null)|10|idle|1-00:00:00',
      'old|down|16|64000|(null)|2|idle|infinite',
      'admin|up|16|64000|(null)|2|idle|infinite',
    ].join('\n'),
    partition: [
      'PartitionName=gpu Default=NO GraceTime=0 Hidden=NO MaxTime=2-00:00:00 PriorityTier=10 PreemptMode=OFF State=UP TotalCPUs=256 TotalNodes=4',
      'PartitionName=scav Default=YES GraceTime=120 Hidden=NO MaxTime=1-00:00:00 PriorityTier=1 PreemptMode=REQUEUE State=UP TotalCPUs=320 TotalNodes=10',
      'PartitionName=old Default=NO GraceTime=0 Hidden=NO MaxTime=UNLIMITED PriorityTier=1 PreemptMode=OFF State=DOWN TotalCPUs=32 TotalNodes=2',
      'PartitionName=admin Default=NO GraceTime=0 Hidden=YES MaxTime=UNLIMITED PriorityTier=1 PreemptMode=OFF State=UP TotalCPUs=32 TotalNodes=2',
    ].join('\n'),
  }
  const fakeSlurmRunner: SlurmRunner = async (command, args) => {
    if (command === 'sinfo') return {code: 0, stdout: outputs.sinfo, stderr: ''}
    if (command === 'scontrol' && args[1] === 'partition') return {code: 0, stdout: outputs.partition, stderr: ''}
    if (command === 'scontrol' && args[1] === 'config') return {code: 0, stdout: 'ClusterName             = hpc1\n', stderr: ''}
    return {code: 1, stdout: '', stderr: `unexpected ${command} ${args.join(' ')}`}
  }

  it('makes one offer per visible partition with GRES mapped, prices from config, preemptible ones spot-only', async () => {
    const provider = new SlurmProvider({
      home: '/tmp/unused',
      runner: fakeSlurmRunner,
      gres: {'A100-80GB': 'gpu:a100'},
      prices: {gpu: {amount: 12.5, currency: 'USD'}, scav: {amount: 1, currency: 'CNY'}},
      now: () => new Date('2026-11-27T12:00:00Z'),
    })
    const offers = await provider.liveOffers()
    expect(offers.map((o) => o.instanceType)).to.deep.equal(['gpu', 'scav', 'old'])
    const [gpu, scav, old] = offers
    expect(gpu).to.deep.include({
      region: 'hpc1',
      zone: 'gpu',
      accelerator: {name: 'A100-80GB', count: 8},
      vcpus: 64,
      memoryGiB: 500,
      capacity: 3,
      // A gang fits on as many nodes as the partition has (TotalNodes), usable now or not.
      maxNodes: 4,
      noticeSeconds: null,
      priceStatus: 'list',
      asOf: '2026-11-27',
    })
    expect(gpu.price).to.deep.equal({onDemand: 12.5, spot: null, currency: 'USD'})
    expect(scav).to.deep.include({accelerator: null, capacity: 10, maxNodes: 10, noticeSeconds: 120})
    expect(provider.maxNodes).to.equal(10)
    expect(scav.price).to.deep.equal({onDemand: null, spot: 1, currency: 'CNY'})
    expect(old).to.deep.include({capacity: 0, priceStatus: 'estimate'})
    expect(old.price).to.deep.equal({onDemand: 0, spot: null, currency: 'USD'})
  })

  it('lists only configured partitions, hidden ones included when named', async () => {
    const provider = new SlurmProvider({home: '/tmp/unused', runner: fakeSlurmRunner, partitions: ['admin', 'scav'], cluster: 'mine'})
    const offers = await provider.liveOffers()
    expect(offers.map((o) => `${o.region}/${o.instanceType}`)).to.deep.equal(['mine/scav', 'mine/admin'])
    // A GRES with no mapping gives a CPU offer rather than a guess.
    const unmapped = await new SlurmProvider({home: '/tmp/unused', runner: fakeSlurmRunner, partitions: ['gpu']}).liveOffers()
    expect(unmapped[0].accelerator).to.equal(null)
  })
})

describe('slurm provider from config', () => {
  const config = {
    enabled: null as boolean | null,
    cluster: 'c1',
    partitions: ['p'],
    account: null,
    qos: null,
    gres: {},
    pricePerHourUsd: {p: 2},
  }

  it('is off when config says so and on without asking Slurm when config says so', async () => {
    expect(await SlurmProvider.fromConfig('/tmp/unused', {...config, enabled: false})).to.equal(null)
    const on = await SlurmProvider.fromConfig('/tmp/unused', {...config, enabled: true}, {PATH: '/nonexistent'})
    expect(on).to.be.instanceOf(SlurmProvider)
  })

  it('is off when unset and the Slurm commands are not there', async () => {
    expect(await SlurmProvider.fromConfig('/tmp/unused', config, {PATH: '/nonexistent'})).to.equal(null)
  })
})
