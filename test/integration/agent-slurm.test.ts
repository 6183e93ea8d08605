// skyhop agent with the real Slurm cluster of scripts/slurm-up.sh. The agent shipped as a
// Slurm job (deploy/slurm/skyhop-agent.sbatch), submitted with sbatch as docs/agent.md says,
// adopts Slurm jobs that `launch --detach` left to agents, drives them to their end, and on the
// batch shell's SIGTERM hands back and stops cleanly (its JSON Lines end with the envelope).
// And two agents SIGKILLed at random while they drive two users' Slurm jobs: every job ends
// SUCCEEDED, none runs twice at once. Skipped without Slurm; a failure when CI is set
// (test/helpers/slurm.ts). SKYHOP_AGENT_SLURM_TEST_JOBS sets the number of jobs (default 8).
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {Store} from '../../src/state/store.js'
import {type Agent, random, startAgent, stopAgent, writeJob} from '../helpers/agents.js'
import {BIN, ROOT, parseEnvelope, runCli, runCliAsync, tempHome} from '../helpers/cli.js'
import {databaseEnv} from '../helpers/pg-suite.js'
import {requireSlurm} from '../helpers/slurm.js'
import {sleep, waitUntil} from '../helpers/wait.js'

const SCRIPT = join(ROOT, 'deploy', 'slurm', 'skyhop-agent.sbatch')

function queued(jobId: string): boolean {
  return execFileSync('squeue', ['-h', '-j', jobId, '-o', '%T'], {encoding: 'utf8'}).trim() !== ''
}

describe('skyhop agent as a Slurm job (deploy/slurm/skyhop-agent.sbatch)', function () {
  this.timeout(300_000)

  before(async function () {
    await requireSlurm(this)
  })

  it("adopts Slurm jobs handed to agents, drives them to their end, and hands back on the batch shell's SIGTERM", async () => {
    const home = tempHome('skyhop-agent-slurm-')
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  local: {enabled: false}\nagent: true\n')
    const env = {SKYHOP_CONFIG: config, SKYHOP_LEASE_TTL_SECONDS: '3'}
    const file = join(home, 'on-slurm.yaml')
    writeFileSync(
      file,
      'name: on-slurm\nplacement: {providers: {allow: [slurm]}}\nresources: {cpus: 1}\nrun: echo "on slurm ${SLURM_JOB_ID:-none}"; sleep 2\n',
    )
    const ids: string[] = []
    for (const name of ['s1', 's2']) {
      const r = runCli(['launch', file, '-y', '--detach', '--json', '--name', name], {home, env})
      expect(r.code, r.stderr).to.equal(0)
      expect(parseEnvelope(r.stdout).result.agent).to.equal(true)
      ids.push(parseEnvelope(r.stdout).result.job.id)
    }
    // As docs/agent.md submits it; n4 keeps n1 free for the preemption tests' partitions.
    const slurmJob = execFileSync(
      'sbatch',
      ['--parsable', '--export=ALL', '--partition=gang-low', '--nodelist=n4', '--mem=512M', `--chdir=${home}`, SCRIPT],
      {
        encoding: 'utf8',
        env: {...process.env, ...env, ...databaseEnv(home), SKYHOP_HOME: home, SKYHOP_BIN: BIN, SKYHOP_AGENT_REQUEUE: '0'},
      },
    )
      .trim()
      .split(';')[0]
    const events = join(home, 'agents', `agent-${slurmJob}.jsonl`)
    try {
      const store = Store.open(home)
      await waitUntil(() => ids.every((id) => store.getJob(id)!.state === 'SUCCEEDED'), 240_000, 500)
      for (const id of ids) expect(store.listAttempts(id).map((a) => a.provider)).to.deep.equal(['slurm'])
      store.close()
      execFileSync('scancel', ['--batch', '--signal=TERM', slurmJob])
      await waitUntil(() => !queued(slurmJob), 60_000, 500)
    } finally {
      if (queued(slurmJob)) execFileSync('scancel', [slurmJob])
    }
    expect(existsSync(events), `no events at ${events}`).to.equal(true)
    const lines = readFileSync(events, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>)
    for (const id of ids) {
      expect(lines.some((e) => e.event === 'adopted' && e.id === id)).to.equal(true)
      expect(lines.some((e) => e.event === 'finished' && e.id === id && e.state === 'SUCCEEDED')).to.equal(true)
    }
    expect(lines.map((e) => e.event)).to.include.members(['started', 'stopping', 'stopped'])
    const envelope = lines.at(-1)!
    expect(envelope.ok, JSON.stringify(envelope)).to.equal(true)
    expect(envelope.result.work.map((w: {id: string}) => w.id)).to.have.members(ids)
  })

  it('two agents SIGKILLed at random while they drive Slurm jobs of two users: every job finished, none run twice at once', async () => {
    const home = tempHome('skyhop-agent-slurm-chaos-')
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  local: {enabled: false}\nagent: true\n')
    const env = {SKYHOP_CONFIG: config, SKYHOP_LEASE_TTL_SECONDS: '2'}
    const marks = join(home, 'marks')
    mkdirSync(marks)
    const file = writeJob(home, 'placement: {providers: {allow: [slurm]}}\nresources: {cpus: 1}')
    const n = Number(process.env.SKYHOP_AGENT_SLURM_TEST_JOBS) || 8
    const seed = Number(process.env.SKYHOP_AGENT_TEST_SEED) || Date.now() % 100_000
    const rand = random(seed)
    console.log(`      ${n} Slurm jobs, chaos seed ${seed} (SKYHOP_AGENT_TEST_SEED)`)
    const ids: string[] = []
    for (let i = 0; i < n; i += 4) {
      const batch = []
      for (let k = i; k < Math.min(n, i + 4); k++) {
        const args = ['launch', file, '-y', '--detach', '--json', '--name', `slurm-${k}`, '--env', `MARKS=${marks}`, '--env', 'NAP=3']
        batch.push(runCliAsync(args, {home, env: {...env, SKYHOP_IDENTITY: k % 2 === 0 ? 'alice' : 'bob'}}))
      }
      for (const r of await Promise.all(batch)) {
        expect(r.code, r.stderr).to.equal(0)
        ids.push(parseEnvelope(r.stdout).result.job.id)
      }
    }
    const store = Store.open(home)
    const ended = (id: string) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(store.getJob(id)!.state)
    const agents: Agent[] = [startAgent(home, env), startAgent(home, env)]
    let kills = 0
    try {
      const deadline = Date.now() + 240_000
      while (!ids.every(ended) && Date.now() < deadline) {
        await sleep(500 + rand() * 1500)
        const i = Math.floor(rand() * agents.length)
        agents[i].child.kill('SIGKILL')
        await agents[i]
        kills++
        agents[i] = startAgent(home, env)
      }
    } finally {
      for (const r of await Promise.all(agents.map(stopAgent))) expect(r.code, r.stderr).to.equal(0)
    }
    console.log(`      ${kills} agents killed`)
    expect(
      ids.filter((id) => store.getJob(id)!.state !== 'SUCCEEDED').map((id) => [id, store.getJob(id)!.state, store.getJob(id)!.reason]),
    ).to.deep.equal([])
    expect(existsSync(join(marks, 'DOUBLE')) ? readFileSync(join(marks, 'DOUBLE'), 'utf8') : '', 'jobs run twice at once').to.equal('')
    for (const id of ids) {
      const attempts = store.listAttempts(id)
      expect(attempts.every((a) => a.provider === 'slurm')).to.equal(true)
      // A start per attempt at most: a preemption by another Slurm user may relaunch, an agent's death never.
      const starts = readFileSync(join(marks, `${id}.starts`), 'utf8')
        .trim()
        .split('\n').length
      expect(starts, `${id}: ${starts} starts for ${attempts.length} attempt(s)`).to.be.at.most(attempts.length)
      expect(attempts.filter((a) => ['REQUESTED', 'PENDING', 'PROVISIONING', 'RUNNING'].includes(a.state))).to.deep.equal([])
    }
    store.close()
  })
})
