// Chaos: the fake EC2 behind a faulty endpoint (test/fakes/fake-faulty-endpoint.ts) that, on
// 10% of the calls chosen from a seed, refuses the connection, black-holes the call, answers
// 5xx or throttles, stalls mid-body, or lets the call take effect and then stalls or drops
// its answer; and endpoints that refuse or black-hole every call. Each job, launched with
// `launch --wait` through the built CLI and short documented budgets, must reach a final state
// within its bound (the launch bound, a candidate's budget, the settling of an unknown create,
// the job's run, the release) and must never run twice; the cloud key is nowhere.
import {expect} from 'chai'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {Store} from '../../src/state/store.js'
import {FakeEc2Server} from '../fakes/fake-ec2-server.js'
import {type Fault, FakeFaultyEndpoint, randomFaults} from '../fakes/fake-faulty-endpoint.js'
import {parseEnvelope, runCliAsync, tempHome} from '../helpers/cli.js'
import {scanForSecret} from '../helpers/secret-scan.js'
import {KEY} from '../integration/aws-helpers.js'
import {AWS_TYPE, fakeOffers} from '../integration/cloud-world.js'
import {countScan, figures, reportAtEnd, SEED, size} from './figures.js'
import {describeFailure} from './world.js'

reportAtEnd()

const CANDIDATE_S = 3
const LAUNCH_S = 15
const JOB_S = 2
/** One cloud API call at its worst, retries included (docs/providers/README.md#deadlines). */
const API_CALL_S = 45
/**
 * The documented bound of one job here: the launch round's, one candidate past it, an
 * unknown create's settling (2 budgets), the run, then one poll and the release each at an
 * API call's worst (a stalled answer costs a try's 20 s, again on a retry), and start-up.
 */
const BOUND_MS = (LAUNCH_S + CANDIDATE_S + 2 * CANDIDATE_S + JOB_S + 2 * API_CALL_S + 15) * 1000
const ALL_FAULTS: Fault[] = ['refuse', 'black-hole', '5xx', 'throttle', 'stall', 'stall-after', 'drop-after']

describe('chaos: faulty cloud endpoints', function () {
  this.timeout(900_000)
  const tally = {jobs: 0, faultsDealt: 0, outOfBound: [] as string[], ranTwice: [] as string[], worstMs: 0, leaks: [] as string[]}
  const problemsSoFar = (): string[] => [...tally.outOfBound, ...tally.ranTwice, ...tally.leaks]
  after(() => {
    figures.endpoints = {
      jobs: tally.jobs,
      faultsDealt: tally.faultsDealt,
      outOfBound: tally.outOfBound.length,
      ranTwice: tally.ranTwice.length,
      worstMs: tally.worstMs,
      boundMs: BOUND_MS,
    }
  })

  async function jobsThrough(
    label: string,
    choose: (fake: FakeEc2Server) => ConstructorParameters<typeof FakeFaultyEndpoint>[0]['choose'],
    count: number,
    expectOk: boolean,
  ) {
    const home = tempHome(`skyhop-chaos-ep-${label}-`)
    const fake = new FakeEc2Server({
      keys: [KEY],
      capacity: {
        'us-east-1': {'us-east-1a': {[AWS_TYPE]: 64}, 'us-east-1b': {[AWS_TYPE]: 64}},
        'us-west-2': {'us-west-2a': {[AWS_TYPE]: 64}},
      },
      vcpus: {[AWS_TYPE]: 2},
      bootDir: join(home, 'fake-ec2'),
    })
    await fake.start()
    const proxy = new FakeFaultyEndpoint({upstream: fake.url, choose: choose(fake)})
    const url = await proxy.start()
    const outputs: Record<string, string> = {}
    try {
      const config = join(home, 'config.yaml')
      writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n  local: {enabled: false}\n')
      writeFileSync(join(home, 'offers.json'), JSON.stringify({offers: fakeOffers().filter((o) => o.provider === 'aws')}))
      const env = {
        SKYHOP_CONFIG: config,
        SKYHOP_AWS_ENDPOINT: url,
        SKYHOP_CANDIDATE_TIMEOUT_SECONDS: String(CANDIDATE_S),
        SKYHOP_LAUNCH_TIMEOUT_SECONDS: String(LAUNCH_S),
        AWS_ACCESS_KEY_ID: KEY.accessKeyId,
        AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
        AWS_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
        HOME: home,
      }
      const atOnce = 4
      for (let i = 0; i < count; i += atOnce) {
        await Promise.all(
          Array.from({length: atOnce}, (_, k) => i + k)
            .filter((n) => n < count)
            .map(async (n) => {
              const name = `${label}-${n}`
              const runs = join(home, `runs-${name}`)
              const file = join(home, `${name}.yaml`)
              writeFileSync(
                file,
                `name: ${name}\nspot: on-demand\nenvs:\n  RUNS: ${JSON.stringify(runs)}\nrun: |\n  echo run >> "$RUNS"\n  sleep ${JOB_S}\n`,
              )
              const t0 = Date.now()
              const r = await runCliAsync(['launch', file, '--yes', '--wait', '--json', '--catalog', join(home, 'offers.json')], {
                home,
                env,
              })
              const ms = Date.now() - t0
              outputs[`launch ${name}`] = r.stdout + r.stderr
              tally.jobs++
              tally.worstMs = Math.max(tally.worstMs, ms)
              const state = r.stdout
                ? (parseEnvelope(r.stdout).result?.job?.state ?? `error ${parseEnvelope(r.stdout).error?.code}`)
                : `exit ${r.code}`
              if (ms > BOUND_MS) tally.outOfBound.push(`${name}: ${ms} ms > ${BOUND_MS} ms (${state})`)
              if (!['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(String(state)) && !String(state).startsWith('error'))
                tally.outOfBound.push(`${name}: not final (${state})`)
              if (expectOk && state !== 'SUCCEEDED')
                tally.outOfBound.push(`${name}: ${state}: ${describeFailure('launch --wait', r, [KEY.secretAccessKey])}`)
              const lines = existsSync(runs) ? readFileSync(runs, 'utf8').trim().split('\n') : []
              if (lines.length > 1) tally.ranTwice.push(`${name}: ran ${lines.length} times`)
            }),
        )
      }
      // No job holds more than one instance, and none is left running.
      const store = Store.open(home)
      try {
        for (const job of store.listJobs()) {
          const instances = [...fake.instances.values()].filter((x) => x.tags.get('skyhop:job-id') === job.id)
          if (instances.length > 1) tally.ranTwice.push(`${job.name}: ${instances.length} instances`)
        }
      } finally {
        store.close()
      }
      const hits = scanForSecret(KEY.secretAccessKey, {
        dirs: [home],
        texts: {...outputs, ...Object.fromEntries([...fake.instances.values()].map((x) => [`user data of ${x.id}`, x.userData ?? '']))},
      })
      countScan(hits.length)
      tally.leaks.push(...hits.map((h) => `${h.where} (${h.form})`))
    } finally {
      tally.faultsDealt += Object.values(proxy.dealt).reduce((a, b) => a + b, 0)
      await proxy.stop()
      await fake.stop()
    }
  }

  it('10% of calls fail every way an endpoint can: each job final within its bound, none run twice, no key anywhere', async () => {
    const seen = problemsSoFar()
    await jobsThrough('random', () => randomFaults(SEED, 0.1, ALL_FAULTS), size(4, 40), true)
    const problems = problemsSoFar().filter((p) => !seen.includes(p))
    expect(problems, problems.slice(0, 5).join('\n')).to.deep.equal([])
  })

  for (const fault of ['refuse', 'black-hole'] as const) {
    it(`an endpoint that ${fault === 'refuse' ? 'refuses' : 'black-holes'} every call: the job fails within its bound`, async () => {
      const seen = problemsSoFar()
      await jobsThrough(fault, () => () => fault, size(1, 4), false)
      const problems = problemsSoFar().filter((p) => !seen.includes(p))
      expect(problems, problems.slice(0, 5).join('\n')).to.deep.equal([])
    })
  }
})
