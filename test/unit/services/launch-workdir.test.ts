import {expect} from 'chai'

import type {CheckpointStoreSpec} from '../../../src/model/job-spec.js'
import type {ServiceContext} from '../../../src/services/context.js'
import {withWorkdirArchive} from '../../../src/services/launch.js'
import {UsageError} from '../../../src/errors.js'
import {testJobSpec} from '../../helpers/job-spec.js'

const STORE: CheckpointStoreSpec = {url: 's3://bkt/p', region: 'us-east-1', endpoint: null, syncIntervalSeconds: null}
const ARCHIVE = {sha256: 'a'.repeat(64), bytes: 10240}

/** The parts of a context the workdir step uses: the providers' storage kinds, the config's store, the upload. */
function context(store: CheckpointStoreSpec | null, uploads: string[]): ServiceContext {
  const providers = new Map<string, unknown>([
    ['local', {name: 'local'}],
    ['slurm', {name: 'slurm', attemptStorage: 'shared'}],
    ['aws', {name: 'aws', attemptStorage: 'per-instance'}],
  ])
  return {
    providers: async () => providers,
    config: () => ({checkpointStore: store}),
    uploadWorkdir: async (dir: string, s: CheckpointStoreSpec) => {
      uploads.push(`${dir} → ${s.url}`)
      return {archive: ARCHIVE, entries: 1, location: `${s.url}/workdirs/x.tar`, uploadedBytes: 0, packMs: 0, uploadMs: 0}
    },
  } as unknown as ServiceContext
}

const cands = (...providers: string[]) => providers.map((provider) => ({provider}))

describe('launch: the workdir for a cloud', () => {
  it('uploads only when a candidate is a cloud, and the attempt spec carries the archive', async () => {
    const uploads: string[] = []
    const spec = testJobSpec({name: 'j', run: 'true', workdir: '/code'})
    expect(await withWorkdirArchive(context(STORE, uploads), spec, cands('local', 'slurm'))).to.equal(spec)
    expect(uploads).to.deep.equal([])
    const cloud = await withWorkdirArchive(context(STORE, uploads), spec, cands('local', 'aws'))
    expect(cloud.workdirArchive).to.deep.equal(ARCHIVE)
    expect(uploads).to.deep.equal(['/code → s3://bkt/p'])
  })

  it('a job without a workdir uploads nothing', async () => {
    const uploads: string[] = []
    const spec = testJobSpec({name: 'j', run: 'true'})
    expect(await withWorkdirArchive(context(STORE, uploads), spec, cands('aws'))).to.equal(spec)
    expect(uploads).to.deep.equal([])
  })

  it('a cloud candidate without a store is a usage error (exit 2) naming the cloud, before any upload', async () => {
    const uploads: string[] = []
    const spec = testJobSpec({name: 'j', run: 'true', workdir: '/code'})
    const error = await withWorkdirArchive(context(null, uploads), spec, cands('aws')).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(UsageError)
    expect((error as UsageError).code).to.equal('WORKDIR_NEEDS_STORE')
    expect((error as UsageError).exitCode).to.equal(2)
    expect((error as UsageError).message).to.equal('workdir /code cannot reach aws: the job has no object store to upload it to')
    expect(uploads).to.deep.equal([])
  })
})
