// The idle guard on the local provider with real processes: a runner that lingers after
// its job ended (runner.conf lingerSeconds) holds the attempt like an instance kept up
// after its job; past the job's idle timeout the guard releases it (provider.cleanup),
// records `idle-released`, and cost accounting counts the held time as idle.
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'

import {bundledFx} from '../../src/catalog/fx.js'
import {loadConfig} from '../../src/config.js'
import {attemptCost} from '../../src/controller/cost.js'
import {releaseIdle} from '../../src/controller/idle.js'
import {gatherPlanningInputs} from '../../src/services/planning.js'
import {type SweepEvent, planSweepJobs, recordSweep, runSweep} from '../../src/services/sweep.js'
import {LocalProvider} from '../../src/providers/local/local-provider.js'
import {isRunnerOf} from '../../src/providers/local/processes.js'
import type {Provider} from '../../src/providers/provider.js'
import type {LaunchHandle} from '../../src/model/attempt.js'
import {loadJobFile} from '../../src/job/load.js'
import {readEvents, readExitCode, runnerScriptPath, writeAttemptDir} from '../../src/providers/attempt-dir.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import {Store} from '../../src/state/store.js'
import {waitUntil} from '../helpers/wait.js'

const waitFor = (check: () => boolean, timeoutMs = 15_000): Promise<void> => waitUntil(check, timeoutMs, 50)

describe('idle guard (local provider, a lingering runner)', function () {
  this.timeout(60_000)
  let home: string
  let store: Store
  let pid = 0

  before(() => {
    home = mkdtempSync(join(tmpdir(), 'skyhop-idle-'))
    store = Store.open(home)
  })

  after(() => {
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone already
      }
    }
    store.close()
    rmSync(home, {recursive: true, force: true})
  })

  it('releases an attempt held past its idle timeout and records it', async () => {
    const spec = {
      name: 'linger',
      run: 'echo done',
      envs: {},
      secrets: [],
      idleTimeoutSeconds: 1,
      checkpoint: {dir: null, intervalSeconds: null},
    } as unknown as JobSpec
    const job = store.createJob({name: 'linger', file: null, spec})
    const attempt = store.recordAttemptIntent({
      jobId: job.id,
      provider: 'local',
      region: 'local',
      zone: null,
      instanceType: 'local',
      accelerator: null,
      acceleratorCount: null,
      spot: false,
      pricePerHour: 3.6,
      currency: 'USD',
      onDemandPricePerHour: 3.6,
    })!
    // The attempt directory the local provider would write, with a runner that stays 60 s after the job.
    const attemptDir = join(home, 'attempts', attempt.id)
    writeAttemptDir(attemptDir, {
      setup: null,
      run: spec.run,
      env: {},
      config: {graceSeconds: 5, signal: 'SIGTERM', workdir: attemptDir, noticeSources: [], pollIntervalSeconds: 5, lingerSeconds: 60},
    })
    const log = openSync(join(attemptDir, 'runner.log'), 'a')
    const child = spawn('bash', [runnerScriptPath(), attemptDir], {detached: true, stdio: ['ignore', log, log], cwd: attemptDir})
    closeSync(log)
    child.unref()
    pid = child.pid!
    const handle: LaunchHandle = {provider: 'local', externalId: basename(attemptDir), region: 'local', zone: null, data: {attemptDir, pid}}
    const launchedAt = new Date().toISOString()
    store.updateAttempt(attempt.id, {state: 'PENDING', handle, launchedAt})

    const provider = new LocalProvider({home})
    const providers = new Map([['local', provider]])
    // The provider sees the job end while its runner (the "instance") is still there.
    await waitFor(() => readExitCode(attemptDir) !== null)
    const polled = (await provider.poll([handle])).get(handle.externalId)!
    expect(polled.state).to.equal('SUCCEEDED')
    expect(isRunnerOf(pid, attemptDir)).to.equal(true)
    store.updateAttempt(attempt.id, {state: 'SUCCEEDED', startedAt: polled.startedAt!, endedAt: polled.endedAt!, exitCode: 0})
    const endedMs = Date.parse(polled.endedAt!)

    // Within the timeout: nothing happens.
    expect(await releaseIdle({store, providers, now: new Date(endedMs + 500)})).to.deep.equal([])
    expect(isRunnerOf(pid, attemptDir)).to.equal(true)
    expect(store.unreleasedAttempts().map((a) => a.id)).to.deep.equal([attempt.id])

    // Past it: released, recorded, and the runner is gone long before its 60 s linger ends.
    const now = new Date(endedMs + 2_500)
    const released = await releaseIdle({store, providers, now})
    expect(released.map((r) => r.attemptId)).to.deep.equal([attempt.id])
    expect(released[0].timeoutSeconds).to.equal(1)
    await waitFor(() => !isRunnerOf(pid, attemptDir), 5_000)
    const after = store.getAttempt(attempt.id)!
    expect(after.releasedAt).to.equal(now.toISOString())
    const event = store.events(job.id).find((e) => e.kind === 'idle-released')!
    expect(event.attemptId).to.equal(attempt.id)
    expect(event.data).to.include({timeoutSeconds: 1, provider: 'local'})
    expect(store.unreleasedAttempts()).to.deep.equal([])
    // The runner never got to record the end of its linger: it was stopped.
    expect(readEvents(attemptDir).map((e) => e.event)).to.include('exit')
    expect(existsSync(join(attemptDir, 'exit_code'))).to.equal(true)

    // Cost: the 2.5 s between the job's end and the release are idle, paid time.
    const row = store.costRows().find((r) => r.attempt.id === attempt.id)!
    const cost = attemptCost(row, now, bundledFx())
    expect(cost.idleSeconds).to.be.closeTo(2.5, 1e-6)
    // A second pass finds nothing to do.
    expect(await releaseIdle({store, providers, now: new Date(endedMs + 10_000)})).to.deep.equal([])
  })

  it('the sweep controller releases an attempt whose cleanup failed, once its idle timeout passed', async () => {
    const sweepHome = mkdtempSync(join(tmpdir(), 'skyhop-idle-sweep-'))
    writeFileSync(join(sweepHome, 'config.yaml'), 'providers:\n  slurm: {enabled: false}\n')
    const sweepStore = Store.open(sweepHome)
    try {
      const local = new LocalProvider({home: sweepHome})
      // A backend whose first release of each attempt fails, as a cloud API call can.
      const failedOnce = new Set<string>()
      const flaky: Provider = Object.assign(Object.create(local) as Provider, {
        async cleanup(handle: LaunchHandle) {
          if (!failedOnce.has(handle.externalId)) {
            failedOnce.add(handle.externalId)
            throw new Error('TerminateInstances: RequestLimitExceeded')
          }
          return local.cleanup(handle)
        },
      })
      const providers = new Map<string, Provider>([['local', flaky]])
      const file = join(sweepHome, 'job.yaml')
      writeFileSync(file, 'name: held\nidle_timeout: 1s\nmatrix: {k: [a, b]}\nrun: echo done\n')
      const config = loadConfig(sweepHome)
      const inputs = await gatherPlanningInputs({home: sweepHome, config, providers, store: sweepStore})
      const planned = await planSweepJobs({spec: loadJobFile(file).spec, file, sets: {}, budget: null, env: process.env}, inputs)
      const {sweep} = recordSweep(sweepStore, planned, {maxParallel: 2, budget: null})
      const events: SweepEvent[] = []
      const run = await runSweep(sweep.id, {
        store: sweepStore,
        providers,
        inputs,
        home: sweepHome,
        owner: 'test-owner',
        tickMs: 200,
        onEvent: (e) => events.push(e),
      })
      expect(run.finished).to.equal(true)
      expect(sweepStore.getSweep(sweep.id)!.state).to.equal('SUCCEEDED')
      // Each attempt's first cleanup failed; the guard released both after the 1 s timeout.
      const released = events.filter((e) => e.event === 'idle-released')
      expect(released).to.have.length(2)
      expect(sweepStore.unreleasedAttempts({sweepId: sweep.id})).to.deep.equal([])
      for (const job of sweepStore.sweepJobs(sweep.id)) {
        const kinds = sweepStore.events(job.id).map((e) => e.kind)
        expect(kinds).to.include('cleanup-failed')
        expect(kinds).to.include('idle-released')
        const [attempt] = sweepStore.listAttempts(job.id)
        expect(Date.parse(attempt.releasedAt!) - Date.parse(attempt.endedAt!)).to.be.greaterThan(1000)
      }
      // The sweep ended only after the releases: nothing left held.
      expect(events.at(-1)!.event).to.equal('sweep-ended')
    } finally {
      sweepStore.close()
      rmSync(sweepHome, {recursive: true, force: true})
    }
  })
})
