// A provider named on the command line must be enabled here: one check for the services
// that take a --provider (launch, down), before anything is recorded.
import type {ServiceContext} from './context.js'

export async function requireEnabledProvider(ctx: ServiceContext, name: string | undefined): Promise<void> {
  if (name === undefined || name === '') return
  const providers = await ctx.providers()
  if (providers.has(name)) return
  const {unknownProviderError} = await import('../providers/registry.js')
  throw await unknownProviderError(name, [...providers.keys()], await ctx.adapterNames?.())
}
