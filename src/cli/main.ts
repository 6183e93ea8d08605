// How bin/run.js starts oclif. A command of skyhop's own starts without oclif's core plugins
// (help, autocomplete, plugins: package.json oclif.plugins): loading them reads their
// manifests and package files on every start, and no command of skyhop's fires a hook they
// have (autocomplete's are plugins:postinstall/postuninstall, plugins' is update). Plugins a
// user installed are still loaded: their providers answer the skyhop:providers hook. Help,
// the bare `skyhop`, the plugins' own commands and anything unknown load everything, as before.
import {type Interfaces, execute} from '@oclif/core'
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/**
 * The id of the skyhop command `argv` runs (`catalog refresh` and `catalog:refresh` alike), or
 * null when it runs something else or asks for help.
 */
export function ownCommandId(argv: readonly string[], ids: readonly string[]): string | null {
  const end = argv.indexOf('--')
  const before = end < 0 ? argv : argv.slice(0, end)
  if (before.some((a) => a === '--help' || a === '-h')) return null
  const [first, second] = argv
  if (first === undefined || first.startsWith('-')) return null
  if (second !== undefined && !second.startsWith('-') && ids.includes(`${first}:${second}`)) return `${first}:${second}`
  return ids.includes(first) ? first : null
}

/** Runs the CLI; `dir` is the file URL of bin/run.js, one folder below the package root. */
export async function main(options: {dir: string; ids: readonly string[]; argv?: string[]}): Promise<unknown> {
  const argv = options.argv ?? process.argv.slice(2)
  if (ownCommandId(argv, options.ids) === null) return execute({dir: options.dir, args: argv})
  const root = dirname(dirname(fileURLToPath(options.dir)))
  const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Interfaces.PJSON
  return execute({args: argv, loadOptions: {root, pjson: {...pjson, oclif: {...pjson.oclif, plugins: []}}}})
}
