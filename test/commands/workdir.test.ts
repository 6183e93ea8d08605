// `workdir:` through the built CLI: a located error at validate for a directory that is not
// there (exit 3), and a local job that runs in the directory itself, relative to the job
// file wherever the CLI is started from.
import {expect} from 'chai'
import {mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {parseEnvelope, runCli, runCliAsync, tempHome} from '../helpers/cli.js'

describe('workdir (CLI)', function () {
  this.timeout(60_000)
  let home: string
  let project: string
  let env: Record<string, string>

  beforeEach(() => {
    home = tempHome()
    project = join(home, 'project')
    mkdirSync(join(project, 'code', 'pkg'), {recursive: true})
    writeFileSync(join(project, 'code', 'pkg', 'model.txt'), 'model v1\n')
    const config = join(home, 'config.yaml')
    writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
    env = {SKYHOP_CONFIG: config}
  })
  afterEach(() => rmSync(home, {recursive: true, force: true}))

  it('validate: a workdir that does not exist, or is a file, is an error at its line (exit 3)', () => {
    writeFileSync(join(project, 'a-file'), 'x')
    const file = join(project, 'job.yaml')
    writeFileSync(file, 'name: wd\nrun: echo hi\nworkdir: ./nope\n')
    const r = runCli(['validate', file], {home, env})
    expect(r.code, r.stderr).to.equal(3)
    expect(r.stderr)
      .to.include(`${file}:3:10`)
      .and.to.include(`workdir ./nope does not exist (looked for ${join(project, 'nope')})`)
    writeFileSync(file, 'name: wd\nrun: echo hi\nworkdir: a-file\n')
    const f = runCli(['validate', file, '--json'], {home, env})
    expect(f.code).to.equal(3)
    expect(parseEnvelope(f.stdout).error!.message).to.include(`workdir a-file is not a directory (${join(project, 'a-file')})`)
  })

  it('a local job runs in the workdir itself, resolved against the job file, not the current directory', async () => {
    const file = join(project, 'job.yaml')
    writeFileSync(file, 'name: wd\nworkdir: ./code\nrun: |\n  pwd\n  cat pkg/model.txt\n  echo out > result.txt\n')
    const r = await runCliAsync(['launch', file, '--yes', '--wait', '--json'], {home, env, cwd: home})
    expect(r.code, r.stderr).to.equal(0)
    const jobId = parseEnvelope(r.stdout).result.job.id as string
    const logs = runCli(['logs', jobId], {home, env})
    expect(logs.stdout.split('\n').slice(0, 2)).to.deep.equal([realpathSync(join(project, 'code')), 'model v1'])
    // In place: what the job writes is in the directory.
    expect(readFileSync(join(project, 'code', 'result.txt'), 'utf8')).to.equal('out\n')
  })

  it("a local gang's ranks all run in the one workdir", async () => {
    const file = join(project, 'gang.yaml')
    writeFileSync(file, 'name: wdgang\nnodes: 2\nworkdir: code\nrun: cat pkg/model.txt > "rank-$SKYHOP_NODE_RANK.txt"\n')
    const r = await runCliAsync(['launch', file, '--yes', '--wait', '--json'], {home, env, cwd: home})
    expect(r.code, r.stderr).to.equal(0)
    for (const rank of [0, 1]) expect(readFileSync(join(project, 'code', `rank-${rank}.txt`), 'utf8')).to.equal('model v1\n')
  })
})
