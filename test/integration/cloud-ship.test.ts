// What a cloud attempt's runner leaves on its instance reaches skyhop through the job's object
// store (docs/utilisation.md#where-samples-go): the real runner on the fake EC2 and ECS (their
// boot scripts run here as cloud-init would) ships its samples.jsonl and output.log by signed
// PUTs to a fake S3 that checks SigV4; the controller's usage watch reads the samples back,
// so the idle policy stops an idle cloud job; `logs` of an ended job whose instance is gone
// reads the shipped log; and no credential is in what was shipped.
import {expect} from 'chai'

import {join} from 'node:path'

import {CheckpointSigner, attemptHoldsFor} from '../../src/checkpoint/checkpoint-store.js'
import {HttpClient} from '../../src/http/client.js'
import {createDispatcher} from '../../src/http/dispatcher.js'
import {KEY as AWS_KEY, launchRequest, offer} from './aws-helpers.js'
import {AWS_TYPE, cloudJob, cloudWorld, type CloudWorld} from './cloud-world.js'

async function collect(iter: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const line of iter) out.push(line)
  return out
}

/** The shipped objects of an attempt, by name. */
function shipped(w: CloudWorld, jobId: string, attemptId: string): Map<string, Buffer> {
  const prefix = `ckpt/runs/${jobId}/attempts/${attemptId}/`
  const out = new Map<string, Buffer>()
  for (const [id, object] of w.s3!.objects) if (id.startsWith(prefix)) out.set(id.slice(prefix.length), object.body)
  return out
}

describe('a cloud attempt ships its output.log and samples to the job store (fake EC2 and ECS, fake S3)', function () {
  this.timeout(120_000)
  let w: CloudWorld
  afterEach(() => w?.close())

  it('the idle policy stops an idle job on a cloud, from the samples its runner shipped', async () => {
    w = await cloudWorld({checkpointStore: true})
    const spec = cloudJob('idle-cloud', 'echo started; sleep 100; echo never', {
      usage: {sampleIntervalSeconds: 0.5, idle: {belowPct: 50, forSeconds: 3, action: 'stop'}},
    })
    const started = Date.now()
    const {job} = await w.drive(spec)
    expect(Date.now() - started, 'stopped long before its 100 s').to.be.lessThan(60_000)
    const events = w.store.events(job.id)
    expect(job.state, JSON.stringify(events.map((e) => [e.kind, e.data]))).to.equal('CANCELLED')
    expect(events.map((e) => e.kind)).to.include('usage-idle-stop')
    const [a] = w.store.listAttempts(job.id)
    expect(a.provider).to.equal('aws')
    const usage = w.store.usage({jobId: job.id}).get(a.id)
    expect(usage, 'a usage summary from the shipped samples').to.not.equal(undefined)
    expect(usage!.samples).to.be.greaterThan(2)
    // The samples and the log are segment objects of the attempt; its list of signed URLs went
    // with the release (no PUT of it outlives the attempt).
    const objects = shipped(w, job.id, a.id)
    expect([...objects.keys()].sort()).to.deep.equal(['output-0000.log', 'samples-0000.jsonl'])
    // The job's output to its end (bash's note on the sleep it stopped included).
    expect(objects.get('output-0000.log')!.toString()).to.match(/^started\n/)
    for (const line of objects.get('samples-0000.jsonl')!.toString().trim().split('\n')) expect(JSON.parse(line)).to.have.property('cpu')
    // No credential in what the runner shipped: neither the store's key nor a signature.
    for (const name of ['output-0000.log', 'samples-0000.jsonl']) {
      const text = objects.get(name)!.toString()
      expect(text).to.not.include(AWS_KEY.secretAccessKey)
      expect(text).to.not.match(/X-Amz-Signature/i)
    }
  })

  it('every rank of a gang ships its samples: a gang whose head idles while rank 1 works runs on, its summary covers both ranks', async () => {
    w = await cloudWorld({checkpointStore: true})
    // CPU is the basis (no accelerator tool): a sleeping head is at 0%, a busy loop well above
    // 2% of this machine's cores even when other load leaves it a fifth of one.
    const spec = cloudJob(
      'gang-working',
      'if [ "$SKYHOP_NODE_RANK" = 1 ]; then end=$((SECONDS+9)); while ((SECONDS<end)); do :; done; else sleep 9; fi; echo "rank $SKYHOP_NODE_RANK done"',
      {nodes: 2, usage: {sampleIntervalSeconds: 0.5, idle: {belowPct: 2, forSeconds: 3, action: 'stop'}}},
    )
    const {job} = await w.drive(spec)
    const events = w.store.events(job.id)
    expect(job.state, JSON.stringify(events.map((e) => [e.kind, e.data]))).to.equal('SUCCEEDED')
    expect(events.map((e) => e.kind)).to.not.include('usage-idle-stop')
    const [a] = w.store.listAttempts(job.id)
    expect(a.provider).to.equal('aws')
    // The controller looked at the list's first line (a ranged GET) to know when to renew it:
    // not for days (long-lived keys sign for seven), so it was neither renewed nor failed.
    const looked = w.s3!.requests.filter((r) => r.method === 'GET' && r.key === `runs/${job.id}/attempts/${a.id}/ship-urls`)
    expect(looked.map((r) => r.status)).to.include(206)
    const kinds = events.map((e) => e.kind)
    expect(kinds).to.not.include('ship-urls-renewed')
    expect(kinds).to.not.include('ship-urls-renew-failed')
    // Each rank's samples in its own objects: the head's beside the list, rank 1's in node-1/.
    const objects = shipped(w, job.id, a.id)
    expect([...objects.keys()].sort()).to.deep.equal(['node-1/samples-0000.jsonl', 'output-0000.log', 'samples-0000.jsonl'])
    expect(objects.get('output-0000.log')!.toString()).to.equal('rank 0 done\n')
    const usage = w.store.usage({jobId: job.id}).get(a.id)!
    expect(usage.ranks?.map((r) => r.rank)).to.deep.equal([0, 1])
    const [head, worker] = usage.ranks!
    expect(head.samples, 'the head shipped samples').to.be.greaterThan(2)
    expect(worker.samples, 'rank 1 shipped samples').to.be.greaterThan(2)
    expect(usage.samples).to.equal(head.samples + worker.samples)
    // The working rank is the busy one; the gang's mean lies between the two.
    expect(worker.cpuBusy).to.be.greaterThan(head.cpuBusy + 0.02)
    expect(usage.cpuBusy).to.be.greaterThan(head.cpuBusy)
    // No credential in what the ranks shipped.
    for (const name of ['samples-0000.jsonl', 'node-1/samples-0000.jsonl'])
      expect(objects.get(name)!.toString()).to.not.match(/X-Amz-Signature/i)
  })

  it('logs of an ended job whose instance is gone come from the store (Alibaba: InvalidInstanceId.NotFound before)', async () => {
    w = await cloudWorld({checkpointStore: true})
    // Alibaba only: its released instance is unknown to the API, as on the real cloud.
    const lines = Array.from({length: 40}, (_, i) => `line ${i + 1}`)
    const spec = cloudJob('gone', `for i in $(seq 1 40); do echo "line $i"; done`, {
      placement: {...cloudJob('x', 'true').placement, providers: {allow: ['aliyun'], deny: []}},
    })
    const {job} = await w.drive(spec)
    expect(job.state, JSON.stringify(w.store.events(job.id).map((e) => [e.kind, e.data]))).to.equal('SUCCEEDED')
    const [a] = w.store.listAttempts(job.id)
    expect(a.provider).to.equal('aliyun')
    expect(a.state).to.equal('SUCCEEDED')
    // Released: the console is gone with it.
    await w.aliyun.cleanup(a.handle!)
    await waitReleased(w, a.handle!.externalId)
    const got = await collect(w.aliyun.logs(a.handle!, {follow: false}))
    expect(got).to.deep.equal(lines)
    // And following an ended attempt's log ends with the same lines.
    expect(await collect(w.aliyun.logs(a.handle!, {follow: true}))).to.deep.equal(lines)
  })

  it('an attempt found again by its tags (its launch answer lost) is read from the store too', async () => {
    w = await cloudWorld({checkpointStore: true})
    const spec = cloudJob('adopted', 'echo "from the adopted one"; sleep 3', {usage: {sampleIntervalSeconds: 0.5, idle: null}})
    const job = w.create(spec)
    // A controller killed right after RunInstances: the intent in the store, a tagged instance
    // whose runner ships to the job's store (its launch signed the list), no handle recorded.
    const intent = w.store.recordAttemptIntent({
      jobId: job.id,
      provider: 'aws',
      region: 'us-east-1',
      zone: 'us-east-1a',
      instanceType: AWS_TYPE,
      accelerator: null,
      acceleratorCount: null,
      spot: false,
      pricePerHour: 0.096,
      currency: 'USD',
      onDemandPricePerHour: 0.096,
    })!
    const holds = attemptHoldsFor(
      {checkpointStore: {url: 's3://ckpt/runs', region: 'us-east-1', endpoint: w.s3!.endpoint, syncIntervalSeconds: 1}},
      new HttpClient({provider: 'aws', dispatcher: createDispatcher(), timeoutMs: 10_000, retry: {retries: 2}}),
      new CheckpointSigner({
        env: {AWS_ACCESS_KEY_ID: AWS_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS_KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'},
        homeDir: '/nonexistent',
      }),
    )
    const ship = await holds.shipObjects!(job, intent.id)
    const launched = await w.aws.launch(
      launchRequest({
        jobId: job.id,
        jobName: job.name,
        attemptId: intent.id,
        idempotencyKey: intent.id,
        spec,
        checkpointDir: join(w.home, 'ckpt'),
        offer: offer({instanceType: AWS_TYPE}),
        ship,
        // As the controller gives every cloud attempt with a store: where its runner can come from.
        gang: await holds.gangObjects!(job, intent.id),
      }),
    )
    const {job: final} = await w.driveExisting(job.id)
    expect(final.state).to.equal('SUCCEEDED')
    const [a] = w.store.listAttempts(job.id)
    expect(a.handle!.externalId).to.equal(launched.externalId)
    expect(w.store.events(job.id).map((e) => e.kind)).to.include('attempt-reconciled')
    expect(a.handle!.data.ship).to.deep.include({segmentBytes: 262144})
    // The controller summarised the samples the adopted runner shipped.
    expect(w.store.usage({jobId: job.id}).get(a.id)?.samples ?? 0).to.be.greaterThan(0)
    await w.aws.cleanup(a.handle!)
    expect(await collect(w.aws.logs(a.handle!, {follow: false}))).to.deep.equal(['from the adopted one'])
  })

  it('says when temporary store credentials end the shipping early, and ships until then', async () => {
    const expires = new Date(Date.now() + 2 * 3600_000).toISOString()
    w = await cloudWorld({checkpointStore: true, storeCredentialsExpire: expires})
    const {job} = await w.drive(cloudJob('short-creds', 'echo hi'))
    expect(job.state).to.equal('SUCCEEDED')
    const [said] = w.store.events(job.id).filter((e) => e.kind === 'ship-urls-expire')
    expect(said?.data.message).to.match(
      /valid for \d\.\d h: they are signed again while a controller drives the job .*after .* this attempt's output and samples stay on the instance/,
    )
    const [a] = w.store.listAttempts(job.id)
    expect(shipped(w, job.id, a.id).get('output-0000.log')?.toString()).to.equal('hi\n')
    // Long-lived keys sign for 7 days: no such event.
    const other = await cloudWorld({checkpointStore: true})
    try {
      const {job: j2} = await other.drive(cloudJob('long-creds', 'echo hi'))
      expect(other.store.events(j2.id).map((e) => e.kind)).to.not.include('ship-urls-expire')
    } finally {
      await other.close()
    }
  })

  it('without a store, says so in an event, and logs of a gone instance says why there is nothing', async () => {
    w = await cloudWorld()
    const spec = cloudJob('no-store', 'echo hello', {
      placement: {...cloudJob('x', 'true').placement, providers: {allow: ['aliyun'], deny: []}},
    })
    const {job} = await w.drive(spec)
    expect(job.state).to.equal('SUCCEEDED')
    const said = w.store.events(job.id).filter((e) => e.kind === 'logs-not-shipped')
    expect(said).to.have.length(1)
    expect(said[0].data.message).to.match(/stay on the instance.*no checkpoint\.store/)
    const [a] = w.store.listAttempts(job.id)
    await w.aliyun.cleanup(a.handle!)
    await waitReleased(w, a.handle!.externalId)
    const error = await collect(w.aliyun.logs(a.handle!, {follow: false})).then(
      () => null,
      (e: unknown) => e as Error & {hint?: string},
    )
    expect(error?.message).to.match(/InvalidInstanceId\.NotFound|does not exist/)
    expect(error?.hint).to.match(/no object store to ship its output\.log to \(set checkpoint\.store/)
  })
})

async function waitReleased(w: CloudWorld, id: string): Promise<void> {
  for (let i = 0; i < 100 && w.ecs.live().some((x) => x.id === id); i++) await new Promise((r) => setTimeout(r, 100))
}
