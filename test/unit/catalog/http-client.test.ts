import {expect} from 'chai'
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {Agent} from 'undici'

import {HttpClient} from '../../../src/http/client.js'
import {describeUrl} from '../../../src/http/request.js'
import {retryAfterMs} from '../../../src/http/retry.js'
import {ProviderError} from '../../../src/errors.js'

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void

/** A local server whose nth response is decided by the test. */
async function serve(handler: Handler): Promise<{url: string; hits: () => number; close: () => Promise<void>}> {
  let n = 0
  const server = createServer((req, res) => handler(req, res, ++n))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => n,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

describe('http client', () => {
  let dispatcher: Agent
  const slept: number[] = []
  const client = (extra: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}) =>
    new HttpClient({
      provider: 'testcloud',
      dispatcher,
      ...extra,
      retry: {sleep: async (ms: number) => void slept.push(ms), random: () => 0.5, ...extra.retry},
    })

  beforeEach(() => {
    dispatcher = new Agent({connect: {timeout: 2000}})
    slept.length = 0
  })
  afterEach(async () => dispatcher.close())

  it('retries 429 honouring Retry-After, then succeeds', async () => {
    const s = await serve((_req, res, n) => {
      if (n === 1) {
        res.writeHead(429, {'retry-after': '3'})
        return res.end('slow down')
      }
      res.writeHead(200, {'content-type': 'application/json'})
      res.end('{"ok":true}')
    })
    const events: string[] = []
    try {
      const body = await client({onRetry: (e) => events.push(e.reason)}).getJson<{ok: boolean}>(`${s.url}/x`)
      expect(body).to.deep.equal({ok: true})
      expect(s.hits()).to.equal(2)
      expect(slept).to.deep.equal([3000])
      expect(events).to.deep.equal(['throttled (HTTP 429)'])
    } finally {
      await s.close()
    }
  })

  it('backs off exponentially with jitter on 5xx and gives up after the retry budget', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(503)
      res.end('busy')
    })
    try {
      await client({retry: {retries: 3, baseDelayMs: 100, maxDelayMs: 250}}).request({url: `${s.url}/x`})
      expect.fail('should throw')
    } catch (error) {
      expect(error).to.be.instanceOf(ProviderError)
      const e = error as ProviderError
      expect(e.category).to.equal('transient')
      expect(e.code).to.equal('PROVIDER_HTTP')
      expect(e.backendCode).to.equal('503')
      expect(e.message).to.match(/HTTP 503 after 4 attempts/)
      expect(s.hits()).to.equal(4)
      // random 0.5 x min(max, base x 2^n): 50, 100, 125
      expect(slept).to.deep.equal([50, 100, 125])
    } finally {
      await s.close()
    }
  })

  it('does not retry a client error, and maps auth and not-found', async () => {
    const s = await serve((req, res) => {
      res.writeHead(req.url === '/auth' ? 403 : req.url === '/missing' ? 404 : 400)
      res.end('{"Error":{"Code":"InvalidParameter"}}')
    })
    try {
      for (const [path, category] of [
        ['/bad', 'user'],
        ['/auth', 'auth'],
        ['/missing', 'unavailable'],
      ]) {
        const err = await client()
          .request({url: `${s.url}${path}`})
          .catch((e: unknown) => e)
        expect(err, path).to.be.instanceOf(ProviderError)
        expect((err as ProviderError).category, path).to.equal(category)
      }
      expect(s.hits()).to.equal(3)
      expect(slept).to.deep.equal([])
    } finally {
      await s.close()
    }
  })

  it('retries a backend-specific throttling response when told how to recognise it', async () => {
    const s = await serve((_req, res, n) => {
      res.writeHead(n === 1 ? 400 : 200)
      res.end(n === 1 ? '<Response><Errors><Error><Code>Throttling</Code></Error></Errors></Response>' : 'ok')
    })
    try {
      const r = await client({isThrottled: (status, body) => status === 400 && body.includes('<Code>Throttling</Code>')}).request({
        url: s.url,
      })
      expect(r).to.include({status: 200, body: 'ok', attempts: 2})
    } finally {
      await s.close()
    }
  })

  it('times out a hanging request, retries, and fails as transient', async () => {
    const s = await serve(() => {
      /* never answers */
    })
    try {
      const t = Date.now()
      const err = await client({timeoutMs: 150, retry: {retries: 1}})
        .request({url: `${s.url}/hang`})
        .catch((e: unknown) => e)
      expect(err).to.be.instanceOf(ProviderError)
      expect((err as ProviderError).category).to.equal('transient')
      expect((err as Error).message).to.match(/timed out after 150 ms after 2 attempts/)
      expect(s.hits()).to.equal(2)
      expect(Date.now() - t).to.be.below(5000)
    } finally {
      await s.close()
    }
  })

  it('retries a refused connection as a network error', async () => {
    const s = await serve(() => {})
    const url = s.url
    await s.close()
    const err = await client({retry: {retries: 2}})
      .request({url})
      .catch((e: unknown) => e)
    expect(err).to.be.instanceOf(ProviderError)
    expect((err as Error).message).to.match(/network error ECONNREFUSED after 3 attempts/)
  })

  it('does not repeat a POST unless it is marked idempotent', async () => {
    const s = await serve((_req, res, n) => {
      res.writeHead(n <= 1 ? 500 : 200)
      res.end('x')
    })
    try {
      const err = await client()
        .request({url: s.url, method: 'POST', body: 'Action=X'})
        .catch((e: unknown) => e)
      expect(err).to.be.instanceOf(ProviderError)
      expect(s.hits()).to.equal(1)
      const ok = await client().request({url: s.url, method: 'POST', body: 'Action=X', idempotent: true})
      expect(ok.status).to.equal(200)
    } finally {
      await s.close()
    }
  })

  it('never puts a query string, header or signature in an error', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(403)
      res.end('denied')
    })
    try {
      const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
      const err = (await client()
        .request({
          url: `${s.url}/path?X-Amz-Signature=${secret}&token=${secret}`,
          headers: {authorization: `AWS4-HMAC-SHA256 Signature=${secret}`},
        })
        .catch((e: unknown) => e)) as ProviderError
      const text = JSON.stringify(err.toJSON()) + err.message + String(err.stack)
      expect(text).to.not.include(secret)
      expect(err.message).to.equal(`testcloud: GET ${s.url}/path: HTTP 403`)
    } finally {
      await s.close()
    }
  })

  it('reads Retry-After in seconds or as a date, and describes URLs without queries', () => {
    expect(retryAfterMs('2')).to.equal(2000)
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:05 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).to.equal(5000)
    expect(retryAfterMs(undefined)).to.equal(undefined)
    expect(retryAfterMs('soon')).to.equal(undefined)
    expect(describeUrl('https://h.example/a/b?Signature=x')).to.equal('https://h.example/a/b')
  })
})
