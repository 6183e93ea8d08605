// Multi-node jobs (gangs) on the real Slurm cluster of scripts/slurm-up.sh: four slurmd on
// this machine, one per node (n1..n4 at 127.0.0.1..4), the Hidden partitions gang-low
// (preemptible, GraceTime=10) and gang-high over all of them. A gang is one Slurm job
// (sbatch --nodes=N) whose one step runs a runner on each node; nothing here is faked.
import {expect} from 'chai'
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {ProviderError} from '../../src/errors.js'
import type {LaunchHandle} from '../../src/model/attempt.js'
import {readEvents} from '../../src/providers/attempt-dir.js'
import {SlurmProvider, type SlurmHandleData} from '../../src/providers/slurm/slurm-provider.js'
import {parseEnvelope, ROOT, runCli, tempHome} from '../helpers/cli.js'
import {clusterIdle, pollUntil, removeTempDirs, requireSlurm, slurm, slurmRequest, tempDir} from '../helpers/slurm.js'

const ENDED = new Set(['SUCCEEDED', 'FAILED', 'PREEMPTED', 'CANCELLED', 'LOST'])

/** Each node's NodeAddr, as Slurm has it. */
async function nodeAddrs(): Promise<Map<string, string>> {
  const out = await slurm('sinfo', ['--noheader', '--all', '--Node', '--format=%N %o'])
  return new Map(
    out
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/) as [string, string]),
  )
}

const dirOf = (h: LaunchHandle): string => (h.data as unknown as SlurmHandleData).attemptDir

/** What each rank's job printed as `key=value` words (the run scripts below print one such line). */
function rankLines(attemptDir: string, rank: number): Record<string, string> {
  const text = readFileSync(join(attemptDir, `node-${rank}`, 'output.log'), 'utf8')
  const line = text.split('\n').find((l) => l.startsWith('rank='))
  if (!line) throw new Error(`rank ${rank} printed no rank= line: ${text}`)
  return Object.fromEntries(line.split(' ').map((w) => w.split('=') as [string, string]))
}

const REPORT =
  'echo "rank=$SKYHOP_NODE_RANK nodes=$SKYHOP_NUM_NODES host=$SLURMD_NODENAME head=$SKYHOP_HEAD_IP ips=$(printf %s "$SKYHOP_NODE_IPS" | tr "\\n" ,)"'

describe('slurm gangs (real multi-node Slurm)', function () {
  this.timeout(180_000)
  let home: string
  let provider: SlurmProvider
  let cpus: number
  const cleanups: Array<() => Promise<unknown>> = []

  before(async function () {
    await requireSlurm(this)
    const parts = await slurm('sinfo', ['--noheader', '--all', '--format=%R %D'])
    const gangNodes = Number(/^gang-high (\d+)$/m.exec(parts)?.[1] ?? 0)
    if (gangNodes < 2)
      throw new Error(`the test cluster needs a gang-high partition of 2 or more nodes (scripts/slurm-up.sh); sinfo says:\n${parts}`)
    home = tempDir()
    provider = new SlurmProvider({home, partitions: ['low', 'high', 'gang-low', 'gang-high']})
    cpus = Number((await slurm('sinfo', ['--noheader', '--partition=gang-low', '--format=%c'])).trim().split('\n')[0].replace(/\D.*$/, ''))
  })

  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c().catch(() => undefined)
  })

  after(() => removeTempDirs())

  it('offers each partition with its node count as maxNodes', async () => {
    const offers = await provider.liveOffers()
    const by = new Map(offers.map((o) => [o.instanceType, o]))
    const total = (await nodeAddrs()).size
    expect(by.get('gang-high')?.maxNodes).to.equal(total)
    expect(by.get('gang-low')?.maxNodes).to.equal(total)
    expect(by.get('high')?.maxNodes).to.equal(1)
    expect(provider.maxNodes).to.equal(total)
  })

  it('runs a 2-node gang: one runner per node, each with its rank, all with Slurm’s node list as the peer list', async () => {
    await clusterIdle('RUNNING,COMPLETING,PENDING')
    const handle = await provider.launch(
      slurmRequest(home, `${REPORT}\necho "master=$MASTER_ADDR:$MASTER_PORT world=$WORLD_SIZE"`, {
        partition: 'gang-high',
        nodes: 2,
        cpus: 1,
        compat: ['torchrun'],
      }),
    )
    cleanups.push(() => provider.cleanup(handle))
    expect((handle.data as unknown as SlurmHandleData).nodes?.map((n) => n.rank)).to.deep.equal([0, 1])
    const {last, seen} = await pollUntil(provider, handle, (r) => ENDED.has(r.state), 60_000)
    expect(last.state, seen.join(' → ')).to.equal('SUCCEEDED')
    expect(last.exitCode).to.equal(0)
    expect(last.nodes?.map((n) => `${n.rank}:${n.state}:${n.exitCode}`)).to.deep.equal(['0:SUCCEEDED:0', '1:SUCCEEDED:0'])

    const dir = dirOf(handle)
    const addrs = await nodeAddrs()
    const names = readFileSync(join(dir, 'node-names'), 'utf8').trim().split('\n')
    expect(names).to.have.length(2)
    expect(new Set(names).size, 'two distinct nodes').to.equal(2)
    const peers = names.map((n) => addrs.get(n)).join(',')
    for (const rank of [0, 1]) {
      const seenByRank = rankLines(dir, rank)
      expect(seenByRank).to.deep.include({rank: String(rank), nodes: '2', head: addrs.get(names[0]), ips: peers})
      // Rank r runs on the r-th node of the list: its own address is peers[r].
      expect(seenByRank.host).to.equal(names[rank])
    }
    // The torchrun aliases the job asked for.
    expect(readFileSync(join(dir, 'node-1', 'output.log'), 'utf8')).to.include(`master=${addrs.get(names[0])}:29500 world=2`)
    // The runners saw the list at once: the batch script wrote it before the step started.
    for (const rank of [0, 1]) {
      const peersEvent = readEvents(join(dir, `node-${rank}`)).find((e) => e.event === 'peers')
      expect(peersEvent, `rank ${rank} events`).to.deep.include({count: 2})
    }

    // Logs: the head by default, a rank, or all with the rank prefix.
    const lines = async (node?: number | 'all'): Promise<string[]> => {
      const out: string[] = []
      for await (const l of provider.logs(handle, {follow: false, ...(node === undefined ? {} : {node})})) out.push(l)
      return out
    }
    expect((await lines())[0]).to.match(/^rank=0 /)
    expect((await lines(1))[0]).to.match(/^rank=1 /)
    const all = await lines('all')
    expect(all.filter((l) => l.startsWith('[rank 0] rank=0 '))).to.have.length(1)
    expect(all.filter((l) => l.startsWith('[rank 1] rank=1 '))).to.have.length(1)
    expect(all.every((l) => /^\[rank [01]\] /.test(l))).to.equal(true)
    let bad: unknown
    try {
      await lines(2)
    } catch (error) {
      bad = error
    }
    expect((bad as ProviderError).message).to.match(/no node 2/)
    expect((bad as ProviderError).hint).to.match(/ranks are 0 to 1/)
  })

  it('fails the gang as soon as one rank fails, and cleanup ends the ranks still running', async () => {
    await clusterIdle('RUNNING,COMPLETING,PENDING')
    const handle = await provider.launch(
      slurmRequest(home, `${REPORT}\nif [ "$SKYHOP_NODE_RANK" = 1 ]; then exit 3; fi\nsleep 300`, {
        partition: 'gang-high',
        nodes: 2,
        cpus: 1,
      }),
    )
    cleanups.push(() => provider.cleanup(handle))
    const {last, seen} = await pollUntil(provider, handle, (r) => ENDED.has(r.state), 60_000)
    expect(last.state, seen.join(' → ')).to.equal('FAILED')
    expect(last.exitCode).to.equal(3)
    expect(last.reason).to.match(/^rank 1: exit 3/)
    expect(last.nodes?.map((n) => n.state)).to.deep.equal(['RUNNING', 'FAILED'])

    await provider.cleanup(handle)
    const after = await pollUntil(provider, handle, (r) => r.nodes?.[0].state !== 'RUNNING', 30_000)
    expect(after.last.state).to.equal('FAILED')
    // Every node's processes end (COMPLETING), then the job is CANCELLED.
    let state = ''
    for (let i = 0; i < 150 && state !== 'CANCELLED'; i++) {
      state = (await slurm('squeue', ['--noheader', '--states=all', `--jobs=${handle.externalId}`, '--format=%T'])).trim()
      if (state !== 'CANCELLED') await new Promise((r) => setTimeout(r, 200))
    }
    expect(state).to.equal('CANCELLED')
    // The head heard the cleanup as the cancel it is; rank 1's failure stands.
    expect(readEvents(join(dirOf(handle), 'node-0')).some((e) => e.event === 'cancel')).to.equal(true)
  })

  it('refuses a gang larger than the partition, as a capacity error scoped to the partition', async () => {
    const total = (await nodeAddrs()).size
    for (const [partition, nodes, has] of [
      ['gang-high', total + 1, total],
      ['high', 2, 1],
    ] as const) {
      let error: unknown
      try {
        await provider.launch(slurmRequest(home, 'echo never', {partition, nodes}))
      } catch (e) {
        error = e
      }
      expect(error, partition).to.be.instanceOf(ProviderError)
      const pe = error as ProviderError
      expect(pe.category).to.equal('capacity')
      expect(pe.scope).to.equal('zone')
      expect(pe.message).to.equal(`slurm: partition ${partition} has ${has} node(s); the job needs ${nodes}`)
    }
  })

  for (const how of ['Slurm preempts it (GraceTime)', 'skyhop preempts it (provider.signal)'] as const) {
    it(`delivers one notice to every rank of a gang when ${how}: same deadline, every rank saves, PREEMPTED`, async () => {
      await clusterIdle('RUNNING,COMPLETING,PENDING')
      const req = slurmRequest(
        home,
        [
          REPORT,
          // As in slurm-preemption.test.ts: ignore TERM first (Slurm and the runner both send it), save once.
          'saved=',
          'save() { trap "" TERM; [ -n "$saved" ] && return; saved=1; date +%s.%N > "$SKYHOP_CHECKPOINT_DIR/term-at-$SKYHOP_NODE_RANK"; sleep 1.5; echo saved; exit 0; }',
          'trap save TERM',
          'echo started',
          'while :; do sleep 0.05; done',
        ].join('\n'),
        {partition: 'gang-low', nodes: 2, cpus},
      )
      const handle = await provider.launch(req)
      cleanups.push(() => provider.cleanup(handle))
      await pollUntil(provider, handle, (r) => r.state === 'RUNNING', 60_000)
      const dir = dirOf(handle)
      for (
        let i = 0;
        i < 100 &&
        ![0, 1].every(
          (r) =>
            existsSync(join(dir, `node-${r}`, 'output.log')) &&
            readFileSync(join(dir, `node-${r}`, 'output.log'), 'utf8').includes('started'),
        );
        i++
      )
        await new Promise((r) => setTimeout(r, 100))

      const at = Date.now()
      if (how === 'Slurm preempts it (GraceTime)') {
        // A high-tier job that needs every CPU of rank 1's node (not the head's): Slurm
        // preempts the whole gang for it, and every rank hears of it.
        const rank1Node = readFileSync(join(dir, 'node-names'), 'utf8').trim().split('\n')[1]
        const high = (
          await slurm('sbatch', [
            '--parsable',
            '--partition=gang-high',
            '--nodes=1',
            `--nodelist=${rank1Node}`,
            `--cpus-per-task=${cpus}`,
            '--job-name=skyhop-gang-preemptor',
            '--output=/dev/null',
            '--wrap=sleep 2',
          ])
        ).trim()
        cleanups.push(() => slurm('scancel', [high]))
      } else {
        await provider.signal(handle, 'preempt', 8)
      }
      const {last, seen} = await pollUntil(provider, handle, (r) => ENDED.has(r.state), 60_000)
      expect(last.state, seen.join(' → ')).to.equal('PREEMPTED')
      expect(last.nodes?.map((n) => n.state)).to.deep.equal(['PREEMPTED', 'PREEMPTED'])

      const termAt = [0, 1].map((r) => Number(readFileSync(join(req.checkpointDir, `term-at-${r}`), 'utf8')) * 1000)
      for (const t of termAt) expect((t - at) / 1000, 'SIGTERM after the preemption began').to.be.within(0, 10)
      // Every runner stops by the same deadline (its last notice is the one in force).
      const deadlines = [0, 1].map((r) => {
        const events = readEvents(join(dir, `node-${r}`)).filter((e) => e.event === 'notice')
        expect(events.length, `rank ${r} notices`).to.be.greaterThan(0)
        // The last notice is the one in force: a rank that heard of an earlier deadline from the gang moved to it.
        return String(events.at(-1)!.killAt)
      })
      // eslint-disable-next-line no-console
      console.log(
        `      measured: SIGTERM at the ranks ${termAt.map((t) => ((t - at) / 1000).toFixed(2)).join(' s, ')} s after the preemption began; kill times ${deadlines.join(', ')}`,
      )
      // Slurm signals both ranks at the same moment: each starts from its own deadline and the
      // shared file settles on the earlier, which a rank whose job has already ended may not
      // read again. The ranks' deadlines agree to within the moment they noticed in.
      expect(Math.abs(Date.parse(deadlines[1]) - Date.parse(deadlines[0])), deadlines.join(' vs ')).to.be.at.most(100)
      expect(existsSync(join(dir, 'gang-notice'))).to.equal(true)
      for (const r of [0, 1]) expect(readEvents(join(dir, `node-${r}`)).find((e) => e.event === 'exit')?.beforeDeadline).to.equal(true)
    })
  }
})

describe('slurm gangs through the CLI (real multi-node Slurm)', function () {
  this.timeout(180_000)

  before(async function () {
    await requireSlurm(this)
  })

  /** Only Slurm, its gang partitions and the one-node `high`. */
  function slurmOnly(home: string): Record<string, string> {
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  local: {enabled: false}\n  slurm: {partitions: [gang-high, high]}\n')
    return {SKYHOP_CONFIG: config}
  }

  it('launch --wait runs a nodes: 2 job on two nodes; each rank prints its rank and the same peer list', async () => {
    await clusterIdle('RUNNING,COMPLETING,PENDING')
    const home = tempHome()
    const env = slurmOnly(home)
    const file = join(home, 'gang.yaml')
    writeFileSync(file, `name: slurm-gang\nnodes: 2\nresources: {cpus: 1}\nrun: |\n  ${REPORT}\n`)
    const r = runCli(['launch', file, '--yes', '--wait'], {home, env, timeoutMs: 150_000})
    expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0)
    // The head's output reaches the terminal.
    expect(r.stdout).to.match(/rank=0 nodes=2 host=n\d+ /)

    const attempts = join(home, 'slurm', 'attempts')
    const [attempt] = readdirSync(attempts)
    const dir = join(attempts, attempt)
    const addrs = await nodeAddrs()
    const names = readFileSync(join(dir, 'node-names'), 'utf8').trim().split('\n')
    const peers = names.map((n) => addrs.get(n)).join(',')
    const ranks = [0, 1].map((rank) => rankLines(dir, rank))
    expect(ranks.map((x) => x.rank)).to.deep.equal(['0', '1'])
    expect(ranks.map((x) => x.host)).to.deep.equal(names)
    for (const x of ranks) expect(x).to.deep.include({nodes: '2', ips: peers, head: addrs.get(names[0])})

    const status = parseEnvelope(runCli(['status', 'slurm-gang', '--json'], {home, env}).stdout)
    expect(status.result.job.state).to.equal('SUCCEEDED')
    const [attemptRow] = status.result.job.attemptsDetail as Array<{nodes: Array<{rank: number; state: string; reason: string}>}>
    expect(attemptRow.nodes.map((n) => `${n.rank}:${n.state}`)).to.deep.equal(['0:SUCCEEDED', '1:SUCCEEDED'])
    expect(attemptRow.nodes[1].reason).to.equal(`on ${names[1]} (${addrs.get(names[1])})`)

    // Every rank's lines through the CLI, with the rank prefix.
    const logs = runCli(['logs', 'slurm-gang', '--all-nodes'], {home, env})
    expect(logs.code, logs.stderr).to.equal(0)
    expect(logs.stdout).to.match(/^\[rank 0\] rank=0 nodes=2 /m)
    expect(logs.stdout).to.match(/^\[rank 1\] rank=1 nodes=2 /m)
    expect(runCli(['logs', 'slurm-gang', '--node', '1'], {home, env}).stdout).to.match(/^rank=1 nodes=2 /m)
  })

  it('runs examples/multi-node.yaml on two nodes: the ranks meet at the head over TCP and agree on their peers', async () => {
    await clusterIdle('RUNNING,COMPLETING,PENDING')
    const home = tempHome()
    const env = slurmOnly(home)
    const r = runCli(['launch', join(ROOT, 'examples', 'multi-node.yaml'), '--yes', '--wait'], {home, env, timeoutMs: 150_000})
    expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0)
    const logs = runCli(['logs', 'multi-node', '--all-nodes'], {home, env}).stdout
    for (const rank of [0, 1])
      expect(logs).to.match(new RegExp(`^\\[rank ${rank}\\] rank ${rank}: gang of 2 ranks \\[0, 1\\], peers agree: True$`, 'm'))
    // Each rank worked in a directory of its own (the script writes its helper there).
    const [attempt] = readdirSync(join(home, 'slurm', 'attempts'))
    for (const rank of [0, 1])
      expect(existsSync(join(home, 'slurm', 'attempts', attempt, `node-${rank}`, 'work', 'gang_check.py'))).to.equal(true)
  })

  it('plan excludes partitions with fewer nodes than the job, with the reason', async () => {
    const home = tempHome()
    const env = slurmOnly(home)
    const total = (await nodeAddrs()).size
    const file = join(home, 'wide.yaml')
    writeFileSync(file, `name: too-wide\nnodes: ${total + 1}\nresources: {cpus: 1}\nrun: echo never\n`)
    const r = runCli(['plan', file, '--json'], {home, env})
    // Nothing fits: exit 5 with the exclusions (docs/exit-codes.md).
    expect(r.code, r.stdout).to.equal(5)
    const envelope = parseEnvelope(r.stdout)
    const groups = envelope.error!.details.excluded as Array<{reason: string; subject: string; message: string; count: number}>
    // gang-high spans every node: the backend's limit. high holds one node: its offers are too small.
    const gang = groups.find((g) => g.reason === 'multi-node-unsupported' && g.subject === 'slurm')
    expect(gang, JSON.stringify(groups)).to.not.equal(undefined)
    expect(gang!.message).to.equal(`slurm can hold at most ${total} nodes in one gang; the job needs ${total + 1}`)
    const small = groups.find((g) => g.reason === 'multi-node-unsupported' && g.subject.startsWith('slurm/'))
    expect(small, JSON.stringify(groups)).to.not.equal(undefined)
    expect(small!.message).to.match(
      new RegExp(`^slurm/\\S+ offers hold at most 1 node\\(s\\) in one gang \\(e\\.g\\. high\\); the job needs ${total + 1}$`),
    )
    // Two nodes fit gang-high, not high.
    writeFileSync(file, 'name: two\nnodes: 2\nresources: {cpus: 1}\nrun: echo ok\n')
    const two = parseEnvelope(runCli(['plan', file, '--json'], {home, env}).stdout)
    expect(two.result.chosen.zone, JSON.stringify(two.result.excluded)).to.equal('gang-high')
  })
})
