// How a FAKE Huawei Cloud OBS checks a V2 presigned URL and words its errors. The signature is
// recomputed from what arrived: method, the Content-MD5 and Content-Type headers as sent, any
// x-obs-* headers, Expires, and the path-style request path as the CanonicalizedResource with
// x-obs-security-token as a sub-resource, as OBS does.
import {escapeXml} from '../../src/clouds/aws/xml.js'
import {obsSignature, obsStringToSign} from '../../src/clouds/huaweicloud/obs-presign.js'
import {signaturesEqual} from '../../src/clouds/common/signing-util.js'
import {
  type DialectError,
  type ObjectStoreDialect,
  type PresignedRequestView,
  S3_SIGNATURE_MISMATCH,
  denied,
} from './fake-object-store-dialect.js'

/** `secrets` maps AK to SK. */
export function obsDialect(secrets: Record<string, string>): ObjectStoreDialect {
  return {
    name: 'obs',
    verify(request: PresignedRequestView, now: Date): DialectError | null {
      const param = (name: string) => request.query.find(([k]) => k === name)?.[1]
      const ak = param('AccessKeyId')
      const expires = param('Expires')
      const signature = param('Signature')
      if (!ak || !expires || !signature) return denied('AccessDenied', 'Access Denied')
      const sk = secrets[ak]
      if (sk === undefined) return denied('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.')
      if (!(Number(expires) >= now.getTime() / 1000)) return denied('AccessDenied', 'Request has expired')
      const headers = Object.entries(request.headers).flatMap(([n, v]) =>
        v !== undefined && (n === 'content-md5' || n === 'content-type' || n.startsWith('x-obs-')) ? [[n, v] as const] : [],
      )
      const stringToSign = obsStringToSign({method: request.method, headers, expires, resource: request.rawPath, query: request.query})
      return signaturesEqual(obsSignature(sk, stringToSign), signature) ? null : S3_SIGNATURE_MISMATCH
    },
    errorBody(error, requestId) {
      return {
        contentType: 'application/xml',
        body:
          `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message>` +
          `<RequestId>${escapeXml(requestId)}</RequestId><HostId>${escapeXml(Buffer.from(requestId).toString('base64'))}</HostId></Error>`,
      }
    },
  }
}
