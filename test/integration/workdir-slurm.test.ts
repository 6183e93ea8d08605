// A job's workdir on the real Slurm cluster (scripts/slurm-up.sh): staged before sbatch
// where the compute nodes see it (the attempt directory by default, or
// providers.slurm.workdir_stage_dir, content-addressed), with the ignore files honoured;
// the job runs in the stage, so edits to the original after launch do not reach it.
import {expect} from 'chai'
import {mkdirSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {LaunchHandle} from '../../src/model/attempt.js'
import {SlurmProvider} from '../../src/providers/slurm/slurm-provider.js'
import {pollUntil, removeTempDirs, requireSlurm, slurmRequest, tempDir} from '../helpers/slurm.js'

const ENDED = new Set(['SUCCEEDED', 'FAILED', 'PREEMPTED', 'CANCELLED', 'LOST'])

describe('workdir on Slurm (real Slurm)', function () {
  this.timeout(120_000)
  const launched: Array<{provider: SlurmProvider; handle: LaunchHandle}> = []
  let home: string
  let code: string

  before(async function () {
    await requireSlurm(this)
  })
  beforeEach(() => {
    home = tempDir()
    code = join(home, 'code')
    mkdirSync(join(code, 'pkg'), {recursive: true})
    writeFileSync(join(code, 'pkg', 'model.txt'), 'model v1\n')
    writeFileSync(join(code, 'notes.tmp'), 'ignored\n')
    writeFileSync(join(code, '.skyhopignore'), '*.tmp\n')
  })
  afterEach(async () => {
    for (const {provider, handle} of launched.splice(0)) await provider.cleanup(handle).catch(() => undefined)
  })
  after(() => removeTempDirs())

  async function run(provider: SlurmProvider, script: string): Promise<{lines: string[]; handle: LaunchHandle}> {
    const req = slurmRequest(home, script)
    req.spec = {...req.spec, workdir: code}
    const handle = await provider.launch(req)
    launched.push({provider, handle})
    // Changed after sbatch: the attempt runs what was staged.
    writeFileSync(join(code, 'pkg', 'model.txt'), 'model v2 (after launch)\n')
    const {last, seen} = await pollUntil(provider, handle, (r) => ENDED.has(r.state))
    expect(last.state, seen.join(' → ')).to.equal('SUCCEEDED')
    const lines: string[] = []
    for await (const line of provider.logs(handle, {follow: false})) lines.push(line)
    return {lines, handle}
  }

  it('stages the workdir into the attempt directory by default and runs the job there', async () => {
    const provider = new SlurmProvider({home})
    const {lines, handle} = await run(provider, 'pwd; cat pkg/model.txt; ls -A | tr "\\n" " "')
    const attemptDir = (handle.data as {attemptDir: string}).attemptDir
    expect(lines[0]).to.equal(join(attemptDir, 'workdir'))
    expect(lines[1]).to.equal('model v1')
    expect(lines[2].trim().split(' ').sort()).to.deep.equal(['.skyhopignore', 'pkg'])
  })

  it('stages under workdir_stage_dir by content, once for the same content', async () => {
    const stageRoot = join(home, 'shared-stage')
    const provider = new SlurmProvider({home, workdirStageDir: stageRoot})
    const first = await run(provider, 'pwd; cat pkg/model.txt')
    expect(first.lines[0]).to.match(new RegExp(`^${stageRoot}/workdir-[0-9a-f]{64}$`))
    expect(first.lines[1]).to.equal('model v1')
    // Back to the first content: the same stage, not a new one.
    writeFileSync(join(code, 'pkg', 'model.txt'), 'model v1\n')
    const second = await run(provider, 'pwd')
    expect(second.lines[0]).to.equal(first.lines[0])
    expect(readdirSync(stageRoot)).to.have.length(1)
  })
})
