// The runner against real processes: bash, process groups, signals, and (for the clouds'
// notices) a local fake metadata server speaking the documented paths. Nothing mocked.
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {copyFileSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'

import {UsageError} from '../../src/errors.js'
import {readEvents, readExitCode, requestStop, runnerScriptPath, writeAttemptDir} from '../../src/providers/attempt-dir.js'
import type {RunnerConfig, RunnerEvent} from '../../src/runner/contract.js'
import {startFakeMetadataServer, type FakeCloud, type FakeMetadataOptions, type FakeMetadataServer} from '../fakes/fake-metadata-server.js'
import {
  children,
  eventOf,
  isLive,
  killChildren,
  makeAttempt,
  ms,
  removeDirs,
  startRunner,
  tempDir,
  waitFor,
} from '../helpers/runner-attempt.js'

/** A job that records when it got SIGTERM, saves a checkpoint, and exits 0. */
const CHECKPOINTING_JOB = `
trap 'date +%s%3N > "$SKYHOP_CHECKPOINT_DIR/term_at"; cp "$SKYHOP_PREEMPT_NOTICE" "$SKYHOP_CHECKPOINT_DIR/notice_seen" 2>/dev/null; echo step=7 > "$SKYHOP_CHECKPOINT_DIR/ckpt"; echo saved; exit 0' TERM
touch "$SKYHOP_CHECKPOINT_DIR/ready"
while :; do sleep 0.1 & wait $!; done
`

describe('skyhop-runner.sh', function () {
  this.timeout(60_000)

  afterEach(killChildren)
  after(removeDirs)

  it('runs setup then run in the workdir, logs both, and records a clean exit', async () => {
    const {dir, work} = makeAttempt({setup: 'echo "setup in $(pwd)"', run: 'echo "run $SKYHOP_JOB_ID"; echo oops >&2'})
    const runner = startRunner(dir)
    expect(await runner.done).to.equal(0)
    expect(readExitCode(dir)).to.equal(0)
    const log = readFileSync(join(dir, 'output.log'), 'utf8')
    expect(log).to.equal(`setup in ${work}\nrun \noops\n`)
    const names = readEvents(dir).map((e) => e.event)
    expect(names).to.deep.equal(['runner-start', 'setup-start', 'setup-exit', 'run-start', 'exit'])
    const exit = eventOf(dir, 'exit')!
    expect(exit).to.include({exitCode: 0, signal: null, beforeDeadline: null})
    expect(exit.ts).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(Number(readFileSync(join(dir, 'runner.pid'), 'utf8'))).to.equal(runner.child.pid)
    const pgid = Number(readFileSync(join(dir, 'job.pgid'), 'utf8'))
    expect(pgid).to.be.greaterThan(0).and.not.equal(runner.child.pid)
  })

  // The runner reads these without forking (sr_umask, sr_dir, sr_env_value): the job keeps
  // its launcher's umask, a relative attempt directory is resolved, and an env file that is
  // not skyhop's export lines is still read (through a subshell), never sourced by the runner.
  it("gives the job its launcher's umask and reads the notice path from any env file", async () => {
    const {dir} = makeAttempt({run: 'umask; echo "notice=$SKYHOP_PREEMPT_NOTICE"'})
    const old = process.umask(0o027)
    let runner
    try {
      runner = startRunner(relative(process.cwd(), dir))
    } finally {
      process.umask(old)
    }
    expect(await runner.done, runner.stderr()).to.equal(0)
    const notice = readFileSync(join(dir, 'env'), 'utf8').match(/^export SKYHOP_PREEMPT_NOTICE='([^']*)'$/m)![1]
    expect(readFileSync(join(dir, 'output.log'), 'utf8')).to.equal(`0027\nnotice=${notice}\n`)
    expect(eventOf(dir, 'runner-start')).to.include({graceSeconds: 10})

    // An env file of another shape: the runner still writes its notice where the job looks.
    const other = makeAttempt({
      run: `trap 'for i in $(seq 50); do [[ -f $SKYHOP_PREEMPT_NOTICE ]] && { echo "notice at $SKYHOP_PREEMPT_NOTICE"; exit 0; }; sleep 0.1; done; exit 3' TERM
touch "$READY"; while :; do sleep 0.1 & wait $!; done`,
    })
    const custom = join(tempDir(), 'my notice')
    const ready = join(tempDir(), 'ready')
    writeFileSync(
      join(other.dir, 'env'),
      `export READY=${JSON.stringify(ready)}\nNOTICE=${JSON.stringify(custom)}\nSKYHOP_PREEMPT_NOTICE="$NOTICE"; export SKYHOP_PREEMPT_NOTICE\n`,
    )
    const second = startRunner(other.dir)
    await waitFor('the job to start', () => existsSync(ready))
    process.kill(second.child.pid!, 'SIGTERM')
    expect(await second.done, second.stderr()).to.equal(0)
    expect(readFileSync(join(other.dir, 'output.log'), 'utf8')).to.equal(`notice at ${custom}\n`)
  })

  it("propagates the job's exit code, and a failing setup never starts run", async () => {
    const failing = makeAttempt({run: 'echo working; exit 42'})
    expect(await startRunner(failing.dir).done).to.equal(42)
    expect(readExitCode(failing.dir)).to.equal(42)
    expect(eventOf(failing.dir, 'exit')).to.include({exitCode: 42})

    const badSetup = makeAttempt({setup: 'exit 3', run: 'echo must not run'})
    expect(await startRunner(badSetup.dir).done).to.equal(3)
    expect(readFileSync(join(badSetup.dir, 'output.log'), 'utf8')).to.not.include('must not run')
    expect(eventOf(badSetup.dir, 'run-start')).to.equal(undefined)
    expect(eventOf(badSetup.dir, 'setup-exit')).to.include({exitCode: 3})
  })

  it('runs the job in its own process group', async () => {
    const ckpt = tempDir()
    const {dir} = makeAttempt({run: 'ps -o pgid= -p $$ > "$SKYHOP_CHECKPOINT_DIR/pgid"', env: {SKYHOP_CHECKPOINT_DIR: ckpt}})
    const runner = startRunner(dir)
    expect(await runner.done).to.equal(0)
    const jobPgid = Number(readFileSync(join(ckpt, 'pgid'), 'utf8').trim())
    expect(jobPgid).to.equal(Number(readFileSync(join(dir, 'job.pgid'), 'utf8')))
    expect(jobPgid).to.not.equal(runner.child.pid)
  })

  it('on SIGTERM the job gets its signal at once, checkpoints within the grace and exits before the deadline', async () => {
    const ckpt = tempDir()
    const {dir} = makeAttempt({run: CHECKPOINTING_JOB, env: {SKYHOP_CHECKPOINT_DIR: ckpt}, config: {graceSeconds: 10}})
    const runner = startRunner(dir)
    await waitFor('the job to be ready', () => existsSync(join(ckpt, 'ready')))
    const sentAt = Date.now()
    process.kill(runner.child.pid!, 'SIGTERM')
    expect(await runner.done).to.equal(0)
    expect(readFileSync(join(ckpt, 'ckpt'), 'utf8')).to.equal('step=7\n')
    const termAt = Number(readFileSync(join(ckpt, 'term_at'), 'utf8'))
    expect(termAt - sentAt, 'notice to SIGTERM at the job (ms)').to.be.lessThan(1000)

    const notice = eventOf(dir, 'notice')!
    expect(notice).to.include({source: 'signal', receivedSignal: 'SIGTERM'})
    // No stop-request: a notice, with the runner's graceSeconds.
    expect(ms(notice.deadline) - ms(notice.ts)).to.be.within(9_900, 10_100)
    expect(ms(notice.deadline) - ms(notice.killAt)).to.equal(1500)
    // The job saw its real deadline: the kill time.
    expect(readFileSync(join(ckpt, 'notice_seen'), 'utf8').trim()).to.equal(notice.killAt)
    const signal = eventOf(dir, 'signal')!
    expect(signal).to.include({signal: 'SIGTERM'})
    expect(signal.remainingSeconds as number).to.be.within(8.3, 8.5)
    expect(eventOf(dir, 'kill')).to.equal(undefined)
    expect(eventOf(dir, 'exit')).to.include({exitCode: 0, beforeDeadline: true})
  })

  it('with noticeSignalLeadSeconds a notice is written at once but the signal waits until that long before the kill; a cancel meanwhile signals at once', async () => {
    const ckpt = tempDir()
    const {dir} = makeAttempt({
      run: CHECKPOINTING_JOB,
      env: {SKYHOP_CHECKPOINT_DIR: ckpt},
      config: {graceSeconds: 10, noticeSignalLeadSeconds: 4},
    })
    const runner = startRunner(dir)
    await waitFor('the job to be ready', () => existsSync(join(ckpt, 'ready')))
    requestStop(dir, 'preempt', 8)
    process.kill(runner.child.pid!, 'SIGTERM')
    expect(await runner.done).to.equal(0)
    const notice = eventOf(dir, 'notice')!
    // 8 s of grace, killed 1.5 s before the deadline, signalled 4 s before the kill: 2.5 s after the notice.
    const termAt = Number(readFileSync(join(ckpt, 'term_at'), 'utf8'))
    expect(termAt - ms(notice.ts), 'notice to SIGTERM at the job (ms)').to.be.within(2_400, 3_400)
    expect(readFileSync(join(ckpt, 'notice_seen'), 'utf8').trim()).to.equal(notice.killAt)
    const signal = eventOf(dir, 'signal')!
    expect(signal.remainingSeconds as number).to.be.within(3.2, 4.1)
    expect(eventOf(dir, 'exit')).to.include({exitCode: 0, beforeDeadline: true})

    const ckpt2 = tempDir()
    const second = makeAttempt({
      run: CHECKPOINTING_JOB,
      env: {SKYHOP_CHECKPOINT_DIR: ckpt2},
      config: {graceSeconds: 30, noticeSignalLeadSeconds: 4},
    })
    const runner2 = startRunner(second.dir)
    await waitFor('the job to be ready', () => existsSync(join(ckpt2, 'ready')))
    requestStop(second.dir, 'preempt', 20)
    process.kill(runner2.child.pid!, 'SIGTERM')
    await waitFor('the notice', () => eventOf(second.dir, 'notice') !== undefined)
    expect(existsSync(join(ckpt2, 'term_at')), 'no signal at the notice').to.equal(false)
    const cancelAt = Date.now()
    requestStop(second.dir, 'cancel', 20)
    process.kill(runner2.child.pid!, 'SIGTERM')
    expect(await runner2.done).to.equal(0)
    expect(Number(readFileSync(join(ckpt2, 'term_at'), 'utf8')) - cancelAt, 'cancel to SIGTERM (ms)').to.be.lessThan(1500)
  })

  it('kills a job that ignores SIGTERM with SIGKILL just before the deadline', async () => {
    const ckpt = tempDir()
    const {dir} = makeAttempt({
      run: `trap 'echo ignoring TERM' TERM; touch "$SKYHOP_CHECKPOINT_DIR/ready"; while :; do sleep 0.1 & wait $!; done`,
      env: {SKYHOP_CHECKPOINT_DIR: ckpt},
      config: {graceSeconds: 30},
    })
    const runner = startRunner(dir)
    await waitFor('the job to be ready', () => existsSync(join(ckpt, 'ready')))
    requestStop(dir, 'preempt', 4)
    process.kill(runner.child.pid!, 'SIGTERM')
    expect(await runner.done).to.equal(137)
    expect(readExitCode(dir)).to.equal(137)
    const notice = eventOf(dir, 'notice')!
    const kill = eventOf(dir, 'kill')!
    expect(notice.source).to.equal('stop-request')
    // 4 s of grace, margin a quarter of it: SIGKILL 3 s after the notice.
    expect(ms(kill.ts) - ms(notice.ts)).to.be.within(2_950, 3_300)
    expect(ms(kill.ts)).to.be.lessThan(ms(notice.deadline))
    expect(eventOf(dir, 'exit')).to.include({exitCode: 137, signal: 'SIGKILL', beforeDeadline: false})
    expect(readFileSync(join(dir, 'output.log'), 'utf8')).to.include('ignoring TERM')
  })

  it('escalates just the same on the pre-5.1 bash path', async () => {
    const ckpt = tempDir()
    const {dir} = makeAttempt({
      run: `trap '' TERM; touch "$SKYHOP_CHECKPOINT_DIR/ready"; sleep 60`,
      env: {SKYHOP_CHECKPOINT_DIR: ckpt},
      config: {graceSeconds: 2},
    })
    const runner = startRunner(dir, {SKYHOP_RUNNER_COMPAT_WAIT: '1'})
    await waitFor('the job to be ready', () => existsSync(join(ckpt, 'ready')))
    process.kill(runner.child.pid!, 'SIGTERM')
    expect(await runner.done).to.equal(137)
    const notice = eventOf(dir, 'notice')!
    const kill = eventOf(dir, 'kill')!
    expect(ms(kill.ts) - ms(notice.ts)).to.be.within(1_450, 1_800)
  })

  it('a cancel is recorded as a cancel, writes no preemption notice, and uses the requested grace', async () => {
    const ckpt = tempDir()
    const {dir} = makeAttempt({run: CHECKPOINTING_JOB, env: {SKYHOP_CHECKPOINT_DIR: ckpt}})
    const runner = startRunner(dir)
    await waitFor('the job to be ready', () => existsSync(join(ckpt, 'ready')))
    requestStop(dir, 'cancel', 20)
    process.kill(runner.child.pid!, 'SIGTERM')
    expect(await runner.done).to.equal(0)
    const cancel = eventOf(dir, 'cancel')!
    expect(ms(cancel.deadline) - ms(cancel.ts)).to.be.within(19_900, 20_100)
    expect(eventOf(dir, 'notice')).to.equal(undefined)
    expect(existsSync(join(ckpt, 'notice_seen'))).to.equal(false)
  })

  it('delivers the configured signal to the whole process group', async () => {
    const ckpt = tempDir()
    const {dir} = makeAttempt({
      run: `
trap 'echo child-usr1 >> "$SKYHOP_CHECKPOINT_DIR/got"; exit 0' USR1
( trap 'echo grandchild-usr1 >> "$SKYHOP_CHECKPOINT_DIR/got"; exit 0' USR1; while :; do sleep 0.1 & wait $!; done ) &
sleep 0.3; touch "$SKYHOP_CHECKPOINT_DIR/ready"
while :; do sleep 0.1 & wait $!; done`,
      env: {SKYHOP_CHECKPOINT_DIR: ckpt},
      config: {signal: 'SIGUSR1'},
    })
    const runner = startRunner(dir)
    await waitFor('the job to be ready', () => existsSync(join(ckpt, 'ready')))
    process.kill(runner.child.pid!, 'SIGINT')
    expect(await runner.done).to.equal(0)
    const got = readFileSync(join(ckpt, 'got'), 'utf8').split('\n').filter(Boolean).sort()
    expect(got).to.deep.equal(['child-usr1', 'grandchild-usr1'])
    expect(eventOf(dir, 'signal')).to.include({signal: 'SIGUSR1'})
    expect(eventOf(dir, 'notice')).to.include({receivedSignal: 'SIGINT'})
  })

  it('reaps what the job leaves behind in its group', async () => {
    const ckpt = tempDir()
    const {dir} = makeAttempt({run: `sleep 300 & echo $! > "$SKYHOP_CHECKPOINT_DIR/orphan"; exit 0`, env: {SKYHOP_CHECKPOINT_DIR: ckpt}})
    expect(await startRunner(dir).done).to.equal(0)
    const orphan = Number(readFileSync(join(ckpt, 'orphan'), 'utf8'))
    expect(isLive(orphan)).to.equal(false)
    expect(eventOf(dir, 'exit')).to.include({leftoverProcesses: true})
  })

  it('keeps env values data: quotes, $(), backticks, newlines and globs are never run', async () => {
    const root = tempDir()
    const nasty: Record<string, string> = {
      A: `it's "quoted" 'twice'`,
      B: `$(touch ${root}/pwned-dollar)`,
      C: `\`touch ${root}/pwned-backtick\``,
      D: `line1\nline2\n`,
      E: `*; rm -rf / ; echo \\ $HOME \${HOME}`,
      F: `'; touch ${root}/pwned-quote; '`,
      SKYHOP_JOB_NAME: `name with spaces && $(id) ; \`id\``,
    }
    const {dir} = makeAttempt({
      run: `for v in A B C D E F SKYHOP_JOB_NAME; do printf '%s=%s\\0' "$v" "\${!v}"; done > "${root}/seen"`,
      env: nasty,
    })
    expect(await startRunner(dir).done).to.equal(0)
    const seen = Object.fromEntries(
      readFileSync(join(root, 'seen'), 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    )
    expect(seen).to.deep.equal(nasty)
    for (const marker of ['pwned-dollar', 'pwned-backtick', 'pwned-quote']) expect(existsSync(join(root, marker))).to.equal(false)
  })

  it('refuses invalid env names and values with a UsageError before writing anything', () => {
    const dir = join(tempDir(), 'attempt')
    const config: RunnerConfig = {graceSeconds: 5, signal: 'SIGTERM', workdir: dir, noticeSources: [], pollIntervalSeconds: 1}
    const bad: Array<Record<string, string>> = [
      {'BAD-NAME': 'x'},
      {'1X': 'x'},
      {'A B': 'x'},
      {'X;touch /tmp/p': 'x'},
      {SHELLOPTS: 'x'},
      {OK: 'a\0b'},
    ]
    for (const env of bad) {
      expect(() => writeAttemptDir(dir, {setup: null, run: 'true', env, config})).to.throw(UsageError)
    }
    expect(existsSync(dir)).to.equal(false)
    expect(() => writeAttemptDir(dir, {setup: null, run: 'true', env: {}, config: {...config, signal: 'SIGKILL'}})).to.throw(UsageError)
    expect(() => writeAttemptDir(dir, {setup: null, run: 'true', env: {}, config: {...config, noticeSources: ['ibm']}})).to.throw(
      UsageError,
    )
  })

  it('reads a workdir with quotes and spaces from runner.conf as data', async () => {
    const root = tempDir()
    const work = join(root, `it's a "dir" $(touch ${root}/pwned)`)
    const {dir} = makeAttempt({run: 'pwd', config: {workdir: work}})
    expect(await startRunner(dir).done).to.equal(0)
    expect(readFileSync(join(dir, 'output.log'), 'utf8')).to.equal(`${work}\n`)
    expect(existsSync(join(root, 'pwned'))).to.equal(false)
  })

  it('is read whole before it runs: editing the script in place (an upgrade) does not disturb a running runner', async () => {
    const root = tempDir()
    const copy = join(root, 'skyhop-runner.sh')
    copyFileSync(runnerScriptPath(), copy)
    const ckpt = tempDir()
    const {dir} = makeAttempt({run: CHECKPOINTING_JOB, env: {SKYHOP_CHECKPOINT_DIR: ckpt}, config: {graceSeconds: 5}})
    const child = spawn('bash', [copy, dir], {detached: true, stdio: 'ignore'})
    children.push(child)
    const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    await waitFor('the job to be ready', () => existsSync(join(ckpt, 'ready')))
    // Same inode, new bytes: what an in-place edit or a careless copy does.
    writeFileSync(copy, 'echo replaced; exit 99\n'.repeat(2000))
    process.kill(child.pid!, 'SIGTERM')
    expect(await done).to.equal(0)
    expect(eventOf(dir, 'exit')).to.include({exitCode: 0, beforeDeadline: true})
  })

  it('records a warning, and polls nothing, for huaweicloud', async () => {
    const {dir} = makeAttempt({run: 'true', config: {noticeSources: ['huaweicloud']}})
    expect(await startRunner(dir).done).to.equal(0)
    expect(String(eventOf(dir, 'warning')?.message)).to.match(/huaweicloud: no documented in-guest/)
  })

  describe('cloud metadata notices (local fake metadata servers)', () => {
    let server: FakeMetadataServer | null = null
    afterEach(async () => {
      await server?.close()
      server = null
    })

    const POLL_SECONDS = 1

    async function noticeFrom(
      cloud: FakeCloud,
      options: {deadlineInSeconds: number; fake?: FakeMetadataOptions},
    ): Promise<{dir: string; ckpt: string; notice: RunnerEvent; visibleAt: number; deadline: Date}> {
      server = await startFakeMetadataServer(cloud, options.fake)
      const ckpt = tempDir()
      const {dir} = makeAttempt({
        run: CHECKPOINTING_JOB,
        env: {SKYHOP_CHECKPOINT_DIR: ckpt},
        config: {graceSeconds: 10, noticeSources: [`${cloud}=${server.url}`], pollIntervalSeconds: POLL_SECONDS},
      })
      const runner = startRunner(dir)
      await waitFor('the job to be ready', () => existsSync(join(ckpt, 'ready')))
      // Let the polls see "no notice" first: two of them, or GCP's hanging GET waiting.
      const hanging = cloud === 'gcp' && !options.fake?.failHangingGets
      await waitFor('polling to begin', () =>
        hanging ? server!.hangingGets > 0 : server!.requests.filter((r) => r.method === 'GET').length >= 2,
      )
      const deadline = new Date(Math.ceil((Date.now() + options.deadlineInSeconds * 1000) / 1000) * 1000)
      const visibleAt = server.interrupt(deadline)
      const notice = await waitFor('the notice event', () => eventOf(dir, 'notice'), 10_000)
      expect(await runner.done, runner.stderr()).to.equal(0)
      return {dir, ckpt, notice, visibleAt, deadline}
    }

    function expectDetectedInTime(notice: RunnerEvent, visibleAt: number): void {
      const delay = ms(notice.ts) - visibleAt
      // Within one poll interval, plus the time one request takes on a busy 2-core box.
      expect(delay, `detection delay ${delay} ms`).to.be.lessThan(POLL_SECONDS * 1000 + 500)
    }

    function expectJobSignalled(dir: string, ckpt: string, notice: RunnerEvent): void {
      expect(readFileSync(join(ckpt, 'ckpt'), 'utf8')).to.equal('step=7\n')
      expect(readFileSync(join(ckpt, 'notice_seen'), 'utf8').trim()).to.equal(notice.killAt)
      expect(eventOf(dir, 'signal')).to.include({signal: 'SIGTERM'})
      expect(eventOf(dir, 'exit')).to.include({exitCode: 0, beforeDeadline: true})
    }

    it('AWS: IMDSv2 token, then spot/instance-action with the token; the notice carries its time', async () => {
      const {dir, ckpt, notice, visibleAt, deadline} = await noticeFrom('aws', {deadlineInSeconds: 120})
      expect(notice.source).to.equal('aws')
      expect(ms(notice.deadline)).to.equal(deadline.getTime())
      expectDetectedInTime(notice, visibleAt)
      expectJobSignalled(dir, ckpt, notice)
      const put = server!.requests.find((r) => r.method === 'PUT')!
      expect(put.path).to.equal('/latest/api/token')
      expect(put.headers['x-aws-ec2-metadata-token-ttl-seconds']).to.equal('21600')
      const gets = server!.requests.filter((r) => r.method === 'GET')
      const paths = new Set(gets.map((r) => r.path))
      expect([...paths].sort()).to.deep.equal([
        '/latest/meta-data/events/recommendations/rebalance',
        '/latest/meta-data/spot/instance-action',
      ])
      expect(gets.every((r) => typeof r.headers['x-aws-ec2-metadata-token'] === 'string')).to.equal(true)
      expect(gets.some((r) => r.status === 404)).to.equal(true)
      // One token serves all polls.
      expect(server!.requests.filter((r) => r.method === 'PUT')).to.have.length(1)
      expect(eventOf(dir, 'rebalance')).to.equal(undefined)
    })

    it('AWS: a rebalance recommendation is recorded once and the job runs on; the interruption notice then stops it', async () => {
      server = await startFakeMetadataServer('aws')
      const ckpt = tempDir()
      const {dir} = makeAttempt({
        run: CHECKPOINTING_JOB,
        env: {SKYHOP_CHECKPOINT_DIR: ckpt},
        config: {graceSeconds: 10, noticeSources: [`aws=${server.url}`], pollIntervalSeconds: POLL_SECONDS},
      })
      const runner = startRunner(dir)
      await waitFor('the job to be ready', () => existsSync(join(ckpt, 'ready')))
      const noticeTime = new Date(Math.floor(Date.now() / 1000) * 1000)
      server.recommendRebalance(noticeTime)
      const rebalance = await waitFor('the rebalance event', () => eventOf(dir, 'rebalance'), 10_000)
      expect(rebalance).to.include({source: 'aws', noticeTime: noticeTime.toISOString().replace('.000Z', 'Z')})
      // More polls: the job still runs, unsignalled, and the recommendation is recorded once.
      const seen = server.requests.length
      await waitFor('more polls', () => server!.requests.length >= seen + 3)
      expect(existsSync(join(ckpt, 'term_at'))).to.equal(false)
      expect(eventOf(dir, 'signal')).to.equal(undefined)
      expect(readEvents(dir).filter((e) => e.event === 'rebalance')).to.have.length(1)
      server.interrupt(new Date(Date.now() + 120_000))
      expect(await runner.done, runner.stderr()).to.equal(0)
      const notice = eventOf(dir, 'notice')!
      expect(notice.source).to.equal('aws')
      expectJobSignalled(dir, ckpt, notice)
    })

    it('GCP: a hanging GET on instance/preempted (wait_for_change, last_etag, timeout_sec) sees the notice at once; 30 s deadline', async () => {
      const {dir, ckpt, notice, visibleAt} = await noticeFrom('gcp', {deadlineInSeconds: 30})
      expect(notice.source).to.equal('gcp')
      expect(notice.detail).to.equal('preempted=TRUE (wait_for_change)')
      expect(ms(notice.deadline) - ms(notice.ts)).to.be.within(29_900, 30_100)
      expectDetectedInTime(notice, visibleAt)
      expectJobSignalled(dir, ckpt, notice)
      expect(server!.requests.every((r) => r.headers['metadata-flavor'] === 'Google' && r.status === 200)).to.equal(true)
      // A plain GET for the value and its ETag, then the hanging GET armed with that ETag,
      // answered by the change.
      expect(server!.requests).to.have.length(2)
      const [first, second] = server!.requests
      expect(first.path).to.equal('/computeMetadata/v1/instance/preempted')
      const wait = new URL(second.path, 'http://x')
      expect(wait.pathname).to.equal('/computeMetadata/v1/instance/preempted')
      expect(wait.searchParams.get('wait_for_change')).to.equal('true')
      expect(wait.searchParams.get('last_etag')).to.match(/^[0-9a-f]{16}$/)
      expect(Number(wait.searchParams.get('timeout_sec'))).to.be.greaterThan(0)
      expect(second.at).to.be.at.least(visibleAt)
    })

    it('GCP: when the hanging GET fails (503 in a maintenance event), polls instance/preempted every interval instead', async () => {
      const {dir, ckpt, notice, visibleAt} = await noticeFrom('gcp', {deadlineInSeconds: 30, fake: {failHangingGets: true}})
      expect(notice.source).to.equal('gcp')
      expect(notice.detail).to.equal('preempted=TRUE')
      // Seen by a plain poll: the notice may have been up one interval already.
      expect(ms(notice.deadline) - ms(notice.ts)).to.be.within(28_900, 29_100)
      expectDetectedInTime(notice, visibleAt)
      expectJobSignalled(dir, ckpt, notice)
      const waits = server!.requests.filter((r) => r.path.includes('wait_for_change=true'))
      expect(waits.length).to.be.at.least(1)
      expect(waits.every((r) => r.status === 503)).to.equal(true)
      // The notice came from a plain poll after the failed wait.
      const plain = server!.requests.filter((r) => r.path === '/computeMetadata/v1/instance/preempted')
      expect(plain.length).to.be.at.least(2)
      expect(plain.at(-1)!.at).to.be.at.least(waits[0].at)
    })

    it('Azure: scheduledevents with Metadata: true; a Preempt for this VM, NotBefore as the deadline', async () => {
      const {dir, ckpt, notice, visibleAt, deadline} = await noticeFrom('azure', {deadlineInSeconds: 30})
      expect(notice.source).to.equal('azure')
      expect(ms(notice.deadline)).to.equal(deadline.getTime())
      expectDetectedInTime(notice, visibleAt)
      expectJobSignalled(dir, ckpt, notice)
      expect(server!.requests.some((r) => r.path === '/metadata/scheduledevents?api-version=2020-07-01')).to.equal(true)
      expect(server!.requests.every((r) => r.headers.metadata === 'true')).to.equal(true)
    })

    it('Azure: a Preempt event for another VM of the set is not ours', async () => {
      server = await startFakeMetadataServer('azure', {azureVmName: 'vm-ours'})
      server.addForeignAzureEvent('vm-theirs', new Date(Date.now() + 30_000))
      const {dir} = makeAttempt({run: 'sleep 3.5', config: {noticeSources: [`azure=${server.url}`], pollIntervalSeconds: POLL_SECONDS}})
      expect(await startRunner(dir).done).to.equal(0)
      expect(server.requests.filter((r) => r.path.startsWith('/metadata/scheduledevents')).length).to.be.greaterThan(1)
      expect(eventOf(dir, 'notice')).to.equal(undefined)
    })

    it('Alibaba: hardened-mode token, then instance/spot/termination-time (UTC)', async () => {
      const {dir, ckpt, notice, visibleAt, deadline} = await noticeFrom('aliyun', {deadlineInSeconds: 300})
      expect(notice.source).to.equal('aliyun')
      expect(ms(notice.deadline)).to.equal(deadline.getTime())
      expectDetectedInTime(notice, visibleAt)
      expectJobSignalled(dir, ckpt, notice)
      expect(server!.requests[0]).to.include({method: 'PUT', path: '/latest/api/token'})
      expect(server!.requests[0].headers['x-aliyun-ecs-metadata-token-ttl-seconds']).to.equal('21600')
      const gets = server!.requests.filter((r) => r.method === 'GET')
      expect(gets.every((r) => typeof r.headers['x-aliyun-ecs-metadata-token'] === 'string')).to.equal(true)
    })

    it('Tencent: spot/termination-time in UTC+8 wall time', async () => {
      const {dir, ckpt, notice, visibleAt, deadline} = await noticeFrom('tencentcloud', {deadlineInSeconds: 120})
      expect(notice.source).to.equal('tencentcloud')
      expect(ms(notice.deadline)).to.equal(deadline.getTime())
      expectDetectedInTime(notice, visibleAt)
      expectJobSignalled(dir, ckpt, notice)
    })
  })
})
