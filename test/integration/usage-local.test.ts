// Utilisation end to end on the local provider (docs/utilisation.md): the built CLI, the real
// runner, real processes; the accelerators are fake vendor tools on PATH printing recorded
// real output (test/data/vendor-tools/). The runner samples, the controller summarises into
// the store, `status` shows it live, the idle policy stops an idle job with its checkpoint
// signal, `cost` splits the paid time, and no tool's failure touches the job.
import {expect} from 'chai'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {parseEnvelope, runCli, runCliAsync, tempHome} from '../helpers/cli.js'
import {waitUntil} from '../helpers/wait.js'
import {schemaErrors} from '../unit/catalog/helpers.js'
import {bashTimesSeconds, sampledCpuSeconds} from '../helpers/usage.js'
import {parseSamples} from '../../src/providers/usage-samples.js'
import {fakeToolDir, pathWith} from '../helpers/vendor-tools.js'

function setup(tools: string[], mode: 'record' | 'garbage' | 'hang' = 'record') {
  const home = tempHome('skyhop-usage-')
  const config = join(home, 'config.yaml')
  writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n  local: {price_per_hour: 2}\n')
  const env = {SKYHOP_CONFIG: config, PATH: pathWith(fakeToolDir(home, tools, mode))}
  return {home, env}
}

function jobFile(home: string, name: string, body: string): string {
  const file = join(home, `${name}.yaml`)
  writeFileSync(file, `name: ${name}\n${body}`)
  return file
}

/** A job that keeps one core busy for `seconds`, saving a checkpoint when told to stop. */
const CPU_BOUND = (seconds: number) => `run: |
  trap 'echo "step saved" > "$SKYHOP_CHECKPOINT_DIR/ckpt"; echo checkpointed; exit 0' TERM
  end=$((SECONDS+${seconds})); while ((SECONDS<end)); do :; done
`

function status(home: string, env: Record<string, string>, job: string) {
  const r = runCli(['status', job, '--json'], {home, env})
  expect(r.code, r.stderr).to.equal(0)
  return parseEnvelope(r.stdout).result.job
}

describe('utilisation on the local provider (end to end)', function () {
  this.timeout(180_000)

  it('samples a job on an NVIDIA machine: status shows live CPU, memory and the GPU; cost splits the run', async () => {
    const {home, env} = setup(['nvidia-smi'])
    const file = jobFile(home, 'gpu-job', `usage: {sample_interval: 0.5s}\n${CPU_BOUND(12)}`)
    const launch = runCliAsync(['launch', file, '--yes', '--wait'], {home, env})
    let live: any
    await waitUntil(
      () => {
        // The job is recorded a moment after the launch starts.
        const r = runCli(['status', 'gpu-job', '--json'], {home, env})
        if (r.code !== 0) return false
        const att = parseEnvelope(r.stdout).result.job.attemptsDetail.at(-1)
        live = att?.state === 'RUNNING' ? att.usage?.last : undefined
        return live !== undefined && live.accelerators.length > 0
      },
      60_000,
      500,
    )
    expect(live.tool).to.equal('nvidia-smi')
    expect(live.accelerators).to.deep.equal([{index: 0, busyPct: 15, memUsedMiB: 2079, memTotalMiB: 6144}])
    expect(live.cpuCores).to.be.greaterThan(0)
    expect(live.rssMiB).to.be.greaterThan(0)
    const text = runCli(['status', 'gpu-job'], {home, env})
    expect(text.stdout).to.match(/utilisation, attempt 1 \(\d+ samples?, latest/)
    expect(text.stdout).to.match(/nvidia-smi 0 {2}15% busy {3}memory 2\.0 GiB of 6\.0 GiB/)
    const done = await launch
    expect(done.code, done.stderr).to.equal(0)
    const att = status(home, env, 'gpu-job').attemptsDetail[0]
    expect(att.usage.samples).to.be.greaterThan(3)
    expect(att.usage).to.deep.include({accelerators: 1, acceleratorTool: 'nvidia-smi', acceleratorBusy: 0.15, acceleratorMemPeakMiB: 2079})
    const cost = parseEnvelope(runCli(['cost', '--json'], {home, env}).stdout).result
    const u = cost.total.utilisation
    expect(u.sampledAttempts).to.equal(1)
    expect(u.acceleratorBusyHours / u.acceleratorRunHours).to.be.closeTo(0.15, 0.01)
    expect(u.acceleratorIdleUsd).to.be.greaterThan(0)
    expect(cost.total.summary).to.match(/accelerators busy .* idle .* of the run \(\$[0-9.]+ paid for idle accelerators\)/)
  })

  it('samples a job on a MetaX and on a Moore Threads machine from the tables their tools print without arguments', () => {
    // The machine is offered with its cards (the registry knows both), so the job asks for them.
    const expected = {
      'mx-smi': {
        ask: 'MetaX-C550:8',
        usage: {accelerators: 8, acceleratorBusy: 0, acceleratorMemPeakMiB: 858, acceleratorMemTotalMiB: 65536},
      },
      'mthreads-gmi': {
        ask: 'MTT-S5000:2',
        usage: {accelerators: 2, acceleratorBusy: 0, acceleratorMemPeakMiB: 66641, acceleratorMemTotalMiB: 81920},
      },
    }
    for (const [tool, {ask, usage}] of Object.entries(expected)) {
      const {home, env} = setup([tool])
      const file = jobFile(home, 'table-job', `resources: {accelerators: "${ask}"}\nusage: {sample_interval: 0.5s}\nrun: sleep 3\n`)
      const r = runCli(['launch', file, '--yes', '--wait'], {home, env})
      expect(r.code, r.stderr).to.equal(0)
      const att = status(home, env, 'table-job').attemptsDetail[0]
      expect(att.usage.samples, tool).to.be.greaterThan(1)
      expect(att.usage, tool).to.deep.include({acceleratorTool: tool, ...usage})
    }
  })

  it('stops a CPU-bound job on an idle "NPU" machine by its idle policy, with the checkpoint signal; cost counts it', () => {
    const {home, env} = setup(['npu-smi'])
    const file = jobFile(
      home,
      'idle-npu',
      `usage: {sample_interval: 0.5s, idle: {below: 5%, for: 3s, action: checkpoint-and-stop}}\nrecovery: {grace: 5s}\n${CPU_BOUND(60)}`,
    )
    const started = Date.now()
    const r = runCli(['launch', file, '--yes', '--wait'], {home, env})
    expect(Date.now() - started, 'stopped long before its 60 s').to.be.lessThan(40_000)
    expect(r.stdout).to.include('checkpointed')
    const job = status(home, env, 'idle-npu')
    expect(job.state).to.equal('CANCELLED')
    expect(job.reason).to.match(/^stopped by its idle policy: its accelerators \(npu-smi\) stayed below 5% busy for \d+ s/)
    const stop = job.events.find((e: any) => e.kind === 'usage-idle-stop')
    expect(stop.data).to.deep.include({basis: 'accelerators', action: 'checkpoint-and-stop', graceSeconds: 5})
    const ckpt = join(home, 'checkpoints', job.id, 'ckpt')
    expect(readFileSync(ckpt, 'utf8')).to.equal('step saved\n')
    const usage = job.attemptsDetail[0].usage
    // The job kept a core busy while 8 NPUs sat at 0%: accelerator idle, CPU working.
    expect(usage).to.deep.include({accelerators: 8, acceleratorTool: 'npu-smi', acceleratorBusy: 0, acceleratorMemTotalMiB: 32768})
    expect(usage.cpuBusy).to.be.greaterThan(0.05)
    const cost = parseEnvelope(runCli(['cost', '--json'], {home, env}).stdout).result
    expect(cost.total.utilisation.idlePolicyStops).to.equal(1)
    expect(cost.total.utilisation.acceleratorBusyHours).to.equal(0)
    expect(cost.total.utilisation.acceleratorIdleHours).to.be.greaterThan(0)
    expect(cost.total.summary).to.include('1 attempt stopped by the idle policy')
  })

  it('warns only, with action warn, and the job runs to its end', () => {
    const {home, env} = setup(['npu-smi'])
    const file = jobFile(home, 'warned', `usage: {sample_interval: 0.5s, idle: {below: 5%, for: 1s, action: warn}}\n${CPU_BOUND(8)}`)
    const r = runCli(['launch', file, '--yes', '--wait'], {home, env})
    expect(r.code, r.stderr).to.equal(0)
    const job = status(home, env, 'warned')
    expect(job.state).to.equal('SUCCEEDED')
    expect(job.events.filter((e: any) => e.kind === 'usage-idle')).to.have.length(1)
  })

  for (const mode of ['garbage', 'hang'] as const) {
    it(`never lets a tool that prints ${mode === 'garbage' ? 'garbage' : 'nothing and hangs'} touch the job or the runner`, () => {
      const {home, env} = setup(['nvidia-smi', 'npu-smi', 'rocm-smi'], mode)
      const file = jobFile(home, `bad-${mode}`, `usage: {sample_interval: 0.5s}\nrun: |\n  sleep 3; echo finished\n`)
      const started = Date.now()
      const r = runCli(['launch', file, '--yes', '--wait'], {home, env})
      expect(r.code, r.stderr).to.equal(0)
      expect(r.stdout).to.include('finished')
      // A hung tool is cut off by `timeout`: it never holds the job's end back.
      expect(Date.now() - started).to.be.lessThan(30_000)
      const job = status(home, env, `bad-${mode}`)
      expect(job.state).to.equal('SUCCEEDED')
      const usage = job.attemptsDetail[0].usage
      if (mode === 'garbage') {
        expect(usage.samples).to.be.greaterThan(0)
        expect(usage.accelerators).to.equal(0)
        expect(usage.last.unreadable).to.have.members(['nvidia-smi', 'npu-smi', 'rocm-smi'])
      }
    })
  }

  it('samples nothing with sample_interval: off, and a machine without tools has CPU samples only', () => {
    const {home, env} = setup([])
    const off = jobFile(home, 'off', 'usage: {sample_interval: "off"}\nrun: sleep 2\n')
    expect(runCli(['launch', off, '--yes', '--wait'], {home, env}).code).to.equal(0)
    const job = status(home, env, 'off')
    expect(job.attemptsDetail[0].usage).to.equal(undefined)
    expect(existsSync(join(home, 'attempts', job.attemptsDetail[0].id, 'samples.jsonl'))).to.equal(false)
    const plain = jobFile(home, 'plain', `usage: {sample_interval: 0.5s}\n${CPU_BOUND(3)}`)
    expect(runCli(['launch', plain, '--yes', '--wait'], {home, env}).code).to.equal(0)
    const usage = status(home, env, 'plain').attemptsDetail[0].usage
    expect(usage.accelerators).to.equal(0)
    expect(usage.acceleratorBusy).to.equal(null)
    expect(usage.cpuBusy).to.be.greaterThan(0)
  })
})

describe('utilisation of a gang on the local provider (end to end)', function () {
  this.timeout(180_000)

  it('samples every rank: status shows each rank live and after, the summary covers them all', async () => {
    const {home, env} = setup(['nvidia-smi'])
    writeFileSync(env.SKYHOP_CONFIG, 'providers:\n  slurm: {enabled: false}\n  local: {max_nodes: 4, price_per_hour: 2}\n')
    // Rank 1 keeps a core busy; the head only sleeps: a head-only sampler would see an idle job.
    const run = `run: |
  if [ "$SKYHOP_NODE_RANK" = 1 ]; then end=$((SECONDS+8)); while ((SECONDS<end)); do :; done; times; else sleep 8; fi
`
    const file = jobFile(home, 'gang-job', `nodes: 2\nusage: {sample_interval: 0.5s}\n${run}`)
    const launch = runCliAsync(['launch', file, '--yes', '--wait'], {home, env})
    let live: any
    await waitUntil(
      () => {
        const r = runCli(['status', 'gang-job', '--json'], {home, env})
        if (r.code !== 0) return false
        const att = parseEnvelope(r.stdout).result.job.attemptsDetail.at(-1)
        live = att?.state === 'RUNNING' ? att.usage : undefined
        return live?.ranks?.every((r: any) => r.samples > 0) ?? false
      },
      60_000,
      500,
    )
    expect(live.ranks.map((r: any) => r.rank)).to.deep.equal([0, 1])
    const text = runCli(['status', 'gang-job'], {home, env})
    expect(text.stdout).to.match(/utilisation, attempt 1 \(\d+ samples over 2 ranks, latest/)
    expect(text.stdout).to.match(/ {2}rank 0 \(latest [0-9:]+Z\):\n {4}CPU /)
    expect(text.stdout).to.match(/ {2}rank 1 \(latest [0-9:]+Z\):\n {4}CPU /)
    const done = await launch
    expect(done.code, done.stderr).to.equal(0)
    const final = runCli(['status', 'gang-job', '--json'], {home, env})
    // The per-rank rows are part of status's output schema.
    expect(schemaErrors('status', parseEnvelope(final.stdout).result)).to.equal('')
    const attempt = parseEnvelope(final.stdout).result.job.attemptsDetail[0]
    const usage = attempt.usage
    const [head, other] = usage.ranks
    const detail = JSON.stringify(usage.ranks.map((r: any) => ({...r, last: undefined})))
    expect(head.samples, detail).to.be.greaterThan(3)
    expect(other.samples, detail).to.be.greaterThan(3)
    expect(usage.samples).to.equal(head.samples + other.samples)
    // The busy rank is seen busy, the sleeping head idle; the gang's mean lies between them.
    // On this shared machine the loop gets what share of a core the other load leaves it: its
    // own CPU time (bash's `times`) is set against what rank 1's samples account for.
    const rankDir = join(home, 'attempts', attempt.id, 'node-1')
    const own = bashTimesSeconds(readFileSync(join(rankDir, 'output.log'), 'utf8'))
    const sampled = sampledCpuSeconds(parseSamples(readFileSync(join(rankDir, 'samples.jsonl'), 'utf8')), 0.5)
    expect(own, detail).to.be.at.least(0.5)
    expect(sampled, `own ${String(own)} s, sampled ${sampled} s`).to.be.at.least(0.6 * own!)
    expect(other.cpuBusy, detail).to.be.greaterThan(head.cpuBusy)
    expect(head.cpuBusy, detail).to.be.below(0.05)
    expect(usage.cpuBusy).to.be.within(head.cpuBusy, other.cpuBusy)
    // Each rank's machine has its (fake) GPU: one per node, not two, and its peak is one device's.
    expect(usage).to.deep.include({accelerators: 1, acceleratorTool: 'nvidia-smi', acceleratorMemPeakMiB: 2079})
    expect(other).to.deep.include({accelerators: 1, acceleratorBusy: 0.15})
    const after = runCli(['status', 'gang-job'], {home, env}).stdout
    expect(after).to.match(/ {2}all ranks: CPU +\d+% of \d+ cores on average {3}memory peak/)
    expect(after).to.match(/ {2}rank 1: CPU \d+% of \d+ cores on average {3}memory peak .* {3}accelerators 15% busy on average/)
  })

  it('holds the idle policy against every rank: a gang whose head idles while rank 1 works runs on; an all-idle gang is stopped', () => {
    const {home, env} = setup([])
    writeFileSync(env.SKYHOP_CONFIG, 'providers:\n  slurm: {enabled: false}\n  local: {max_nodes: 4}\n')
    // CPU is the basis (no accelerator tool): a sleeping rank is at 0%, a busy loop well above 2%
    // of this machine's cores even when other load leaves it a fifth of one.
    const policy = 'usage: {sample_interval: 0.5s, idle: {below: 2%, for: 3s, action: stop}}'
    const working = jobFile(
      home,
      'gang-working',
      `nodes: 2\n${policy}\nrun: |\n  if [ "$SKYHOP_NODE_RANK" = 1 ]; then end=$((SECONDS+9)); while ((SECONDS<end)); do :; done; else sleep 9; fi\n`,
    )
    const r = runCli(['launch', working, '--yes', '--wait'], {home, env})
    const job = status(home, env, 'gang-working')
    expect(r.code, r.stderr).to.equal(0)
    expect(job.state, job.reason).to.equal('SUCCEEDED')
    expect(job.events.map((e: any) => e.kind)).to.not.include('usage-idle-stop')
    const idle = jobFile(home, 'gang-idle', `nodes: 2\n${policy}\nrun: sleep 60\n`)
    const started = Date.now()
    runCli(['launch', idle, '--yes', '--wait'], {home, env})
    expect(Date.now() - started, 'stopped long before its 60 s').to.be.lessThan(40_000)
    const stopped = status(home, env, 'gang-idle')
    expect(stopped.state).to.equal('CANCELLED')
    expect(stopped.reason).to.match(/^stopped by its idle policy: its CPUs stayed below 2% busy/)
  })
})
