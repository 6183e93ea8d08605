// `skyhop import` through the built CLI, on real SkyPilot and dstack files
// (test/data/foreign, sources in its SOURCES.md): each imports, the result validates and
// plans across the whole catalog; a foreign file given to validate/plan is named as such.
import {expect} from 'chai'
import {existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {ROOT, parseEnvelope, runCli, tempHome} from '../helpers/cli.js'

const FOREIGN = join(ROOT, 'test', 'data', 'foreign')
const files = (dir: string) =>
  readdirSync(join(FOREIGN, dir))
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join('test', 'data', 'foreign', dir, f))

/**
 * Files whose import plans to exit 5, why, and a reason the plan's error names: the
 * catalog has no offer skyhop can launch for what they ask, which is the planner's answer,
 * not the importer's. Those that only providers without an adapter offer (issue 21: they once
 * planned onto one) say `no-adapter`.
 */
const NO_OFFER: Record<string, {why: string; reason: string}> = {
  'tgi-service.dstack.yml': {why: 'the bundled catalog has no offer of 2 H200 on one machine', reason: 'accelerator-mismatch'},
  'using_file_mounts.yaml': {
    why: 'the task allows only AWS and asks for no accelerator, and the bundled catalog has only GPU offers on AWS',
    reason: 'accelerator-not-requested',
  },
  'trl-amd.dstack.yml': {
    why: 'the bundled catalog sells MI300X only 8 to a machine; the file asks for one',
    reason: 'accelerator-mismatch',
  },
  'gpt-oss-120b-amd.dstack.yml': {why: 'its AMD GPUs are offered only by providers skyhop has no adapter for yet', reason: 'no-adapter'},
  'trl-fsdp.dstack.yml': {
    why: 'its container image runs nowhere AWS sells its shape, and the others selling it have no adapter yet',
    reason: 'no-adapter',
  },
}

/** Files the importer refuses, and the words of the refusal. */
const REFUSED: Record<string, RegExp> = {
  'ray-fleet.dstack.yaml': /a dstack fleet configuration describes no job/,
}

describe('skyhop import (built CLI, real SkyPilot and dstack files)', function () {
  this.timeout(600_000)
  const home = tempHome()
  const config = join(home, 'config.yaml')
  writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
  const o = {home, env: {SKYHOP_CONFIG: config}}

  for (const [format, dir] of [
    ['skypilot', 'skypilot'],
    ['dstack', 'dstack'],
  ] as const) {
    const list = files(dir)
    it(`has at least 8 ${format} files`, () => expect(list.filter((f) => !REFUSED[f.split('/').pop()!]).length).to.be.at.least(8))
    for (const file of list) {
      const base = file.split('/').pop()!
      it(`${base}: imports, validates and plans`, () => {
        const out = join(home, `${base}.job.yaml`)
        const imported = runCli(['import', file, '--output', out, '--json'], o)
        const refused = REFUSED[base]
        if (refused) {
          expect(imported.code, imported.stdout).to.equal(3)
          expect(parseEnvelope(imported.stdout).error!.message).to.match(refused)
          expect(existsSync(out)).to.equal(false)
          return
        }
        expect(imported.code, imported.stderr + imported.stdout).to.equal(0)
        const result = parseEnvelope(imported.stdout).result
        expect(result.source.format).to.equal(format)
        expect(result.output).to.equal(out)
        expect(readFileSync(out, 'utf8')).to.equal(result.content)
        // Every unmapped key is written in the file as a comment too.
        for (const u of result.unmapped) expect(result.content).to.include(`#   ${u.path} (${u.kind})`)

        const validated = runCli(['validate', out], o)
        expect(validated.code, validated.stderr).to.equal(0)
        const planned = runCli(['plan', out, '--all-providers', '--json'], o)
        const why = NO_OFFER[base]
        // A container image carries over (dstack's image, SkyPilot's docker: image_id); only local
        // runs container images so far, so a GPU job with one has no offer, and the plan says why.
        const container = /^image: docker:/m.test(result.content)
        if (container && !why) {
          expect(planned.code, `${base}: ${planned.stdout.slice(0, 600)}`).to.be.oneOf([0, 5])
          if (planned.code === 5) expect(parseEnvelope(planned.stdout).error!.message).to.include('container-unsupported')
          return
        }
        expect(planned.code, `${base}: ${planned.stdout.slice(0, 600)}`).to.equal(why ? 5 : 0)
        if (why) expect(parseEnvelope(planned.stdout).error!.message, why.why).to.include(`× ${why.reason}:`)
      })
    }
  }

  it('prints the job and lists what has no equivalent on stderr, at its line', () => {
    const r = runCli(['import', 'test/data/foreign/skypilot/spot-bert_qa.yaml'], o)
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.match(/^# yaml-language-server/)
    expect(r.stdout).to.include('name: bert_qa\n')
    expect(r.stdout).to.include('spot: spot\n')
    // The bucket SkyPilot would create is not converted, and says so at its line.
    expect(r.stderr).to.match(
      /test\/data\/foreign\/skypilot\/spot-bert_qa\.yaml:12:\d+: \/file_mounts\/~1checkpoint: left-out: SkyPilot creates/,
    )
    expect(r.stdout).to.not.match(/^files:/m)
    expect(r.stderr).to.include('$SKYPILOT_SPOT_RUN_ID')
  })

  it('maps resources, spot, placement, recovery, envs and secrets of a SkyPilot task', () => {
    const r = runCli(['import', 'test/data/foreign/skypilot/llama-3_1-lora.yaml', '--json'], o)
    const job = parseEnvelope(r.stdout).result.job
    expect(job).to.deep.include({name: 'llama-3_1-lora', spot: 'spot', compat: 'skypilot', secrets: ['HF_TOKEN']})
    expect(job.resources).to.deep.equal({accelerators: 'A100-40GB:8'})
    expect(job.envs).to.deep.equal({MODEL_SIZE: '8B', DATASET: 'yahma/alpaca-cleaned', CHECKPOINT_BUCKET_NAME: 'sky-llama-31-checkpoints'})
    const bert = parseEnvelope(runCli(['import', 'test/data/foreign/skypilot/spot-bert_qa.yaml', '--json'], o).stdout).result.job
    expect(bert.placement).to.deep.equal({providers: {allow: ['aws']}})
    expect(bert.recovery).to.deep.equal({strategy: 'same-region-first'})
  })

  it("maps dstack's gpu ranges, nodes, spot and commands", () => {
    const get = (f: string) => parseEnvelope(runCli(['import', `test/data/foreign/dstack/${f}`, '--json'], o).stdout).result.job
    expect(get('qlora.dstack.yml').resources.accelerators).to.deep.equal({vendor: 'nvidia', memory: '16GB..24GB', count: 1})
    expect(get('trl-fsdp.dstack.yml')).to.deep.include({nodes: 2})
    expect(get('trl-fsdp.dstack.yml').resources.accelerators).to.deep.equal({vendor: 'nvidia', memory: '80GB', count: 8})
    const wan = get('wan22.dstack.yml')
    expect(wan.resources).to.deep.equal({disk: '300GB', accelerators: 'H100-80GB,H200:1..8'})
    expect(wan.spot).to.equal('auto')
    const torchrun = get('torchrun.dstack.yml')
    expect(torchrun.run).to.match(/^git clone https:\/\/github.com\/pytorch\/examples.git pytorch-examples &&\ncd /)
    expect(get('tgi-service.dstack.yml').resources).to.deep.equal({disk: '500GB', accelerators: 'H200:2'})
  })

  it('never overwrites an existing file without --force', () => {
    const out = join(home, 'exists.yaml')
    writeFileSync(out, 'mine\n')
    const r = runCli(['import', 'test/data/foreign/skypilot/disk_size.yaml', '--output', out], o)
    expect(r.code).to.equal(2)
    expect(r.stderr).to.include('already exists')
    expect(readFileSync(out, 'utf8')).to.equal('mine\n')
    const forced = runCli(['import', 'test/data/foreign/skypilot/disk_size.yaml', '--output', out, '--force'], o)
    expect(forced.code, forced.stderr).to.equal(0)
    expect(readFileSync(out, 'utf8')).to.include('name: minimal')
    const nowhere = runCli(['import', 'test/data/foreign/skypilot/disk_size.yaml', '--output', join(home, 'no', 'such', 'dir.yaml')], o)
    expect(nowhere.code).to.equal(2)
    expect(nowhere.stderr).to.include('cannot write')
  })

  it('validate, plan, launch and sweep name a foreign file and point at import (exit 3), instead of listing unknown keys', () => {
    for (const [file, words] of [
      ['test/data/foreign/skypilot/distributed-pytorch-train.yaml', 'looks like a SkyPilot task (/num_nodes'],
      ['test/data/foreign/dstack/torchrun.dstack.yml', 'looks like a dstack run configuration (/type'],
    ]) {
      for (const args of [['validate'], ['plan'], ['launch', '--yes'], ['sweep', '--yes']]) {
        const r = runCli([args[0], file, ...args.slice(1)], o)
        expect(r.code, r.stderr).to.equal(3)
        expect(r.stderr).to.include(words)
        expect(r.stderr).to.include(`run \`skyhop import ${file}\``)
        expect(r.stderr).to.not.include('unknown key')
      }
    }
    // Refused before anything was recorded.
    expect(parseEnvelope(runCli(['status', '--json'], o).stdout).result.jobs).to.deep.equal([])
    const fleet = runCli(['validate', 'test/data/foreign/dstack/ray-fleet.dstack.yaml'], o)
    expect(fleet.code).to.equal(3)
    expect(fleet.stderr).to.include('this is a dstack fleet configuration')
    // A skyhop file with a mistake is still reported key by key.
    const own = join(home, 'own.yaml')
    writeFileSync(own, 'name: mine\nrun: echo\nspot: spot\nnum_nodes: 2\n')
    const mine = runCli(['validate', own], o)
    expect(mine.code).to.equal(3)
    expect(mine.stderr).to.include('unknown key "num_nodes"')
  })

  it('a file that is neither, or a task with nothing to run, exits 3 with why', () => {
    const neither = join(home, 'neither.yaml')
    writeFileSync(neither, 'hello: world\n')
    const r = runCli(['import', neither], o)
    expect(r.code).to.equal(3)
    expect(r.stderr).to.include('does not look like a SkyPilot task or a dstack run configuration')
    const norun = join(home, 'norun.yaml')
    writeFileSync(norun, 'resources: {accelerators: V100:1}\nnum_nodes: 2\n')
    const n = runCli(['import', norun], o)
    expect(n.code).to.equal(3)
    expect(n.stderr).to.include('the task has no `run` command')
    const pipeline = join(home, 'pipeline.yaml')
    writeFileSync(pipeline, 'name: pipeline\n---\nname: a\nrun: echo a\n---\nname: b\nrun: echo b\n')
    const p = runCli(['import', pipeline], o)
    expect(p.code).to.equal(3)
    expect(p.stderr).to.include('several YAML documents')
    expect(p.stderr).to.include('put each task in a file of its own')
    const missing = runCli(['import', join(home, 'nope.yaml')], o)
    expect(missing.code).to.equal(3)
    expect(missing.stderr).to.include('no such file')
  })
})
