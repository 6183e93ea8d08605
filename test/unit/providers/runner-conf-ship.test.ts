// runner.conf's ship keys (a cloud attempt that ships its output.log and samples to the job's
// store), and the runner section that carries the shipping.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'

import {UsageError} from '../../../src/errors.js'
import {renderRunnerConf, runnerScriptPath, shipRunnerConfig} from '../../../src/providers/attempt-dir.js'
import {runnerSections, shippedRunner} from '../../../src/providers/vm/boot-script.js'

const BASE = {graceSeconds: 30, signal: 'SIGTERM', workdir: 'work', noticeSources: [], pollIntervalSeconds: 1}
const URL = 'http://127.0.0.1:9000/bkt/p/j/attempts/a/ship-urls?X-Amz-Signature=abc'
const SHIP = {
  manifestUrl: URL,
  store: {url: 's3://bkt/p', region: 'us-east-1', endpoint: null},
  location: 's3://bkt/p/j/attempts/a/',
  segmentBytes: 262144,
  shipSeconds: 10,
  expiresAt: '2026-12-14T00:00:00.000Z',
}

describe('runner.conf: shipping output.log and samples (a cloud attempt with a store)', () => {
  it('writes shipUrl, shipSeconds and shipSegmentBytes from the attempt ShipObjects, nothing without them', () => {
    expect(shipRunnerConfig(null)).to.deep.equal({})
    expect(shipRunnerConfig(undefined)).to.deep.equal({})
    const conf = renderRunnerConf({...BASE, ...shipRunnerConfig(SHIP)})
    expect(conf).to.include(`shipUrl='${URL}'\n`).and.to.include("shipSeconds='10'\n").and.to.include("shipSegmentBytes='262144'\n")
    expect(renderRunnerConf(BASE)).to.not.include('ship')
  })

  it('refuses a URL that is not http(s), and settings the runner would refuse', () => {
    expect(() => renderRunnerConf({...BASE, shipUrl: 'file:///etc/passwd'})).to.throw(UsageError, /shipUrl is not an http\(s\) URL/)
    expect(() => renderRunnerConf({...BASE, shipUrl: URL, shipSeconds: 0.5})).to.throw(UsageError, /shipSeconds must be a whole number/)
    expect(() => renderRunnerConf({...BASE, shipUrl: URL, shipSegmentBytes: 10})).to.throw(UsageError, /shipSegmentBytes/)
  })

  it('ships the runner its ship section only when the attempt ships', () => {
    const installed = readFileSync(runnerScriptPath(), 'utf8')
    expect(shippedRunner(installed, runnerSections(['aws'], false, true))).to.include('sr_ship_start() {')
    expect(shippedRunner(installed, runnerSections(['aws'], false))).to.not.include('sr_ship_start() {')
  })
})
