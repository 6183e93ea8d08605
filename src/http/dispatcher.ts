// The undici dispatcher a VM adapter sends every call through: the one its caller
// injected, or an Agent the adapter creates on first use and closes in close(); never the
// global dispatcher. undici is imported only then, so `skyhop --help` stays fast.
import type {Agent, Dispatcher} from 'undici'

const DEFAULT_AGENT: Agent.Options = {connect: {timeout: 10_000}, keepAliveTimeout: 10_000}

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
