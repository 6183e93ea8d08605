// The service controller's placement on the fake EC2 of the controller's test world (the
// real AwsProvider, replanner and store; the fake speaks EC2's wire format and answers a spot
// request in a zone without spot capacity with InsufficientInstanceCapacity, as EC2 does):
// the on-demand floor, spot replicas spread over zones, and on-demand when no zone has spot.
// The replicas' readiness is not what is tested here (their addresses are the fake's). With a
// fake S3 store: each replica's instance gets the service's files: copies through a signed list
// of its own, its runner fetched from the store when the boot script outgrows EC2's user data.
import {expect} from 'chai'
import {existsSync, mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'

import {CheckpointSigner} from '../../src/checkpoint/checkpoint-store.js'
import {findFileObjects} from '../../src/checkpoint/transfers.js'
import {uploadWorkdir} from '../../src/checkpoint/workdir-upload.js'
import {driveService, type ServiceControllerDeps} from '../../src/controller/service-controller.js'
import {HttpClient} from '../../src/http/client.js'
import {createDispatcher} from '../../src/http/dispatcher.js'
import type {FileEntry} from '../../src/model/job-spec.js'
import type {JobSpec, ServiceSpec} from '../../src/model/job-spec.js'
import {findOrphans} from '../../src/services/orphans.js'
import {createReplanner} from '../../src/services/planning.js'
import {ServiceStore} from '../../src/state/services.js'
import {testConfig} from '../helpers/controller-world.js'
import {until} from '../helpers/wait.js'
import {KEY as AWS_KEY} from './aws-helpers.js'
import {cloudJob, cloudWorld, type CloudWorld} from './cloud-world.js'

const ZONES = ['us-east-1a', 'us-east-1b', 'us-west-2a']
const AWS_ONLY: JobSpec['placement'] = {providers: {allow: ['aws'], deny: []}, regions: {allow: null, deny: []}}

function service(overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    port: 8080,
    readiness: {path: '/health', initialDelaySeconds: 600, timeoutSeconds: 1},
    replicas: {min: 3, max: 5, targetQpsPerReplica: 1000},
    upscaleDelaySeconds: 30,
    downscaleDelaySeconds: 600,
    spot: {baseOnDemand: 1, spread: 'zones'},
    slo: null,
    apiKeyEnv: null,
    host: '127.0.0.1',
    lbPort: 0,
    ...overrides,
  }
}

describe('service controller on the fake clouds: on-demand floor, spot spread over zones, fallback', function () {
  this.timeout(90_000)
  let w: CloudWorld
  let abort: AbortController
  let driving: Promise<unknown>

  afterEach(async () => {
    abort?.abort()
    await driving?.catch(() => undefined)
    const services = new ServiceStore(w.store)
    for (const s of services.listServices())
      for (const r of services.unreleasedReplicas(s.id)) if (r.handle) await w.aws.cleanup(r.handle).catch(() => undefined)
    await w?.close()
  })

  /** Creates the service of `spec` in the world's store and drives it (until the test's end); `extra` adds to the controller's deps. */
  async function startService(spec: JobSpec, extra: Partial<ServiceControllerDeps> = {}) {
    const services = new ServiceStore(w.store)
    const svc = services.createService({name: spec.name, file: null, spec})
    const replan = await createReplanner({
      home: w.home,
      config: testConfig(),
      providers: w.providers,
      catalogFile: w.catalogFile,
      store: w.store,
    })
    abort = new AbortController()
    driving = driveService(svc.id, {services, providers: w.providers, replan, home: w.home, owner: 'test', signal: abort.signal, ...extra})
    return {services, svc}
  }

  /** Waits until each of the replicas `ns` wrote its `seen-N` file into `out` (not only created it, as a redirection does first). */
  async function untilSeen(out: string, ns: number[]): Promise<void> {
    const written = (file: string) => existsSync(file) && statSync(file).size > 0
    await until(
      async () => ns.filter((n) => written(join(out, `seen-${n}`))).length,
      (count) => count === ns.length,
      60_000,
    )
  }

  it('keeps base_on_demand on on-demand, spreads the spot replicas over distinct zones, and goes on-demand when no zone has spot', async () => {
    w = await cloudWorld()
    const spec = cloudJob('svc', 'sleep 120', {spot: 'auto', placement: AWS_ONLY, service: service()})
    const {services, svc} = await startService(spec, {respotIntervalMs: 300})
    const launched = () => services.replicas(svc.id).filter((r) => r.handle !== null)
    await until(
      async () => launched(),
      (rs) => rs.length === 3,
      30_000,
    )
    const replicas = launched()
    expect(replicas.filter((r) => !r.spot)).to.have.length(1)
    const spot = replicas.filter((r) => r.spot)
    expect(spot).to.have.length(2)
    // Two spot replicas, two zones: one zone's interruption does not take both.
    expect(new Set(spot.map((r) => r.zone)).size).to.equal(2)
    for (const r of spot) expect(ZONES).to.include(r.zone)
    // Tagged with their replica ids, which no attempt carries: still owned, not orphans for `down --orphans`.
    const scan = await findOrphans({store: w.store, providers: w.providers})
    expect(scan.orphans.map((o) => o.attemptId)).to.not.include.members(replicas.map((r) => r.id))
    expect(scan.orphans).to.deep.equal([])

    // No spot anywhere: the next replica still launches, on on-demand.
    for (const z of ZONES) w.ec2.setSpotAvailable(z, false)
    services.setTarget(svc.id, 4)
    await until(
      async () => launched(),
      (rs) => rs.length === 4,
      30_000,
    )
    const fourth = launched().find((r) => r.n === Math.max(...launched().map((x) => x.n)))!
    expect(fourth.spot).to.equal(false)
    const kinds = w.store.events(svc.id).map((e) => e.kind)
    expect(kinds).to.include('spot-fallback')
    // The spot zones were tried and failed before the fallback, and are recorded as such.
    const failed = services.replicas(svc.id).filter((r) => r.state === 'FAILED' && r.spot)
    expect(failed.length).to.be.at.least(1)

    // Spot is back: a spot replica is launched to take the fallback's place. It is not counted
    // against the target until ready (here it never is: the fake's addresses are not this
    // machine's), so nothing is drained meanwhile and nothing more is launched.
    for (const z of ZONES) w.ec2.setSpotAvailable(z, true)
    await until(
      async () => w.store.events(svc.id).map((e) => e.kind),
      (k) => k.includes('respot'),
      30_000,
    )
    await until(
      async () => launched(),
      (rs) => rs.length === 5,
      30_000,
    )
    const surge = launched().find((r) => r.n === Math.max(...launched().map((x) => x.n)))!
    expect(surge.spot).to.equal(true)
    await new Promise((r) => setTimeout(r, 1000))
    expect(launched()).to.have.length(5)
    expect(services.getReplica(fourth.id)!.state).to.not.equal('DRAINING')
    expect(services.replicas(svc.id).filter((r) => r.state === 'DRAINING')).to.deep.equal([])
  })
  it("each replica on an instance gets the service's files: copies before setup, through a list of its own in the store", async () => {
    w = await cloudWorld({checkpointStore: true})
    const out = mkdtempSync(join(tmpdir(), 'skyhop-svc-files-'))
    w.s3!.objects.set('datasets/nlp/vocab.txt', {body: Buffer.from('hello\nworld\n'), contentType: null, storedAt: new Date()})
    const files: FileEntry[] = [
      {
        path: join(out, 'vocab.txt'),
        mode: 'copy',
        source: {kind: 'bucket', scheme: 's3', bucket: 'datasets', key: 'nlp/vocab.txt', region: null, endpoint: null},
      },
    ]
    const signer = new CheckpointSigner({
      env: {AWS_ACCESS_KEY_ID: AWS_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS_KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'},
      homeDir: '/nonexistent',
    })
    const client = new HttpClient({
      provider: 'aws',
      dispatcher: createDispatcher(),
      timeoutMs: 10_000,
      retry: {retries: 1, baseDelayMs: 10},
    })
    const store = {url: 's3://ckpt/runs', region: 'us-east-1', endpoint: w.s3!.endpoint, syncIntervalSeconds: null}
    // What serve up finds of the object (services/serve.ts preflight), kept in the service's spec.
    const fileObjects = await findFileObjects({files}, store, signer, client, new Date())
    const spec = cloudJob('svc-files', `cp ${out}/vocab.txt ${out}/seen-$SKYHOP_REPLICA; sleep 120`, {
      placement: AWS_ONLY,
      setup: `test -f ${out}/vocab.txt`,
      files,
      fileObjects,
      service: service({replicas: {min: 2, max: 2, targetQpsPerReplica: null}, spot: {baseOnDemand: 0, spread: 'zones'}}),
    })
    const {services, svc} = await startService(spec, {attemptHolds: w.attemptHolds})
    // Each replica's job read the object where files: put it, placed before its setup ran.
    await untilSeen(out, [1, 2])
    for (const n of [1, 2]) expect(readFileSync(join(out, `seen-${n}`), 'utf8')).to.equal('hello\nworld\n')
    // Each running replica fetched a list of its own (by its replica id) and the object, by
    // signed GETs. On a loaded machine a launch may fail and be replaced: that replica never
    // fetched one, and its list went with its rollback.
    const replicaIds = services
      .replicas(svc.id)
      .map((r) => r.id)
      .sort()
    const liveIds = services
      .unreleasedReplicas(svc.id)
      .map((r) => r.id)
      .sort()
    expect(liveIds).to.have.length(2)
    const lists = w
      .s3!.requests.filter((r) => r.method === 'GET' && r.bucket === 'ckpt' && r.key.endsWith('/transfers') && r.status === 200)
      .map((r) => r.key.split('/').slice(-2)[0])
      .sort()
    expect(lists).to.include.members(liveIds)
    expect(replicaIds).to.include.members(lists)
    const gets = w.s3!.requests.filter((r) => r.method === 'GET' && r.bucket === 'datasets' && r.status === 200)
    expect(gets.length).to.be.at.least(2)
    // The list's URL pushed the boot script past EC2's 16 KB: each instance fetched its runner
    // from the store, and `serve down` (the controller's release) deletes it with the replica.
    const runners = () => [...w.s3!.objects.keys()].filter((k) => k.endsWith('/skyhop-runner.sh'))
    expect(runners()).to.have.length(2)
    // Each replica's list stays while its instance may still need it, and goes with the replica.
    const stored = () => [...w.s3!.objects.keys()].filter((k) => k.endsWith('/transfers')).map((k) => k.split('/').slice(-2)[0])
    expect(stored().sort()).to.deep.equal(liveIds)
    services.setServiceState(svc.id, 'STOPPING')
    await until(
      async () => services.unreleasedReplicas(svc.id).length,
      (n) => n === 0,
      60_000,
    )
    expect(runners()).to.deep.equal([])
    expect(stored()).to.deep.equal([])
    expect(w.store.events(svc.id).map((e) => e.kind)).to.not.include('transfers-delete-failed')
  })
  it("each replica on an instance runs in the service's workdir, uploaded once and fetched by a GET signed for it", async () => {
    w = await cloudWorld({checkpointStore: true})
    const out = mkdtempSync(join(tmpdir(), 'skyhop-svc-workdir-'))
    const dir = mkdtempSync(join(tmpdir(), 'skyhop-svc-app-'))
    writeFileSync(join(dir, 'app.txt'), 'app v1\n')
    const store = {url: 's3://ckpt/runs', region: 'us-east-1', endpoint: w.s3!.endpoint, syncIntervalSeconds: null}
    // What serve up does with the workdir (services/serve.ts preflight → withWorkdirArchive).
    const {archive} = await uploadWorkdir({
      dir,
      store,
      signer: new CheckpointSigner({
        env: {AWS_ACCESS_KEY_ID: AWS_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS_KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'},
        homeDir: '/nonexistent',
      }),
      client: new HttpClient({provider: 'aws', dispatcher: createDispatcher(), timeoutMs: 10_000, retry: {retries: 1, baseDelayMs: 10}}),
      now: new Date(),
      warnBytes: 100e6,
      warn: () => undefined,
    })
    const spec = cloudJob('svc-workdir', `cp app.txt ${out}/seen-$SKYHOP_REPLICA; sleep 120`, {
      placement: AWS_ONLY,
      workdir: dir,
      workdirArchive: archive,
      service: service({replicas: {min: 2, max: 2, targetQpsPerReplica: null}, spot: {baseOnDemand: 0, spread: 'zones'}}),
    })
    await startService(spec, {attemptHolds: w.attemptHolds})
    await untilSeen(out, [1, 2])
    for (const n of [1, 2]) expect(readFileSync(join(out, `seen-${n}`), 'utf8')).to.equal('app v1\n')
    // One archive in the store; each instance fetched it.
    const gets = w.s3!.requests.filter((r) => r.method === 'GET' && r.key === `runs/workdirs/${archive.sha256}.tar` && r.status === 200)
    expect(gets).to.have.length(2)
  })

  it("a replica's secrets reach its instance through a one-time object of the store, never its user data", async () => {
    w = await cloudWorld({checkpointStore: true})
    const out = mkdtempSync(join(tmpdir(), 'skyhop-svc-secrets-'))
    const value = 'hf_replica_secret_0042'
    const spec = cloudJob('svc-secrets', `printf %s "$HF_TOKEN" > ${out}/seen-$SKYHOP_REPLICA; sleep 120`, {
      placement: AWS_ONLY,
      secrets: ['HF_TOKEN'],
      service: service({replicas: {min: 1, max: 1, targetQpsPerReplica: null}, spot: {baseOnDemand: 0, spread: 'zones'}}),
    })
    await startService(spec, {env: {HF_TOKEN: value}, attemptHolds: w.attemptHolds})
    await untilSeen(out, [1])
    expect(readFileSync(join(out, 'seen-1'), 'utf8')).to.equal(value)
    for (const i of w.ec2.instances.values()) {
      const raw = Buffer.from(i.userData ?? '', 'base64')
      let text = raw.toString('latin1')
      try {
        text = gunzipSync(raw).toString('latin1')
      } catch {
        // not gzipped: the text itself
      }
      expect(text).to.not.include(value)
      expect(text).to.not.include(Buffer.from(value).toString('base64'))
    }
    // The instance deleted the object once it had read it.
    expect([...w.s3!.objects.keys()].filter((k) => k.includes('/secrets/'))).to.deep.equal([])
    expect(w.s3!.requests.filter((r) => r.method === 'PUT' && r.key.includes('/secrets/')).length).to.equal(1)
  })
})
