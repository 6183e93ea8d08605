// Kubeconfig loading as kubectl does it: KUBECONFIG's files merged (first definition and
// first current-context win), ~/.kube/config otherwise, the in-cluster service account last;
// token, token file, client certificate (inline or files relative to the kubeconfig), basic
// auth; exec and auth-provider plugins listed as unsupported; every bad input located.
import {expect} from 'chai'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {InvalidFileError} from '../../../src/errors.js'
import {kubeconfigPresent, loadKubeconfig} from '../../../src/clouds/kubernetes/kubeconfig.js'

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n'
const b64 = (s: string) => Buffer.from(s).toString('base64')

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'skyhop-kubeconfig-'))
}

function failure(fn: () => unknown): InvalidFileError {
  try {
    fn()
  } catch (error) {
    expect(error).to.be.instanceOf(InvalidFileError)
    return error as InvalidFileError
  }
  throw new Error('expected an InvalidFileError')
}

describe('kubeconfig', () => {
  it('merges the KUBECONFIG list: the first file to define a name and the first current-context win', () => {
    const d = dir()
    writeFileSync(
      join(d, 'a'),
      `current-context: prod
clusters:
- name: prod
  cluster: {server: "https://prod.example:6443/", certificate-authority-data: ${b64(PEM)}}
users:
- name: alice
  user: {token: tok-a}
contexts:
- name: prod
  context: {cluster: prod, user: alice, namespace: ml}
`,
    )
    writeFileSync(
      join(d, 'b'),
      `current-context: lab
clusters:
- name: prod
  cluster: {server: "https://shadowed.example"}
- name: lab
  cluster: {server: "https://lab.example", insecure-skip-tls-verify: true}
users:
- name: bob
  user: {username: bob, password: pw}
contexts:
- name: lab
  context: {cluster: lab, user: bob}
`,
    )
    const cfg = loadKubeconfig({env: {KUBECONFIG: `${join(d, 'a')}:${join(d, 'missing')}:${join(d, 'b')}`}})
    expect(cfg.current).to.equal('prod')
    expect(cfg.files).to.deep.equal([join(d, 'a'), join(d, 'b')])
    const byName = Object.fromEntries(cfg.contexts.map((c) => [c.name, c]))
    expect(byName.prod).to.deep.include({
      server: 'https://prod.example:6443',
      namespace: 'ml',
      ca: PEM,
      insecure: false,
      authSource: 'token',
    })
    expect(byName.prod.auth).to.deep.equal({kind: 'token', token: 'tok-a'})
    expect(byName.lab).to.deep.include({
      server: 'https://lab.example',
      namespace: 'default',
      ca: null,
      insecure: true,
      authSource: 'basic auth',
    })
  })

  it('reads ~/.kube/config when KUBECONFIG is unset, with files named relative to it', () => {
    const home = dir()
    mkdirSync(join(home, '.kube', 'certs'), {recursive: true})
    writeFileSync(join(home, '.kube', 'certs', 'ca.crt'), PEM)
    writeFileSync(join(home, '.kube', 'certs', 'me.crt'), PEM)
    writeFileSync(join(home, '.kube', 'certs', 'me.key'), '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n')
    writeFileSync(join(home, '.kube', 'token'), 'file-token\n')
    writeFileSync(
      join(home, '.kube', 'config'),
      `clusters:
- name: c
  cluster: {server: "https://c.example", certificate-authority: certs/ca.crt}
users:
- name: cert
  user: {client-certificate: certs/me.crt, client-key: certs/me.key}
- name: tf
  user: {tokenFile: token}
contexts:
- {name: by-cert, context: {cluster: c, user: cert}}
- {name: by-token-file, context: {cluster: c, user: tf}}
`,
    )
    expect(kubeconfigPresent({env: {}, home})).to.equal(true)
    const cfg = loadKubeconfig({env: {}, home})
    const [cert, tf] = cfg.contexts
    expect(cert.ca).to.equal(PEM)
    expect(cert.auth).to.deep.include({kind: 'client-cert', cert: PEM})
    expect(cert.authSource).to.equal('client certificate')
    expect(tf.auth).to.deep.equal({kind: 'token', token: 'file-token'})
    expect(tf.authSource).to.equal(`token file ${join(home, '.kube', 'token')}`)
  })

  it('uses the pod service account in a cluster when there is no kubeconfig', () => {
    const home = dir()
    const sa = dir()
    writeFileSync(join(sa, 'token'), 'sa-token')
    writeFileSync(join(sa, 'ca.crt'), PEM)
    writeFileSync(join(sa, 'namespace'), 'team-a\n')
    const env = {KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443'}
    expect(kubeconfigPresent({env, home, serviceAccountDir: sa})).to.equal(true)
    const cfg = loadKubeconfig({env, home, serviceAccountDir: sa})
    expect(cfg.contexts).to.have.length(1)
    expect(cfg.contexts[0]).to.deep.include({
      name: 'in-cluster',
      server: 'https://10.96.0.1:443',
      namespace: 'team-a',
      ca: PEM,
      source: 'in-cluster service account',
    })
    expect(cfg.contexts[0].auth).to.deep.equal({kind: 'token', token: 'sa-token'})
    expect(kubeconfigPresent({env: {}, home, serviceAccountDir: sa})).to.equal(false)
  })

  it('reads exec plugins (run later, for a token) and lists auth-provider users as unsupported', () => {
    const d = dir()
    writeFileSync(
      join(d, 'config'),
      `clusters: [{name: eks, cluster: {server: "https://eks.example"}}]
users:
- name: eks
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws, args: [eks, get-token]}
- name: old
  user: {auth-provider: {name: gcp}}
contexts:
- {name: eks, context: {cluster: eks, user: eks}}
- {name: old, context: {cluster: eks, user: old}}
`,
    )
    const [eks, old] = loadKubeconfig({env: {KUBECONFIG: join(d, 'config')}}).contexts
    expect(eks.auth).to.deep.equal({
      kind: 'exec',
      plugin: {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        command: 'aws',
        args: ['eks', 'get-token'],
        env: [],
        interactiveMode: null,
        file: join(d, 'config'),
      },
    })
    expect(eks.authSource).to.equal('exec plugin aws')
    expect(old.auth).to.deep.equal({kind: 'unsupported', why: 'user uses the gcp auth-provider plugin, which skyhop does not run'})
  })

  it('locates every bad input: YAML errors, a missing cluster or user, no server, a half client certificate, bad base64, a missing file', () => {
    const d = dir()
    const file = join(d, 'config')
    writeFileSync(file, 'clusters:\n- name: a\n  cluster: {server: "https://a\n')
    expect(failure(() => loadKubeconfig({env: {KUBECONFIG: file}})).message).to.match(new RegExp(`${file}:4:1: YAML syntax error`))

    writeFileSync(
      file,
      `clusters:
- {name: a, cluster: {server: "https://a"}}
- {name: noserver, cluster: {}}
users:
- {name: half, user: {client-certificate-data: ${b64(PEM)}}}
- {name: junk, user: {client-certificate-data: bm90IGEgY2VydA==, client-key-data: bm90IGEga2V5}}
- {name: gone, user: {tokenFile: /nonexistent/token}}
contexts:
- {name: c1, context: {cluster: nope, user: half}}
- {name: c2, context: {cluster: a, user: nobody}}
- {name: c3, context: {cluster: noserver}}
- {name: c4, context: {cluster: a, user: half}}
- {name: c5, context: {cluster: a, user: junk}}
- {name: c6, context: {cluster: a, user: gone}}
`,
    )
    const error = failure(() => loadKubeconfig({env: {KUBECONFIG: file}}))
    expect(error.code).to.equal('KUBECONFIG_INVALID')
    expect(error.exitCode).to.equal(3)
    const said = error.issues.map((i) => `${i.line}:${i.path}: ${i.message}`)
    expect(said).to.deep.equal([
      '9:/contexts/0/context/cluster: context "c1" names cluster "nope", which no kubeconfig file defines',
      '10:/contexts/1/context/user: context "c2" names user "nobody", which no kubeconfig file defines',
      '3:/clusters/1/cluster/server: cluster "noserver" has no server URL (https://host:port)',
      '5:/users/0/user: a client certificate needs both client-certificate(-data) and client-key(-data)',
      '6:/users/1/user/client-certificate-data: client-certificate-data is not base64 of a PEM block',
      '7:/users/2/user/tokenFile: cannot read /nonexistent/token (no such file)',
    ])
  })

  it('says where it looked when there is no kubeconfig at all', () => {
    const home = dir()
    expect(kubeconfigPresent({env: {}, home})).to.equal(false)
    expect(failure(() => loadKubeconfig({env: {}, home})).message).to.match(
      /no kubeconfig found at ~\/\.kube\/config, and not in a pod with a service account/,
    )
    expect(failure(() => loadKubeconfig({env: {KUBECONFIG: '/nonexistent/a:/nonexistent/b'}, home})).message).to.match(
      /no kubeconfig found at KUBECONFIG \(\/nonexistent\/a:\/nonexistent\/b\)/,
    )
  })
})
