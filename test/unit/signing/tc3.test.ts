// Tencent Cloud TC3-HMAC-SHA256 against both published versions of the worked example
// (values read from test/data/signing/tencent-signature.md): version A end to end,
// version B (masked secret) for the canonical request, string to sign and key chain.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'

import {parseTc3Authorization, signTc3, tc3CanonicalRequest, tc3SigningKey} from '../../../src/clouds/tencentcloud/tc3.js'
import {mdBlock, mdValue, requireVectors} from './vectors.js'

describe('TC3-HMAC-SHA256 signer (Tencent Cloud)', function () {
  let doc = ''
  let a = 0
  let b = 0
  before(function () {
    const path = requireVectors(this, 'tencent-signature.md')
    if (!path) return
    doc = readFileSync(path, 'utf8')
    a = doc.indexOf('## Version A')
    b = doc.indexOf('## Version B')
  })

  function request() {
    return {
      method: 'POST',
      path: '/',
      headers: [
        ['Content-Type', 'application/json; charset=utf-8'],
        ['Host', 'cvm.tencentcloudapi.com'],
        ['X-TC-Action', 'DescribeInstances'],
        ['X-TC-Timestamp', mdValue(doc, '- Timestamp:', a)],
        ['X-TC-Version', '2017-03-12'],
        ['X-TC-Region', 'ap-guangzhou'],
      ] as Array<[string, string]>,
      body: /- Payload[^\n]*\n\s*`([^`]+)`/.exec(doc.slice(a))![1],
    }
  }

  it('version A: reproduces every step and the Authorization header', function () {
    const signed = signTc3(
      request(),
      {secretId: mdValue(doc, '- SecretId:', a), secretKey: mdValue(doc, '- SecretKey:', a)},
      {
        service: 'cvm',
        signedHeaders: ['content-type', 'host'],
      },
    )
    expect(signed.canonicalRequest.split('\n').pop()).to.equal(mdValue(doc, '- HashedRequestPayload:', a))
    expect(signed.canonicalRequest).to.equal(mdBlock(doc, '- CanonicalRequest:', a))
    expect(signed.stringToSign).to.equal(mdBlock(doc, '- StringToSign:', a))
    expect(signed.signature).to.equal(mdValue(doc, '- Signature:', a))
    expect(signed.authorization).to.equal(/- Authorization:\n\s*`([^`]+)`/.exec(doc.slice(a))![1])
  })

  it('version B: canonical request with x-tc-action, string to sign, and the final HMAC from the published key', function () {
    const creq = tc3CanonicalRequest(request(), ['content-type', 'host', 'x-tc-action'])
    expect(creq.text).to.equal(mdBlock(doc, '- CanonicalRequest:', b))
    // The published derived keys were computed from the doc's masked secret (32 asterisks).
    const key = tc3SigningKey('*'.repeat(32), '2019-02-25', 'cvm')
    expect(key.toString('hex')).to.equal(mdValue(doc, '- SecretSigning:', b))
    const signed = signTc3(request(), {secretId: 'AKIDexample', secretKey: '*'.repeat(32)}, {service: 'cvm'})
    expect(signed.stringToSign).to.equal(mdValue(doc, '- StringToSign:', b).replace(/\\n/g, '\n'))
    expect(signed.signature).to.equal(mdValue(doc, '- Signature:', b))
    expect(parseTc3Authorization(signed.authorization)).to.deep.include({
      secretId: 'AKIDexample',
      date: '2019-02-25',
      service: 'cvm',
      signature: signed.signature,
    })
  })

  it('adds the timestamp and token headers', function () {
    const signed = signTc3(
      {
        method: 'POST',
        headers: [
          ['Content-Type', 'application/json'],
          ['Host', 'cvm.tencentcloudapi.com'],
          ['X-TC-Action', 'RunInstances'],
        ],
        body: '{}',
      },
      {secretId: 'AKIDexample', secretKey: 'k'.repeat(32), token: 'tok-example'},
      {service: 'cvm', timestamp: 1700000000},
    )
    expect(signed.headers).to.deep.include(['X-TC-Timestamp', '1700000000'])
    expect(signed.headers).to.deep.include(['X-TC-Token', 'tok-example'])
    expect(signed.credentialScope).to.equal('2023-11-14/cvm/tc3_request')
  })
})
