// Asks installed oclif plugins for their providers: runs the `skyhop:providers` hook with the
// provider kit of this skyhop (src/provider.ts), so a plugin's errors are the classes the
// controller classifies and its runner is the one this skyhop ships. oclif loads a plugin's
// hook file only here, when a command first needs providers; `--help` never does.
import type {Config} from '@oclif/core'

import type {ProviderHookResult} from '../providers/plugins.js'

export async function runProviderHook(config: Config): Promise<ProviderHookResult> {
  const {PROVIDER_HOOK} = await import('../providers/plugins.js')
  // No plugin answers the hook (the usual case): nothing to import.
  const answering = config.getPluginsList().some((p) => p.hooks?.[PROVIDER_HOOK]?.length)
  if (!answering) return {successes: [], failures: []}
  const skyhop = await import('../provider.js')
  const result = await config.runHook(PROVIDER_HOOK, {skyhop}, 30_000, true)
  return {
    successes: result.successes.map((s) => ({plugin: {name: s.plugin.name}, result: s.result})),
    failures: result.failures.map((f) => ({plugin: {name: f.plugin.name}, error: f.error})),
  }
}
