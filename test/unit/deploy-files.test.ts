// The agent's deployment files under deploy/ (docs/agent.md): each must be valid for the
// tool that reads it and must run `skyhop agent` with room for its SIGTERM hand-back. The
// Slurm script also runs for real in test/integration/agent-slurm.test.ts.
import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseAllDocuments} from 'yaml'

import {BIN, ROOT} from '../helpers/cli.js'

const deploy = (path: string): string => readFileSync(join(ROOT, 'deploy', path), 'utf8')

describe('deploy/: the agent as a systemd unit, a Kubernetes Deployment and a Slurm job', () => {
  it('systemd: runs `skyhop agent`, stops it with SIGTERM with time to hand back, restarts it; systemd-analyze verify accepts it', function () {
    const unit = deploy('systemd/skyhop-agent.service')
    const value = (key: string) => unit.match(new RegExp(`^${key}=(.*)$`, 'm'))?.[1]
    expect(value('ExecStart')).to.match(/ agent$/)
    expect(value('KillSignal')).to.equal('SIGTERM')
    expect(Number(value('TimeoutStopSec'))).to.be.at.least(30)
    expect(value('Restart')).to.equal('always')
    const verify = spawnSync('systemd-analyze', ['--version'])
    if (verify.status !== 0) {
      if (process.env.CI) throw new Error('systemd-analyze is missing (Debian package systemd)')
      this.skip()
    }
    // The unit as installed, with the CLI of this checkout where the unit expects it.
    const dir = mkdtempSync(join(tmpdir(), 'skyhop-unit-'))
    const copy = join(dir, 'skyhop-agent.service')
    writeFileSync(copy, unit.replace(/^ExecStart=\S+/m, `ExecStart=${BIN}`))
    const r = spawnSync('systemd-analyze', ['verify', copy], {encoding: 'utf8'})
    expect(r.stderr.trim(), r.stderr).to.equal('')
    expect(r.status).to.equal(0)
  })

  it('Kubernetes: one Deployment of `skyhop agent` on its state volume, Recreate, a grace period for the hand-back', () => {
    const docs = parseAllDocuments(deploy('kubernetes/skyhop-agent.yaml')).map((d) => d.toJS() as Record<string, any>)
    const kinds = docs.map((d) => d.kind)
    expect(kinds).to.deep.equal(['ServiceAccount', 'PersistentVolumeClaim', 'Deployment'])
    const [account, claim, deployment] = docs
    expect(deployment.apiVersion).to.equal('apps/v1')
    const spec = deployment.spec
    expect(spec.replicas).to.equal(1)
    expect(spec.strategy.type).to.equal('Recreate')
    expect(spec.selector.matchLabels).to.deep.equal(spec.template.metadata.labels)
    const pod = spec.template.spec
    expect(pod.serviceAccountName).to.equal(account.metadata.name)
    expect(pod.terminationGracePeriodSeconds).to.be.at.least(30)
    const [container] = pod.containers
    expect(container.args.slice(0, 2)).to.deep.equal(['skyhop', 'agent'])
    const env = Object.fromEntries(container.env.map((e: {name: string; value: string}) => [e.name, e.value]))
    const mounts = Object.fromEntries(container.volumeMounts.map((m: {name: string; mountPath: string}) => [m.name, m.mountPath]))
    expect(mounts.state).to.equal(env.SKYHOP_HOME)
    expect(env.SKYHOP_CONFIG.startsWith(mounts.config + '/')).to.equal(true)
    const volumes = Object.fromEntries(pod.volumes.map((v: {name: string}) => [v.name, v]))
    expect(volumes.state.persistentVolumeClaim.claimName).to.equal(claim.metadata.name)
    expect(volumes.config.secret.secretName).to.equal(container.envFrom[0].secretRef.name)
  })

  it('Slurm: a valid bash script that signals the batch shell before its time limit and runs `skyhop agent --json`', () => {
    const script = deploy('slurm/skyhop-agent.sbatch')
    expect(spawnSync('bash', ['-n', join(ROOT, 'deploy', 'slurm', 'skyhop-agent.sbatch')]).status).to.equal(0)
    expect(script).to.match(/^#SBATCH --signal=B:TERM@\d+$/m)
    expect(script).to.match(/^#SBATCH --requeue$/m)
    expect(script).to.match(/"\$skyhop" agent --json/)
  })
})
