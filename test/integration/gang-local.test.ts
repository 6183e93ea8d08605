// Multi-node jobs end to end on the local provider, through the built CLI as a user runs
// them: examples/multi-node.yaml with nodes: 3 (every rank joins the head over TCP and
// checks the gang agrees on its peers), logs by rank, status by node, cost of every
// node; a notice to one rank stopping every rank by one deadline and the gang relaunched;
// a failing rank failing the gang.
import {expect} from 'chai'
import {readFileSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'

import {ROOT, parseEnvelope, runCli, runCliAsync, tempHome} from '../helpers/cli.js'
import {until} from '../helpers/wait.js'

/** Only local (Slurm off), a machine that holds 4 ranks whatever its CPU count, a price to check cost by. */
function config(home: string): Record<string, string> {
  const file = join(home, 'config.yaml')
  writeFileSync(file, 'providers:\n  slurm: {enabled: false}\n  local: {max_nodes: 4, price_per_hour: 3.6}\n')
  return {SKYHOP_CONFIG: file}
}

/** A port nobody listens on now: the example's head listens there. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  await new Promise((resolve) => server.close(resolve))
  return port
}

interface NodeRow {
  rank: number
  externalId: string | null
  ip: string | null
  state: string | null
  exitCode: number | null
}

describe('multi-node jobs on the local provider (end to end)', function () {
  this.timeout(180_000)

  it('runs examples/multi-node.yaml as 3 ranks that agree on their peers; logs, status and cost see every node', async () => {
    const home = tempHome()
    const env = config(home)
    const example = readFileSync(join(ROOT, 'examples', 'multi-node.yaml'), 'utf8')
    expect(example).to.match(/^nodes: 2$/m)
    const file = join(home, 'multi-node.yaml')
    writeFileSync(file, example.replace(/^nodes: 2$/m, `nodes: 3\nenvs: {MASTER_PORT: '${await freePort()}'}`))

    const plan = runCli(['plan', file], {home, env})
    expect(plan.code, plan.stderr).to.equal(0)
    expect(plan.stdout).to.include('cpu ×3 ranks on one machine')

    const r = runCli(['launch', file, '--yes', '--wait'], {home, env})
    expect(r.code, r.stderr + r.stdout).to.equal(0)
    // --wait follows the head.
    expect(r.stdout).to.include('rank 0: gang of 3 ranks [0, 1, 2], peers agree: True')

    const all = runCli(['logs', 'multi-node', '--all-nodes'], {home, env})
    expect(all.code, all.stderr).to.equal(0)
    for (const rank of [0, 1, 2]) {
      expect(all.stdout).to.include(`[rank ${rank}] rank ${rank} of 3: peers 127.0.0.1,127.0.0.1,127.0.0.1 head 127.0.0.1\n`)
      expect(all.stdout).to.include(`[rank ${rank}] rank ${rank}: gang of 3 ranks [0, 1, 2], peers agree: True\n`)
    }
    const one = runCli(['logs', 'multi-node', '--node', '1'], {home, env})
    expect(one.stdout).to.equal(
      'rank 1 of 3: peers 127.0.0.1,127.0.0.1,127.0.0.1 head 127.0.0.1\nrank 1: gang of 3 ranks [0, 1, 2], peers agree: True\n',
    )
    const missing = runCli(['logs', 'multi-node', '--node', '3'], {home, env})
    expect(missing.code).to.equal(2)
    expect(missing.stderr).to.include('job multi-node has no node 3: it runs on 3 nodes (ranks 0 to 2)')
    expect(runCli(['logs', 'multi-node', '--node', '1', '--all-nodes'], {home, env}).code).to.equal(2)

    const status = parseEnvelope(runCli(['status', 'multi-node', '--json'], {home, env}).stdout).result.job
    const nodes = status.attemptsDetail[0].nodes as NodeRow[]
    expect(nodes.map((n) => [n.rank, n.ip, n.state, n.exitCode])).to.deep.equal([
      [0, '127.0.0.1', 'SUCCEEDED', 0],
      [1, '127.0.0.1', 'SUCCEEDED', 0],
      [2, '127.0.0.1', 'SUCCEEDED', 0],
    ])
    expect(runCli(['status', 'multi-node'], {home, env}).stdout).to.match(/attempt 1: 3 nodes\nRANK +STATE/)

    // Every node's billed time: the gang's time at three times the machine's price.
    const cost = parseEnvelope(runCli(['cost', '--json'], {home, env}).stdout).result.groups[0]
    expect(cost.cost.usd).to.be.closeTo(cost.paidHours * 3.6 * 3, 0.0001)
    expect(cost.cost.usd).to.be.greaterThan(0)
  })

  it('a notice to one rank stops every rank by the same deadline, and the whole gang is relaunched', async () => {
    const home = tempHome()
    const env = config(home)
    const file = join(home, 'gang-notice.yaml')
    writeFileSync(
      file,
      [
        'name: gang-notice',
        'nodes: 3',
        'recovery: {grace: 20s}',
        'run: |',
        '  if [ "$SKYHOP_ATTEMPT" = 1 ]; then',
        `    trap 'echo "term deadline=$(cat "$SKYHOP_PREEMPT_NOTICE")"; exit 0' TERM`,
        '    echo ready',
        '    while :; do sleep 0.1 & wait $!; done',
        '  fi',
        '  echo "attempt $SKYHOP_ATTEMPT rank $SKYHOP_NODE_RANK done"',
        '',
      ].join('\n'),
    )
    const launch = runCliAsync(['launch', file, '--yes', '--wait'], {home, env})
    const nodes = await until(
      async () =>
        parseEnvelope(runCli(['status', 'gang-notice', '--json'], {home, env}).stdout).result?.job?.attemptsDetail?.[0]?.nodes as
          NodeRow[] | undefined,
      (n) => n !== undefined && n.every((x) => x.state === 'RUNNING'),
      60_000,
      200,
    )
    await until(
      async () => runCli(['logs', 'gang-notice', '--all-nodes'], {home, env}).stdout,
      (text) => [0, 1, 2].every((rank) => text.includes(`[rank ${rank}] ready`)),
      30_000,
      200,
    )
    // One node's notice, as one machine's reclaim: only rank 1's runner hears it.
    process.kill(Number(nodes![1].externalId), 'SIGTERM')
    const r = await launch
    expect(r.code, r.stderr).to.equal(0)
    const first = runCli(['logs', 'gang-notice', '--attempt', '1', '--all-nodes'], {home, env}).stdout
    const deadlines = [...first.matchAll(/\[rank (\d)\] term deadline=(\S+)/g)].map((m) => [m[1], m[2]])
    expect(deadlines.map(([rank]) => rank).sort()).to.deep.equal(['0', '1', '2'])
    expect(new Set(deadlines.map(([, deadline]) => deadline)).size).to.equal(1)
    const status = parseEnvelope(runCli(['status', 'gang-notice', '--json'], {home, env}).stdout).result.job
    expect(status.attemptsDetail.map((a: {state: string}) => a.state)).to.deep.equal(['PREEMPTED', 'SUCCEEDED'])
    expect((status.attemptsDetail[0].nodes as NodeRow[]).map((n) => n.state)).to.deep.equal(['PREEMPTED', 'PREEMPTED', 'PREEMPTED'])
    const second = runCli(['logs', 'gang-notice', '--attempt', '2', '--all-nodes'], {home, env}).stdout
    for (const rank of [0, 1, 2]) expect(second).to.include(`[rank ${rank}] attempt 2 rank ${rank} done`)
  })

  it('a failing rank fails the gang, with its exit code, and nothing of the gang keeps running', async () => {
    const home = tempHome()
    const env = config(home)
    const file = join(home, 'gang-fail.yaml')
    writeFileSync(
      file,
      'name: gang-fail\nnodes: 3\nrun: |\n  if [ "$SKYHOP_NODE_RANK" = 2 ]; then sleep 0.5; echo "rank 2 gives up" >&2; exit 3; fi\n  exec sleep 300\n',
    )
    const r = runCli(['launch', file, '--yes', '--wait'], {home, env})
    expect(r.code, r.stderr).to.equal(3)
    const status = parseEnvelope(runCli(['status', 'gang-fail', '--json'], {home, env}).stdout).result.job
    expect(status).to.include({state: 'FAILED', exitCode: 3})
    expect(status.attemptsDetail[0].reason).to.equal('rank 2: exit 3')
    const nodes = status.attemptsDetail[0].nodes as NodeRow[]
    expect(nodes[2]).to.include({state: 'FAILED', exitCode: 3})
    // The controller released the gang: the other ranks' runners and jobs are gone.
    await until(
      async () =>
        nodes.filter((n) => {
          try {
            process.kill(Number(n.externalId), 0)
            return true
          } catch {
            return false
          }
        }).length,
      (alive) => alive === 0,
      10_000,
      100,
    )
    expect(runCli(['logs', 'gang-fail', '--node', '2'], {home, env}).stdout).to.include('rank 2 gives up')
  })
})
