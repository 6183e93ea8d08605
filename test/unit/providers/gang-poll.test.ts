// A gang's state from its nodes' (src/providers/gang.ts), the rule every gang-launching provider uses.
import {expect} from 'chai'

import type {AttemptState, PollResult} from '../../../src/model/attempt.js'
import {gangPoll} from '../../../src/providers/gang.js'

const T0 = '2026-12-01T00:00:00.000Z'
const T1 = '2026-12-01T00:00:05.000Z'
const T2 = '2026-12-01T00:01:00.000Z'

function node(state: AttemptState, fields: Partial<PollResult> = {}): PollResult {
  const ended = !['PENDING', 'PROVISIONING', 'RUNNING'].includes(state)
  return {
    state,
    exitCode: ended && state !== 'LOST' ? (state === 'SUCCEEDED' ? 0 : 1) : null,
    reason: null,
    startedAt: state === 'PENDING' ? null : T0,
    endedAt: ended ? T2 : null,
    ...fields,
  }
}

describe('gangPoll', () => {
  it('runs only when every rank runs, from the last rank to start', () => {
    expect(gangPoll([node('RUNNING'), node('PENDING', {reason: 'starting'})])).to.include({
      state: 'PENDING',
      startedAt: null,
      reason: '1 of 2 ranks running; rank 1: starting',
    })
    const all = gangPoll([node('RUNNING'), node('RUNNING', {startedAt: T1})])
    expect(all).to.include({state: 'RUNNING', startedAt: T1, reason: null})
    expect(all.nodes).to.deep.equal([
      {rank: 0, state: 'RUNNING', exitCode: null, reason: null},
      {rank: 1, state: 'RUNNING', exitCode: null, reason: null},
    ])
  })

  it('succeeds with the head when every rank succeeded; ranks that ended wait for the rest', () => {
    expect(gangPoll([node('RUNNING'), node('SUCCEEDED')])).to.include({
      state: 'RUNNING',
      reason: '1 of 2 ranks ended; waiting for the rest',
    })
    expect(gangPoll([node('SUCCEEDED'), node('SUCCEEDED', {endedAt: T1})])).to.include({state: 'SUCCEEDED', exitCode: 0, endedAt: T2})
  })

  it("fails when any rank fails, with the head's exit code when the head failed, else the rank's", () => {
    const worker = gangPoll([node('RUNNING'), node('FAILED', {exitCode: 3, reason: 'exit 3'}), node('RUNNING')])
    expect(worker).to.include({state: 'FAILED', exitCode: 3, reason: 'rank 1: exit 3', endedAt: T2})
    expect(gangPoll([node('FAILED', {exitCode: 7}), node('FAILED', {exitCode: 3})])).to.include({state: 'FAILED', exitCode: 7})
    // A rank stopped by the gang's notice is preempted, not failed, whatever its exit code.
    expect(gangPoll([node('PREEMPTED', {exitCode: 143}), node('PREEMPTED', {exitCode: 0})])).to.include({state: 'PREEMPTED', exitCode: 143})
  })

  it('a lost rank loses the gang; a stopped gang ends with its last rank', () => {
    expect(gangPoll([node('RUNNING'), node('LOST', {reason: 'the runner died'})])).to.include({
      state: 'LOST',
      reason: 'rank 1: the runner died',
    })
    expect(gangPoll([node('CANCELLED'), node('RUNNING', {reason: 'stopping (cancel)'})])).to.include({
      state: 'RUNNING',
      reason: 'rank 1: stopping (cancel)',
    })
    expect(gangPoll([node('CANCELLED'), node('CANCELLED')])).to.include({state: 'CANCELLED'})
  })
})
