// The controller's side of a running cloud attempt's ship list (src/controller/ship-renewal.ts):
// it asks the store (AttemptHoldStore.renewShip, tested against the fake S3 in
// test/integration/ship-renewal.test.ts) only when the list's answer said to look again,
// records each renewal, says once that renewing failed, and leaves attempts alone that do not
// run or ship nothing.
import {expect} from 'chai'

import type {AttemptHoldStore} from '../../../src/checkpoint/checkpoint-store.js'
import type {ControllerDeps} from '../../../src/controller/deps.js'
import {JobDrive} from '../../../src/controller/drive.js'
import {ShipRenewal} from '../../../src/controller/ship-renewal.js'
import type {PollResult} from '../../../src/model/attempt.js'
import type {AttemptRecord} from '../../../src/model/records.js'
import {shipHandleData} from '../../../src/providers/vm/shipped.js'

const T0 = Date.parse('2026-12-07T12:00:00Z')
const running: PollResult = {state: 'RUNNING', exitCode: null, reason: null, startedAt: null, endedAt: null}

function world(answers: Array<Awaited<ReturnType<NonNullable<AttemptHoldStore['renewShip']>>> | Error>) {
  let now = T0
  const asked: number[] = []
  const events: Array<{attemptId: string | null; kind: string; data: Record<string, unknown>}> = []
  const journal = {
    job: () => ({id: 'j-1', spec: {nodes: 1}}),
    recordEvent: (_jobId: string, attemptId: string | null, kind: string, data: Record<string, unknown> = {}) =>
      events.push({attemptId, kind, data}),
    events: () => events,
  }
  const attemptHolds: Pick<AttemptHoldStore, 'renewShip'> = {
    renewShip: async () => {
      asked.push(now)
      const next = answers.shift()
      if (next instanceof Error) throw next
      return next ?? null
    },
  }
  const d = new JobDrive('j-1', {journal, attemptHolds, clock: () => new Date(now)} as unknown as ControllerDeps)
  return {renewal: new ShipRenewal(d), asked, events, at: (ms: number) => (now = T0 + ms)}
}

function attempt(ship = true): AttemptRecord {
  const data = {
    jobId: 'j-1',
    attemptId: 'a-1',
    ...(ship
      ? shipHandleData({
          manifestUrl: 'https://example.com/list?X-Amz-Signature=x',
          store: {url: 's3://b/p', region: 'us-east-1', endpoint: null},
          location: 's3://b/p/j-1/attempts/a-1/',
          segmentBytes: 262144,
          shipSeconds: 10,
          expiresAt: new Date(T0 + 3600_000).toISOString(),
        })
      : {}),
  }
  return {id: 'a-1', handle: {provider: 'aws', externalId: 'i-1', region: 'us-east-1', zone: null, data}} as unknown as AttemptRecord
}

const iso = (ms: number) => new Date(T0 + ms).toISOString()

describe('the controller renews a running cloud attempt’s ship list (ShipRenewal)', () => {
  it('asks when the list said to, records each renewal, and looks no sooner than a minute after a failure', async () => {
    const w = world([
      {renewed: false, expiresAt: iso(3600_000), nextAt: iso(2400_000)},
      {renewed: true, expiresAt: iso(6000_000), nextAt: iso(4400_000)},
      new Error('the store said no'),
      new Error('the store said no again'),
      {renewed: true, expiresAt: iso(9000_000), nextAt: iso(7000_000)},
    ])
    const a = attempt()
    await w.renewal.observe(a, running)
    // Polled every few seconds: not asked again before the list's due time.
    for (const ms of [5_000, 600_000, 2_399_000]) {
      w.at(ms)
      await w.renewal.observe(a, running)
    }
    expect(w.asked).to.deep.equal([T0])
    w.at(2_400_000)
    await w.renewal.observe(a, running)
    expect(w.events).to.deep.equal([{attemptId: 'a-1', kind: 'ship-urls-renewed', data: {expiresAt: iso(6000_000)}}])
    w.at(4_400_000)
    await w.renewal.observe(a, running)
    w.at(4_430_000)
    await w.renewal.observe(a, running)
    w.at(4_460_000)
    await w.renewal.observe(a, running)
    w.at(4_520_000)
    await w.renewal.observe(a, running)
    expect(w.asked).to.deep.equal([T0, T0 + 2_400_000, T0 + 4_400_000, T0 + 4_460_000, T0 + 4_520_000])
    // One failure event, however many failures.
    expect(w.events.map((e) => e.kind)).to.deep.equal(['ship-urls-renewed', 'ship-urls-renew-failed', 'ship-urls-renewed'])
    expect(w.events[1].data.message).to.equal('the store said no')
  })

  it('leaves alone an attempt that does not run, ships nothing, or has no list to renew', async () => {
    const w = world([null])
    await w.renewal.observe(attempt(), {...running, state: 'PENDING'})
    await w.renewal.observe(attempt(false), running)
    expect(w.asked).to.deep.equal([])
    await w.renewal.observe(attempt(), running)
    w.at(86_400_000)
    await w.renewal.observe(attempt(), running)
    expect(w.asked).to.deep.equal([T0])
    expect(w.events).to.deep.equal([])
  })
})
