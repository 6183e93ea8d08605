// Kubernetes over real TLS, and with an exec credential plugin: the provider builds its own undici Agent from the kubeconfig (the
// cluster's CA, the user's client certificate and key, from inline base64 data) and talks to a
// fake API server that serves HTTPS and admits the client by its certificate, as an API server
// with --client-ca-file does. Certificates are made for the test with openssl (a real part:
// under CI its absence fails the test).
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ProviderError} from '../../src/errors.js'
import {KubernetesProvider} from '../../src/providers/kubernetes/kubernetes-provider.js'
import {FakeKubernetesServer} from '../fakes/fake-kubernetes-server.js'
import {CPU_NODE} from './kubernetes-helpers.js'

interface Pki {
  dir: string
  ca: string
  serverKey: string
  serverCert: string
  clientKey: string
  clientCert: string
  otherCa: string
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it; and a second, unrelated CA. */
function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'skyhop-k8s-pki-'))
  const ssl = (...args: string[]) => execFileSync('openssl', args, {cwd: dir, stdio: 'pipe'})
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  for (const ca of ['ca', 'other-ca'])
    ssl('req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-subj', `/CN=${ca}`, '-days', '1')
  const sign = (name: string, subject: string, ext: string) => {
    ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject)
    writeFileSync(join(dir, `${name}.ext`), ext)
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    )
  }
  sign('server', '/CN=fake-apiserver', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  sign('client', '/CN=skyhop-user/O=system:masters', 'extendedKeyUsage=clientAuth\n')
  const read = (f: string) => readFileSync(join(dir, f), 'utf8')
  return {
    dir,
    ca: read('ca.crt'),
    serverKey: read('server.key'),
    serverCert: read('server.crt'),
    clientKey: read('client.key'),
    clientCert: read('client.crt'),
    otherCa: read('other-ca.crt'),
  }
}

const b64 = (s: string) => Buffer.from(s).toString('base64')

describe('Kubernetes over mutual TLS (client certificate, cluster CA)', function () {
  this.timeout(60_000)
  let pki: Pki
  let fake: FakeKubernetesServer
  let url: string

  before(async function () {
    try {
      execFileSync('openssl', ['version'], {stdio: 'pipe'})
    } catch {
      if (process.env.CI) throw new Error('openssl is needed to make the test certificates')
      this.skip()
    }
    pki = makePki()
    fake = new FakeKubernetesServer({token: 'unused-token', nodes: [CPU_NODE], tls: {key: pki.serverKey, cert: pki.serverCert, ca: pki.ca}})
    url = await fake.start()
  })
  after(async () => {
    await fake?.stop()
    if (pki) rmSync(pki.dir, {recursive: true, force: true})
  })

  const provider = (ca: string, user: string): KubernetesProvider => {
    const file = join(pki.dir, `config-${Math.random().toString(36).slice(2)}`)
    writeFileSync(
      file,
      `clusters: [{name: c, cluster: {server: "${url}", certificate-authority-data: ${b64(ca)}}}]\nusers: [{name: u, user: ${user}}]\ncontexts: [{name: tls, context: {cluster: c, user: u}}]\n`,
    )
    return new KubernetesProvider({env: {KUBECONFIG: file}, home: pki.dir})
  }

  it('reads the nodes with the client certificate, verifying the server against the cluster CA', async () => {
    const p = provider(pki.ca, `{client-certificate-data: ${b64(pki.clientCert)}, client-key-data: ${b64(pki.clientKey)}}`)
    try {
      const offers = await p.liveOffers()
      expect(offers.map((o) => [o.region, o.instanceType])).to.deep.equal([['tls', 'cpu']])
      const check = await p.check()
      expect(check).to.deep.include({ok: true})
      expect(check.source).to.match(/\(client certificate\)$/)
    } finally {
      await p.close()
    }
  })

  it('without the client certificate the server says 401: an auth error', async () => {
    const p = provider(pki.ca, '{}')
    try {
      const error = await p.liveOffers().then(
        () => null,
        (e: unknown) => e as ProviderError,
      )
      expect(error).to.be.instanceOf(ProviderError)
      expect(error).to.include({category: 'auth', backendCode: 'Unauthorized'})
    } finally {
      await p.close()
    }
  })

  it('a server whose certificate the cluster CA did not sign is refused: the context is unavailable, not trusted', async () => {
    const p = provider(pki.otherCa, `{client-certificate-data: ${b64(pki.clientCert)}, client-key-data: ${b64(pki.clientKey)}}`)
    const before = fake.requests.length
    try {
      const error = await p.liveOffers().then(
        () => null,
        (e: unknown) => e as ProviderError,
      )
      expect(error).to.be.instanceOf(ProviderError)
      expect(error).to.include({category: 'unavailable', scope: 'region'})
      expect(error).to.include({backendCode: 'SELF_SIGNED_CERT_IN_CHAIN'})
      expect(error!.message).to.match(
        /context tls: GET \/api\/v1\/nodes: the API server at 127\.0\.0\.1:\d+ presented a certificate that was refused \(SELF_SIGNED_CERT_IN_CHAIN\)/,
      )
      expect(error!.hint).to.match(/certificate-authority/)
      // Refused in the handshake: no request reached the server.
      expect(fake.requests.length).to.equal(before)
    } finally {
      await p.close()
    }
  })
})

describe('Kubernetes with an exec credential plugin', function () {
  this.timeout(60_000)
  let fake: FakeKubernetesServer
  let dir: string
  before(async () => {
    fake = new FakeKubernetesServer({token: 'plugin-issued-token-123456', nodes: [CPU_NODE]})
    await fake.start()
    dir = mkdtempSync(join(tmpdir(), 'skyhop-k8s-exec-'))
  })
  after(async () => {
    await fake?.stop()
    rmSync(dir, {recursive: true, force: true})
  })

  const withPlugin = (script: string): KubernetesProvider => {
    const name = `plugin-${Math.random().toString(36).slice(2)}.sh`
    writeFileSync(join(dir, name), `#!/bin/bash\n${script}\n`, {mode: 0o755})
    const file = join(dir, `config-${name}`)
    writeFileSync(
      file,
      `clusters: [{name: c, cluster: {server: "${fake.url}"}}]
users:
- name: u
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: ./${name}, args: [--cluster, c], env: [{name: PLUGIN_REGION, value: eu-1}]}
contexts: [{name: eks, context: {cluster: c, user: u}}]
`,
    )
    return new KubernetesProvider({env: {KUBECONFIG: file}, home: dir})
  }

  it('runs the plugin (relative to the kubeconfig, with its args, env and KUBERNETES_EXEC_INFO) and uses its token', async () => {
    const p = withPlugin(`printf '%s|%s|%s' "$*" "$PLUGIN_REGION" "$KUBERNETES_EXEC_INFO" >"$(dirname "$0")/seen"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"plugin-issued-token-123456","expirationTimestamp":"2999-01-01T00:00:00Z"}}'`)
    try {
      expect((await p.liveOffers()).map((o) => o.region)).to.deep.equal(['eks'])
      const seen = readFileSync(join(dir, 'seen'), 'utf8').split('|')
      expect(seen[0]).to.equal('--cluster c')
      expect(seen[1]).to.equal('eu-1')
      expect(JSON.parse(seen[2])).to.deep.equal({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        spec: {interactive: false},
      })
      const check = await p.check()
      expect(check.ok).to.equal(true)
      expect(check.source).to.match(/\(exec plugin \.\/plugin-\w+\.sh\)$/)
    } finally {
      await p.close()
    }
  })

  it('a plugin that fails is an auth error with its own words; one that answers with a certificate says it is not supported', async () => {
    const failing = withPlugin(`echo "error: SSO session expired, run aws sso login" >&2; exit 1`)
    const error = await failing.liveOffers().then(
      () => null,
      (e: unknown) => e as ProviderError,
    )
    expect(error).to.include({category: 'auth', backendCode: 'ExecPlugin'})
    expect(error!.message).to.match(/exec plugin \.\/plugin-\w+\.sh failed \(exit 1\): error: SSO session expired, run aws sso login/)
    const cert = withPlugin(`printf '{"kind":"ExecCredential","status":{"clientCertificateData":"x","clientKeyData":"y"}}'`)
    const e2 = await cert.liveOffers().then(
      () => null,
      (e: unknown) => e as ProviderError,
    )
    expect(e2!.message).to.match(/answered with a client certificate, which skyhop does not use from a plugin/)
  })
})
