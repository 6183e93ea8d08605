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
      // us-east-1 has no capacity left: a launch there is refused and the failover moves on.
      stock: {'us-east-1': {cpu_4x_general: 0, cpu_4x_generalx: 0}, 'us-west-1': {cpu_4x_general: 2, cpu_4x_generalx: 2}},
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
    const planned = parseEnvelope(plan.stdout).result
    expect(JSON.stringify(planned.candidates?.[0] ?? planned)).to.contain('lambda')

    const launch = await runCliAsync(['launch', jobFile, '--yes', '--wait', '--json'], {home, env})
    expect(launch.code, launch.stderr + launch.stdout).to.equal(0)
    const result = parseEnvelope(launch.stdout).result
    const text = JSON.stringify(result)
    expect(text).to.contain('us-west-1')
    // The refusal in us-east-1 was Lambda's capacity error, and the failover moved on.
    const launches = world.fake.requests.filter((r) => r.path === '/instance-operations/launch')
    const regions = launches.map((l) => (l.body as {region_name: string}).region_name)
    expect(regions[0]).to.equal('us-east-1')
    expect(regions.at(-1)).to.equal('us-west-1')
    const failed = (result.attempts as Array<{state: string; reason: string | null; region: string}>).filter(
      (a) => a.region === 'us-east-1',
    )
    expect(failed.length).to.be.greaterThan(0)
    for (const a of failed) expect(a.reason).to.contain('insufficient-capacity')
    expect(result.job.state).to.equal('SUCCEEDED')
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
})
