// Where skyhop keeps its state, logs and user data. SKYHOP_HOME wins so tests, CI
// and several users on one machine can keep their state apart.
import {homedir} from 'node:os'
import {join} from 'node:path'

export function resolveHome(oclifDataDir?: string): string {
  if (process.env.SKYHOP_HOME) return process.env.SKYHOP_HOME
  if (oclifDataDir) return oclifDataDir
  const xdg = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share')
  return join(xdg, 'skyhop')
}
