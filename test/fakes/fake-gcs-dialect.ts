// How a FAKE Cloud Storage (XML API) checks a V4 signed URL (GOOG4-RSA-SHA256) and words its
// errors, after Cloud Storage's "Signed URLs" and "V4 signing process" pages: the canonical
// request is recomputed from what arrived (method, raw path, query without X-Goog-Signature,
// the signed headers) and the signature verified with the service account's public key, as
// Google holds it; an expired URL is refused before the signature is looked at.
import {createPublicKey, createVerify} from 'node:crypto'

import {canonicalRequest} from '../../src/clouds/aws/sigv4.js'
import {escapeXml} from '../../src/clouds/aws/xml.js'
import {GCS_RSA_ALGORITHM, gcsStringToSign} from '../../src/clouds/gcp/gcs-presign.js'
import {type DialectError, type ObjectStoreDialect, type PresignedRequestView, denied} from './fake-object-store-dialect.js'

const PARAMS = ['X-Goog-Algorithm', 'X-Goog-Credential', 'X-Goog-Date', 'X-Goog-Expires', 'X-Goog-SignedHeaders', 'X-Goog-Signature']

function dateMs(googDate: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(googDate)!
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])
}

/** `accounts` maps a service account's e-mail → its private key (PEM); the fake keeps only the public half. */
export function gcsDialect(accounts: Record<string, string>): ObjectStoreDialect {
  const keys = new Map(Object.entries(accounts).map(([email, pem]) => [email, createPublicKey(pem)]))
  return {
    name: 'gs',
    verify(request: PresignedRequestView, now: Date): DialectError | null {
      const param = (name: string) => request.query.find(([k]) => k === name)?.[1]
      const given = PARAMS.map(param)
      if (given.every((v) => v === undefined)) return denied('AccessDenied', 'Anonymous caller does not have storage.objects.get access.')
      if (!given.every((v): v is string => v !== undefined))
        return {
          status: 400,
          code: 'AuthorizationQueryParametersError',
          message: `Query-string authentication requires ${PARAMS.join(', ')}.`,
        }
      const [algorithm, credential, googDate, expires, signedHeaders, signature] = given
      if (algorithm !== GCS_RSA_ALGORITHM || !/^\d{8}T\d{6}Z$/.test(googDate) || !/^\d+$/.test(expires))
        return {status: 400, code: 'AuthorizationQueryParametersError', message: 'Invalid argument.'}
      if (now.getTime() > dateMs(googDate) + Number(expires) * 1000)
        return {status: 400, code: 'ExpiredToken', message: 'Invalid argument.'}
      const [email, date, region, service, terminator] = credential.split('/')
      const key = keys.get(email)
      if (!key || date !== googDate.slice(0, 8) || region !== 'auto' || service !== 'storage' || terminator !== 'goog4_request')
        return denied('AccessDenied', 'Access denied.')
      const names = signedHeaders.split(';')
      const creq = canonicalRequest(
        {
          method: request.method,
          path: request.rawPath,
          query: request.query.filter(([k]) => k !== 'X-Goog-Signature'),
          headers: names.map((n) => [n, (n === 'host' ? request.host : request.headers[n]) ?? '']),
        },
        {normalizePath: false, payloadHash: 'UNSIGNED-PAYLOAD'},
      )
      const ok = createVerify('RSA-SHA256').update(gcsStringToSign(googDate, creq.text)).verify(key, signature, 'hex')
      if (!names.includes('host') || !ok)
        return denied(
          'SignatureDoesNotMatch',
          'The request signature we calculated does not match the signature you provided. Check your Google secret key and signing method.',
        )
      return null
    },
    errorBody(error) {
      return {
        contentType: 'application/xml; charset=UTF-8',
        body: `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error>`,
      }
    },
  }
}
