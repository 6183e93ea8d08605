// The local provider's container jobs with the REAL docker (scripts/docker-up.sh: a private
// daemon with the offline test image), as local-container.test.ts does with podman: the job
// runs in the image with the contract's paths and env, a preemption reaches it inside with
// its grace (`docker kill --signal` to the container's init), a job that ignores it is killed
// at the deadline, the provider removes the container of a killed runner, and an image that
// cannot be pulled is image-pull-failed. Under CI a missing docker fails the suite.
import {expect} from 'chai'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseContainerReference} from '../../src/job/image.js'
import type {LaunchHandle, PollResult} from '../../src/model/attempt.js'
import type {Offer} from '../../src/model/catalog.js'
import {readEvents} from '../../src/providers/attempt-dir.js'
import {LocalProvider} from '../../src/providers/local/local-provider.js'
import {parseSamples} from '../../src/providers/usage-samples.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import {dockerContainersNamed, requireDocker} from '../helpers/docker.js'
import {testJobSpec} from '../helpers/job-spec.js'
import {expectSamplesCoverOwnCpu} from '../helpers/usage.js'
import {TEST_IMAGE} from '../helpers/podman.js'
import {isTerminal, pollUntil, waitForFile} from '../helpers/wait.js'

const roots: string[] = []
const live: Array<{provider: LocalProvider; handle: LaunchHandle}> = []
let counter = 0

function newHome(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-docker-'))
  roots.push(dir)
  return dir
}

function request(home: string, run: string, options: {image?: string; setup?: string; sampleSeconds?: number} = {}): LaunchRequest {
  counter++
  const attemptId = `dkr-${process.pid}-${counter}`
  const image = options.image ?? TEST_IMAGE
  return {
    jobId: 'job-d',
    jobName: 'docker test',
    attemptId,
    attempt: 1,
    restartCount: 0,
    idempotencyKey: `key-${attemptId}`,
    spec: testJobSpec({
      name: 'docker-test',
      run,
      setup: options.setup ?? null,
      image,
      container: parseContainerReference(image),
      ...(options.sampleSeconds === undefined ? {} : {usage: {sampleIntervalSeconds: options.sampleSeconds, idle: null}}),
    }),
    offer: {} as Offer,
    spot: false,
    env: {},
    checkpointDir: join(home, 'checkpoints', 'job-d'),
    checkpointSync: null,
    graceSeconds: 10,
  }
}

const attemptDir = (handle: LaunchHandle): string => (handle.data as {attemptDir: string}).attemptDir
const output = (handle: LaunchHandle): string => readFileSync(join(attemptDir(handle), 'output.log'), 'utf8')
const containerName = (handle: LaunchHandle): string => readFileSync(join(attemptDir(handle), 'container.name'), 'utf8').trim()
const until = (provider: LocalProvider, handle: LaunchHandle, accept: (r: PollResult) => boolean): Promise<PollResult> =>
  pollUntil(provider, handle, accept, {stepMs: 50, timeoutMs: 60_000})

describe('local provider: container images (real docker)', function () {
  this.timeout(90_000)
  let restore: string | undefined

  before(async function () {
    restore = await requireDocker(this)
  })

  after(async () => {
    for (const {provider, handle} of live) await provider.cleanup(handle).catch(() => {})
    for (const dir of roots) rmSync(dir, {recursive: true, force: true})
    if (restore === undefined) delete process.env.DOCKER_HOST
    else process.env.DOCKER_HOST = restore
  })

  async function launch(provider: LocalProvider, req: LaunchRequest): Promise<LaunchHandle> {
    const handle = await provider.launch(req)
    live.push({provider, handle})
    return handle
  }

  it('runs setup and run inside the image, with the workdir, checkpoint dir and env as outside', async () => {
    const home = newHome()
    const provider = new LocalProvider({home, containerRuntime: 'docker'})
    const req = request(
      home,
      ['cat /skyhop-test-marker', 'test -f /setup-was-here && echo "setup state kept"', 'echo "pwd=$PWD ckpt=$SKYHOP_CHECKPOINT_DIR"'].join(
        '\n',
      ),
      {
        setup: 'touch /setup-was-here',
      },
    )
    const handle = await launch(provider, req)
    const done = await until(provider, handle, isTerminal)
    const log = output(handle)
    expect(done, log).to.include({state: 'SUCCEEDED', exitCode: 0})
    expect(log).to.contain('inside the skyhop test image')
    expect(log).to.contain('setup state kept')
    expect(log).to.contain(`pwd=${attemptDir(handle)}/work ckpt=${req.checkpointDir}`)
    expect(await dockerContainersNamed(containerName(handle))).to.deep.equal([])
  })

  it("counts the CPU of the container's processes (under containerd-shim, not the job) in the samples", async () => {
    const home = newHome()
    const provider = new LocalProvider({home, containerRuntime: 'docker'})
    const run = 'end=$(( SECONDS + 6 )); while (( SECONDS < end )); do :; done; times'
    const handle = await launch(provider, request(home, run, {sampleSeconds: 1}))
    const done = await until(provider, handle, isTerminal)
    expect(done, output(handle)).to.include({state: 'SUCCEEDED', exitCode: 0})
    const samples = parseSamples(readFileSync(join(attemptDir(handle), 'samples.jsonl'), 'utf8'))
    // The docker client alone, all the job's own process tree holds, uses next to none.
    expectSamplesCoverOwnCpu(output(handle), samples, 1)
  })

  it('a preemption reaches the job inside with its grace; a job that ignores it is killed at the deadline', async () => {
    const home = newHome()
    const provider = new LocalProvider({home, containerRuntime: 'docker'})
    const saver = await launch(
      provider,
      request(
        home,
        `trap 'echo "saved, deadline $(cat "$SKYHOP_PREEMPT_NOTICE")"; exit 0' TERM; touch "$SKYHOP_CHECKPOINT_DIR/ready"; while :; do sleep 0.1 & wait $!; done`,
      ),
    )
    await waitForFile(join(home, 'checkpoints', 'job-d', 'ready'), {timeoutMs: 30_000})
    await provider.signal(saver, 'preempt', 8)
    const saved = await until(provider, saver, isTerminal)
    expect(saved.state, output(saver)).to.equal('PREEMPTED')
    expect(readEvents(attemptDir(saver)).find((e) => e.event === 'exit')).to.include({exitCode: 0, beforeDeadline: true})
    expect(output(saver)).to.match(/saved, deadline \d{4}-\d\d-\d\dT/)

    const stubborn = await launch(
      provider,
      request(home, `trap '' TERM; rm -f "$SKYHOP_CHECKPOINT_DIR/ready"; touch "$SKYHOP_CHECKPOINT_DIR/stubborn"; sleep 120`),
    )
    await waitForFile(join(home, 'checkpoints', 'job-d', 'stubborn'), {timeoutMs: 30_000})
    await provider.signal(stubborn, 'preempt', 4)
    expect(await until(provider, stubborn, isTerminal)).to.include({state: 'PREEMPTED', exitCode: 137})
    for (const handle of [saver, stubborn]) expect(await dockerContainersNamed(containerName(handle))).to.deep.equal([])
  })

  it('cleanup of an attempt whose runner is killed removes its container too', async () => {
    const home = newHome()
    const provider = new LocalProvider({home, containerRuntime: 'docker'})
    const handle = await launch(provider, request(home, `touch "$SKYHOP_CHECKPOINT_DIR/ready"; sleep 120`))
    await waitForFile(join(home, 'checkpoints', 'job-d', 'ready'), {timeoutMs: 30_000})
    const name = containerName(handle)
    expect(await dockerContainersNamed(name)).to.deep.equal([name])
    await provider.cleanup(handle)
    expect(await dockerContainersNamed(name)).to.deep.equal([])
  })

  it('an image that cannot be pulled is an image-pull-failed event and exit 125', async () => {
    const home = newHome()
    const provider = new LocalProvider({home, containerRuntime: 'docker'})
    const handle = await launch(provider, request(home, 'echo never', {image: 'localhost:1/skyhop-absent:nope'}))
    const done = await until(provider, handle, isTerminal)
    expect(done).to.include({state: 'FAILED', exitCode: 125})
    expect(done.reason).to.equal('cannot pull container image localhost:1/skyhop-absent:nope with docker (see output.log)')
    expect(output(handle)).not.to.contain('never')
  })
})
