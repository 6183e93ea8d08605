// End to end on the local provider: the built CLI, real processes, a real SQLite store.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {Store} from '../../src/state/store.js'
import {parseEnvelope, runCli, runCliAsync, tempHome} from '../helpers/cli.js'
import {stateDump, stateValue} from '../helpers/pg-suite.js'
import {sleep, waitUntil} from '../helpers/wait.js'

function jobFile(home: string, name: string, body: string): string {
  const file = join(home, `${name}.yaml`)
  writeFileSync(file, body)
  return file
}

/** Only local, so nothing here depends on Slurm being up. */
function localOnly(home: string, extra = ''): Record<string, string> {
  const config = join(home, 'config.yaml')
  writeFileSync(config, `providers:\n  slurm: {enabled: false}\n${extra}`)
  return {SKYHOP_CONFIG: config}
}

/** Every process's command line, to check that nothing of a job is left running. */
function ps(): string {
  return execFileSync('ps', ['-eo', 'args'], {encoding: 'utf8'})
}

const waitFor = (check: () => boolean, timeoutMs = 30_000): Promise<void> => waitUntil(check, timeoutMs, 200)

function status(home: string, env: Record<string, string>, job: string) {
  const r = runCli(['status', job, '--json'], {home, env})
  return parseEnvelope(r.stdout).result.job
}

describe('launch on the local provider (end to end)', function () {
  this.timeout(120_000)

  it('runs a job, streams its output and exits 0', () => {
    const home = tempHome()
    const r = runCli(['launch', 'examples/hello.yaml', '--yes', '--wait'], {home, env: localOnly(home)})
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.match(/hello from skyhop \(job j-[0-9a-f]+, attempt 1\)/)
    expect(r.stderr).to.include('succeeded')
  })

  it("passes the job's own exit code through, and reports it under --json", () => {
    const home = tempHome()
    const env = localOnly(home)
    const file = jobFile(home, 'fails', 'name: fails\nrun: echo before; exit 7\n')
    const r = runCli(['launch', file, '-y', '--wait'], {home, env})
    expect(r.code).to.equal(7)
    expect(r.stdout).to.include('before')
    const j = runCli(['launch', file, '-y', '--wait', '--json'], {home, env})
    expect(j.code).to.equal(7)
    const out = parseEnvelope(j.stdout)
    expect(out.ok).to.equal(true)
    expect(out.result.exitCode).to.equal(7)
    expect(out.result.job.state).to.equal('FAILED')
  })

  it('restarts on an exit code listed in restart_on_exit_codes, then succeeds', () => {
    const home = tempHome()
    const file = jobFile(
      home,
      'flaky',
      'name: flaky\nrecovery: {restart_on_exit_codes: [75], max_restarts_on_errors: 2}\nrun: |\n  if [ "$SKYHOP_ATTEMPT" -lt 2 ]; then echo flaky; exit 75; fi\n  echo "ok on attempt $SKYHOP_ATTEMPT"\n',
    )
    const r = runCli(['launch', file, '-y', '--wait', '--json'], {home, env: localOnly(home)})
    expect(r.code, r.stderr).to.equal(0)
    const out = parseEnvelope(r.stdout).result
    expect(out.attempts.map((a: {state: string}) => a.state)).to.deep.equal(['FAILED', 'SUCCEEDED'])
  })

  it('plans only (dry run) and records nothing', () => {
    const home = tempHome()
    const r = runCli(['launch', 'examples/hello.yaml', '--dry-run', '--json'], {home, env: localOnly(home)})
    expect(r.code).to.equal(0)
    expect(parseEnvelope(r.stdout).result.plan.chosen.provider).to.equal('local')
    expect(parseEnvelope(runCli(['status', '--json'], {home}).stdout).result.jobs).to.deep.equal([])
  })

  it('refuses to launch without a terminal unless --yes', () => {
    const home = tempHome()
    const r = runCli(['launch', 'examples/hello.yaml'], {home, env: localOnly(home)})
    expect(r.code).to.equal(2)
    expect(r.stderr).to.include('--yes')
  })

  it('fails with exit 4 when local capacity is full and nothing else can run it', async () => {
    const home = tempHome()
    const env = localOnly(home)
    writeFileSync(env.SKYHOP_CONFIG, 'providers:\n  slurm: {enabled: false}\n  local: {max_concurrent: 1, when_full: fail}\n')
    const blocker = jobFile(home, 'blocker', 'name: blocker\nrun: sleep 30\n')
    expect(runCli(['launch', blocker, '-y'], {home, env}).code).to.equal(0)
    await waitFor(() => status(home, env, 'blocker').state === 'RUNNING')
    const r = runCli(['launch', 'examples/hello.yaml', '-y', '--wait', '--json'], {home, env})
    expect(r.code).to.equal(4)
    const attempt = parseEnvelope(r.stdout).result.attempts[0]
    expect(attempt.state).to.equal('FAILED')
    expect(attempt.reason).to.match(/slots are busy/)
    runCli(['cancel', 'blocker', '--grace', '1s'], {home, env})
  })

  it("cancels with grace: the job's SIGTERM handler runs", async () => {
    const home = tempHome()
    const env = localOnly(home)
    const file = jobFile(
      home,
      'graceful',
      'name: graceful\nrun: |\n  trap \'echo "handler ran"; exit 0\' TERM\n  echo started\n  while true; do sleep 0.2; done\n',
    )
    expect(runCli(['launch', file, '-y'], {home, env}).code).to.equal(0)
    await waitFor(() => runCli(['logs', 'graceful'], {home, env}).stdout.includes('started'))
    const c = runCli(['cancel', 'graceful', '--grace', '10s', '--json'], {home, env})
    expect(c.code, c.stderr).to.equal(0)
    expect(parseEnvelope(c.stdout).result.job.state).to.equal('CANCELLED')
    expect(runCli(['logs', 'graceful'], {home, env}).stdout).to.include('handler ran')
    expect(status(home, env, 'graceful').attemptsDetail[0].state).to.equal('CANCELLED')
  })

  it('resumes from the checkpoint after a preemption notice and does exactly the work', async () => {
    const home = tempHome()
    const env = localOnly(home)
    const file = jobFile(
      home,
      'counter',
      [
        'name: counter',
        'recovery: {max_restarts: 2}',
        'run: |',
        '  f="$SKYHOP_CHECKPOINT_DIR/step"; mkdir -p "$SKYHOP_CHECKPOINT_DIR"',
        '  i=$(cat "$f" 2>/dev/null || echo 0)',
        '  echo "attempt $SKYHOP_ATTEMPT resumes at $i"',
        '  trap \'echo "$i" > "$f"; echo "saved $i (notice: $(cat "$SKYHOP_PREEMPT_NOTICE"))"; exit 0\' TERM',
        '  while [ "$i" -lt 20 ]; do i=$((i+1)); echo "step $i" >> "$SKYHOP_CHECKPOINT_DIR/work.log"; sleep 0.2; done',
        '  echo "finished at $i"',
        '',
      ].join('\n'),
    )
    const run = runCliAsync(['launch', file, '-y', '--wait'], {home, env})
    await waitFor(() => runCli(['logs', 'counter'], {home, env}).stdout.match(/resumes at 0/) !== null)
    await sleep(1000)
    const p = runCli(['preempt', 'counter', '--grace', '10s'], {home, env})
    expect(p.code, p.stderr).to.equal(0)
    const r = await run
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.match(/attempt 2 resumes at [1-9]/)
    expect(r.stdout).to.include('finished at 20')
    const job = status(home, env, 'counter')
    expect(job.attemptsDetail.map((a: {state: string}) => a.state)).to.deep.equal(['PREEMPTED', 'SUCCEEDED'])
    // Every step done exactly once across both attempts.
    const work = readFileSync(join(home, 'checkpoints', job.id, 'work.log'), 'utf8')
      .trim()
      .split('\n')
    const saved = Number(/saved (\d+)/.exec(r.stdout)![1])
    expect(work.length).to.be.within(20, 21) // the step in flight when the signal came may repeat once
    expect(new Set(work).size).to.equal(20)
    expect(saved).to.be.greaterThan(0)
    expect(job.events.map((e: {kind: string}) => e.kind)).to.include.members(['preempt-requested', 'attempt-preempted', 'job-recovering'])
  })

  it('kills a job that ignores SIGTERM at the grace deadline and restarts it from its last checkpoint', async () => {
    const home = tempHome()
    const env = localOnly(home)
    const file = jobFile(
      home,
      'stubborn',
      [
        'name: stubborn',
        'recovery: {max_restarts: 1}',
        'run: |',
        '  f="$SKYHOP_CHECKPOINT_DIR/step"; mkdir -p "$SKYHOP_CHECKPOINT_DIR"',
        '  i=$(cat "$f" 2>/dev/null || echo 0)',
        '  echo "attempt $SKYHOP_ATTEMPT from $i"',
        '  trap "" TERM',
        '  while [ "$i" -lt 15 ]; do i=$((i+1)); echo "$i" > "$f.tmp"; mv "$f.tmp" "$f"; sleep 0.2; done',
        '  echo "finished at $i"',
        '',
      ].join('\n'),
    )
    const run = runCliAsync(['launch', file, '-y', '--wait'], {home, env})
    await waitFor(() => runCli(['logs', 'stubborn'], {home, env}).stdout.includes('attempt 1 from 0'))
    await sleep(600)
    const t0 = Date.now()
    expect(runCli(['preempt', 'stubborn', '--grace', '2s'], {home, env}).code).to.equal(0)
    const r = await run
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.match(/attempt 2 from [1-9]/)
    expect(r.stdout).to.include('finished at 15')
    expect(Date.now() - t0).to.be.greaterThan(1500)
  })

  it('never relaunches when a preemption notice and a cancel race', async () => {
    const home = tempHome()
    const env = localOnly(home)
    const file = jobFile(
      home,
      'racer',
      'name: racer\nrecovery: {max_restarts: 5}\nrun: |\n  trap \'echo "got TERM"; exit 0\' TERM\n  echo started\n  while true; do sleep 0.1; done\n',
    )
    const run = runCliAsync(['launch', file, '-y', '--wait', '--json'], {home, env})
    await waitFor(() => runCli(['logs', 'racer'], {home, env}).stdout.includes('started'))
    // The notice makes the controller want a relaunch; the cancel lands at the same time.
    const [p, c] = await Promise.all([
      runCliAsync(['preempt', 'racer', '--grace', '5s'], {home, env}),
      runCliAsync(['cancel', 'racer', '--grace', '5s'], {home, env}),
    ])
    expect(c.code, c.stderr).to.equal(0)
    expect([0, 2]).to.include(p.code) // the preempt may find the job already cancelled
    const r = await run
    expect(r.code).to.equal(130)
    const before = status(home, env, 'racer')
    await sleep(1500) // a relaunch, if any, would have been recorded by now
    const job = status(home, env, 'racer')
    expect(job.state).to.equal('CANCELLED')
    // Whichever won, nothing starts after the cancel and nothing is left running.
    expect(job.attemptsDetail).to.have.length(before.attemptsDetail.length)
    for (const a of job.attemptsDetail) expect(['CANCELLED', 'PREEMPTED', 'FAILED']).to.include(a.state)
    expect(ps()).not.to.include(`attempts/${job.attemptsDetail.at(-1).id}`)
  })

  it('survives its controller being killed with SIGKILL: recover finishes the job, nothing runs twice', async () => {
    const home = tempHome()
    const env = {...localOnly(home), SKYHOP_LEASE_TTL_SECONDS: '2'}
    const file = jobFile(
      home,
      'durable',
      'name: durable\nrun: |\n  echo "run $SKYHOP_ATTEMPT" >> "$SKYHOP_CHECKPOINT_DIR/../runs-$SKYHOP_JOB_ID"\n  sleep 4\n  echo done\n',
    )
    expect(runCli(['launch', file, '-y'], {home, env}).code).to.equal(0)
    await waitFor(() => status(home, env, 'durable').state === 'RUNNING')
    const owner = stateValue(home, 'SELECT lease_owner FROM jobs WHERE name = ?', 'durable') as string
    const pid = Number(owner.split(':')[1])
    expect(pid).to.be.greaterThan(0)
    process.kill(pid, 'SIGKILL')
    await sleep(2500)
    const rec = runCli(['recover', '--json'], {home, env})
    expect(rec.code, rec.stderr).to.equal(0)
    expect(parseEnvelope(rec.stdout).result.restarted).to.have.length(1)
    await waitFor(() => status(home, env, 'durable').state === 'SUCCEEDED', 30_000)
    const job = status(home, env, 'durable')
    expect(job.attemptsDetail).to.have.length(1)
    expect(
      readFileSync(join(home, 'checkpoints', `runs-${job.id}`), 'utf8')
        .trim()
        .split('\n'),
    ).to.deep.equal(['run 1'])
  })

  it('runs two launches at once on one store', async () => {
    const home = tempHome()
    const env = localOnly(home)
    const a = jobFile(home, 'a', 'name: a\nrun: echo a-out\n')
    const b = jobFile(home, 'b', 'name: b\nrun: echo b-out\n')
    const [ra, rb] = await Promise.all([
      runCliAsync(['launch', a, '-y', '--wait'], {home, env}),
      runCliAsync(['launch', b, '-y', '--wait'], {home, env}),
    ])
    expect(ra.code, ra.stderr).to.equal(0)
    expect(rb.code, rb.stderr).to.equal(0)
    expect(ra.stdout).to.include('a-out')
    expect(rb.stdout).to.include('b-out')
    const store = Store.open(home)
    expect(store.integrityCheck()).to.equal('ok')
    store.close()
  })

  it('passes secrets to the job without storing them', () => {
    const home = tempHome()
    const env = {...localOnly(home), SKYHOP_TEST_TOKEN: 'tok-5f1e2d3c4b5a6978'}
    const file = jobFile(
      home,
      'secretive',
      'name: secretive\nsecrets: [SKYHOP_TEST_TOKEN]\nrun: case "$SKYHOP_TEST_TOKEN" in tok-5f1e*) echo token-ok;; *) exit 9;; esac\n',
    )
    const r = runCli(['launch', file, '-y', '--wait', '--json'], {home, env})
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).not.to.include('tok-5f1e2d3c4b5a6978')
    expect(stateDump(home)).not.to.include('tok-5f1e2d3c4b5a6978')
    const missing = runCli(['launch', file, '-y', '--wait'], {home, env: localOnly(home)})
    expect(missing.code).to.equal(2)
    expect(missing.stderr).to.include('$SKYHOP_TEST_TOKEN')
  })

  it('says what is wrong for an unknown job, with its exit code', () => {
    const home = tempHome()
    for (const cmd of [
      ['status', 'nope'],
      ['logs', 'nope'],
      ['cancel', 'nope'],
      ['preempt', 'nope'],
    ]) {
      const r = runCli(cmd, {home})
      expect(r.code, cmd.join(' ')).to.equal(2)
      expect(r.stderr).to.include('no job with id or name "nope"')
    }
  })
})
