// EC2 takes at most 16 KB of user data, and a gang's boot script carries more signed URLs than
// any other attempt (checkpoint get and put, the runner, the peer list, the rank list, the
// notice get and put), each with the same session token when the store's credentials are
// temporary; its nodes fetch the runner from the store instead. This measures the real boot
// script of a 2-node gang signed with a 1,300-character STS token, the long end of what STS
// hands out, against the limit.
import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {gunzipSync} from 'node:zlib'

import {CheckpointSigner} from '../../../src/checkpoint/checkpoint-store.js'
import {awsStopProbe, EC2_USER_DATA_LIMIT} from '../../../src/providers/aws/aws-provider.js'
import {bootScript, bootUserData, readRunnerScript, userData} from '../../../src/providers/vm/boot-script.js'
import {jobSpec, launchRequest} from '../../integration/aws-helpers.js'

describe('a gang boot script against EC2’s user data limit', function () {
  it('fits 16 KB with every signed URL of a 2-node gang and a 1,300-character session token', async function () {
    const signer = new CheckpointSigner({
      env: {
        AWS_ACCESS_KEY_ID: 'ASIAFAKEEXAMPLE00001',
        AWS_SECRET_ACCESS_KEY: 'fake/Secret+Key/ForTests0000000000000001',
        AWS_SESSION_TOKEN: randomBytes(975).toString('base64'),
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      homeDir: '/nonexistent',
    })
    const store = {url: 's3://my-training-checkpoints/team/runs', region: 'us-west-2', endpoint: null, syncIntervalSeconds: null}
    const now = new Date()
    const request = {
      ...launchRequest({spec: jobSpec('torchrun --nnodes "$SKYHOP_NUM_NODES" --node_rank "$SKYHOP_NODE_RANK" train.py', {nodes: 2})}),
      checkpointSync: await signer.sync(store, 'j-0123456789', {now, checkpointIntervalSeconds: 600}),
      gang: await signer.gang(store, 'j-0123456789', 'a-0123456789', now),
    }
    expect(request.gang.nodeIps.getUrl.length).to.be.greaterThan(1700)
    const script = bootScript({
      request,
      runnerScript: await readRunnerScript(),
      noticeSources: ['aws'],
      stopRequestProbe: awsStopProbe('http://169.254.169.254'),
    })
    const data = userData(script, (d) => d.length <= EC2_USER_DATA_LIMIT)
    expect(data.fits, `${data.data.length} bytes`).to.equal(true)
    // Room to spare: the runner can grow without a gang outgrowing EC2's limit.
    expect(data.data.length, `${data.data.length} bytes`).to.be.below(EC2_USER_DATA_LIMIT / 2)
    expect(script).to.not.include("sk_file 'skyhop-runner.sh'")
  })

  it('a one-node attempt with a store, a hold and a session token fits: gzipped whole, else its runner from the store', async function () {
    const signer = new CheckpointSigner({
      env: {
        AWS_ACCESS_KEY_ID: 'ASIAFAKEEXAMPLE00001',
        AWS_SECRET_ACCESS_KEY: 'fake/Secret+Key/ForTests0000000000000001',
        AWS_SESSION_TOKEN: randomBytes(975).toString('base64'),
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      homeDir: '/nonexistent',
    })
    const store = {url: 's3://my-training-checkpoints/team/runs', region: 'us-west-2', endpoint: null, syncIntervalSeconds: null}
    const now = new Date()
    const request = {
      ...launchRequest({spec: jobSpec('python train.py --resume "$SKYHOP_CHECKPOINT_DIR"')}),
      checkpointSync: await signer.sync(store, 'j-0123456789', {now, checkpointIntervalSeconds: 600}),
      hold: {url: `https://my-training-checkpoints.s3.us-west-2.amazonaws.com/${'x'.repeat(1700)}`, timeoutSeconds: 3600},
      gang: await signer.gang(store, 'j-0123456789', 'a-0123456789', now),
    }
    const input = {
      request,
      runnerScript: await readRunnerScript(),
      noticeSources: ['aws'],
      stopRequestProbe: awsStopProbe('http://169.254.169.254'),
    }
    const fits = (d: Buffer): boolean => d.length <= EC2_USER_DATA_LIMIT
    const data = bootUserData(input, fits)
    expect(data.fits, `${data.data.length} bytes`).to.equal(true)
    // Carried (packed or gzipped whole) only when that fits; here the runner comes from the store.
    const carried = userData(bootScript(input), fits, bootScript({...input, packFiles: false}))
    expect(data.runnerFromStore).to.equal(!carried.fits)
    const script = (data.data[0] === 0x1f ? gunzipSync(data.data) : data.data).toString('utf8')
    if (data.runnerFromStore) expect(script).to.not.match(/sk_(file|text) 'skyhop-runner\.sh'/)
    else expect(script).to.match(/sk_(file|text) 'skyhop-runner\.sh'/)
    // Without a store to fetch it from, the runner is always carried.
    expect(bootUserData({...input, request: {...request, gang: null}}, () => true).runnerFromStore).to.equal(false)
  })

  it('still fits with the ship list and the ship section (a cloud attempt that ships its output and samples)', async function () {
    const signer = new CheckpointSigner({
      env: {
        AWS_ACCESS_KEY_ID: 'ASIAFAKEEXAMPLE00001',
        AWS_SECRET_ACCESS_KEY: 'fake/Secret+Key/ForTests0000000000000001',
        AWS_SESSION_TOKEN: randomBytes(975).toString('base64'),
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      homeDir: '/nonexistent',
    })
    const store = {url: 's3://my-training-checkpoints/team/runs', region: 'us-west-2', endpoint: null, syncIntervalSeconds: null}
    const now = new Date()
    const list = await signer.ship(store, 'j-0123456789', 'a-0123456789', now)
    const request = {
      ...launchRequest({spec: jobSpec('python train.py --resume "$SKYHOP_CHECKPOINT_DIR"')}),
      checkpointSync: await signer.sync(store, 'j-0123456789', {now, checkpointIntervalSeconds: 600}),
      hold: {url: `https://my-training-checkpoints.s3.us-west-2.amazonaws.com/${'x'.repeat(1700)}`, timeoutSeconds: 3600},
      gang: await signer.gang(store, 'j-0123456789', 'a-0123456789', now),
      ship: {
        manifestUrl: list.getUrl,
        store: {url: store.url, region: store.region, endpoint: null},
        location: list.location,
        segmentBytes: 262144,
        shipSeconds: 10,
        expiresAt: list.expiresAt,
      },
    }
    const input = {
      request,
      runnerScript: await readRunnerScript(),
      noticeSources: ['aws'],
      stopRequestProbe: awsStopProbe('http://169.254.169.254'),
    }
    const data = bootUserData(input, (d: Buffer): boolean => d.length <= EC2_USER_DATA_LIMIT)
    expect(data.fits, `${data.data.length} bytes`).to.equal(true)
    const script = (data.data[0] === 0x1f ? gunzipSync(data.data) : data.data).toString('utf8')
    expect(script).to.include('shipUrl=')
    // One URL of the list, never the list's hundreds.
    expect(script.match(/X-Amz-Signature=/g)!.length).to.be.lessThan(12)
  })
})
