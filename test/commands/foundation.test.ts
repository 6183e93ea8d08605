import {expect} from 'chai'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {ROOT, parseEnvelope, runCli, tempHome} from '../helpers/cli.js'

describe('CLI foundation (built bin/run.js)', () => {
  it('prints its version', () => {
    const r = runCli(['--version'])
    expect(r.code).to.equal(0)
    expect(r.stdout).to.match(/^skyhop\/\d+\.\d+\.\d+ /)
  })

  it('validates the examples: exit 0 and one JSON document', () => {
    const r = runCli(['validate', 'examples/hello.yaml', 'examples/train-gpu.yaml', 'examples/cpu-batch.yaml', '--json'])
    expect(r.code).to.equal(0)
    const env = parseEnvelope(r.stdout)
    expect(env.ok).to.equal(true)
    expect(env.result.files.map((f: {name: string}) => f.name)).to.deep.equal(['hello', 'llama-finetune', 'cpu-batch'])
    expect(r.stderr).to.equal('')
  })

  it('reports an invalid file with exit 3, FILE:LINE:COL, field and suggestion, and no stack trace', () => {
    const file = join(tempHome(), 'bad.yaml')
    writeFileSync(file, 'name: ok\nrun: x\nresources:\n  accelerators: H10O:8\n')
    const r = runCli(['validate', file])
    expect(r.code).to.equal(3)
    expect(r.stderr).to.include(`${file}:4:17: /resources/accelerators: unknown accelerator "H10O"`)
    expect(r.stderr).to.include('did you mean "H100-80GB"')
    expect(r.stderr).not.to.match(/\bat .*\.js:\d+/)
    expect(r.stdout).to.equal('')
  })

  it('puts the error in the JSON envelope with --json', () => {
    const file = join(tempHome(), 'bad.yaml')
    writeFileSync(file, 'name: ok\n')
    const r = runCli(['validate', file, '--json'])
    expect(r.code).to.equal(3)
    const env = parseEnvelope(r.stdout)
    expect(env.ok).to.equal(false)
    expect(env.error!.code).to.equal('JOB_FILE_INVALID')
    expect(env.error!.details.issues[0]).to.include({path: '/run', file})
  })

  it('treats a missing file as an invalid job file (exit 3)', () => {
    const r = runCli(['validate', '/nonexistent/job.yaml'])
    expect(r.code).to.equal(3)
    expect(r.stderr).to.include('/nonexistent/job.yaml: no such file')
  })

  it('exits 2 on an unknown flag, also under --json', () => {
    const r = runCli(['validate', 'examples/hello.yaml', '--frobnicate'])
    expect(r.code).to.equal(2)
    expect(r.stderr).to.match(/error\[USAGE\]/)
    const j = runCli(['validate', 'examples/hello.yaml', '--frobnicate', '--json'])
    expect(j.code).to.equal(2)
    expect(parseEnvelope(j.stdout).error!.code).to.equal('USAGE')
  })

  it('init never prompts without a TTY and exits 2 when an answer is missing', () => {
    const home = tempHome()
    const r = runCli(['init', '--name', 'x'], {home, cwd: home})
    expect(r.code).to.equal(2)
    expect(r.stderr).to.include('missing --run')
    const j = runCli(['init', '--json'], {home, cwd: home})
    expect(j.code).to.equal(2)
    expect(parseEnvelope(j.stdout).error!.code).to.equal('MISSING_ANSWER')
    expect(existsSync(join(home, 'x.yaml'))).to.equal(false)
  })

  it('init writes a job file that validates, and refuses to overwrite it', () => {
    const home = tempHome()
    const args = [
      'init',
      '--name',
      'train',
      '--run',
      'python train.py --lr "$LR"',
      '--accelerators',
      'H100:8',
      '--accelerators',
      '910B:8',
      '--runtimes',
      'cuda',
      '--runtimes',
      'cann',
      '--spot',
      'auto',
      '--work-hours',
      '12',
      '--reference',
      'A100-80GB:8',
      '--deadline',
      '3d',
    ]
    const r = runCli([...args, '--json'], {home, cwd: home})
    expect(r.code, r.stderr).to.equal(0)
    const file = join(home, 'train.yaml')
    expect(readFileSync(file, 'utf8')).to.include('run: python train.py --lr "$LR"')
    expect(runCli(['validate', file], {home}).code).to.equal(0)
    const again = runCli(args, {home, cwd: home})
    expect(again.code).to.equal(2)
    expect(again.stderr).to.include('already exists')
  })

  it('init rejects an invalid answer and leaves no file behind', () => {
    const home = tempHome()
    const r = runCli(['init', '--name', 'x', '--run', 'y', '--accelerators', 'H10O:8'], {home, cwd: home})
    expect(r.code).to.equal(3)
    expect(r.stderr).to.include('unknown accelerator')
    expect(existsSync(join(home, 'x.yaml'))).to.equal(false)
  })

  it('has a summary and at least one example for every command', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, {summary?: string; description?: string; examples?: unknown[]; hidden?: boolean}>
    }
    const missing = Object.entries(manifest.commands).filter(
      ([, c]) => !c.hidden && (!c.examples || c.examples.length === 0 || !(c.summary || c.description)),
    )
    expect(missing.map(([id]) => id)).to.deep.equal([])
  })
})
