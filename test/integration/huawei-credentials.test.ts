// Huawei Cloud AK/SK and per-region project ids from the environment.
import {expect} from 'chai'

import {ProviderError} from '../../src/errors.js'
import {loadHuaweiCredentials} from '../../src/clouds/huaweicloud/credentials.js'
import {redact} from '../../src/util/redact.js'

describe('Huawei Cloud credentials', function () {
  const P1 = '0123456789abcdef0123456789abcdef'
  const P2 = 'fedcba9876543210fedcba9876543210'

  it('reads AK/SK and maps project ids to regions', async function () {
    const got = await loadHuaweiCredentials({
      env: {
        HUAWEICLOUD_SDK_AK: 'HWAKEXAMPLE0000001',
        HUAWEICLOUD_SDK_SK: 'huawei-sk-example-01',
        HUAWEICLOUD_SDK_PROJECT_ID: P1,
        HUAWEICLOUD_SDK_REGION: 'cn-north-4',
        SKYHOP_HUAWEICLOUD_PROJECT_IDS: `cn-east-3=${P2}`,
      },
    })
    expect(got.credentials.projectIds).to.deep.equal({'cn-north-4': P1, 'cn-east-3': P2})
    expect(got.credentials.anyRegionProjectId).to.equal(null)
    expect(got.source).to.equal('environment (HUAWEICLOUD_SDK_AK)')
    expect(redact('huawei-sk-example-01')).to.equal('***')
    const any = await loadHuaweiCredentials({
      env: {HUAWEICLOUD_SDK_AK: 'HWAKEXAMPLE0000001', HUAWEICLOUD_SDK_SK: 'huawei-sk-example-01', HUAWEICLOUD_SDK_PROJECT_ID: P1},
    })
    expect(any.credentials.anyRegionProjectId).to.equal(P1)
  })

  it('refuses a malformed project map and missing keys', async function () {
    const bad = (await loadHuaweiCredentials({
      env: {HUAWEICLOUD_SDK_AK: 'a'.repeat(20), HUAWEICLOUD_SDK_SK: 'b'.repeat(20), SKYHOP_HUAWEICLOUD_PROJECT_IDS: 'cn-north-4'},
    }).catch((e: unknown) => e)) as ProviderError
    expect(bad.message).to.include('SKYHOP_HUAWEICLOUD_PROJECT_IDS')
    const none = (await loadHuaweiCredentials({env: {}}).catch((e: unknown) => e)) as ProviderError
    expect(none.code).to.equal('PROVIDER_NO_CREDENTIALS')
  })
})
