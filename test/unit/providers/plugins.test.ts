// What skyhop makes of the plugins' `skyhop:providers` hook results: providers to register,
// or a clear error naming the plugin (one that threw, returned something else, or took a
// built-in provider's name or another plugin's).
import {expect} from 'chai'

import {UsageError} from '../../../src/errors.js'
import {pluginProviders, type ProviderHookResult} from '../../../src/providers/plugins.js'
import {KNOWN_PROVIDERS, adapterNames} from '../../../src/providers/registry.js'

const entry = (name: string) => ({name, looked: 'X_KEY', credentialsPresent: () => false, create: () => ({}) as never})
const ok = (plugin: string, result: unknown): ProviderHookResult['successes'][number] => ({plugin: {name: plugin}, result})

function error(result: ProviderHookResult): UsageError {
  try {
    pluginProviders(result, KNOWN_PROVIDERS)
  } catch (e) {
    expect(e).to.be.instanceOf(UsageError)
    return e as UsageError
  }
  throw new Error('expected an error')
}

describe('plugin providers (skyhop:providers hook results)', () => {
  it('registers each plugin provider with its plugin; the adapters include them', () => {
    const loaded = pluginProviders(
      {successes: [ok('@x/plugin-lambda', [entry('lambda')]), ok('@oclif/plugin-help', undefined)], failures: []},
      KNOWN_PROVIDERS,
    )
    expect(loaded.map((l) => [l.plugin, l.provider.name])).to.deep.equal([['@x/plugin-lambda', 'lambda']])
    expect(adapterNames(loaded)).to.include('lambda').and.include('aws')
  })

  it('a hook that threw: PLUGIN_LOAD_FAILED naming the plugin and how to remove it', () => {
    const e = error({successes: [], failures: [{plugin: {name: '@x/broken'}, error: new Error('Cannot find module ./dist/hook.js')}]})
    expect(e.code).to.equal('PLUGIN_LOAD_FAILED')
    expect(e.message).to.contain('@x/broken').and.contain('Cannot find module')
    expect(e.hint).to.contain('skyhop plugins uninstall @x/broken')
    expect(e.exitCode).to.equal(2)
  })

  it('a name a built-in provider has, or another plugin registered: PLUGIN_PROVIDER_CLASH', () => {
    const builtIn = error({successes: [ok('@x/aws2', [entry('aws')])], failures: []})
    expect(builtIn.code).to.equal('PLUGIN_PROVIDER_CLASH')
    expect(builtIn.message).to.contain('"aws"').and.contain('skyhop (built in)')
    const twice = error({successes: [ok('@x/a', [entry('lambda')]), ok('@x/b', [entry('lambda')])], failures: []})
    expect(twice.message).to.contain('@x/b').and.contain('plugin @x/a')
  })

  it('a result that is not a list of providers: PLUGIN_INVALID saying what is wrong', () => {
    expect(error({successes: [ok('@x/a', {name: 'lambda'})], failures: []}).code).to.equal('PLUGIN_INVALID')
    expect(error({successes: [ok('@x/a', [{...entry('Lambda Cloud')}])], failures: []}).message).to.contain('invalid name')
    expect(error({successes: [ok('@x/a', [{name: 'lambda', looked: ''}])], failures: []}).message).to.contain('credentialsPresent')
  })
})
