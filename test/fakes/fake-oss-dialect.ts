// How a FAKE OSS checks a V1 presigned URL and words its errors, after the OSS API reference
// ("Include a V1 signature in a URL": the first of a repeated parameter counts, and expiry is
// checked before the signature). It recomputes the signature from what arrived: method,
// Content-MD5 and Content-Type headers, x-oss-* headers, path and signed query parameters.
import {ossCanonicalizedResource, ossV1Signature, ossV1StringToSign} from '../../src/clouds/aliyun/oss-presign.js'
import {escapeXml} from '../../src/clouds/aws/xml.js'
import {percentDecode, signaturesEqual} from '../../src/clouds/common/signing-util.js'
import {
  type DialectError,
  type ObjectStoreDialect,
  type PresignedRequestView,
  S3_SIGNATURE_MISMATCH,
  denied,
} from './fake-object-store-dialect.js'

/**
 * The query parameters of OSS's sub-resource list that an object or LIST URL can carry; the
 * rest (list-type, prefix, max-keys) are not signed.
 */
const SIGNED_PARAMS = new Set(['security-token', 'versionId', 'acl', 'uploadId', 'partNumber', 'tagging', 'symlink', 'continuation-token'])

function isSignedParam(name: string): boolean {
  return SIGNED_PARAMS.has(name) || name.startsWith('response-') || name.startsWith('x-oss-')
}

/** `x-oss-name:value\n` for every x-oss-* header, sorted by name. */
function canonicalizedOssHeaders(headers: Record<string, string | undefined>): string {
  return Object.keys(headers)
    .filter((name) => name.startsWith('x-oss-') && headers[name] !== undefined)
    .sort()
    .map((name) => `${name}:${headers[name]!.trim()}\n`)
    .join('')
}

/** `secrets` maps AccessKey ID → AccessKey secret. */
export function ossDialect(secrets: Record<string, string>): ObjectStoreDialect {
  return {
    name: 'oss',
    verify(request: PresignedRequestView, now: Date): DialectError | null {
      const param = (name: string) => request.query.find(([k]) => k === name)?.[1]
      const accessKeyId = param('OSSAccessKeyId')
      const expires = param('Expires')
      const signature = param('Signature')
      // A URL short of the three is treated as anonymous; the fake's buckets are all private.
      if (accessKeyId === undefined || expires === undefined || signature === undefined) {
        return denied('AccessDenied', 'You have no right to access this object because of bucket acl.')
      }
      if (!/^\d+$/.test(expires) || Math.floor(now.getTime() / 1000) > Number(expires)) {
        return denied('AccessDenied', 'Request has expired.')
      }
      const secret = Object.hasOwn(secrets, accessKeyId) ? secrets[accessKeyId] : undefined
      if (secret === undefined) {
        return denied('InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.')
      }
      // The fake is path-style, so the decoded path already is /BUCKET/KEY.
      const stringToSign = ossV1StringToSign({
        method: request.method,
        contentMd5: request.headers['content-md5'],
        contentType: request.headers['content-type'],
        expires,
        canonicalizedOssHeaders: canonicalizedOssHeaders(request.headers),
        canonicalizedResource: ossCanonicalizedResource(
          percentDecode(request.rawPath),
          request.query.filter(([k]) => isSignedParam(k)),
        ),
      })
      if (!signaturesEqual(ossV1Signature(secret, stringToSign), signature)) {
        return S3_SIGNATURE_MISMATCH
      }
      return null
    },
    errorBody(error, requestId) {
      // OSS names the answering host in HostId; the fake has one name for all its buckets.
      const body = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<Error>',
        `  <Code>${escapeXml(error.code)}</Code>`,
        `  <Message>${escapeXml(error.message)}</Message>`,
        `  <RequestId>${escapeXml(requestId)}</RequestId>`,
        '  <HostId>oss.aliyuncs.com</HostId>',
        '</Error>',
        '',
      ].join('\n')
      return {contentType: 'application/xml', body}
    },
  }
}
