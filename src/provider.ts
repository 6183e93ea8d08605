// `skyhop/provider` (package.json "exports"): what a provider plugin is written against
// (docs/providers/plugins.md). At run time a plugin gets this module from its
// `skyhop:providers` hook's `skyhop` option, the running skyhop's own, so the errors it throws
// are the classes the controller classifies; it imports it only for types and for its tests
// (the contract kit).
export type {AttemptStorage, CheckResult, LaunchRequest, LogOptions, OwnedQuery, Provider} from './providers/provider.js'
export type {LaunchHandle, PollResult, QueueEstimate, AttemptState, NodePoll} from './model/attempt.js'
export type {Offer} from './model/catalog.js'
export type {JobSpec} from './model/job-spec.js'
export type {LoadedPluginProvider, PluginProviderSetup, ProviderPlugin} from './providers/plugins.js'
export {PROVIDER_HOOK} from './providers/plugins.js'

// The error taxonomy a provider maps its backend's answers onto.
export {
  BugError,
  ExitCode,
  ProviderError,
  SkyhopError,
  UsageError,
  asProviderError,
  defaultScope,
  type BlockScope,
  type ProviderErrorCategory,
} from './errors.js'
export {redact, registerSecret} from './util/redact.js'

// The one HTTP stack: undici with deadlines and the retry policy.
export {HttpClient, type HttpClientOptions, type HttpRequest, type HttpResponse} from './http/client.js'
export {createDispatcher} from './http/dispatcher.js'

// How a VM runs the job: the boot script (cloud-init user data) with the shipped runner, the
// console lines it mirrors and their reading, the stop request delivered through a guest channel.
export {
  CONSOLE_PREFIX,
  bootScript,
  bootUserData,
  readRunnerScript,
  stopRequestScript,
  type BootScriptInput,
} from './providers/vm/boot-script.js'
export {ExitLineGrace, eventTime, finalState, linesAfter, parseConsole, type ConsoleReport} from './providers/vm/console-channel.js'
export {shellQuote} from './runner/contract.js'

// The contract test kit.
export {runProviderContract, type ContractFixture, type ContractStep} from './providers/contract-kit.js'
