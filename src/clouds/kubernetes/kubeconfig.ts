// Kubernetes credentials from the standard places, as kubectl finds them: the files of
// KUBECONFIG (a colon-separated list, merged: the first file to name a cluster, user or
// context wins, and the first current-context set wins), else ~/.kube/config, else the pod's
// own service account (in-cluster). Each context is one skyhop region.
//
// What a context may authenticate with: a bearer token (inline or tokenFile), a client
// certificate and key (inline data or files), basic auth, or an exec credential plugin that
// prints a token (`aws eks get-token`, `gke-gcloud-auth-plugin`, kubelogin; run when a call
// needs it, exec-credential.ts); the server's CA (inline, a file, or the system's roots) or
// insecure-skip-tls-verify. The removed auth-provider plugins are NOT run: such a context is
// listed with the reason, and using it fails with a message that says what to do.
//
// A file that does not parse, or a context naming a cluster or user no file defines, is an
// InvalidFileError (file:line:col, exit 3); the provider reports it as its own failure, so a
// broken kubeconfig never stops a command that does not use Kubernetes.
import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {delimiter, dirname, isAbsolute, join, resolve} from 'node:path'

import {type FileIssue, InvalidFileError} from '../../errors.js'
import {locate, readDocument, type SourceDocument} from '../../util/located-document.js'
import {registerSecret} from '../../util/redact.js'
import type {ExecPlugin} from './exec-credential.js'

export type Env = Record<string, string | undefined>

/** How a context authenticates. Secrets live here only, never in messages or handles. */
export type KubeAuth =
  | {kind: 'token'; token: string}
  | {kind: 'client-cert'; cert: string; key: string}
  | {kind: 'basic'; username: string; password: string}
  /** An exec credential plugin, run for a token when a call needs one (exec-credential.ts). */
  | {kind: 'exec'; plugin: ExecPlugin}
  | {kind: 'none'}
  /** Something skyhop does not run (exec plugin, auth-provider): why, for the message. */
  | {kind: 'unsupported'; why: string}

export interface KubeContext {
  name: string
  /** https://host:port, without a trailing slash. */
  server: string
  namespace: string
  /** PEM of the CA bundle; null = the system's roots. */
  ca: string | null
  insecure: boolean
  auth: KubeAuth
  /** Where it came from, for `check`: a file path or `in-cluster service account`. */
  source: string
  /** How it authenticates, for `check` (never the secret): `token`, `client certificate`, … */
  authSource: string
}

export interface KubeConfig {
  contexts: KubeContext[]
  /** The current-context, when one is set and defined. */
  current: string | null
  /** The files read, in order (empty for in-cluster). */
  files: string[]
}

/** Where the pod's service account is mounted (in-cluster), overridable for tests. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

export interface KubeconfigSources {
  env: Env
  home?: string
  serviceAccountDir?: string
}

/** The kubeconfig files that would be read, or the in-cluster marker; empty when there is none. Cheap, no parsing. */
export function kubeconfigFiles(sources: KubeconfigSources): string[] {
  const list = (sources.env.KUBECONFIG ?? '')
    .split(delimiter)
    .map((f) => f.trim())
    .filter((f) => f !== '')
  if (list.length > 0) return list
  const file = join(sources.home ?? homedir(), '.kube', 'config')
  return existsSync(file) ? [file] : []
}

/** Whether any credential source exists (`createProviders`' offline test). */
export function kubeconfigPresent(sources: KubeconfigSources): boolean {
  return kubeconfigFiles(sources).some((f) => existsSync(f)) || inClusterPresent(sources)
}

function inClusterPresent(sources: KubeconfigSources): boolean {
  const dir = sources.serviceAccountDir ?? SERVICE_ACCOUNT_DIR
  return (sources.env.KUBERNETES_SERVICE_HOST ?? '') !== '' && existsSync(join(dir, 'token'))
}

interface Named<T> {
  value: T
  src: SourceDocument
  path: Array<string | number>
}

export function loadKubeconfig(sources: KubeconfigSources): KubeConfig {
  const files = kubeconfigFiles(sources)
  // KUBECONFIG may name files that do not exist yet (kubectl skips them); only the ones that do count.
  const present = files.filter((f) => existsSync(f))
  if (present.length === 0) {
    if (inClusterPresent(sources)) return inCluster(sources)
    const where = (sources.env.KUBECONFIG ?? '') !== '' ? `KUBECONFIG (${files.join(delimiter)})` : '~/.kube/config'
    throw new InvalidFileError(
      [
        {
          file: files[0] ?? join(sources.home ?? homedir(), '.kube', 'config'),
          path: '',
          message: `no kubeconfig found at ${where}, and not in a pod with a service account`,
        },
      ],
      {
        code: 'KUBECONFIG_INVALID',
      },
    )
  }
  const clusters = new Map<string, Named<Record<string, unknown>>>()
  const users = new Map<string, Named<Record<string, unknown>>>()
  const contexts = new Map<string, Named<Record<string, unknown>>>()
  let current: string | null = null
  const issues: FileIssue[] = []
  for (const file of present) {
    const src = readDocument(file, 'KUBECONFIG_INVALID')
    const doc = src.value
    if (!isRecord(doc)) {
      issues.push({file, path: '', message: 'is not a kubeconfig (a mapping with clusters, users and contexts)'})
      continue
    }
    if (current === null && typeof doc['current-context'] === 'string' && doc['current-context'] !== '') current = doc['current-context']
    collect(src, doc, 'clusters', 'cluster', clusters, issues)
    collect(src, doc, 'users', 'user', users, issues)
    collect(src, doc, 'contexts', 'context', contexts, issues)
  }
  const out: KubeContext[] = []
  for (const [name, ctx] of contexts) {
    const clusterName = ctx.value.cluster
    const userName = ctx.value.user
    const cluster = typeof clusterName === 'string' ? clusters.get(clusterName) : undefined
    if (!cluster) {
      issues.push(
        issueAt(
          ctx,
          ['cluster'],
          `context "${name}" names cluster ${JSON.stringify(clusterName ?? null)}, which no kubeconfig file defines`,
        ),
      )
      continue
    }
    const user = typeof userName === 'string' ? users.get(userName) : undefined
    if (typeof userName === 'string' && userName !== '' && !user) {
      issues.push(issueAt(ctx, ['user'], `context "${name}" names user "${userName}", which no kubeconfig file defines`))
      continue
    }
    const server = cluster.value.server
    if (typeof server !== 'string' || !/^https?:\/\/[^/]+/.test(server)) {
      issues.push(issueAt(cluster, ['server'], `cluster "${clusterName as string}" has no server URL (https://host:port)`))
      continue
    }
    try {
      out.push({
        name,
        server: server.replace(/\/+$/, ''),
        namespace: typeof ctx.value.namespace === 'string' && ctx.value.namespace !== '' ? ctx.value.namespace : 'default',
        ca: dataOrFile(cluster, 'certificate-authority-data', 'certificate-authority'),
        insecure: cluster.value['insecure-skip-tls-verify'] === true,
        ...authOf(user),
        source: cluster.src.file,
      })
    } catch (error) {
      if (error instanceof KubeconfigIssue) issues.push(error.issue)
      else throw error
    }
  }
  if (issues.length > 0) throw new InvalidFileError(issues, {code: 'KUBECONFIG_INVALID', hint: 'Check it with `kubectl config view`.'})
  return {contexts: out, current: current !== null && contexts.has(current) ? current : null, files: present}
}

/** The pod's own service account: the API server from the environment kubelet sets. */
function inCluster(sources: KubeconfigSources): KubeConfig {
  const dir = sources.serviceAccountDir ?? SERVICE_ACCOUNT_DIR
  const host = sources.env.KUBERNETES_SERVICE_HOST!
  const port = sources.env.KUBERNETES_SERVICE_PORT || '443'
  const read = (name: string): string | null => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : null)
  return {
    contexts: [
      {
        name: 'in-cluster',
        server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
        namespace: read('namespace')?.trim() || 'default',
        ca: read('ca.crt'),
        insecure: false,
        auth: {kind: 'token', token: read('token')?.trim() ?? ''},
        source: 'in-cluster service account',
        authSource: `service account token (${join(dir, 'token')})`,
      },
    ],
    current: 'in-cluster',
    files: [],
  }
}

class KubeconfigIssue extends Error {
  constructor(readonly issue: FileIssue) {
    super(issue.message)
  }
}

function issueAt(entry: Named<unknown>, rest: Array<string | number>, message: string): FileIssue {
  const path = [...entry.path, ...rest]
  return {file: entry.src.file, ...locate(entry.src, path), path: `/${path.join('/')}`, message}
}

function collect(
  src: SourceDocument,
  doc: Record<string, unknown>,
  list: 'clusters' | 'users' | 'contexts',
  field: 'cluster' | 'user' | 'context',
  into: Map<string, Named<Record<string, unknown>>>,
  issues: FileIssue[],
): void {
  const entries = doc[list]
  if (entries === undefined || entries === null) return
  if (!Array.isArray(entries)) {
    issues.push({file: src.file, ...locate(src, [list]), path: `/${list}`, message: `${list} must be a list of {name, ${field}}`})
    return
  }
  entries.forEach((entry, i) => {
    if (!isRecord(entry) || typeof entry.name !== 'string' || !isRecord(entry[field] ?? {})) {
      issues.push({
        file: src.file,
        ...locate(src, [list, i]),
        path: `/${list}/${i}`,
        message: `each of ${list} needs a name and a ${field} mapping`,
      })
      return
    }
    // The first file to define a name wins, as kubectl merges KUBECONFIG.
    if (!into.has(entry.name)) into.set(entry.name, {value: (entry[field] ?? {}) as Record<string, unknown>, src, path: [list, i, field]})
  })
}

function authOf(user: Named<Record<string, unknown>> | undefined): {auth: KubeAuth; authSource: string} {
  if (!user) return {auth: {kind: 'none'}, authSource: 'no credentials'}
  const u = user.value
  if (isRecord(u.exec)) {
    const e = u.exec
    if (typeof e.command !== 'string' || e.command === '')
      throw new KubeconfigIssue(issueAt(user, ['exec', 'command'], 'an exec plugin needs a command'))
    const env = Array.isArray(e.env) ? e.env.filter(isRecord).map((x) => ({name: String(x.name ?? ''), value: String(x.value ?? '')})) : []
    const plugin: ExecPlugin = {
      apiVersion: typeof e.apiVersion === 'string' ? e.apiVersion : 'client.authentication.k8s.io/v1',
      command: e.command,
      args: Array.isArray(e.args) ? e.args.map(String) : [],
      env,
      interactiveMode: typeof e.interactiveMode === 'string' ? e.interactiveMode : null,
      file: user.src.file,
    }
    return {auth: {kind: 'exec', plugin}, authSource: `exec plugin ${e.command}`}
  }
  if (isRecord(u['auth-provider'])) {
    const name = typeof u['auth-provider'].name === 'string' ? u['auth-provider'].name : 'auth-provider'
    return {
      auth: {kind: 'unsupported', why: `user uses the ${name} auth-provider plugin, which skyhop does not run`},
      authSource: `auth-provider ${name} (not supported)`,
    }
  }
  if (typeof u.token === 'string' && u.token !== '') {
    registerSecret(u.token)
    return {auth: {kind: 'token', token: u.token}, authSource: 'token'}
  }
  if (typeof u.tokenFile === 'string' && u.tokenFile !== '') {
    const token = readRelative(user, ['tokenFile'], u.tokenFile).trim()
    registerSecret(token)
    return {auth: {kind: 'token', token}, authSource: `token file ${resolveFrom(user, u.tokenFile)}`}
  }
  const cert = dataOrFile(user, 'client-certificate-data', 'client-certificate')
  const key = dataOrFile(user, 'client-key-data', 'client-key')
  if (cert !== null || key !== null) {
    if (cert === null || key === null) {
      throw new KubeconfigIssue(issueAt(user, [], 'a client certificate needs both client-certificate(-data) and client-key(-data)'))
    }
    return {auth: {kind: 'client-cert', cert, key}, authSource: 'client certificate'}
  }
  if (typeof u.username === 'string' && typeof u.password === 'string') {
    registerSecret(u.password)
    return {auth: {kind: 'basic', username: u.username, password: u.password}, authSource: 'basic auth'}
  }
  return {auth: {kind: 'none'}, authSource: 'no credentials'}
}

/** An inline base64 field or a file named beside it (relative to the kubeconfig's own directory). */
function dataOrFile(entry: Named<Record<string, unknown>>, dataKey: string, fileKey: string): string | null {
  const data = entry.value[dataKey]
  if (typeof data === 'string' && data !== '') {
    const text = Buffer.from(data, 'base64').toString('utf8')
    if (!text.includes('-----BEGIN')) throw new KubeconfigIssue(issueAt(entry, [dataKey], `${dataKey} is not base64 of a PEM block`))
    return text
  }
  const file = entry.value[fileKey]
  if (typeof file === 'string' && file !== '') return readRelative(entry, [fileKey], file)
  return null
}

function resolveFrom(entry: Named<unknown>, file: string): string {
  return isAbsolute(file) ? file : resolve(dirname(entry.src.file), file)
}

function readRelative(entry: Named<unknown>, at: Array<string | number>, file: string): string {
  const path = resolveFrom(entry, file)
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new KubeconfigIssue(issueAt(entry, at, `cannot read ${path} (${code === 'ENOENT' ? 'no such file' : (code ?? 'error')})`))
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
