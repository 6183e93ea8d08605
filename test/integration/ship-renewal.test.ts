// A cloud attempt's ship list is signed again while it runs (docs/job-contract.md#the-attempts-output-and-samples):
// its signed PUT URLs die with the credentials that signed them (an hour or so when they are
// temporary), so a job that outlives them would lose its samples and log. The controller's
// clock and the fake S3's are controlled (S3 refuses an expired presigned URL, as the real one
// does: test/fakes/fake-s3-dialect.ts); the runner is the real one, on the real clock, and the
// lists are signed an hour in the past so that its clock is where the renewal is due.
import {expect} from 'chai'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {CheckpointSigner, attemptHoldsFor, parseShipListHead} from '../../src/checkpoint/checkpoint-store.js'
import {HttpClient} from '../../src/http/client.js'
import {createDispatcher} from '../../src/http/dispatcher.js'
import {readEvents, readExitCode} from '../../src/providers/attempt-dir.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {s3Dialect} from '../fakes/fake-s3-dialect.js'
import {testJobSpec} from '../helpers/job-spec.js'
import {killChildren, makeAttempt, removeDirs, startRunner, tempDir, waitFor} from '../helpers/runner-attempt.js'

const KEY = {accessKeyId: 'AKIAFAKEEXAMPLE00001', secretAccessKey: 'fake/Secret+Key/ForTests0000000000000001'}
const MIN = 60_000
const job = {id: 'j-renew', spec: testJobSpec({name: 'j', run: 'true'})}
const STORE = {url: 's3://ckpt/runs', region: 'us-east-1', endpoint: '', syncIntervalSeconds: null}

describe('a running attempt’s ship list is signed again before its URLs expire (controlled clock, fake S3)', function () {
  this.timeout(60_000)
  let s3: FakeObjectStore
  /** The store's clock and the controller's, moved by the test. */
  let s3Now: Date
  let ctlNow: Date
  /** The temporary credentials' environment: a refresh is a new expiry in it. */
  let env: Record<string, string>
  let holds: ReturnType<typeof attemptHoldsFor>
  /** When the first list is signed: 55 minutes ago on the real clock, the runner's. */
  let S: number

  beforeEach(async () => {
    S = Math.floor((Date.now() - 55 * MIN) / 1000) * 1000
    s3Now = new Date(S)
    ctlNow = new Date(S)
    s3 = new FakeObjectStore({dialect: s3Dialect({[KEY.accessKeyId]: KEY.secretAccessKey}), now: () => s3Now})
    await s3.start()
    env = {
      AWS_ACCESS_KEY_ID: KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
      // Temporary: the URLs they sign live an hour (their 61 minutes less the signer's minute).
      AWS_CREDENTIAL_EXPIRATION: new Date(S + 61 * MIN).toISOString(),
    }
    const signer = new CheckpointSigner({env, homeDir: '/nonexistent'})
    const client = new HttpClient({provider: 'aws', dispatcher: createDispatcher(), timeoutMs: 10_000, retry: {retries: 0}})
    holds = attemptHoldsFor({checkpointStore: {...STORE, endpoint: s3.endpoint}}, client, signer, () => ctlNow)
  })
  afterEach(async () => {
    killChildren()
    await s3.stop()
  })
  after(removeDirs)

  const store = () => ({url: STORE.url, region: STORE.region, endpoint: s3.endpoint})
  const samplesKey = 'runs/j-renew/attempts/a-1/samples-0000.jsonl'
  const logKey = 'runs/j-renew/attempts/a-1/output-0000.log'

  /** A runner whose job ticks until `go` exists, shipping every second with the list signed at S. */
  async function start(): Promise<{dir: string; go: string; done: Promise<number | null>; firstPut: string}> {
    const ship = (await holds.shipObjects!(job, 'a-1'))!
    expect(Date.parse(ship.expiresAt)).to.equal(S + 60 * MIN)
    const list = s3.object('ckpt', 'runs/j-renew/attempts/a-1/ship-urls')!.body.toString()
    expect(parseShipListHead(list)).to.deep.equal({issued: S / 1000, expires: (S + 60 * MIN) / 1000})
    const firstPut = /^s 0 (\S+)$/m.exec(list)![1]
    const go = join(tempDir(), 'go')
    const a = makeAttempt({
      run: `while [ ! -e '${go}' ]; do echo tick; sleep 0.2; done; echo last`,
      config: {shipUrl: ship.manifestUrl, shipSeconds: 1, sampleIntervalSeconds: 0.3},
    })
    s3Now = new Date(S + MIN)
    const r = startRunner(a.dir)
    // Shipping with the first list.
    await waitFor('the first samples in the store', () => s3.object('ckpt', samplesKey))
    return {dir: a.dir, go, done: r.done, firstPut}
  }

  it('the controller renews at two thirds of the life, the runner takes the new list, and ships past the first URLs’ end', async () => {
    const a = await start()
    // Not yet due: a third of the life is left; the answer says when to look again.
    ctlNow = new Date(S + 30 * MIN)
    s3Now = ctlNow
    const early = (await holds.renewShip!(job, 'a-1', store()))!
    expect(early).to.deep.equal({
      renewed: false,
      expiresAt: new Date(S + 60 * MIN).toISOString(),
      nextAt: new Date(S + 40 * MIN).toISOString(),
    })
    // Due, and the credentials were refreshed meanwhile (a new expiry): the list is signed again.
    ctlNow = new Date(S + 45 * MIN)
    s3Now = ctlNow
    env.AWS_CREDENTIAL_EXPIRATION = new Date(S + 121 * MIN).toISOString()
    const renewed = (await holds.renewShip!(job, 'a-1', store()))!
    expect(renewed.renewed).to.equal(true)
    expect(renewed.expiresAt).to.equal(new Date(S + 120 * MIN).toISOString())
    // The runner (its clock past five sixths of the first life) reads the first line, then the list.
    const taken = await waitFor('the runner to take the new list', () => readEvents(a.dir).find((e) => e.event === 'ship-urls-renewed'))
    expect(taken.expiresAt).to.equal(new Date(S + 120 * MIN).toISOString().replace(/\.000Z$/, 'Z'))
    // Past the first list's end: its URLs are refused now.
    s3Now = new Date(S + 65 * MIN)
    const refused = await fetch(a.firstPut, {method: 'PUT', body: 'x', headers: {'content-type': 'application/octet-stream'}})
    expect(refused.status).to.equal(403)
    expect(await refused.text()).to.include('Request has expired')
    // The job goes on a few seconds more, its samples and log shipped with the new URLs.
    await new Promise((resolve) => setTimeout(resolve, 2500))
    writeFileSync(a.go, '')
    expect(await a.done).to.equal(0)
    expect(readExitCode(a.dir)).to.equal(0)
    const events = readEvents(a.dir)
    expect(events.filter((e) => e.event === 'warning').map((e) => e.message)).to.deep.equal([])
    expect(events.find((e) => e.event === 'ship')).to.deep.include({ok: true})
    expect(s3.object('ckpt', samplesKey)!.body.toString()).to.equal(readFileSync(join(a.dir, 'samples.jsonl'), 'utf8'))
    expect(s3.object('ckpt', logKey)!.body.toString()).to.equal(readFileSync(join(a.dir, 'output.log'), 'utf8'))
    expect(s3.object('ckpt', logKey)!.body.toString()).to.match(/tick\nlast\n$/)
    // No URL in what the runner kept beside its files but the list itself (mode 600).
    for (const name of ['events.jsonl', 'output.log', 'samples.jsonl', 'runner.log']) {
      const path = join(a.dir, name)
      if (existsSync(path)) expect(readFileSync(path, 'utf8'), name).to.not.match(/X-Amz-Signature/i)
    }
  })

  it('without a list signed again, the store refuses the first URLs once they expire and the rest stays on the machine', async () => {
    const a = await start()
    s3Now = new Date(S + 65 * MIN)
    await new Promise((resolve) => setTimeout(resolve, 2500))
    writeFileSync(a.go, '')
    expect(await a.done).to.equal(0)
    const events = readEvents(a.dir)
    expect(events.map((e) => e.event)).to.not.include('ship-urls-renewed')
    expect(events.some((e) => e.event === 'warning' && /refused to take output\.log \(HTTP 403/.test(String(e.message)))).to.equal(true)
    expect(events.find((e) => e.event === 'ship')).to.deep.include({ok: false})
    expect(s3.object('ckpt', logKey)!.body.toString()).to.not.match(/last\n$/)
  })

  it('credentials that sign no further than the list’s end do not rewrite it; looked at again in a minute', async () => {
    await holds.shipObjects!(job, 'a-1')
    const before = s3.object('ckpt', 'runs/j-renew/attempts/a-1/ship-urls')!.body.toString()
    ctlNow = new Date(S + 45 * MIN)
    s3Now = ctlNow
    const got = (await holds.renewShip!(job, 'a-1', store()))!
    expect(got).to.deep.equal({
      renewed: false,
      expiresAt: new Date(S + 60 * MIN).toISOString(),
      nextAt: new Date(S + 46 * MIN).toISOString(),
    })
    expect(s3.object('ckpt', 'runs/j-renew/attempts/a-1/ship-urls')!.body.toString()).to.equal(before)
    // No list at all (an attempt of another skyhop, or one already cleaned up): nothing to renew.
    expect(await holds.renewShip!(job, 'a-none', store())).to.equal(null)
  })
})
