import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {DEFAULT_WORKDIR_WARN_BYTES, loadConfig} from '../../src/config.js'
import {InvalidFileError} from '../../src/errors.js'

describe('config: workdir settings', () => {
  let home: string
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'skyhop-config-workdir-'))
  })
  afterEach(() => rmSync(home, {recursive: true, force: true}))

  it('defaults to a 100 MB warning and no Slurm stage directory', () => {
    const config = loadConfig(home)
    expect(config.workdir).to.deep.equal({warnBytes: DEFAULT_WORKDIR_WARN_BYTES})
    expect(DEFAULT_WORKDIR_WARN_BYTES).to.equal(100e6)
    expect(config.providers.slurm.workdirStageDir).to.equal(null)
  })

  it('reads workdir.warn_size in any size unit and providers.slurm.workdir_stage_dir', () => {
    writeFileSync(join(home, 'config.yaml'), 'workdir: {warn_size: 2GiB}\nproviders:\n  slurm: {workdir_stage_dir: /shared/stage}\n')
    const config = loadConfig(home)
    // Sizes are read to the kilobyte (units.ts keeps six decimals of a GB): enough for a warning.
    expect(config.workdir!.warnBytes).to.be.closeTo(2 * 1024 ** 3, 1000)
    expect(config.providers.slurm.workdirStageDir).to.equal('/shared/stage')
    writeFileSync(join(home, 'config.yaml'), 'workdir: {warn_size: 1}\n')
    expect(loadConfig(home).workdir!.warnBytes).to.equal(1e9)
  })

  it('refuses a size that is not one, and a relative stage directory, at their fields', () => {
    writeFileSync(join(home, 'config.yaml'), 'workdir: {warn_size: lots}\n')
    expect(() => loadConfig(home)).to.throw(InvalidFileError, /\/workdir\/warn_size.*"lots" is not a size/)
    writeFileSync(join(home, 'config.yaml'), 'providers:\n  slurm: {workdir_stage_dir: stage}\n')
    expect(() => loadConfig(home)).to.throw(InvalidFileError, /workdir_stage_dir/)
  })
})
