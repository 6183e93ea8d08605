// The local provider with real processes: launch, poll, logs, cancel and preempt with
// grace, idempotent relaunch (in one process and across processes), LOST detection,
// capacity slots. Nothing is mocked; vendor tools are absent here, so the accelerator
// parsers get the outputs the vendors document, labelled as such.
import {expect} from 'chai'
import {execFile, spawn} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import type {Offer} from '../../src/model/catalog.js'
import {ProviderError} from '../../src/errors.js'
import {LocalProvider} from '../../src/providers/local/local-provider.js'
import {parseNpuSmiMap, parseNvidiaSmi, parseRocmSmiJson} from '../../src/providers/local/machine.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import type {LaunchHandle, PollResult} from '../../src/model/attempt.js'
import {readEvents} from '../../src/providers/attempt-dir.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import {testJobSpec} from '../helpers/job-spec.js'
import {isTerminal, pollUntil, waitForFile} from '../helpers/wait.js'

const roots: string[] = []
const providers: Array<{provider: LocalProvider; handles: LaunchHandle[]}> = []

function newHome(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-local-'))
  roots.push(dir)
  return dir
}

function spec(run: string, overrides: Partial<JobSpec> = {}): JobSpec {
  return testJobSpec({name: 'local-test', run, ...overrides})
}

let counter = 0
function request(
  home: string,
  run: string,
  options: {key?: string; attemptId?: string; env?: Record<string, string>; setup?: string; grace?: number} = {},
): LaunchRequest {
  counter++
  const attemptId = options.attemptId ?? `att-${process.pid}-${counter}`
  return {
    jobId: 'job-1',
    jobName: 'local test $(whoami)',
    attemptId,
    attempt: 1,
    restartCount: 0,
    idempotencyKey: options.key ?? `key-${attemptId}`,
    spec: spec(run, {setup: options.setup ?? null}),
    offer: {} as Offer,
    spot: false,
    env: options.env ?? {},
    checkpointDir: join(home, 'checkpoints', 'job-1'),
    checkpointSync: null,
    graceSeconds: options.grace ?? 10,
  }
}

function track(provider: LocalProvider, handle: LaunchHandle): LaunchHandle {
  let entry = providers.find((p) => p.provider === provider)
  if (!entry) providers.push((entry = {provider, handles: []}))
  entry.handles.push(handle)
  return handle
}

async function pollOne(provider: LocalProvider, handle: LaunchHandle): Promise<PollResult> {
  return (await provider.poll([handle])).get(handle.externalId)!
}

/** Polls every 25 ms: the local provider answers from this machine at once. */
const until = (provider: LocalProvider, handle: LaunchHandle, accept: (r: PollResult) => boolean): Promise<PollResult> =>
  pollUntil(provider, handle, accept, {stepMs: 25})

/**
 * Runners of this attempt directory: live processes whose command line is the runner's,
 * less the runner's own forks (its job wrapper and poller share its command line).
 */
function runnersOf(attemptDir: string): number[] {
  const found = new Map<number, number>() // pid -> ppid
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (fields[0] === 'Z' || fields[0] === 'X') continue
      if (argv.some((a) => a.endsWith('skyhop-runner.sh')) && argv.includes(attemptDir)) found.set(Number(entry), Number(fields[1]))
    } catch {}
  }
  return [...found].filter(([, ppid]) => !found.has(ppid)).map(([pid]) => pid)
}

/** Live (non-zombie) processes in a process group. */
function liveInGroup(pgid: number): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (fields[0] !== 'Z' && fields[0] !== 'X' && Number(fields[2]) === pgid) pids.push(Number(entry))
    } catch {}
  }
  return pids
}

const dataOf = (handle: LaunchHandle) => handle.data as {attemptDir: string; pid: number}

describe('local provider', function () {
  this.timeout(60_000)

  afterEach(async () => {
    for (const {provider, handles} of providers.splice(0)) for (const handle of handles) await provider.cleanup(handle)
  })
  after(() => {
    for (const dir of roots) rmSync(dir, {recursive: true, force: true})
  })

  it('check() is always ok', async () => {
    const result = await new LocalProvider({home: newHome()}).check()
    expect(result).to.include({provider: 'local', ok: true, source: null})
  })

  it('launches a real detached process, polls it to SUCCEEDED and reads its log', async () => {
    const home = newHome()
    const provider = new LocalProvider({home})
    const handle = track(
      provider,
      await provider.launch(
        request(
          home,
          'echo "job=$SKYHOP_JOB_ID attempt=$SKYHOP_ATTEMPT grace=$SKYHOP_GRACE_SECONDS name=$SKYHOP_JOB_NAME"; echo "ckpt=$SKYHOP_CHECKPOINT_DIR"; echo "$GREETING" >&2; sleep 0.3',
          {
            env: {GREETING: `it's "$(nothing)"`},
            setup: 'echo setting up',
          },
        ),
      ),
    )
    expect(handle).to.include({provider: 'local', region: 'local', zone: null})
    expect(dataOf(handle).attemptDir).to.equal(join(home, 'attempts', handle.externalId))
    const running = await until(provider, handle, (r) => r.state !== 'PENDING')
    expect(running.state).to.be.oneOf(['RUNNING', 'SUCCEEDED'])
    const done = await until(provider, handle, isTerminal)
    expect(done).to.include({state: 'SUCCEEDED', exitCode: 0, reason: null})
    expect(Date.parse(done.startedAt!)).to.be.at.most(Date.parse(done.endedAt!))
    const lines: string[] = []
    for await (const line of provider.logs(handle, {follow: false})) lines.push(line)
    expect(lines).to.deep.equal([
      'setting up',
      'job=job-1 attempt=1 grace=10 name=local test $(whoami)',
      `ckpt=${join(home, 'checkpoints', 'job-1')}`,
      `it's "$(nothing)"`,
    ])
  })

  it('reports FAILED with the job exit code', async () => {
    const home = newHome()
    const provider = new LocalProvider({home})
    const handle = track(provider, await provider.launch(request(home, 'exit 3')))
    expect(await until(provider, handle, isTerminal)).to.include({state: 'FAILED', exitCode: 3, reason: 'exit 3'})
  })

  it('follows the log as it is written and ends with the job; an AbortSignal stops following', async () => {
    const home = newHome()
    const provider = new LocalProvider({home})
    const handle = track(
      provider,
      await provider.launch(request(home, 'for i in 1 2 3 4 5; do echo "line $i"; sleep 0.2; done; printf "no newline"')),
    )
    const seen: Array<{line: string; at: number}> = []
    for await (const line of provider.logs(handle, {follow: true})) seen.push({line, at: Date.now()})
    expect(seen.map((s) => s.line)).to.deep.equal(['line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'no newline'])
    // Lines came as they were written, not all at the end.
    expect(seen[4].at - seen[0].at).to.be.greaterThan(500)

    const forever = track(provider, await provider.launch(request(home, 'echo started; while :; do sleep 1; done')))
    const controller = new AbortController()
    const got: string[] = []
    const abortAt = setTimeout(() => controller.abort(), 1000)
    const t0 = Date.now()
    for await (const line of provider.logs(forever, {follow: true, signal: controller.signal})) got.push(line)
    clearTimeout(abortAt)
    expect(got).to.deep.equal(['started'])
    expect(Date.now() - t0).to.be.within(900, 2000)
  })

  it('cancel with grace: the job gets SIGTERM, its handler runs, it ends CANCELLED before the deadline', async () => {
    const home = newHome()
    const provider = new LocalProvider({home})
    const ckpt = join(home, 'checkpoints', 'job-1')
    const handle = track(
      provider,
      await provider.launch(
        request(
          home,
          `trap 'echo "saved at step 4" > "$SKYHOP_CHECKPOINT_DIR/state"; exit 0' TERM; touch "$SKYHOP_CHECKPOINT_DIR/ready"; while :; do sleep 0.1 & wait $!; done`,
        ),
      ),
    )
    await waitForFile(join(ckpt, 'ready'))
    await provider.signal(handle, 'cancel', 5)
    const done = await until(provider, handle, isTerminal)
    expect(done).to.include({state: 'CANCELLED', exitCode: 0})
    expect(readFileSync(join(ckpt, 'state'), 'utf8')).to.equal('saved at step 4\n')
    const events = readEvents(dataOf(handle).attemptDir)
    expect(events.find((e) => e.event === 'exit')).to.include({beforeDeadline: true})
    expect(events.some((e) => e.event === 'notice')).to.equal(false)
  })

  it('preempt: a job that ignores SIGTERM is killed at the deadline and reported PREEMPTED', async () => {
    const home = newHome()
    const provider = new LocalProvider({home})
    const ckpt = join(home, 'checkpoints', 'job-1')
    const handle = track(provider, await provider.launch(request(home, `trap '' TERM; touch "$SKYHOP_CHECKPOINT_DIR/ready"; sleep 60`)))
    await waitForFile(join(ckpt, 'ready'))
    const sentAt = Date.now()
    await provider.signal(handle, 'preempt', 2)
    const stopping = await pollOne(provider, handle)
    expect(stopping.state).to.equal('RUNNING')
    const done = await until(provider, handle, isTerminal)
    expect(done).to.include({state: 'PREEMPTED', exitCode: 137})
    expect(done.reason).to.match(/preempted \(stop-request\); killed by SIGKILL/)
    const kill = readEvents(dataOf(handle).attemptDir).find((e) => e.event === 'kill')!
    expect(Date.parse(kill.ts) - sentAt).to.be.within(1_400, 2_000)
    expect(readFileSync(join(dataOf(handle).attemptDir, 'preempt-notice'), 'utf8').trim()).to.match(/^\d{4}-\d\d-\d\dT/)
    // Signalling an ended attempt is a no-op.
    await provider.signal(handle, 'cancel', 1)
  })

  it('a relaunch with the same idempotency key returns the same handle and never starts a second process', async () => {
    const home = newHome()
    const provider = new LocalProvider({home})
    const req = request(home, 'sleep 3', {key: 'same-key'})
    const handles = await Promise.all([provider.launch(req), provider.launch(req), provider.launch(req)])
    track(provider, handles[0])
    expect(handles[1]).to.deep.equal(handles[0])
    expect(handles[2]).to.deep.equal(handles[0])
    const again = await provider.launch(req)
    expect(again).to.deep.equal(handles[0])
    // Another provider object on the same home (another CLI process) agrees.
    expect(await new LocalProvider({home}).launch(req)).to.deep.equal(handles[0])
    expect(runnersOf(dataOf(handles[0]).attemptDir)).to.deep.equal([dataOf(handles[0]).pid])
  })

  it('two separate processes launching with one key start one runner', async function () {
    this.timeout(60_000)
    const home = newHome()
    const script = `
      import {LocalProvider} from ${JSON.stringify(fileURLToPath(new URL('../../src/providers/local/local-provider.ts', import.meta.url)))}
      const req = JSON.parse(process.argv[1])
      const handle = await new LocalProvider({home: req.home}).launch(req.request)
      process.stdout.write(JSON.stringify(handle))
    `
    const req = request(home, 'sleep 4', {key: 'cross-process'})
    const launchIn = () =>
      new Promise<LaunchHandle>((resolve, reject) =>
        execFile(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script, JSON.stringify({home, request: req})],
          (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(JSON.parse(stdout) as LaunchHandle)),
        ),
      )
    const [a, b] = await Promise.all([launchIn(), launchIn()])
    const provider = new LocalProvider({home})
    track(provider, a)
    expect(b).to.deep.equal(a)
    expect(runnersOf(dataOf(a).attemptDir)).to.deep.equal([dataOf(a).pid])
  })

  it('a claim abandoned by a launcher that died before starting anything does not block the key', async () => {
    const home = newHome()
    const provider = new LocalProvider({home})
    const req = request(home, 'echo ok', {key: 'abandoned'})
    // A launcher that claimed the key and died: a real process that has exited.
    const dead = await new Promise<number>((resolve) => {
      const child = execFile('true', () => resolve(child.pid!))
    })
    const {createHash} = await import('node:crypto')
    const key = createHash('sha256').update('abandoned').digest('hex').slice(0, 40)
    mkdirSync(join(home, 'attempts', '.launch'), {recursive: true})
    writeFileSync(
      join(home, 'attempts', '.launch', `${key}.0.claim`),
      JSON.stringify({pid: dead, attemptDir: join(home, 'attempts', req.attemptId)}),
    )
    const handle = track(provider, await provider.launch(req))
    expect(await until(provider, handle, isTerminal)).to.include({state: 'SUCCEEDED'})
    expect(existsSync(join(home, 'attempts', '.launch', `${key}.1.claim`))).to.equal(true)
  })

  it('an empty claim (a launcher of an older skyhop killed between creating and writing it) does not block the key', async () => {
    const home = newHome()
    const provider = new LocalProvider({home})
    const req = request(home, 'echo ok', {key: 'torn'})
    const {createHash} = await import('node:crypto')
    const key = createHash('sha256').update('torn').digest('hex').slice(0, 40)
    mkdirSync(join(home, 'attempts', '.launch'), {recursive: true})
    const claim = join(home, 'attempts', '.launch', `${key}.0.claim`)
    writeFileSync(claim, '')
    // Made a while ago: past the settle time a live claimer would need to write it.
    const past = new Date(Date.now() - 10_000)
    utimesSync(claim, past, past)
    const started = Date.now()
    // Before, it waited out the claim (30 s) and failed as transient, on every retry.
    const handle = track(provider, await provider.launch(req))
    expect(Date.now() - started).to.be.lessThan(10_000)
    expect(await until(provider, handle, isTerminal)).to.include({state: 'SUCCEEDED'})
    expect(existsSync(join(home, 'attempts', '.launch', `${key}.1.claim`))).to.equal(true)
    // Claims appear whole now: nothing is left beside them.
    expect(readdirSync(join(home, 'attempts', '.launch')).filter((f) => f.endsWith('.tmp'))).to.deep.equal([])
  })

  it("a dead launcher's claim whose pid now belongs to another process does not block the key (pids are reused)", async () => {
    const home = newHome()
    const provider = new LocalProvider({home})
    const req = request(home, 'echo ok', {key: 'reused'})
    // The claimer's pid taken by a live stranger (a `sleep`): its start time is not the claimer's.
    const stranger = spawn('sleep', ['60'], {stdio: 'ignore'})
    try {
      const {createHash} = await import('node:crypto')
      const key = createHash('sha256').update('reused').digest('hex').slice(0, 40)
      mkdirSync(join(home, 'attempts', '.launch'), {recursive: true})
      writeFileSync(
        join(home, 'attempts', '.launch', `${key}.0.claim`),
        JSON.stringify({pid: stranger.pid, startTime: '1', attemptDir: join(home, 'attempts', req.attemptId)}),
      )
      // Without the start time it would wait out the claim (30 s) and fail as transient.
      const handle = track(provider, await provider.launch(req))
      expect(await until(provider, handle, isTerminal)).to.include({state: 'SUCCEEDED'})
      expect(existsSync(join(home, 'attempts', '.launch', `${key}.1.claim`))).to.equal(true)
    } finally {
      stranger.kill('SIGKILL')
    }
  })

  it('LOST when the runner and its job die without an exit code; not LOST while the job still runs', async () => {
    const home = newHome()
    const provider = new LocalProvider({home})
    const handle = track(provider, await provider.launch(request(home, 'echo $$ > "$SKYHOP_CHECKPOINT_DIR/job.pid"; sleep 60')))
    const ckpt = join(home, 'checkpoints', 'job-1')
    await waitForFile(join(ckpt, 'job.pid'))
    await until(provider, handle, (r) => r.state === 'RUNNING')
    // The runner dies hard (OOM killer, kill -9): the job is still there, unsupervised.
    process.kill(dataOf(handle).pid, 'SIGKILL')
    const orphaned = await until(provider, handle, (r) => r.reason !== null)
    expect(orphaned.state).to.equal('RUNNING')
    expect(orphaned.reason).to.match(/runner is gone/)
    // Then the job goes too: nothing will ever write an exit code.
    const pgid = Number(readFileSync(join(dataOf(handle).attemptDir, 'job.pgid'), 'utf8'))
    process.kill(-pgid, 'SIGKILL')
    const lost = await until(provider, handle, isTerminal)
    expect(lost).to.include({state: 'LOST', exitCode: null})
    expect(lost.reason).to.match(/died without recording an exit code/)
  })

  it("a runner killed before its job's shell wrote job.pgid is not LOST while that shell lives (the chaos suite's rerun)", async () => {
    const home = newHome()
    const provider = new LocalProvider({home})
    const handle = track(provider, await provider.launch(request(home, 'sleep 60')))
    await until(provider, handle, (r) => r.state === 'RUNNING')
    const {attemptDir, pid} = dataOf(handle)
    // The moment of the race, set up by hand: the runner dead, no job.pgid, no status, and the
    // job's shell (a subshell of the runner: the runner's command line) still alive.
    const pgid = Number(readFileSync(join(attemptDir, 'job.pgid'), 'utf8'))
    process.kill(pid, 'SIGKILL')
    process.kill(-pgid, 'SIGKILL')
    rmSync(join(attemptDir, 'job.pgid'))
    const shell = spawn('bash', ['-c', 'sleep 30; true', 'skyhop-runner.sh', attemptDir], {stdio: 'ignore'})
    try {
      await new Promise((resolve) => setTimeout(resolve, 300))
      const during = await pollOne(provider, handle)
      expect(during.state, during.reason ?? '').to.equal('RUNNING')
      expect(during.reason).to.match(/waiting to see whether the job it was starting runs/)
    } finally {
      shell.kill('SIGKILL')
    }
    await new Promise((resolve) => shell.once('exit', resolve))
    // Once no such shell is left, nothing is coming: LOST, as before.
    const lost = await until(provider, handle, isTerminal)
    expect(lost).to.include({state: 'LOST', exitCode: null})
  })

  it('maxConcurrent queues launches beyond it (PENDING) and starts them when a slot frees', async () => {
    const home = newHome()
    const provider = new LocalProvider({home, maxConcurrent: 1})
    const ckpt = join(home, 'checkpoints', 'job-1')
    const firstHandle = track(provider, await provider.launch(request(home, `touch "$SKYHOP_CHECKPOINT_DIR/first"; sleep 1.5`)))
    await waitForFile(join(ckpt, 'first'))
    const second = track(provider, await provider.launch(request(home, 'echo second')))
    const queued = await until(provider, second, (r) => r.reason?.includes('slots') ?? false)
    expect(queued.state).to.equal('PENDING')
    expect(await provider.estimateQueue()).to.equal(null)
    expect((await provider.liveOffers())[0]).to.include({capacity: 1, expectedQueueMinutes: null})
    expect(await until(provider, firstHandle, isTerminal)).to.include({state: 'SUCCEEDED'})
    expect(await until(provider, second, isTerminal)).to.include({state: 'SUCCEEDED'})
    const secondEvents = readEvents(dataOf(second).attemptDir).map((e) => e.event)
    expect(secondEvents.indexOf('slot-wait')).to.be.lessThan(secondEvents.indexOf('slot'))
    expect(await provider.estimateQueue()).to.deep.include({minutes: 0})
  })

  it('with whenFull=fail a launch beyond maxConcurrent is a capacity error, and the key stays usable', async () => {
    const home = newHome()
    const provider = new LocalProvider({home, maxConcurrent: 1, whenFull: 'fail'})
    const ckpt = join(home, 'checkpoints', 'job-1')
    track(provider, await provider.launch(request(home, `touch "$SKYHOP_CHECKPOINT_DIR/first"; sleep 2`)))
    await waitForFile(join(ckpt, 'first'))
    const req = request(home, 'echo later', {key: 'retry-me'})
    let error: unknown
    try {
      await provider.launch(req)
    } catch (caught) {
      error = caught
    }
    expect(error).to.be.instanceOf(ProviderError)
    expect(error).to.include({category: 'capacity', provider: 'local'})
    // Once the first job ends, the same key launches for real.
    await new Promise((resolve) => setTimeout(resolve, 2500))
    const handle = track(provider, await provider.launch(req))
    expect(await until(provider, handle, isTerminal)).to.include({state: 'SUCCEEDED'})
  })

  it('cancelling a queued attempt ends it without running it', async () => {
    const home = newHome()
    const provider = new LocalProvider({home, maxConcurrent: 1})
    const ckpt = join(home, 'checkpoints', 'job-1')
    track(provider, await provider.launch(request(home, `touch "$SKYHOP_CHECKPOINT_DIR/first"; sleep 3`)))
    await waitForFile(join(ckpt, 'first'))
    const queued = track(provider, await provider.launch(request(home, 'touch "$SKYHOP_CHECKPOINT_DIR/must-not-run"')))
    await until(provider, queued, (r) => r.reason?.includes('slots') ?? false)
    await provider.signal(queued, 'cancel', 5)
    const done = await until(provider, queued, isTerminal)
    expect(done.state).to.equal('CANCELLED')
    expect(existsSync(join(ckpt, 'must-not-run'))).to.equal(false)
  })

  it('offers this machine: its CPUs and memory, no accelerator without vendor tools, price 0 unless configured', async () => {
    const offers = await new LocalProvider({home: newHome()}).liveOffers()
    expect(offers).to.have.length(1)
    expect(offers[0]).to.include({provider: 'local', region: 'local', accelerator: null, vcpus: availableParallelism(), capacity: null})
    expect(offers[0].price).to.deep.equal({onDemand: 0, spot: null, currency: 'USD'})
    expect(offers[0].memoryGiB).to.be.greaterThan(0)
    const priced = await new LocalProvider({home: newHome(), price: {amount: 1.25, currency: 'CNY'}}).liveOffers()
    expect(priced[0].price).to.deep.equal({onDemand: 1.25, spot: null, currency: 'CNY'})
  })

  it('reads accelerators from vendor tool output (shapes as the vendors document them)', async () => {
    // nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits
    expect(parseNvidiaSmi('NVIDIA H100 80GB HBM3, 81559\nNVIDIA H100 80GB HBM3, 81559\n')).to.deep.equal([
      {vendor: 'nvidia', rawName: 'NVIDIA H100 80GB HBM3', count: 2, memoryMiB: 81559, tool: 'nvidia-smi'},
    ])
    // rocm-smi --showproductname --showmeminfo vram --json
    expect(
      parseRocmSmiJson('{"card0": {"Card Series": "AMD Instinct MI300X", "VRAM Total Memory (B)": "206141652992"}}', 'amd', 'rocm-smi')[0],
    ).to.include({
      rawName: 'AMD Instinct MI300X',
      count: 1,
      memoryMiB: 196592,
    })
    // npu-smi info -m: MCU chips have no logic id and are not accelerators
    const npu = parseNpuSmiMap(
      'NPU ID  Chip ID  Chip Logic ID  Chip Name\n0       0        0              Ascend 910B3\n0       1        -              Mcu\n1       0        1              Ascend 910B3\n',
    )
    expect(npu).to.deep.equal([{vendor: 'huawei', rawName: 'Ascend 910B3', count: 2, memoryMiB: null, tool: 'npu-smi'}])
    const provider = new LocalProvider({
      home: newHome(),
      toolRunner: async (command) => (command === 'nvidia-smi' ? 'NVIDIA A100-SXM4-80GB, 81920\n' : null),
      canonicalAccelerator: (raw) => (raw.includes('A100') ? 'A100-80GB' : null),
    })
    const offers = await provider.liveOffers()
    expect(offers).to.have.length(1)
    expect(offers[0].accelerator).to.deep.equal({name: 'A100-80GB', count: 1})
  })

  it('listOwned finds running attempts; cleanup leaves nothing running', async () => {
    const home = newHome()
    const provider = new LocalProvider({home})
    const handle = await provider.launch(request(home, 'sleep 30'))
    await until(provider, handle, (r) => r.state === 'RUNNING')
    expect((await provider.listOwned()).map((h) => h.externalId)).to.deep.equal([handle.externalId])
    await provider.cleanup(handle)
    await provider.cleanup(handle)
    const done = await until(provider, handle, isTerminal)
    expect(done.state).to.equal('LOST')
    expect(await provider.listOwned()).to.deep.equal([])
  })

  it('cleanup right after launch, while the runner is still starting its job, leaves nothing running', async () => {
    const home = newHome()
    const provider = new LocalProvider({home})
    for (let i = 0; i < 5; i++) {
      const handle = await provider.launch(request(home, 'sleep 30'))
      await new Promise((resolve) => setTimeout(resolve, i * 5))
      await provider.cleanup(handle)
      await new Promise((resolve) => setTimeout(resolve, 300))
      const {attemptDir} = dataOf(handle)
      expect(runnersOf(attemptDir), `round ${i}`).to.deep.equal([])
      const pgidFile = join(attemptDir, 'job.pgid')
      if (existsSync(pgidFile)) {
        const pgid = Number(readFileSync(pgidFile, 'utf8'))
        expect(liveInGroup(pgid), `round ${i}: group ${pgid}`).to.deep.equal([])
      }
      expect((await pollOne(provider, handle)).state).to.equal('LOST')
    }
  })
})
