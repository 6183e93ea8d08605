// Cloud Storage V4 signed URLs (GOOG4-RSA-SHA256) against Google's own conformance vectors
// (test/data/signing/gcs-v4, from googleapis/conformance-tests): byte for byte the URL each
// case expects, signed with the dummy service-account key published with them.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {presignGcs} from '../../../src/clouds/gcp/gcs-presign.js'

const dir = join('test', 'data', 'signing', 'gcs-v4')
const account = JSON.parse(readFileSync(join(dir, 'service-account.json'), 'utf8')) as {client_email: string; private_key: string}
const cases = (
  JSON.parse(readFileSync(join(dir, 'v4_signatures.json'), 'utf8')) as {
    signingV4Tests: Array<{
      description: string
      bucket: string
      object?: string
      method: 'GET' | 'PUT'
      expiration: string
      timestamp: string
      queryParameters?: Record<string, string>
      expectedUrl: string
    }>
  }
).signingV4Tests

describe('Cloud Storage V4 signing (conformance vectors)', () => {
  it('has the Host-only cases', () =>
    expect(cases.map((c) => c.description)).to.include.members(['Simple GET', 'Simple PUT', 'List Objects']))
  for (const c of cases) {
    it(c.description, () => {
      const url = presignGcs(
        {
          method: c.method,
          bucket: c.bucket,
          key: c.object ?? '',
          region: 'auto',
          expiresSeconds: Number(c.expiration),
          now: new Date(c.timestamp),
          ...(c.queryParameters ? {query: Object.entries(c.queryParameters)} : {}),
        },
        {clientEmail: account.client_email, privateKey: account.private_key},
      )
      expect(url).to.equal(c.expectedUrl)
    })
  }
})
