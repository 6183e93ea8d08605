// Where skyhop keeps its state, logs and user data. SKYHOP_HOME wins so tests, CI
// and several users on one machine can keep their state apart.
import {existsSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

/**
 * SKYHOP_HOME, else `state/` inside oclif's per-user data dir (`$XDG_DATA_HOME/skyhop`).
 * The data dir itself is where `skyhop plugins install` writes `node_modules` and
 * `package.json`; the state gets a directory of its own so the two never mix.
 */
export function resolveHome(oclifDataDir?: string, exists: (path: string) => boolean = existsSync): string {
  if (process.env.SKYHOP_HOME) return process.env.SKYHOP_HOME
  const data = oclifDataDir ?? join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'skyhop')
  const home = join(data, 'state')
  // Earlier versions kept the state (and config.yaml) in the data dir itself: such a home is
  // used where it is, so its jobs and config are not lost (move them into state/ to separate them).
  if (!exists(home) && (exists(join(data, 'state.db')) || exists(join(data, 'config.yaml')))) return data
  return home
}
