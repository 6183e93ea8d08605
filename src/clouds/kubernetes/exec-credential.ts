// Exec credential plugins, as kubectl runs them (client.authentication.k8s.io): the
// kubeconfig's `exec` command (`aws eks get-token …`, `gke-gcloud-auth-plugin`, kubelogin)
// is run without a terminal, with its `env` and KUBERNETES_EXEC_INFO, and prints an
// ExecCredential whose status holds a bearer token, kept until its expirationTimestamp.
// Supported: tokens. Not supported: plugins that answer with a client certificate
// (clientCertificateData), and interactive plugins (`interactiveMode: Always`), which get no
// terminal here; both fail with a message that says so.
import {execFile} from 'node:child_process'
import {dirname, isAbsolute, resolve} from 'node:path'

import {redact, registerSecret} from '../../util/redact.js'

export interface ExecPlugin {
  apiVersion: string
  command: string
  args: string[]
  env: Array<{name: string; value: string}>
  interactiveMode: string | null
  /** The kubeconfig the plugin is named in: a relative command path is resolved against it. */
  file: string
}

export interface ExecToken {
  token: string
  /** ms since the epoch; null: valid until the server refuses it. */
  expiresAt: number | null
}

/** Why a plugin gave no token; the message is safe to show (redacted, no token). */
export class ExecPluginError extends Error {}

const TIMEOUT_MS = 30_000

export async function runExecPlugin(plugin: ExecPlugin, baseEnv: Record<string, string | undefined>): Promise<ExecToken> {
  if (plugin.interactiveMode === 'Always') {
    throw new ExecPluginError(`exec plugin ${plugin.command} needs a terminal (interactiveMode: Always), which skyhop does not give it`)
  }
  // kubectl resolves a command with a slash relative to the kubeconfig, a bare one on PATH.
  const command =
    plugin.command.includes('/') && !isAbsolute(plugin.command) ? resolve(dirname(plugin.file), plugin.command) : plugin.command
  const env: Record<string, string | undefined> = {...baseEnv}
  for (const e of plugin.env) env[e.name] = e.value
  env.KUBERNETES_EXEC_INFO = JSON.stringify({apiVersion: plugin.apiVersion, kind: 'ExecCredential', spec: {interactive: false}})
  const out = await new Promise<string>((done, fail) => {
    execFile(command, plugin.args, {env, timeout: TIMEOUT_MS, maxBuffer: 1024 * 1024}, (error, stdout, stderr) => {
      if (error) {
        const why =
          (error as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'not found'
            : `failed (${error.killed ? `no answer within ${TIMEOUT_MS / 1000} s` : `exit ${String((error as {code?: unknown}).code)}`})`
        const said = redact(String(stderr).trim().split('\n').slice(-3).join(' ').slice(0, 300))
        fail(new ExecPluginError(`exec plugin ${plugin.command} ${why}${said ? `: ${said}` : ''}`))
      } else done(String(stdout))
    })
  })
  let parsed: {kind?: string; status?: {token?: string; expirationTimestamp?: string; clientCertificateData?: string}}
  try {
    parsed = JSON.parse(out)
  } catch {
    throw new ExecPluginError(`exec plugin ${plugin.command} printed something that is not an ExecCredential (JSON)`)
  }
  const status = parsed.status ?? {}
  if (!status.token) {
    throw new ExecPluginError(
      status.clientCertificateData
        ? `exec plugin ${plugin.command} answered with a client certificate, which skyhop does not use from a plugin; use a token`
        : `exec plugin ${plugin.command} printed an ExecCredential without status.token`,
    )
  }
  registerSecret(status.token)
  const expiresAt = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : Number.NaN
  return {token: status.token, expiresAt: Number.isFinite(expiresAt) ? expiresAt : null}
}
