// What the controller stops trying after a failure, by the error's scope and market.
import {expect} from 'chai'

import {blockFor} from '../../../src/controller/launch-round.js'
import {ProviderError} from '../../../src/errors.js'
import type {Candidate} from '../../../src/planner/types.js'

const candidate = (spot: boolean) =>
  ({provider: 'aws', region: 'us-east-1', zone: 'us-east-1a', instanceType: 'p3.2xlarge', spot}) as Candidate

describe('blockFor', () => {
  it('blocks only the spot market of a zone that has no spot capacity', () => {
    const err = new ProviderError('aws', 'capacity', 'InsufficientInstanceCapacity', {scope: 'zone'})
    expect(blockFor(err, candidate(true))).to.deep.equal({
      provider: 'aws',
      region: 'us-east-1',
      zone: 'us-east-1a',
      market: 'spot',
      reason: 'capacity',
    })
  })

  it('blocks the whole zone when on-demand itself has no capacity', () => {
    const err = new ProviderError('aws', 'capacity', 'InsufficientInstanceCapacity', {scope: 'zone'})
    expect(blockFor(err, candidate(false))).to.deep.equal({provider: 'aws', region: 'us-east-1', zone: 'us-east-1a', reason: 'capacity'})
  })

  it('blocks a region on quota and a provider on auth, whatever the market', () => {
    expect(blockFor(new ProviderError('aws', 'quota', 'VcpuLimitExceeded'), candidate(true))).to.deep.equal({
      provider: 'aws',
      region: 'us-east-1',
      reason: 'quota',
    })
    expect(blockFor(new ProviderError('aws', 'auth', 'AuthFailure'), candidate(true))).to.deep.equal({provider: 'aws', reason: 'auth'})
  })

  it('blocks one offer and market for an offer-scoped error', () => {
    const err = new ProviderError('aws', 'capacity', 'SpotMaxPriceTooLow', {scope: 'offer'})
    expect(blockFor(err, candidate(true))).to.deep.equal({
      provider: 'aws',
      region: 'us-east-1',
      zone: 'us-east-1a',
      instanceType: 'p3.2xlarge',
      market: 'spot',
      reason: 'capacity',
    })
  })
})
