// The agent shipped as a Slurm job (deploy/slurm/skyhop-agent.sbatch) on the real cluster of
// scripts/slurm-up.sh: submitted with sbatch as docs/agent.md says, it adopts Slurm jobs that
// `launch --detach` left to agents, drives them to their end, and on the batch shell's SIGTERM
// hands back and stops cleanly (its JSON Lines end with the envelope). Skipped without Slurm;
// a failure when CI is set (test/helpers/slurm.ts).
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {Store} from '../../src/state/store.js'
import {BIN, ROOT, parseEnvelope, runCli, tempHome} from '../helpers/cli.js'
import {requireSlurm} from '../helpers/slurm.js'
import {waitUntil} from '../helpers/wait.js'

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
      {encoding: 'utf8', env: {...process.env, ...env, SKYHOP_HOME: home, SKYHOP_BIN: BIN, SKYHOP_AGENT_REQUEUE: '0'}},
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
})
