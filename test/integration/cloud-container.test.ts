// A container job on EC2 (the fake, which runs the instance's boot script on this machine as
// cloud-init would) with the REAL podman: with a checkpoint store the one-node instance fetches
// its runner from the store (with the container section the runner no longer fits EC2's 16 KB
// of user data), and the job runs inside its image. A private image's registry credentials are
// the job's secrets SKYHOP_REGISTRY_USERNAME and SKYHOP_REGISTRY_PASSWORD: they travel in the
// one-time secrets object, never in user data; the boot script logs in with the password on
// stdin into an auth file of its own and removes it after the pull. The registry is played by
// a podman wrapper on PATH that records the login and "pulls" by tagging the offline test image.
// A spot interruption served on the instance's metadata reaches the job inside its container,
// which saves its checkpoint to the store and resumes in a container on the next instance.
import {expect} from 'chai'
import {chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {execFileSync} from 'node:child_process'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'

import {parseContainerReference} from '../../src/job/image.js'
import {requirePodman, TEST_IMAGE} from '../helpers/podman.js'
import {cloudJob, cloudWorld, type CloudWorld} from './cloud-world.js'

const PRIVATE = 'registry.example.com/team/private:1'

describe('a container job on EC2 (fake EC2 + fake S3, real podman)', function () {
  this.timeout(120_000)
  let w: CloudWorld | null = null
  let shimDir: string
  const path = process.env.PATH

  before(async function () {
    await requirePodman(this)
    shimDir = mkdtempSync(join(tmpdir(), 'skyhop-podman-shim-'))
    const real = execFileSync('bash', ['-c', 'command -v podman'], {encoding: 'utf8'}).trim()
    const log = join(shimDir, 'registry.log')
    // The fake instance inherits this process's PATH: this podman is the one it finds first.
    writeFileSync(
      join(shimDir, 'podman'),
      `#!/bin/bash
log=${log}
args=("$@")
af=
for ((i = 0; i < \${#args[@]}; i++)); do [[ \${args[i]} == --authfile ]] && af=\${args[i+1]}; done
case $1 in
  login) printf 'login %s\\n' "$*" >>"$log"; printf 'stdin %s\\n' "$(cat)" >>"$log"; printf '{}' >"$af"; exit 0 ;;
  pull) printf 'pull %s authfile-present=%s\\n' "$*" "$([[ -f $af ]] && echo yes || echo no)" >>"$log"
        printf 'authdir %s\\n' "\${af%/*}" >>"$log"
        exec ${real} tag ${TEST_IMAGE} "\${args[-1]}" ;;
  *) exec ${real} "$@" ;;
esac
`,
    )
    chmodSync(join(shimDir, 'podman'), 0o755)
    process.env.PATH = `${shimDir}:${path}`
  })

  afterEach(async () => {
    await w?.close()
    w = null
  })

  after(() => {
    process.env.PATH = path
    try {
      execFileSync('podman', ['rmi', PRIVATE], {stdio: 'ignore'})
    } catch {
      // never tagged
    }
    if (shimDir) rmSync(shimDir, {recursive: true, force: true})
  })

  it("logs in with the job's secrets (never in user data, the password on stdin), pulls, removes the auth file, and runs inside the image", async () => {
    w = await cloudWorld({checkpointStore: true})
    const password = `pw-${Math.random().toString(36).slice(2)}-it's "x"`
    const spec = cloudJob('private-image', 'cat /skyhop-test-marker; echo "user=${SKYHOP_REGISTRY_USERNAME:-unset}"', {
      image: PRIVATE,
      container: parseContainerReference(PRIVATE),
      secrets: ['SKYHOP_REGISTRY_USERNAME', 'SKYHOP_REGISTRY_PASSWORD'],
    })
    const {job} = await w.drive(spec, {env: {...process.env, SKYHOP_REGISTRY_USERNAME: 'robot$team', SKYHOP_REGISTRY_PASSWORD: password}})
    const [attempt] = w.store.listAttempts(job.id)
    const lines: string[] = []
    for await (const line of w.aws.logs(attempt.handle!, {follow: false})) lines.push(line)
    expect(job.state, `${job.reason ?? ''}\n${lines.join('\n')}`).to.equal('SUCCEEDED')
    expect(lines.join('\n')).to.contain('inside the skyhop test image')

    const log = readFileSync(join(shimDir, 'registry.log'), 'utf8')
    expect(log).to.contain('login login --authfile ')
    expect(log).to.contain('--username robot$team --password-stdin registry.example.com\n')
    expect(log).to.contain(`stdin ${password}\n`)
    // The password is on stdin only, never an argument.
    expect(log.split('\n').filter((l) => l.includes(password))).to.deep.equal([`stdin ${password}`])
    expect(log).to.match(/pull pull --authfile \S+ registry\.example\.com\/team\/private:1 authfile-present=yes/)
    const authDir = /authdir (\S+)/.exec(log)![1]
    expect(existsSync(authDir)).to.equal(false)

    // EC2's user data: neither credential; the runner came from the store (it would not fit).
    const [instance] = [...w.ec2.instances.values()]
    let data = Buffer.from(instance.userData ?? '', 'base64')
    if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data)
    expect(data.includes(password)).to.equal(false)
    expect(data.toString()).to.not.include("sk_file 'skyhop-runner.sh'")
  })
  it('a spot interruption reaches the job inside its container: it saves within the notice, and resumes in a container on the next instance', async () => {
    w = await cloudWorld({checkpointStore: true})
    const run = [
      'n=0',
      'if [ -f "$SKYHOP_CHECKPOINT_DIR/n" ]; then n=$(cat "$SKYHOP_CHECKPOINT_DIR/n"); echo "attempt $SKYHOP_ATTEMPT resumes at $n"; fi',
      `trap 'echo "$n" > "$SKYHOP_CHECKPOINT_DIR/n"; echo "saved $n in $(cat /skyhop-test-marker)"; exit 0' TERM`,
      'while [ "$n" -lt 40 ]; do n=$((n + 1)); sleep 0.2 & wait $!; done',
      'echo "finished at $n in $(cat /skyhop-test-marker)"',
    ].join('\n')
    const spec = cloudJob('boxed-spot', run, {
      image: TEST_IMAGE,
      container: parseContainerReference(TEST_IMAGE),
      spot: 'spot',
      recovery: {
        strategy: 'eager-next-region',
        maxRestarts: 2,
        restartOnExitCodes: [],
        maxRestartsOnErrors: 0,
        graceSeconds: 5,
        signal: 'SIGTERM',
      },
    })
    let interrupted: string | null = null
    const {job} = await w.drive(spec, {
      onEvent: (e) => {
        if (e.kind !== 'running' || interrupted) return
        interrupted = w!.store.getAttempt(e.attemptId!)!.handle!.externalId
        setTimeout(() => w!.ec2.interruptSpot(interrupted!, 8000), 2500)
      },
    })
    const all = w.store.listAttempts(job.id)
    expect(job.state, job.reason ?? '').to.equal('SUCCEEDED')
    expect(all.map((a) => a.state)).to.deep.equal(['PREEMPTED', 'SUCCEEDED'])
    const first: string[] = []
    for await (const line of w.aws.logs(all[0].handle!, {follow: false})) first.push(line)
    const saved = /^saved (\d+) in inside the skyhop test image$/.exec(first.find((l) => l.startsWith('saved')) ?? '')
    expect(saved, first.join('\n')).to.not.equal(null)
    const second: string[] = []
    for await (const line of w.aws.logs(all[1].handle!, {follow: false})) second.push(line)
    expect(second[0]).to.equal(`attempt 2 resumes at ${saved![1]}`)
    expect(second.at(-1)).to.equal('finished at 40 in inside the skyhop test image')
  })
})
