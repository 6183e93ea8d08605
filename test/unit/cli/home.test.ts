// Where the state lives by default: never in the directory `plugins install` writes to (issue 23).
import {expect} from 'chai'
import {join} from 'node:path'

import {resolveHome} from '../../../src/cli/home.js'

describe('resolveHome', () => {
  const saved = process.env.SKYHOP_HOME
  beforeEach(() => delete process.env.SKYHOP_HOME)
  afterEach(() => (saved === undefined ? delete process.env.SKYHOP_HOME : (process.env.SKYHOP_HOME = saved)))

  it("puts the state in state/ of oclif's data dir, not beside the plugins oclif installs there", () => {
    expect(resolveHome('/data/skyhop', () => false)).to.equal(join('/data/skyhop', 'state'))
  })

  it('keeps using a home an earlier version made in the data dir itself', () => {
    const made = new Set(['/data/skyhop/state.db'])
    expect(resolveHome('/data/skyhop', (p) => made.has(p))).to.equal('/data/skyhop')
    made.add('/data/skyhop/state')
    expect(resolveHome('/data/skyhop', (p) => made.has(p))).to.equal('/data/skyhop/state')
    // A config written at the old default before any job ran counts too.
    expect(resolveHome('/data/skyhop', (p) => p === '/data/skyhop/config.yaml')).to.equal('/data/skyhop')
  })

  it('SKYHOP_HOME wins', () => {
    process.env.SKYHOP_HOME = '/elsewhere'
    expect(resolveHome('/data/skyhop', () => false)).to.equal('/elsewhere')
  })
})
