// Sweeps end to end on the local provider: the built CLI, real processes, a real store.
// 50 jobs at most 4 at once (each job writes its start and end to a shared file), JSON
// Lines parsed line by line, a budget that stops the sweep early, the exit code of the
// first failed job, a detached sweep controller, and Ctrl-C handing the sweep over.
import {expect} from 'chai'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {parseEnvelope, runCli, runCliAsync, tempHome} from '../helpers/cli.js'
import {waitUntil} from '../helpers/wait.js'

function file(home: string, name: string, body: string): string {
  const path = join(home, `${name}.yaml`)
  writeFileSync(path, body)
  return path
}

/** Only the local provider (nothing here depends on Slurm), with an optional price. */
function localOnly(home: string, local = ''): Record<string, string> {
  const config = join(home, 'config.yaml')
  writeFileSync(config, `providers:\n  slurm: {enabled: false}\n${local ? `  local: {${local}}\n` : ''}`)
  return {SKYHOP_CONFIG: config}
}

/** Every stdout line is one JSON object; the last is the envelope. */
function jsonLines(stdout: string): {events: Array<Record<string, any>>; envelope: {ok: boolean; result?: any; error?: any}} {
  const lines = stdout.trim().split('\n')
  const parsed = lines.map((line, i) => {
    try {
      return JSON.parse(line)
    } catch {
      throw new Error(`line ${i + 1} of stdout is not JSON: ${line.slice(0, 200)}`)
    }
  })
  return {events: parsed.slice(0, -1), envelope: parsed.at(-1)}
}

const waitFor = (check: () => boolean, timeoutMs = 60_000): Promise<void> => waitUntil(check, timeoutMs, 250)

describe('sweep on the local provider (end to end)', function () {
  this.timeout(180_000)

  it('runs 50 jobs, never more than 4 at once, with JSON Lines progress and a correct results table', () => {
    const home = tempHome()
    const env = localOnly(home)
    const log = join(home, 'intervals.log')
    const job = file(
      home,
      'grid',
      [
        'name: grid',
        `envs: {LOG: ${JSON.stringify(log)}}`,
        'matrix: {a: [1, 2, 3, 4, 5], b: [x, y]}',
        'run: |',
        '  echo "start $(date +%s%N) $SKYHOP_JOB_NAME" >> "$LOG"',
        '  sleep 0.2',
        '  echo "a=$a b=$b c=$c"',
        '  echo "end $(date +%s%N) $SKYHOP_JOB_NAME" >> "$LOG"',
        '',
      ].join('\n'),
    )
    // --set extends the file's matrix: 5 × 2 × 5 = 50 jobs.
    const r = runCli(['sweep', job, '--set', 'c=p,q,r,s,t', '-y', '--wait', '--max-parallel', '4', '--json'], {home, env})
    expect(r.code, r.stderr).to.equal(0)
    const {events, envelope} = jsonLines(r.stdout)
    expect(envelope.ok).to.equal(true)
    const result = envelope.result
    expect(result.exitCode).to.equal(0)
    expect(result.sweep.state).to.equal('SUCCEEDED')
    expect(result.sweep.counts).to.deep.include({succeeded: 50, failed: 0, cancelled: 0})
    expect(result.jobs).to.have.length(50)

    // Events: one sweep-started, 50 job-started and job-ended, sweep-ended last.
    for (const e of events) expect(e).to.include.keys('event', 'ts', 'sweepId', 'message')
    expect(events[0].event).to.equal('sweep-started')
    expect(events.at(-1)!.event).to.equal('sweep-ended')
    expect(events.filter((e) => e.event === 'job-started')).to.have.length(50)
    const endedEvents = events.filter((e) => e.event === 'job-ended')
    expect(endedEvents).to.have.length(50)
    expect(endedEvents.every((e) => e.data.state === 'SUCCEEDED' && e.data.exitCode === 0)).to.equal(true)
    // The controller's own bookkeeping never had more than 4 jobs in flight.
    let inFlight = 0
    let peak = 0
    for (const e of events) {
      if (e.event === 'job-started') peak = Math.max(peak, ++inFlight)
      if (e.event === 'job-ended') inFlight--
    }
    expect(peak).to.be.at.most(4)

    // The jobs themselves: never more than 4 running at once, every one exactly once.
    const marks = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
    expect(marks).to.have.length(100)
    const timeline = marks
      .map(([kind, ns, name]) => ({kind, t: BigInt(ns), name}))
      .sort((x, y) => (x.t < y.t ? -1 : x.t > y.t ? 1 : x.kind === 'end' ? -1 : 1))
    let running = 0
    let most = 0
    for (const m of timeline) {
      running += m.kind === 'start' ? 1 : -1
      most = Math.max(most, running)
    }
    expect(most).to.be.at.most(4)
    expect(most).to.be.at.least(2)
    expect(new Set(marks.filter((m) => m[0] === 'start').map((m) => m[2])).size).to.equal(50)

    // The results table rows: deterministic order (last key fastest), values in names, where, cost, exit.
    expect(result.jobs[0]).to.deep.include({
      name: 'grid-a-1-b-x-c-p',
      values: {a: 1, b: 'x', c: 'p'},
      state: 'SUCCEEDED',
      where: 'local/local',
      attempts: 1,
      exitCode: 0,
    })
    expect(result.jobs[1].name).to.equal('grid-a-1-b-x-c-q')
    expect(result.jobs[5].name).to.equal('grid-a-1-b-y-c-p')
    expect(result.jobs[49].name).to.equal('grid-a-5-b-y-c-t')
    for (const row of result.jobs) {
      expect(row.durationSeconds).to.be.greaterThan(0.1)
      expect(row.cost.usd).to.equal(0)
    }
    // Backend polls are batched: far fewer calls than polls of 50 jobs would need.
    expect(result.stats.pollCalls.local).to.be.greaterThan(0)

    // The job saw its values as environment variables.
    const logs = runCli(['logs', 'grid-a-3-b-y-c-r'], {home, env})
    expect(logs.stdout).to.include('a=3 b=y c=r')

    // The human results table and status --sweep list the same jobs.
    const table = runCli(['sweeps', result.sweep.id], {home, env})
    expect(table.code, table.stderr).to.equal(0)
    const lines = table.stdout.trim().split('\n')
    expect(lines[0]).to.match(/^sweep grid \(s-[0-9a-f]+\): SUCCEEDED/)
    expect(lines[1]).to.match(/^JOB\s+VALUES\s+STATE\s+WHERE\s+ATTEMPTS\s+DURATION\s+COST\s+EXIT$/)
    expect(lines.slice(2, 52)).to.have.length(50)
    expect(lines[2]).to.match(/^grid-a-1-b-x-c-p\s+a=1 b=x c=p\s+SUCCEEDED\s+local\/local\s+1\s+\S+\s+\$0\.00\s+0$/)
    expect(lines.at(-1)).to.match(/^paid for .*, job ran /)
    const status = parseEnvelope(runCli(['status', '--sweep', result.sweep.id, '--limit', '100', '--json'], {home, env}).stdout)
    expect(status.result.jobs).to.have.length(50)
    expect(
      status.result.jobs.every((j: {sweepId: string; state: string}) => j.sweepId === result.sweep.id && j.state === 'SUCCEEDED'),
    ).to.equal(true)
    const byName = parseEnvelope(runCli(['status', '--sweep', 'grid', '--json'], {home, env}).stdout)
    expect(byName.result.jobs).to.have.length(50)
    const list = parseEnvelope(runCli(['sweeps', '--json'], {home, env}).stdout)
    expect(list.result.sweeps[0]).to.deep.include({id: result.sweep.id, name: 'grid', state: 'SUCCEEDED', jobs: 50})
  })

  it("holds max_concurrent over all of the machine's accelerators: two kinds, when_full fail, every job runs, one at a time", () => {
    const home = tempHome()
    // A machine with an A100 and an L4, as nvidia-smi reports them: two local offers.
    const bin = join(home, 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'nvidia-smi'), '#!/bin/sh\nprintf "NVIDIA A100-SXM4-80GB, 81920\\nNVIDIA L4, 23034\\n"\n', {mode: 0o755})
    const env = {...localOnly(home, 'max_concurrent: 1, when_full: fail'), PATH: `${bin}:${process.env.PATH}`}
    const log = join(home, 'intervals.log')
    const job = file(
      home,
      'pair',
      [
        'name: pair',
        'resources: {accelerators: [A100-80GB:1, L4:1]}',
        `envs: {LOG: ${JSON.stringify(log)}}`,
        'matrix: {k: [1, 2, 3, 4]}',
        'run: |',
        '  echo "start $(date +%s%N) $SKYHOP_JOB_NAME" >> "$LOG"',
        '  sleep 0.3',
        '  echo "end $(date +%s%N) $SKYHOP_JOB_NAME" >> "$LOG"',
        '',
      ].join('\n'),
    )
    const r = runCli(['sweep', job, '-y', '--wait', '--max-parallel', '4', '--json'], {home, env})
    const {envelope} = jsonLines(r.stdout)
    expect(envelope.result?.sweep?.counts, r.stdout.slice(-2000)).to.deep.include({succeeded: 4, failed: 0, cancelled: 0})
    expect(r.code, r.stderr).to.equal(0)
    // No runner was refused a slot: the controller started one job at a time.
    const marks = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
    const timeline = marks
      .map(([kind, ns]) => ({kind, t: BigInt(ns)}))
      .sort((x, y) => (x.t < y.t ? -1 : x.t > y.t ? 1 : x.kind === 'end' ? -1 : 1))
    let running = 0
    let most = 0
    for (const m of timeline) {
      running += m.kind === 'start' ? 1 : -1
      most = Math.max(most, running)
    }
    expect(marks).to.have.length(8)
    expect(most).to.equal(1)
    expect(envelope.result.jobs.every((j: {attempts: number}) => j.attempts === 1)).to.equal(true)
  })

  it('stops starting jobs when the next one would push the sweep past its budget', () => {
    const home = tempHome()
    // $3600/h = $1 a second, so the bill is easy to follow.
    const env = localOnly(home, 'price_per_hour: 3600')
    // Each job is expected to take 1.8 s ($1.80) and really takes 3 s (at least $3).
    const job = file(home, 'pricey', 'name: pricey\nwork: {hours: 0.0005}\nmatrix: {i: [1, 2, 3, 4, 5, 6]}\nrun: sleep 3\n')
    const r = runCli(['sweep', job, '-y', '--wait', '--max-parallel', '1', '--budget', '6USD', '--json'], {home, env})
    // Jobs stopped by the budget end without an exit code of their own: 6.
    expect(r.code, r.stderr).to.equal(6)
    const {events, envelope} = jsonLines(r.stdout)
    const result = envelope.result
    // The plan places 3 jobs ($5.40 of $6); the other 3 are cancelled before anything starts.
    expect(result.sweep.plan).to.deep.include({estimatedCostUsd: 5.4, unassigned: 3})
    // At run time: job 1 costs ≥ $3, so job 2 ($3 + $1.80 ≤ $6) starts, and job 3 would pass the budget.
    const states = result.jobs.map((j: {state: string}) => j.state)
    expect(states).to.deep.equal(['SUCCEEDED', 'SUCCEEDED', 'CANCELLED', 'CANCELLED', 'CANCELLED', 'CANCELLED'])
    for (const j of result.jobs.slice(2)) expect(j.reason).to.match(/^budget: /)
    const stop = events.filter((e) => e.event === 'budget-stop')
    expect(stop.map((e) => e.name)).to.deep.equal(['pricey-i-3'])
    expect(stop[0].data.spentUsd).to.be.greaterThan(6 - 1.8)
    expect(events.filter((e) => e.event === 'job-started').map((e) => e.name)).to.deep.equal(['pricey-i-1', 'pricey-i-2'])
    expect(result.sweep.state).to.equal('CANCELLED')
    expect(result.sweep.reason).to.equal('2 succeeded, 4 cancelled (4 by the budget)')
    // What was spent is what the two jobs cost, each ≥ 3 s at $1/s.
    expect(result.totals.costUsd).to.be.at.least(6)
    expect(result.jobs[0].cost.usd + result.jobs[1].cost.usd).to.be.closeTo(result.totals.costUsd, 1e-6)
  })

  it('exits with the exit code of the first job that failed, and prints the table without --json', () => {
    const home = tempHome()
    const env = localOnly(home)
    const job = file(
      home,
      'some-fail',
      'name: some-fail\nmatrix: {n: [1, 2, 3, 4]}\nrun: if [ "$n" = 2 ]; then exit 3; fi; if [ "$n" = 4 ]; then exit 5; fi; echo ok\n',
    )
    const r = runCli(['sweep', job, '-y', '--wait'], {home, env})
    expect(r.code, r.stderr).to.equal(3)
    expect(r.stdout).to.match(/^sweep some-fail \(s-[0-9a-f]+\): FAILED — 2 succeeded, 2 failed;/)
    expect(r.stdout).to.match(/some-fail-n-2\s+n=2\s+FAILED\s+local\/local\s+1\s+\S+\s+\$0\.00\s+3/)
    expect(r.stdout).to.match(/some-fail-n-4\s+n=4\s+FAILED\s+local\/local\s+1\s+\S+\s+\$0\.00\s+5/)
    // Without a terminal, progress is one plain line per job on stderr.
    expect(r.stderr).to.match(/\[\d\/4\] some-fail-n-2 failed \(exit 3\)/)
  })

  it('runs detached under one background controller; status --sweep follows it', async () => {
    const home = tempHome()
    const env = localOnly(home)
    const job = file(home, 'bg', 'name: bg\nmatrix: {k: [a, b, c]}\nrun: sleep 0.3; echo "k=$k"\n')
    const r = runCli(['sweep', job, '-y', '--json'], {home, env})
    expect(r.code, r.stderr).to.equal(0)
    const started = parseEnvelope(r.stdout).result
    expect(started.detached).to.equal(true)
    expect(started.sweep.state).to.equal('RUNNING')
    const id = started.sweep.id
    await waitFor(() => parseEnvelope(runCli(['sweeps', id, '--json'], {home, env}).stdout).result.sweep.sweep.state !== 'RUNNING')
    const done = parseEnvelope(runCli(['sweeps', id, '--json'], {home, env}).stdout).result.sweep
    expect(done.sweep.state).to.equal('SUCCEEDED')
    expect(done.exitCode).to.equal(0)
    expect(done.jobs.map((j: {name: string}) => j.name)).to.deep.equal(['bg-k-a', 'bg-k-b', 'bg-k-c'])
    const log = readFileSync(join(home, 'controllers', `${id}.log`), 'utf8')
    expect(log).to.include('sweep-ended')
  })

  it('hands the sweep to a background controller on Ctrl-C, which finishes it', async () => {
    const home = tempHome()
    const env = localOnly(home)
    const job = file(home, 'handoff', 'name: handoff\nmatrix: {k: [1, 2, 3, 4]}\nrun: sleep 1\n')
    const run = runCliAsync(['sweep', job, '-y', '--wait', '--max-parallel', '2'], {home, env})
    await waitFor(() => {
      const s = parseEnvelope(runCli(['sweeps', '--json'], {home, env}).stdout).result?.sweeps?.[0]
      return s !== undefined && s.counts.running > 0
    })
    run.child.kill('SIGINT')
    const r = await run
    expect(r.code).to.equal(130)
    expect(r.stderr).to.include('keeps running under a background controller')
    const id = parseEnvelope(runCli(['sweeps', '--json'], {home, env}).stdout).result.sweeps[0].id
    await waitFor(() => parseEnvelope(runCli(['sweeps', id, '--json'], {home, env}).stdout).result.sweep.sweep.state !== 'RUNNING')
    const done = parseEnvelope(runCli(['sweeps', id, '--json'], {home, env}).stdout).result.sweep
    expect(done.sweep.state).to.equal('SUCCEEDED')
    // Every job ran exactly once: nothing was started twice across the two controllers.
    expect(done.jobs.map((j: {attempts: number}) => j.attempts)).to.deep.equal([1, 1, 1, 1])
  })

  it('rejects a bad --set and a bad --budget with exit 2, recording nothing', () => {
    const home = tempHome()
    const env = localOnly(home)
    const job = file(home, 'plain', 'name: plain\nrun: echo hi\n')
    const a = runCli(['sweep', job, '-y', '--set', 'noequals', '--json'], {home, env})
    expect(a.code).to.equal(2)
    expect(parseEnvelope(a.stdout).error!.code).to.equal('BAD_SET')
    const b = runCli(['sweep', job, '-y', '--budget', 'lots', '--json'], {home, env})
    expect(b.code).to.equal(2)
    expect(parseEnvelope(b.stdout).error!.code).to.equal('BAD_BUDGET')
    const c = runCli(['sweep', job, '--set', 'SKYHOP_X=1', '-y', '--json'], {home, env})
    expect(c.code).to.equal(2)
    expect(parseEnvelope(runCli(['sweeps', '--json'], {home, env}).stdout).result.sweeps).to.deep.equal([])
  })
})
