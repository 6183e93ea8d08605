// The built CLI (bin/run.js, real processes) against the two Chinese clouds' fakes, through
// the documented endpoint overrides: `skyhop check` names each cloud's credential source
// and never a secret; `skyhop plan` excludes CUDA offers for an Ascend-only job; and
// `skyhop launch --wait` runs that job on a Huawei NPU flavor with the CANN image.
// Run `npm run build` first. The fakes live in this process, so the CLI runs async.
import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {runCliAsync, type CliResult} from '../helpers/cli.js'
import {chinaWorld, HW_IMAGES, HW_NPU, type ChinaWorld} from './huawei-tencent-world.js'

/** The --json envelope: the whole stdout, or its last top-level document when log lines came first. */
function lastJson(r: CliResult): {ok: boolean; result?: any; error?: any} {
  const text = r.stdout.trim()
  try {
    return JSON.parse(text)
  } catch {
    return JSON.parse(text.slice(text.lastIndexOf('\n{') + 1))
  }
}

const ASCEND_JOB = `name: npu-train
resources:
  # Any accelerator with 16 GB or more: the runtime list alone rules out the CUDA offers.
  accelerators: [{memory: 16GB.., count: 1..8}]
  runtimes: [cann]
spot: on-demand
recovery:
  grace: 5s
run: |
  echo "training with CANN"
`

describe('skyhop CLI with Huawei Cloud and Tencent Cloud (fakes)', function () {
  this.timeout(180_000)
  let w: ChinaWorld
  let home: string
  let userHome: string
  // The registry looks for ~/.tencentcloud: point HOME at an empty directory.
  const env = (extra: Record<string, string> = {}) => ({...w.cliEnv, HOME: userHome, SKYHOP_CONFIG: '', ...extra})

  beforeEach(async function () {
    w = await chinaWorld()
    home = mkdtempSync(join(tmpdir(), 'skyhop-china-cli-'))
    userHome = mkdtempSync(join(tmpdir(), 'skyhop-china-user-'))
  })
  afterEach(async function () {
    await w?.close()
    rmSync(home, {recursive: true, force: true})
    rmSync(userHome, {recursive: true, force: true})
  })

  it('skyhop check reports both clouds, their credential source, and no secret', async function () {
    const r = await runCliAsync(['check', '--json'], {home, env: env()})
    const out = lastJson(r)
    const byName = Object.fromEntries((out.result.providers as Array<{provider: string}>).map((p) => [p.provider, p]))
    expect(byName.tencentcloud).to.deep.equal({
      provider: 'tencentcloud',
      enabled: true,
      adapter: true,
      ok: true,
      source: 'environment (TENCENTCLOUD_SECRET_ID)',
      message: 'credentials work: 2 zones in ap-guangzhou',
    })
    expect(byName.huaweicloud).to.deep.equal({
      provider: 'huaweicloud',
      enabled: true,
      adapter: true,
      ok: true,
      source: 'environment (HUAWEICLOUD_SDK_AK)',
      message: 'credentials work: 2 availability zones in cn-north-4',
    })
    expect(r.stdout + r.stderr).not.to.include(w.cliEnv.TENCENTCLOUD_SECRET_KEY)
    expect(r.stdout + r.stderr).not.to.include(w.cliEnv.HUAWEICLOUD_SDK_SK)
  })

  it('skyhop check exits 4 on refused keys without printing them, and explains disabled clouds', async function () {
    const bad = await runCliAsync(['check', '--json'], {
      home,
      env: env({TENCENTCLOUD_SECRET_KEY: 'wrong-tencent-secret-key-0001', HUAWEICLOUD_SDK_SK: 'wrong-huawei-secret-key-00001'}),
    })
    expect(bad.code).to.equal(4)
    const providers = lastJson(bad).result.providers as Array<{provider: string; ok: boolean; message: string}>
    for (const name of ['tencentcloud', 'huaweicloud']) {
      const p = providers.find((x) => x.provider === name)!
      expect(p.ok).to.equal(false)
      expect(p.message).to.match(name === 'tencentcloud' ? /AuthFailure\.SignatureFailure/ : /APIGW\.0301/)
    }
    expect(bad.stdout + bad.stderr).not.to.include('wrong-tencent-secret-key-0001')
    expect(bad.stdout + bad.stderr).not.to.include('wrong-huawei-secret-key-00001')

    const none = await runCliAsync(['check', '--json'], {
      home,
      env: {
        HOME: userHome,
        SKYHOP_CONFIG: '',
        TENCENTCLOUD_SECRET_ID: '',
        TENCENTCLOUD_SECRET_KEY: '',
        HUAWEICLOUD_SDK_AK: '',
        HUAWEICLOUD_SDK_SK: '',
      },
    })
    const listed = lastJson(none).result.providers as Array<{provider: string; enabled: boolean; message: string}>
    expect(listed.find((p) => p.provider === 'tencentcloud')).to.deep.include({
      enabled: false,
      message:
        'no credentials found (looked at TENCENTCLOUD_SECRET_ID/TENCENTCLOUD_SECRET_KEY, ~/.tencentcloud/credentials, ~/.tccli/<profile>.credential)',
    })
    expect(listed.find((p) => p.provider === 'huaweicloud')).to.deep.include({
      enabled: false,
      message: 'no credentials found (looked at HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK)',
    })
  })

  it('plans an Ascend-only job on Huawei NPU flavors only, and launches it there with the CANN image', async function () {
    const file = join(home, 'npu.yaml')
    writeFileSync(file, ASCEND_JOB)
    const plan = lastJson(await runCliAsync(['plan', file, '--catalog', w.catalogFile, '--explain', '--json'], {home, env: env()}))
    const candidates = plan.result.candidates as Array<{provider: string; instanceType: string; accelerator: {name: string}}>
    expect(candidates.length).to.be.greaterThan(0)
    expect(
      candidates.every((c) => c.provider === 'huaweicloud' && c.instanceType === HW_NPU && c.accelerator.name === 'Ascend910B'),
    ).to.equal(true)
    const excluded = plan.result.excluded as Array<{reason: string; subject: string}>
    expect(
      excluded
        .filter((e) => e.reason === 'runtime-mismatch')
        .map((e) => e.subject)
        .sort(),
    ).to.deep.equal(['T4', 'V100-32GB'])

    const r = await runCliAsync(['launch', file, '--catalog', w.catalogFile, '--wait', '--yes', '--json'], {home, env: env()})
    expect(r.code, r.stderr).to.equal(0)
    const out = lastJson(r)
    expect(out.ok).to.equal(true)
    expect(
      out.result.attempts.map((a: {provider: string; instanceType: string; state: string}) => [a.provider, a.instanceType, a.state]),
    ).to.deep.equal([['huaweicloud', HW_NPU, 'SUCCEEDED']])
    const create = w.ecs.calls.find((c) => c.action === 'CreatePostPaidServers')!
    expect((create.body as {server: {imageRef: string}}).server.imageRef).to.equal(HW_IMAGES['cn-north-4'][1].id)
    expect(w.cvm.calls.filter((c) => c.action === 'RunInstances')).to.have.length(0)
    expect(r.stdout + r.stderr).not.to.include(w.cliEnv.HUAWEICLOUD_SDK_SK)
  })
})
