// The Slurm query cache (issue 17): read-only cluster answers kept a few seconds in files
// under the home and shared by processes; stale, unreadable and foreign entries are misses;
// errors are never kept; launch-time reads always ask Slurm and refresh what is kept. Slurm's
// commands are replayed from output captured on the test cluster (scripts/slurm-up.sh), so
// no cluster is needed here.
import {expect} from 'chai'
import {mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {CommandResult, SlurmCommand, SlurmRunner} from '../../../src/providers/slurm/commands.js'
import {SlurmProvider} from '../../../src/providers/slurm/slurm-provider.js'
import {SlurmQueryCache, cacheableQuery, cachingRunner} from '../../../src/providers/slurm/query-cache.js'
import {testJobSpec} from '../../helpers/job-spec.js'

// Captured on the test cluster (Debian slurm-wlm 22.05.8, node `vm`, partitions low and high).
const PING_UP = 'Slurmctld(primary) at vm is UP\n'
const PING_DOWN = 'Slurmctld(primary) at vm is DOWN\n'
const SINFO = 'low|up|2|8192|(null)|1|idle|infinite\nhigh|up|2|8192|(null)|1|idle|infinite\n'
const partitionLine = (name: string, state: string, grace: number, preempt: string) =>
  `PartitionName=${name} AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=NO QoS=N/A DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=${grace} Hidden=NO MaxNodes=UNLIMITED MaxTime=UNLIMITED MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=vm PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=${preempt} State=${state} TotalCPUs=2 TotalNodes=1 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED TRES=cpu=2,mem=8G,node=1,billing=2`
const partitions = (high: string) => `${partitionLine('low', 'UP', 10, 'REQUEUE')}\n${partitionLine('high', high, 0, 'OFF')}\n`
const CONFIG = 'Configuration data as of 2026-11-27T23:00:34\nClusterName             = skyhop\nSLURM_VERSION           = 22.05.8\n'
const TEST_ONLY = 'sbatch: Job 361 to start at 2026-12-07T01:41:48 using 1 processors on nodes vm in partition high\n'

/** A cluster replayed from captured output that counts what it is asked; `state` changes what it says. */
function replayCluster() {
  const state = {high: 'UP', ping: PING_UP, sinfoFails: false}
  const calls: string[] = []
  const runner: SlurmRunner = async (command: SlurmCommand, args: string[]): Promise<CommandResult> => {
    calls.push([command, ...args].join(' '))
    if (command === 'scontrol' && args[0] === 'ping') return {code: state.ping === PING_UP ? 0 : 1, stdout: state.ping, stderr: ''}
    if (command === 'scontrol' && args[1] === 'config') return {code: 0, stdout: CONFIG, stderr: ''}
    if (command === 'scontrol' && args[1] === 'partition') return {code: 0, stdout: partitions(state.high), stderr: ''}
    if (command === 'sinfo') {
      if (state.sinfoFails) return {code: 1, stdout: '', stderr: 'sinfo: error: Socket timed out on send/recv operation\n'}
      return {code: 0, stdout: SINFO, stderr: ''}
    }
    if (command === 'sbatch' && args[0] === '--test-only') return {code: 0, stdout: '', stderr: TEST_ONLY}
    // A launch first looks for a job carrying its tag: none here.
    if (command === 'squeue') return {code: 0, stdout: '', stderr: ''}
    throw new Error(`unexpected ${command} ${args.join(' ')}`)
  }
  const count = (prefix: string) => calls.filter((c) => c.startsWith(prefix)).length
  return {state, calls, runner, count}
}

describe('Slurm query cache', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skyhop-query-cache-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('keeps only read-only cluster queries, never a job query or a submission', () => {
    expect(cacheableQuery('sinfo', ['--noheader'])).to.equal(true)
    expect(cacheableQuery('scontrol', ['ping'])).to.equal(true)
    expect(cacheableQuery('scontrol', ['show', 'config'])).to.equal(true)
    expect(cacheableQuery('scontrol', ['show', 'partition', '--oneliner'])).to.equal(true)
    expect(cacheableQuery('scontrol', ['show', 'job', '--oneliner', '12'])).to.equal(false)
    expect(cacheableQuery('squeue', ['--noheader'])).to.equal(false)
    expect(cacheableQuery('sbatch', ['--test-only'])).to.equal(false)
    expect(cacheableQuery('sacct', [])).to.equal(false)
  })

  it('answers from the file within the TTL, asks again once it is older, and after a clock step back', async () => {
    let now = 1_000_000
    const cluster = replayCluster()
    const {cached} = cachingRunner(cluster.runner, new SlurmQueryCache({dir, ttlMs: 5_000, cluster: 'a', now: () => now}))
    const first = await cached('sinfo', ['--noheader'])
    now += 4_999
    const second = await cached('sinfo', ['--noheader'])
    expect(second).to.deep.equal(first)
    expect(cluster.count('sinfo')).to.equal(1)
    now += 1
    await cached('sinfo', ['--noheader'])
    expect(cluster.count('sinfo')).to.equal(2)
    now -= 60_000
    await cached('sinfo', ['--noheader'])
    expect(cluster.count('sinfo')).to.equal(3)
  })

  it('is shared by processes of one home (another cache object over the same directory) but not across clusters', async () => {
    const cluster = replayCluster()
    const one = cachingRunner(cluster.runner, new SlurmQueryCache({dir, cluster: 'conf-a|'}))
    const two = cachingRunner(cluster.runner, new SlurmQueryCache({dir, cluster: 'conf-a|'}))
    const other = cachingRunner(cluster.runner, new SlurmQueryCache({dir, cluster: 'conf-b|'}))
    await one.cached('scontrol', ['show', 'config'])
    await two.cached('scontrol', ['show', 'config'])
    expect(cluster.count('scontrol show config')).to.equal(1)
    await other.cached('scontrol', ['show', 'config'])
    expect(cluster.count('scontrol show config')).to.equal(2)
  })

  it('never keeps an error or a controller that is down, and treats an unreadable file as a miss', async () => {
    const cluster = replayCluster()
    const {cached} = cachingRunner(cluster.runner, new SlurmQueryCache({dir, cluster: 'a'}))
    cluster.state.sinfoFails = true
    expect((await cached('sinfo', ['--noheader'])).code).to.equal(1)
    cluster.state.sinfoFails = false
    expect((await cached('sinfo', ['--noheader'])).code).to.equal(0)
    expect(cluster.count('sinfo')).to.equal(2)

    cluster.state.ping = PING_DOWN
    await cached('scontrol', ['ping'])
    cluster.state.ping = PING_UP
    expect((await cached('scontrol', ['ping'])).stdout).to.equal(PING_UP)
    expect(cluster.count('scontrol ping')).to.equal(2)

    for (const f of readdirSync(dir)) writeFileSync(join(dir, f), '{not json')
    await cached('sinfo', ['--noheader'])
    expect(cluster.count('sinfo')).to.equal(3)
  })

  it('a provider with the cache: a second process plans without asking Slurm again; a launch-time read asks and refreshes', async () => {
    const cluster = replayCluster()
    const home = join(dir, 'home')
    const make = () => new SlurmProvider({home, runner: cluster.runner, queryCache: {dir: join(dir, 'cache'), ttlMs: 60_000}})
    const first = make()
    expect((await first.ping()).ok).to.equal(true)
    const offers = await first.liveOffers()
    expect(offers.map((o) => `${o.zone}:${o.capacity}`)).to.deep.equal(['low:1', 'high:1'])
    const asked = cluster.calls.length

    // Another process of the same home, within the TTL: the same offers, nothing asked.
    const second = make()
    expect((await second.ping()).ok).to.equal(true)
    expect(await second.liveOffers()).to.deep.equal(offers)
    expect(cluster.calls.length).to.equal(asked)

    // An admin takes `high` down. A queue estimate (planning) may use the kept partitions;
    // a launch reads them afresh, refuses, and what it read replaces the kept answer.
    cluster.state.high = 'DOWN'
    const high = offers.find((o) => o.zone === 'high')!
    const spec = testJobSpec({run: 'true'})
    expect(await second.estimateQueue(spec, high)).to.not.equal(null)
    expect(cluster.count('scontrol show partition')).to.equal(1)
    const request = {
      jobId: 'j1',
      jobName: 'q',
      attemptId: 'att-q-1',
      attempt: 1,
      restartCount: 0,
      idempotencyKey: 'k',
      spec,
      offer: high,
      spot: false,
      env: {},
      checkpointDir: join(dir, 'ckpt'),
      checkpointSync: null,
      graceSeconds: 5,
    }
    const refused = await second.launch(request).catch((e: unknown) => e as Error)
    expect(refused).to.be.instanceOf(Error)
    expect((refused as Error).message).to.match(/partition high is DOWN/)
    expect(cluster.count('scontrol show partition')).to.equal(2)
    const third = make()
    expect((await third.liveOffers()).find((o) => o.zone === 'high')!.capacity).to.equal(0)
    expect(cluster.count('scontrol show partition')).to.equal(2)
  })

  it('without the option (tests, direct use) every query asks Slurm', async () => {
    const cluster = replayCluster()
    const provider = new SlurmProvider({home: join(dir, 'home'), runner: cluster.runner})
    await provider.liveOffers()
    await provider.liveOffers()
    expect(cluster.count('sinfo')).to.equal(2)
  })
})
