// Huawei Cloud SDK-HMAC-SHA256 against the API signing guide's worked example (values read
// from test/data/signing/huawei-signature.md).
import {expect} from 'chai'
import {readFileSync} from 'node:fs'

import {parseSdkHmacAuthorization, sdkHmacCanonicalUri, signSdkHmac} from '../../../src/clouds/huaweicloud/sdk-hmac.js'
import {parseQueryString, sha256Hex} from '../../../src/clouds/common/signing-util.js'
import {mdBlock, mdValue, requireVectors} from './vectors.js'

describe('SDK-HMAC-SHA256 signer (Huawei Cloud)', function () {
  let doc = ''
  before(function () {
    const path = requireVectors(this, 'huawei-signature.md')
    if (path) doc = readFileSync(path, 'utf8')
  })

  it('reproduces the canonical request, string to sign, signature and Authorization', function () {
    const url = new URL(mdValue(doc, '- URL:'))
    const sk = /unmasked example SK in Huawei's SDK test is\s*`([^`]+)`/.exec(doc)![1]
    const signed = signSdkHmac(
      {
        method: mdValue(doc, '- Method:'),
        path: url.pathname,
        query: parseQueryString(url.search.slice(1)),
        headers: [
          ['Host', url.host],
          ['Content-Type', /`Content-Type: ([^`]+)`/.exec(doc)![1]],
          ['X-Sdk-Date', /`X-Sdk-Date: ([^`]+)`/.exec(doc)![1]],
        ],
        body: '',
      },
      {ak: mdValue(doc, '- AK:'), sk},
    )
    expect(signed.canonicalRequest).to.equal(mdBlock(doc, '- CanonicalRequest'))
    expect(sha256Hex(signed.canonicalRequest)).to.equal(mdValue(doc, '- HashedCanonicalRequest:'))
    expect(signed.stringToSign).to.equal(mdBlock(doc, '- StringToSign'))
    expect(signed.authorization).to.equal(/- Authorization \(official page 005[^\n]*\n\s*`([^`]+)`/.exec(doc)![1])
    expect(parseSdkHmacAuthorization(signed.authorization)).to.deep.equal({
      ak: 'QTWAOYTTINDUT2QVKYUC',
      signedHeaders: ['content-type', 'host', 'x-sdk-date'],
      signature: signed.signature,
    })
  })

  it('always ends the canonical URI with a slash and encodes segments once', function () {
    expect(sdkHmacCanonicalUri('/v1/p/servers')).to.equal('/v1/p/servers/')
    expect(sdkHmacCanonicalUri('/v1/a%20b/')).to.equal('/v1/a%20b/')
    expect(sdkHmacCanonicalUri('')).to.equal('/')
  })

  it('adds X-Sdk-Date and the security token', function () {
    const signed = signSdkHmac(
      {method: 'POST', path: '/v1/p/cloudservers', headers: [['Host', 'ecs.cn-north-4.myhuaweicloud.com']], body: '{}'},
      {ak: 'AKexample', sk: 'SKexample', securityToken: 'token-example'},
      {date: new Date('2024-01-01T00:00:00Z')},
    )
    expect(signed.headers).to.deep.include(['X-Sdk-Date', '20240101T000000Z'])
    expect(signed.signedHeaders).to.equal('host;x-sdk-date;x-security-token')
  })
})
