// A job with secrets and a cloud candidate needs an object store: an instance gets its secrets
// from a one-time object there, never from user data. Refused before anything is recorded.
import {expect} from 'chai'

import type {CheckpointStoreSpec} from '../../../src/model/job-spec.js'
import type {ServiceContext} from '../../../src/services/context.js'
import {checkSecretsReachClouds} from '../../../src/services/launch.js'
import {UsageError} from '../../../src/errors.js'
import {testJobSpec} from '../../helpers/job-spec.js'

const STORE: CheckpointStoreSpec = {url: 's3://bkt/p', region: 'us-east-1', endpoint: null, syncIntervalSeconds: null}

/** The parts of a context the check uses: the providers' storage kinds and the config's store. */
function context(store: CheckpointStoreSpec | null): ServiceContext {
  const providers = new Map<string, unknown>([
    ['local', {name: 'local'}],
    ['slurm', {name: 'slurm', attemptStorage: 'shared'}],
    ['aws', {name: 'aws', attemptStorage: 'per-instance'}],
  ])
  return {providers: async () => providers, config: () => ({checkpointStore: store})} as unknown as ServiceContext
}

const cands = (...providers: string[]) => providers.map((provider) => ({provider}))

describe('launch: secrets bound for a cloud', () => {
  const spec = testJobSpec({name: 'j', run: 'true', secrets: ['HF_TOKEN', 'WANDB_API_KEY']})

  it('needs nothing for local and Slurm, nor for a cloud with a store (the config’s or the job’s)', async () => {
    await checkSecretsReachClouds(context(null), spec, cands('local', 'slurm'))
    await checkSecretsReachClouds(context(STORE), spec, cands('local', 'aws'))
    await checkSecretsReachClouds(context(null), {...spec, checkpoint: {...spec.checkpoint, store: STORE}}, cands('aws'))
  })

  it('a job without secrets needs no store anywhere', async () => {
    await checkSecretsReachClouds(context(null), testJobSpec({name: 'j', run: 'true'}), cands('aws'))
  })

  it('a cloud candidate without a store is a usage error (exit 2) naming the secrets and the cloud, never their values', async () => {
    const error = await checkSecretsReachClouds(context(null), spec, cands('local', 'aws')).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(UsageError)
    expect((error as UsageError).code).to.equal('SECRETS_NEED_STORE')
    expect((error as UsageError).exitCode).to.equal(2)
    expect((error as UsageError).message).to.equal(
      'secret $HF_TOKEN, $WANDB_API_KEY cannot reach aws: the job has no object store to pass it through, and skyhop never puts secrets in user data',
    )
    expect((error as UsageError).hint).to.include('docs/job-file.md#secrets')
  })
})
