import {expect} from 'chai'
import {readFileSync, readdirSync} from 'node:fs'
import {join, relative, resolve} from 'node:path'

import {COMMANDS} from '../../../src/commands/index.js'

const DIR = resolve(import.meta.dirname, '../../../src/commands')

function commandIds(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return commandIds(path)
    if (!entry.name.endsWith('.ts') || path === join(DIR, 'index.ts')) return []
    return [relative(DIR, path).replace(/\.ts$/, '').replaceAll('/', ':')]
  })
}

describe('the command list (oclif explicit discovery)', () => {
  it('lists every file of src/commands under its id, and nothing else', () => {
    expect(Object.keys(COMMANDS).sort()).to.deep.equal(commandIds(DIR).sort())
  })

  it('maps each id to the class its file exports', () => {
    for (const [id, command] of Object.entries(COMMANDS)) {
      const source = readFileSync(join(DIR, `${id.replaceAll(':', '/')}.ts`), 'utf8')
      expect(command.name, id).to.equal(/export default class (\w+)/.exec(source)?.[1])
    }
  })
})
