// The local provider's offer on a machine whose accelerators only the table-printing vendor
// tools name (MetaX's mx-smi, Moore Threads' mthreads-gmi, Intel's xpu-smi), through the built
// CLI: the fake tools on PATH print the recorded real outputs (test/data/vendor-tools/,
// SOURCES.md), detection maps each printed device name to the accelerator registry, and `plan`
// offers this machine with those accelerators instead of as a CPU-only machine.
import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {parseEnvelope, runCli, tempHome} from '../helpers/cli.js'
import {fakeToolDir, pathWith} from '../helpers/vendor-tools.js'

function machineWith(tools: string[]) {
  const home = tempHome('skyhop-detect-')
  const config = join(home, 'config.yaml')
  writeFileSync(config, 'providers:\n  slurm: {enabled: false}\n')
  return {home, env: {SKYHOP_CONFIG: config, PATH: pathWith(fakeToolDir(home, tools))}}
}

function plan(machine: {home: string; env: Record<string, string>}, accelerators: string, exitCode = 0) {
  const file = join(machine.home, 'job.yaml')
  writeFileSync(file, `name: detect\nresources:\n  accelerators: ${accelerators}\nrun: echo hi\n`)
  const r = runCli(['plan', file, '--json'], machine)
  expect(r.code, r.stderr).to.equal(exitCode)
  return parseEnvelope(r.stdout)
}

describe('local provider: accelerators named by mx-smi, mthreads-gmi and xpu-smi (built CLI)', function () {
  this.timeout(60_000)

  const cases = [
    {tool: 'mx-smi', printed: 'MetaX C550', name: 'MetaX-C550', count: 8},
    {tool: 'mthreads-gmi', printed: 'MTT S5000', name: 'MTT-S5000', count: 2},
    {tool: 'xpu-smi', printed: 'Intel(R) Arc(TM) B580', name: 'Arc-B580', count: 1},
  ]
  for (const c of cases) {
    it(`offers this machine with its ${c.count} × ${c.name} (${c.tool} prints "${c.printed}")`, () => {
      const {result} = plan(machineWith([c.tool]), `${c.name}:${c.count}`)
      expect(result.chosen, JSON.stringify(result.chosen)).to.deep.include({
        provider: 'local',
        instanceType: `local-${c.count}x${c.name}`,
        accelerator: {name: c.name, count: c.count},
      })
    })
  }

  it('without the tools the same request finds no offer (exit 5): this machine is CPU-only then', () => {
    const envelope = plan(machineWith([]), 'MTT-S5000:2', 5)
    expect(envelope.ok).to.equal(false)
    expect(JSON.stringify(envelope)).to.not.contain('local-2xMTT-S5000')
  })
})
