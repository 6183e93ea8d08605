// The runner's checkpoint store against a real HTTP object store (the fake speaks
// presigned GET/PUT; its signature check is the dialects' business, tested elsewhere):
// restore before the job, copies while it runs, the last copy on exit before exit_code,
// and what a refused or unreachable store does. Real bash, real tar, real curl.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {readEvents, readExitCode, requestStop} from '../../src/providers/attempt-dir.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {eventOf, killChildren, makeAttempt, removeDirs, startRunner, tempDir, waitFor} from '../helpers/runner-attempt.js'

/** A stand-in for the signature: whatever is in the URL must never reach an event or a log. */
const SECRET = 'Signature=sEcReT-sIgNaTuRe-123'

function tarOf(files: Record<string, string>): Buffer {
  const dir = tempDir()
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return execFileSync('tar', ['-cf', '-', '-C', dir, '.'])
}

function untar(archive: Buffer): Record<string, string> {
  const dir = tempDir()
  execFileSync('tar', ['-xf', '-', '-C', dir], {input: archive})
  const out: Record<string, string> = {}
  for (const name of execFileSync('ls', ['-A', dir], {encoding: 'utf8'}).split('\n').filter(Boolean))
    out[name] = readFileSync(join(dir, name), 'utf8')
  return out
}

describe('skyhop-runner.sh with a checkpoint store', function () {
  this.timeout(60_000)
  let store: FakeObjectStore
  let url: string

  beforeEach(async () => {
    store = new FakeObjectStore()
    await store.start()
    url = `${store.endpoint}/ckpt-bucket/runs/job-1/checkpoint.tar?${SECRET}`
  })
  afterEach(async () => {
    killChildren()
    await store.stop()
  })
  after(removeDirs)

  function attempt(run: string, config: Record<string, unknown> = {}) {
    const ckpt = join(tempDir(), 'ckpt')
    const a = makeAttempt({
      run,
      env: {SKYHOP_CHECKPOINT_DIR: ckpt},
      config: {checkpointGet: url, checkpointPut: url, checkpointSyncSeconds: 0, ...config},
    })
    return {...a, ckpt}
  }

  function noSecretIn(dir: string): void {
    for (const name of ['events.jsonl', 'output.log', 'runner.log']) {
      const p = join(dir, name)
      if (existsSync(p)) expect(readFileSync(p, 'utf8'), name).to.not.include('sEcReT')
    }
  }

  it('restores the archive before the job starts, and copies the changed directory back when it exits', async () => {
    store.objects.set('ckpt-bucket/runs/job-1/checkpoint.tar', {body: tarOf({step: '41\n'}), contentType: null, storedAt: new Date()})
    const a = attempt('read n < "$SKYHOP_CHECKPOINT_DIR/step"; echo "resumed at $n"; echo $((n + 1)) > "$SKYHOP_CHECKPOINT_DIR/step"')
    const r = startRunner(a.dir)
    expect(await r.done).to.equal(0)
    expect(readFileSync(join(a.dir, 'output.log'), 'utf8')).to.include('resumed at 41')
    const restore = eventOf(a.dir, 'checkpoint-restore')!
    expect(restore.found).to.equal(true)
    expect(restore.bytes).to.be.greaterThan(0)
    const events = readEvents(a.dir).map((e) => e.event)
    expect(events.indexOf('checkpoint-restore')).to.be.lessThan(events.indexOf('run-start'))
    expect(events.indexOf('checkpoint-save')).to.be.lessThan(events.indexOf('exit'))
    expect(untar(store.object('ckpt-bucket', 'runs/job-1/checkpoint.tar')!.body)).to.deep.equal({step: '42\n'})
    expect(store.object('ckpt-bucket', 'runs/job-1/checkpoint.tar')!.contentType).to.equal('application/octet-stream')
    noSecretIn(a.dir)
  })

  it('starts from scratch when the store has nothing yet (404), and copies nothing when nothing changed', async () => {
    const a = attempt('echo fresh; ls -A "$SKYHOP_CHECKPOINT_DIR" | wc -l')
    const r = startRunner(a.dir)
    expect(await r.done).to.equal(0)
    expect(eventOf(a.dir, 'checkpoint-restore')!.found).to.equal(false)
    expect(eventOf(a.dir, 'checkpoint-save')).to.equal(undefined)
    expect(store.requests.map((q) => `${q.method} ${q.status}`)).to.deep.equal(['GET 404'])
  })

  it('copies the directory while the job runs, only when it changed', async () => {
    const a = attempt(
      `for i in 1 2 3; do echo $i > "$SKYHOP_CHECKPOINT_DIR/step.tmp" && mv "$SKYHOP_CHECKPOINT_DIR/step.tmp" "$SKYHOP_CHECKPOINT_DIR/step"; sleep 1.6; done; sleep 2`,
      {checkpointSyncSeconds: 0.5},
    )
    const r = startRunner(a.dir)
    const early = await waitFor('a periodic copy', () => store.object('ckpt-bucket', 'runs/job-1/checkpoint.tar'))
    expect(readExitCode(a.dir)).to.equal(null)
    expect(Object.keys(untar(early.body))).to.deep.equal(['step'])
    expect(await r.done).to.equal(0)
    const saves = readEvents(a.dir).filter((e) => e.event === 'checkpoint-save')
    expect(saves.every((e) => e.ok === true)).to.equal(true)
    // Three writes, each copied once: not one copy per half-second tick over ~7 s.
    expect(saves.filter((e) => e.reason === 'periodic').length).to.be.within(2, 4)
    expect(untar(store.object('ckpt-bucket', 'runs/job-1/checkpoint.tar')!.body)).to.deep.equal({step: '3\n'})
  })

  it('on a notice, the checkpoint the job saves in its grace reaches the store before exit_code', async () => {
    const a = attempt(
      `trap 'echo step=7 > "$SKYHOP_CHECKPOINT_DIR/ckpt"; exit 0' TERM
touch "$SKYHOP_CHECKPOINT_DIR/ready"
while :; do sleep 0.1 & wait $!; done`,
      {graceSeconds: 10},
    )
    const r = startRunner(a.dir)
    await waitFor('the job', () => existsSync(join(a.ckpt, 'ready')))
    requestStop(a.dir, 'preempt', 10)
    process.kill(r.child.pid!, 'SIGTERM')
    expect(await r.done).to.equal(0)
    const save = readEvents(a.dir).find((e) => e.event === 'checkpoint-save' && e.reason === 'exit')!
    expect(save.ok).to.equal(true)
    expect(untar(store.object('ckpt-bucket', 'runs/job-1/checkpoint.tar')!.body)).to.deep.include({ckpt: 'step=7\n'})
    const events = readEvents(a.dir).map((e) => e.event)
    expect(events.slice(events.indexOf('notice'))).to.include.ordered.members(['notice', 'signal', 'checkpoint-save', 'exit'])
  })

  it('a store that refuses the URL fails the attempt before the job starts, naming the status and the code, never the URL', async () => {
    store.failNext(1, 403, 'AccessDenied')
    const a = attempt('echo should-not-run')
    const r = startRunner(a.dir)
    expect(await r.done).to.not.equal(0)
    expect(readExitCode(a.dir)).to.equal(null)
    expect(eventOf(a.dir, 'run-start')).to.equal(undefined)
    expect(String(eventOf(a.dir, 'error')!.message)).to.match(/refused the signed URL \(HTTP 403 AccessDenied\)/)
    noSecretIn(a.dir)
  })

  it('retries a store that is briefly unavailable', async () => {
    store.failNext(2, 503, 'SlowDown')
    const a = attempt('echo ran')
    const r = startRunner(a.dir)
    expect(await r.done).to.equal(0)
    expect(eventOf(a.dir, 'checkpoint-restore')).to.deep.include({found: false, tries: 3})
  })

  it('a failed last copy is recorded and keeps the job exit code; the store keeps the previous checkpoint', async () => {
    store.objects.set('ckpt-bucket/runs/job-1/checkpoint.tar', {body: tarOf({step: '1\n'}), contentType: null, storedAt: new Date()})
    // The job waits for the test's go, so the failure is armed after the restore GET and before
    // the PUT on exit (a job that exits at once raced the arming, and its PUT could succeed).
    const go = join(tempDir(), 'go')
    const a = attempt(`while [ ! -e ${JSON.stringify(go)} ]; do sleep 0.05; done; echo 2 > "$SKYHOP_CHECKPOINT_DIR/step"; exit 3`)
    // The restore GET succeeds; the PUT on exit meets a 500.
    const r = startRunner(a.dir)
    await waitFor('the restore', () => eventOf(a.dir, 'checkpoint-restore'))
    store.failNext(1, 500, 'InternalError')
    writeFileSync(go, '')
    expect(await r.done).to.equal(3)
    const save = eventOf(a.dir, 'checkpoint-save')!
    expect(save).to.deep.include({ok: false, reason: 'exit', httpStatus: 500})
    expect(String(save.message)).to.include('InternalError')
    expect(untar(store.object('ckpt-bucket', 'runs/job-1/checkpoint.tar')!.body)).to.deep.equal({step: '1\n'})
    noSecretIn(a.dir)
  })

  it('a held attempt neither restores nor starts until its go object is in the store, then restores what the old attempt saved', async () => {
    const go = `${store.endpoint}/ckpt-bucket/runs/job-1/holds/a-2?${SECRET}`
    const a = attempt('read n < "$SKYHOP_CHECKPOINT_DIR/step"; echo "resumed at $n"', {holdUrl: go, holdTimeoutSeconds: 60})
    const r = startRunner(a.dir)
    await waitFor('the hold', () => eventOf(a.dir, 'hold-wait'))
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect(eventOf(a.dir, 'checkpoint-restore')).to.equal(undefined)
    expect(eventOf(a.dir, 'run-start')).to.equal(undefined)
    expect(store.requests.every((q) => q.method === 'GET' && q.status === 404 && q.key.includes('holds/'))).to.equal(true)
    // The attempt it replaces saves its last checkpoint, then skyhop writes the go.
    store.objects.set('ckpt-bucket/runs/job-1/checkpoint.tar', {body: tarOf({step: '9\n'}), contentType: null, storedAt: new Date()})
    store.objects.set('ckpt-bucket/runs/job-1/holds/a-2', {body: Buffer.from('go\n'), contentType: null, storedAt: new Date()})
    expect(await r.done).to.equal(0)
    expect(readFileSync(join(a.dir, 'output.log'), 'utf8')).to.include('resumed at 9')
    const events = readEvents(a.dir).map((e) => e.event)
    expect(events.indexOf('hold-released')).to.be.lessThan(events.indexOf('checkpoint-restore'))
    noSecretIn(a.dir)
  })

  it('a held attempt waits for a file just as well, and gives up with 75 and no exit code when no go comes', async () => {
    const file = join(tempDir(), 'go')
    const a = attempt('echo started', {holdFile: file, holdTimeoutSeconds: 60})
    const r = startRunner(a.dir)
    await waitFor('the hold', () => eventOf(a.dir, 'hold-wait'))
    expect(eventOf(a.dir, 'checkpoint-restore')).to.equal(undefined)
    writeFileSync(file, '')
    expect(await r.done).to.equal(0)
    expect(readFileSync(join(a.dir, 'output.log'), 'utf8')).to.include('started')

    const never = attempt('echo started', {holdFile: join(tempDir(), 'never'), holdTimeoutSeconds: 1})
    const n = startRunner(never.dir)
    expect(await n.done).to.equal(75)
    expect(eventOf(never.dir, 'hold-expired')).to.deep.include({timeoutSeconds: 1})
    expect(eventOf(never.dir, 'run-start')).to.equal(undefined)
    expect(readExitCode(never.dir)).to.equal(null)
  })

  it('refuses a checkpoint store without a checkpoint directory in env', async () => {
    const a = makeAttempt({run: 'true', config: {checkpointGet: url, checkpointPut: url}})
    const r = startRunner(a.dir)
    expect(await r.done).to.not.equal(0)
    expect(String(eventOf(a.dir, 'error')!.message)).to.include('SKYHOP_CHECKPOINT_DIR')
  })
})
