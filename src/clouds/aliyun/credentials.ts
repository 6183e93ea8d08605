// Alibaba Cloud credentials: the environment (ALIBABA_CLOUD_ACCESS_KEY_ID,
// ALIBABA_CLOUD_ACCESS_KEY_SECRET, optional ALIBABA_CLOUD_SECURITY_TOKEN), then the aliyun
// CLI's profile file ~/.aliyun/config.json. The profile is the `profile` option, else
// ALIBABA_CLOUD_PROFILE (the credentials SDK's name), else ALIBABACLOUD_PROFILE (the CLI's),
// else the file's `current`, else `default`. Profile modes AK and StsToken are supported;
// the others (RamRoleArn, EcsRamRole, CloudSSO, …) are refused with a message naming them.
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
import type {AliyunCredentials} from './acs3.js'

export type {AliyunCredentials} from './acs3.js'

const PROVIDER = 'aliyun'

export interface AliyunCredentialOptions extends Partial<CredentialContext> {
  profile?: string
}

interface CliProfile {
  name?: string
  mode?: string
  access_key_id?: string
  access_key_secret?: string
  sts_token?: string
  region_id?: string
}

function register(c: AliyunCredentials): AliyunCredentials {
  registerSecret(c.accessKeyId)
  registerSecret(c.accessKeySecret)
  registerSecret(c.securityToken)
  return c
}

export async function loadAliyunCredentials(
  options: AliyunCredentialOptions = {},
): Promise<LoadedCredentials<AliyunCredentials> & {region: string | null}> {
  const {env, homeDir} = defaultContext(options)
  const explicit = nonEmpty(options.profile) ?? nonEmpty(env.ALIBABA_CLOUD_PROFILE) ?? nonEmpty(env.ALIBABACLOUD_PROFILE)
  const looked: string[] = []
  if (!nonEmpty(options.profile)) {
    const id = nonEmpty(env.ALIBABA_CLOUD_ACCESS_KEY_ID)
    const secret = nonEmpty(env.ALIBABA_CLOUD_ACCESS_KEY_SECRET)
    if (id && secret) {
      const token = nonEmpty(env.ALIBABA_CLOUD_SECURITY_TOKEN)
      return {
        credentials: register({accessKeyId: id, accessKeySecret: secret, ...(token ? {securityToken: token} : {})}),
        source: 'environment (ALIBABA_CLOUD_ACCESS_KEY_ID)',
        expiresAt: null,
        region: nonEmpty(env.ALIBABA_CLOUD_REGION_ID) ?? null,
      }
    }
    looked.push(id || secret ? 'environment (only one of ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET is set)' : 'environment')
  }

  const path = expandHome('~/.aliyun/config.json', homeDir)
  const shown = displayPath(path, homeDir)
  const text = await readOptionalFile(path)
  if (text === null) {
    if (explicit) throw badCredentialsFile(PROVIDER, `profile ${explicit}`, `${shown} does not exist`)
    looked.push(shown)
    throw noCredentialsError(
      PROVIDER,
      looked,
      'set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or run `aliyun configure`',
    )
  }
  let config: {current?: string; profiles?: CliProfile[]}
  try {
    config = JSON.parse(text) as typeof config
  } catch {
    throw badCredentialsFile(PROVIDER, shown, 'is not valid JSON')
  }
  const name = explicit ?? nonEmpty(config.current) ?? 'default'
  const profile = (config.profiles ?? []).find((p) => p.name === name)
  if (!profile) throw badCredentialsFile(PROVIDER, `profile ${name}`, `not found in ${shown}`)
  const mode = profile.mode ?? 'AK'
  if (mode !== 'AK' && mode !== 'StsToken') {
    throw badCredentialsFile(
      PROVIDER,
      `profile ${name}`,
      `mode ${mode} is not supported by skyhop (use AK or StsToken, or export ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET)`,
    )
  }
  const id = nonEmpty(profile.access_key_id)
  const secret = nonEmpty(profile.access_key_secret)
  if (!id || !secret) throw badCredentialsFile(PROVIDER, `profile ${name}`, 'has no access_key_id / access_key_secret')
  const token = mode === 'StsToken' ? nonEmpty(profile.sts_token) : undefined
  if (mode === 'StsToken' && !token) throw badCredentialsFile(PROVIDER, `profile ${name}`, 'mode StsToken without sts_token')
  return {
    credentials: register({accessKeyId: id, accessKeySecret: secret, ...(token ? {securityToken: token} : {})}),
    source: `profile ${name} (${shown})`,
    expiresAt: null,
    region: nonEmpty(profile.region_id) ?? null,
  }
}
