// The small pieces the four VM adapters share for poll(), logs() and their caches:
// reading new console lines, the grace an ended instance gets for its exit line, the
// regions an adapter works in, user data and client tokens, the per-key promise cache and
// the abortable sleep.
import {expect} from 'chai'
import {gunzipSync} from 'node:zlib'

import type {LaunchHandle} from '../../../src/model/attempt.js'
import {userData} from '../../../src/providers/vm/boot-script.js'
import {asciiClientToken} from '../../../src/clouds/common/client-token.js'
import {ExitLineGrace, linesAfter, parseConsole} from '../../../src/providers/vm/console-channel.js'
import {PromiseCache} from '../../../src/util/promise-cache.js'
import {configuredRegions, groupByRegion, regionsToScan} from '../../../src/providers/vm/regions.js'
import {abortableSleep} from '../../../src/util/sleep.js'

describe('VM adapter scaffolding', function () {
  it('linesAfter returns the unread output lines, notes gaps, and the last sequence read', function () {
    const report = parseConsole(['SKYHOP-LOG 1 a', 'SKYHOP-LOG 2 b', 'SKYHOP-LOG 5 e', 'SKYHOP-LOG 6 f'].join('\n'))
    const gap = (n: number) => `[${n} missing]`
    expect(linesAfter(report, 0, gap)).to.deep.equal({lines: ['a', 'b', '[2 missing]', 'e', 'f'], last: 6})
    expect(linesAfter(report, 2, gap)).to.deep.equal({lines: ['[2 missing]', 'e', 'f'], last: 6})
    expect(linesAfter(report, 6, gap)).to.deep.equal({lines: [], last: 6})
  })

  it('ExitLineGrace waits from the first sighting, then gives up once and forgets', function () {
    const grace = new ExitLineGrace()
    expect(grace.waiting('i-1', 1000, 500)).to.equal(true)
    expect(grace.waiting('i-1', 1400, 500)).to.equal(true)
    expect(grace.waiting('i-1', 1500, 500)).to.equal(false)
    // Forgotten: a later sighting starts a new grace period.
    expect(grace.waiting('i-1', 1600, 500)).to.equal(true)
    grace.forget('i-1')
    expect(grace.waiting('i-1', 5000, 500)).to.equal(true)
    expect(new ExitLineGrace().waiting('i-2', 0, 0), 'no grace').to.equal(false)
  })

  it('configuredRegions: given, else the listed ones, else the fallback', function () {
    expect(configuredRegions(['a'], 'b,c', 'd')).to.deep.equal(['a'])
    expect(configuredRegions([], ' b , ,c ', 'd')).to.deep.equal(['b', 'c'])
    expect(configuredRegions(undefined, undefined, 'd')).to.deep.equal(['d'])
    expect([...regionsToScan(['a', 'b'], {regions: ['b', 'c']})]).to.deep.equal(['a', 'b', 'c'])
  })

  it('groupByRegion keeps each region’s handles in order', function () {
    const h = (externalId: string, region: string) => ({provider: 'p', externalId, region, zone: null, data: {}}) as LaunchHandle
    const groups = groupByRegion([h('1', 'x'), h('2', 'y'), h('3', 'x')])
    expect([...groups].map(([r, g]) => [r, g.map((x) => x.externalId)])).to.deep.equal([
      ['x', ['1', '3']],
      ['y', ['2']],
    ])
  })

  it('PromiseCache makes each key once, shares it, and forgets a failure', async function () {
    const cache = new PromiseCache<number>()
    let made = 0
    const make = async () => ++made
    const [a, b] = await Promise.all([cache.get('k', make), cache.get('k', make)])
    expect([a, b, made]).to.deep.equal([1, 1, 1])
    await cache.get('failing', async () => Promise.reject(new Error('no'))).catch(() => {})
    expect(await cache.get('failing', async () => 7)).to.equal(7)
  })

  it('abortableSleep ends early, without an error, when its signal aborts', async function () {
    const controller = new AbortController()
    const start = Date.now()
    setTimeout(() => controller.abort(), 20)
    await abortableSleep(10_000, controller.signal)
    expect(Date.now() - start).to.be.below(5000)
    await abortableSleep(10_000, controller.signal) // already aborted: at once
  })

  it('userData is the script as written when it fits, gzipped when only that fits', function () {
    const script = `#!/bin/bash\n${'echo hello\n'.repeat(500)}`
    expect(userData(script, () => true)).to.deep.equal({data: Buffer.from(script), fits: true})
    const packed = userData(script, (d) => d.length <= 1000)
    expect(packed.fits).to.equal(true)
    expect(gunzipSync(packed.data).toString('utf8')).to.equal(script)
    expect(userData(script, () => false).fits).to.equal(false)
  })

  it('asciiClientToken keeps a key that fits and hashes one that does not, stably', function () {
    expect(asciiClientToken('att-1')).to.equal('att-1')
    const long = 'k'.repeat(100)
    expect(asciiClientToken(long))
      .to.equal(asciiClientToken(long))
      .and.to.match(/^[0-9a-f]{64}$/)
    expect(asciiClientToken('café')).to.have.length(64)
  })
})
