// The local provider's gangs with real processes: N ranks as N runners in their own
// sessions and process groups, each in node-<rank>/ with its own working directory, the
// same peer list; poll aggregates them, logs reads one rank or all, a preempt to the gang
// (or to one rank's runner alone) stops every rank by one deadline, a failing rank fails
// the gang, cleanup leaves nothing running, and a gang the machine cannot hold is refused.
import {expect} from 'chai'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {Offer} from '../../src/model/catalog.js'
import {ProviderError} from '../../src/errors.js'
import {LocalProvider} from '../../src/providers/local/local-provider.js'
import type {LaunchRequest} from '../../src/providers/provider.js'
import type {GangNode, LaunchHandle, PollResult} from '../../src/model/attempt.js'
import {readEvents} from '../../src/providers/attempt-dir.js'
import {groupAlive, processAlive} from '../../src/providers/local/processes.js'
import type {JobSpec} from '../../src/model/job-spec.js'
import {testJobSpec} from '../helpers/job-spec.js'
import {isTerminal, pollUntil, waitUntil} from '../helpers/wait.js'

const roots: string[] = []
const live: Array<{provider: LocalProvider; handle: LaunchHandle}> = []

function newHome(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-local-gang-'))
  roots.push(dir)
  return dir
}

let counter = 0
function request(home: string, run: string, fields: Partial<JobSpec> = {}, grace = 10): LaunchRequest {
  counter++
  const attemptId = `gang-${process.pid}-${counter}`
  return {
    jobId: 'job-g',
    jobName: 'gang test',
    attemptId,
    attempt: 1,
    restartCount: 0,
    idempotencyKey: `key-${attemptId}`,
    spec: testJobSpec({name: 'gang-test', run, nodes: 3, ...fields}),
    offer: {} as Offer,
    spot: false,
    env: {SKYHOP_NUM_ACCELERATORS_PER_NODE: '0'},
    checkpointDir: join(home, 'checkpoints', 'job-g'),
    checkpointSync: null,
    graceSeconds: grace,
  }
}

async function launch(provider: LocalProvider, req: LaunchRequest): Promise<LaunchHandle> {
  const handle = await provider.launch(req)
  live.push({provider, handle})
  return handle
}

const until = (provider: LocalProvider, handle: LaunchHandle, accept: (r: PollResult) => boolean): Promise<PollResult> =>
  pollUntil(provider, handle, accept, {stepMs: 25})

async function lines(provider: LocalProvider, handle: LaunchHandle, node?: number | 'all'): Promise<string[]> {
  const out: string[] = []
  for await (const line of provider.logs(handle, {follow: false, ...(node === undefined ? {} : {node})})) out.push(line)
  return out
}

const nodesOf = (handle: LaunchHandle) => handle.data.nodes as Array<GangNode & {pid: number}>
const dirOf = (handle: LaunchHandle) => handle.data.attemptDir as string

describe('local provider gangs', function () {
  this.timeout(60_000)

  afterEach(async () => {
    for (const {provider, handle} of live.splice(0)) await provider.cleanup(handle).catch(() => {})
  })
  after(() => {
    for (const root of roots.splice(0)) rmSync(root, {recursive: true, force: true})
  })

  it('runs every rank with the same peers, its own rank and its own working directory; logs one rank or all', async () => {
    const provider = new LocalProvider({home: newHome(), maxNodes: 4})
    const run =
      'echo "rank=$SKYHOP_NODE_RANK of=$SKYHOP_NUM_NODES head=$SKYHOP_HEAD_IP peers=$(echo $SKYHOP_NODE_IPS) pwd=$PWD"; echo "port=$MASTER_PORT"'
    const handle = await launch(provider, request(newHome(), run, {compat: ['torchrun']}))
    const nodes = nodesOf(handle)
    expect(nodes.map((n) => [n.rank, n.ip])).to.deep.equal([
      [0, '127.0.0.1'],
      [1, '127.0.0.1'],
      [2, '127.0.0.1'],
    ])
    expect(new Set(nodes.map((n) => n.pid)).size).to.equal(3)
    expect(handle.data.pid).to.equal(nodes[0].pid)
    const done = await until(provider, handle, isTerminal)
    expect(done).to.include({state: 'SUCCEEDED', exitCode: 0})
    expect(done.nodes!.map((n) => [n.rank, n.state, n.exitCode])).to.deep.equal([
      [0, 'SUCCEEDED', 0],
      [1, 'SUCCEEDED', 0],
      [2, 'SUCCEEDED', 0],
    ])
    const dir = dirOf(handle)
    expect(await lines(provider, handle)).to.deep.equal([
      `rank=0 of=3 head=127.0.0.1 peers=127.0.0.1 127.0.0.1 127.0.0.1 pwd=${join(dir, 'node-0', 'work')}`,
      'port=29500',
    ])
    expect((await lines(provider, handle, 2))[0]).to.equal(
      `rank=2 of=3 head=127.0.0.1 peers=127.0.0.1 127.0.0.1 127.0.0.1 pwd=${join(dir, 'node-2', 'work')}`,
    )
    const all = await lines(provider, handle, 'all')
    expect(all).to.have.length(6)
    for (const rank of [0, 1, 2]) expect(all).to.include(`[rank ${rank}] port=29500`)
    let error: unknown
    try {
      await lines(provider, handle, 3)
    } catch (e) {
      error = e
    }
    expect(error).to.be.instanceOf(ProviderError)
    expect((error as Error).message).to.match(/has no node 3/)
  })

  it('is RUNNING only once every rank runs, and a rank that fails fails the gang; cleanup stops the others', async () => {
    const provider = new LocalProvider({home: newHome(), maxNodes: 4})
    const run = 'if [ "$SKYHOP_NODE_RANK" = 1 ]; then sleep 0.5; echo broken >&2; exit 3; fi; while :; do sleep 0.1; done'
    const handle = await launch(provider, request(newHome(), run))
    const running = await until(provider, handle, (r) => r.state === 'RUNNING')
    expect(running.nodes!.every((n) => n.state === 'RUNNING')).to.equal(true)
    const failed = await until(provider, handle, isTerminal)
    expect(failed).to.include({state: 'FAILED', exitCode: 3})
    expect(failed.reason).to.equal('rank 1: exit 3')
    expect(failed.nodes!.map((n) => n.state)).to.deep.equal(['RUNNING', 'FAILED', 'RUNNING'])
    await provider.cleanup(handle)
    const dir = dirOf(handle)
    await waitUntil(() => nodesOf(handle).every((n) => !processAlive(n.pid)), 5_000, 25)
    for (const rank of [0, 2]) {
      const pgid = Number(readFileSync(join(dir, `node-${rank}`, 'job.pgid'), 'utf8'))
      await waitUntil(() => !groupAlive(pgid), 5_000, 25)
    }
    expect(await provider.listOwned()).to.deep.equal([])
  })

  it('a preempt notice to one rank reaches every rank with the same deadline, and the gang is PREEMPTED', async () => {
    const provider = new LocalProvider({home: newHome(), maxNodes: 4})
    const run = `trap 'echo "term deadline=$(cat "$SKYHOP_PREEMPT_NOTICE")"; exit 0' TERM; echo ready; while :; do sleep 0.1 & wait $!; done`
    const handle = await launch(provider, request(newHome(), run, {}, 20))
    await until(provider, handle, (r) => r.state === 'RUNNING')
    const dir = dirOf(handle)
    await waitUntil(
      () => [0, 1, 2].every((rank) => readFileSync(join(dir, `node-${rank}`, 'output.log'), 'utf8').includes('ready')),
      10_000,
      25,
    )
    // A notice that reaches one node only, as a cloud's reclaim of one machine would: its runner alone is signalled.
    const sentAt = Date.now()
    process.kill(nodesOf(handle)[2].pid, 'SIGTERM')
    const done = await until(provider, handle, isTerminal)
    expect(done.state).to.equal('PREEMPTED')
    expect(done.nodes!.map((n) => n.state)).to.deep.equal(['PREEMPTED', 'PREEMPTED', 'PREEMPTED'])
    const notices = [0, 1, 2].map((rank) => readEvents(join(dir, `node-${rank}`)).find((e) => e.event === 'notice')!)
    expect(notices.map((n) => n.source)).to.deep.equal(['gang', 'gang', 'signal'])
    expect(new Set(notices.map((n) => n.deadline)).size).to.equal(1)
    const signals = [0, 1, 2].map((rank) => readEvents(join(dir, `node-${rank}`)).find((e) => e.event === 'signal')!)
    for (const s of signals) expect(Date.parse(String(s.ts)) - sentAt).to.be.lessThan(1000)
    const deadlines = (await lines(provider, handle, 'all')).filter((l) => l.includes('term deadline=')).map((l) => l.split('=')[1])
    expect(deadlines).to.have.length(3)
    expect(new Set(deadlines).size).to.equal(1)
  })

  it('signal() preempts every rank, and the ranks settle on one deadline', async () => {
    const provider = new LocalProvider({home: newHome(), maxNodes: 4})
    // The job waits 2 s after its SIGTERM before it reads the notice and exits: a rank's runner
    // stops re-reading the gang's file once its job is gone, and on a loaded machine (CI runs
    // beside other suites) the ranks' signals, and their settling, can be a second apart.
    const run = `trap 'sleep 2; echo "term deadline=$(cat "$SKYHOP_PREEMPT_NOTICE")"; exit 0' TERM; echo ready; while :; do sleep 0.1 & wait $!; done`
    const handle = await launch(provider, request(newHome(), run, {}, 20))
    await until(provider, handle, (r) => r.state === 'RUNNING')
    const dir = dirOf(handle)
    await waitUntil(
      () => [0, 1, 2].every((rank) => readFileSync(join(dir, `node-${rank}`, 'output.log'), 'utf8').includes('ready')),
      10_000,
      25,
    )
    await provider.signal(handle, 'preempt', 20)
    const done = await until(provider, handle, isTerminal)
    expect(done.nodes!.map((n) => n.state)).to.deep.equal(['PREEMPTED', 'PREEMPTED', 'PREEMPTED'])
    // Each rank heard the stop itself; the earliest deadline among them is every rank's last word.
    const last = [0, 1, 2].map((rank) =>
      readEvents(join(dir, `node-${rank}`))
        .filter((e) => e.event === 'notice')
        .at(-1)!,
    )
    expect(new Set(last.map((n) => n.deadline)).size).to.equal(1)
    const deadlines = (await lines(provider, handle, 'all')).filter((l) => l.includes('term deadline=')).map((l) => l.split('=')[1])
    expect(new Set(deadlines).size, deadlines.join(' ')).to.equal(1)
  })

  it('signal() reaches every rank: a cancel ends the gang CANCELLED', async () => {
    const provider = new LocalProvider({home: newHome(), maxNodes: 4})
    const handle = await launch(provider, request(newHome(), 'while :; do sleep 0.1; done', {nodes: 2}))
    await until(provider, handle, (r) => r.state === 'RUNNING')
    await provider.signal(handle, 'cancel', 5)
    const done = await until(provider, handle, isTerminal)
    expect(done.state).to.equal('CANCELLED')
    expect(done.nodes!.map((n) => n.state)).to.deep.equal(['CANCELLED', 'CANCELLED'])
  })

  it('with maxConcurrent a gang takes one slot per rank, all at once: two gangs that do not fit together run one after the other', async () => {
    const home = newHome()
    const provider = new LocalProvider({home, maxNodes: 4, maxConcurrent: 3})
    const run = 'echo "start $(date +%s%3N)"; sleep 1; echo "end $(date +%s%3N)"'
    const first = await launch(provider, request(newHome(), run, {nodes: 2}))
    const second = await launch(provider, request(newHome(), run, {nodes: 2}))
    const [a, b] = await Promise.all([until(provider, first, isTerminal), until(provider, second, isTerminal)])
    expect([a.state, b.state]).to.deep.equal(['SUCCEEDED', 'SUCCEEDED'])
    const times = async (handle: LaunchHandle, what: string) =>
      (await lines(provider, handle, 'all')).filter((l) => l.includes(`] ${what} `)).map((l) => Number(l.split(' ').at(-1)))
    const [aEnd, bStart] = [Math.min(...(await times(first, 'end'))), Math.max(...(await times(second, 'start')))]
    const [bEnd, aStart] = [Math.min(...(await times(second, 'end'))), Math.max(...(await times(first, 'start')))]
    // One gang ran whole while the other waited whole: never one rank of each.
    expect(bStart >= aEnd || aStart >= bEnd, `first ${aStart}..${aEnd}, second ${bStart}..${bEnd}`).to.equal(true)
    const waited = [first, second].find((h) => readEvents(join(dirOf(h), 'node-0')).some((e) => e.event === 'slot-wait'))!
    expect(waited, 'one gang queued').to.not.equal(undefined)
    const slots = [0, 1].map((rank) => readEvents(join(dirOf(waited), `node-${rank}`)).find((e) => e.event === 'slot')!.slot)
    expect(new Set(slots).size).to.equal(2)
  })

  it('with whenFull=fail a gang that finds its slots busy starts none of its ranks: a capacity error', async () => {
    const home = newHome()
    const provider = new LocalProvider({home, maxNodes: 4, maxConcurrent: 2, whenFull: 'fail'})
    const holder = await launch(provider, request(newHome(), 'sleep 30', {nodes: 2}))
    await until(provider, holder, (r) => r.state === 'RUNNING')
    const req = request(newHome(), 'echo must not run', {nodes: 2})
    let error: unknown
    try {
      await launch(provider, req)
    } catch (e) {
      error = e
    }
    expect(error).to.be.instanceOf(ProviderError)
    expect(error).to.include({category: 'capacity'})
    expect((error as Error).message).to.equal('local: all 2 local slots are busy')
    // Nothing of it runs, and its directory is gone so that the attempt can launch again.
    expect(existsSync(join(home, 'attempts', req.attemptId))).to.equal(false)
    expect((await provider.listOwned()).map((h) => h.externalId)).to.deep.equal([holder.externalId])
  })

  it('refuses a gang larger than the machine holds, and offers say how many it holds', async () => {
    const provider = new LocalProvider({home: newHome(), maxNodes: 2})
    expect(provider.maxNodes).to.equal(2)
    const offers = await provider.liveOffers()
    expect(offers.every((o) => o.maxNodes === 2 || (o.accelerator !== null && o.maxNodes === Math.min(2, o.accelerator.count)))).to.equal(
      true,
    )
    let error: unknown
    try {
      await provider.launch(request(newHome(), 'true', {nodes: 3}))
    } catch (e) {
      error = e
    }
    expect(error).to.be.instanceOf(ProviderError)
    expect(error).to.include({category: 'capacity'})
    expect((error as Error).message).to.match(/a gang of 3 ranks does not fit on this machine \(at most 2\)/)
  })
})
