// A job whose image is a container, on a VM cloud through the built CLI (bin/run.js, real
// processes): the fake Compute Engine runs the instance's boot script on this machine as
// cloud-init would, so the instance's container runtime is this machine's REAL podman with the
// offline test image (scripts/podman-up.sh). The boot script finds podman, the runner starts
// the job's container, and the job's output comes back through the serial console; an image
// that cannot be pulled is an `image-pull-failed` event and a failed job, never a silent run
// on the bare VM. Run `npm run build` first.
import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {runCliAsync, type CliResult} from '../helpers/cli.js'
import {requirePodman, TEST_IMAGE} from '../helpers/podman.js'
import {gcpControllerWorld, type GcpControllerWorld} from './gcp-azure-world.js'

function lastJson(r: CliResult): {ok: boolean; result?: any; error?: any} {
  const text = r.stdout.trim()
  try {
    return JSON.parse(text)
  } catch {
    return JSON.parse(text.slice(text.lastIndexOf('\n{') + 1))
  }
}

describe('skyhop CLI: a container image on a cloud (fake Compute Engine, real podman)', function () {
  this.timeout(180_000)
  let w: GcpControllerWorld
  let home: string
  let userHome: string
  const env = () => ({...w.cliEnv, HOME: userHome, SKYHOP_CONFIG: ''})

  before(async function () {
    await requirePodman(this)
  })
  beforeEach(async function () {
    w = await gcpControllerWorld()
    home = mkdtempSync(join(tmpdir(), 'skyhop-ctr-cli-'))
    userHome = mkdtempSync(join(tmpdir(), 'skyhop-ctr-user-'))
  })
  afterEach(async function () {
    await w?.close()
    rmSync(home, {recursive: true, force: true})
    rmSync(userHome, {recursive: true, force: true})
  })

  async function launch(image: string, run: string): Promise<CliResult> {
    const file = join(home, 'job.yaml')
    writeFileSync(
      file,
      `name: boxed\nspot: on-demand\nimage: ${image}\nrecovery:\n  grace: 5s\nsetup: touch /setup-was-here\nrun: |\n${run.replace(/^/gm, '  ')}\n`,
    )
    return runCliAsync(['launch', file, '--provider', 'gcp', '--catalog', w.catalogFile, '--wait', '--yes', '--json'], {home, env: env()})
  }

  it('plans the cloud for a container job, and runs setup and run inside the image on the instance', async function () {
    const file = join(home, 'plan.yaml')
    writeFileSync(file, `name: boxed\nspot: on-demand\nimage: ${TEST_IMAGE}\nrun: echo hi\n`)
    const plan = await runCliAsync(['plan', file, '--catalog', w.catalogFile, '--json'], {home, env: env()})
    expect(plan.code, plan.stderr).to.equal(0)
    const planned = lastJson(plan).result as {candidates: Array<{provider: string}>; excluded: Array<{reason: string}>}
    expect(planned.candidates.map((c) => c.provider)).to.include('gcp')
    expect(planned.excluded.map((g) => g.reason)).to.not.include('container-unsupported')

    const r = await launch(
      TEST_IMAGE,
      ['cat /skyhop-test-marker', 'test -f /setup-was-here && echo "setup state kept"', 'echo "ckpt=$SKYHOP_CHECKPOINT_DIR"'].join('\n'),
    )
    expect(r.code, r.stderr).to.equal(0)
    const out = lastJson(r)
    expect(out.result.attempts.map((a: {provider: string; state: string}) => [a.provider, a.state])).to.deep.equal([['gcp', 'SUCCEEDED']])
    const instance = [...w.gce.instances.values()][0]
    const console = w.gce.consoleOf(instance.name)
    expect(console).to.include('inside the skyhop test image')
    expect(console).to.include('setup state kept')
    // run-start comes from inside the container, through the mounted events.jsonl.
    expect(console).to.match(/SKYHOP-EV \{[^\n]*"event":"run-start"/)
  })

  it('an image that cannot be pulled fails the job with image-pull-failed, and the job never runs on the bare instance', async function () {
    const r = await launch('localhost:1/skyhop-absent:nope', 'echo "ran without its image"')
    expect(r.code).to.not.equal(0)
    const console = w.gce.consoleOf([...w.gce.instances.values()][0].name)
    expect(console).to.include('"event":"image-pull-failed"')
    expect(console).to.include('cannot pull container image localhost:1/skyhop-absent:nope with podman')
    expect(console).to.not.include('ran without its image')
    const attempts = lastJson(r).result.attempts as Array<{state: string; exitCode: number | null; reason: string}>
    expect(
      attempts.map((a) => [a.state, a.exitCode]),
      r.stdout,
    ).to.deep.equal([['FAILED', 125]])
    // The attempt says why, in the runner's words (not a bare "exit 125").
    expect(attempts[0].reason).to.equal('cannot pull container image localhost:1/skyhop-absent:nope with podman (see output.log)')
  })
})
