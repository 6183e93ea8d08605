// Runs every case of AWS's aws-sig-v4-test-suite through our SigV4 signer: canonical
// request, string to sign and Authorization must equal the published files byte for byte.
import {expect} from 'chai'
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {basename, join} from 'node:path'

import {canonicalUri, parseAuthorization, signRequest, type SigV4Request} from '../../../src/clouds/aws/sigv4.js'
import {requireVectors, vectorsPath} from './vectors.js'

const credentials = {accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'}
const STS_TOKEN =
  'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=='

/** Every directory holding `<name>/<name>.req`, recursively. */
function findCases(root: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(root).sort()) {
    const dir = join(root, entry)
    if (!statSync(dir).isDirectory()) continue
    try {
      statSync(join(dir, `${entry}.req`))
      out.push(dir)
    } catch {
      out.push(...findCases(dir))
    }
  }
  return out
}

/**
 * Parses a suite .req file: request line, `Name:value` headers (a line starting with
 * whitespace is a further value of the previous header), blank line, body.
 */
function parseReq(text: string): SigV4Request {
  const blank = text.indexOf('\n\n')
  const head = blank < 0 ? text : text.slice(0, blank)
  const body = blank < 0 ? '' : text.slice(blank + 2)
  const lines = head.split('\n')
  const requestLine = lines[0]
  const method = requestLine.slice(0, requestLine.indexOf(' '))
  const target = requestLine.slice(method.length + 1, requestLine.lastIndexOf(' HTTP/'))
  const q = target.indexOf('?')
  const path = q < 0 ? target : target.slice(0, q)
  const rawQuery = q < 0 ? '' : target.slice(q + 1)
  const query: Array<[string, string]> =
    rawQuery === ''
      ? []
      : rawQuery.split('&').map((p) => {
          const eq = p.indexOf('=')
          return eq < 0 ? [p, ''] : [p.slice(0, eq), p.slice(eq + 1)]
        })
  const headers: Array<[string, string]> = []
  for (const line of lines.slice(1)) {
    if (/^\s/.test(line)) headers.push([headers[headers.length - 1][0], line])
    else {
      const colon = line.indexOf(':')
      headers.push([line.slice(0, colon), line.slice(colon + 1)])
    }
  }
  return {method, path, query, headers, body}
}

describe('SigV4 signer against the AWS test suite', function () {
  const root = vectorsPath('aws-sig-v4-test-suite')
  if (root === null) {
    it('needs the test vectors', function () {
      requireVectors(this, 'aws-sig-v4-test-suite')
    })
    return
  }
  const cases = findCases(root)

  it('finds all 31 published cases', function () {
    expect(cases).to.have.length(31)
  })

  for (const dir of cases) {
    const name = basename(dir)
    it(`reproduces .creq, .sts, .authz and .sreq of ${name}`, function () {
      const read = (ext: string) => readFileSync(join(dir, `${name}.${ext}`), 'utf8')
      const request = parseReq(read('req'))
      const creds = name.startsWith('post-sts-') ? {...credentials, sessionToken: STS_TOKEN} : credentials
      // post-sts-header-before already carries the token header; -after adds it after signing.
      const signed = signRequest(request, creds, {
        region: 'us-east-1',
        service: 'service',
        sessionToken: name === 'post-sts-header-after' ? 'unsigned' : 'signed',
      })
      expect(signed.canonicalRequest).to.equal(read('creq'))
      expect(signed.stringToSign).to.equal(read('sts'))
      expect(signed.authorization).to.equal(read('authz'))
      const sreq = read('sreq').split('\n')
      const sreqAuth = sreq.find((l) => l.startsWith('Authorization:'))
      expect(sreqAuth?.replace(/^Authorization:\s*/, '')).to.equal(signed.authorization)
      const sreqToken = sreq.find((l) => l.startsWith('X-Amz-Security-Token:'))?.slice('X-Amz-Security-Token:'.length)
      const ourToken = signed.headers.find(([n]) => n.toLowerCase() === 'x-amz-security-token')?.[1]
      expect(ourToken).to.equal(sreqToken)
    })
  }
})

describe('SigV4 details', function () {
  it('normalizes paths as non-S3 services do and double-encodes escapes', function () {
    expect(canonicalUri('/a/./b/../c//d/')).to.equal('/a/c/d/')
    expect(canonicalUri('/a%20b')).to.equal('/a%2520b')
    expect(canonicalUri('/a%20b', false)).to.equal('/a%20b')
    expect(canonicalUri('')).to.equal('/')
  })

  it('adds X-Amz-Date from the signing time and refuses a request without Host', function () {
    const signed = signRequest(
      {method: 'POST', path: '/', headers: [['Host', 'ec2.us-east-1.amazonaws.com']], body: 'Action=DescribeInstances&Version=2016-11-15'},
      credentials,
      {region: 'us-east-1', service: 'ec2', date: new Date('2024-01-02T03:04:05.678Z')},
    )
    expect(signed.amzDate).to.equal('20240102T030405Z')
    expect(signed.headers).to.deep.include(['X-Amz-Date', '20240102T030405Z'])
    expect(signed.credentialScope).to.equal('20240102/us-east-1/ec2/aws4_request')
    expect(() => signRequest({method: 'GET', path: '/', headers: []}, credentials, {region: 'r', service: 's'})).to.throw(/Host/)
  })

  it('parses the Authorization header it writes', function () {
    const signed = signRequest({method: 'GET', path: '/', headers: [['host', 'h']]}, credentials, {
      region: 'eu-west-1',
      service: 'ec2',
      date: new Date(0),
    })
    expect(parseAuthorization(signed.authorization)).to.deep.equal({
      accessKeyId: 'AKIDEXAMPLE',
      date: '19700101',
      region: 'eu-west-1',
      service: 'ec2',
      signedHeaders: ['host', 'x-amz-date'],
      signature: signed.signature,
    })
    expect(parseAuthorization('AWS4-HMAC-SHA256 Credential=x')).to.equal(null)
  })
})
