// Forty-plus malformed job files. Each must fail with exit code 3, point at the right
// line and field, and say what was expected — never a stack trace.
import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {InvalidFileError} from '../../../src/errors.js'
import {loadJobFile} from '../../../src/job/load.js'

const NOW = new Date('2026-11-27T12:00:00Z')
const dir = mkdtempSync(join(tmpdir(), 'skyhop-bad-'))

interface Case {
  title: string
  content: string | Buffer
  ext?: string
  line?: number
  path?: string
  message: RegExp
  suggestion?: string
}

const ok = 'name: ok\nrun: echo hi\n'

const cases: Case[] = [
  {title: 'empty file', content: '', line: undefined, path: '', message: /empty/},
  {title: 'only comments', content: '# nothing here\n\n', path: '', message: /empty/},
  {title: 'binary garbage', content: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3]), path: '', message: /binary/},
  {title: 'invalid utf-8', content: Buffer.from([0x6e, 0x61, 0xff, 0xfe, 0x0a]), path: '', message: /UTF-8/},
  {title: 'too large', content: 'name: x\nrun: y\n# ' + 'x'.repeat(1024 * 1024 + 10) + '\n', path: '', message: /under 1 MiB/},
  {title: 'yaml syntax: bad indentation', content: 'name: a\n  run: b\n run: c\n', line: 1, message: /YAML syntax error/},
  {title: 'yaml syntax: unclosed quote', content: 'name: "abc\nrun: x\n', message: /YAML syntax error/},
  {title: 'yaml syntax: tab indentation', content: 'name: a\nresources:\n\tcpus: 2\nrun: x\n', line: 3, message: /YAML syntax error|tab/i},
  {title: 'duplicate key', content: 'name: a\nrun: x\nname: b\n', line: 3, message: /duplicate key/},
  {title: 'json duplicate key', ext: 'json', content: '{"name": "a", "run": "x", "run": "y"}', line: 1, message: /duplicate key/},
  {title: 'json syntax error', ext: 'json', content: '{"name": "a", "run": "x",, }', line: 1, message: /YAML syntax error/},
  {title: 'top level is a list', content: '- name: a\n- run: b\n', line: 1, path: '', message: /top level must be a mapping/},
  {title: 'top level is a scalar', content: 'just a string\n', line: 1, path: '', message: /top level must be a mapping/},
  {title: 'missing run', content: 'name: a\n', path: '/run', message: /missing required key "run"/},
  {title: 'missing name', content: 'run: echo\n', path: '/name', message: /missing required key "name"/},
  {
    title: 'unknown top-level key with suggestion',
    content: 'name: a\nrun: x\nresoures:\n  cpus: 2\n',
    line: 3,
    path: '/resoures',
    message: /unknown key "resoures"/,
    suggestion: 'resources',
  },
  {
    title: 'misspelt nested key',
    content: 'name: a\nrun: x\nresources:\n  accelerator: H100:8\n',
    line: 4,
    path: '/resources/accelerator',
    message: /unknown key/,
    suggestion: 'accelerators',
  },
  {
    title: 'misspelt recovery key',
    content: 'name: a\nrun: x\nrecovery:\n  max_restart: 3\n',
    line: 4,
    path: '/recovery/max_restart',
    message: /unknown key/,
    suggestion: 'max_restarts',
  },
  {title: 'name with spaces', content: 'name: my job\nrun: x\n', line: 1, path: '/name', message: /letters, digits/},
  {title: 'name is a number', content: 'name: 42\nrun: x\n', line: 1, path: '/name', message: /expected string, got number 42/},
  {title: 'run is a list', content: 'name: a\nrun: [a, b]\n', line: 2, path: '/run', message: /expected string, got a list/},
  {title: 'run is empty', content: 'name: a\nrun: ""\n', line: 2, path: '/run', message: /must not be empty/},
  {
    title: 'unknown accelerator with suggestion',
    content: 'name: a\nrun: x\nresources:\n  accelerators: H10O:8\n',
    line: 4,
    path: '/resources/accelerators',
    message: /unknown accelerator "H10O"/,
    suggestion: 'H100-80GB',
  },
  {
    title: 'misspelt auto suggests auto, not an accelerator',
    content: 'name: a\nrun: x\nresources:\n  accelerators: autoo\n',
    line: 4,
    path: '/resources/accelerators',
    message: /unknown accelerator "autoo"; write `auto` to let skyhop choose/,
    suggestion: 'auto',
  },
  {
    title: 'auto as a filter key',
    content: 'name: a\nrun: x\nresources:\n  accelerators: {auto: 1}\n',
    line: 4,
    path: '/resources/accelerators/auto',
    message: /unknown key "auto"/,
  },
  {
    title: 'auto among alternatives',
    content: 'name: a\nrun: x\nresources:\n  accelerators: [H100:8, auto]\n',
    line: 4,
    path: '/resources/accelerators/1',
    message: /cannot be one of a list: write `accelerators: auto` alone/,
  },
  {
    title: 'unknown accelerator in list',
    content: 'name: a\nrun: x\nresources:\n  accelerators: [H100:8, Ascend91OB:8]\n',
    line: 4,
    path: '/resources/accelerators/1',
    message: /unknown accelerator/,
  },
  {
    title: 'zero accelerator count',
    content: 'name: a\nrun: x\nresources:\n  accelerators: H100:0\n',
    line: 4,
    path: '/resources/accelerators',
    message: /at least 1/,
  },
  {
    title: 'negative accelerator count',
    content: 'name: a\nrun: x\nresources:\n  accelerators: "H100:-2"\n',
    line: 4,
    path: '/resources/accelerators',
    message: /not a count/,
  },
  {
    title: 'accelerator without name',
    content: 'name: a\nrun: x\nresources:\n  accelerators: ":8"\n',
    line: 4,
    path: '/resources/accelerators',
    message: /no accelerator name/,
  },
  {
    title: 'empty accelerator range',
    content: 'name: a\nrun: x\nresources:\n  accelerators: H100:8..2\n',
    line: 4,
    path: '/resources/accelerators',
    message: /empty/,
  },
  {
    title: 'accelerator filter unknown key',
    content: 'name: a\nrun: x\nresources:\n  accelerators:\n    vendr: nvidia\n',
    line: 5,
    path: '/resources/accelerators/vendr',
    message: /unknown key/,
    suggestion: 'vendor',
  },
  {
    title: 'accelerator filter unknown vendor',
    content: 'name: a\nrun: x\nresources:\n  accelerators:\n    vendor: nvidai\n',
    line: 5,
    path: '/resources/accelerators/vendor',
    message: /unknown vendor/,
    suggestion: 'nvidia',
  },
  {
    title: 'bad memory in filter',
    content: 'name: a\nrun: x\nresources:\n  accelerators:\n    memory: lots\n',
    line: 5,
    path: '/resources/accelerators/memory',
    message: /not a size/,
  },
  {
    title: 'runtime unknown',
    content: 'name: a\nrun: x\nresources:\n  runtimes: [cuda, cuba]\n',
    line: 4,
    path: '/resources/runtimes/1',
    message: /not allowed; expected one of/,
  },
  {
    title: 'runtimes exclude every requested accelerator',
    content: 'name: a\nrun: x\nresources:\n  accelerators: Ascend910B:8\n  runtimes: [cuda]\n',
    line: 4,
    path: '/resources/accelerators',
    message: /runtimes allows only cuda/,
  },
  {title: 'zero cpus', content: 'name: a\nrun: x\nresources:\n  cpus: 0\n', line: 4, path: '/resources/cpus', message: /positive integer/},
  {
    title: 'cpus not a number',
    content: 'name: a\nrun: x\nresources:\n  cpus: many\n',
    line: 4,
    path: '/resources/cpus',
    message: /not a count/,
  },
  {
    title: 'bad memory unit',
    content: 'name: a\nrun: x\nresources:\n  memory: 64GX\n',
    line: 4,
    path: '/resources/memory',
    message: /not a size unit/,
  },
  {
    title: 'negative disk',
    content: 'name: a\nrun: x\nresources:\n  disk: -5\n',
    line: 4,
    path: '/resources/disk',
    message: /greater than zero/,
  },
  {
    title: 'spot misspelt',
    content: 'name: a\nrun: x\nspot: sport\n',
    line: 3,
    path: '/spot',
    message: /expected one of: spot, on-demand, auto/,
    suggestion: 'spot',
  },
  {
    title: 'objective unknown',
    content: 'name: a\nrun: x\nobjective: cheapest\n',
    line: 3,
    path: '/objective',
    message: /expected one of: cost, time, balanced/,
  },
  {
    title: 'deadline in the past',
    content: 'name: a\nrun: x\ndeadline: 2020-01-01T00:00:00Z\n',
    line: 3,
    path: '/deadline',
    message: /in the past/,
  },
  {
    title: 'deadline without timezone',
    content: 'name: a\nrun: x\ndeadline: 2027-01-01T10:00\n',
    line: 3,
    path: '/deadline',
    message: /no timezone/,
  },
  {
    title: 'deadline nonsense',
    content: 'name: a\nrun: x\ndeadline: soon\n',
    line: 3,
    path: '/deadline',
    message: /neither an ISO-8601 time/,
  },
  {
    title: 'budget bad currency',
    content: 'name: a\nrun: x\nbudget: 200EUR\n',
    line: 3,
    path: '/budget',
    message: /currency "EUR" is not supported/,
  },
  {title: 'budget negative', content: 'name: a\nrun: x\nbudget: -5\n', line: 3, path: '/budget', message: /must be > 0, got -5/},
  {title: 'max_price garbage', content: 'name: a\nrun: x\nmax_price: cheap\n', line: 3, path: '/max_price', message: /not an amount/},
  {title: 'work hours zero', content: 'name: a\nrun: x\nwork:\n  hours: 0\n', line: 4, path: '/work/hours', message: /must be > 0/},
  {
    title: 'work reference unknown',
    content: 'name: a\nrun: x\nwork:\n  reference: A1000:8\n  hours: 3\n',
    line: 4,
    path: '/work/reference',
    message: /unknown accelerator/,
  },
  {
    title: 'work reference range',
    content: 'name: a\nrun: x\nwork:\n  reference: A100-80GB:1..8\n  hours: 3\n',
    line: 4,
    path: '/work/reference',
    message: /exact count/,
  },
  {
    title: 'duration without unit',
    content: 'name: a\nrun: x\ncheckpoint:\n  interval: "30"\n',
    line: 4,
    path: '/checkpoint/interval',
    message: /has no unit/,
  },
  {
    title: 'duration garbage',
    content: 'name: a\nrun: x\nrecovery:\n  grace: 5 fortnights\n',
    line: 4,
    path: '/recovery/grace',
    message: /not a duration/,
  },
  {
    title: 'usage: idle policy with an unknown action',
    content: 'name: a\nrun: x\nusage:\n  idle: {below: 5%, for: 30m, action: shutdown}\n',
    line: 4,
    path: '/usage/idle/action',
    message: /warn|checkpoint-and-stop|stop/,
  },
  {
    title: 'usage: idle policy without its duration',
    content: 'name: a\nrun: x\nusage:\n  idle:\n    below: 5%\n',
    line: 4,
    path: '/usage/idle/for',
    message: /missing required key "for"/,
  },
  {
    title: 'usage: idle.below not a percentage',
    content: 'name: a\nrun: x\nusage:\n  idle: {below: lots, for: 30m}\n',
    line: 4,
    path: '/usage/idle/below',
    message: /./,
  },
  {
    title: 'usage: idle.for garbage',
    content: 'name: a\nrun: x\nusage:\n  idle:\n    below: 5%\n    for: a while\n',
    line: 6,
    path: '/usage/idle/for',
    message: /not a duration/,
  },
  {
    title: 'usage: sample_interval garbage',
    content: 'name: a\nrun: x\nusage:\n  sample_interval: often\n',
    line: 4,
    path: '/usage/sample_interval',
    message: /./,
  },
  {
    title: 'negative max_restarts',
    content: 'name: a\nrun: x\nrecovery:\n  max_restarts: -1\n',
    line: 4,
    path: '/recovery/max_restarts',
    message: /must be >= 0/,
  },
  {
    title: 'exit code out of range',
    content: 'name: a\nrun: x\nrecovery:\n  restart_on_exit_codes: [1, 300]\n',
    line: 4,
    path: '/recovery/restart_on_exit_codes/1',
    message: /must be <= 255/,
  },
  {title: 'env name invalid', content: 'name: a\nrun: x\nenvs:\n  1BAD: x\n', line: 4, path: '/envs/1BAD', message: /not a valid name/},
  {
    title: 'env value is a mapping',
    content: 'name: a\nrun: x\nenvs:\n  A:\n    b: c\n',
    line: 5,
    path: '/envs/A',
    message: /expected string or number or boolean, got a mapping/,
  },
  {title: 'matrix empty list', content: 'name: a\nrun: x\nmatrix:\n  lr: []\n', line: 4, path: '/matrix/lr', message: /must not be empty/},
  {title: 'nodes zero', content: 'name: a\nrun: x\nnodes: 0\n', line: 3, path: '/nodes', message: /must be >= 1/},
  {
    title: 'nodes a fraction',
    content: 'name: a\nrun: x\nnodes: 1.5\n',
    line: 3,
    path: '/nodes',
    message: /expected integer, got number 1.5/,
  },
  {
    title: 'interconnect unknown',
    content: 'name: a\nrun: x\nnodes: 2\nresources:\n  interconnect: infiniband\n',
    line: 5,
    path: '/resources/interconnect',
    message: /"infiniband" is not allowed; expected one of/,
  },
  {
    title: 'compat unknown',
    content: 'name: a\nrun: x\ncompat: [torchrun, ray]\n',
    line: 3,
    path: '/compat/1',
    message: /"ray" is not allowed; expected one of/,
  },
  {
    title: 'compat a number',
    content: 'name: a\nrun: x\ncompat: 3\n',
    line: 3,
    path: '/compat',
    message: /3 is not allowed; expected one of: skypilot/,
  },
  {
    title: 'placement wrong type',
    content: 'name: a\nrun: x\nplacement:\n  providers: aws\n',
    line: 4,
    path: '/placement/providers',
    message: /not accepted here/,
  },
  {
    title: 'data missing size',
    content: 'name: a\nrun: x\ndata:\n  - location: aws/us-east-1\n',
    path: '/data/0/size',
    message: /missing required key "size"/,
  },
  {
    title: 'throughput unknown accelerator',
    content: 'name: a\nrun: x\nthroughput:\n  Foo9000: 2\n',
    line: 4,
    path: '/throughput/Foo9000',
    message: /unknown accelerator/,
  },
  {title: 'several errors reported together', content: 'name: a b\nrun: x\nspot: always\n', line: 1, message: /./},
  {
    title: 'unknown accelerator H10 suggests H100, not Ascend910',
    content: 'name: a\nrun: x\nresources:\n  accelerators: H10:1\n',
    line: 4,
    path: '/resources/accelerators',
    message: /unknown accelerator "H10"/,
    suggestion: 'H100-80GB',
  },
  {
    title: 'env value with a NUL character',
    content: 'name: a\nrun: x\nenvs:\n  K: "a\\u0000b"\n',
    line: 4,
    path: '/envs/K',
    message: /NUL character/,
  },
  {
    title: 'alias bomb is located',
    content:
      'name: a\nrun: x\nx0: &a [1,1,1,1,1,1,1,1,1,1]\nx1: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n' +
      'x2: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nx3: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n',
    line: 4,
    path: '',
    message: /aliases \(\*name\) expand to too many values/,
  },
  {title: 'complex key is located', content: 'name: a\nrun: x\n? [a, b]\n: 1\n', line: 3, path: '', message: /plain name, not a list/},
  // Nesting past the cap is refused before yaml recurses into it (it ran out of stack, slowly).
  {
    title: 'deep flow nesting is located',
    content: `name: a\nrun: x\nenvs: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`,
    line: 3,
    path: '',
    message: /nests more than 100 levels deep/,
  },
  {
    title: 'unclosed deep flow nesting',
    content: `name: a\nrun: x\nenvs: ${'{a: '.repeat(5_000)}\n`,
    line: 3,
    message: /nests more than 100/,
  },
  {
    title: 'deep compact block sequence',
    content: `name: a\nrun: x\nenvs:\n  ${'- '.repeat(20_000)}1\n`,
    line: 4,
    message: /nests more than 100/,
  },
  {
    title: 'deep block mapping',
    content: `name: a\nrun: x\nresources:\n${Array.from({length: 300}, (_, i) => `${' '.repeat(i + 1)}k${i}:`).join('\n')} 1\n`,
    line: 103,
    message: /nests more than 100/,
  },
]

describe('job file validation: bad files', () => {
  it('has at least 40 cases', () => {
    expect(cases.length).to.be.at.least(40)
  })

  cases.forEach((c, i) => {
    it(c.title, () => {
      const file = join(dir, `case-${i}.${c.ext ?? 'yaml'}`)
      writeFileSync(file, c.content)
      let caught: unknown
      try {
        loadJobFile(file, {now: NOW})
      } catch (error) {
        caught = error
      }
      expect(caught, 'must throw').to.be.instanceOf(InvalidFileError)
      const err = caught as InvalidFileError
      expect(err.exitCode).to.equal(3)
      expect(err.code).to.equal('JOB_FILE_INVALID')
      const issue = c.path === undefined ? err.issues[0] : err.issues.find((x) => x.path === c.path)
      expect(issue, `an issue at ${c.path}; got ${JSON.stringify(err.issues)}`).to.exist
      expect(issue!.file).to.equal(file)
      expect(issue!.message).to.match(c.message)
      if (c.line !== undefined) expect(issue!.line, JSON.stringify(issue)).to.equal(c.line)
      if (c.suggestion) expect(issue!.suggestion).to.equal(c.suggestion)
      // The rendered message says where: FILE:LINE:COL when a line is known.
      if (issue!.line !== undefined) expect(err.message).to.include(`${file}:${issue!.line}:`)
    })
  })

  it('reports every problem of a file at once', () => {
    const file = join(dir, 'multi.yaml')
    writeFileSync(file, 'name: a b\nrun: x\nspot: always\nresoures: {}\n')
    try {
      loadJobFile(file, {now: NOW})
      expect.fail('must throw')
    } catch (error) {
      const paths = (error as InvalidFileError).issues.map((i) => i.path)
      expect(paths).to.include.members(['/name', '/spot', '/resoures'])
    }
  })

  it('reports schema errors and value errors (accelerator, deadline) in one pass', () => {
    const file = join(dir, 'two-pass.yaml')
    writeFileSync(file, 'name: a\nrun: x\nresources:\n  accelerators: H10:1\ndeadline: 2020-01-01T00:00:00Z\nspot: maybe\n')
    try {
      loadJobFile(file, {now: NOW})
      expect.fail('must throw')
    } catch (error) {
      const paths = (error as InvalidFileError).issues.map((i) => i.path)
      expect(paths).to.have.members(['/resources/accelerators', '/deadline', '/spot'])
    }
  })

  it('does not repeat a value error under a field the schema rejected', () => {
    const file = join(dir, 'covered.yaml')
    writeFileSync(file, 'name: a\nrun: x\nbudget: {amount: -1, currency: EUR}\nspot: maybe\n')
    try {
      loadJobFile(file, {now: NOW})
      expect.fail('must throw')
    } catch (error) {
      const issues = (error as InvalidFileError).issues
      expect(issues.map((i) => i.path).filter((p) => p.startsWith('/budget')).length, JSON.stringify(issues)).to.be.at.least(1)
      expect(new Set(issues.map((i) => `${i.path}|${i.message}`)).size).to.equal(issues.length)
    }
  })

  it('a complex key prints no Node warning', async () => {
    const file = join(dir, 'complex-key.yaml')
    writeFileSync(file, 'name: a\nrun: x\n? [a, b]\n: 1\n')
    const warnings: string[] = []
    const onWarning = (w: Error): number => warnings.push(w.message)
    process.on('warning', onWarning)
    try {
      expect(() => loadJobFile(file, {now: NOW})).to.throw(InvalidFileError)
      await new Promise((r) => setImmediate(r))
    } finally {
      process.off('warning', onWarning)
    }
    expect(warnings).to.deep.equal([])
  })

  it('accepts a minimal file', () => {
    const file = join(dir, 'ok.yaml')
    writeFileSync(file, ok)
    expect(loadJobFile(file, {now: NOW}).spec.name).to.equal('ok')
  })
})
