// The built CLI (bin/run.js, real processes) against the fake Compute Engine and the fake
// ARM, through the documented settings: `skyhop check` names each cloud's credential
// source and never a secret, and exits 4 when one is refused; `skyhop launch --wait` runs a
// job on each cloud. Run `npm run build` first. The fakes live in this process, so the CLI
// runs async.
import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {runCliAsync, type CliResult} from '../helpers/cli.js'
import {AZURE_MAX_NODES} from '../../src/providers/azure/azure-provider.js'
import {AZ_SP} from './azure-helpers.js'
import {GCP_SA} from './gcp-helpers.js'
import {gcpControllerWorld, type GcpControllerWorld} from './gcp-azure-world.js'

function lastJson(r: CliResult): {ok: boolean; result?: any; error?: any} {
  const text = r.stdout.trim()
  try {
    return JSON.parse(text)
  } catch {
    return JSON.parse(text.slice(text.lastIndexOf('\n{') + 1))
  }
}

const JOB = `name: hello-cloud
spot: on-demand
recovery:
  grace: 5s
run: |
  echo "hello from the cloud"
`

describe('skyhop CLI with Google Cloud and Azure (fakes)', function () {
  this.timeout(180_000)
  let w: GcpControllerWorld
  let home: string
  let userHome: string
  // The registry looks for gcloud's ADC file and ~/.aws: point HOME at an empty directory.
  const env = (extra: Record<string, string> = {}) => ({...w.cliEnv, HOME: userHome, SKYHOP_CONFIG: '', ...extra})

  beforeEach(async function () {
    w = await gcpControllerWorld()
    home = mkdtempSync(join(tmpdir(), 'skyhop-gcpaz-cli-'))
    userHome = mkdtempSync(join(tmpdir(), 'skyhop-gcpaz-user-'))
  })
  afterEach(async function () {
    await w?.close()
    rmSync(home, {recursive: true, force: true})
    rmSync(userHome, {recursive: true, force: true})
  })

  it('skyhop check reports both clouds with their source, and no secret', async function () {
    const r = await runCliAsync(['check', '--json'], {home, env: env()})
    const byName = Object.fromEntries((lastJson(r).result.providers as Array<{provider: string}>).map((p) => [p.provider, p]))
    expect(byName.gcp).to.deep.equal({
      provider: 'gcp',
      enabled: true,
      adapter: true,
      ok: true,
      source: `GOOGLE_APPLICATION_CREDENTIALS: service account ${GCP_SA}`,
      message: 'credentials work: 2 zones in us-central1',
    })
    expect(byName.azure).to.deep.equal({
      provider: 'azure',
      enabled: true,
      adapter: true,
      ok: true,
      source: `environment (AZURE_CLIENT_ID ${AZ_SP.clientId})`,
      message: 'credentials work: 2 locations in the subscription',
    })
    expect(r.stdout + r.stderr).not.to.include(AZ_SP.clientSecret)
    expect(r.stdout + r.stderr).not.to.include('PRIVATE KEY')
  })

  it('skyhop check exits 4 on a refused secret, and explains a cloud without credentials', async function () {
    const bad = await runCliAsync(['check', '--json'], {
      home,
      env: env({AZURE_CLIENT_SECRET: 'wrong-azure-secret-0001', GOOGLE_APPLICATION_CREDENTIALS: ''}),
    })
    expect(bad.code).to.equal(4)
    const providers = lastJson(bad).result.providers as Array<{provider: string; enabled: boolean; ok: boolean; message: string}>
    const azure = providers.find((p) => p.provider === 'azure')!
    expect(azure.ok).to.equal(false)
    expect(azure.message).to.match(/invalid_client: AADSTS7000215/)
    expect(providers.find((p) => p.provider === 'gcp')).to.deep.include({
      enabled: false,
      message:
        'no credentials found (looked at GOOGLE_APPLICATION_CREDENTIALS, ~/.config/gcloud/application_default_credentials.json, GCE_METADATA_HOST)',
    })
    expect(bad.stdout + bad.stderr).not.to.include('wrong-azure-secret-0001')
  })

  for (const provider of ['gcp', 'azure'] as const) {
    it(`skyhop launch --provider ${provider} --wait runs the job there`, async function () {
      const file = join(home, 'job.yaml')
      writeFileSync(file, JOB)
      const r = await runCliAsync(['launch', file, '--provider', provider, '--catalog', w.catalogFile, '--wait', '--yes', '--json'], {
        home,
        env: env(),
      })
      expect(r.code, r.stderr).to.equal(0)
      const out = lastJson(r)
      expect(out.ok).to.equal(true)
      expect(out.result.attempts.map((a: {provider: string; state: string}) => [a.provider, a.state])).to.deep.equal([
        [provider, 'SUCCEEDED'],
      ])
      const console =
        provider === 'gcp' ? w.gce.consoleOf([...w.gce.instances.values()][0].name) : w.arm.consoleOf([...w.arm.vms.values()][0].name)
      expect(console).to.include('SKYHOP-LOG 1 hello from the cloud')
      if (provider === 'gcp') expect(w.gce.calls.filter((c) => c.action === 'instances.insert')[0].path).to.match(/^zones\/us-central1-a\//)
      else expect(w.arm.calls.filter((c) => c.action === 'virtualMachines.createOrUpdate')).to.have.length(1)
      expect(r.stdout + r.stderr).not.to.include(AZ_SP.clientSecret)
    })
  }

  it('skyhop plan puts a gang on Azure up to its limit of nodes, and excludes Azure with the reason beyond it', async function () {
    const file = join(home, 'gang.yaml')
    const gang = (nodes: number) =>
      `name: az-gang\nnodes: ${nodes}\nspot: on-demand\nplacement:\n  providers: {allow: [azure]}\nrun: echo gang\n`
    writeFileSync(file, gang(AZURE_MAX_NODES))
    const fits = lastJson(await runCliAsync(['plan', file, '--catalog', w.catalogFile, '--json'], {home, env: env()}))
    expect(fits.ok, JSON.stringify(fits)).to.equal(true)
    expect(fits.result.chosen).to.deep.include({provider: 'azure', region: 'eastus', nodes: AZURE_MAX_NODES})
    writeFileSync(file, gang(AZURE_MAX_NODES + 1))
    const r = await runCliAsync(['plan', file, '--catalog', w.catalogFile, '--json'], {home, env: env()})
    // Nothing fits: exit 5 with the exclusions (docs/exit-codes.md).
    expect(r.code, r.stdout).to.equal(5)
    const groups = lastJson(r).error.details.excluded as Array<{reason: string; subject: string; message: string}>
    expect(groups.find((g) => g.reason === 'multi-node-unsupported' && g.subject === 'azure')?.message, JSON.stringify(groups)).to.equal(
      `azure can hold at most ${AZURE_MAX_NODES} nodes in one gang; the job needs ${AZURE_MAX_NODES + 1}`,
    )
  })
})
