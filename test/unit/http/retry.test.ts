// Pins the one retry policy and the one HTTP exchange that the HTTP client (price APIs,
// checkpoint stores) and the clouds' API clients share, so neither caller's budget,
// waiting or transport failures drift when the other's needs change.
import {expect} from 'chai'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {Agent} from 'undici'

import {retriedCall, type RetryInfo} from '../../../src/clouds/common/api-client.js'
import {HttpTransportError, SkyhopError} from '../../../src/errors.js'
import {sendRequest} from '../../../src/http/request.js'
import {backoffDelay, CLOUD_API_RETRY, DEFAULT_RETRY, withRetries, type RetryPolicy} from '../../../src/http/retry.js'

function policy(slept: number[], extra: Partial<RetryPolicy> = {}): RetryPolicy {
  return {...DEFAULT_RETRY, sleep: async (ms) => void slept.push(ms), random: () => 0.5, ...extra}
}

const fail = (error: unknown) => async () => {
  throw error
}

describe('http retry policy', () => {
  it('keeps each caller’s default budget', () => {
    expect(DEFAULT_RETRY).to.deep.include({retries: 4, baseDelayMs: 250, maxDelayMs: 8000})
    expect(CLOUD_API_RETRY).to.deep.include({retries: 4, baseDelayMs: 200, maxDelayMs: 10_000})
  })

  it('backs off with full jitter under a cap', () => {
    const p = {baseDelayMs: 100, maxDelayMs: 250, random: () => 0.999}
    expect([0, 1, 2, 3].map((i) => backoffDelay(p, i))).to.deep.equal([99, 199, 249, 249])
  })

  it('tries once plus its retries, then rethrows the last error', async () => {
    const slept: number[] = []
    let calls = 0
    const err = await withRetries(
      async () => {
        calls++
        throw new Error(`try ${calls}`)
      },
      () => true,
      policy(slept, {retries: 2, baseDelayMs: 100}),
    ).catch((e: unknown) => e)
    expect((err as Error).message).to.equal('try 3')
    expect(slept).to.deep.equal([50, 100])
  })

  it('waits what Retry-After asks when longer than the backoff, and gives up when it asks too much', async () => {
    const slept: number[] = []
    let calls = 0
    const ok = await withRetries(
      async () => {
        if (++calls === 1) throw new Error('throttled')
        return 'ok'
      },
      () => ({retry: true, afterMs: 3000}),
      policy(slept),
    )
    expect(ok).to.equal('ok')
    expect(slept).to.deep.equal([3000])

    const seen: number[] = []
    const tomorrow = () => ({retry: true, afterMs: 86_400_000})
    const err = await withRetries(fail(new Error('come back tomorrow')), tomorrow, policy(seen)).catch((e: unknown) => e)
    expect((err as Error).message).to.equal('come back tomorrow')
    expect(seen).to.deep.equal([])
  })

  it('does not retry what the caller’s judge refuses', async () => {
    const slept: number[] = []
    const err = await withRetries(fail(new Error('bad request')), () => false, policy(slept)).catch((e: unknown) => e)
    expect((err as Error).message).to.equal('bad request')
    expect(slept).to.deep.equal([])
  })

  it('reports a cloud client’s transport retries by their message', async () => {
    const infos: RetryInfo[] = []
    const timeout = new HttpTransportError('timeout', 'no answer from h within 5 ms')
    const err = await retriedCall(
      {retry: policy([], {retries: 1}), onRetry: (i) => infos.push(i)},
      'DescribeRegions',
      fail(timeout),
      () => true,
      (e) => e,
    ).catch((e: unknown) => e)
    expect(err).to.equal(timeout)
    expect(infos).to.deep.equal([{action: 'DescribeRegions', attempt: 1, delayMs: 125, reason: 'no answer from h within 5 ms'}])
  })
})

describe('http exchange', () => {
  let server: Server
  let url: string
  let dispatcher: Agent

  before(async () => {
    server = createServer((req, res) => {
      if (req.url?.startsWith('/hang')) return
      res.writeHead(200)
      res.end(req.url === '/big' ? 'x'.repeat(2048) : 'small')
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  beforeEach(() => {
    dispatcher = new Agent({connect: {timeout: 2000}})
  })
  afterEach(async () => dispatcher.destroy())
  after(async () => {
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
  })

  it('returns any response, with its body', async () => {
    const headers: Array<[string, string]> = [['accept', 'text/plain']]
    const res = await sendRequest({url: `${url}/x?token=secret`, method: 'GET', headers, timeoutMs: 2000, dispatcher})
    expect(res).to.deep.include({status: 200, body: 'small'})
  })

  it('fails without a response as an HttpTransportError in the taxonomy, naming the host only', async () => {
    const host = new URL(url).host
    const timeout = await sendRequest({url: `${url}/hang?token=secret`, method: 'GET', timeoutMs: 100, dispatcher}).catch((e: unknown) => e)
    expect(timeout).to.be.instanceOf(HttpTransportError).and.to.be.instanceOf(SkyhopError)
    expect(timeout).to.include({kind: 'timeout', code: 'HTTP_TRANSPORT', exitCode: 4, message: `no answer from ${host} within 100 ms`})

    const controller = new AbortController()
    const pending = sendRequest({url: `${url}/hang`, method: 'GET', timeoutMs: 5000, dispatcher, signal: controller.signal})
    controller.abort()
    expect(await pending.catch((e: unknown) => e)).to.include({kind: 'aborted', message: `request to ${host} aborted`})

    const big = await sendRequest({url: `${url}/big`, method: 'GET', timeoutMs: 2000, dispatcher, maxBodyBytes: 1024}).catch(
      (e: unknown) => e,
    )
    expect(big).to.include({kind: 'network', message: `response from ${host} exceeds 1024 bytes`})
  })
})
