// The `service:` block of a job file: normalized values, and every bad value a located error
// (exit 3) at its line and field, like the rest of the job file.
import {expect} from 'chai'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {InvalidFileError} from '../../../src/errors.js'
import {loadJobFile} from '../../../src/job/load.js'

const dir = mkdtempSync(join(tmpdir(), 'skyhop-service-'))
let n = 0
function load(content: string) {
  const file = join(dir, `s${n++}.yaml`)
  writeFileSync(file, content)
  return loadJobFile(file)
}
function issues(content: string) {
  try {
    load(content)
  } catch (error) {
    expect(error).to.be.instanceOf(InvalidFileError)
    expect((error as InvalidFileError).exitCode).to.equal(3)
    return (error as InvalidFileError).issues
  }
  throw new Error('expected the file to be rejected')
}

const head = 'name: llm\nrun: node server.js\n'

describe('service: block', () => {
  it('normalizes a full block', () => {
    const {spec} = load(
      head +
        'service:\n  port: 8080\n  readiness: {path: /health, initial_delay: 90s, timeout: 2s}\n' +
        '  replicas: {min: 1, max: 4, target_qps_per_replica: 5}\n  upscale_delay: 10s\n  downscale_delay: 1m\n' +
        '  spot: {base_on_demand: 1, spread: providers}\n  slo: {p95_latency: 500ms}\n  api_key_env: LLM_KEY\n',
    )
    expect(spec.service).to.deep.equal({
      port: 8080,
      readiness: {path: '/health', initialDelaySeconds: 90, timeoutSeconds: 2},
      replicas: {min: 1, max: 4, targetQpsPerReplica: 5},
      upscaleDelaySeconds: 10,
      downscaleDelaySeconds: 60,
      spot: {baseOnDemand: 1, spread: 'providers'},
      slo: {p95LatencySeconds: 0.5},
      apiKeyEnv: 'LLM_KEY',
      host: '127.0.0.1',
      lbPort: 0,
    })
  })

  it('takes a fixed replica count and fills defaults', () => {
    const {spec} = load(head + 'service:\n  port: 9000\n  replicas: 3\n')
    expect(spec.service!.replicas).to.deep.equal({min: 3, max: 3, targetQpsPerReplica: null})
    expect(spec.service!.readiness.path).to.equal('/')
    expect(spec.service!.host).to.equal('127.0.0.1')
  })

  it('leaves a job without the block as it was', () => {
    expect(load(head).spec).to.not.have.property('service')
  })

  const bad: Array<{title: string; body: string; line: number; path: string; message: RegExp}> = [
    {title: 'missing port', body: 'service:\n  replicas: 2\n', line: 3, path: '/service/port', message: /missing required key "port"/},
    {title: 'port out of range', body: 'service:\n  port: 70000\n', line: 4, path: '/service/port', message: /65535/},
    {
      title: 'bad duration',
      body: 'service:\n  port: 80\n  upscale_delay: soon\n',
      line: 5,
      path: '/service/upscale_delay',
      message: /not a duration/,
    },
    {
      title: 'duration without unit',
      body: 'service:\n  port: 80\n  readiness:\n    timeout: "30"\n',
      line: 6,
      path: '/service/readiness/timeout',
      message: /no unit/,
    },
    {
      title: 'min above max',
      body: 'service:\n  port: 80\n  replicas: {min: 5, max: 2, target_qps_per_replica: 1}\n',
      line: 5,
      path: '/service/replicas/min',
      message: /min \(5\) is above max \(2\)/,
    },
    {
      title: 'range without a target rate',
      body: 'service:\n  port: 80\n  replicas: {min: 1, max: 2}\n',
      line: 5,
      path: '/service/replicas',
      message: /target_qps_per_replica/,
    },
    {
      title: 'on-demand floor above max',
      body: 'service:\n  port: 80\n  replicas: 2\n  spot: {base_on_demand: 3}\n',
      line: 6,
      path: '/service/spot/base_on_demand',
      message: /more than the most replicas/,
    },
    {
      title: 'unknown key',
      body: 'service:\n  port: 80\n  replica: 2\n',
      line: 5,
      path: '/service/replica',
      message: /unknown key "replica"/,
    },
    {
      title: 'readiness path without slash',
      body: 'service:\n  port: 80\n  readiness: {path: health}\n',
      line: 5,
      path: '/service/readiness/path',
      message: /HTTP path/,
    },
    {
      title: 'bad api key variable name',
      body: 'service:\n  port: 80\n  api_key_env: "my key"\n',
      line: 5,
      path: '/service/api_key_env',
      message: /environment variable/,
    },
    {title: 'gang service', body: 'nodes: 2\nservice:\n  port: 80\n', line: 5, path: '/service', message: /one node/},
  ]
  for (const c of bad) {
    it(`rejects ${c.title} at its line`, () => {
      const found = issues(head + c.body)
      const issue = found.find((i) => i.path === c.path)
      expect(issue, JSON.stringify(found)).to.exist
      expect(issue!.line).to.equal(c.line)
      expect(issue!.message).to.match(c.message)
    })
  }
})
