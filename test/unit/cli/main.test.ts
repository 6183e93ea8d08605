import {expect} from 'chai'

import {ownCommandId} from '../../../src/cli/main.js'
import {COMMANDS} from '../../../src/commands/index.js'

const ids = Object.keys(COMMANDS)

describe('which runs start without the core plugins (src/cli/main.ts)', () => {
  it("names skyhop's own commands, topics written either way", () => {
    expect(ownCommandId(['launch', 'job.yaml', '--yes', '--wait'], ids)).to.equal('launch')
    expect(ownCommandId(['status', '--all-users'], ids)).to.equal('status')
    expect(ownCommandId(['catalog', 'refresh', '--json'], ids)).to.equal('catalog:refresh')
    expect(ownCommandId(['catalog:refresh'], ids)).to.equal('catalog:refresh')
    expect(ownCommandId(['serve', 'up', 'svc.yaml'], ids)).to.equal('serve:up')
    // An argument that happens to follow a command is not a topic.
    expect(ownCommandId(['logs', 'status'], ids)).to.equal('logs')
  })

  it('leaves help, the bare CLI, the plugins’ commands and unknown ids to the full start', () => {
    expect(ownCommandId([], ids)).to.equal(null)
    expect(ownCommandId(['--help'], ids)).to.equal(null)
    expect(ownCommandId(['launch', '--help'], ids)).to.equal(null)
    expect(ownCommandId(['status', '-h'], ids)).to.equal(null)
    expect(ownCommandId(['help', 'launch'], ids)).to.equal(null)
    expect(ownCommandId(['plugins', 'install', 'x'], ids)).to.equal(null)
    expect(ownCommandId(['autocomplete'], ids)).to.equal(null)
    expect(ownCommandId(['catalog'], ids)).to.equal(null)
    expect(ownCommandId(['lauch'], ids)).to.equal(null)
  })

  it('reads a --help after `--` as the job’s, not a request for help', () => {
    expect(ownCommandId(['launch', 'job.yaml', '--', '--help'], ids)).to.equal('launch')
  })
})
