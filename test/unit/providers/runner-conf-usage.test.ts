// runner.conf's sampleIntervalSeconds (docs/utilisation.md): written only when the job file
// says, 0 turns sampling off, and nothing the runner would misread gets through.
import {expect} from 'chai'

import {UsageError} from '../../../src/errors.js'
import {jobRunnerConfig, renderRunnerConf} from '../../../src/providers/attempt-dir.js'

const BASE = {graceSeconds: 30, signal: 'SIGTERM', workdir: 'work', noticeSources: [], pollIntervalSeconds: 1}

describe('runner.conf: the utilisation sampler', () => {
  it("carries the job file's usage.sample_interval, and nothing for a job that does not set one", () => {
    expect(jobRunnerConfig({nodes: 1, compat: [], secrets: []})).to.deep.equal({})
    expect(jobRunnerConfig({nodes: 1, compat: [], secrets: [], usage: {sampleIntervalSeconds: null, idle: null}})).to.deep.equal({})
    expect(jobRunnerConfig({nodes: 1, compat: [], secrets: [], usage: {sampleIntervalSeconds: 0, idle: null}})).to.deep.equal({
      sampleIntervalSeconds: 0,
    })
    const conf = renderRunnerConf({
      ...BASE,
      ...jobRunnerConfig({nodes: 1, compat: [], secrets: [], usage: {sampleIntervalSeconds: 2.5, idle: null}}),
    })
    expect(conf).to.include("sampleIntervalSeconds='2.5'\n")
    expect(renderRunnerConf(BASE)).not.to.include('sampleIntervalSeconds')
  })

  it('refuses an interval the runner would not honour', () => {
    for (const bad of [-1, 0.1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => renderRunnerConf({...BASE, sampleIntervalSeconds: bad}), String(bad)).to.throw(UsageError, /sampleIntervalSeconds/)
    }
    expect(renderRunnerConf({...BASE, sampleIntervalSeconds: 0})).to.include("sampleIntervalSeconds='0'\n")
  })
})
