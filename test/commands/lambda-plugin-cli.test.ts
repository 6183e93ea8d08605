// Lambda Cloud as a third party would install it: `skyhop plugins link plugins/lambda` into a
// temporary oclif data dir (XDG_DATA_HOME), then the built CLI against the fake Lambda API:
// check lists it, plan chooses its offers, launch runs end to end through a capacity
// failover, and unlinking makes its offers no-adapter again. Plugins live in oclif's data
// dir, never in SKYHOP_HOME.
import {expect} from 'chai'
import {existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ROOT, parseEnvelope, runCliAsync, tempHome} from '../helpers/cli.js'
import {lambdaWorld, type LambdaWorld} from '../helpers/lambda-world.js'

const PLUGIN = join(ROOT, 'plugins', 'lambda')

describe('lambda as a linked plugin (built CLI, fake Lambda API)', function () {
  this.timeout(180_000)
  let world: LambdaWorld
  let xdg: string
  let home: string
  let env: Record<string, string>
  let jobFile: string

  before(function () {
    if (!existsSync(join(PLUGIN, 'dist', 'hook.js'))) throw new Error('plugins/lambda/dist is missing: run `npm run build` first')
  })

  beforeEach(async () => {
    world = await lambdaWorld({
      // us-west-1 has no capacity: Lambda's instance types say so, and no plan goes there.
      stock: {'us-east-1': {cpu_4x_general: 2, cpu_4x_generalx: 2}, 'us-west-1': {cpu_4x_general: 0, cpu_4x_generalx: 0}},
    })
    xdg = mkdtempSync(join(tmpdir(), 'skyhop-xdg-'))
    home = tempHome()
    env = {...world.env, XDG_DATA_HOME: xdg}
    jobFile = join(world.dir, 'job.yaml')
    writeFileSync(
      jobFile,
      [
        'name: on-lambda',
        'resources: {cpus: 4}',
        'placement:',
        '  providers: {allow: [lambda]}',
        '  regions: {allow: [us-east-1, us-west-1]}',
        'run: echo "hello from lambda attempt $SKYHOP_ATTEMPT"',
        '',
      ].join('\n'),
    )
  })
  afterEach(async () => world.stop())

  // Async: the fake answers from this process, which a synchronous spawn would block.
  const cli = (args: string[]) => runCliAsync(args, {home, env})

  it('links into the oclif data dir (not SKYHOP_HOME); check, plan and launch use it; unlink makes lambda no-adapter again', async () => {
    const before = parseEnvelope((await cli(['plan', jobFile, '--all-providers', '--explain', '--json'])).stdout)
    expect(JSON.stringify(before)).to.contain('no-adapter')

    const linked = await cli(['plugins', 'link', PLUGIN, '--no-install'])
    expect(linked.code, linked.stderr).to.equal(0)
    // Where oclif keeps it: the data dir's package.json, beside nothing of skyhop's state.
    const pjson = JSON.parse(readFileSync(join(xdg, 'skyhop', 'package.json'), 'utf8'))
    expect(pjson.oclif.plugins.map((p: {name: string}) => p.name)).to.include('@skyhop/plugin-lambda')
    expect(readdirSync(home).filter((f) => /plugin|package\.json|node_modules/.test(f))).to.deep.equal([])

    const check = await cli(['check', '--json'])
    const rows = parseEnvelope(check.stdout).result.providers as Array<{provider: string; enabled: boolean; ok: boolean; adapter: boolean}>
    const lambda = rows.find((r) => r.provider === 'lambda')
    expect(lambda, check.stdout).to.include({enabled: true, ok: true, adapter: true})

    const plan = await cli(['plan', jobFile, '--json'])
    expect(plan.code, plan.stderr).to.equal(0)
    const candidates = parseEnvelope(plan.stdout).result.candidates as Array<{provider: string; region: string}>
    expect(candidates.length).to.be.greaterThan(0)
    // Lambda's live capacity replaced the catalog's rows: only us-east-1 has some.
    expect([...new Set(candidates.map((c) => `${c.provider}/${c.region}`))]).to.deep.equal(['lambda/us-east-1'])

    // Capacity runs out between the plan and the launch: Lambda refuses the first launch.
    world.fake.inject({
      path: '/instance-operations/launch',
      status: 400,
      code: 'instance-operations/launch/insufficient-capacity',
      message: 'Not enough capacity to fulfill launch request.',
    })
    const launch = await runCliAsync(['launch', jobFile, '--yes', '--wait', '--json'], {home, env})
    expect(launch.code, launch.stderr + launch.stdout).to.equal(0)
    const result = parseEnvelope(launch.stdout).result
    expect(result.job.state).to.equal('SUCCEEDED')
    const attempts = result.attempts as Array<{state: string; reason: string | null; region: string; instanceType: string}>
    expect(attempts.length).to.equal(2)
    expect(attempts[0].reason).to.contain('insufficient-capacity')
    expect(attempts[1].state).to.equal('SUCCEEDED')
    // The failover moved on to another offer, not the refused one again.
    expect(`${attempts[1].region}/${attempts[1].instanceType}`).not.to.equal(`${attempts[0].region}/${attempts[0].instanceType}`)
    // The instance was terminated once the job ended.
    expect(world.fake.requests.some((r) => r.path === '/instance-operations/terminate')).to.equal(true)

    const unlinked = await cli(['plugins', 'unlink', '@skyhop/plugin-lambda'])
    expect(unlinked.code, unlinked.stderr).to.equal(0)
    const after = await cli(['check', '--json'])
    const afterRow = (parseEnvelope(after.stdout).result.providers as Array<{provider: string; adapter: boolean}>).find(
      (r) => r.provider === 'lambda',
    )
    expect(afterRow?.adapter).to.equal(false)
    const offers = parseEnvelope((await cli(['offers', '-p', 'lambda', '--limit', '1', '--json'])).stdout).result.offers
    expect(offers[0].launchable).to.equal(false)
  })

  it('without SKYHOP_HOME: plugins in $XDG_DATA_HOME/skyhop, skyhop state in its state/ subdirectory, never mixed', async () => {
    const noHome = {...env, SKYHOP_HOME: undefined}
    const linked = await runCliAsync(['plugins', 'link', PLUGIN, '--no-install'], {env: noHome})
    expect(linked.code, linked.stderr).to.equal(0)
    const checked = await runCliAsync(['check', '--json'], {env: noHome})
    const rows = parseEnvelope(checked.stdout).result.providers as Array<{provider: string; ok: boolean}>
    expect(rows.find((r) => r.provider === 'lambda')?.ok).to.equal(true)
    const data = join(xdg, 'skyhop')
    expect(existsSync(join(data, 'package.json'))).to.equal(true)
    const state = join(data, 'state')
    expect(existsSync(join(state, 'package.json'))).to.equal(false)
    expect(existsSync(join(state, 'node_modules'))).to.equal(false)
  })

  it('a detached launch: the background controller loads the plugin too and drives the job to its end', async () => {
    const linked = await cli(['plugins', 'link', PLUGIN, '--no-install'])
    expect(linked.code, linked.stderr).to.equal(0)
    const launched = await cli(['launch', jobFile, '--yes', '--detach', '--json'])
    expect(launched.code, launched.stderr + launched.stdout).to.equal(0)
    const id = parseEnvelope(launched.stdout).result.job.id as string
    const deadline = Date.now() + 60_000
    let state = ''
    while (Date.now() < deadline) {
      const status = await cli(['status', id, '--json'])
      state = parseEnvelope(status.stdout).result.job.state
      if (['SUCCEEDED', 'FAILED', 'LOST', 'CANCELLED'].includes(state)) break
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    expect(state).to.equal('SUCCEEDED')
    expect(world.fake.requests.some((r) => r.path === '/instance-operations/terminate')).to.equal(true)
  })
})
