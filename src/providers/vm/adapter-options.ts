// The options every VM adapter takes; each cloud's adapter adds its own (credentials,
// networks, images, its channels' timings) and documents its defaults.
import type {Dispatcher} from 'undici'

import type {ClientPassThrough, Env} from '../../clouds/common/api-client.js'
import type {AttemptObjectReader} from '../../model/checkpoint.js'

export interface VmAdapterOptions extends ClientPassThrough {
  /** Regions listOwned() scans and check() probes (the first). */
  regions?: string[]
  /** Every HTTP call goes through it. Default: an undici Agent owned by the adapter. */
  dispatcher?: Dispatcher
  /** Environment for endpoint overrides and credentials. Default process.env. */
  env?: Env
  /**
   * Metadata base URL the runner (and a stop probe) use on the instance; `{attemptId}` is
   * replaced by the attempt id (a test fake serves every instance from one port).
   */
  metadataBaseUrl?: string
  /**
   * Seconds between the instance's polls for notices and stop requests. Default: notices
   * within 1 s (GCP's hanging GET at once), stop requests every 5 s.
   */
  instancePollSeconds?: number
  /** Interval of logs({follow}) reads. Default 5 s. */
  consolePollMs?: number
  /** How long an ended instance may lack its exit line before the attempt is given up. Default 10 min. */
  consoleGraceMs?: number
  /** Returns skyhop-runner.sh; default reads the installed file at launch time. */
  runnerScript?: () => Promise<string>
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /**
   * Reads what attempts shipped to their job's object store (vm/shipped.ts): `logs` of an
   * instance that is gone, and the utilisation samples. Without it, only the console is read.
   */
  attemptObjects?: AttemptObjectReader
}
