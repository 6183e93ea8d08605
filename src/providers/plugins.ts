// Providers that oclif plugins bring (docs/providers/plugins.md). A plugin registers them
// with the `skyhop:providers` hook: its hook function gets the provider kit (the same module
// `skyhop/provider` exports, from the running skyhop, so its error classes are the ones the
// controller classifies) and returns ProviderPlugin entries. This module checks what the
// hooks returned: a hook that threw, an entry that is not one, a name that clashes with a
// built-in provider or another plugin's are each a clear error naming the plugin.
import {UsageError} from '../errors.js'
import type {Provider} from './provider.js'

/** The hook every provider plugin answers (package.json `oclif.hooks`). */
export const PROVIDER_HOOK = 'skyhop:providers'

/** What create() is given. */
export interface PluginProviderSetup {
  /** The environment (credentials, endpoint overrides). */
  env: NodeJS.ProcessEnv
  /** skyhop's data directory (SKYHOP_HOME); a plugin keeps caches under `home/cache/<name>`. */
  home: string
  /** The user's home directory, where credential files live. */
  userHome: string
}

/** One provider a plugin registers. */
export interface ProviderPlugin {
  /** The provider's id: the catalog's `provider` of its offers, `--provider NAME`. Lower case, [a-z0-9-]. */
  name: string
  /** Cheap and offline: does any credential source exist? (Whether it works is `check()`.) */
  credentialsPresent(env: NodeJS.ProcessEnv, userHome: string): boolean
  /** Where credentials were looked for, for `skyhop check` when none was found. */
  looked: string
  create(setup: PluginProviderSetup): Provider | Promise<Provider>
}

/** A plugin's provider, with the plugin it came from. */
export interface LoadedPluginProvider {
  plugin: string
  provider: ProviderPlugin
}

/** What oclif's runHook returned for PROVIDER_HOOK (its shape, without oclif's types). */
export interface ProviderHookResult {
  successes: Array<{plugin: {name: string}; result: unknown}>
  failures: Array<{plugin: {name: string}; error: Error}>
}

const NAME = /^[a-z][a-z0-9-]{0,31}$/

/**
 * The plugins' providers, checked. Throws UsageError (exit 2) naming the plugin: a hook that
 * threw (PLUGIN_LOAD_FAILED), an entry that is not a provider (PLUGIN_INVALID), a name taken
 * by a built-in provider or another plugin (PLUGIN_PROVIDER_CLASH).
 */
export function pluginProviders(result: ProviderHookResult, builtIn: readonly string[]): LoadedPluginProvider[] {
  const failure = result.failures[0]
  if (failure) {
    throw new UsageError(`plugin ${failure.plugin.name} failed to load its providers: ${failure.error?.message ?? String(failure.error)}`, {
      code: 'PLUGIN_LOAD_FAILED',
      hint: `Fix or remove it: \`skyhop plugins uninstall ${failure.plugin.name}\` (\`skyhop plugins\` lists what is installed).`,
    })
  }
  const loaded: LoadedPluginProvider[] = []
  const owner = new Map<string, string>(builtIn.map((name) => [name, 'skyhop (built in)']))
  for (const {plugin, result: entries} of result.successes) {
    if (entries === undefined || entries === null) continue
    if (!Array.isArray(entries)) throw invalid(plugin.name, 'its skyhop:providers hook must return an array of providers')
    for (const [i, entry] of entries.entries()) {
      const problem = entryProblem(entry)
      if (problem) throw invalid(plugin.name, `provider #${i + 1} ${problem}`)
      const provider = entry as ProviderPlugin
      const taken = owner.get(provider.name)
      if (taken) {
        throw new UsageError(`plugin ${plugin.name} registers provider "${provider.name}", which ${taken} already provides`, {
          code: 'PLUGIN_PROVIDER_CLASH',
          hint: `Provider names are unique: uninstall one of them (\`skyhop plugins uninstall ${plugin.name}\`).`,
        })
      }
      owner.set(provider.name, `plugin ${plugin.name}`)
      loaded.push({plugin: plugin.name, provider})
    }
  }
  return loaded
}

function entryProblem(entry: unknown): string | null {
  if (typeof entry !== 'object' || entry === null) return 'is not an object'
  const e = entry as Record<string, unknown>
  if (typeof e.name !== 'string' || !NAME.test(e.name))
    return `has an invalid name ${JSON.stringify(e.name)} (lower case letters, digits, dashes)`
  for (const fn of ['credentialsPresent', 'create'] as const) {
    if (typeof e[fn] !== 'function') return `("${e.name}") has no ${fn}() function`
  }
  if (typeof e.looked !== 'string') return `("${e.name}") has no \`looked\` text`
  return null
}

function invalid(plugin: string, message: string): UsageError {
  return new UsageError(`plugin ${plugin}: ${message}`, {
    code: 'PLUGIN_INVALID',
    hint: 'See docs/providers/plugins.md for what a provider plugin returns.',
  })
}
