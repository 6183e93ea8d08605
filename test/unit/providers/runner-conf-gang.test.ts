// runner.conf's gang keys as the writer renders them: a single node's file is unchanged,
// and every setting the runner would refuse is refused here first, by name.
import {expect} from 'chai'

import {UsageError} from '../../../src/errors.js'
import {renderRunnerConf} from '../../../src/providers/attempt-dir.js'
import type {RunnerConfig} from '../../../src/runner/contract.js'

const base: RunnerConfig = {graceSeconds: 30, signal: 'SIGTERM', workdir: '/w', noticeSources: [], pollIntervalSeconds: 1}

describe('runner.conf gang keys', () => {
  it('writes nothing of a gang for one node', () => {
    expect(renderRunnerConf(base)).to.not.match(/numNodes|nodeRank|nodeIps|gangNotice|compat/)
  })

  it('writes the gang keys shell-quoted, the peers space-separated', () => {
    const conf = renderRunnerConf({
      ...base,
      numNodes: 2,
      nodeRank: 1,
      nodeIps: ['10.0.0.1', 'host-b'],
      peersTimeoutSeconds: 60,
      gangNoticeFile: '/a b/gang-notice',
      gangNoticePutUrl: 'https://s3.example/b/k?X-Sig=1',
      gangNoticeGetUrl: 'https://s3.example/b/k?X-Sig=2',
      compat: ['torchrun', 'skypilot'],
    })
    expect(conf).to.include("numNodes='2'\nnodeRank='1'\nnodeIps='10.0.0.1 host-b'\npeersTimeoutSeconds='60'\n")
    expect(conf).to.include("gangNoticeFile='/a b/gang-notice'\n")
    expect(conf).to.include("compat='torchrun skypilot'\n")
  })

  const refused: Array<[string, Partial<RunnerConfig>, RegExp]> = [
    ['no nodes', {numNodes: 0}, /numNodes must be a whole number ≥ 1, not 0/],
    ['half a node', {numNodes: 1.5}, /numNodes must be a whole number ≥ 1, not 1.5/],
    [
      'a rank past the gang',
      {numNodes: 2, nodeRank: 2, nodeIps: ['a', 'b']},
      /nodeRank must be a whole number below numNodes \(2\), not 2/,
    ],
    ['too few peers', {numNodes: 3, nodeIps: ['a', 'b']}, /nodeIps has 2 addresses for 3 nodes/],
    ['a peer that is not an address', {numNodes: 2, nodeIps: ['a', 'b;rm -rf']}, /"b;rm -rf" is not an address/],
    ['no peer list at all', {numNodes: 2}, /a gang of 2 nodes needs nodeIps, nodeIpsFile or nodeIpsUrl/],
    ['an unknown compat', {compat: ['ray' as never]}, /compat: unknown name "ray"/],
    ['a notice URL that is not one', {gangNoticeGetUrl: 'file:///etc/passwd'}, /gangNoticeGetUrl is not an http\(s\) URL/],
  ]
  for (const [what, extra, message] of refused) {
    it(`refuses ${what}`, () => {
      expect(() => renderRunnerConf({...base, ...extra}))
        .to.throw(UsageError, message)
        .with.property('code', 'RUNNER_CONFIG_INVALID')
    })
  }
})
