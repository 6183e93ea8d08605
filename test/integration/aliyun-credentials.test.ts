// Alibaba Cloud credentials from the environment and ~/.aliyun/config.json, in a temp home.
import {expect} from 'chai'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ProviderError} from '../../src/errors.js'
import {loadAliyunCredentials} from '../../src/clouds/aliyun/credentials.js'
import {redact} from '../../src/util/redact.js'

describe('Alibaba Cloud credentials', function () {
  let home: string
  beforeEach(function () {
    home = mkdtempSync(join(tmpdir(), 'skyhop-aliyun-cred-'))
    mkdirSync(join(home, '.aliyun'))
  })
  afterEach(() => rmSync(home, {recursive: true, force: true}))
  const config = (obj: unknown) => writeFileSync(join(home, '.aliyun', 'config.json'), JSON.stringify(obj))

  it('prefers the environment', async function () {
    const got = await loadAliyunCredentials({
      homeDir: home,
      env: {ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAIenv0000000001', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'aliyun-env-secret-1'},
    })
    expect(got.credentials).to.deep.equal({accessKeyId: 'LTAIenv0000000001', accessKeySecret: 'aliyun-env-secret-1'})
    expect(got.source).to.equal('environment (ALIBABA_CLOUD_ACCESS_KEY_ID)')
    expect(redact('k=aliyun-env-secret-1')).to.equal('k=***')
  })

  it('uses the current profile of the CLI file, or the one named', async function () {
    config({
      current: 'work',
      profiles: [
        {name: 'default', mode: 'AK', access_key_id: 'LTAIdefault000001', access_key_secret: 'aliyun-default-s1', region_id: 'cn-hangzhou'},
        {
          name: 'work',
          mode: 'StsToken',
          access_key_id: 'STS.work000000001',
          access_key_secret: 'aliyun-work-secret',
          sts_token: 'aliyun-sts-token-1',
          region_id: 'cn-beijing',
        },
        {name: 'role', mode: 'RamRoleArn', access_key_id: 'x', access_key_secret: 'y'},
      ],
    })
    const cur = await loadAliyunCredentials({homeDir: home, env: {}})
    expect(cur.credentials).to.deep.equal({
      accessKeyId: 'STS.work000000001',
      accessKeySecret: 'aliyun-work-secret',
      securityToken: 'aliyun-sts-token-1',
    })
    expect(cur.source).to.equal('profile work (~/.aliyun/config.json)')
    expect(cur.region).to.equal('cn-beijing')
    const named = await loadAliyunCredentials({homeDir: home, env: {ALIBABA_CLOUD_PROFILE: 'default'}})
    expect(named.credentials.accessKeyId).to.equal('LTAIdefault000001')
    const role = (await loadAliyunCredentials({homeDir: home, env: {}, profile: 'role'}).catch((e: unknown) => e)) as ProviderError
    expect(role.message).to.match(/mode RamRoleArn is not supported/)
    const missing = (await loadAliyunCredentials({homeDir: home, env: {}, profile: 'nope'}).catch((e: unknown) => e)) as ProviderError
    expect(missing.message).to.match(/profile nope: not found/)
  })

  it('says where it looked when nothing is configured', async function () {
    const error = (await loadAliyunCredentials({homeDir: home, env: {}}).catch((e: unknown) => e)) as ProviderError
    expect(error).to.be.instanceOf(ProviderError)
    expect(error.code).to.equal('PROVIDER_NO_CREDENTIALS')
    expect(error.message).to.include('~/.aliyun/config.json')
  })
})
