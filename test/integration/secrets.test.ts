// A job's secrets reach it without resting on disk (issue 24, items 2 and 3): after a run on
// the local provider (the built CLI, real processes), on the real Slurm cluster and on a fake
// cloud, the secret's value is in no file of skyhop's home, attempt directories, logs or the
// instance's files, nor in `--json` output or the user data the fake cloud was sent; and a
// controller that cannot see a secret holds the job instead of failing it, until one that can
// takes over.
import {expect} from 'chai'
import {createHash, randomBytes} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import {existsSync, lstatSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'

import {parseContainerReference} from '../../src/job/image.js'
import type {LaunchHandle} from '../../src/model/attempt.js'
import type {Offer} from '../../src/model/catalog.js'
import {LocalProvider} from '../../src/providers/local/local-provider.js'
import {SlurmProvider} from '../../src/providers/slurm/slurm-provider.js'
import {parseSlurmVersion, slurmAtLeast} from '../../src/providers/slurm/parse.js'
import {ProviderError} from '../../src/errors.js'
import {cancelJob} from '../../src/services/cancel.js'
import {recoverJobs} from '../../src/services/recover.js'
import {down} from '../../src/services/orphans.js'
import {releaseIdle} from '../../src/controller/idle.js'
import type {Provider} from '../../src/providers/provider.js'
import {Store} from '../../src/state/store.js'
import {FakeEc2Server} from '../fakes/fake-ec2-server.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {s3Dialect} from '../fakes/fake-s3-dialect.js'
import {parseEnvelope, runCli, runCliAsync, tempHome} from '../helpers/cli.js'
import {jobDriver} from '../helpers/controller-world.js'
import {onPostgresHome, stateDump, stateValue} from '../helpers/pg-suite.js'
import {testJobSpec} from '../helpers/job-spec.js'
import {requirePodman, TEST_IMAGE} from '../helpers/podman.js'
import {clusterIdle, pollUntil as pollSlurm, removeTempDirs, requireSlurm, slurmRequest, tempDir} from '../helpers/slurm.js'
import {pollUntil, sleep, until, waitUntil} from '../helpers/wait.js'
import {KEY} from './aws-helpers.js'
import {AWS_TYPE, cloudJob, cloudWorld, fakeOffers, type CloudWorld} from './cloud-world.js'

/** slurmctld's saved files of a batch job (StateSaveLocation/hash.N/job.ID/*), as `scontrol show config` names the location. */
function slurmJobStateFiles(jobId: string): string[] {
  const config = execFileSync('scontrol', ['show', 'config'], {encoding: 'utf8'})
  const location = /^StateSaveLocation\s*=\s*(\S+)/m.exec(config)![1]
  const dir = join(location, `hash.${Number(jobId) % 10}`, `job.${jobId}`)
  return existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : []
}

/** A fresh secret per test, long enough for redaction and unlike anything else in the files. */
function newSecret(): string {
  return `tok-${randomBytes(16).toString('hex')}`
}

/** What a job prints to prove it got the secret without printing it. */
function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 16)
}

const PRINT_FINGERPRINT = 'printf %s "$SKYHOP_TEST_TOKEN" | sha256sum | cut -c1-16'

/**
 * Every regular file under `root` whose bytes hold the secret, as written or base64'd
 * (the form a cloud's secrets object and user data use).
 */
function filesHolding(root: string, secret: string): string[] {
  const needles = [Buffer.from(secret), Buffer.from(Buffer.from(secret).toString('base64'))]
  const found: string[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      const stat = lstatSync(path)
      if (stat.isDirectory()) walk(path)
      else if (stat.isFile()) {
        let bytes = readFileSync(path)
        if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = Buffer.concat([bytes, gunzipSync(bytes)])
        if (needles.some((n) => bytes.includes(n))) found.push(path)
      }
    }
  }
  walk(root)
  // In the PostgreSQL run of the suite the home's state store is not a file under it.
  if (onPostgresHome(root) && needles.some((n) => stateDump(root).includes(n.toString('latin1')))) found.push('the state store')
  return found
}

function filesNamed(root: string, name: string): string[] {
  const found: string[] = []
  for (const entry of readdirSync(root, {recursive: true, withFileTypes: true})) {
    if (entry.isFile() && entry.name === name) found.push(join(entry.parentPath, entry.name))
  }
  return found
}

function localOnly(home: string): Record<string, string> {
  const config = join(home, 'config.yaml')
  writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
  return {SKYHOP_CONFIG: config}
}

describe('secrets never rest on disk', function () {
  this.timeout(180_000)

  describe('local provider (the built CLI)', () => {
    it('hands the secret to the job through the runner’s environment: no file, log or --json output holds it', () => {
      const home = tempHome()
      const secret = newSecret()
      const file = join(home, 'job.yaml')
      writeFileSync(file, `name: secretive\nsecrets: [SKYHOP_TEST_TOKEN]\nrun: ${PRINT_FINGERPRINT}\n`)
      const r = runCli(['launch', file, '-y', '--wait', '--json'], {home, env: {...localOnly(home), SKYHOP_TEST_TOKEN: secret}})
      expect(r.code, r.stderr).to.equal(0)
      const out = parseEnvelope(r.stdout)
      const logs = runCli(['logs', out.result.job.id], {home, env: localOnly(home)})
      expect(logs.stdout).to.include(fingerprint(secret))
      expect(r.stdout + r.stderr + logs.stdout).not.to.include(secret)
      expect(filesNamed(home, 'runner.conf')).to.have.length(1)
      // The runner's env file names no secret: the job got it from the runner's environment.
      const status = parseEnvelope(runCli(['status', out.result.job.id, '--json'], {home, env: localOnly(home)}).stdout)
      expect(JSON.stringify(status)).not.to.include(secret)
      expect(filesHolding(home, secret)).to.deep.equal([])
    })

    it('writes the secret’s name to runner.conf and nothing of it to env', () => {
      const home = tempHome()
      const secret = newSecret()
      const file = join(home, 'job.yaml')
      writeFileSync(file, `name: named\nsecrets: [SKYHOP_TEST_TOKEN]\nrun: ${PRINT_FINGERPRINT}\n`)
      const r = runCli(['launch', file, '-y', '--wait', '--json'], {home, env: {...localOnly(home), SKYHOP_TEST_TOKEN: secret}})
      expect(r.code, r.stderr).to.equal(0)
      const dirs = filesNamed(join(home, 'attempts'), 'runner.conf')
      expect(dirs).to.have.length(1)
      expect(readFileSync(dirs[0], 'utf8')).to.include("secretNames='SKYHOP_TEST_TOKEN'")
      expect(readFileSync(join(dirs[0], '..', 'env'), 'utf8')).not.to.include('SKYHOP_TEST_TOKEN')
    })
  })

  describe('local provider, the runner itself', () => {
    it('a runner started without a secret it is told of fails before the job runs, naming only the variable', async () => {
      const home = tempHome()
      const provider = new LocalProvider({home})
      const attemptId = `sec-none-${process.pid}-${Date.now()}`
      const handle = await provider.launch({
        jobId: 'job-no-secret',
        jobName: 'no secret',
        attemptId,
        attempt: 1,
        restartCount: 0,
        idempotencyKey: attemptId,
        spec: testJobSpec({name: 'no-secret', run: 'echo the job ran', secrets: ['SKYHOP_TEST_TOKEN']}),
        offer: {} as Offer,
        spot: false,
        env: {},
        checkpointDir: join(home, 'checkpoints', 'job-no-secret'),
        checkpointSync: null,
        graceSeconds: 5,
      })
      const last = await pollUntil(provider, handle, (r) => ['SUCCEEDED', 'FAILED', 'LOST'].includes(r.state), {
        stepMs: 50,
        timeoutMs: 30_000,
      })
      expect(last.state).not.to.equal('SUCCEEDED')
      const dir = (handle.data as {attemptDir: string}).attemptDir
      const events = readFileSync(join(dir, 'events.jsonl'), 'utf8')
      expect(events).to.include('"event":"error"')
      expect(events).to.include("secret $SKYHOP_TEST_TOKEN is not in the runner's environment")
      expect(existsSync(join(dir, 'output.log')) ? readFileSync(join(dir, 'output.log'), 'utf8') : '').not.to.include('the job ran')
      await provider.cleanup(handle)
    })
  })

  describe('local provider, a container job (real podman)', () => {
    const launched: Array<{provider: LocalProvider; handle: LaunchHandle}> = []
    before(async function () {
      await requirePodman(this)
    })
    after(async () => {
      for (const {provider, handle} of launched) await provider.cleanup(handle).catch(() => undefined)
    })

    it('hands the secret to the container on its stdin: podman’s storage never holds it, while the job runs or after', async () => {
      const home = tempHome()
      const provider = new LocalProvider({home, containerRuntime: 'podman'})
      // Bytes that a line- or quote-based format would mangle: the length-prefixed stdin keeps them.
      const core = newSecret()
      const secret = `${core} it's\n"$HOME"\n`
      const attemptId = `sec-ctr-${process.pid}-${Date.now()}`
      const spec = testJobSpec({
        name: 'ctr-secret',
        // The test image is busybox without its applet links.
        run: `printf %s "$SKYHOP_TEST_TOKEN" | busybox sha256sum | busybox cut -c1-16; [ -z "$(busybox cat)" ] && echo stdin-empty; sleep 3`,
        image: TEST_IMAGE,
        container: parseContainerReference(TEST_IMAGE),
        secrets: ['SKYHOP_TEST_TOKEN'],
      })
      const handle = await provider.launch({
        jobId: 'job-ctr-secret',
        jobName: 'ctr secret',
        attemptId,
        attempt: 1,
        restartCount: 0,
        idempotencyKey: attemptId,
        spec,
        offer: {} as Offer,
        spot: false,
        env: {},
        secrets: {SKYHOP_TEST_TOKEN: secret},
        checkpointDir: join(home, 'checkpoints', 'job-ctr-secret'),
        checkpointSync: null,
        graceSeconds: 10,
      })
      launched.push({provider, handle})
      const out = join((handle.data as {attemptDir: string}).attemptDir, 'output.log')
      await waitUntil(() => existsSync(out) && readFileSync(out, 'utf8').includes('stdin-empty'), 60_000, 100)
      expect(readFileSync(out, 'utf8').split('\n')[0]).to.equal(fingerprint(secret))
      // While the container runs: its configuration and podman's state database.
      const storage = execFileSync('podman', ['info', '--format', '{{.Store.GraphRoot}} {{.Store.RunRoot}}'], {encoding: 'utf8'})
        .trim()
        .split(' ')
      const podmanFiles = (): string[] =>
        [join(storage[0], 'libpod'), join(storage[0], 'overlay-containers'), storage[1]]
          .filter((d) => existsSync(d))
          .flatMap((d) => filesHolding(d, core))
      expect(podmanFiles()).to.deep.equal([])
      const last = await pollUntil(provider, handle, (r) => ['SUCCEEDED', 'FAILED', 'LOST'].includes(r.state), {
        stepMs: 100,
        timeoutMs: 60_000,
      })
      expect(last.state).to.equal('SUCCEEDED')
      expect(podmanFiles()).to.deep.equal([])
      expect(filesHolding(home, core)).to.deep.equal([])
    })
  })

  describe('Slurm (the real cluster)', () => {
    before(async function () {
      await requireSlurm(this)
    })
    after(() => removeTempDirs())

    it('through the built CLI: the job gets it, and no file of the home, log or --json output holds it', () => {
      const home = tempHome()
      const secret = newSecret()
      const file = join(home, 'job.yaml')
      writeFileSync(
        file,
        `name: slurm-secret\nplacement: {providers: {allow: [slurm]}}\nresources: {cpus: 1}\nsecrets: [SKYHOP_TEST_TOKEN]\nrun: echo "slurm job \${SLURM_JOB_ID:-none} $(${PRINT_FINGERPRINT})"\n`,
      )
      const r = runCli(['launch', file, '-y', '--wait', '--json'], {home, env: {SKYHOP_TEST_TOKEN: secret}, timeoutMs: 170_000})
      expect(r.code, r.stderr).to.equal(0)
      const jobId = parseEnvelope(r.stdout).result.job.id as string
      const logs = runCli(['logs', jobId], {home})
      expect(logs.stdout).to.match(new RegExp(`^slurm job \\d+ ${fingerprint(secret)}$`, 'm'))
      const status = runCli(['status', jobId, '--json'], {home})
      expect(r.stdout + r.stderr + logs.stdout + status.stdout).not.to.include(secret)
      expect(filesNamed(home, 'slurm-batch.sh')).to.have.length(1)
      expect(filesHolding(home, secret)).to.deep.equal([])
      // Nor slurmctld's saved environment and script of the job (StateSaveLocation).
      const slurmJob = /^slurm job (\d+) /m.exec(logs.stdout)![1]
      const saved = slurmJobStateFiles(slurmJob)
      expect(saved).to.have.length(2)
      for (const f of saved) expect(readFileSync(f).includes(secret), f).to.equal(false)
    })

    it('hands the secret to the started batch script through a FIFO in memory: neither the batch script, the attempt directory nor slurmctld’s saved environment holds it', async () => {
      const home = tempDir()
      const secret = newSecret()
      const provider = new SlurmProvider({home})
      const request = slurmRequest(home, PRINT_FINGERPRINT)
      request.spec = {...request.spec, secrets: ['SKYHOP_TEST_TOKEN']}
      request.secrets = {SKYHOP_TEST_TOKEN: secret}
      const handle = await provider.launch(request)
      try {
        const {last, seen} = await pollSlurm(provider, handle, (r) => ['SUCCEEDED', 'FAILED', 'LOST', 'CANCELLED'].includes(r.state))
        expect(last.state, seen.join(' → ')).to.equal('SUCCEEDED')
        const lines: string[] = []
        for await (const line of provider.logs(handle, {follow: false})) lines.push(line)
        expect(lines).to.deep.equal([fingerprint(secret)])
        const attemptDir = (handle.data as {attemptDir: string}).attemptDir
        expect(readFileSync(join(attemptDir, 'slurm-batch.sh'), 'utf8')).not.to.include(secret)
        expect(filesHolding(home, secret)).to.deep.equal([])
        // Nor does slurmctld's state: the job's saved environment (hash.N/job.ID/environment,
        // kept until MinJobAge after the job) and script, which root can read here.
        const saved = slurmJobStateFiles(handle.externalId)
        expect(saved.map((f) => f.replace(/.*\//, '')).sort()).to.deep.equal(['environment', 'script'])
        for (const file of saved) expect(readFileSync(file).includes(secret), file).to.equal(false)
        // The FIFO it came through, in node-local memory, is gone with its name in the attempt directory.
        expect(existsSync(join(attemptDir, 'secrets-fifo'))).to.equal(false)
        expect(readdirSync('/dev/shm').filter((n) => n.startsWith('skyhop-secrets.'))).to.deep.equal([])
      } finally {
        await provider.cleanup(handle).catch(() => undefined)
      }
    })

    it('a job whose submitting process is gone gets its secrets from the controller that took it over (supplySecrets)', async () => {
      const home = tempDir()
      const secret = newSecret()
      const request = slurmRequest(home, PRINT_FINGERPRINT)
      request.spec = {...request.spec, secrets: ['SKYHOP_TEST_TOKEN']}
      request.secrets = {SKYHOP_TEST_TOKEN: secret}
      // The provider that submitted it is never asked again, as when its controller is killed.
      const handle = await new SlurmProvider({home}).launch(request)
      const provider = new SlurmProvider({home})
      try {
        const attemptDir = (handle.data as {attemptDir: string}).attemptDir
        // The batch script starts and waits: a provider without the values cannot end that wait.
        await waitUntil(() => existsSync(join(attemptDir, 'secrets-fifo')), 30_000)
        await provider.poll([handle])
        expect(existsSync(join(attemptDir, 'secrets-fifo'))).to.equal(true)
        provider.supplySecrets(handle, {SKYHOP_TEST_TOKEN: secret})
        const {last, seen} = await pollSlurm(provider, handle, (r) => ['SUCCEEDED', 'FAILED', 'LOST', 'CANCELLED'].includes(r.state))
        expect(last.state, seen.join(' → ')).to.equal('SUCCEEDED')
        const lines: string[] = []
        for await (const line of provider.logs(handle, {follow: false})) lines.push(line)
        expect(lines).to.deep.equal([fingerprint(secret)])
        for (const f of slurmJobStateFiles(handle.externalId)) expect(readFileSync(f).includes(secret), f).to.equal(false)
      } finally {
        await provider.cleanup(handle).catch(() => undefined)
      }
    })

    it('a 2-node gang: every rank gets the secret the batch script was handed, and slurmctld’s saved files hold none of it', async () => {
      await clusterIdle('RUNNING,COMPLETING,PENDING')
      const home = tempDir()
      const secret = newSecret()
      const provider = new SlurmProvider({home})
      const request = slurmRequest(home, `echo "rank $SKYHOP_NODE_RANK $(${PRINT_FINGERPRINT})"`, {
        partition: 'gang-high',
        nodes: 2,
        cpus: 1,
      })
      request.spec = {...request.spec, secrets: ['SKYHOP_TEST_TOKEN']}
      request.secrets = {SKYHOP_TEST_TOKEN: secret}
      const handle = await provider.launch(request)
      try {
        const {last, seen} = await pollSlurm(
          provider,
          handle,
          (r) => ['SUCCEEDED', 'FAILED', 'LOST', 'CANCELLED'].includes(r.state),
          60_000,
        )
        expect(last.state, seen.join(' → ')).to.equal('SUCCEEDED')
        const attemptDir = (handle.data as {attemptDir: string}).attemptDir
        for (const rank of [0, 1]) {
          expect(readFileSync(join(attemptDir, `node-${rank}`, 'output.log'), 'utf8').trim()).to.equal(
            `rank ${rank} ${fingerprint(secret)}`,
          )
        }
        expect(filesHolding(home, secret)).to.deep.equal([])
        for (const f of slurmJobStateFiles(handle.externalId)) expect(readFileSync(f).includes(secret), f).to.equal(false)
      } finally {
        await provider.cleanup(handle).catch(() => undefined)
      }
    })

    it('a controller that takes over a job another controller submitted hands its batch script the secret from its own environment', async () => {
      const home = tempDir()
      const secret = newSecret()
      const real = new SlurmProvider({home})
      // The cluster's own offers as a catalog (the fields a catalog file has).
      const keys = [
        'provider',
        'region',
        'zone',
        'instanceType',
        'accelerator',
        'vcpus',
        'memoryGiB',
        'price',
        'capacity',
        'source',
        'asOf',
      ]
      const offers = (await real.liveOffers()).map((o) =>
        Object.fromEntries(keys.map((k) => [k, (o as unknown as Record<string, unknown>)[k]])),
      )
      // The first controller launches and is stopped before it ever polls (so it never hands the secret over).
      const stopped = new AbortController()
      const launcher = new Proxy(real, {
        get(target, key, receiver) {
          if (key === 'poll') return async () => new Map()
          const value = Reflect.get(target, key, receiver) as unknown
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
        },
      })
      const first = await jobDriver(home, new Map<string, Provider>([['slurm', launcher]]), offers, 'slurm-offers.json')
      const spec = testJobSpec({
        name: 'taken-over',
        run: PRINT_FINGERPRINT,
        secrets: ['SKYHOP_TEST_TOKEN'],
        spot: 'on-demand',
        placement: {providers: {allow: ['slurm'], deny: []}, regions: {allow: null, deny: []}},
      })
      const job = first.create(spec)
      const env = {...process.env, SKYHOP_TEST_TOKEN: secret}
      const driving = first.driveExisting(job.id, {env, signal: stopped.signal})
      const attempt = await until(
        async () => first.store.listAttempts(job.id).find((a) => a.handle !== null),
        (a) => a !== undefined,
        30_000,
        50,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; ${JSON.stringify(first.store.events(job.id).map((e) => [e.kind, e.data]))}`)
      })
      stopped.abort()
      await driving
      // Its batch script runs, and waits for the secret.
      const attemptDir = (attempt!.handle!.data as {attemptDir: string}).attemptDir
      await waitUntil(() => existsSync(join(attemptDir, 'secrets-fifo')), 30_000)
      // A new controller (its own provider, as `recover` starts one) with the secret in its environment.
      const second = await jobDriver(home, new Map<string, Provider>([['slurm', new SlurmProvider({home})]]), offers, 'slurm-offers.json')
      try {
        const {job: ended} = await second.driveExisting(job.id, {env})
        expect(ended.state, ended.reason ?? '').to.equal('SUCCEEDED')
        expect(second.store.listAttempts(job.id)).to.have.length(1)
        expect(readFileSync(join(attemptDir, 'output.log'), 'utf8').trim()).to.equal(fingerprint(secret))
        for (const f of slurmJobStateFiles(attempt!.handle!.externalId)) expect(readFileSync(f).includes(secret), f).to.equal(false)
      } finally {
        first.store.close()
        second.store.close()
      }
    })

    /**
     * A directory with a fake `srun` of an older Slurm, to put first on PATH: it prints what an
     * old srun prints to --version and notes each call; anything else it would have to do is
     * refused (exit 1), and a fake `sbatch` notes any submission (there must be none).
     */
    function oldSlurmBin(version: string): {bin: string; calls: () => string[]} {
      const bin = tempDir('skyhop-old-slurm-')
      const log = join(bin, 'calls')
      writeFileSync(log, '')
      for (const name of ['srun', 'sbatch']) {
        writeFileSync(
          join(bin, name),
          `#!/bin/bash\nprintf '%s %s\\n' ${name} "$*" >>${JSON.stringify(log)}\n[ "$1" = --version ] && { echo ${JSON.stringify(version)}; exit 0; }\nexit 1\n`,
          {mode: 0o755},
        )
      }
      return {bin, calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean)}
    }

    it('this cluster’s Slurm (srun --version) takes secrets: its release is read and is 20.11 or later', async () => {
      const printed = execFileSync('srun', ['--version'], {encoding: 'utf8'})
      const version = parseSlurmVersion(printed)
      expect(version, printed).to.not.equal(null)
      expect(printed).to.include(version!.text)
      expect(slurmAtLeast(version!, 20, 11), printed).to.equal(true)
      expect(await new SlurmProvider({home: tempDir()}).secretsUnsupported()).to.equal(null)
    })

    it('on a Slurm older than 20.11 a job with secrets is refused before anything is submitted, and the release is kept in the query cache', async () => {
      const old = oldSlurmBin('slurm 20.02.7')
      const home = tempDir()
      const env = {...process.env, PATH: `${old.bin}:${process.env.PATH}`}
      const queryCache = {dir: join(home, 'cache', 'slurm')}
      const provider = new SlurmProvider({home, env, queryCache})
      const request = slurmRequest(home, PRINT_FINGERPRINT)
      request.spec = {...request.spec, secrets: ['SKYHOP_TEST_TOKEN']}
      request.secrets = {SKYHOP_TEST_TOKEN: newSecret()}
      const error = await provider.launch(request).then(
        () => null,
        (e: unknown) => e as ProviderError,
      )
      expect(error, 'the launch was refused').to.be.instanceOf(ProviderError)
      expect(error!.code).to.equal('SECRETS_SLURM_UNSUPPORTED')
      expect(error!.category).to.equal('user')
      expect(error!.message).to.include('Slurm 20.02.7').and.include('srun --overlap').and.include('20.11')
      expect(old.calls()).to.deep.equal(['srun --version'])
      expect(existsSync(join(home, 'slurm', 'attempts', request.attemptId)), 'no attempt directory').to.equal(false)
      // Another process of the same home reads the release from the cache: no second srun.
      const again = new SlurmProvider({home, env, queryCache})
      expect(await again.secretsUnsupported()).to.include('Slurm 20.02.7')
      expect(old.calls()).to.deep.equal(['srun --version'])
      // A job without secrets is not asked about: an old Slurm runs it as before (here the fake sbatch refuses it).
      const plain = slurmRequest(home, 'true')
      await provider.launch(plain).catch(() => undefined)
      expect(old.calls().filter((c) => c.startsWith('sbatch')).length, 'a plain job still goes to sbatch').to.be.above(0)
    })

    it('a srun whose --version says no release refuses secrets, quoting what it printed', async () => {
      const odd = oldSlurmBin('something else 1.2')
      const provider = new SlurmProvider({home: tempDir(), env: {...process.env, PATH: `${odd.bin}:${process.env.PATH}`}})
      expect(await provider.secretsUnsupported()).to.equal(
        'cannot tell this cluster\'s Slurm release: `srun --version` printed "something else 1.2"',
      )
    })

    it('through the built CLI on a Slurm older than 20.11: launch exits 2 (SECRETS_SLURM_UNSUPPORTED) naming the release, and records nothing', () => {
      const old = oldSlurmBin('slurm-wlm 20.02.6')
      const home = tempHome()
      const secret = newSecret()
      const file = join(home, 'job.yaml')
      writeFileSync(
        file,
        `name: old-slurm-secret\nplacement: {providers: {allow: [slurm]}}\nresources: {cpus: 1}\nsecrets: [SKYHOP_TEST_TOKEN]\nrun: "true"\n`,
      )
      const env = {SKYHOP_TEST_TOKEN: secret, PATH: `${old.bin}:${process.env.PATH}`}
      const r = runCli(['launch', file, '-y', '--json'], {home, env})
      expect(r.code, r.stdout + r.stderr).to.equal(2)
      const envelope = JSON.parse(r.stdout) as {ok: boolean; error: {code: string; message: string}}
      expect(envelope.error.code).to.equal('SECRETS_SLURM_UNSUPPORTED')
      expect(envelope.error.message).to.include('$SKYHOP_TEST_TOKEN cannot reach slurm').and.include('Slurm 20.02.6')
      expect(r.stdout + r.stderr).not.to.include(secret)
      // Planning's queue estimates (sbatch --test-only) came to the fake; no submission did.
      expect(old.calls().filter((c) => c.startsWith('sbatch') && !c.includes('--test-only'))).to.deep.equal([])
      const status = runCli(['status', '--json'], {home})
      expect(parseEnvelope(status.stdout).result.jobs).to.deep.equal([])
    })

    it('a runner started without the secret fails before the job runs, naming only the variable', async () => {
      const home = tempDir()
      const provider = new SlurmProvider({home})
      const request = slurmRequest(home, 'echo the job ran')
      request.spec = {...request.spec, secrets: ['SKYHOP_TEST_TOKEN']}
      const handle = await provider.launch(request)
      try {
        const {last} = await pollSlurm(provider, handle, (r) => ['SUCCEEDED', 'FAILED', 'LOST', 'CANCELLED'].includes(r.state))
        expect(last.state).not.to.equal('SUCCEEDED')
        const lines: string[] = []
        for await (const line of provider.logs(handle, {follow: false})) lines.push(line)
        expect(lines).not.to.include('the job ran')
        const attemptDir = (handle.data as {attemptDir: string}).attemptDir
        expect(readFileSync(join(attemptDir, 'events.jsonl'), 'utf8')).to.include(
          "secret $SKYHOP_TEST_TOKEN is not in the runner's environment",
        )
      } finally {
        await provider.cleanup(handle).catch(() => undefined)
      }
    })
  })

  describe('a cloud (fake EC2, fake S3 store)', () => {
    let w: CloudWorld | null = null
    afterEach(async () => {
      await w?.close()
      w = null
    })

    it('sends the secret through a one-time store object that the instance deletes at boot: not in user data, not on the instance', async () => {
      w = await cloudWorld({checkpointStore: true})
      // Quotes, a dollar, a space and a trailing newline: the value is data all the way. Files
      // are searched for its random core too, which survives any escaping (JSON, shell).
      const core = newSecret()
      const secret = `${core} it's "$HOME"\n`
      const spec = cloudJob('cloud-secret', PRINT_FINGERPRINT, {secrets: ['SKYHOP_TEST_TOKEN']})
      const {job, events} = await w.drive(spec, {env: {...process.env, SKYHOP_TEST_TOKEN: secret}})
      expect(job.state, job.reason ?? '').to.equal('SUCCEEDED')
      const [attempt] = w.store.listAttempts(job.id)
      const lines: string[] = []
      for await (const line of w.aws.logs(attempt.handle!, {follow: false})) lines.push(line)
      expect(lines).to.deep.equal([fingerprint(secret)])
      // The user data EC2 was sent (and every instance's files, the console included).
      const sent = [...w.ec2.instances.values()].map((i) => i.userData ?? '')
      expect(sent).to.have.length(1)
      for (const data of sent) {
        let text = Buffer.from(data, 'base64')
        if (text[0] === 0x1f && text[1] === 0x8b) text = gunzipSync(text)
        expect(text.includes(core)).to.equal(false)
        expect(text.includes(Buffer.from(secret).toString('base64'))).to.equal(false)
        expect(text.toString()).to.include(`runs/${job.id}/secrets/${attempt.id}`)
      }
      expect(filesHolding(w.home, secret)).to.deep.equal([])
      expect(filesHolding(w.home, core)).to.deep.equal([])
      expect(JSON.stringify(events)).not.to.include(core)
      // Written once before the launch, read and deleted by the instance, deleted again at release.
      const key = `runs/${job.id}/secrets/${attempt.id}`
      const calls = w.s3!.requests.filter((r) => r.key === key).map((r) => `${r.method} ${r.status}`)
      expect(calls).to.deep.equal(['PUT 200', 'GET 200', 'DELETE 204', 'DELETE 204'])
      expect(w.s3!.object('ckpt', key)).to.equal(undefined)
    })

    it('a launch that fails leaves no secrets object behind; the next candidate gets one of its own', async () => {
      w = await cloudWorld({checkpointStore: true})
      w.ec2.setCapacity('us-east-1', 'us-east-1a', AWS_TYPE, 0)
      const secret = newSecret()
      const spec = cloudJob('failover-secret', PRINT_FINGERPRINT, {secrets: ['SKYHOP_TEST_TOKEN']})
      const {job} = await w.drive(spec, {env: {...process.env, SKYHOP_TEST_TOKEN: secret}})
      expect(job.state, job.reason ?? '').to.equal('SUCCEEDED')
      const [failed, ran] = w.store.listAttempts(job.id)
      expect([failed.zone, failed.state, ran.state]).to.deep.equal(['us-east-1a', 'FAILED', 'SUCCEEDED'])
      const calls = (attemptId: string) =>
        w!.s3!.requests.filter((r) => r.key === `runs/${job.id}/secrets/${attemptId}`).map((r) => `${r.method} ${r.status}`)
      expect(calls(failed.id)).to.deep.equal(['PUT 200', 'DELETE 204'])
      expect(calls(ran.id)).to.deep.equal(['PUT 200', 'GET 200', 'DELETE 204', 'DELETE 204'])
      expect([...w.s3!.objects.keys()].filter((k) => k.includes('/secrets/'))).to.deep.equal([])
      expect(filesHolding(w.home, secret)).to.deep.equal([])
    })

    /** Drives a secret job on an instance that stays pending (never boots) until the object is written and the instance exists. */
    async function unbootedAttempt(name: string, signal?: AbortSignal) {
      w = await cloudWorld({checkpointStore: true, pendingMs: 600_000})
      const world = w
      const job = world.create(cloudJob(name, 'true', {secrets: ['SKYHOP_TEST_TOKEN']}))
      const driving = world.driveExisting(job.id, {env: {...process.env, SKYHOP_TEST_TOKEN: newSecret()}, signal})
      const attempt = await until(
        async () => world.store.listAttempts(job.id).find((a) => a.handle !== null),
        (a) => a !== undefined,
        30_000,
        100,
      )
      const key = `runs/${job.id}/secrets/${attempt!.id}`
      const calls = () => world.s3!.requests.filter((r) => r.key === key).map((r) => `${r.method} ${r.status}`)
      // Written before the launch; the instance, still pending, has not fetched it.
      expect(calls()).to.deep.equal(['PUT 200'])
      expect(world.s3!.object('ckpt', key)).to.not.equal(undefined)
      // Its GET URL, in the user data, works for what the boot needs (20 minutes), not an hour.
      const [sent] = [...world.ec2.instances.values()].map((i) => i.userData ?? '')
      let text = Buffer.from(sent, 'base64')
      if (text[0] === 0x1f && text[1] === 0x8b) text = gunzipSync(text)
      const expires = [...text.toString().matchAll(/\/secrets\/[^?'\s]+\?[^'\s]*X-Amz-Expires=(\d+)/g)].map((m) => m[1])
      expect(expires).to.deep.equal(['1200', '1200'])
      return {world, job, attempt: attempt!, key, calls, driving}
    }

    it('a cancel before the instance booted deletes the secrets object the boot never fetched', async () => {
      const abort = new AbortController()
      const {world, job, key, calls, driving} = await unbootedAttempt('unbooted-cancel', abort.signal)
      // The instance is still pending: it would never read the stop request, so the cancel
      // terminates it at once instead of waiting out the grace; the object is gone already.
      const started = Date.now()
      const result = await cancelJob(world.store, world.providers, job.id, {
        graceSeconds: 30,
        attemptHolds: world.attemptHolds,
      })
      expect(Date.now() - started, 'the cancel waited out the grace').to.be.below(10_000)
      expect(result.signalled).to.have.length(1)
      expect(world.store.getJob(job.id)!.state).to.equal('CANCELLED')
      const ended = world.store.listAttempts(job.id)[0]
      expect(ended).to.deep.include({state: 'CANCELLED', reason: 'cancelled by user before it started'})
      expect(ended.releasedAt, 'released').to.not.equal(null)
      const instances = [...world.ec2.instances.values()]
      expect(instances).to.have.length(1)
      expect(instances[0].state, 'terminated at the cancel').to.be.oneOf(['shutting-down', 'terminated'])
      expect(calls()).to.deep.equal(['PUT 200', 'DELETE 204'])
      expect(world.s3!.object('ckpt', key)).to.equal(undefined)
      abort.abort()
      await driving
    })

    it('recover stopping an unbooted attempt of a job that ended without its controller deletes its secrets object', async () => {
      const abort = new AbortController()
      const {world, job, key, calls, driving} = await unbootedAttempt('unbooted-recover', abort.signal)
      // The controller goes away, and the job is marked ended by a cancel that died before it stopped anything.
      abort.abort()
      await driving
      world.store.setJobState(job.id, 'CANCELLED', {kind: 'cancel-requested', data: {graceSeconds: 1}}, {reason: 'cancelled by user'})
      const result = await recoverJobs({
        store: world.store,
        providers: world.providers,
        home: world.home,
        spawn: () => undefined,
        attemptHolds: world.attemptHolds,
      })
      expect(result.actions.filter((a) => a.step === 'stop-attempt').map((a) => a.ok)).to.deep.equal([true])
      expect(calls()).to.deep.equal(['PUT 200', 'DELETE 204'])
      expect(world.s3!.object('ckpt', key)).to.equal(undefined)
    })

    /**
     * An unbooted attempt whose end its controller recorded a minute past the job's idle
     * timeout before it was killed, so that nothing released it: the idle guard's and
     * `down`'s case.
     */
    async function endedUnreleased(name: string) {
      const abort = new AbortController()
      const unbooted = await unbootedAttempt(name, abort.signal)
      abort.abort()
      await unbooted.driving
      const {world, job, attempt} = unbooted
      const endedAt = new Date(Date.now() - (job.spec.idleTimeoutSeconds + 60) * 1000).toISOString()
      world.store.updateAttempt(attempt.id, {state: 'LOST', endedAt, reason: 'the instance went away'}, {kind: 'attempt-lost'})
      world.store.setJobState(job.id, 'FAILED', {kind: 'job-failed'}, {reason: 'the instance went away'})
      expect(world.store.unreleasedAttempts({jobId: job.id}).map((a) => a.id)).to.deep.equal([attempt.id])
      return unbooted
    }

    it('the idle guard (recover) releasing an ended, unreleased attempt deletes its secrets object too', async () => {
      const {world, job, attempt, key, calls} = await endedUnreleased('idle-secrets')
      const result = await recoverJobs({
        store: world.store,
        providers: world.providers,
        home: world.home,
        spawn: () => undefined,
        attemptHolds: world.attemptHolds,
      })
      expect(result.idleReleased).to.deep.equal([attempt.id])
      expect(world.store.getAttempt(attempt.id)!.releasedAt, 'released').to.not.equal(null)
      expect(calls()).to.deep.equal(['PUT 200', 'DELETE 204'])
      expect(world.s3!.object('ckpt', key)).to.equal(undefined)
      expect(world.store.events(job.id).map((e) => e.kind)).to.not.include('secrets-delete-failed')
    })

    it('the idle guard records a secrets delete that fails as the attempt’s event and still releases it', async () => {
      const {world, job, attempt, key} = await endedUnreleased('idle-secrets-fail')
      const failing = {
        ...world.attemptHolds!,
        deleteSecrets: async () => {
          throw new Error('the store answered 503')
        },
      }
      const released = await releaseIdle({store: world.store, providers: world.providers, now: new Date(), attemptHolds: failing})
      expect(released.map((r) => r.attemptId)).to.deep.equal([attempt.id])
      const failed = world.store.events(job.id).filter((e) => e.kind === 'secrets-delete-failed')
      expect(failed.map((e) => e.attemptId)).to.deep.equal([attempt.id])
      expect(String(failed[0].data.message)).to.include('the store answered 503')
      expect(world.s3!.object('ckpt', key), 'left to its URLs’ expiry').to.not.equal(undefined)
    })

    it('down --orphans terminating an ended attempt’s instance deletes its secrets object too', async () => {
      const {world, attempt, key, calls} = await endedUnreleased('orphan-secrets')
      const result = await down({
        store: world.store,
        providers: world.providers,
        graceSeconds: 1,
        dryRun: false,
        confirm: async () => true,
        attemptHolds: world.attemptHolds,
      })
      expect(result.terminated.map((o) => [o.attemptId, o.reason])).to.deep.equal([[attempt.id, 'attempt-ended']])
      expect(calls()).to.deep.equal(['PUT 200', 'DELETE 204'])
      expect(world.s3!.object('ckpt', key)).to.equal(undefined)
    })

    it('down JOB releasing an attempt that ended before it deletes its secrets object too', async () => {
      const {world, job, attempt, key, calls} = await endedUnreleased('down-ended-secrets')
      const result = await down({
        store: world.store,
        providers: world.providers,
        job: job.id,
        graceSeconds: 1,
        dryRun: false,
        confirm: async () => true,
        attemptHolds: world.attemptHolds,
      })
      expect(result.job!.released).to.deep.equal([attempt.id])
      expect(calls()).to.deep.equal(['PUT 200', 'DELETE 204'])
      expect(world.s3!.object('ckpt', key)).to.equal(undefined)
    })

    it('a gang’s nodes all read the one object, which the controller deletes when it releases the attempt', async () => {
      w = await cloudWorld({checkpointStore: true})
      const secret = newSecret()
      const spec = cloudJob('gang-secret', `echo "rank $SKYHOP_NODE_RANK $(${PRINT_FINGERPRINT})"`, {
        nodes: 2,
        secrets: ['SKYHOP_TEST_TOKEN'],
      })
      const {job} = await w.drive(spec, {env: {...process.env, SKYHOP_TEST_TOKEN: secret}})
      expect(job.state, job.reason ?? '').to.equal('SUCCEEDED')
      const [attempt] = w.store.listAttempts(job.id)
      const lines: string[] = []
      for await (const line of w.aws.logs(attempt.handle!, {follow: false, node: 'all'})) lines.push(line)
      expect(lines.sort()).to.deep.equal([`[rank 0] rank 0 ${fingerprint(secret)}`, `[rank 1] rank 1 ${fingerprint(secret)}`])
      const key = `runs/${job.id}/secrets/${attempt.id}`
      const calls = w.s3!.requests.filter((r) => r.key === key).map((r) => `${r.method} ${r.status}`)
      expect(calls).to.deep.equal(['PUT 200', 'GET 200', 'GET 200', 'DELETE 204'])
      expect(w.s3!.object('ckpt', key)).to.equal(undefined)
      expect(filesHolding(w.home, secret)).to.deep.equal([])
    })

    it('refuses a job with secrets where there is no store to pass them through, saying what to set', async () => {
      w = await cloudWorld()
      const spec = cloudJob('no-store', 'true', {secrets: ['SKYHOP_TEST_TOKEN']})
      const {job} = await w.drive(spec, {env: {...process.env, SKYHOP_TEST_TOKEN: newSecret()}})
      expect(job.state).to.equal('FAILED')
      expect(job.reason).to.include('no checkpoint store to pass them to an instance through')
      expect(w.ec2.instances.size).to.equal(0)
      const failed = w.store.listAttempts(job.id).map((a) => (a.error as {code?: string} | null)?.code)
      expect(failed).to.include('SECRETS_NEED_STORE')
    })
  })
})

describe('recover from a shell without the secret holds the job (real processes, local)', function () {
  this.timeout(180_000)

  it('keeps the running attempt, holds the job at relaunch, and resumes under a controller that has the secret', async () => {
    const home = tempHome()
    const secret = newSecret()
    // A short lease, so that recover can take the job over soon after the controller is killed.
    const base = {...localOnly(home), SKYHOP_LEASE_TTL_SECONDS: '2'}
    const withSecret = {...base, SKYHOP_TEST_TOKEN: secret}
    const without = {...base, SKYHOP_TEST_TOKEN: undefined}
    const file = join(home, 'job.yaml')
    // The first attempt runs until preempted; the second proves it got the secret and ends.
    writeFileSync(
      file,
      `name: held\nsecrets: [SKYHOP_TEST_TOKEN]\nrecovery: {grace: 2s}\nrun: |\n  ${PRINT_FINGERPRINT}\n  [ "$SKYHOP_ATTEMPT" = 1 ] && exec sleep 300\n  echo second attempt done\n`,
    )
    const launched = runCli(['launch', file, '-y', '--detach', '--json'], {home, env: withSecret})
    expect(launched.code, launched.stderr).to.equal(0)
    const jobId = parseEnvelope(launched.stdout).result.job.id as string
    const status = () => parseEnvelope(runCli(['status', jobId, '--json'], {home, env: base}).stdout).result.job
    await waitUntil(() => status().state === 'RUNNING', 30_000, 200)

    // kill -9 the detached controller.
    const owner = stateValue(home, 'SELECT lease_owner FROM jobs WHERE id = ?', jobId) as string
    const pid = Number(owner.split(':')[1])
    expect(pid).to.be.greaterThan(1)
    process.kill(pid, 'SIGKILL')
    await new Promise((r) => setTimeout(r, 2500))

    const recovered = runCli(['recover'], {home, env: without})
    expect(recovered.code, recovered.stderr).to.equal(0)
    expect(recovered.stdout).to.include(`✓ job ${jobId}: restarted its controller`)
    expect(recovered.stdout).to.include(
      `job ${jobId}: its controller keeps a running attempt but holds rather than launch, as this shell does not export $SKYHOP_TEST_TOKEN`,
    )
    // The attempt goes on under the new controller.
    await new Promise((r) => setTimeout(r, 1500))
    expect(status().state).to.equal('RUNNING')

    // The attempt ends (a preemption): the controller cannot relaunch, so it holds the job.
    const preempted = runCli(['preempt', jobId], {home, env: without})
    expect(preempted.code, preempted.stderr).to.equal(0)
    await waitUntil(() => status().events.some((e: {kind: string}) => e.kind === 'job-held'), 30_000, 200)
    const held = status()
    expect(held.state).not.to.equal('FAILED')
    expect(held.reason).to.include('$SKYHOP_TEST_TOKEN')
    expect(held.reason).to.include('skyhop recover')
    expect(held.attemptsDetail).to.have.length(1)
    // Its controller has left the job to the next one.
    await waitUntil(() => stateValue(home, 'SELECT lease_owner FROM jobs WHERE id = ?', jobId) === null, 15_000, 200)

    // A recover from a shell with the secret resumes it.
    const resumed = runCli(['recover', '--json'], {home, env: withSecret})
    expect(resumed.code, resumed.stderr).to.equal(0)
    const result = parseEnvelope(resumed.stdout).result
    expect(result.restarted).to.deep.equal([jobId])
    expect(result.secretsMissing).to.deep.equal([])
    await waitUntil(() => status().state === 'SUCCEEDED', 60_000, 300)
    const done = status()
    expect(done.reason).to.equal(null)
    expect(done.events.map((e: {kind: string}) => e.kind)).to.include('job-hold-lifted')
    const logs = runCli(['logs', jobId], {home, env: base}).stdout
    expect(logs).to.include('second attempt done')
    expect(logs).to.include(fingerprint(secret))
    expect(filesHolding(home, secret)).to.deep.equal([])
  })
})

describe('recover without the secret, after a kill between "requested" and "recorded" (the CLI on the fake EC2 and S3)', function () {
  this.timeout(120_000)
  let fake: FakeEc2Server
  let s3: FakeObjectStore

  afterEach(async () => {
    await fake?.stop()
    await s3?.stop()
  })

  it('still adopts by its tag the instance the killed controller launched, which got the secret at boot; nothing holds it on disk', async () => {
    const home = tempHome('skyhop-secret-crash-')
    fake = new FakeEc2Server({
      keys: [KEY],
      capacity: {'us-east-1': {'us-east-1a': {[AWS_TYPE]: 4}}},
      vcpus: {[AWS_TYPE]: 2},
      bootDir: join(home, 'fake-ec2'),
    })
    const url = await fake.start()
    s3 = new FakeObjectStore({dialect: s3Dialect({[KEY.accessKeyId]: KEY.secretAccessKey})})
    await s3.start()
    const config = join(home, 'config.yaml')
    writeFileSync(
      config,
      `providers:\n  slurm: {enabled: false}\n  local: {enabled: false}\ncheckpoint_store: {url: s3://ckpt/runs, region: us-east-1, endpoint: "${s3.endpoint}"}\n`,
    )
    const offers = join(home, 'offers.json')
    writeFileSync(offers, JSON.stringify({offers: fakeOffers().filter((o) => o.zone === 'us-east-1a')}))
    const base = {
      SKYHOP_CONFIG: config,
      SKYHOP_LEASE_TTL_SECONDS: '2',
      SKYHOP_AWS_ENDPOINT: url,
      AWS_ACCESS_KEY_ID: KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PROFILE: undefined,
      HOME: home,
    }
    const secret = newSecret()
    // Never spawnSync here: the fakes answer from this process's event loop.
    const cli = (args: string[], env: Record<string, string | undefined>) => runCliAsync(args, {home, env})
    const file = join(home, 'job.yaml')
    writeFileSync(file, `name: adopted\nspot: on-demand\nsecrets: [SKYHOP_TEST_TOKEN]\nrun: |\n  ${PRINT_FINGERPRINT}\n  sleep 2\n`)
    fake.holdResponses('RunInstances')
    const launched = await cli(['launch', file, '--yes', '--catalog', offers, '--json'], {...base, SKYHOP_TEST_TOKEN: secret})
    expect(launched.code, launched.stderr).to.equal(0)
    const jobId = parseEnvelope(launched.stdout).result.job.id as string
    // The detached controller's RunInstances reached EC2; the answer is held. Kill it now.
    await fake.nextHeld()
    const store = Store.open(home)
    try {
      process.kill(Number(store.getJob(jobId)!.leaseOwner!.split(':')[1]), 'SIGKILL')
      const [attempt] = store.listAttempts(jobId)
      expect(attempt).to.include({state: 'REQUESTED', handle: null})
      await sleep(2500) // the lease expires

      const rec = await cli(['recover', '--json'], {...base, SKYHOP_TEST_TOKEN: undefined})
      expect(rec.code, rec.stderr).to.equal(0)
      expect(parseEnvelope(rec.stdout).result.secretsMissing).to.deep.equal([{jobId, secrets: ['SKYHOP_TEST_TOKEN']}])
      await until(
        async () => store.getJob(jobId)!.state,
        (state) => state === 'SUCCEEDED',
        60_000,
        250,
      )
      const kinds = store.events(jobId).map((e) => e.kind)
      expect(kinds).not.to.include('job-held')
      expect(store.events(jobId).find((e) => e.kind === 'attempt-reconciled')?.data).to.include({foundBy: 'tag'})
      expect(fake.actions().filter((a) => a === 'RunInstances')).to.have.length(1)
      const logs = await cli(['logs', jobId], base)
      expect(logs.stdout.trim()).to.equal(fingerprint(secret))
      // The instance deleted the object at boot; the controller that released it, again.
      const key = `runs/${jobId}/secrets/${attempt.id}`
      await until(
        async () => s3.requests.filter((r) => r.key === key && r.method === 'DELETE').length,
        (n) => n === 2,
        30_000,
        250,
      )
      expect(s3.object('ckpt', key)).to.equal(undefined)
      expect(filesHolding(home, secret)).to.deep.equal([])
    } finally {
      store.close()
    }
  })
})
