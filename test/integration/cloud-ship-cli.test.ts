// The built CLI (bin/run.js, real processes) with a cloud whose instances ship their output to
// the job's object store (docs/utilisation.md#where-samples-go), on the Huawei ECS fake and a
// fake OBS bucket that checks OBS's URL signatures: `launch --wait` prints every line of a
// short job (the console is read every 5 s and the job was over before), and `logs` of the
// ended job prints them too once its server is gone (the console then has nothing). Without a
// store, `logs` says why it has nothing and `status` carries the event that said so at launch.
// Run `npm run build` first. The fakes live in this process, so the CLI runs async.
import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseEnvelope, runCliAsync} from '../helpers/cli.js'
import {chinaWorld, cpuOffers, type ChinaWorld} from './huawei-tencent-world.js'

const LINES = Array.from({length: 12}, (_, i) => `line ${i + 1}`)

const SHORT_JOB = `name: short
placement:
  providers: {allow: [huaweicloud]}
spot: on-demand
recovery:
  grace: 5s
run: |
  for i in $(seq 1 12); do echo "line $i"; done
`

describe('skyhop CLI: a cloud job ships its output to the object store (Huawei ECS and OBS fakes)', function () {
  this.timeout(180_000)
  let w: ChinaWorld
  let home: string
  let userHome: string
  const env = (config: string) => ({...w.cliEnv, HOME: userHome, SKYHOP_CONFIG: config})

  afterEach(async function () {
    await w?.close()
    rmSync(home, {recursive: true, force: true})
    rmSync(userHome, {recursive: true, force: true})
  })

  async function start(store: boolean): Promise<{file: string; config: string}> {
    w = await chinaWorld(cpuOffers(), store ? {checkpointStore: 'obs'} : {})
    home = mkdtempSync(join(tmpdir(), 'skyhop-ship-cli-'))
    userHome = mkdtempSync(join(tmpdir(), 'skyhop-ship-user-'))
    const config = join(home, 'config.yaml')
    writeFileSync(
      config,
      'providers:\n  slurm: {enabled: false}\n' +
        (store ? `checkpoint_store: {url: obs://ckpt/runs, region: cn-north-4, endpoint: ${w.objectStore!.endpoint}}\n` : ''),
    )
    const file = join(home, 'short.yaml')
    writeFileSync(file, SHORT_JOB)
    return {file, config}
  }

  /** Waits until the fake has released every server (the console goes with it). */
  async function released(): Promise<void> {
    for (let i = 0; i < 200 && w.ecs.live().length > 0; i++) await new Promise((r) => setTimeout(r, 100))
    expect(w.ecs.live()).to.have.length(0)
  }

  it('launch --wait prints every line of a short job, and logs prints them after the server is gone', async function () {
    const {file, config} = await start(true)
    const r = await runCliAsync(['launch', file, '--catalog', w.catalogFile, '--wait', '--yes'], {home, env: env(config)})
    expect(r.code, r.stderr).to.equal(0)
    const printed = r.stdout.split('\n').filter((l) => /line \d+$/.test(l))
    expect(printed.map((l) => l.replace(/^.*(line \d+)$/, '$1'))).to.deep.equal(LINES)
    await released()
    const logs = await runCliAsync(['logs', 'short', '--json'], {home, env: env(config)})
    expect(logs.code, logs.stderr).to.equal(0)
    expect(parseEnvelope(logs.stdout).result.lines.map((l: {line: string}) => l.line)).to.deep.equal(LINES)
    expect(logs.stdout + logs.stderr).not.to.include(w.cliEnv.HUAWEICLOUD_SDK_SK)
  })

  it('without a store: an event in status at launch, and logs of the gone server says why it has nothing', async function () {
    const {file, config} = await start(false)
    const r = await runCliAsync(['launch', file, '--catalog', w.catalogFile, '--wait', '--yes'], {home, env: env(config)})
    expect(r.code, r.stderr).to.equal(0)
    const status = await runCliAsync(['status', 'short', '--json'], {home, env: env(config)})
    const events = parseEnvelope(status.stdout).result.job.events as Array<{kind: string; data: {message: string}}>
    const said = events.filter((e) => e.kind === 'logs-not-shipped')
    expect(said, JSON.stringify(events.map((e) => e.kind))).to.have.length(1)
    expect(said[0].data.message).to.match(/stay on the instance and go with it \(no checkpoint\.store\)/)
    await released()
    const logs = await runCliAsync(['logs', 'short'], {home, env: env(config)})
    expect(logs.code, logs.stderr).to.equal(0)
    expect(logs.stderr).to.match(/without an object store to ship its output to \(no checkpoint\.store\)/)
  })
})
