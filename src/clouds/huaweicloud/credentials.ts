// Huawei Cloud credentials: AK/SK from the environment (HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK,
// optional HUAWEICLOUD_SDK_SECURITY_TOKEN), as Huawei's SDKs read them. A project id is per
// region on Huawei Cloud: HUAWEICLOUD_SDK_PROJECT_ID names the project of HUAWEICLOUD_SDK_REGION
// (or of every region when no region is set), and SKYHOP_HUAWEICLOUD_PROJECT_IDS maps more
// (`cn-north-4=0a1b…,cn-east-3=…`). A region without a configured id is resolved by the
// adapter through IAM (KeystoneListProjects), as the SDKs do. KooCLI's profile file stores
// keys encrypted and is not read.
import {registerSecret} from '../../util/redact.js'
import {defaultContext, noCredentialsError, nonEmpty, type CredentialContext, type LoadedCredentials} from '../common/credentials.js'
import {ProviderError} from '../../errors.js'
import type {HuaweiCredentials} from './sdk-hmac.js'

export type {HuaweiCredentials} from './sdk-hmac.js'

export interface HuaweiAccount extends HuaweiCredentials {
  /** Project id per region id, as configured; others are looked up through IAM. */
  projectIds: Record<string, string>
  /** Project id that applies to any region without its own entry (HUAWEICLOUD_SDK_PROJECT_ID alone). */
  anyRegionProjectId: string | null
  domainId: string | null
}

const PROVIDER = 'huaweicloud'
const REGION = /^[a-z]{2}(?:-[a-z0-9]+)+$/

export function parseProjectIds(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=')
    const region = part.slice(0, eq).trim()
    const id = part.slice(eq + 1).trim()
    if (eq < 0 || !REGION.test(region) || !/^[0-9a-f]{32}$/i.test(id)) {
      throw new ProviderError(PROVIDER, 'auth', `SKYHOP_HUAWEICLOUD_PROJECT_IDS: "${part}" is not region=32-hex-project-id`, {
        code: 'PROVIDER_BAD_CREDENTIALS',
      })
    }
    out[region] = id
  }
  return out
}

export async function loadHuaweiCredentials(options: Partial<CredentialContext> = {}): Promise<LoadedCredentials<HuaweiAccount>> {
  const {env} = defaultContext(options)
  const ak = nonEmpty(env.HUAWEICLOUD_SDK_AK)
  const sk = nonEmpty(env.HUAWEICLOUD_SDK_SK)
  if (!ak || !sk) {
    const note = ak || sk ? 'environment (only one of HUAWEICLOUD_SDK_AK / _SK is set)' : 'environment (HUAWEICLOUD_SDK_AK)'
    throw noCredentialsError(PROVIDER, [note], 'set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (an access key from "My Credentials")')
  }
  const token = nonEmpty(env.HUAWEICLOUD_SDK_SECURITY_TOKEN)
  registerSecret(ak)
  registerSecret(sk)
  registerSecret(token)
  const projectIds = parseProjectIds(env.SKYHOP_HUAWEICLOUD_PROJECT_IDS ?? '')
  const single = nonEmpty(env.HUAWEICLOUD_SDK_PROJECT_ID)
  const region = nonEmpty(env.HUAWEICLOUD_SDK_REGION)
  let anyRegionProjectId: string | null = null
  if (single && region) projectIds[region] ??= single
  else if (single) anyRegionProjectId = single
  return {
    credentials: {
      ak,
      sk,
      ...(token ? {securityToken: token} : {}),
      projectIds,
      anyRegionProjectId,
      domainId: nonEmpty(env.HUAWEICLOUD_SDK_DOMAIN_ID) ?? null,
    },
    source: 'environment (HUAWEICLOUD_SDK_AK)',
    expiresAt: null,
  }
}
