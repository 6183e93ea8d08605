// The object store a cloud gang's nodes find each other through, for the VM adapters' gang
// tests: a fake S3 bucket that checks SigV4 query signatures, or a fake OSS bucket that checks
// OSS's V1 signatures (which cover the PUT's content type) (test/fakes/fake-object-store.ts),
// and the gang's objects signed for an attempt by the real CheckpointSigner, as the
// controller signs them (LaunchRequest.gang).
import {CheckpointSigner} from '../../src/checkpoint/checkpoint-store.js'
import type {GangObjects} from '../../src/model/checkpoint.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {ossDialect} from '../fakes/fake-oss-dialect.js'
import {s3Dialect} from '../fakes/fake-s3-dialect.js'

const STORE_KEY = {accessKeyId: 'AKIAFAKESTORE0000001', secretAccessKey: 'fake/Store+Key/ForTests00000000000000001'}
const OSS_KEY = {accessKeyId: 'LTAI5tFakeStore00001', accessKeySecret: 'fakeOssStoreSecretForTests0001'}

export interface GangStore {
  /** The fake bucket (S3 or OSS, as started). */
  s3: FakeObjectStore
  /** The signed objects of one attempt of job `jobId`. */
  sign(jobId: string, attemptId: string): Promise<GangObjects>
  /** What the store holds of an attempt's gang: the rank list and the peer list, as written. */
  objects(jobId: string, attemptId: string): {nodeIds: string | null; nodeIps: string | null; notice: string | null}
  stop(): Promise<void>
}

export async function startGangStore(kind: 's3' | 'oss' = 's3'): Promise<GangStore> {
  const s3 = new FakeObjectStore({
    dialect:
      kind === 's3'
        ? s3Dialect({[STORE_KEY.accessKeyId]: STORE_KEY.secretAccessKey})
        : ossDialect({[OSS_KEY.accessKeyId]: OSS_KEY.accessKeySecret}),
  })
  await s3.start()
  const signer = new CheckpointSigner({
    env:
      kind === 's3'
        ? {AWS_ACCESS_KEY_ID: STORE_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: STORE_KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'}
        : {ALIBABA_CLOUD_ACCESS_KEY_ID: OSS_KEY.accessKeyId, ALIBABA_CLOUD_ACCESS_KEY_SECRET: OSS_KEY.accessKeySecret},
    homeDir: '/nonexistent',
  })
  const spec = {
    url: `${kind}://gangs/runs`,
    region: kind === 's3' ? 'us-east-1' : 'cn-hangzhou',
    endpoint: s3.endpoint,
    syncIntervalSeconds: null,
  }
  const text = (jobId: string, attemptId: string, name: string) =>
    s3.object('gangs', `runs/${jobId}/gangs/${attemptId}/${name}`)?.body.toString('utf8') ?? null
  return {
    s3,
    sign: (jobId, attemptId) => signer.gang(spec, jobId, attemptId, new Date()),
    objects: (jobId, attemptId) => ({
      nodeIds: text(jobId, attemptId, 'node-ids'),
      nodeIps: text(jobId, attemptId, 'node-ips'),
      notice: text(jobId, attemptId, 'notice'),
    }),
    stop: () => s3.stop(),
  }
}
