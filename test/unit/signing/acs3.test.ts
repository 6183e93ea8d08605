// Alibaba Cloud ACS3-HMAC-SHA256 against the fixed-parameter example of the V3 signature
// documentation (values read from test/data/signing/alibaba-signature.md).
import {expect} from 'chai'
import {readFileSync} from 'node:fs'

import {acs3CanonicalRequest, parseAcs3Authorization, signAcs3} from '../../../src/clouds/aliyun/acs3.js'
import {mdBlock, mdValue, requireVectors} from './vectors.js'

describe('ACS3-HMAC-SHA256 signer (Alibaba Cloud)', function () {
  let doc = ''
  before(function () {
    const path = requireVectors(this, 'alibaba-signature.md')
    if (path) doc = readFileSync(path, 'utf8')
  })

  function exampleRequest() {
    const query = ['ImageId', 'RegionId'].map((k) => {
      const m = new RegExp('`' + k + '=([^`]*)`').exec(doc)
      if (!m) throw new Error(`no ${k} in the vector`)
      return [k, m[1]] as [string, string]
    })
    return {
      method: mdValue(doc, '- Method:'),
      path: '/',
      query,
      headers: [
        ['host', mdValue(doc, '- Host:')],
        ['x-acs-action', mdValue(doc, '- x-acs-action:')],
        ['x-acs-version', /x-acs-version: `([^`]+)`/.exec(doc)![1]],
        ['x-acs-date', mdValue(doc, '- x-acs-date:')],
        ['x-acs-signature-nonce', mdValue(doc, '- x-acs-signature-nonce:')],
      ] as Array<[string, string]>,
      body: '',
    }
  }

  it('reproduces the canonical request, string to sign, signature and Authorization', function () {
    const signed = signAcs3(exampleRequest(), {
      accessKeyId: mdValue(doc, '- AccessKeyID:'),
      accessKeySecret: mdValue(doc, '- AccessKeySecret:'),
    })
    expect(signed.canonicalRequest).to.equal(mdBlock(doc, '- CanonicalRequest:'))
    expect(signed.stringToSign).to.equal(mdBlock(doc, '- StringToSign'))
    expect(signed.signature).to.equal(/Signature = hex[^\n]*\n\s*`([0-9a-f]{64})`/.exec(doc)![1])
    const authz = /- Authorization:\n\s*`([^`]+)`/.exec(doc)![1]
    expect(signed.authorization).to.equal(authz)
    expect(signed.headers).to.deep.include(['x-acs-content-sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'])
  })

  it('adds date, nonce, payload hash and security token, and round-trips the header', function () {
    const signed = signAcs3(
      {
        method: 'POST',
        path: '/',
        headers: [
          ['host', 'ecs.cn-hangzhou.aliyuncs.com'],
          ['x-acs-action', 'DescribeInstances'],
          ['x-acs-version', '2014-05-26'],
        ],
        body: 'RegionId=cn-hangzhou',
      },
      {accessKeyId: 'LTAIexample', accessKeySecret: 'secret-example', securityToken: 'sts-token-example'},
      {date: new Date('2024-05-06T07:08:09.123Z'), nonce: 'abc'},
    )
    expect(signed.headers).to.deep.include(['x-acs-date', '2024-05-06T07:08:09Z'])
    expect(signed.headers).to.deep.include(['x-acs-signature-nonce', 'abc'])
    expect(signed.signedHeaders).to.equal(
      'host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version',
    )
    const parsed = parseAcs3Authorization(signed.authorization)!
    expect(parsed.accessKeyId).to.equal('LTAIexample')
    expect(parsed.signature).to.equal(signed.signature)
    // Canonical query encoding: space %20, * %2A, ~ kept, sorted by key.
    const creq = acs3CanonicalRequest({
      method: 'GET',
      path: '/',
      query: [
        ['b', 'x y*~'],
        ['a', '1'],
      ],
      headers: [['host', 'h']],
    })
    expect(creq.text.split('\n')[2]).to.equal('a=1&b=x%20y%2A~')
  })
})
