// The load balancer's sliding window: rate and nearest-rank percentiles over the window only.
import {expect} from 'chai'

import {SlidingWindow, percentile} from '../../../src/serve/metrics.js'

describe('serve metrics window', () => {
  it('nearest-rank percentiles', () => {
    const xs = Float64Array.from({length: 100}, (_, i) => i + 1)
    expect(percentile(xs, 0.5)).to.equal(50)
    expect(percentile(xs, 0.95)).to.equal(95)
    expect(percentile(xs, 0.99)).to.equal(99)
    expect(percentile([], 0.5)).to.equal(null)
    expect(percentile([7], 0.99)).to.equal(7)
  })

  it('counts only samples inside the window, for the rate and the percentiles', () => {
    const w = new SlidingWindow(10_000)
    for (let i = 0; i < 50; i++) w.record(1_000 + i, 1000) // old and slow: outside the window at t=20 s
    for (let i = 0; i < 100; i++) w.record(15_000 + i * 10, i + 1)
    const s = w.stats(20_000)
    expect(s.samples).to.equal(100)
    expect(s.ratePerSecond).to.equal(10)
    expect(w.rate(20_000)).to.equal(10)
    expect(s.p50Ms).to.equal(50)
    expect(s.p99Ms).to.equal(99)
  })

  it('a full ring reports the rate over the span it holds', () => {
    const w = new SlidingWindow(60_000, 1000)
    for (let i = 0; i < 3000; i++) w.record(i, 1) // 1 per ms; the ring keeps the last 1000
    expect(w.stats(3000).samples).to.equal(1000)
    expect(w.rate(3000)).to.be.closeTo(1000, 5)
  })
})
