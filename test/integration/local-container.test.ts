// Jobs whose image is a container, on the local provider with the REAL podman and the offline
// test image (scripts/podman-up.sh): the job runs inside the image with its workdir,
// checkpoint directory and env; a preemption reaches the job inside with its grace, its
// checkpoint carries to the next attempt; a job that ignores it is killed at the deadline; a
// cancel; an image that cannot be pulled; no runtime at all. Under CI a missing podman fails
// the suite (helpers/podman.ts).
import {expect} from 'chai'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ProviderError} from '../../src/errors.js'
import {parseContainerReference} from '../../src/job/image.js'
import type {LaunchHandle, PollResult} from '../../src/model/attempt.js'
import type {Offer} from '../../src/model/catalog.js'
import {readEvents} from '../../src/providers/attempt-dir.js'
import {parseSamples} from '../../src/providers/usage-samples.js'
import {LocalProvider} from '../../src/providers/local/local-provider.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import {testJobSpec} from '../helpers/job-spec.js'
import {expectSamplesCoverOwnCpu} from '../helpers/usage.js'
import {parseEnvelope, runCli} from '../helpers/cli.js'
import {containersNamed, requirePodman, TEST_IMAGE} from '../helpers/podman.js'
import {isTerminal, pollUntil, waitForFile, waitUntil} from '../helpers/wait.js'

const roots: string[] = []
const live: Array<{provider: LocalProvider; handle: LaunchHandle}> = []
let counter = 0

function newHome(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-ctr-'))
  roots.push(dir)
  return dir
}

function request(
  home: string,
  run: string,
  options: {image?: string; setup?: string; env?: Record<string, string>; attempt?: number; nodes?: number; sampleSeconds?: number} = {},
): LaunchRequest {
  counter++
  const attemptId = `ctr-${process.pid}-${counter}`
  const image = options.image ?? TEST_IMAGE
  return {
    jobId: 'job-c',
    jobName: 'container test',
    attemptId,
    attempt: options.attempt ?? 1,
    restartCount: (options.attempt ?? 1) - 1,
    idempotencyKey: `key-${attemptId}`,
    spec: testJobSpec({
      name: 'container-test',
      run,
      setup: options.setup ?? null,
      image,
      container: parseContainerReference(image),
      nodes: options.nodes ?? 1,
      compat: options.nodes ? ['torchrun'] : [],
      ...(options.sampleSeconds === undefined ? {} : {usage: {sampleIntervalSeconds: options.sampleSeconds, idle: null}}),
    }),
    offer: {} as Offer,
    spot: false,
    env: options.env ?? {},
    checkpointDir: join(home, 'checkpoints', 'job-c'),
    checkpointSync: null,
    graceSeconds: 10,
  }
}

async function launch(provider: LocalProvider, req: LaunchRequest): Promise<LaunchHandle> {
  const handle = await provider.launch(req)
  live.push({provider, handle})
  return handle
}

const attemptDir = (handle: LaunchHandle): string => (handle.data as {attemptDir: string}).attemptDir
const until = (provider: LocalProvider, handle: LaunchHandle, accept: (r: PollResult) => boolean): Promise<PollResult> =>
  pollUntil(provider, handle, accept, {stepMs: 50, timeoutMs: 60_000})
const output = (handle: LaunchHandle): string => readFileSync(join(attemptDir(handle), 'output.log'), 'utf8')
const containerName = (handle: LaunchHandle): string => readFileSync(join(attemptDir(handle), 'container.name'), 'utf8').trim()

describe('local provider: container images (real podman)', function () {
  this.timeout(90_000)

  after(async () => {
    for (const {provider, handle} of live) await provider.cleanup(handle).catch(() => {})
    for (const dir of roots) rmSync(dir, {recursive: true, force: true})
  })

  it('without a container runtime, a container job fails to launch (CONTAINER_RUNTIME_MISSING, exit 4) and nothing runs', async () => {
    const home = newHome()
    const provider = new LocalProvider({home, containerRuntime: null})
    const req = request(home, 'echo should not run')
    try {
      await provider.launch(req)
      expect.fail('launch should have failed')
    } catch (error) {
      expect(error).to.be.instanceOf(ProviderError)
      expect(error).to.include({code: 'CONTAINER_RUNTIME_MISSING', exitCode: 4})
      expect((error as Error).message).to.contain(
        `the job's image ${TEST_IMAGE} is a container image, but neither podman nor docker runs here`,
      )
    }
    expect(existsSync(join(home, 'attempts', req.attemptId, 'runner.pid'))).to.equal(false)
  })

  describe('with podman', () => {
    before(async function () {
      await requirePodman(this)
    })

    it('runs setup and run inside the image, with the workdir, checkpoint dir and env as outside', async () => {
      const home = newHome()
      const provider = new LocalProvider({home, containerRuntime: 'podman'})
      const value = `it's "quoted" $(touch /tmp/pwned) \`id\` $HOME`
      const req = request(
        home,
        [
          'cat /etc/os-release /skyhop-test-marker',
          'test -f /setup-was-here && echo "setup state kept"',
          'echo "pwd=$PWD"',
          'echo "value=$MY_VALUE"',
          'echo "ckpt=$SKYHOP_CHECKPOINT_DIR notice=$SKYHOP_PREEMPT_NOTICE"',
          'ls "$SKYHOP_CHECKPOINT_DIR"',
          'echo from-the-container > "$PWD/made-inside"',
        ].join('\n'),
        {setup: 'touch /setup-was-here; echo "setup ran in $PWD"', env: {MY_VALUE: value}},
      )
      const handle = await launch(provider, req)
      const done = await until(provider, handle, isTerminal)
      const log = output(handle)
      expect(done, log).to.include({state: 'SUCCEEDED', exitCode: 0})
      const dir = attemptDir(handle)
      expect(log).to.contain('ID=skyhop-test')
      expect(log).to.contain('inside the skyhop test image')
      expect(log).to.contain('setup state kept')
      expect(log).to.contain(`setup ran in ${dir}/work`)
      expect(log).to.contain(`pwd=${dir}/work`)
      expect(log).to.contain(`value=${value}`)
      expect(log).to.contain(`ckpt=${req.checkpointDir} notice=${dir}/preempt-notice`)
      // What the job wrote into its workdir inside is on the host; the image is not the host.
      expect(readFileSync(join(dir, 'work', 'made-inside'), 'utf8')).to.equal('from-the-container\n')
      expect(existsSync('/skyhop-test-marker')).to.equal(false)
      const names = readEvents(dir).map((e) => e.event)
      expect(names).to.include.members(['setup-start', 'setup-exit', 'run-start', 'exit'])
      expect(names.indexOf('setup-exit')).to.be.below(names.indexOf('run-start'))
      expect(await containersNamed(containerName(handle))).to.deep.equal([])
    })

    it("a gang's ranks each run in a container of their own with the runner's gang variables over env's", async () => {
      const home = newHome()
      const provider = new LocalProvider({home, containerRuntime: 'podman'})
      const run = 'echo "rank=$SKYHOP_NODE_RANK/$SKYHOP_NUM_NODES master=$MASTER_ADDR:$MASTER_PORT world=$WORLD_SIZE pwd=$PWD"'
      const handle = await launch(provider, request(home, run, {nodes: 2, env: {MASTER_ADDR: '10.0.0.9', MASTER_PORT: '1234'}}))
      const done = await until(provider, handle, isTerminal)
      expect(done.state).to.equal('SUCCEEDED')
      for (const rank of [0, 1]) {
        const dir = join(attemptDir(handle), `node-${rank}`)
        expect(readFileSync(join(dir, 'output.log'), 'utf8')).to.equal(`rank=${rank}/2 master=127.0.0.1:1234 world=2 pwd=${dir}/work\n`)
        expect(await containersNamed(readFileSync(join(dir, 'container.name'), 'utf8').trim())).to.deep.equal([])
      }
    })

    it("counts the CPU and memory of the container's processes, not only the runtime's client (samples)", async () => {
      const home = newHome()
      const provider = new LocalProvider({home, containerRuntime: 'podman'})
      // Inside the container: a busy loop in a shell that holds a 64 MiB string, then its own CPU time.
      const run = [
        'big=$(printf "%067108864d" 0)',
        'end=$(( SECONDS + 7 )); while (( SECONDS < end )); do :; done',
        'echo "held ${#big}"; times',
      ].join('\n')
      const handle = await launch(provider, request(home, run, {sampleSeconds: 1}))
      const done = await until(provider, handle, isTerminal)
      expect(done, output(handle)).to.include({state: 'SUCCEEDED', exitCode: 0})
      const samples = parseSamples(readFileSync(join(attemptDir(handle), 'samples.jsonl'), 'utf8'))
      // The podman client alone, all the job's own process tree holds, uses next to none.
      const text = expectSamplesCoverOwnCpu(output(handle), samples, 1)
      // bash's 64 MiB string is the container's; the client's ~40 MiB alone would not reach this.
      expect(Math.max(...samples.map((s) => s.rssMiB)), text).to.be.at.least(90)
    })

    it("the job's exit code is the container's", async () => {
      const home = newHome()
      const provider = new LocalProvider({home, containerRuntime: 'podman'})
      const handle = await launch(provider, request(home, 'echo failing; exit 42'))
      const done = await until(provider, handle, isTerminal)
      expect(done).to.include({state: 'FAILED', exitCode: 42})
    })

    it('a preemption reaches the job inside with its grace; its checkpoint resumes the next attempt', async () => {
      const home = newHome()
      const provider = new LocalProvider({home, containerRuntime: 'podman'})
      const job = [
        'step=0',
        'if [ -f "$SKYHOP_CHECKPOINT_DIR/step" ]; then step=$(cat "$SKYHOP_CHECKPOINT_DIR/step"); echo "resumed from step $step"; fi',
        `trap 'echo "$step" > "$SKYHOP_CHECKPOINT_DIR/step"; echo "saved step $step, deadline $(cat "$SKYHOP_PREEMPT_NOTICE")"; exit 0' TERM`,
        'touch "$SKYHOP_CHECKPOINT_DIR/ready"',
        'while :; do step=$((step + 1)); sleep 0.1 & wait $!; done',
      ].join('\n')
      const first = await launch(provider, request(home, job))
      const ready = join(home, 'checkpoints', 'job-c', 'ready')
      await waitForFile(ready, {timeoutMs: 30_000})
      const sentAt = Date.now()
      await provider.signal(first, 'preempt', 8)
      const stopped = await until(provider, first, isTerminal)
      expect(stopped.state, output(first)).to.equal('PREEMPTED')
      expect(Date.now() - sentAt).to.be.below(8_000)
      const events = readEvents(attemptDir(first))
      expect(events.find((e) => e.event === 'exit')).to.include({exitCode: 0, beforeDeadline: true})
      expect(output(first)).to.match(/saved step [1-9]\d*, deadline \d{4}-\d\d-\d\dT/)
      const saved = readFileSync(join(home, 'checkpoints', 'job-c', 'step'), 'utf8').trim()
      expect(await containersNamed(containerName(first))).to.deep.equal([])

      rmSync(ready)
      const second = await launch(provider, request(home, job, {attempt: 2}))
      await waitForFile(ready, {timeoutMs: 30_000})
      // The container's output reaches output.log through the runtime, a moment after the file.
      await waitUntil(() => output(second).includes('resumed from step'), 10_000, 50)
      expect(output(second)).to.contain(`resumed from step ${saved}`)
      await provider.signal(second, 'cancel', 5)
      expect((await until(provider, second, isTerminal)).state).to.equal('CANCELLED')
    })

    it('a job that ignores the notice is killed at the deadline, inside the container too', async () => {
      const home = newHome()
      const provider = new LocalProvider({home, containerRuntime: 'podman'})
      const handle = await launch(provider, request(home, `trap '' TERM; touch "$SKYHOP_CHECKPOINT_DIR/ready"; sleep 120`))
      await waitForFile(join(home, 'checkpoints', 'job-c', 'ready'), {timeoutMs: 30_000})
      const sentAt = Date.now()
      await provider.signal(handle, 'preempt', 4)
      const done = await until(provider, handle, isTerminal)
      expect(done).to.include({state: 'PREEMPTED', exitCode: 137})
      // The kill margin with a container is 3 s of the 4 s grace, capped at a quarter: 1 s.
      const kill = readEvents(attemptDir(handle)).find((e) => e.event === 'kill')!
      expect(Date.parse(kill.ts) - sentAt).to.be.within(2_500, 4_000)
      expect(await containersNamed(containerName(handle))).to.deep.equal([])
    })

    it('a cancel stops the job inside and removes the container', async () => {
      const home = newHome()
      const provider = new LocalProvider({home, containerRuntime: 'podman'})
      const handle = await launch(
        provider,
        request(
          home,
          `trap 'echo "cancelled inside"; exit 3' TERM; touch "$SKYHOP_CHECKPOINT_DIR/ready"; while :; do sleep 0.1 & wait $!; done`,
        ),
      )
      await waitForFile(join(home, 'checkpoints', 'job-c', 'ready'), {timeoutMs: 30_000})
      await provider.signal(handle, 'cancel', 10)
      const done = await until(provider, handle, isTerminal)
      expect(done).to.include({state: 'CANCELLED', exitCode: 3})
      expect(output(handle)).to.contain('cancelled inside')
      expect(await containersNamed(containerName(handle))).to.deep.equal([])
    })

    it('cleanup of an attempt whose runner is killed removes its container too', async () => {
      const home = newHome()
      const provider = new LocalProvider({home, containerRuntime: 'podman'})
      const handle = await launch(provider, request(home, `touch "$SKYHOP_CHECKPOINT_DIR/ready"; sleep 120`))
      await waitForFile(join(home, 'checkpoints', 'job-c', 'ready'), {timeoutMs: 30_000})
      const name = containerName(handle)
      expect(await containersNamed(name)).to.deep.equal([name])
      await provider.cleanup(handle)
      expect(await containersNamed(name)).to.deep.equal([])
    })

    it('an image that cannot be pulled is an image-pull-failed event and exit 125, not a job failure of its own', async () => {
      const home = newHome()
      const provider = new LocalProvider({home, containerRuntime: 'podman'})
      const handle = await launch(provider, request(home, 'echo never', {image: 'localhost:1/skyhop-absent:nope'}))
      const done = await until(provider, handle, isTerminal)
      expect(done).to.include({state: 'FAILED', exitCode: 125})
      expect(done.reason).to.equal('cannot pull container image localhost:1/skyhop-absent:nope with podman (see output.log)')
      const error = readEvents(attemptDir(handle)).find((e) => e.event === 'image-pull-failed')!
      expect(error.message).to.equal('cannot pull container image localhost:1/skyhop-absent:nope with podman (see output.log)')
      expect(output(handle)).not.to.contain('never')
    })
  })
})

describe('plan: a job with a container image (built CLI, real podman)', function () {
  this.timeout(60_000)

  const jobFile = (home: string): string => {
    const file = join(home, 'ctr.yaml')
    writeFileSync(file, `name: ctr\nimage: docker:${TEST_IMAGE}\nresources: {cpus: 1}\nrun: cat /etc/os-release\n`)
    return file
  }

  it('plans it on local, where podman answers, and keeps Slurm out with the reason', async function () {
    await requirePodman(this)
    const home = newHome()
    const r = runCli(['plan', jobFile(home), '--json'], {home})
    expect(r.code, r.stderr).to.equal(0)
    const result = parseEnvelope(r.stdout).result
    expect(result.chosen.provider).to.equal('local')
    const groups = result.excluded as Array<{reason: string; subject: string}>
    for (const g of groups.filter((x) => x.reason === 'container-unsupported')) expect(g.subject).to.not.equal('local')
  })

  it('without a runtime, exits 5 saying local has none and how to get one', () => {
    const home = newHome()
    writeFileSync(join(home, 'config.yaml'), 'providers:\n  local: {container_runtime: none}\n  slurm: {enabled: false}\n')
    const r = runCli(['plan', jobFile(home), '--json'], {home})
    expect(r.code, r.stdout).to.equal(5)
    const groups = parseEnvelope(r.stdout).error!.details.excluded as Array<{reason: string; subject: string; message: string}>
    const local = groups.find((g) => g.reason === 'container-unsupported' && g.subject === 'local')
    expect(local?.message).to.match(/^local has no container runtime .*install one or set providers\.local\.container_runtime$/)
  })
})
