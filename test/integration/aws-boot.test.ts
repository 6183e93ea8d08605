// End to end on the fake EC2 with user data run locally as cloud-init would: the real
// boot script writes the attempt directory, runs the real skyhop-runner.sh, mirrors to a
// console file that GetConsoleOutput returns, and "powers off"; skyhop reads status, exit
// code and logs back through the EC2 API only. Covers success, failure, cancel through the
// instance tag in IMDS, and a spot interruption served on the instance's metadata endpoint.
import {expect} from 'chai'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {LaunchHandle, PollResult} from '../../src/model/attempt.js'
import {isTerminal, pollUntil, until} from '../helpers/wait.js'
import {jobSpec, launchRequest, world, type World} from './aws-helpers.js'

async function finalPoll(w: World, handle: LaunchHandle, timeoutMs = 30_000): Promise<PollResult> {
  return pollUntil(w.provider, handle, isTerminal, {timeoutMs, stepMs: 200})
}

async function collect(iter: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const line of iter) out.push(line)
  return out
}

describe('AWS provider end to end: boot script and runner on the fake EC2', function () {
  this.timeout(60_000)
  let w: World
  afterEach(async function () {
    await w?.close()
  })

  it('runs the job, reads exit code and logs from the console, and the instance releases itself', async function () {
    w = await world({}, {consoleGraceMs: 20_000}, {boot: true})
    const request = launchRequest({
      spec: jobSpec('echo "hello from $SKYHOP_JOB_ID"; echo "secret is $API_TOKEN"; echo done', {setup: 'echo setting up'}),
      env: {SKYHOP_JOB_ID: 'job-1', API_TOKEN: 'tok'},
    })
    const handle = await w.provider.launch(request)
    const result = await finalPoll(w, handle)
    expect(result).to.include({state: 'SUCCEEDED', exitCode: 0})
    expect(result.startedAt).to.be.a('string')
    expect(result.endedAt).to.be.a('string')
    const logs = await collect(w.provider.logs(handle, {follow: false}))
    expect(logs).to.deep.equal(['setting up', 'hello from job-1', 'secret is tok', 'done'])
    // The boot script powered off; the instance was launched to terminate on shutdown.
    const instance = await until(
      async () => w.fake.instances.get(handle.externalId)!,
      (i) => i.state === 'terminated',
    )
    expect(instance.stateReason?.code).to.equal('Client.InstanceInitiatedShutdown')
    // The attempt directory on the "instance" follows the runner contract.
    const dir = join(w.bootDir!, handle.externalId, 'root', 'var/lib/skyhop/attempts', request.attemptId)
    expect(readFileSync(join(dir, 'exit_code'), 'utf8').trim()).to.equal('0')
    expect(readFileSync(join(dir, 'runner.conf'), 'utf8')).to.match(/noticeSources='aws=http:\/\/127\.0\.0\.1:\d+\/_imds\//)
  })

  it('reports a failing job as FAILED with its exit code, and follows logs to the end', async function () {
    w = await world({}, {consoleGraceMs: 20_000}, {boot: true})
    const handle = await w.provider.launch(launchRequest({spec: jobSpec('for i in 1 2 3; do echo "line $i"; sleep 0.3; done; exit 3')}))
    const followed = await collect(w.provider.logs(handle, {follow: true}))
    expect(followed).to.deep.equal(['line 1', 'line 2', 'line 3'])
    const result = await finalPoll(w, handle)
    expect(result).to.include({state: 'FAILED', exitCode: 3})
  })

  it("keeps the instance up when its runner is SIGKILLed mid-job, and reports the job's own exit code", async function () {
    w = await world({}, {consoleGraceMs: 20_000}, {boot: true})
    const request = launchRequest({spec: jobSpec('echo start; sleep 3; echo end; exit 5')})
    const handle = await w.provider.launch(request)
    const dir = join(w.bootDir!, handle.externalId, 'root', 'var/lib/skyhop/attempts', request.attemptId)
    await until(
      () => collect(w.provider.logs(handle, {follow: false})),
      (l) => l.includes('start'),
      20_000,
      200,
    )
    process.kill(Number(readFileSync(join(dir, 'runner.pid'), 'utf8').trim()), 'SIGKILL')
    const result = await finalPoll(w, handle)
    expect(result).to.include({state: 'FAILED', exitCode: 5})
    expect(existsSync(join(dir, 'exit_code'))).to.equal(false)
    expect(readFileSync(join(dir, 'job.status'), 'utf8').trim()).to.equal('5')
    expect(await collect(w.provider.logs(handle, {follow: false}))).to.deep.equal(['start', 'end'])
  })

  it('cancels through the instance tag the boot script reads from IMDS, with grace', async function () {
    w = await world({}, {consoleGraceMs: 20_000}, {boot: true})
    const handle = await w.provider.launch(
      launchRequest({spec: jobSpec('trap \'echo "got TERM"; exit 0\' TERM; echo started; while true; do sleep 0.1; done')}),
    )
    await until(
      () => collect(w.provider.logs(handle, {follow: false})),
      (l) => l.includes('started'),
      20_000,
      200,
    )
    await w.provider.signal(handle, 'cancel', 7)
    expect(w.fake.instances.get(handle.externalId)!.tags.get('skyhop:stop-request')).to.equal('cancel 7')
    const result = await finalPoll(w, handle)
    expect(result.state).to.equal('CANCELLED')
    expect(result.exitCode).to.equal(0)
    expect(await collect(w.provider.logs(handle, {follow: false}))).to.include('got TERM')
    const dir = join(w.bootDir!, handle.externalId, 'root', 'var/lib/skyhop/attempts')
    expect(existsSync(dir)).to.equal(true)
  })

  it('hands a spot interruption notice to the job, which checkpoints; the attempt is PREEMPTED', async function () {
    w = await world({}, {consoleGraceMs: 20_000}, {boot: true})
    const run = 'trap \'echo "checkpoint at $(cat "$SKYHOP_PREEMPT_NOTICE")"; exit 0\' TERM; echo working; while true; do sleep 0.1; done'
    const handle = await w.provider.launch(launchRequest({spot: true, spec: jobSpec(run)}))
    await until(
      () => collect(w.provider.logs(handle, {follow: false})),
      (l) => l.includes('working'),
      20_000,
      200,
    )
    w.fake.interruptSpot(handle.externalId, 8000)
    const result = await finalPoll(w, handle)
    expect(result.state).to.equal('PREEMPTED')
    const logs = await collect(w.provider.logs(handle, {follow: false}))
    expect(logs.some((l) => /^checkpoint at \d{4}-\d{2}-\d{2}T/.test(l))).to.equal(true)
  })
})
