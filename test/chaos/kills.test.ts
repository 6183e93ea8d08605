// Chaos: kill -9 of the controller, the runner, or both, at random moments of a job's life,
// on the local provider, on the real Slurm cluster and on the fake EC2 (controllers only:
// its instances' runners are the boot script's), with `skyhop recover` bringing the jobs
// home. Counted: jobs lost, finished jobs run again, processes left behind, two attempts of
// one job alive at once, and the secret's value anywhere. CI runs a few of each; full scale
// (SKYHOP_CHAOS_SCALE=full) runs 100 controller, 50 runner and 20 double kills in all.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {FakeEc2Server} from '../fakes/fake-ec2-server.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {s3Dialect} from '../fakes/fake-s3-dialect.js'
import {seededRandom} from '../fakes/fake-faulty-endpoint.js'
import {tempHome} from '../helpers/cli.js'
import {makeSecret} from '../helpers/secret-scan.js'
import {requireSlurm} from '../helpers/slurm.js'
import {KEY} from '../integration/aws-helpers.js'
import {AWS_TYPE, fakeOffers} from '../integration/cloud-world.js'
import {figures, reportAtEnd, SEED, size} from './figures.js'
import {emptyTally, type KillKind, killBatch, type KillTally} from './world.js'

reportAtEnd()

/** `controller` × c, `runner` × r, `both` × b, shuffled from the seed. */
function kinds(c: number, r: number, b: number, random: () => number): KillKind[] {
  const all: KillKind[] = [...Array(c).fill('controller'), ...Array(r).fill('runner'), ...Array(b).fill('both')]
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[all[i], all[j]] = [all[j], all[i]]
  }
  return all
}

describe('chaos: kill -9 at random moments', function () {
  this.timeout(600_000)
  const tally: KillTally = emptyTally()
  const byProvider: Record<string, number> = {}
  const counts = {controller: 0, runner: 0, both: 0}

  after(() => {
    figures.kills = {
      total: tally.kills,
      ...counts,
      lost: tally.lost.length,
      reruns: tally.reruns.length,
      orphans: tally.orphans.length,
      doubleLive: tally.doubleLive.length,
      byProvider,
    }
  })

  async function run(
    provider: string,
    home: string,
    env: Record<string, string>,
    all: KillKind[],
    options: {
      secret: boolean
      extra?: string
      launchArgs?: string[]
      alsoSecret?: string[]
      scan?: () => {dirs?: string[]; texts?: Record<string, string>}
      jobSeconds?: number
      finally?: string[][]
    },
  ) {
    const random = seededRandom(SEED + provider.length)
    const before = tally.kills
    const all0 = (): string[] => [...tally.failed, ...tally.lost, ...tally.reruns, ...tally.orphans, ...tally.doubleLive, ...tally.leaks]
    const seen = all0()
    const batch = 4
    for (let i = 0; i < all.length; i += batch) {
      const slice = all.slice(i, i + batch)
      for (const k of slice) counts[k]++
      await killBatch(
        {
          home,
          env,
          secret: options.secret ? makeSecret() : null,
          alsoSecret: options.alsoSecret,
          kinds: slice,
          random,
          killWithinMs: 3000,
          jobSeconds: options.jobSeconds ?? 2,
          extra: options.extra,
          launchArgs: options.launchArgs,
          label: `${provider}-${i}`,
          scan: options.scan,
          finally: options.finally,
        },
        tally,
      )
    }
    byProvider[provider] = (byProvider[provider] ?? 0) + tally.kills - before
    // This provider's own problems (the tally is the whole run's, for the figures).
    const problems = all0().filter((p) => !seen.includes(p))
    expect(problems, problems.slice(0, 5).join('\n')).to.deep.equal([])
  }

  it('local: controllers, runners and both, then recover — 0 lost, 0 reruns, 0 orphans, 0 double live, no secret anywhere', async () => {
    const random = seededRandom(SEED)
    const home = tempHome('skyhop-chaos-kill-local-')
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
    await run('local', home, {SKYHOP_CONFIG: config, SKYHOP_LEASE_TTL_SECONDS: '1'}, kinds(size(5, 60), size(3, 33), size(2, 14), random), {
      secret: true,
    })
  })

  it('Slurm: controllers, runners and both, then recover — the same figures', async function () {
    await requireSlurm(this)
    const random = seededRandom(SEED + 1)
    const home = tempHome('skyhop-chaos-kill-slurm-')
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  local: {enabled: false}\n  slurm: {partitions: [high]}\n')
    await run('slurm', home, {SKYHOP_CONFIG: config, SKYHOP_LEASE_TTL_SECONDS: '1'}, kinds(size(2, 30), size(1, 17), size(1, 6), random), {
      secret: true,
    })
  })

  it('fake EC2 and S3: controllers killed at random moments of the launch and the run, then recover, the idle guard and down --orphans — the same figures, no key and no secret anywhere, no secrets object left', async () => {
    const random = seededRandom(SEED + 2)
    const home = tempHome('skyhop-chaos-kill-ec2-')
    // The job's secret reaches each instance through a one-time object of this store; whatever
    // ends or releases an attempt (its controller, recover, the idle guard, down --orphans)
    // deletes it, so none may be left once all is done (the scan reads every object left).
    const s3 = new FakeObjectStore({dialect: s3Dialect({[KEY.accessKeyId]: KEY.secretAccessKey})})
    await s3.start()
    const fake = new FakeEc2Server({
      keys: [KEY],
      capacity: {
        'us-east-1': {'us-east-1a': {[AWS_TYPE]: 64}, 'us-east-1b': {[AWS_TYPE]: 64}},
        'us-west-2': {'us-west-2a': {[AWS_TYPE]: 64}},
      },
      vcpus: {[AWS_TYPE]: 2},
      bootDir: join(home, 'fake-ec2'),
    })
    const url = await fake.start()
    try {
      const config = join(home, 'config.yaml')
      writeFileSync(
        config,
        `providers:\n  slurm: {enabled: false}\n  local: {enabled: false}\ncheckpoint_store: {url: s3://ckpt/runs, region: us-east-1, endpoint: "${s3.endpoint}"}\n`,
      )
      writeFileSync(join(home, 'offers.json'), JSON.stringify({offers: fakeOffers().filter((o) => o.provider === 'aws')}))
      const env = {
        SKYHOP_CONFIG: config,
        SKYHOP_LEASE_TTL_SECONDS: '1',
        SKYHOP_AWS_ENDPOINT: url,
        AWS_ACCESS_KEY_ID: KEY.accessKeyId,
        AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
        AWS_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
        HOME: home,
      }
      await run('aws', home, env, kinds(size(3, 10), 0, 0, random), {
        secret: true,
        // A second's idle timeout: the recover below releases what a killed controller left held.
        extra: 'spot: on-demand\nidle_timeout: 1s\n',
        launchArgs: ['--catalog', join(home, 'offers.json')],
        alsoSecret: [KEY.secretAccessKey],
        finally: [
          ['recover', '--json'],
          ['down', '--orphans', '--yes', '--json'],
        ],
        // What the fake was sent as each instance's user data, and every object left in the store.
        scan: () => ({
          texts: {
            ...Object.fromEntries([...fake.instances.values()].map((i) => [`user data of ${i.id}`, i.userData ?? ''])),
            ...Object.fromEntries([...s3.objects].map(([key, o]) => [`store object ${key}`, o.body.toString('latin1')])),
          },
        }),
      })
      // The scan above is not vacuous: every launch wrote its secrets object (and deleted it since).
      const puts = s3.requests.filter((r) => r.method === 'PUT' && r.key.includes('/secrets/')).length
      expect(puts, 'secrets objects written').to.be.at.least(fake.instances.size)
    } finally {
      await fake.stop()
      await s3.stop()
    }
  })
})
