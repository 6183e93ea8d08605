// The load balancer on its worker thread (src/serve/balancer-thread.ts), as the built
// service controller runs it: the worker is the built balancer-worker.js (Node gives a
// worker thread no TypeScript loader), so this needs `npm run build` and skips without it
// (fails under CI). Real HTTP: replicas are servers in this process.
import {expect} from 'chai'
import {existsSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import type {ThreadedBalancer as ThreadedBalancerType} from '../../src/serve/balancer-thread.js'
import {ROOT} from '../helpers/cli.js'
import {until} from '../helpers/wait.js'

const BUILT = join(ROOT, 'dist', 'serve', 'balancer-thread.js')

async function replica(name: string): Promise<{server: Server; origin: string}> {
  const server = createServer((_req, res) => {
    res.writeHead(200, {'content-type': 'text/plain'})
    res.end(name)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`}
}

describe('serve: the load balancer on its own thread (built)', function () {
  this.timeout(30_000)
  let ThreadedBalancer: typeof ThreadedBalancerType
  const servers: Server[] = []
  let lb: ThreadedBalancerType | undefined

  before(async function () {
    if (!existsSync(BUILT)) {
      if (process.env.CI) throw new Error(`${BUILT} is missing: run npm run build first (CI is set, so this is a failure, not a skip)`)
      // eslint-disable-next-line no-console
      console.log(`      (skipped: ${BUILT} is missing; run npm run build first)`)
      this.skip()
    }
    ;({ThreadedBalancer} = (await import(pathToFileURL(BUILT).href)) as {ThreadedBalancer: typeof ThreadedBalancerType})
  })

  afterEach(async () => {
    await lb?.close()
    lb = undefined
    for (const s of servers.splice(0)) s.close()
  })

  it('routes through the worker; a drain counts as in flight until the worker shows it; metrics come back', async () => {
    const a = await replica('a')
    const b = await replica('b')
    servers.push(a.server, b.server)
    lb = new ThreadedBalancer({windowMs: 10_000})
    const endpoint = await lb.start()
    expect(endpoint).to.match(/^http:\/\/127\.0\.0\.1:\d+$/)
    lb.add({id: 'a', origin: a.origin})
    lb.add({id: 'b', origin: b.origin})
    await until(
      () => fetch(endpoint).then((r) => r.status),
      (s) => s === 200,
      5000,
      50,
    )
    const seen = new Set<string>()
    for (let i = 0; i < 40; i++) seen.add(await (await fetch(endpoint)).text())
    expect([...seen].sort()).to.deep.equal(['a', 'b'])
    void lb.drain('a')
    // Asked, not yet shown by a snapshot: the controller must not stop it yet.
    expect(lb.outstanding('a')).to.be.at.least(1)
    await until(
      async () => lb!.outstanding('a'),
      (n) => n === 0,
      5000,
      20,
    )
    for (let i = 0; i < 20; i++) expect(await (await fetch(endpoint)).text()).to.equal('b')
    const metrics = await until(
      async () => lb!.metrics(),
      (m) => m.some((x) => x.id === 'b' && x.samples > 0),
      5000,
      100,
    )
    const mb = metrics.find((x) => x.id === 'b')!
    expect(mb.p50Ms).to.be.a('number')
    // Totals and the rate are read from the worker's snapshots (every 100 ms).
    await until(
      async () => lb!.totals.requests,
      (n) => n >= 60,
      5000,
      50,
    )
    expect(lb.rate()).to.be.above(0)
  })

  it('a scheduled drain runs on the worker at its time, and survives a worker restart', async () => {
    const a = await replica('a')
    const b = await replica('b')
    servers.push(a.server, b.server)
    lb = new ThreadedBalancer({})
    const endpoint = await lb.start()
    lb.add({id: 'a', origin: a.origin})
    lb.add({id: 'b', origin: b.origin})
    await until(
      () => fetch(endpoint).then((r) => r.status),
      (s) => s === 200,
      5000,
      50,
    )
    const drainAt = Date.now() + 1500
    lb.scheduleDrain('a', drainAt)
    // Before its time, a still gets requests.
    const before = new Set<string>()
    for (let i = 0; i < 20; i++) before.add(await (await fetch(endpoint)).text())
    expect(Date.now()).to.be.below(drainAt)
    expect([...before].sort()).to.deep.equal(['a', 'b'])
    // The worker dies before the drain time; the new one is given the drain time too.
    await (lb as unknown as {worker: {terminate(): Promise<number>}}).worker.terminate()
    await until(
      () => (lb!.restarts === 1 ? fetch(endpoint).then((r) => r.status) : Promise.resolve(0)),
      (s) => s === 200,
      10_000,
      50,
    )
    while (Date.now() < drainAt + 200) await new Promise((r) => setTimeout(r, 50))
    for (let i = 0; i < 20; i++) expect(await (await fetch(endpoint)).text()).to.equal('b')
  })

  it('a worker that dies is started again on the same port, with the replicas and drains it had', async () => {
    const a = await replica('a')
    const b = await replica('b')
    servers.push(a.server, b.server)
    lb = new ThreadedBalancer({})
    const endpoint = await lb.start()
    lb.add({id: 'a', origin: a.origin})
    lb.add({id: 'b', origin: b.origin})
    void lb.drain('a')
    await until(
      () => fetch(endpoint).then((r) => r.text()),
      (t) => t === 'b',
      5000,
      50,
    )
    // What an error the worker did not catch does to it.
    await (lb as unknown as {worker: {terminate(): Promise<number>}}).worker.terminate()
    await until(
      () =>
        fetch(endpoint)
          .then((r) => r.text())
          .catch((error: Error) => error.message),
      (t) => t === 'b',
      10_000,
      100,
    )
    expect(lb.restarts).to.equal(1)
    // The drain survived the restart: nothing goes to a.
    for (let i = 0; i < 20; i++) expect(await (await fetch(endpoint)).text()).to.equal('b')
  })
})
