// A service on the real Slurm cluster (scripts/slurm-up.sh), through the built CLI: each
// replica is one Slurm job whose runner places the service's files: (a local file copied on
// the shared filesystem, a fake S3 object that checks SigV4 downloaded by a URL signed for
// that replica) before setup, runs in the staged workdir, and is routed to at its node's
// NodeAddr and the service's port, which the Slurm provider reports once the job runs.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

import {readEvents} from '../../src/providers/attempt-dir.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {s3Dialect} from '../fakes/fake-s3-dialect.js'
import {parseEnvelope, runCliAsync} from '../helpers/cli.js'
import {removeTempDirs, requireSlurm, tempDir} from '../helpers/slurm.js'
import {until} from '../helpers/wait.js'
import {KEY} from './aws-helpers.js'

const AWS = {
  AWS_ACCESS_KEY_ID: KEY.accessKeyId,
  AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_EC2_METADATA_DISABLED: 'true',
}

interface Replica {
  id: string
  state: string
  address: string | null
}

describe('a service on Slurm: each replica gets its files and workdir (real Slurm, fake S3, CLI)', function () {
  this.timeout(240_000)
  let s3: FakeObjectStore

  before(async function () {
    await requireSlurm(this)
    s3 = new FakeObjectStore({dialect: s3Dialect({[KEY.accessKeyId]: KEY.secretAccessKey})})
    await s3.start()
  })
  after(async () => {
    await s3?.stop()
    removeTempDirs()
  })

  it('each replica, a Slurm job on a node of its own, places its files before setup and serves them from its node', async () => {
    const home = tempDir('skyhop-serve-slurm-')
    const m = join(home, 'machine')
    const src = join(home, 'src')
    mkdirSync(join(src, 'code'), {recursive: true})
    writeFileSync(join(src, 'vocab.txt'), 'a\nb\nc\n')
    writeFileSync(join(src, 'code', 'model.txt'), 'model v1\n')
    s3.objects.set('datasets/nlp/weights.bin', {body: Buffer.from('W'.repeat(1000)), contentType: null, storedAt: new Date()})
    // The replica's server: /health, /f/NAME from the files: path, /w/NAME from its working
    // directory. The test cluster's four nodes are one machine at 127.0.0.1-4, so each server
    // listens on its own node's address (as sinfo says it), where the controller routes to it.
    const server = join(src, 'code', 'serve.mjs')
    writeFileSync(
      server,
      [
        "import {createServer} from 'node:http'",
        "import {readFileSync} from 'node:fs'",
        "import {execFileSync} from 'node:child_process'",
        "const args = ['--noheader', '--all', '--Node', '--nodes=' + process.env.SLURMD_NODENAME, '--format=%o']",
        "const addr = execFileSync('sinfo', args, {encoding: 'utf8'}).trim().split('\\n')[0]",
        'createServer((req, res) => {',
        "  if (req.url === '/health') return res.end('ok')",
        "  if (req.url === '/node') return res.end(process.env.SLURMD_NODENAME + ' ' + process.cwd())",
        '  try {',
        "    res.end(readFileSync(req.url.startsWith('/w/') ? req.url.slice(3) : process.argv[2] + '/' + req.url.slice(3)))",
        '  } catch {',
        '    res.statusCode = 404',
        "    res.end('missing')",
        '  }',
        '}).listen(Number(process.env.PORT), addr)',
        '',
      ].join('\n'),
    )
    const config = join(home, 'config.yaml')
    writeFileSync(
      config,
      [
        'providers:',
        '  local: {enabled: false}',
        // gang-high: four nodes of 2 CPUs, on demand (not preemptible).
        '  slurm: {partitions: [gang-high], price_per_hour: {gang-high: 1}}',
        `checkpoint_store: {url: s3://ckpt/runs, region: us-east-1, endpoint: "${s3.endpoint}"}`,
        '',
      ].join('\n'),
    )
    const file = join(src, 'service.yaml')
    writeFileSync(
      file,
      [
        'name: slurm-files',
        'workdir: ./code',
        'files:',
        `  ${m}/vocab.txt: ./vocab.txt`,
        `  ${m}/weights.bin: s3://datasets/nlp/weights.bin`,
        // A node's two CPUs each: the two replicas run on two nodes.
        'resources: {cpus: 2}',
        'placement: {providers: [slurm]}',
        // setup refuses to start a replica whose files are not there yet.
        `setup: test -f ${m}/vocab.txt && test -f ${m}/weights.bin`,
        `run: exec node serve.mjs ${m}`,
        'service:',
        '  port: 18931',
        '  replicas: 2',
        '  readiness: {path: /health, initial_delay: 60s, timeout: 2s}',
        '',
      ].join('\n'),
    )
    const env = {...AWS, SKYHOP_CONFIG: config, HOME: home}
    const up = await runCliAsync(['serve', 'up', file, '--no-wait', '--json'], {home, env})
    expect(up.code, up.stderr + up.stdout).to.equal(0)
    const svc = parseEnvelope(up.stdout).result
    try {
      const status = async (): Promise<{endpoint: string; replicas: Replica[]}> => {
        const st = await runCliAsync(['serve', 'status', svc.id, '--json'], {home, env})
        return parseEnvelope(st.stdout).result.services[0]
      }
      const st = await until(status, (s) => s.replicas.filter((r) => r.state === 'READY').length === 2, 180_000, 1000)
      // Each replica is reached at its own node's address and the service's port.
      const addresses = st.replicas.map((r) => r.address)
      expect(new Set(addresses).size, addresses.join(' ')).to.equal(2)
      for (const a of addresses) expect(a).to.match(/^http:\/\/127\.0\.0\.[1-4]:18931$/)
      const nodes = new Set<string>()
      for (const r of st.replicas) {
        const [node, cwd] = (await (await fetch(`${r.address}/node`)).text()).split(' ')
        nodes.add(node)
        // The workdir, staged for the attempt: the replica runs there.
        expect(basename(cwd)).to.equal('workdir')
        expect(await (await fetch(`${r.address}/w/model.txt`)).text()).to.equal('model v1\n')
        expect(await (await fetch(`${r.address}/f/vocab.txt`)).text()).to.equal('a\nb\nc\n')
        expect((await (await fetch(`${r.address}/f/weights.bin`)).arrayBuffer()).byteLength).to.equal(1000)
      }
      expect(nodes.size).to.equal(2)
      // Through the service's balancer too.
      expect(await (await fetch(`${st.endpoint}/f/vocab.txt`)).text()).to.equal('a\nb\nc\n')
      // serve up HEADed the object once; each replica GOT it by its own signed URL.
      const object = s3.requests.filter((q) => q.bucket === 'datasets')
      expect(object.filter((q) => q.method === 'HEAD').map((q) => q.status)).to.deep.equal([200])
      expect(object.filter((q) => q.method === 'GET' && q.status === 200).length).to.be.at.least(2)
      // Each replica's own list in its attempt directory on the shared filesystem, 0600, and
      // both copies placed before its setup.
      const ids = st.replicas.map((r) => r.id)
      const lists = execFileSync('find', [home, '-name', 'transfers', '-path', '*attempts*'], {encoding: 'utf8'})
        .trim()
        .split('\n')
        .filter((l) => ids.includes(basename(dirname(l))))
      expect(lists.map((l) => basename(dirname(l))).sort()).to.deep.equal([...ids].sort())
      for (const l of lists) {
        expect(statSync(l).mode & 0o777).to.equal(0o600)
        expect(readFileSync(l, 'utf8')).to.match(/^get\t.*weights\.bin\t1000\t/m)
        const events = readEvents(dirname(l)).map((e) => e.event)
        expect(
          events.filter((e) => e === 'file-fetch'),
          events.join(' '),
        ).to.have.length(2)
        expect(events.indexOf('file-fetch')).to.be.below(events.indexOf('setup-start'))
      }
    } finally {
      const down = await runCliAsync(['serve', 'down', svc.id, '--json'], {home, env})
      expect(down.code, down.stderr + down.stdout).to.equal(0)
    }
    // Nothing of the service is left on the cluster once its jobs finished completing.
    const ours = async () =>
      execFileSync('squeue', ['--noheader', '--format=%j'], {encoding: 'utf8'})
        .split('\n')
        .filter((j) => j.includes('slurm-files'))
    expect(await until(ours, (jobs) => jobs.length === 0, 30_000, 500)).to.deep.equal([])
  })
})
