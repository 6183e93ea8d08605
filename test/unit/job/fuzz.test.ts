// Property test: mutated job files never make the loader throw anything but an
// InvalidFileError. A TypeError escaping here would be a stack trace for a user.
import {expect} from 'chai'
import fc from 'fast-check'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {InvalidFileError} from '../../../src/errors.js'
import {loadJobFile} from '../../../src/job/load.js'

const NOW = new Date('2026-11-27T12:00:00Z')
const dir = mkdtempSync(join(tmpdir(), 'skyhop-fuzz-'))
const seeds = ['hello', 'train-gpu', 'cpu-batch'].map((f) => readFileSync(join('examples', `${f}.yaml`), 'utf8'))

const mutation = fc.oneof(
  // Replace a slice with random text.
  fc.record({kind: fc.constant('replace' as const), at: fc.nat(), len: fc.nat({max: 12}), text: fc.string({maxLength: 16})}),
  // Delete a slice.
  fc.record({kind: fc.constant('delete' as const), at: fc.nat(), len: fc.nat({max: 40})}),
  // Insert YAML-significant characters.
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.constantFrom(
      ':',
      '-',
      '[',
      '{',
      '"',
      "'",
      '&a',
      '*a',
      '!!binary',
      '\t',
      '\n  ',
      '#',
      '|',
      '>',
      '? ',
      '0',
      '-1',
      'null',
      '~',
      '1e999',
    ),
  }),
  // Swap a value for another type.
  fc.record({
    kind: fc.constant('retype' as const),
    key: fc.constantFrom(
      'name',
      'run',
      'spot',
      'resources',
      'work',
      'deadline',
      'budget',
      'envs',
      'matrix',
      'recovery',
      'accelerators',
      'cpus',
      'memory',
    ),
    value: fc.constantFrom('[]', '{}', '0', '-3', 'null', 'true', '"x"', '[1, {a: b}]', '99999999999999999999'),
  }),
)

function apply(text: string, muts: Array<fc.Arbitrary<unknown> extends never ? never : any>): string {
  let out = text
  for (const m of muts) {
    const at = out.length === 0 ? 0 : m.at % out.length
    if (m.kind === 'replace') out = out.slice(0, at) + m.text + out.slice(at + m.len)
    else if (m.kind === 'delete') out = out.slice(0, at) + out.slice(at + m.len)
    else if (m.kind === 'insert') out = out.slice(0, at) + m.text + out.slice(at)
    else out = out.replace(new RegExp(`(^|\\n)(\\s*${m.key}:)[^\\n]*`), `$1$2 ${m.value}`)
  }
  return out
}

describe('job file loader under mutation (fast-check)', () => {
  it('never lets anything but InvalidFileError escape', () => {
    let n = 0
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(mutation, {minLength: 1, maxLength: 4}), (seed, muts) => {
        const file = join(dir, `m${n++ % 50}.yaml`)
        writeFileSync(file, apply(seed, muts))
        try {
          loadJobFile(file, {now: NOW})
        } catch (error) {
          if (!(error instanceof InvalidFileError)) throw error
          expect(error.exitCode).to.equal(3)
          expect(error.issues.length).to.be.greaterThan(0)
          for (const issue of error.issues)
            expect(issue.message)
              .to.be.a('string')
              .and.not.match(/undefined|\[object Object\]/)
        }
      }),
      {numRuns: 400, seed: 42},
    )
  })
})
