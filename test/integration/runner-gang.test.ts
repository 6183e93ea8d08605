// The runner as one rank of a gang (numNodes > 1): real runner processes over one attempt
// directory, each told its rank as a launcher tells it (SKYHOP_RUNNER_NODE_RANK), the peer
// list from runner.conf, a file or a signed GET, and a notice at one rank reaching every
// rank with the same deadline, through the shared file or a fake object store.
import {expect} from 'chai'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {readEvents, readExitCode, requestStop} from '../../src/providers/attempt-dir.js'
import type {RunnerConfig} from '../../src/runner/contract.js'
import {FakeObjectStore} from '../fakes/fake-object-store.js'
import {killChildren, makeAttempt, ms, removeDirs, startRunner, tempDir, waitFor, type Running} from '../helpers/runner-attempt.js'

/** Prints the gang's variables, one per line, with the newlines of SKYHOP_NODE_IPS as commas. */
const PRINT_ENV = `
for v in SKYHOP_NUM_NODES SKYHOP_NODE_RANK SKYHOP_HEAD_IP SKYHOP_NUM_ACCELERATORS_PER_NODE MASTER_ADDR MASTER_PORT WORLD_SIZE NODE_RANK NNODES \\
  SKYPILOT_NODE_RANK SKYPILOT_NUM_NODES SKYPILOT_NUM_GPUS_PER_NODE DSTACK_MASTER_NODE_IP; do
  printf '%s=%s\\n' "$v" "\${!v-unset}"
done
printf 'SKYHOP_NODE_IPS=%s\\n' "$(printf '%s' "$SKYHOP_NODE_IPS" | tr '\\n' ,)"
printf 'SKYPILOT_NODE_IPS=%s\\n' "$(printf '%s' "\${SKYPILOT_NODE_IPS-unset}" | tr '\\n' ,)"
printf 'PWD=%s\\n' "$PWD"
`

/** Records when it got SIGTERM and the deadline it was handed, then exits 0. */
const NOTICED_JOB = `
trap 'echo "term_at=$(date +%s%3N)"; echo "deadline=$(cat "$SKYHOP_PREEMPT_NOTICE")"; exit 0' TERM
echo ready
while :; do sleep 0.1 & wait $!; done
`

function envOf(dir: string, rank: number): Record<string, string> {
  const text = readFileSync(join(dir, `node-${rank}`, 'output.log'), 'utf8')
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  )
}

function gang(dir: string, nodes: number, extraEnv: Record<string, string> = {}): Running[] {
  return Array.from({length: nodes}, (_, rank) => startRunner(dir, {SKYHOP_RUNNER_NODE_RANK: String(rank), ...extraEnv}))
}

const logOf = (dir: string, rank: number): string => {
  try {
    return readFileSync(join(dir, `node-${rank}`, 'output.log'), 'utf8')
  } catch {
    return ''
  }
}

describe('skyhop-runner.sh in a gang', function () {
  this.timeout(60_000)

  afterEach(killChildren)
  after(removeDirs)

  it('each rank writes into node-<rank>/, works in its own directory, and sees the same peers and its own rank', async () => {
    const config: Partial<RunnerConfig> = {numNodes: 3, nodeIps: ['10.1.0.7', '10.1.0.8', '10.1.0.9'], compat: ['torchrun', 'skypilot']}
    const {dir} = makeAttempt({run: PRINT_ENV, env: {SKYHOP_NUM_ACCELERATORS_PER_NODE: '8'}, config: {...config, workdir: 'work'}})
    const codes = await Promise.all(gang(dir, 3).map((r) => r.done))
    expect(codes).to.deep.equal([0, 0, 0])
    expect(existsSync(join(dir, 'output.log'))).to.equal(false)
    expect(existsSync(join(dir, 'events.jsonl'))).to.equal(false)
    for (let rank = 0; rank < 3; rank++) {
      const node = join(dir, `node-${rank}`)
      expect(readExitCode(node)).to.equal(0)
      const env = envOf(dir, rank)
      expect(env).to.include({
        SKYHOP_NUM_NODES: '3',
        SKYHOP_NODE_RANK: String(rank),
        SKYHOP_NODE_IPS: '10.1.0.7,10.1.0.8,10.1.0.9',
        SKYHOP_HEAD_IP: '10.1.0.7',
        MASTER_ADDR: '10.1.0.7',
        MASTER_PORT: '29500',
        WORLD_SIZE: '3',
        NODE_RANK: String(rank),
        NNODES: '3',
        SKYPILOT_NODE_RANK: String(rank),
        SKYPILOT_NUM_NODES: '3',
        SKYPILOT_NUM_GPUS_PER_NODE: '8',
        SKYPILOT_NODE_IPS: '10.1.0.7,10.1.0.8,10.1.0.9',
        DSTACK_MASTER_NODE_IP: 'unset',
        PWD: join(node, 'work'),
      })
      const events = readEvents(node)
      expect(events[0]).to.include({event: 'runner-start', rank, numNodes: 3})
      expect(events.find((e) => e.event === 'peers')).to.include({count: 3, from: 'nodeIps'})
      expect(events.at(-1)).to.include({event: 'exit', exitCode: 0})
    }
  })

  it('one node is the whole gang: no node-0/, and the variables say 1, 0, 127.0.0.1', async () => {
    const {dir, work} = makeAttempt({run: PRINT_ENV, env: {MASTER_PORT: '1234'}, config: {compat: ['torchrun', 'dstack']}})
    expect(await startRunner(dir).done).to.equal(0)
    expect(existsSync(join(dir, 'node-0'))).to.equal(false)
    const text = readFileSync(join(dir, 'output.log'), 'utf8')
    for (const line of [
      'SKYHOP_NUM_NODES=1',
      'SKYHOP_NODE_RANK=0',
      'SKYHOP_NODE_IPS=127.0.0.1',
      'SKYHOP_HEAD_IP=127.0.0.1',
      'MASTER_ADDR=127.0.0.1',
      'MASTER_PORT=1234',
      'WORLD_SIZE=1',
      'DSTACK_MASTER_NODE_IP=127.0.0.1',
      'SKYPILOT_NODE_RANK=unset',
      `PWD=${work}`,
    ])
      expect(text).to.include(line + '\n')
    expect(readEvents(dir).map((e) => e.event)).to.deep.equal(['runner-start', 'run-start', 'exit'])
  })

  it('waits for nodeIpsFile before starting the job, and records the wait', async () => {
    const root = tempDir()
    const ipsFile = join(root, 'ips')
    const {dir} = makeAttempt({run: PRINT_ENV, config: {numNodes: 2, nodeIpsFile: ipsFile}})
    const runners = gang(dir, 2)
    await new Promise((resolve) => setTimeout(resolve, 600))
    for (const rank of [0, 1]) expect(readEvents(join(dir, `node-${rank}`)).map((e) => e.event)).to.deep.equal(['runner-start'])
    writeFileSync(ipsFile, 'node-a\nnode-b\n')
    expect(await Promise.all(runners.map((r) => r.done))).to.deep.equal([0, 0])
    for (const rank of [0, 1]) {
      expect(envOf(dir, rank)).to.include({SKYHOP_NODE_IPS: 'node-a,node-b', SKYHOP_HEAD_IP: 'node-a', SKYHOP_NODE_RANK: String(rank)})
      const peers = readEvents(join(dir, `node-${rank}`)).find((e) => e.event === 'peers')!
      expect(peers).to.include({count: 2, from: 'nodeIpsFile'})
      expect(Number(peers.seconds)).to.be.greaterThan(0.4)
    }
  })

  it('a peer list of the wrong length is an error; none within peersTimeoutSeconds exits 75 without an exit code', async () => {
    const root = tempDir()
    const ipsFile = join(root, 'ips')
    writeFileSync(ipsFile, '10.0.0.1\n')
    const wrong = makeAttempt({run: 'echo must not run', config: {numNodes: 2, nodeIpsFile: ipsFile}})
    expect(await startRunner(wrong.dir, {SKYHOP_RUNNER_NODE_RANK: '1'}).done).to.equal(70)
    const error = readEvents(join(wrong.dir, 'node-1')).find((e) => e.event === 'error')!
    expect(String(error.message)).to.equal('the peer list from nodeIpsFile has 1 addresses for a gang of 2 nodes')

    const late = makeAttempt({run: 'echo must not run', config: {numNodes: 2, nodeIpsFile: join(root, 'never'), peersTimeoutSeconds: 1}})
    expect(await startRunner(late.dir, {SKYHOP_RUNNER_NODE_RANK: '0'}).done).to.equal(75)
    const node = join(late.dir, 'node-0')
    expect(readEvents(node).map((e) => e.event)).to.deep.equal(['runner-start', 'peers-expired'])
    expect(readExitCode(node)).to.equal(null)
    expect(logOf(late.dir, 0)).to.equal('')
  })

  it('refuses a rank outside the gang, from runner.conf or the launcher', async () => {
    const {dir} = makeAttempt({run: 'echo must not run', config: {numNodes: 2, nodeIps: ['a', 'b']}})
    const runner = startRunner(dir, {SKYHOP_RUNNER_NODE_RANK: '2'})
    expect(await runner.done).to.equal(70)
    expect(runner.stderr()).to.include('the node rank must be a whole number below numNodes (2), not 2')
    expect(readExitCode(dir)).to.equal(null)
    expect(existsSync(join(dir, 'node-2'))).to.equal(false)
  })

  it('reads the peer list from a signed GET, polling through 404s until it is there', async () => {
    const store = new FakeObjectStore()
    const endpoint = await store.start()
    try {
      const url = `${endpoint}/bucket/gang/peers?X-Signature=abc`
      const {dir} = makeAttempt({run: PRINT_ENV, config: {numNodes: 2, nodeIpsUrl: url}})
      const runners = gang(dir, 2)
      await waitFor('a 404 for the peer list', () => store.requests.some((r) => r.key === 'gang/peers' && r.status === 404))
      await fetch(url, {method: 'PUT', body: '192.168.4.1 192.168.4.2'})
      expect(await Promise.all(runners.map((r) => r.done))).to.deep.equal([0, 0])
      for (const rank of [0, 1]) expect(envOf(dir, rank)).to.include({SKYHOP_NODE_IPS: '192.168.4.1,192.168.4.2'})
    } finally {
      await store.stop()
    }
  })

  async function expectOneDeadline(dir: string, nodes: number, noticed: number): Promise<void> {
    const deadlines = new Set<string>()
    for (let rank = 0; rank < nodes; rank++) {
      const node = join(dir, `node-${rank}`)
      const notice = readEvents(node).find((e) => e.event === 'notice')!
      expect(notice, `rank ${rank} notice`).to.not.equal(undefined)
      expect(notice.source).to.equal(rank === noticed ? 'stop-request' : 'gang')
      deadlines.add(String(notice.deadline))
      const log = logOf(dir, rank)
      expect(log, `rank ${rank} log`).to.match(/term_at=\d+/)
      // The job's own deadline (kill time) is the same at every rank, too.
      deadlines.add(`kill ${/deadline=(\S+)/.exec(log)![1]}`)
      expect(readExitCode(node)).to.equal(0)
    }
    expect(deadlines.size, [...deadlines].join(' ')).to.equal(2)
  }

  it('a notice at one rank reaches every rank through gangNoticeFile, with the same deadline', async () => {
    const {dir} = makeAttempt({
      run: NOTICED_JOB,
      config: {numNodes: 3, nodeIps: ['127.0.0.1', '127.0.0.1', '127.0.0.1'], pollIntervalSeconds: 0.2, graceSeconds: 20},
    })
    // gangNoticeFile is the attempt's own gang-notice, as the local provider and Slurm set it.
    const conf = join(dir, 'runner.conf')
    writeFileSync(conf, readFileSync(conf, 'utf8') + `gangNoticeFile='${join(dir, 'gang-notice')}'\n`)
    const runners = gang(dir, 3)
    await waitFor('every rank ready', () => [0, 1, 2].every((rank) => logOf(dir, rank).includes('ready')))
    requestStop(dir, 'preempt', 20)
    const sentAt = Date.now()
    process.kill(runners[1].child.pid!, 'SIGTERM')
    expect(await Promise.all(runners.map((r) => r.done))).to.deep.equal([0, 0, 0])
    await expectOneDeadline(dir, 3, 1)
    expect(Number(readFileSync(join(dir, 'gang-notice'), 'utf8'))).to.equal(
      ms(readEvents(join(dir, 'node-1')).find((e) => e.event === 'notice')!.deadline),
    )
    for (const rank of [0, 2]) {
      const termAt = Number(/term_at=(\d+)/.exec(logOf(dir, rank))![1])
      expect(termAt - sentAt, `rank ${rank}: notice to SIGTERM`).to.be.lessThan(1000)
    }
  })

  it('a notice at one rank reaches every rank through a signed PUT and GET (a fake object store)', async () => {
    const store = new FakeObjectStore()
    const endpoint = await store.start()
    try {
      const url = `${endpoint}/bucket/gang/notice?X-Signature=abc`
      const {dir} = makeAttempt({
        run: NOTICED_JOB,
        config: {numNodes: 2, nodeIps: ['127.0.0.1', '127.0.0.1'], gangNoticePutUrl: url, gangNoticeGetUrl: url, graceSeconds: 20},
      })
      const runners = gang(dir, 2)
      await waitFor('every rank ready', () => [0, 1].every((rank) => logOf(dir, rank).includes('ready')))
      await waitFor('the gang notice polled', () => store.requests.some((r) => r.key === 'gang/notice' && r.status === 404))
      requestStop(dir, 'preempt', 20)
      process.kill(runners[0].child.pid!, 'SIGTERM')
      expect(await Promise.all(runners.map((r) => r.done))).to.deep.equal([0, 0])
      await expectOneDeadline(dir, 2, 0)
      const put = store.object('bucket', 'gang/notice')!
      expect(put.contentType).to.equal('application/octet-stream')
      expect(Number(put.body.toString())).to.equal(ms(readEvents(join(dir, 'node-0')).find((e) => e.event === 'notice')!.deadline))
      expect(readEvents(join(dir, 'node-0')).find((e) => e.event === 'gang-notice')).to.include({published: true})
    } finally {
      await store.stop()
    }
  })
})
