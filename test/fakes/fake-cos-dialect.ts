// How a FAKE Tencent Cloud COS checks a presigned URL and words its errors: the signature is
// recomputed from what arrived (method, decoded path, the headers named by q-header-list, the
// parameters named by q-url-param-list), as COS does, so a URL signed for another key, method
// or host fails here as it would there.
import {escapeXml} from '../../src/clouds/aws/xml.js'
import {cosSignature} from '../../src/clouds/tencentcloud/cos-presign.js'
import {percentDecode, rfc3986Encode, signaturesEqual} from '../../src/clouds/common/signing-util.js'
import {type DialectError, type ObjectStoreDialect, type PresignedRequestView, denied} from './fake-object-store-dialect.js'

/** `secrets` maps SecretId to SecretKey. */
export function cosDialect(secrets: Record<string, string>): ObjectStoreDialect {
  return {
    name: 'cos',
    verify(request: PresignedRequestView, now: Date): DialectError | null {
      const param = (name: string) => request.query.find(([k]) => rfc3986Encode(k).toLowerCase() === name)?.[1]
      const ak = param('q-ak')
      const signTime = param('q-sign-time')
      const keyTime = param('q-key-time')
      const signature = param('q-signature')
      if (param('q-sign-algorithm') !== 'sha1' || !ak || !signTime || !keyTime || !signature) {
        return denied('AccessDenied', 'Access Denied.')
      }
      const secretKey = secrets[ak]
      if (secretKey === undefined) return denied('InvalidAccessKeyId', 'The Access Key Id you provided does not exist in our records.')
      const end = Number(signTime.split(';')[1])
      if (!(end >= now.getTime() / 1000)) return denied('AccessDenied', 'Request has expired')
      const names = (list: string | undefined) => (list ?? '').split(';').filter((n) => n !== '')
      const expected = cosSignature(
        {
          method: request.method,
          pathname: percentDecode(request.rawPath),
          params: names(param('q-url-param-list')).map((n) => [n, param(n) ?? ''] as const),
          headers: names(param('q-header-list')).map((n) => [n, (n === 'host' ? request.host : request.headers[n]) ?? ''] as const),
          keyTime,
          signTime,
        },
        secretKey,
      ).signature
      return signaturesEqual(expected, signature) ? null : denied('SignatureDoesNotMatch', 'The Signature you specified is invalid.')
    },
    errorBody(error, requestId) {
      // COS fills Resource with the request's host and path, which this signature does not
      // receive; TraceId is an opaque base64 id.
      const traceId = Buffer.from(requestId).toString('base64')
      return {
        contentType: 'application/xml',
        body:
          `<?xml version='1.0' encoding='utf-8' ?>\n<Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message>` +
          `<Resource></Resource><RequestId>${escapeXml(requestId)}</RequestId><TraceId>${traceId}</TraceId></Error>`,
      }
    },
  }
}
