// Where the Lambda Cloud API key comes from: LAMBDA_API_KEY, else the key file Lambda's own
// tools and SkyPilot read, ~/.lambda_cloud/lambda_keys (`api_key = KEY` lines). The key is a
// Bearer token: it never reaches a log, an error or the state store.
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

export const LOOKED = 'LAMBDA_API_KEY, ~/.lambda_cloud/lambda_keys'

export function keyFile(userHome: string): string {
  return join(userHome, '.lambda_cloud', 'lambda_keys')
}

export function lambdaCredentialsPresent(env: NodeJS.ProcessEnv, userHome: string): boolean {
  return (env.LAMBDA_API_KEY ?? '').trim() !== '' || existsSync(keyFile(userHome))
}

/** The key and where it came from (`env`, `~/.lambda_cloud/lambda_keys`); null when neither holds one. */
export function loadApiKey(env: NodeJS.ProcessEnv, userHome: string): {key: string; source: string} | null {
  const fromEnv = (env.LAMBDA_API_KEY ?? '').trim()
  if (fromEnv) return {key: fromEnv, source: 'env LAMBDA_API_KEY'}
  const file = keyFile(userHome)
  if (!existsSync(file)) return null
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*api_key\s*[=:]\s*(\S+)\s*$/.exec(line)
    if (m) return {key: m[1], source: '~/.lambda_cloud/lambda_keys'}
  }
  return null
}
