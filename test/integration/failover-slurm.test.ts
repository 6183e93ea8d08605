// The controller across two real backends: this machine and the real Slurm cluster.
// Capacity failures fail over to the next candidate with the reason recorded, and a
// real Slurm preemption is survived: checkpoint within GraceTime, relaunch, resume,
// exactly the right total work.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {loadConfig} from '../../src/config.js'
import {driveJob} from '../../src/controller/controller.js'
import {StoreJournal} from '../../src/controller/journal.js'
import {createReplanner} from '../../src/services/planning.js'
import {createProviders} from '../../src/providers/registry.js'
import {loadJobFile} from '../../src/job/load.js'
import {Store} from '../../src/state/store.js'
import {parseEnvelope, runCli, runCliAsync, tempHome} from '../helpers/cli.js'
import {requireSlurm, slurm} from '../helpers/slurm.js'
import {sleep, waitUntil} from '../helpers/wait.js'

const waitFor = (check: () => boolean, timeoutMs = 60_000): Promise<void> => waitUntil(check, timeoutMs, 250)

function writeConfig(home: string, yaml: string): Record<string, string> {
  const file = join(home, 'config.yaml')
  writeFileSync(file, yaml)
  return {SKYHOP_CONFIG: file}
}

describe('failover between this machine and real Slurm', function () {
  this.timeout(180_000)
  before(async function () {
    await requireSlurm(this)
  })
  afterEach(async () => {
    await slurm('scontrol', ['update', 'PartitionName=high', 'State=UP']).catch(() => undefined)
  })

  it('local capacity full at launch: fails over to Slurm, the capacity failure recorded on the first attempt', async () => {
    const home = tempHome()
    // Slurm priced above this machine, so this machine is the first choice.
    const env = writeConfig(
      home,
      'providers:\n  local: {max_concurrent: 1, when_full: fail}\n  slurm: {price_per_hour: {high: 1, low: 1}}\n',
    )
    const file = join(home, 'moved.yaml')
    writeFileSync(file, 'name: moved\nrun: echo "ran on $(hostname) in $SLURM_JOB_PARTITION"\n')
    const config = loadConfig(home)
    const providers = await createProviders({home, config})
    const store = Store.open(home)
    // Plan while this machine has a free slot (it is the first choice), then fill the slot,
    // as another launch racing this one would.
    const replan = await createReplanner({home, config, providers, store})
    const {spec} = loadJobFile(file)
    expect((await replan(spec, [])).plan.chosen!.provider).to.equal('local')
    const blocker = join(home, 'blocker.yaml')
    writeFileSync(blocker, 'name: blocker\nplacement: {providers: [local]}\nrun: sleep 60\n')
    expect(runCli(['launch', blocker, '-y'], {home, env}).code).to.equal(0)
    await waitFor(() => parseEnvelope(runCli(['status', 'blocker', '--json'], {home, env}).stdout).result.job.state === 'RUNNING')

    const created = store.createJob({name: spec.name, file, spec})
    const final = await driveJob(created.id, {
      journal: new StoreJournal(store),
      providers,
      replan,
      home,
      owner: 'test',
      pollIntervalMs: 200,
    })
    runCli(['cancel', 'blocker', '--grace', '1s'], {home, env})
    expect(final.state, final.reason ?? '').to.equal('SUCCEEDED')
    const attempts = store.listAttempts(created.id)
    expect(attempts.map((a) => `${a.provider}:${a.state}`)).to.deep.equal(['local:FAILED', 'slurm:SUCCEEDED'])
    expect(attempts[0].reason).to.match(/slots are busy/)
    expect(runCli(['logs', created.id], {home, env}).stdout).to.match(/ran on .* in high/)
    store.close()
  })

  it('Slurm partition down at launch: fails over to this machine, the reason recorded', async () => {
    const home = tempHome()
    // Slurm cheaper than this machine, so it is tried first.
    writeConfig(home, 'providers:\n  local: {price_per_hour: 1}\n')
    const file = join(home, 'job.yaml')
    writeFileSync(file, 'name: downed\nrun: echo "ran here"\n')
    const config = loadConfig(home)
    const providers = await createProviders({home, config})
    expect([...providers.keys()]).to.include.members(['local', 'slurm'])
    const store = Store.open(home)
    // Plan while the partition is up (as a launch that raced an admin would), then take it down.
    const replan = await createReplanner({home, config, providers, store})
    const {spec} = loadJobFile(file)
    expect((await replan(spec, [])).plan.chosen!.provider).to.equal('slurm')
    await slurm('scontrol', ['update', 'PartitionName=high', 'State=DOWN'])
    const created = store.createJob({name: spec.name, file, spec})
    const final = await driveJob(created.id, {
      journal: new StoreJournal(store),
      providers,
      replan,
      home,
      owner: 'test',
      pollIntervalMs: 200,
    })
    expect(final.state).to.equal('SUCCEEDED')
    const attempts = store.listAttempts(created.id)
    expect(attempts.map((a) => `${a.provider}:${a.state}`)).to.deep.equal(['slurm:FAILED', 'local:SUCCEEDED'])
    expect(attempts[0].reason).to.match(/partition high is (DOWN|down)/i)
    expect(store.events(created.id).map((e) => e.kind)).to.include('attempt-launch-failed')
    store.close()
  })

  it('a real Slurm preemption: checkpoint within GraceTime, relaunch, resume, exactly the right work', async () => {
    const home = tempHome()
    const env = writeConfig(home, 'providers:\n  local: {enabled: false}\n')
    const file = join(home, 'spot.yaml')
    writeFileSync(
      file,
      [
        'name: spotty',
        'spot: spot',
        'checkpoint: {interval: 1m}',
        'recovery: {max_restarts: 3}',
        'run: |',
        '  f="$SKYHOP_CHECKPOINT_DIR/step"; mkdir -p "$SKYHOP_CHECKPOINT_DIR"',
        '  i=$(cat "$f" 2>/dev/null || echo 0)',
        '  echo "attempt $SKYHOP_ATTEMPT resumes at $i"',
        '  trap \'echo "$i" > "$f"; echo "saved $i"; exit 0\' TERM',
        '  while [ "$i" -lt 30 ]; do i=$((i+1)); echo "$i" >> "$SKYHOP_CHECKPOINT_DIR/work.log"; sleep 0.3; done',
        '  echo "finished at $i"',
        '',
      ].join('\n'),
    )
    const run = runCliAsync(['launch', file, '-y', '--wait', '--json'], {home, env})
    const status = () => parseEnvelope(runCli(['status', 'spotty', '--json'], {home, env}).stdout).result.job
    await waitFor(() => {
      try {
        return status().state === 'RUNNING'
      } catch {
        return false
      }
    })
    await sleep(2000)
    // A high-priority job takes the node: Slurm preempts the low partition with GraceTime.
    const high = execFileSync('sbatch', ['--parsable', '-p', 'high', '-c', '2', '-o', '/dev/null', '--wrap', 'sleep 3'], {
      encoding: 'utf8',
    }).trim()
    const r = await run
    expect(r.code, r.stderr).to.equal(0)
    const job = status()
    const states = job.attemptsDetail.map((a: {state: string; zone: string}) => `${a.zone}:${a.state}`)
    expect(states[0]).to.equal('low:PREEMPTED')
    expect(states.at(-1)).to.equal('low:SUCCEEDED')
    const kinds = job.events.map((e: {kind: string}) => e.kind)
    expect(kinds.indexOf('attempt-preempted')).to.be.lessThan(kinds.indexOf('job-recovering'))
    const work = readFileSync(join(home, 'checkpoints', job.id, 'work.log'), 'utf8')
      .trim()
      .split('\n')
      .map(Number)
    expect(new Set(work).size).to.equal(30)
    expect(work.length).to.be.within(30, 31) // the step in flight at the signal may be redone once
    const logs = runCli(['logs', 'spotty'], {home, env}).stdout
    expect(logs).to.match(/attempt 2 resumes at [1-9]/)
    expect(high).to.match(/^\d+$/)
  })
})
