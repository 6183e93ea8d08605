// Presigned checkpoint URLs for Tencent Cloud COS and Huawei Cloud OBS: the published worked
// examples, then round trips through the fake stores' dialects. The vectors are inline because
// test/data/signing has none for these object stores; each names its source.
import {expect} from 'chai'
import {createHash, createHmac} from 'node:crypto'

import {CHECKPOINT_CONTENT_TYPE, type PresignRequest} from '../../../src/clouds/common/presign.js'
import {obsSignature, obsStringToSign, presignObs} from '../../../src/clouds/huaweicloud/obs-presign.js'
import {cosSignature, presignCos} from '../../../src/clouds/tencentcloud/cos-presign.js'
import {parseQueryString, percentDecode} from '../../../src/clouds/common/signing-util.js'
import {cosDialect} from '../../fakes/fake-cos-dialect.js'
import type {ObjectStoreDialect, PresignedRequestView} from '../../fakes/fake-object-store-dialect.js'
import {obsDialect} from '../../fakes/fake-obs-dialect.js'

/** What a store receives when curl fetches `url`: the request line is sent as written. */
function received(url: string, method: string, headers: Record<string, string | undefined> = {}): PresignedRequestView {
  const m = /^https?:\/\/([^/]+)([^?]*)\?(.*)$/.exec(url)
  if (!m) throw new Error(`not a presigned URL: ${url}`)
  return {method, host: m[1], rawPath: m[2], query: parseQueryString(m[3]), headers}
}

const unix = (seconds: number) => new Date(seconds * 1000)

describe('COS presigned URLs (q-sign-algorithm=sha1)', function () {
  // Tencent Cloud COS API, "Request Signature" (cloud.tencent.com/document/product/436/7778,
  // intl: tencentcloud.com/document/product/436/7778), section "Use Cases". The English page
  // prints the path in HttpString as "/exampleobject(tencentcloud)", a translation of the
  // object name; its published hashes are over the original "/exampleobject(腾讯云)".
  const doc = {secretId: 'AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q', secretKey: 'BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz'}

  it('reproduces the doc example "Uploading an object"', function () {
    const host = 'examplebucket-1250000000.cos.ap-beijing.myqcloud.com'
    const signed = cosSignature(
      {
        method: 'PUT',
        pathname: '/exampleobject(腾讯云)',
        params: [],
        headers: [
          ['Date', 'Thu, 16 May 2019 06:45:51 GMT'],
          ['Host', host],
          ['Content-Type', 'text/plain'],
          ['Content-Length', '13'],
          ['Content-MD5', 'mQ/fVh815F3k6TAUm8m0eg=='],
          ['x-cos-acl', 'private'],
          ['x-cos-grant-read', 'uin="100000000011"'],
        ],
        keyTime: '1557989151;1557996351',
        signTime: '1557989151;1557996351',
      },
      doc.secretKey,
    )
    expect(signed.signKey).to.equal('eb2519b498b02ac213cb1f3d1a3d27a3b3c9bc5f')
    expect(signed.urlParamList).to.equal('')
    expect(signed.headerList).to.equal('content-length;content-md5;content-type;date;host;x-cos-acl;x-cos-grant-read')
    expect(signed.httpString).to.equal(
      'put\n/exampleobject(腾讯云)\n\ncontent-length=13&content-md5=mQ%2FfVh815F3k6TAUm8m0eg%3D%3D&content-type=text%2Fplain&date=Thu%2C%2016%20May%202019%2006%3A45%3A51%20GMT&host=examplebucket-1250000000.cos.ap-beijing.myqcloud.com&x-cos-acl=private&x-cos-grant-read=uin%3D%22100000000011%22\n',
    )
    expect(signed.stringToSign).to.equal('sha1\n1557989151;1557996351\n8b2751e77f43a0995d6e9eb9477f4b685cca4172\n')
    expect(signed.signature).to.equal('3b8851a11a569213c17ba8fa7dcf2abec6935172')
  })

  it('reproduces the doc example "Downloading an object"', function () {
    const signed = cosSignature(
      {
        method: 'GET',
        pathname: '/exampleobject(腾讯云)',
        params: [
          ['response-content-type', 'application/octet-stream'],
          ['response-cache-control', 'max-age=600'],
        ],
        headers: [
          ['Date', 'Thu, 16 May 2019 06:55:53 GMT'],
          ['Host', 'examplebucket-1250000000.cos.ap-beijing.myqcloud.com'],
        ],
        keyTime: '1557989753;1557996953',
        signTime: '1557989753;1557996953',
      },
      doc.secretKey,
    )
    expect(signed.signKey).to.equal('937914bf490e9e8c189836aad2052e4feeb35eaf')
    expect(signed.urlParamList).to.equal('response-cache-control;response-content-type')
    expect(signed.headerList).to.equal('date;host')
    expect(signed.stringToSign).to.equal('sha1\n1557989753;1557996953\n54ecfe22f59d3514fdc764b87a32d8133ea611e6\n')
    expect(signed.signature).to.equal('01681b8c9d798a678e43b685a9f1bba0f6c0e012')
  })

  it('builds the virtual-hosted URL, signing the host only, and agrees with a by-hand computation', function () {
    const now = 1_700_000_000
    const url = presignCos(
      {
        method: 'GET',
        bucket: 'examplebucket-1250000000',
        key: 'jobs/j 1/ckpt.tar.gz',
        region: 'ap-guangzhou',
        expiresSeconds: 900,
        now: unix(now),
      },
      doc,
    )
    const host = 'examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com'
    expect(url.startsWith(`https://${host}/jobs/j%201/ckpt.tar.gz?`)).to.equal(true)
    const query = received(url, 'GET').query
    const keyTime = `${now - 60};${now + 900}`
    expect(query.map(([k]) => k)).to.deep.equal([
      'q-sign-algorithm',
      'q-ak',
      'q-sign-time',
      'q-key-time',
      'q-header-list',
      'q-url-param-list',
      'q-signature',
    ])
    expect(Object.fromEntries(query)).to.deep.include({
      'q-sign-algorithm': 'sha1',
      'q-ak': doc.secretId,
      'q-sign-time': keyTime,
      'q-key-time': keyTime,
      'q-header-list': 'host',
      'q-url-param-list': '',
    })
    expect(url).to.include(`q-sign-time=${now - 60}%3B${now + 900}`)
    // The formulas of the doc's pseudocode, written out independently of cos-presign.ts.
    const httpString = `get\n/jobs/j 1/ckpt.tar.gz\n\nhost=${host}\n`
    const signKey = createHmac('sha1', doc.secretKey).update(keyTime).digest('hex')
    const stringToSign = `sha1\n${keyTime}\n${createHash('sha1').update(httpString).digest('hex')}\n`
    expect(Object.fromEntries(query)['q-signature']).to.equal(createHmac('sha1', signKey).update(stringToSign).digest('hex'))
  })

  it('signs the security token as a URL parameter', function () {
    const url = presignCos(
      {method: 'PUT', bucket: 'b-1250000000', key: 'k', region: 'ap-guangzhou', expiresSeconds: 60, now: unix(1_700_000_000)},
      {...doc, token: 'tok+/=en'},
    )
    const query = Object.fromEntries(received(url, 'PUT').query)
    expect(query['q-url-param-list']).to.equal('x-cos-security-token')
    expect(query['x-cos-security-token']).to.equal('tok+/=en')
    expect(url).to.include('x-cos-security-token=tok%2B%2F%3Den')
  })
})

describe('OBS presigned URLs (V2 query-string authentication)', function () {
  it('produces the StringToSign of the OBS doc examples, without and with a security token', function () {
    // Huawei Cloud OBS API Reference, "Authentication of Signature in a URL"
    // (support.huaweicloud.com/intl/en-us/api-obs/obs_04_0011.html), tables 3 and 4. The page
    // publishes no SK for its Signature, so the strings are checked, and that presignObs signs
    // exactly them.
    const base: PresignRequest = {
      method: 'GET',
      bucket: 'examplebucket',
      key: 'objectkey',
      region: 'cn-north-4',
      expiresSeconds: 3600,
      now: unix(1532779451 - 3600),
    }
    const ak = 'MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc'
    const sk = 'an-sk-for-this-test'
    const plain = 'GET\n\n\n1532779451\n/examplebucket/objectkey'
    expect(obsStringToSign({method: 'GET', headers: [], expires: '1532779451', resource: '/examplebucket/objectkey', query: []})).to.equal(
      plain,
    )
    expect(presignObs(base, {ak, sk})).to.equal(
      `https://examplebucket.obs.cn-north-4.myhuaweicloud.com/objectkey?AccessKeyId=${ak}&Expires=1532779451&Signature=${encodeURIComponent(obsSignature(sk, plain))}`,
    )
    const token = 'YwkaRTbdY8g7q....'
    const withToken = `${plain}?x-obs-security-token=${token}`
    expect(
      obsStringToSign({
        method: 'GET',
        headers: [],
        expires: '1532779451',
        resource: '/examplebucket/objectkey',
        query: [['x-obs-security-token', token]],
      }),
    ).to.equal(withToken)
    expect(presignObs(base, {ak, sk, securityToken: token})).to.equal(
      `https://examplebucket.obs.cn-north-4.myhuaweicloud.com/objectkey?AccessKeyId=${ak}&Expires=1532779451&Signature=${encodeURIComponent(obsSignature(sk, withToken))}&x-obs-security-token=${token}`,
    )
  })

  it('reproduces the S3 V2 worked examples, the algorithm OBS V2 inherits', function () {
    // Amazon S3 API Reference, "Signing and authenticating REST requests (AWS signature version
    // 2)" (docs.aws.amazon.com/AmazonS3/latest/API/RESTAuthentication.html): "Query string
    // request authentication alternative" and the "Unicode" example, in the versions of the page
    // with the bucket johnsmith (later versions renamed it but kept the signatures).
    const credentials = {ak: 'AKIAIOSFODNN7EXAMPLE', sk: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'}
    expect(
      presignObs(
        {
          method: 'GET',
          bucket: 'johnsmith',
          key: 'photos/puppy.jpg',
          region: 'us-east-1',
          endpoint: 'http://s3.amazonaws.com',
          expiresSeconds: 600,
          now: unix(1175139620 - 600),
        },
        credentials,
      ),
    ).to.equal(
      'http://s3.amazonaws.com/johnsmith/photos/puppy.jpg?AccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D',
    )
    // The resource is the path as sent, escapes and all (Date stands where Expires does).
    const unicode = obsStringToSign({
      method: 'GET',
      headers: [],
      expires: 'Wed, 28 Mar 2007 01:49:49 +0000',
      resource: '/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re',
      query: [],
    })
    expect(obsSignature(credentials.sk, unicode)).to.equal('DNEZGsoieTZ92F3bUfSPQcbGmlM=')
  })

  it('signs the checkpoint Content-Type into PUT URLs and none into GET URLs', function () {
    const request: PresignRequest = {
      method: 'PUT',
      bucket: 'b',
      key: 'k',
      region: 'cn-north-4',
      expiresSeconds: 60,
      now: unix(1_700_000_000),
    }
    const credentials = {ak: 'AK', sk: 'SK'}
    const signatureOf = (url: string) => Object.fromEntries(received(url, '').query).Signature
    expect(signatureOf(presignObs(request, credentials))).to.equal(
      obsSignature('SK', `PUT\n\n${CHECKPOINT_CONTENT_TYPE}\n1700000060\n/b/k`),
    )
    expect(signatureOf(presignObs({...request, method: 'GET'}, credentials))).to.equal(obsSignature('SK', 'GET\n\n\n1700000060\n/b/k'))
  })
})

interface Store {
  name: string
  presign(request: PresignRequest, token?: string): string
  dialect(secret?: string): ObjectStoreDialect
  tokenParam: string
}

const stores: Store[] = [
  {
    name: 'COS',
    presign: (request, token) => presignCos(request, {secretId: 'AKIDfake', secretKey: 'cos-secret', token}),
    dialect: (secret = 'cos-secret') => cosDialect({AKIDfake: secret}),
    tokenParam: 'x-cos-security-token',
  },
  {
    name: 'OBS',
    presign: (request, token) => presignObs(request, {ak: 'OBSAKFAKE', sk: 'obs-secret', securityToken: token}),
    dialect: (secret = 'obs-secret') => obsDialect({OBSAKFAKE: secret}),
    tokenParam: 'x-obs-security-token',
  },
]

for (const store of stores) {
  describe(`${store.name} presigned URLs against the fake store's dialect`, function () {
    const now = unix(1_700_000_000)
    const request = (method: PresignRequest['method'], key = 'jobs/j-1/attempt-2/checkpoint.tar.gz'): PresignRequest => ({
      method,
      bucket: 'ckpt-1250000000',
      key,
      region: 'test-region',
      endpoint: 'http://127.0.0.1:9000',
      expiresSeconds: 900,
      now,
    })
    // What the runner's curl sends: the checkpoint Content-Type on uploads, nothing on downloads.
    const headersFor = (method: string) => (method === 'PUT' ? {'content-type': CHECKPOINT_CONTENT_TYPE} : {})
    const send = (url: string, method: PresignRequest['method'], at = now, dialect = store.dialect()) =>
      dialect.verify(received(url, method, headersFor(method)), at)

    // DELETE: a cloud attempt's one-time secrets object, removed at boot and at release.
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      for (const key of ['jobs/j 1/attempt 2/ckpt.tar.gz', 'jobs/数据/检查点-ü.tar', 'a+b/c+d=e.tar', "odd !'()*~;&?#%.tar"]) {
        it(`${method} ${JSON.stringify(key)}: verifies, and the key arrives intact`, function () {
          const url = store.presign(request(method, key))
          const arrived = received(url, method, headersFor(method))
          expect(percentDecode(arrived.rawPath)).to.equal(`/ckpt-1250000000/${key}`)
          expect(arrived.host).to.equal('127.0.0.1:9000')
          expect(send(url, method)).to.equal(null)
        })
      }
    }

    it('stays valid through the last second of its lifetime, then is expired', function () {
      const url = store.presign(request('GET'))
      expect(send(url, 'GET', unix(1_700_000_900))).to.equal(null)
      expect(send(url, 'GET', unix(1_700_000_901))).to.deep.equal({status: 403, code: 'AccessDenied', message: 'Request has expired'})
    })

    it('rejects a URL used for another key, with another method, or signed with another secret', function () {
      const url = store.presign(request('GET'))
      const otherKey = url.replace('checkpoint.tar.gz', 'checkpoint.tar.gY')
      expect(send(otherKey, 'GET')?.code).to.equal('SignatureDoesNotMatch')
      expect(send(url, 'PUT')?.code).to.equal('SignatureDoesNotMatch')
      expect(send(url, 'DELETE')?.code).to.equal('SignatureDoesNotMatch')
      expect(send(url, 'GET', now, store.dialect('another-secret'))?.code).to.equal('SignatureDoesNotMatch')
      expect(send(url, 'GET', now, store.name === 'COS' ? cosDialect({}) : obsDialect({}))?.code).to.equal('InvalidAccessKeyId')
    })

    it('carries the security token and covers it with the signature', function () {
      const url = store.presign(request('PUT'), 'session/token+1==')
      expect(Object.fromEntries(received(url, 'PUT').query)[store.tokenParam]).to.equal('session/token+1==')
      expect(send(url, 'PUT')).to.equal(null)
      const swapped = url.replace(/(security-token=)[^&]*/, '$1other')
      expect(send(swapped, 'PUT')?.code).to.equal('SignatureDoesNotMatch')
      const dropped = url.replace(/&x-(cos|obs)-security-token=[^&]*/, '')
      expect(send(dropped, 'PUT')?.code).to.equal('SignatureDoesNotMatch')
    })

    it('answers a URL without a signature with AccessDenied', function () {
      expect(store.dialect().verify(received('http://127.0.0.1:9000/ckpt-1250000000/k?x=1', 'GET'), now)?.code).to.equal('AccessDenied')
    })
  })
}

describe('COS and OBS fake-store specifics', function () {
  it('COS: the host is signed', function () {
    const url = presignCos(
      {
        method: 'GET',
        bucket: 'b-1250000000',
        key: 'k',
        region: 'r',
        endpoint: 'http://127.0.0.1:9000',
        expiresSeconds: 60,
        now: unix(1_700_000_000),
      },
      {secretId: 'AKID', secretKey: 'S'},
    )
    const elsewhere = {...received(url, 'GET'), host: '127.0.0.1:9001'}
    expect(cosDialect({AKID: 'S'}).verify(elsewhere, unix(1_700_000_000))?.code).to.equal('SignatureDoesNotMatch')
  })

  it('OBS: an upload with another Content-Type, or none, does not match', function () {
    const url = presignObs(
      {method: 'PUT', bucket: 'b', key: 'k', region: 'r', endpoint: 'http://127.0.0.1:9000', expiresSeconds: 60, now: unix(1_700_000_000)},
      {ak: 'AK', sk: 'SK'},
    )
    const dialect = obsDialect({AK: 'SK'})
    expect(dialect.verify(received(url, 'PUT', {'content-type': 'application/x-www-form-urlencoded'}), unix(1_700_000_000))?.code).to.equal(
      'SignatureDoesNotMatch',
    )
    expect(dialect.verify(received(url, 'PUT'), unix(1_700_000_000))?.code).to.equal('SignatureDoesNotMatch')
  })

  it('words errors as each store does', function () {
    const cos = cosDialect({}).errorBody({code: 'SignatureDoesNotMatch', message: 'a <b> & c'}, 'req-1')
    expect(cos.contentType).to.equal('application/xml')
    expect(cos.body).to.match(
      /<Error><Code>SignatureDoesNotMatch<\/Code><Message>a &lt;b&gt; &amp; c<\/Message><Resource><\/Resource><RequestId>req-1<\/RequestId><TraceId>[^<]+<\/TraceId><\/Error>$/,
    )
    const obs = obsDialect({}).errorBody({code: 'AccessDenied', message: 'Request has expired'}, 'req-2')
    expect(obs.contentType).to.equal('application/xml')
    expect(obs.body).to.match(
      /<Error><Code>AccessDenied<\/Code><Message>Request has expired<\/Message><RequestId>req-2<\/RequestId><HostId>[^<]+<\/HostId><\/Error>$/,
    )
  })
})
