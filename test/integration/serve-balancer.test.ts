// The load balancer of `skyhop serve` against real model servers (child processes) over
// real HTTP, with load from autocannon: routing, streaming, the API key, draining, and a
// replica killed under load.
import autocannon from 'autocannon'
import {expect} from 'chai'
import {request} from 'node:http'

import {LoadBalancer} from '../../src/serve/balancer.js'
import {type RunningServer, startModelServer} from '../helpers/model-server.js'

describe('serve: load balancer (real replicas, real HTTP)', function () {
  this.timeout(30_000)
  const servers: RunningServer[] = []
  let lb: LoadBalancer | undefined

  afterEach(async () => {
    await lb?.close()
    lb = undefined
    for (const s of servers.splice(0)) s.stop()
  })

  async function setup(n: number, env: Record<string, string> = {}, apiKey?: string) {
    for (let i = 0; i < n; i++) servers.push(await startModelServer({SKYHOP_REPLICA: `r${i}`, ...env}))
    lb = new LoadBalancer({apiKey})
    const endpoint = await lb.start()
    lb.setReplicas(servers.map((s, i) => ({id: `r${i}`, origin: s.origin})))
    return endpoint
  }

  it('binds 127.0.0.1 by default and spreads requests over the replicas', async () => {
    const endpoint = await setup(2)
    expect(endpoint).to.match(/^http:\/\/127\.0\.0\.1:\d+$/)
    const seen = new Set<string>()
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${endpoint}/`)
      expect(r.status).to.equal(200)
      seen.add(r.headers.get('x-replica')!)
    }
    expect([...seen].sort()).to.deep.equal(['r0', 'r1'])
  })

  it('sends new requests to the replica with the fewest outstanding', async () => {
    const endpoint = await setup(2, {DELAY_MS: '5'})
    const long = fetch(`${endpoint}/?delay_ms=1500`)
    await new Promise((r) => setTimeout(r, 100))
    const busy = lb!.metrics().find((m) => m.outstanding === 1)!.id
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${endpoint}/`)
      expect(r.headers.get('x-replica')).to.not.equal(busy)
    }
    expect((await long).headers.get('x-replica')).to.equal(busy)
  })

  it('passes a token stream through as it comes, not buffered', async () => {
    const endpoint = await setup(1, {DELAY_MS: '0', TOKEN_MS: '150'})
    const started = Date.now()
    const chunks: Array<{at: number; text: string}> = []
    await new Promise<void>((resolve, reject) => {
      const req = request(`${endpoint}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}}, (res) => {
        expect(res.headers['content-type']).to.equal('text/event-stream')
        res.setEncoding('utf8')
        res.on('data', (text: string) => chunks.push({at: Date.now() - started, text}))
        res.on('end', resolve)
      })
      req.on('error', reject)
      req.end(JSON.stringify({prompt: 'a b c d e', max_tokens: 5, stream: true}))
    })
    const body = chunks.map((c) => c.text).join('')
    expect(body).to.contain('data: [DONE]')
    // Five tokens 150 ms apart: the first arrives long before the last was written.
    expect(chunks[0].at).to.be.below(400)
    expect(chunks.at(-1)!.at).to.be.above(600)
    expect(chunks.length).to.be.at.least(4)
  })

  it('rejects a request without the API key, and never forwards the key', async () => {
    const endpoint = await setup(1, {}, 's3cret-key')
    expect((await fetch(`${endpoint}/`)).status).to.equal(401)
    expect((await fetch(`${endpoint}/`, {headers: {authorization: 'Bearer wrong'}})).status).to.equal(401)
    const ok = await fetch(`${endpoint}/`, {headers: {authorization: 'Bearer s3cret-key'}})
    expect(ok.status).to.equal(200)
    const seen = (await (await fetch(`${endpoint}/headers`, {headers: {'x-api-key': 's3cret-key'}})).json()) as Record<string, string>
    expect(seen).to.not.have.property('authorization')
    expect(seen).to.not.have.property('x-api-key')
    expect(seen['x-forwarded-for']).to.equal('127.0.0.1')
    expect(lb!.totals.rejected).to.equal(2)
  })

  it('draining: no new request reaches the replica, the one in flight finishes', async () => {
    const endpoint = await setup(2, {DELAY_MS: '5'})
    const long = fetch(`${endpoint}/?delay_ms=800`)
    await new Promise((r) => setTimeout(r, 100))
    const busy = lb!.metrics().find((m) => m.outstanding === 1)!.id
    const drained = lb!.drain(busy, 5_000)
    for (let i = 0; i < 5; i++) expect((await fetch(`${endpoint}/`)).headers.get('x-replica')).to.not.equal(busy)
    const r = await long
    expect(r.status).to.equal(200)
    expect(await drained).to.equal(true)
  })

  it('a scheduled drain (a replica under notice): it gets requests until its drain time, none after', async () => {
    const endpoint = await setup(2, {DELAY_MS: '5'})
    const drainAt = Date.now() + 600
    lb!.scheduleDrain('r0', drainAt)
    const seen: Array<{at: number; replica: string}> = []
    while (Date.now() < drainAt + 600) {
      const at = Date.now()
      const r = await fetch(`${endpoint}/`)
      seen.push({at, replica: r.headers.get('x-replica')!})
    }
    expect(seen.filter((x) => x.at < drainAt - 50 && x.replica === 'r0').length, 'to r0 before its drain time').to.be.above(0)
    expect(seen.filter((x) => x.at > drainAt + 50 && x.replica === 'r0').length, 'to r0 after its drain time').to.equal(0)
    expect(lb!.metrics().find((m) => m.id === 'r0')!.draining).to.equal(true)
    // A replica removed before its drain time: the timer goes with it.
    lb!.scheduleDrain('r1', Date.now() + 60_000)
    lb!.remove('r1')
  })

  it('a replica SIGKILLed under GET load: its requests are retried elsewhere, none fails', async () => {
    const endpoint = await setup(3, {DELAY_MS: '20'})
    const run = autocannon({url: `${endpoint}/`, connections: 12, duration: 2})
    setTimeout(() => servers[1].child.kill('SIGKILL'), 700)
    const result = await run
    expect(result.errors, 'transport errors').to.equal(0)
    expect(result.non2xx, 'non-2xx').to.equal(0)
    // Load enough that requests were in flight on r1 when it died (retried, failures below);
    // how many a loaded machine pushes through in 2 s is no part of the property.
    expect(result['2xx']).to.be.above(20)
    expect(lb!.totals.retried).to.be.above(0)
    expect(lb!.metrics().find((m) => m.id === 'r1')!.failures).to.be.above(0)
  })

  it('a POST in flight on a killed replica gets a 502; the next goes elsewhere', async () => {
    const endpoint = await setup(2, {DELAY_MS: '5'})
    const slow = fetch(`${endpoint}/v1/completions?delay_ms=2000`, {method: 'POST', body: JSON.stringify({prompt: 'x'})})
    await new Promise((r) => setTimeout(r, 150))
    const busy = lb!.metrics().find((m) => m.outstanding === 1)!.id
    servers[Number(busy.slice(1))].child.kill('SIGKILL')
    expect((await slow).status).to.equal(502)
    const next = await fetch(`${endpoint}/v1/completions`, {method: 'POST', body: JSON.stringify({prompt: 'x'})})
    expect(next.status).to.equal(200)
  })

  it('a POST with a body whose replica refuses the connection goes to another replica: nothing of it was sent', async () => {
    const endpoint = await setup(1)
    // A replica that has just exited: nothing listens at its address any more.
    const gone = await startModelServer({SKYHOP_REPLICA: 'gone'})
    gone.child.kill('SIGKILL')
    await new Promise((r) => gone.child.once('exit', r))
    lb!.add({id: 'gone', origin: gone.origin})
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${endpoint}/v1/completions`, {method: 'POST', body: JSON.stringify({prompt: `p${i}`})})
      expect(r.status).to.equal(200)
      expect(r.headers.get('x-replica')).to.equal('r0')
    }
    expect(lb!.totals.retried).to.be.above(0)
    expect(lb!.totals.failed).to.equal(0)
  })

  it('reports per-replica rate and latency percentiles', async () => {
    const endpoint = await setup(2, {DELAY_MS: '10'})
    await autocannon({url: `${endpoint}/`, connections: 4, amount: 200})
    const m = lb!.metrics()
    expect(m.reduce((s, x) => s + x.samples, 0)).to.equal(200)
    for (const x of m) {
      expect(x.p50Ms).to.be.at.least(10)
      expect(x.p99Ms).to.be.at.least(x.p50Ms!)
      expect(x.ratePerSecond).to.be.above(0)
    }
  })
})
