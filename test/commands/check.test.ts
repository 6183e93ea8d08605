// `skyhop check` through the built CLI: the catalog's providers skyhop has no adapter for are
// listed as such, never as missing credentials (issue 21); the --json result matches its schema.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {parseEnvelope, runCli, tempHome} from '../helpers/cli.js'
import {schemaErrors} from '../unit/catalog/helpers.js'

interface Row {
  provider: string
  enabled: boolean
  adapter: boolean
  ok: boolean
  message: string
}

describe('skyhop check', function () {
  this.timeout(60_000)

  it('says "no adapter" for catalog providers skyhop cannot launch on, not "no credentials found"', () => {
    const home = tempHome()
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
    // No kubeconfig or cloud credentials of the machine running the tests.
    const env = {
      SKYHOP_CONFIG: config,
      PATH: '/nonexistent',
      HOME: home,
      KUBECONFIG: undefined,
      KUBERNETES_SERVICE_HOST: undefined,
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
    }
    const r = runCli(['check', '--json'], {home, env})
    expect(r.code, r.stderr).to.equal(0)
    const result = parseEnvelope(r.stdout).result
    expect(schemaErrors('check', result)).to.equal('')
    const rows = new Map((result.providers as Row[]).map((p) => [p.provider, p]))
    for (const name of ['lambda', 'oci']) {
      const row = rows.get(name)
      expect(row, name).to.not.equal(undefined)
      expect(row).to.deep.include({enabled: false, adapter: false, ok: false})
      expect(row!.message).to.match(/^no adapter/)
      expect(row!.message).to.not.match(/credentials/)
    }
    expect(rows.get('local')).to.deep.include({enabled: true, adapter: true})
    expect(rows.get('aws')).to.deep.include({enabled: false, adapter: true})
    expect(rows.get('aws')!.message).to.match(/^no credentials found/)
    expect(rows.get('kubernetes')).to.deep.include({enabled: false, adapter: true})
    expect(rows.get('gcp')).to.deep.include({adapter: true})
    expect(rows.get('kubernetes')!.message).to.equal(
      'no kubeconfig found (looked at KUBECONFIG, ~/.kube/config, the in-cluster service account)',
    )
    // Every provider once.
    expect(rows.size).to.equal(result.providers.length)

    const text = runCli(['check'], {home, env})
    expect(text.code, text.stderr).to.equal(0)
    expect(text.stdout).to.match(/^lambda\s+no\s+-\s+-\s+no adapter/m)
  })
})
