// Chaos: N launches at once on one store, some of their controllers SIGKILLed, then M
// `skyhop recover`s at once and more every 1.5 s: every job ends SUCCEEDED (0 lost), each
// runs once and is restarted by one recover at most (0 duplicates), and the secret is
// nowhere. Controllers start slowly (slow-controller-start.cjs), as on a loaded machine. CI:
// 10 launches, 4 recovers; full scale: 50 and 10.
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {Store} from '../../src/state/store.js'
import {seededRandom} from '../fakes/fake-faulty-endpoint.js'
import {parseEnvelope, runCliAsync, tempHome} from '../helpers/cli.js'
import {makeSecret, scanForSecret} from '../helpers/secret-scan.js'
import {countScan, figures, reportAtEnd, SEED, size} from './figures.js'
import {controllerPid, describeFailure, explainJob, processesOf, recoverOk} from './world.js'

reportAtEnd()

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

describe('chaos: concurrent launches and recovers on one store', function () {
  this.timeout(600_000)

  it('N launches at once, half their controllers killed, M recovers at once: 0 lost, 0 duplicates, 0 leaks', async () => {
    const launches = size(10, 50)
    const recovers = size(4, 10)
    const random = seededRandom(SEED + 7)
    const home = tempHome('skyhop-chaos-conc-')
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
    const secret = makeSecret()
    // Every controller starts 3 s late (as on a loaded machine, where one job stayed PENDING for
    // good): longer than the lease and than the gap between two recovers.
    const slowStart = `--require ${JSON.stringify(join(import.meta.dirname, 'slow-controller-start.cjs'))}`
    const env = {
      SKYHOP_CONFIG: config,
      SKYHOP_LEASE_TTL_SECONDS: '1',
      CHAOS_TOKEN: secret,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${slowStart}`.trim(),
    }
    const sha = createHash('sha256').update(secret).digest('hex')
    const outputs: Record<string, string> = {}
    const names = Array.from({length: launches}, (_, i) => `conc-${i}`)
    const results = await Promise.all(
      names.map(async (name) => {
        const file = join(home, `${name}.yaml`)
        writeFileSync(
          file,
          `name: ${name}\nsecrets: [CHAOS_TOKEN]\nenvs:\n  MARKS: ${JSON.stringify(join(home, `marks-${name}`))}\n  CHAOS_SHA: ${sha}\nrun: |\n  echo start >> "$MARKS"\n  [ "$(printf %s "$CHAOS_TOKEN" | sha256sum | cut -c1-64)" = "$CHAOS_SHA" ] || exit 9\n  sleep 3\n  echo end >> "$MARKS"\n`,
        )
        const r = await runCliAsync(['launch', file, '--yes', '--json'], {home, env})
        outputs[`launch ${name}`] = r.stdout + r.stderr
        expect(r.code, describeFailure(`launch of ${name}`, r, [secret])).to.equal(0)
        return parseEnvelope(r.stdout).result.job.id as string
      }),
    )
    expect(new Set(results).size).to.equal(launches)
    const store = Store.open(home)
    try {
      // Kill about half of the controllers once they hold their jobs.
      for (const id of results) {
        if (random() < 0.5) continue
        const until = Date.now() + 20_000
        while (Date.now() < until) {
          // Only the job's own controller: the lease names the launch until the controller took it over.
          const pid = controllerPid(store.getJob(id)!.leaseOwner, id)
          if (pid !== null) {
            process.kill(pid, 'SIGKILL')
            break
          }
          if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(store.getJob(id)!.state)) break
          await sleep(50)
        }
      }
      await sleep(1500)
      const restarted: string[] = []
      const rs = await Promise.all(Array.from({length: recovers}, () => runCliAsync(['recover', '--json'], {home, env})))
      for (const [i, r] of rs.entries()) {
        outputs[`recover ${i}`] = r.stdout + r.stderr
        expect(r.code, describeFailure(`recover ${i}`, r, [secret])).to.equal(0)
        restarted.push(...(parseEnvelope(r.stdout).result.restarted as string[]))
      }
      const duplicates = restarted.length - new Set(restarted).size
      // Later recovers, one at a time, for anything left (a controller that died after the first wave).
      const deadline = Date.now() + 120_000
      const failedRecovers: string[] = []
      while (results.some((id) => !['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(store.getJob(id)!.state)) && Date.now() < deadline) {
        await sleep(1500)
        const r = await runCliAsync(['recover', '--json'], {home, env})
        outputs[`recover ${Date.now()}`] = r.stdout + r.stderr
        if (!recoverOk(r)) failedRecovers.push(describeFailure('a later recover', r, [secret]))
      }
      const lost = results.filter((id) => store.getJob(id)!.state !== 'SUCCEEDED')
      const reruns = names.filter((name) => {
        const f = join(home, `marks-${name}`)
        const lines = existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n') : []
        return lines.filter((l) => l === 'start').length !== 1
      })
      const hits = scanForSecret(secret, {dirs: [home], texts: outputs})
      countScan(hits.length)
      figures.concurrency = {launches, recovers, lost: lost.length, duplicates: duplicates + reruns.length}
      expect(lost, lost.map((id) => explainJob(store, home, id)).join('\n')).to.deep.equal([])
      expect(failedRecovers).to.deep.equal([])
      expect(duplicates).to.equal(0)
      expect(reruns).to.deep.equal([])
      expect(hits).to.deep.equal([])
      let left: string[] = []
      for (let i = 0; i < 20 && (left = processesOf(home)).length > 0; i++) await sleep(250)
      expect(left).to.deep.equal([])
    } finally {
      store.close()
    }
  })
})
