// A cloud attempt's one-time secrets object is signed for what its boot needs, not an hour:
// its GET URL sits in user data that anyone allowed to describe the instance can read. Checked
// against the fake S3 (test/fakes), which refuses an expired presigned URL as S3 does.
import {expect} from 'chai'

import {CheckpointSigner, SECRETS_URL_SECONDS, attemptHoldsFor} from '../../../src/checkpoint/checkpoint-store.js'
import {HttpClient} from '../../../src/http/client.js'
import {createDispatcher} from '../../../src/http/dispatcher.js'
import {GANG_RANK_TIMEOUT_SECONDS, SECRETS_BOOT_MARGIN_SECONDS, secretsUrlSeconds} from '../../../src/providers/vm/boot-script.js'
import {DEFAULT_CANDIDATE_TIMEOUT_SECONDS} from '../../../src/controller/launch-round.js'
import {FakeObjectStore} from '../../fakes/fake-object-store.js'
import {s3Dialect} from '../../fakes/fake-s3-dialect.js'
import {testJobSpec} from '../../helpers/job-spec.js'

const KEY = {accessKeyId: 'AKIAFAKEEXAMPLE00001', secretAccessKey: 'fake/Secret+Key/ForTests0000000000000001'}
const T0 = new Date('2026-12-07T12:00:00Z')
const job = {id: 'j-secrets-url', spec: testJobSpec({name: 'j', run: 'true', secrets: ['HF_TOKEN']})}

describe('the secrets object’s URLs live as long as the boot needs', () => {
  let s3: FakeObjectStore
  let now = T0
  let holds: ReturnType<typeof attemptHoldsFor>
  beforeEach(async () => {
    now = T0
    s3 = new FakeObjectStore({dialect: s3Dialect({[KEY.accessKeyId]: KEY.secretAccessKey}), now: () => now})
    await s3.start()
    const signer = new CheckpointSigner({
      env: {AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'},
      homeDir: '/nonexistent',
    })
    const config = {checkpointStore: {url: 's3://ckpt/runs', region: 'us-east-1', endpoint: s3.endpoint, syncIntervalSeconds: null}}
    const client = new HttpClient({provider: 'aws', dispatcher: createDispatcher(), timeoutMs: 10_000, retry: {retries: 0}})
    // Signed at T0, whatever the store's clock says later.
    holds = attemptHoldsFor(config, client, signer, () => T0)
  })
  afterEach(async () => {
    await s3.stop()
  })

  it('is the candidate’s budget, the boot margin, a gang’s rank wait and the fetch’s retries: 20 minutes by default, 30 for a gang', () => {
    expect(SECRETS_BOOT_MARGIN_SECONDS).to.equal(600)
    expect(secretsUrlSeconds(DEFAULT_CANDIDATE_TIMEOUT_SECONDS, false)).to.equal(180 + 600 + 12 * 35)
    expect(secretsUrlSeconds(DEFAULT_CANDIDATE_TIMEOUT_SECONDS, false)).to.equal(1200)
    expect(secretsUrlSeconds(DEFAULT_CANDIDATE_TIMEOUT_SECONDS, true)).to.equal(1200 + GANG_RANK_TIMEOUT_SECONDS)
    // A shorter candidate budget (SKYHOP_CANDIDATE_TIMEOUT_SECONDS) shortens it; a fraction of a second rounds up.
    expect(secretsUrlSeconds(60.2, false)).to.equal(61 + 600 + 420)
    expect(secretsUrlSeconds(DEFAULT_CANDIDATE_TIMEOUT_SECONDS, true)).to.be.below(SECRETS_URL_SECONDS)
  })

  it('the fake S3 serves the object through its GET URL until then, and refuses it as expired one second later', async () => {
    const seconds = secretsUrlSeconds(DEFAULT_CANDIDATE_TIMEOUT_SECONDS, false)
    const object = (await holds.putSecrets!(job, 'a-1', 'HF_TOKEN=dG9r\n', seconds))!
    for (const url of [object.getUrl, object.deleteUrl, object.putUrl]) {
      expect(new URL(url).searchParams.get('X-Amz-Expires')).to.equal(String(seconds))
    }
    now = new Date(T0.getTime() + (seconds - 1) * 1000)
    const inTime = await fetch(object.getUrl)
    expect(inTime.status).to.equal(200)
    expect(await inTime.text()).to.equal('HF_TOKEN=dG9r\n')
    now = new Date(T0.getTime() + (seconds + 1) * 1000)
    const late = await fetch(object.getUrl)
    expect(late.status).to.equal(403)
    expect(await late.text()).to.include('Request has expired')
    // Signed for an hour, as before, it would still have answered.
    expect(seconds + 1).to.be.below(SECRETS_URL_SECONDS)
  })

  it('a DELETE signed when the attempt ends removes an object the boot never fetched', async () => {
    const object = (await holds.putSecrets!(job, 'a-2', 'HF_TOKEN=dG9r\n', 1200))!
    now = new Date(T0.getTime() + 60_000)
    await holds.deleteSecrets!(job, 'a-2')
    expect(s3.object('ckpt', 'runs/j-secrets-url/secrets/a-2')).to.equal(undefined)
    expect((await fetch(object.getUrl)).status).to.equal(404)
    expect(s3.requests.map((r) => `${r.method} ${r.status}`)).to.deep.equal(['PUT 200', 'DELETE 204', 'GET 404'])
  })
})
