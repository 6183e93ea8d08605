// Deadlines that bound a call however the endpoint misbehaves, over real sockets: one that
// accepts and never answers (a black hole), one that stalls half way through its body. A
// per-try timeout alone would cost it once per try; the deadline around the work bounds
// the whole, retries included, and says which deadline passed.
import {expect} from 'chai'
import {createDispatcher} from '../../../src/http/dispatcher.js'
import {HttpClient} from '../../../src/http/client.js'
import {sendRequest} from '../../../src/http/request.js'
import {withRetries} from '../../../src/http/retry.js'
import {capTimeout, remainingMs, withDeadline, type RetryNotice} from '../../../src/util/deadline.js'
import {ProviderError} from '../../../src/errors.js'
import {execRunner} from '../../../src/providers/slurm/commands.js'
import {FakeBlackHole, FakeStallingServer} from '../../fakes/fake-black-hole.js'

async function timed<T>(fn: () => Promise<T>): Promise<{ms: number; value?: T; error?: unknown}> {
  const t0 = Date.now()
  try {
    const value = await fn()
    return {ms: Date.now() - t0, value}
  } catch (error) {
    return {ms: Date.now() - t0, error}
  }
}

describe('deadlines on remote calls', function () {
  this.timeout(30_000)
  const hole = new FakeBlackHole()
  const stall = new FakeStallingServer()
  let holeUrl: string
  let stallUrl: string
  const dispatcher = createDispatcher({connectTimeoutMs: 2000})

  before(async () => {
    ;[holeUrl, stallUrl] = await Promise.all([hole.start(), stall.start()])
  })
  after(async () => {
    await dispatcher.destroy()
    await Promise.all([hole.stop(), stall.stop()])
  })

  it('a black hole costs the deadline around the work, not a per-try timeout × tries', async () => {
    // 20 s a try and 4 retries would be over 100 s; the work allows 1.5 s.
    const client = new HttpClient({provider: 'aws', dispatcher, timeoutMs: 20_000, retry: {retries: 4, baseDelayMs: 10, maxDelayMs: 20}})
    const before = hole.connections
    const r = await timed(() => withDeadline(1500, 'check of aws', () => client.request({url: `${holeUrl}/x?Signature=secret`})))
    expect(r.ms).to.be.within(1400, 3500)
    expect(r.error).to.be.instanceOf(ProviderError)
    const e = r.error as ProviderError
    expect(e.category).to.equal('transient')
    expect(e.message).to.include('the deadline of check of aws (1.5 s) passed')
    expect(e.message).not.to.include('secret')
    expect(hole.connections - before).to.be.greaterThan(0)
  })

  it('a body that stalls half way is cut at the deadline too', async () => {
    const r = await timed(() =>
      withDeadline(800, 'the launch on aws', () => sendRequest({url: stallUrl, method: 'GET', timeoutMs: 30_000, dispatcher})),
    )
    expect(r.ms, String(r.error)).to.be.within(700, 2500)
    expect((r.error as Error).message).to.match(/no answer from 127\.0\.0\.1:\d+: the deadline of the launch on aws \(0\.8 s\) passed/)
  })

  it("a call's own total deadline bounds its retries without any scope around it", async () => {
    const client = new HttpClient({
      provider: 'x',
      dispatcher,
      timeoutMs: 400,
      retry: {retries: 50, baseDelayMs: 10, maxDelayMs: 20, totalMs: 1500},
    })
    const r = await timed(() => client.request({url: holeUrl}))
    expect(r.ms).to.be.within(1000, 3000)
    expect((r.error as ProviderError).details)
      .to.have.property('attempts')
      .that.is.within(2, 5)
  })

  it('nested deadlines keep the nearer one; retries under a scope are told to it, named by the scope that asked', async () => {
    const notices: RetryNotice[] = []
    await withDeadline(
      5000,
      'outer',
      async () => {
        await withDeadline(60_000, 'inner', async () => {
          expect(remainingMs()).to.be.within(4000, 5000)
          expect(capTimeout(20_000)).to.be.within(4000, 5000)
        })
        let n = 0
        await withRetries(
          async () => {
            if (++n < 3) throw new Error('boom')
            return 'ok'
          },
          () => true,
          {retries: 4, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 10, totalMs: 1000},
        )
      },
      {onRetry: (n) => notices.push(n)},
    )
    expect(notices.map((n) => [n.what, n.attempt])).to.deep.equal([
      ['outer', 1],
      ['outer', 2],
    ])
    expect(remainingMs()).to.equal(null)
  })

  it('a deadline weeks away (past what setTimeout can hold) does not fire at once', async () => {
    const r = await withDeadline(40 * 24 * 3600_000, 'a long --retry-until-up', async () => {
      await new Promise((resolve) => setTimeout(resolve, 20))
      return sendRequest({url: stallUrl, method: 'GET', timeoutMs: 300, dispatcher}).catch((e: Error) => e.message)
    })
    expect(r).to.match(/within 300 ms/)
  })

  it('stops retrying when the next wait would pass the deadline', async () => {
    let tries = 0
    const r = await timed(() =>
      withDeadline(300, 'short', () =>
        withRetries(
          async () => {
            tries++
            throw new Error('down')
          },
          () => true,
          {retries: 10, baseDelayMs: 1000, maxDelayMs: 1000, maxRetryAfterMs: 10, random: () => 0.99},
        ),
      ),
    )
    expect(tries).to.equal(1)
    expect(r.ms).to.be.lessThan(200)
  })

  it('a Slurm command is killed at the deadline around it', async () => {
    const run = execRunner({binDir: '/bin', timeoutMs: 60_000})
    const r = await timed(() => withDeadline(500, 'check of slurm', () => run('sleep' as never, ['30'])))
    expect(r.ms).to.be.lessThan(3000)
  })
})
