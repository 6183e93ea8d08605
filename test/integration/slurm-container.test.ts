// Jobs whose image is a container, on the REAL Slurm test cluster (scripts/slurm-up.sh) with
// the REAL podman and the offline test image (scripts/podman-up.sh): the cluster's nodes run
// on this host, where podman works, so the Slurm provider finds podman and the runner starts
// each rank's container on its node. Setup and run inside the image with the contract paths
// mounted; Slurm's preemption (GraceTime) reaches the job inside, which saves and exits; a
// gang's ranks each run in their own container with their rank; nothing is left behind.
import {expect} from 'chai'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'

import type {LaunchHandle} from '../../src/model/attempt.js'
import {readEvents} from '../../src/providers/attempt-dir.js'
import {SlurmProvider, type SlurmHandleData} from '../../src/providers/slurm/slurm-provider.js'
import {parseEnvelope, runCli, tempHome} from '../helpers/cli.js'
import {containersNamed, requirePodman, TEST_IMAGE} from '../helpers/podman.js'
import {clusterIdle, clusterReport, pollUntil, removeTempDirs, requireSlurm, slurm, slurmRequest, tempDir} from '../helpers/slurm.js'

const ENDED = new Set(['SUCCEEDED', 'FAILED', 'PREEMPTED', 'CANCELLED', 'LOST'])
const dirOf = (handle: LaunchHandle): string => (handle.data as unknown as SlurmHandleData).attemptDir

async function waitForText(path: string, text: string, timeoutMs = 60_000): Promise<string> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const body = existsSync(path) ? readFileSync(path, 'utf8') : ''
    if (body.includes(text)) return body
    if (Date.now() > until) {
      // What the attempt and the cluster were doing.
      const events = join(dirname(path), 'events.jsonl')
      const seen = existsSync(events) ? readFileSync(events, 'utf8') : '(no events.jsonl)'
      throw new Error(`"${text}" never appeared in ${path}; it holds: ${body}\nevents:\n${seen}\n${await clusterReport()}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('slurm provider: container images (real Slurm, real podman)', function () {
  this.timeout(180_000)
  let home: string
  let provider: SlurmProvider
  const cleanups: Array<() => Promise<unknown>> = []

  before(async function () {
    await requireSlurm(this)
    await requirePodman(this)
    home = tempDir()
    provider = new SlurmProvider({home})
  })

  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c().catch(() => undefined)
  })

  after(() => removeTempDirs())

  it('finds podman on the cluster and plans container jobs there', async () => {
    expect(await provider.runsContainers()).to.equal(true)
    expect(await provider.containerUnsupported()).to.equal(null)
    expect((await provider.check()).message).to.match(/; container runtime: podman$/)
  })

  it('plan (the built CLI) offers the cluster for a container job, and says why not when the runtime is turned off', () => {
    const cliHome = tempHome('skyhop-slurm-ctr-plan-')
    const file = join(cliHome, 'job.yaml')
    writeFileSync(file, `name: boxed\nimage: ${TEST_IMAGE}\nrun: cat /skyhop-test-marker\n`)
    const plan = (runtime: string) => {
      const config = join(cliHome, `config-${runtime}.yaml`)
      writeFileSync(config, `providers:\n  local: {enabled: false}\n  slurm: {partitions: [high], container_runtime: ${runtime}}\n`)
      return runCli(['plan', file, '--json'], {home: cliHome, env: {SKYHOP_CONFIG: config}})
    }
    const able = parseEnvelope(plan('podman').stdout)
    expect(able.ok, JSON.stringify(able.error)).to.equal(true)
    expect(able.result.candidates.map((c: {provider: string}) => c.provider)).to.include('slurm')
    const off = plan('none')
    expect(off.code).to.equal(5)
    expect(parseEnvelope(off.stdout).error!.message).to.include(
      `slurm cannot run the job's container image ${TEST_IMAGE}: providers.slurm.container_runtime is none`,
    )
  })

  it('runs setup and run inside the image on the allocated node, with the contract paths and env, and removes the container', async () => {
    const req = slurmRequest(
      home,
      [
        'cat /etc/os-release /skyhop-test-marker',
        'test -f /setup-was-here && echo "setup state kept"',
        'echo "pwd=$PWD ckpt=$SKYHOP_CHECKPOINT_DIR notice=$SKYHOP_PREEMPT_NOTICE value=$MY_VALUE"',
        'echo made-inside > "$SKYHOP_CHECKPOINT_DIR/inside"',
      ].join('\n'),
      {image: TEST_IMAGE, setup: 'touch /setup-was-here', env: {MY_VALUE: "it's $(id)"}},
    )
    const handle = await provider.launch(req)
    cleanups.push(() => provider.cleanup(handle))
    const dir = dirOf(handle)
    const {last, seen} = await pollUntil(provider, handle, (r) => ENDED.has(r.state), 120_000)
    const log = readFileSync(join(dir, 'output.log'), 'utf8')
    expect(last.state, `${seen.join(' → ')}\n${log}`).to.equal('SUCCEEDED')
    expect(log).to.contain('ID=skyhop-test')
    expect(log).to.contain('setup state kept')
    expect(log).to.contain(`pwd=${dir}/work ckpt=${req.checkpointDir} notice=${dir}/preempt-notice value=it's $(id)`)
    expect(readFileSync(join(req.checkpointDir, 'inside'), 'utf8')).to.equal('made-inside\n')
    expect(existsSync('/skyhop-test-marker')).to.equal(false)
    const events = readEvents(dir).map((e) => e.event)
    expect(events).to.include.members(['setup-start', 'setup-exit', 'run-start', 'exit'])
    const name = readFileSync(join(dir, 'container.name'), 'utf8').trim()
    expect(name).to.match(/^skyhop-/)
    expect(await containersNamed(name)).to.deep.equal([])
  })

  it("Slurm's preemption reaches the job inside its container: SIGTERM, checkpoint, exit within GraceTime; PREEMPTED", async () => {
    await clusterIdle()
    const cpus = Number((await slurm('sinfo', ['--noheader', '--partition=low', '--format=%c'])).trim().split('\n')[0].replace(/\D.*$/, ''))
    const req = slurmRequest(
      home,
      [
        'saved=',
        'save() { trap "" TERM; [ -n "$saved" ] && return; saved=1; echo "$EPOCHREALTIME" > "$SKYHOP_CHECKPOINT_DIR/term-at"; echo "$n" > "$SKYHOP_CHECKPOINT_DIR/count"; cat /skyhop-test-marker > "$SKYHOP_CHECKPOINT_DIR/where"; echo "saved $n"; exit 0; }',
        'trap save TERM',
        'n=0',
        'echo started',
        'while :; do n=$((n+1)); sleep 0.05; done',
      ].join('\n'),
      {image: TEST_IMAGE, partition: 'low', cpus},
    )
    const low = await provider.launch(req)
    cleanups.push(() => provider.cleanup(low))
    const dir = dirOf(low)
    await waitForText(join(dir, 'output.log'), 'started', 90_000)
    await new Promise((r) => setTimeout(r, 1000))
    const high = await provider.launch(slurmRequest(home, 'echo high priority work', {partition: 'high', cpus}))
    cleanups.push(() => provider.cleanup(high))

    const {last, seen} = await pollUntil(provider, low, (r) => ENDED.has(r.state), 90_000)
    const log = readFileSync(join(dir, 'output.log'), 'utf8')
    expect(last.state, `${seen.join(' → ')}\n${log}`).to.equal('PREEMPTED')
    expect(last.exitCode).to.equal(0)
    expect(log).to.match(/saved \d+/)
    expect(Number(readFileSync(join(req.checkpointDir, 'count'), 'utf8'))).to.be.greaterThan(5)
    // The handler ran inside the image.
    expect(readFileSync(join(req.checkpointDir, 'where'), 'utf8')).to.contain('inside the skyhop test image')
    const exit = readEvents(dir).find((e) => e.event === 'exit')!
    expect(exit.beforeDeadline).to.equal(true)
    // The runner's notice, then the job's handler inside the container (bash's EPOCHREALTIME there).
    const noticeAt = Date.parse(String(readEvents(dir).find((e) => e.event === 'notice')!.ts))
    const termAt = Number(readFileSync(join(req.checkpointDir, 'term-at'), 'utf8')) * 1000
    expect(termAt - noticeAt).to.be.within(-1000, 10_000)
    // eslint-disable-next-line no-console
    console.log(
      `      measured: the job's SIGTERM handler inside the container ran ${(termAt - noticeAt).toFixed(0)} ms after the runner's notice event`,
    )
    const name = readFileSync(join(dir, 'container.name'), 'utf8').trim()
    expect(await containersNamed(name)).to.deep.equal([])
    await pollUntil(provider, high, (r) => ENDED.has(r.state), 90_000)
  })

  it("a gang's ranks each run in their own container on their node, with their rank", async () => {
    await clusterIdle()
    const req = slurmRequest(
      home,
      ['cat /skyhop-test-marker', 'echo "rank=$SKYHOP_NODE_RANK of $SKYHOP_NUM_NODES head=$SKYHOP_HEAD_IP"'].join('\n'),
      {image: TEST_IMAGE, partition: 'gang-high', nodes: 2},
    )
    const handle = await provider.launch(req)
    cleanups.push(() => provider.cleanup(handle))
    const dir = dirOf(handle)
    const {last, seen} = await pollUntil(provider, handle, (r) => ENDED.has(r.state), 120_000)
    const logs = [0, 1].map((rank) => readFileSync(join(dir, `node-${rank}`, 'output.log'), 'utf8'))
    expect(last.state, `${seen.join(' → ')}\n${logs.join('\n')}`).to.equal('SUCCEEDED')
    const names = [0, 1].map((rank) => readFileSync(join(dir, `node-${rank}`, 'container.name'), 'utf8').trim())
    expect(new Set(names).size).to.equal(2)
    for (const rank of [0, 1]) {
      expect(logs[rank]).to.contain('inside the skyhop test image')
      expect(logs[rank]).to.match(new RegExp(`rank=${rank} of 2 head=127\\.0\\.0\\.\\d+`))
      expect(await containersNamed(names[rank])).to.deep.equal([])
    }
  })
  it('a container whose runner Slurm killed outright is removed by cleanup, through a job on its node', async () => {
    await clusterIdle()
    const req = slurmRequest(home, ['trap "" TERM', 'echo started', 'sleep 120'].join('\n'), {image: TEST_IMAGE})
    const handle = await provider.launch(req)
    cleanups.push(() => provider.cleanup(handle))
    const dir = dirOf(handle)
    await waitForText(join(dir, 'output.log'), 'started', 90_000)
    const name = readFileSync(join(dir, 'container.name'), 'utf8').trim()
    // What the backstop does after a grace (scancel --full --signal=KILL): every process of the
    // job dies at once, the runner and the runtime's client too, but not the container.
    await slurm('scancel', ['--full', '--signal=KILL', handle.externalId])
    await pollUntil(provider, handle, (r) => ENDED.has(r.state), 60_000)
    expect(existsSync(join(dir, 'exit_code'))).to.equal(false)
    expect(await containersNamed(name)).to.deep.equal([name])
    await provider.cleanup(handle)
    const until = Date.now() + 60_000
    while ((await containersNamed(name)).length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 250))
    expect(await containersNamed(name)).to.deep.equal([])
    // Once per attempt: the marker names the node the removal ran on, and a second cleanup reads it.
    expect(readFileSync(join(dir, 'containers-reaped'), 'utf8')).to.equal('n1\n')
    await provider.cleanup(handle)
    // The removal job (the newest of its name: Slurm keeps ended jobs) has a time limit, so a
    // runtime that hangs cannot hold the node for good.
    const reapName = `skyhop-reap-${(handle.data as unknown as SlurmHandleData).jobName}`.slice(0, 100)
    const reapers = (await slurm('squeue', ['--noheader', '--states=all', `--name=${reapName}`, '--format=%i %l']))
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .sort((a, b) => Number(b[0]) - Number(a[0]))
    expect(reapers[0]?.[1]).to.equal('2:00')
  })
})
