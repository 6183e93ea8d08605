// The VM adapters' gang helpers (src/providers/vm/gang.ts): a handle polled as one instance or as
// a gang (the aggregation rules themselves are gang-poll.test.ts's), the nodes a log request
// means, merged logs with a rank prefix, and the refusals of a gang the adapter cannot launch.
import {expect} from 'chai'

import {ProviderError} from '../../../src/errors.js'
import type {AttemptState, LaunchHandle, PollResult} from '../../../src/model/attempt.js'
import {gangObjectsFor, logNodes, mergedLogs, pollOfHandle} from '../../../src/providers/vm/gang.js'
import {launchRequest} from '../../integration/aws-helpers.js'
import {testJobSpec} from '../../helpers/job-spec.js'

function node(state: AttemptState, exitCode: number | null = null, extra: Partial<PollResult> = {}): PollResult {
  return {state, exitCode, reason: exitCode === null ? null : `exit ${exitCode}`, startedAt: null, endedAt: null, ...extra}
}

describe('gang helpers for the VM adapters', function () {
  it('a single-node handle is polled as its one instance, without nodes', function () {
    const handle: LaunchHandle = {provider: 'aws', externalId: 'i-1', region: 'r', zone: null, data: {}}
    expect(pollOfHandle(handle, () => node('RUNNING'))).to.deep.equal(node('RUNNING'))
    const two: LaunchHandle = {
      ...handle,
      data: {
        nodes: [
          {rank: 0, externalId: 'i-1', ip: '10.0.0.1'},
          {rank: 1, externalId: 'i-2', ip: '10.0.0.2'},
        ],
      },
    }
    const polled = pollOfHandle(two, (id) => (id === 'i-1' ? node('RUNNING') : node('PROVISIONING')))
    expect(polled.nodes?.map((n) => n.state)).to.deep.equal(['RUNNING', 'PROVISIONING'])
  })

  it('logs: the head by default, a rank, or all; an unknown rank is a user error', async function () {
    const two: LaunchHandle = {
      provider: 'aws',
      externalId: 'i-1',
      region: 'r',
      zone: null,
      data: {
        nodes: [
          {rank: 0, externalId: 'i-1', ip: null},
          {rank: 1, externalId: 'i-2', ip: null},
        ],
      },
    }
    expect(logNodes(two, undefined).map((n) => n.externalId)).to.deep.equal(['i-1'])
    expect(logNodes(two, 1).map((n) => n.externalId)).to.deep.equal(['i-2'])
    expect(logNodes(two, 'all')).to.have.length(2)
    expect(() => logNodes(two, 2)).to.throw(ProviderError, /no node 2 \(ranks 0 to 1\)/)
    async function* lines(...l: string[]) {
      for (const x of l) yield x
    }
    const merged: string[] = []
    for await (const l of mergedLogs(
      [
        {rank: 0, lines: lines('a', 'b')},
        {rank: 1, lines: lines('c')},
      ],
      true,
    ))
      merged.push(l)
    expect(merged.sort()).to.deep.equal(['[rank 0] a', '[rank 0] b', '[rank 1] c'])
  })

  it('refuses a gang larger than the adapter launches, or one without a store, before anything is asked of the cloud', function () {
    const request = launchRequest({spec: testJobSpec({name: 'g', run: 'true', nodes: 4})})
    expect(() => gangObjectsFor('aws', request, 2)).to.throw(ProviderError, /asks for 4 nodes; aws launches at most 2/)
    expect(() => gangObjectsFor('aws', request, 8)).to.throw(ProviderError, /needs an object store/)
    expect(gangObjectsFor('aws', launchRequest(), 8)).to.equal(null)
  })
})
