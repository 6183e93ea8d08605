// A service on Kubernetes, through the built CLI: fake API server (whose kubelet runs the pod's
// command on this machine and, once it runs, gives it status.podIP as the real one does) + a
// fake S3 checking SigV4 as the service's store. `serve up` packs and uploads the service's
// workdir before recording it; the replica's pod fetches that archive by a GET signed for it,
// runs its server there, and gets its address from the pod's IP once it runs (the handle a
// single pod's launch returns has none): the balancer then serves a file of the workdir.
// Run `npm run build` first.
import {expect} from 'chai'
import {mkdirSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'

import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {s3Dialect} from '../fakes/fake-s3-dialect.js'
import {parseEnvelope, runCliAsync, tempHome, type CliResult} from '../helpers/cli.js'
import {KEY} from './aws-helpers.js'
import {CPU_NODE, kubeWorld, type KubeWorld} from './kubernetes-helpers.js'

const AWS = {
  AWS_ACCESS_KEY_ID: KEY.accessKeyId,
  AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_EC2_METADATA_DISABLED: 'true',
}

/** A port free on this machine: every fake pod's IP is its loopback, so the replica listens here. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('serve on Kubernetes, through the CLI (fake API server + fake S3)', function () {
  this.timeout(180_000)
  let w: KubeWorld
  let s3: FakeObjectStore
  let home: string

  beforeEach(async () => {
    w = await kubeWorld({lab: {nodes: [CPU_NODE]}})
    s3 = new FakeObjectStore({dialect: s3Dialect({[KEY.accessKeyId]: KEY.secretAccessKey})})
    await s3.start()
    home = tempHome('skyhop-k8s-serve-')
  })
  afterEach(async () => {
    await w?.close()
    await s3?.stop()
  })

  it("serve up uploads the workdir once; the replica's pod runs its server from it and is reached at the pod's IP", async () => {
    const config = join(home, 'config.yaml')
    writeFileSync(
      config,
      [
        'providers:',
        '  slurm: {enabled: false}',
        '  local: {enabled: false}',
        '  kubernetes:',
        '    schedule_wait: 1s',
        `checkpoint_store: {url: s3://ckpt/runs, region: us-east-1, endpoint: "${s3.endpoint}"}`,
        '',
      ].join('\n'),
    )
    const env = {...AWS, SKYHOP_CONFIG: config, KUBECONFIG: w.kubeconfig, HOME: home, SKYHOP_LEASE_TTL_SECONDS: '2'}
    const cli = (args: string[]): Promise<CliResult> => runCliAsync(args, {home, env})
    const app = join(home, 'src', 'app')
    mkdirSync(app, {recursive: true})
    writeFileSync(join(app, 'greeting.txt'), 'hello from the workdir\n')
    // Relative paths: the server reads what the pod unpacked in its own working directory.
    writeFileSync(
      join(app, 'server.mjs'),
      [
        "import {createServer} from 'node:http'",
        "import {readFileSync} from 'node:fs'",
        "createServer((req, res) => res.end(req.url === '/health' ? 'ok' : readFileSync('greeting.txt')))",
        "  .listen(Number(process.env.PORT), '127.0.0.1')",
        '',
      ].join('\n'),
    )
    const file = join(home, 'src', 'svc.yaml')
    writeFileSync(
      file,
      [
        'name: kube-svc',
        'workdir: ./app',
        `run: exec ${process.execPath} server.mjs`,
        'service:',
        `  port: ${await freePort()}`,
        '  replicas: 1',
        '  readiness: {path: /health, initial_delay: 60s, timeout: 2s}',
        '',
      ].join('\n'),
    )
    const up = await cli(['serve', 'up', file, '--json'])
    try {
      expect(up.code, up.stderr + up.stdout).to.equal(0)
      const svc = parseEnvelope(up.stdout).result
      const replicas = async (): Promise<Array<{state: string; provider: string; address: string | null}>> =>
        parseEnvelope((await cli(['serve', 'status', svc.id, '--json'])).stdout).result.services[0].replicas
      let seen = await replicas()
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline && !seen.some((r) => r.state === 'READY')) {
        await new Promise((r) => setTimeout(r, 500))
        seen = await replicas()
      }
      expect(
        seen.map((r) => [r.provider, r.state]),
        JSON.stringify(seen),
      ).to.deep.include(['kubernetes', 'READY'])
      expect(seen.find((r) => r.state === 'READY')!.address).to.match(/^http:\/\/127\.0\.0\.1:\d+$/)
      const answer = await fetch(`${svc.endpoint}/`)
      expect(answer.status).to.equal(200)
      expect(await answer.text()).to.equal('hello from the workdir\n')
      // serve up uploaded the archive once (HEAD, PUT); the pod fetched it by a signed GET.
      const workdir = s3.requests
        .filter((q) => q.bucket === 'ckpt' && q.key.startsWith('runs/workdirs/'))
        .map((q) => `${q.method} ${q.status}`)
      expect(workdir).to.deep.equal(['HEAD 404', 'PUT 200', 'GET 200'])
    } finally {
      await cli(['serve', 'down', 'kube-svc', '--json'])
    }
  })
})
