// The shared poller's adaptive tick (issue 17): a cheap provider is looked at within a few
// ms of a new attempt or of an end, then less often while nothing changes; a provider
// without a minimum keeps its fixed interval. One backend call per tick, whatever the count.
import {expect} from 'chai'

import {BatchPoller} from '../../../src/controller/batch-poller.js'
import type {LaunchHandle, PollResult} from '../../../src/model/attempt.js'
import type {Provider} from '../../../src/providers/provider.js'

function fakeProvider(name: string, ends: Set<string>) {
  const at: number[] = []
  const provider = {
    name,
    async poll(handles: LaunchHandle[]) {
      at.push(Date.now())
      return new Map<string, PollResult>(
        handles.map((h) => [h.externalId, {state: ends.has(h.externalId) ? 'SUCCEEDED' : 'RUNNING', exitCode: null} as PollResult]),
      )
    },
  } as unknown as Provider
  return {provider, at}
}

const handle = (id: string) => ({provider: 'local', externalId: id, region: 'local', zone: null, data: {}}) as unknown as LaunchHandle

describe('BatchPoller', () => {
  it('a cheap provider: the first look at a new attempt comes after the minimum, then the tick grows', async () => {
    const ends = new Set<string>()
    const {provider, at} = fakeProvider('local', ends)
    const poller = new BatchPoller(100, () => 5)
    const t0 = Date.now()
    await poller.poll(provider, handle('a'))
    expect(Date.now() - t0).to.be.lessThan(60)
    for (let i = 0; i < 12; i++) await poller.poll(provider, handle('a'))
    const gaps = at.slice(1).map((t, i) => t - at[i])
    // Later gaps are longer than the first ones (5, 6.25, 7.8 … capped at 100).
    expect(gaps.at(-1)!).to.be.greaterThan(gaps[0])
    // An end brings the tick back to the minimum for the next attempt.
    ends.add('a')
    await poller.poll(provider, handle('a'))
    const t1 = Date.now()
    await poller.poll(provider, handle('b'))
    expect(Date.now() - t1).to.be.lessThan(60)
  })

  it('a provider without a minimum keeps its interval; many attempts share one call per tick', async () => {
    const {provider, at} = fakeProvider('slurm', new Set())
    const poller = new BatchPoller(120)
    const t0 = Date.now()
    await Promise.all(['1', '2', '3'].map((id) => poller.poll(provider, handle(id))))
    expect(Date.now() - t0).to.be.at.least(110)
    expect(at).to.have.length(1)
    expect(poller.calls.get('slurm')).to.equal(1)
  })
})
