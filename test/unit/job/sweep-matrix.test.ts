// Matrix expansion for sweeps: cartesian product in a deterministic order, --set replacing
// or extending the file's matrix, values as environment variables, and names that are
// valid, readable and unique whatever the values hold.
import {expect} from 'chai'
import fc from 'fast-check'

import {UsageError} from '../../../src/errors.js'
import type {JobSpec} from '../../../src/model/job-spec.js'
import {MAX_COMBINATIONS, combinationCount, expandMatrix, mergeMatrix, parseSetFlags} from '../../../src/job/matrix.js'

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

function spec(name = 'train', matrix: JobSpec['matrix'] = null): JobSpec {
  return {name, run: 'python train.py', envs: {MODEL: 'llama', lr: 'file-default'}, matrix} as unknown as JobSpec
}

describe('sweep matrix expansion', () => {
  it('expands the cartesian product, last key fastest, values in env and name', () => {
    const combos = expandMatrix(spec(), {lr: [0.0001, 0.0003], seed: [1, 2, 3]})
    expect(combos.map((c) => c.name)).to.deep.equal([
      'train-lr-0.0001-seed-1',
      'train-lr-0.0001-seed-2',
      'train-lr-0.0001-seed-3',
      'train-lr-0.0003-seed-1',
      'train-lr-0.0003-seed-2',
      'train-lr-0.0003-seed-3',
    ])
    expect(combos[4].values).to.deep.equal({lr: 0.0003, seed: 2})
    expect(combos[4].index).to.equal(4)
    // Matrix values win over the file's envs of the same name; the other envs stay.
    expect(combos[4].spec.envs).to.deep.equal({MODEL: 'llama', lr: '0.0003', seed: '2'})
    expect(combos[4].spec.matrix).to.equal(null)
    expect(combos[4].spec.name).to.equal('train-lr-0.0003-seed-2')
  })

  it('without a matrix the sweep is the job itself', () => {
    const combos = expandMatrix(spec(), null)
    expect(combos).to.have.length(1)
    expect(combos[0].name).to.equal('train')
    expect(combos[0].values).to.deep.equal({})
  })

  it("--set replaces a key of the file and appends new keys after the file's", () => {
    const sets = parseSetFlags(['seed=7,8', 'opt=adam,sgd'])
    expect(sets).to.deep.equal({seed: ['7', '8'], opt: ['adam', 'sgd']})
    const merged = mergeMatrix({lr: [1, 2], seed: [1, 2, 3]}, sets)
    expect(merged).to.deep.equal({lr: [1, 2], seed: ['7', '8'], opt: ['adam', 'sgd']})
    expect(Object.keys(merged!)).to.deep.equal(['lr', 'seed', 'opt'])
    expect(combinationCount(merged)).to.equal(8)
    expect(mergeMatrix(null, {})).to.equal(null)
    // Duplicates in a list are one value; a key given twice keeps the last.
    expect(parseSetFlags(['a=1,1,2', 'a=3'])).to.deep.equal({a: ['3']})
    expect(parseSetFlags(['a=1,1,2'])).to.deep.equal({a: ['1', '2']})
  })

  it('refuses bad --set flags and reserved names', () => {
    for (const bad of ['noequals', '=1', '1a=1', 'a=', 'a=1,,2', 'SKYHOP_JOB_ID=1', 'a-b=1']) {
      expect(() => parseSetFlags([bad]), bad).to.throw(UsageError)
    }
    expect(() => mergeMatrix({SKYHOP_X: [1]}, {})).to.throw(UsageError)
  })

  it('refuses sweeps beyond the limit', () => {
    const big = {a: Array.from({length: 101}, (_, i) => i), b: Array.from({length: 100}, (_, i) => i)}
    expect(combinationCount(big)).to.be.greaterThan(MAX_COMBINATIONS)
    expect(() => expandMatrix(spec(), big)).to.throw(/at most 10000/)
  })

  it('sanitizes values into the name pattern and shortens long names, keeping them unique', () => {
    const combos = expandMatrix(spec(), {path: ['data/a b', 'data/a_b', 'x'.repeat(80)], flag: [true]})
    const names = combos.map((c) => c.name)
    expect(names[0]).to.equal('train-path-data_a_b-flag-true')
    // "data/a b" and "data/a_b" sanitize alike: the second gets its number.
    expect(names[1]).to.match(/-2$/)
    expect(names[2].length).to.be.at.most(63)
    expect(names[2]).to.match(/^train-path-xxx+-3$/)
    for (const n of names) expect(n).to.match(NAME)
    expect(new Set(names).size).to.equal(3)
  })

  it('always yields valid, unique names in a stable order (property)', () => {
    const value = fc.oneof(fc.string({maxLength: 30}), fc.integer(), fc.double({noNaN: true}), fc.boolean())
    const key = fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/)
    fc.assert(
      fc.property(
        fc.dictionary(key, fc.uniqueArray(value, {minLength: 1, maxLength: 4, selector: (v) => String(v)}), {minKeys: 1, maxKeys: 3}),
        fc.stringMatching(/^[a-z][a-z0-9-]{0,62}$/),
        (matrix, base) => {
          const combos = expandMatrix(spec(base), matrix)
          expect(combos).to.have.length(combinationCount(matrix))
          const names = combos.map((c) => c.name)
          for (const n of names) expect(n).to.match(NAME)
          expect(new Set(names).size).to.equal(names.length)
          expect(expandMatrix(spec(base), matrix).map((c) => c.name)).to.deep.equal(names)
          for (const c of combos) for (const [k, v] of Object.entries(c.values)) expect(c.spec.envs[k]).to.equal(String(v))
        },
      ),
      {numRuns: 300},
    )
  })
})
