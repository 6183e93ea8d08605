// The plugin's `skyhop:providers` hook (package.json oclif.hooks): registers Lambda Cloud.
// skyhop runs it only when a command needs providers, handing over its provider kit; the
// adapter itself is imported only when credentials exist and the provider is created.
import type {ProviderPlugin} from 'skyhop/provider'

import {lambdaCredentialsPresent, LOOKED} from './credentials.js'

type Kit = typeof import('skyhop/provider')

export default async function providers(options: {skyhop: Kit}): Promise<ProviderPlugin[]> {
  const kit = options.skyhop
  if (!kit?.ProviderError) throw new Error('skyhop:providers was run without the provider kit (options.skyhop); skyhop >= 0.1.0 passes it')
  return [
    {
      name: 'lambda',
      looked: LOOKED,
      credentialsPresent: (env, userHome) => lambdaCredentialsPresent(env, userHome),
      async create(setup) {
        const {LambdaProvider} = await import('./lambda-provider.js')
        return new LambdaProvider(kit, {env: setup.env, userHome: setup.userHome})
      },
    },
  ]
}
