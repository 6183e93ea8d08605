// The undici dispatchers skyhop's calls go through; never the global one. A command that
// makes a handful of calls and exits builds one with createDispatcher(); a VM adapter holds
// an AdapterDispatcher: the one its caller injected, or an Agent it creates on first use
// and closes in close(). undici is loaded only when a dispatcher is built or a request made,
// so a command that makes no call (a local launch, `--help`) never evaluates it.
import {createRequire} from 'node:module'

import type {Agent, Dispatcher} from 'undici'

const DEFAULT_AGENT: Agent.Options = {connect: {timeout: 10_000}, keepAliveTimeout: 10_000}

/**
 * undici on first use; synchronous, so a caller can build its dispatcher where it builds its
 * options. In the CLI bundle (a CommonJS script) `require` exists and esbuild turns this call
 * into its bundled copy of undici, evaluated on this first call, the same copy `import('undici')`
 * gets there (scripts/bundle.mjs); run unbundled, as an ES module, it is Node's require.
 */
function undici(): typeof import('undici') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: the bundle's own copy
  return (typeof require === 'function' ? require('undici') : createRequire(import.meta.url)('undici')) as typeof import('undici')
}

/** A dispatcher with a connect timeout, for commands that make a handful of calls and exit. */
export function createDispatcher(options: {connectTimeoutMs?: number} = {}): Agent {
  return new (undici().Agent)({connect: {timeout: options.connectTimeoutMs ?? 10_000}, keepAliveTimeout: 4_000})
}

export class AdapterDispatcher {
  private created: Promise<Dispatcher> | null = null

  constructor(
    private readonly injected: Dispatcher | undefined,
    private readonly agentOptions: Agent.Options = DEFAULT_AGENT,
  ) {}

  get(): Promise<Dispatcher> {
    if (this.injected) return Promise.resolve(this.injected)
    this.created ??= import('undici').then(({Agent}) => new Agent(this.agentOptions))
    return this.created
  }

  /** Closes the Agent this adapter created; an injected dispatcher belongs to its caller. */
  async close(): Promise<void> {
    if (this.created) await (await this.created).close()
  }
}
