// Tencent Cloud credentials: the environment (TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY,
// optional TENCENTCLOUD_SESSION_TOKEN), then the SDK's profile file ~/.tencentcloud/credentials
// (INI: `[name]` with secret_id / secret_key), then tccli's ~/.tccli/<name>.credential (JSON
// secretId / secretKey). The profile is the `profile` option, else TENCENTCLOUD_PROFILE
// (skyhop's variable; the SDK only reads `default`), else `default`.
import {registerSecret} from '../../util/redact.js'
import {
  badCredentialsFile,
  defaultContext,
  displayPath,
  expandHome,
  noCredentialsError,
  nonEmpty,
  readOptionalFile,
  type CredentialContext,
  type LoadedCredentials,
} from '../common/credentials.js'
import {parseIni} from '../common/ini.js'
import type {TencentCredentials} from './tc3.js'

export type {TencentCredentials} from './tc3.js'

const PROVIDER = 'tencentcloud'

export interface TencentCredentialOptions extends Partial<CredentialContext> {
  profile?: string
}

function register(c: TencentCredentials): TencentCredentials {
  registerSecret(c.secretId)
  registerSecret(c.secretKey)
  registerSecret(c.token)
  return c
}

export async function loadTencentCredentials(options: TencentCredentialOptions = {}): Promise<LoadedCredentials<TencentCredentials>> {
  const {env, homeDir} = defaultContext(options)
  const explicit = nonEmpty(options.profile) ?? nonEmpty(env.TENCENTCLOUD_PROFILE)
  const name = explicit ?? 'default'
  const looked: string[] = []
  if (!nonEmpty(options.profile)) {
    const id = nonEmpty(env.TENCENTCLOUD_SECRET_ID)
    const key = nonEmpty(env.TENCENTCLOUD_SECRET_KEY)
    if (id && key) {
      const token = nonEmpty(env.TENCENTCLOUD_SESSION_TOKEN)
      return {
        credentials: register({secretId: id, secretKey: key, ...(token ? {token} : {})}),
        source: 'environment (TENCENTCLOUD_SECRET_ID)',
        expiresAt: null,
      }
    }
    looked.push(id || key ? 'environment (only one of TENCENTCLOUD_SECRET_ID / _KEY is set)' : 'environment')
  }

  const iniPath = expandHome('~/.tencentcloud/credentials', homeDir)
  const iniText = await readOptionalFile(iniPath)
  if (iniText !== null) {
    const section = parseIni(iniText).get(name)
    if (section) {
      const id = nonEmpty(section.secret_id)
      const key = nonEmpty(section.secret_key)
      if (!id || !key)
        throw badCredentialsFile(PROVIDER, `profile ${name} (${displayPath(iniPath, homeDir)})`, 'needs secret_id and secret_key')
      const token = nonEmpty(section.token)
      return {
        credentials: register({secretId: id, secretKey: key, ...(token ? {token} : {})}),
        source: `profile ${name} (${displayPath(iniPath, homeDir)})`,
        expiresAt: null,
      }
    }
  }
  looked.push(`profile ${name} in ${displayPath(iniPath, homeDir)}`)

  const cliPath = expandHome(`~/.tccli/${name}.credential`, homeDir)
  const cliText = await readOptionalFile(cliPath)
  if (cliText !== null) {
    let j: {secretId?: string; secretKey?: string; token?: string}
    try {
      j = JSON.parse(cliText) as typeof j
    } catch {
      throw badCredentialsFile(PROVIDER, displayPath(cliPath, homeDir), 'is not valid JSON')
    }
    const id = nonEmpty(j.secretId)
    const key = nonEmpty(j.secretKey)
    if (!id || !key) throw badCredentialsFile(PROVIDER, displayPath(cliPath, homeDir), 'needs secretId and secretKey')
    const token = nonEmpty(j.token)
    return {
      credentials: register({secretId: id, secretKey: key, ...(token ? {token} : {})}),
      source: `profile ${name} (${displayPath(cliPath, homeDir)})`,
      expiresAt: null,
    }
  }
  looked.push(displayPath(cliPath, homeDir))
  if (explicit) throw badCredentialsFile(PROVIDER, `profile ${name}`, `not found (looked at: ${looked.slice(1).join('; ')})`)
  throw noCredentialsError(PROVIDER, looked, 'set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY, or run `tccli configure`')
}
