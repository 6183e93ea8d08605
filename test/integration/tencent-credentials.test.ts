// Tencent Cloud credentials from the environment, ~/.tencentcloud/credentials and tccli's file.
import {expect} from 'chai'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ProviderError} from '../../src/errors.js'
import {loadTencentCredentials} from '../../src/clouds/tencentcloud/credentials.js'

describe('Tencent Cloud credentials', function () {
  let home: string
  beforeEach(function () {
    home = mkdtempSync(join(tmpdir(), 'skyhop-tc-cred-'))
  })
  afterEach(() => rmSync(home, {recursive: true, force: true}))

  it('prefers the environment, then the SDK profile file, then tccli', async function () {
    mkdirSync(join(home, '.tencentcloud'))
    mkdirSync(join(home, '.tccli'))
    writeFileSync(join(home, '.tencentcloud', 'credentials'), '[default]\nsecret_id = AKIDfile000000001\nsecret_key = tc-file-secret-01\n')
    writeFileSync(join(home, '.tccli', 'cli.credential'), JSON.stringify({secretId: 'AKIDcli0000000001', secretKey: 'tc-cli-secret-001'}))
    const env = await loadTencentCredentials({
      homeDir: home,
      env: {TENCENTCLOUD_SECRET_ID: 'AKIDenv0000000001', TENCENTCLOUD_SECRET_KEY: 'tc-env-secret-001'},
    })
    expect(env.source).to.equal('environment (TENCENTCLOUD_SECRET_ID)')
    const file = await loadTencentCredentials({homeDir: home, env: {}})
    expect(file.credentials).to.deep.equal({secretId: 'AKIDfile000000001', secretKey: 'tc-file-secret-01'})
    expect(file.source).to.equal('profile default (~/.tencentcloud/credentials)')
    const cli = await loadTencentCredentials({homeDir: home, env: {TENCENTCLOUD_PROFILE: 'cli'}})
    expect(cli.source).to.equal('profile cli (~/.tccli/cli.credential)')
    const missing = (await loadTencentCredentials({homeDir: home, env: {}, profile: 'none'}).catch((e: unknown) => e)) as ProviderError
    expect(missing.message).to.match(/profile none: not found/)
  })

  it('reports a missing configuration as an auth error of the provider', async function () {
    const error = (await loadTencentCredentials({homeDir: home, env: {TENCENTCLOUD_SECRET_ID: 'AKIDhalf000000001'}}).catch(
      (e: unknown) => e,
    )) as ProviderError
    expect(error.code).to.equal('PROVIDER_NO_CREDENTIALS')
    expect(error.scope).to.equal('provider')
    expect(error.message).to.include('only one of')
  })
})
