// Presigned checkpoint URLs for S3 (SigV4 query auth) and OSS (V1 query signature): the
// published vectors first, then every URL through the fake stores' verifiers, as the runner's
// curl would send it.
import {expect} from 'chai'
import {createHmac} from 'node:crypto'

import {CHECKPOINT_CONTENT_TYPE, type PresignRequest} from '../../../src/clouds/common/presign.js'
import {ossCanonicalizedResource, ossV1Signature, ossV1StringToSign, presignOss} from '../../../src/clouds/aliyun/oss-presign.js'
import {presignS3} from '../../../src/clouds/aws/s3-presign.js'
import {parseQueryString} from '../../../src/clouds/common/signing-util.js'
import type {ObjectStoreDialect, PresignedRequestView} from '../../fakes/fake-object-store-dialect.js'
import {ossDialect} from '../../fakes/fake-oss-dialect.js'
import {s3Dialect} from '../../fakes/fake-s3-dialect.js'

const AWS_DOC = {accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'}
const NOW = new Date('2024-03-01T12:00:00Z')
const KEYS = ['jobs/j-1/attempt 2/ckpt.tar.gz', 'jobs/ünïcødé/检查点.tar', 'a+b/c+d=e&f?g#h', "it's (1)*!~.tar"]

/** What the fake store hands its dialect for a request to `url`, headers as curl sends them. */
function viewOf(url: string, method: string, headers: Record<string, string> = {}): PresignedRequestView {
  const u = new URL(url)
  return {
    method,
    host: u.host,
    rawPath: u.pathname,
    query: parseQueryString(u.search.slice(1)),
    headers: {host: u.host, ...headers},
  }
}

function withQuery(view: PresignedRequestView, edit: (query: Array<[string, string]>) => Array<[string, string]>): PresignedRequestView {
  return {...view, query: edit(view.query)}
}

function codeOf(dialect: ObjectStoreDialect, view: PresignedRequestView, now: Date): string | null {
  return dialect.verify(view, now)?.code ?? null
}

describe('S3 presigned URLs (SigV4 query auth)', function () {
  const creds = {accessKeyId: 'AKIDCHECKPOINT', secretAccessKey: 's3-secret/with+chars'}
  const s3 = s3Dialect({[creds.accessKeyId]: creds.secretAccessKey})
  const base: PresignRequest = {
    method: 'GET',
    bucket: 'ckpt',
    key: 'jobs/j-1/ckpt.tar',
    region: 'us-west-2',
    endpoint: 'http://127.0.0.1:9000',
    expiresSeconds: 900,
    now: NOW,
  }

  it('reproduces the GET example of the S3 API reference byte for byte', function () {
    // "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)", example
    // "Presigned URL": GET examplebucket/test.txt, us-east-1, 20130524T000000Z, 86400 s.
    const url = presignS3(
      {
        method: 'GET',
        bucket: 'examplebucket',
        key: 'test.txt',
        region: 'us-east-1',
        expiresSeconds: 86400,
        now: new Date('2013-05-24T00:00:00Z'),
      },
      AWS_DOC,
    )
    expect(url).to.equal(
      'https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256' +
        '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
        '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
        '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    )
  })

  it('addresses regional, China, dotted and custom-endpoint buckets', function () {
    const at = (over: Partial<PresignRequest>) => new URL(presignS3({...base, endpoint: undefined, ...over}, creds))
    expect(at({region: 'eu-west-1'}).host).to.equal('ckpt.s3.eu-west-1.amazonaws.com')
    expect(at({region: 'cn-north-1'}).host).to.equal('ckpt.s3.cn-north-1.amazonaws.com.cn')
    const dotted = at({bucket: 'my.ckpt', region: 'eu-west-1'})
    expect(`${dotted.host}${dotted.pathname}`).to.equal('s3.eu-west-1.amazonaws.com/my.ckpt/jobs/j-1/ckpt.tar')
    const custom = new URL(presignS3({...base, endpoint: 'http://127.0.0.1:9000/'}, creds))
    expect(`${custom.origin}${custom.pathname}`).to.equal('http://127.0.0.1:9000/ckpt/jobs/j-1/ckpt.tar')
  })

  it('refuses lifetimes S3 would refuse', function () {
    for (const expiresSeconds of [0, -1, 604801, 1.5, Number.NaN]) {
      expect(() => presignS3({...base, expiresSeconds}, creds), String(expiresSeconds)).to.throw(Error, /1 to 604800 seconds/)
    }
    expect(() => presignS3({...base, expiresSeconds: 604800}, creds)).not.to.throw()
  })

  it('round-trips GET, PUT and DELETE through the fake S3, until the last second', function () {
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const view = viewOf(presignS3({...base, method}, creds), method, {'content-type': CHECKPOINT_CONTENT_TYPE})
      expect(s3.verify(view, NOW), method).to.equal(null)
      expect(s3.verify(view, new Date(NOW.getTime() + 900_000)), method).to.equal(null)
      expect(s3.verify(view, new Date(NOW.getTime() + 901_000)), method).to.deep.equal({
        status: 403,
        code: 'AccessDenied',
        message: 'Request has expired',
      })
    }
  })

  it('keeps keys with spaces, unicode, + and reserved characters intact', function () {
    for (const key of KEYS) {
      const url = presignS3({...base, key}, creds)
      expect(decodeURIComponent(new URL(url).pathname), key).to.equal(`/ckpt/${key}`)
      expect(s3.verify(viewOf(url, 'GET'), NOW), key).to.equal(null)
    }
    expect(presignS3({...base, key: 'a b+c'}, creds)).to.contain('/ckpt/a%20b%2Bc?')
  })

  it('rejects a changed key, method, host or lifetime, a wrong secret and an unknown key', function () {
    const view = viewOf(presignS3({...base, method: 'PUT'}, creds), 'PUT')
    expect(codeOf(s3, {...view, rawPath: '/ckpt/jobs/j-2/ckpt.tar'}, NOW)).to.equal('SignatureDoesNotMatch')
    expect(codeOf(s3, {...view, method: 'GET'}, NOW)).to.equal('SignatureDoesNotMatch')
    expect(codeOf(s3, {...view, headers: {host: 'evil.example:9000'}}, NOW)).to.equal('SignatureDoesNotMatch')
    const longer = withQuery(view, (q) => q.map(([k, v]) => [k, k === 'X-Amz-Expires' ? '3600' : v]))
    expect(codeOf(s3, longer, NOW)).to.equal('SignatureDoesNotMatch')
    expect(codeOf(s3Dialect({[creds.accessKeyId]: 'another-secret'}), view, NOW)).to.equal('SignatureDoesNotMatch')
    expect(s3Dialect({}).verify(view, NOW)).to.deep.equal({
      status: 403,
      code: 'InvalidAccessKeyId',
      message: 'The AWS Access Key Id you provided does not exist in our records.',
    })
    expect(
      codeOf(
        s3,
        withQuery(view, () => []),
        NOW,
      ),
    ).to.equal('AccessDenied')
    const partial = withQuery(view, (q) => q.filter(([k]) => k !== 'X-Amz-Date'))
    expect(s3.verify(partial, NOW)?.status).to.equal(400)
    expect(codeOf(s3, partial, NOW)).to.equal('AuthorizationQueryParametersError')
  })

  it('signs the session token into the query', function () {
    const sts = {...creds, sessionToken: 'FwoGZXIvYXdzE+token/with=chars'}
    const url = presignS3(base, sts)
    expect(url).to.contain('&X-Amz-Security-Token=FwoGZXIvYXdzE%2Btoken%2Fwith%3Dchars&')
    const view = viewOf(url, 'GET')
    expect(s3.verify(view, NOW)).to.equal(null)
    expect(
      codeOf(
        s3,
        withQuery(view, (q) => q.filter(([k]) => k !== 'X-Amz-Security-Token')),
        NOW,
      ),
    ).to.equal('SignatureDoesNotMatch')
    const swapped = withQuery(view, (q) => q.map(([k, v]) => [k, k === 'X-Amz-Security-Token' ? 'other' : v]))
    expect(codeOf(s3, swapped, NOW)).to.equal('SignatureDoesNotMatch')
  })

  it("answers with S3's XML error document", function () {
    expect(s3.errorBody({code: 'AccessDenied', message: 'Request has expired'}, 'REQ1')).to.deep.equal({
      contentType: 'application/xml',
      body: '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message><RequestId>REQ1</RequestId></Error>',
    })
  })
})

describe('OSS presigned URLs (V1 query signature)', function () {
  const creds = {accessKeyId: 'LTAIcheckpoint', accessKeySecret: 'oss-secret'}
  const oss = ossDialect({[creds.accessKeyId]: creds.accessKeySecret})
  const base: PresignRequest = {
    method: 'GET',
    bucket: 'ckpt',
    key: 'jobs/j-1/ckpt.tar',
    region: 'cn-hangzhou',
    endpoint: 'http://127.0.0.1:9000',
    expiresSeconds: 900,
    now: NOW,
  }
  const put = {'content-type': CHECKPOINT_CONTENT_TYPE}

  // Vectors from Alibaba's OSS Go SDK v2, oss/signer/signer_test.go (TestV1AuthQuery and
  // TestV1AuthHeader case 1); OSS's own documentation example has its key masked. The
  // query vectors carry a versionId sub-resource, so they test the pieces presignOss is made of.
  it('reproduces the SDK V1 query vectors: plain, and with an STS token', function () {
    const plain = ossV1StringToSign({
      method: 'GET',
      expires: 1699807420,
      canonicalizedResource: ossCanonicalizedResource('/bucket/key', [['versionId', 'versionId']]),
    })
    expect(plain).to.equal('GET\n\n\n1699807420\n/bucket/key?versionId=versionId')
    expect(encodeURIComponent(ossV1Signature('sk', plain))).to.equal('dcLTea%2BYh9ApirQ8o8dOPqtvJXQ%3D')
    const sts = ossV1StringToSign({
      method: 'GET',
      expires: 1699808204,
      canonicalizedResource: ossCanonicalizedResource('/bucket/key+123', [
        ['versionId', 'versionId'],
        ['security-token', 'token'],
      ]),
    })
    expect(sts).to.equal('GET\n\n\n1699808204\n/bucket/key+123?security-token=token&versionId=versionId')
    expect(encodeURIComponent(ossV1Signature('sk', sts))).to.equal('jzKYRrM5y6Br0dRFPaTGOsbrDhY%3D')
  })

  it('reproduces the SDK V1 header vector with Content-MD5, Content-Type and x-oss-* headers', function () {
    const text = ossV1StringToSign({
      method: 'PUT',
      contentMd5: 'eB5eJF1ptWaXm4bijSPyxw==',
      contentType: 'text/html',
      expires: 'Wed, 28 Dec 2022 10:27:41 GMT',
      canonicalizedOssHeaders: 'x-oss-date:Wed, 28 Dec 2022 10:27:41 GMT\nx-oss-meta-author:alice\nx-oss-meta-magic:abracadabra\n',
      canonicalizedResource: ossCanonicalizedResource('/examplebucket/nelson'),
    })
    expect(ossV1Signature('sk', text)).to.equal('kSHKmLxlyEAKtZPkJhG9bZb5k7M=')
  })

  it('builds the whole URL as an independent computation does', function () {
    // No published vector has our exact shape (no versionId), so the expected signature is
    // computed here straight from the documented formula, without the module's helpers.
    const now = new Date((1699808204 - 3600) * 1000)
    const sign = (text: string) => encodeURIComponent(createHmac('sha1', 'sk').update(text, 'utf8').digest('base64'))
    const get = presignOss(
      {...base, endpoint: undefined, key: 'dir/key+123', now, expiresSeconds: 3600},
      {accessKeyId: 'ak', accessKeySecret: 'sk', securityToken: 'token'},
    )
    expect(get).to.equal(
      'https://ckpt.oss-cn-hangzhou.aliyuncs.com/dir/key%2B123?Expires=1699808204&OSSAccessKeyId=ak' +
        `&Signature=${sign('GET\n\n\n1699808204\n/ckpt/dir/key+123?security-token=token')}&security-token=token`,
    )
    const putUrl = presignOss(
      {...base, endpoint: undefined, method: 'PUT', now, expiresSeconds: 3600},
      {accessKeyId: 'ak', accessKeySecret: 'sk'},
    )
    expect(putUrl).to.equal(
      'https://ckpt.oss-cn-hangzhou.aliyuncs.com/jobs/j-1/ckpt.tar?Expires=1699808204&OSSAccessKeyId=ak' +
        `&Signature=${sign('PUT\n\napplication/octet-stream\n1699808204\n/ckpt/jobs/j-1/ckpt.tar')}`,
    )
  })

  it('refuses a lifetime that is not a whole, positive number of seconds', function () {
    for (const expiresSeconds of [0, -5, 2.5]) expect(() => presignOss({...base, expiresSeconds}, creds)).to.throw(Error, /positive/)
  })

  it('round-trips GET, PUT and DELETE through the fake OSS, until the last second', function () {
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const view = viewOf(presignOss({...base, method}, creds), method, method === 'PUT' ? put : {})
      expect(oss.verify(view, NOW), method).to.equal(null)
      expect(oss.verify(view, new Date(NOW.getTime() + 900_999)), method).to.equal(null)
      expect(oss.verify(view, new Date(NOW.getTime() + 901_000)), method).to.deep.equal({
        status: 403,
        code: 'AccessDenied',
        message: 'Request has expired.',
      })
    }
  })

  it('keeps keys with spaces, unicode, + and reserved characters intact', function () {
    for (const key of KEYS) {
      const url = presignOss({...base, method: 'PUT', key}, creds)
      expect(decodeURIComponent(new URL(url).pathname), key).to.equal(`/ckpt/${key}`)
      expect(oss.verify(viewOf(url, 'PUT', put), NOW), key).to.equal(null)
    }
  })

  it('rejects a changed key, method, Content-Type or expiry, a wrong secret and an unknown key', function () {
    const view = viewOf(presignOss({...base, method: 'PUT'}, creds), 'PUT', put)
    expect(codeOf(oss, {...view, rawPath: '/ckpt/jobs/j-2/ckpt.tar'}, NOW)).to.equal('SignatureDoesNotMatch')
    expect(codeOf(oss, {...view, method: 'GET', headers: {host: view.host}}, NOW)).to.equal('SignatureDoesNotMatch')
    // curl -T sends no Content-Type of its own; the runner must send the signed one.
    expect(codeOf(oss, {...view, headers: {host: view.host}}, NOW)).to.equal('SignatureDoesNotMatch')
    expect(codeOf(oss, {...view, headers: {...view.headers, 'content-md5': 'eB5eJF1ptWaXm4bijSPyxw=='}}, NOW)).to.equal(
      'SignatureDoesNotMatch',
    )
    const later = withQuery(view, (q) => q.map(([k, v]) => [k, k === 'Expires' ? String(Number(v) + 3600) : v]))
    expect(codeOf(oss, later, NOW)).to.equal('SignatureDoesNotMatch')
    expect(codeOf(ossDialect({[creds.accessKeyId]: 'another-secret'}), view, NOW)).to.equal('SignatureDoesNotMatch')
    expect(ossDialect({}).verify(view, NOW)).to.deep.equal({
      status: 403,
      code: 'InvalidAccessKeyId',
      message: 'The OSS Access Key Id you provided does not exist in our records.',
    })
    expect(
      codeOf(
        oss,
        withQuery(view, () => []),
        NOW,
      ),
    ).to.equal('AccessDenied')
  })

  it('signs the STS token into the resource', function () {
    const sts = {...creds, securityToken: 'CAIS+token/with=chars'}
    const url = presignOss(base, sts)
    expect(url).to.contain('&security-token=CAIS%2Btoken%2Fwith%3Dchars')
    const view = viewOf(url, 'GET')
    expect(oss.verify(view, NOW)).to.equal(null)
    expect(
      codeOf(
        oss,
        withQuery(view, (q) => q.filter(([k]) => k !== 'security-token')),
        NOW,
      ),
    ).to.equal('SignatureDoesNotMatch')
    const swapped = withQuery(view, (q) => q.map(([k, v]) => [k, k === 'security-token' ? 'other' : v]))
    expect(codeOf(oss, swapped, NOW)).to.equal('SignatureDoesNotMatch')
  })

  it("answers with OSS's XML error document", function () {
    const {contentType, body} = oss.errorBody({code: 'SignatureDoesNotMatch', message: 'a <b> & c'}, 'REQ2')
    expect(contentType).to.equal('application/xml')
    expect(body).to.match(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<Error>\n/)
    expect(body).to.contain('<Code>SignatureDoesNotMatch</Code>')
    expect(body).to.contain('<Message>a &lt;b&gt; &amp; c</Message>')
    expect(body).to.contain('<RequestId>REQ2</RequestId>')
    expect(body).to.match(/<HostId>[^<]+<\/HostId>\n<\/Error>\n$/)
  })
})
