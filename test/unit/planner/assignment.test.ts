// Kuhn–Munkres against brute force on seeded random matrices, and the placement weights:
// spot replicas spread over zones, warm zones preferred, markets never mixed.
import {expect} from 'chai'

import {FORBIDDEN, maxWeightAssignment, placeReplicas} from '../../../src/planner/assignment.js'

/** A small seeded generator (mulberry32), so CI sees the same cases. */
function rng(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function bruteForce(w: number[][]): number {
  const n = w.length
  const m = w[0].length
  let best = -Infinity
  const used = new Array<boolean>(m).fill(false)
  const go = (i: number, sum: number) => {
    if (i === n) {
      best = Math.max(best, sum)
      return
    }
    for (let j = 0; j < m; j++) {
      if (used[j] || !Number.isFinite(w[i][j])) continue
      used[j] = true
      go(i + 1, sum + w[i][j])
      used[j] = false
    }
  }
  go(0, 0)
  return best
}

describe('maximum-weight assignment (Kuhn–Munkres)', () => {
  it('matches brute force on 300 seeded random matrices, square and wide, with forbidden pairs', () => {
    const r = rng(20)
    for (let t = 0; t < 300; t++) {
      const n = 1 + Math.floor(r() * 5)
      const m = n + Math.floor(r() * 3)
      const w = Array.from({length: n}, () => Array.from({length: m}, () => (r() < 0.15 ? FORBIDDEN : Math.round(r() * 200 - 100))))
      const expected = bruteForce(w)
      const got = maxWeightAssignment(w)
      if (expected === -Infinity) continue // no full assignment exists
      expect(new Set(got.filter((j) => j >= 0)).size, JSON.stringify(w)).to.equal(got.filter((j) => j >= 0).length)
      expect(got.every((j) => j >= 0)).to.equal(true)
      expect(
        got.reduce((s, j, i) => s + w[i][j], 0),
        JSON.stringify(w),
      ).to.equal(expected)
    }
  })

  it('leaves a row without an allowed column at -1', () => {
    expect(
      maxWeightAssignment([
        [FORBIDDEN, FORBIDDEN],
        [1, 2],
      ]),
    ).to.deep.equal([-1, 1])
  })
})

describe('placing replicas', () => {
  const offer = (spreadKey: string, spot: boolean, rank: number, warm = false) => ({spreadKey, spot, rank, warm})

  it('spreads spot replicas over zones even when one zone ranks best', () => {
    const offers = [offer('a', true, 0), offer('b', true, 1), offer('c', true, 2), offer('a', false, 3)]
    const placed = placeReplicas([{spot: true}, {spot: true}, {spot: true}], offers, new Map())
    expect(placed.map((i) => offers[i].spreadKey).sort()).to.deep.equal(['a', 'b', 'c'])
  })

  it('counts the zones the service is in already', () => {
    const offers = [offer('a', true, 0), offer('b', true, 1)]
    expect(placeReplicas([{spot: true}], offers, new Map([['a', 1]]))).to.deep.equal([1])
  })

  it('prefers a warm zone among near equals, never a market the replica did not ask for', () => {
    const offers = [offer('a', true, 0), offer('b', true, 1, true), offer('a', false, 0)]
    expect(placeReplicas([{spot: true}], offers, new Map())).to.deep.equal([1])
    expect(placeReplicas([{spot: false}, {spot: true}], offers, new Map())).to.deep.equal([2, 1])
    expect(placeReplicas([{spot: true}], [offer('a', false, 0)], new Map())).to.deep.equal([-1])
  })

  it('does not spread on-demand replicas: they all take the best offer', () => {
    const offers = [offer('a', false, 0), offer('b', false, 1)]
    expect(placeReplicas([{spot: false}, {spot: false}], offers, new Map())).to.deep.equal([0, 0])
  })
})
