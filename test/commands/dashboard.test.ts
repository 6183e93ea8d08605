// `skyhop dashboard` through the built CLI, at the HTTP level: what it refuses (a foreign
// Host, a request without the token, a cancel without the page's CSRF token or from another
// origin), how it says so, its exit codes for bad flags, and that it stops on a signal. The
// page itself is checked in a browser: test/integration/dashboard-browser.test.ts.
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {request} from 'node:http'
import {createServer} from 'node:net'
import {rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {Store} from '../../src/state/store.js'
import {type DashboardProcess, startDashboardCli} from '../helpers/browser.js'
import {parseEnvelope, runCli, runCliAsync, tempHome} from '../helpers/cli.js'
import {writeDashboardHistory} from '../helpers/dashboard-history.js'
import {testJobSpec} from '../helpers/job-spec.js'
import {waitUntil} from '../helpers/wait.js'

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** A raw request, so the Host header and cookies are exactly what the test says. */
function ask(
  port: number,
  path: string,
  options: {method?: string; headers?: Record<string, string>; body?: string} = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers}, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({status: res.statusCode!, headers: res.headers, body}))
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

const csrfOf = (html: string) => /name="skyhop-csrf" content="([^"]+)"/.exec(html)![1]

describe('skyhop dashboard (built CLI, HTTP)', function () {
  this.timeout(60_000)
  let home: string
  let history: ReturnType<typeof writeDashboardHistory>

  before(() => {
    home = tempHome('skyhop-dashboard-http-')
    history = writeDashboardHistory(home)
  })
  after(() => rmSync(home, {recursive: true, force: true}))

  describe('on loopback', () => {
    let d: DashboardProcess
    let port: number
    before(async () => {
      d = await startDashboardCli(home)
      port = d.started.result.port
    })
    after(async () => {
      await d?.stop()
    })

    it('prints where it listens as one JSON document, with no token', () => {
      expect(d.started.result).to.deep.equal({
        url: `http://127.0.0.1:${port}/`,
        host: '127.0.0.1',
        port,
        tokenRequired: false,
        tokenSource: 'none',
      })
    })

    it('serves the page, its script and stylesheet from the package, with a policy that allows nothing from elsewhere', async () => {
      const page = await ask(port, '/')
      expect(page.status).to.equal(200)
      expect(page.body).to.include('<script src="/app.js" defer></script>')
      expect(page.body).not.to.match(/https?:\/\//)
      expect(page.headers['content-security-policy']).to.include("default-src 'none'").and.include("script-src 'self'")
      expect((await ask(port, '/app.js')).headers['content-type']).to.match(/^text\/javascript/)
      expect((await ask(port, '/style.css')).status).to.equal(200)
      expect((await ask(port, '/nothing')).status).to.equal(404)
    })

    it('answers /api/snapshot with the jobs, their attempts and the cost', async () => {
      const snap = JSON.parse((await ask(port, '/api/snapshot')).body)
      const train = snap.jobs.find((j: any) => j.id === history.train.id)
      expect(train.attemptsDetail.map((a: any) => [a.provider, a.state, a.launchFailed])).to.deep.equal([
        ['aws', 'PREEMPTED', false],
        ['gcp', 'FAILED', true],
        ['aliyun', 'SUCCEEDED', false],
      ])
      expect([train.preemptions, train.failovers]).to.deep.equal([1, 1])
      expect(snap.cost.byProvider.map((p: any) => p.provider)).to.include.members(['aws', 'aliyun', 'gcp', 'slurm'])
      expect(snap.sweeps.map((s: any) => s.id)).to.deep.equal([history.sweep.id])
      expect(snap.services.map((s: any) => s.replicas.length)).to.deep.equal([2])
    })

    it('streams the snapshot as Server-Sent Events', async () => {
      const first = await new Promise<string>((resolve, reject) => {
        const req = request({host: '127.0.0.1', port, path: '/api/events'}, (res) => {
          expect(res.headers['content-type']).to.match(/^text\/event-stream/)
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (chunk) => {
            text += chunk
            if (text.includes('\n\n')) {
              req.destroy()
              resolve(text)
            }
          })
        })
        req.on('error', reject)
        req.end()
      })
      expect(first).to.match(/^retry: \d+\nevent: snapshot\ndata: \{/)
      expect(JSON.parse(first.split('data: ')[1]!).jobs.length).to.be.greaterThan(5)
    })

    it('refuses a request addressed to another host name (DNS rebinding)', async () => {
      const r = await ask(port, '/api/snapshot', {headers: {Host: `attacker.example:${port}`}})
      expect(r.status).to.equal(403)
      expect(JSON.parse(r.body).error.code).to.equal('HOST_NOT_ALLOWED')
      expect((await ask(port, '/', {headers: {Host: `localhost:${port}`}})).status).to.equal(200)
    })

    it("refuses a cancel without the page's CSRF token, with a wrong one, from another origin, or as a GET; the job is untouched", async () => {
      const path = `/api/jobs/${history.eval.id}/cancel`
      const csrf = csrfOf((await ask(port, '/')).body)
      const tries: Array<{method: string; headers: Record<string, string>}> = [
        {method: 'POST', headers: {}},
        {method: 'POST', headers: {'X-Skyhop-CSRF': 'x'.repeat(csrf.length)}},
        {method: 'POST', headers: {'X-Skyhop-CSRF': csrf, Origin: 'http://attacker.example'}},
        {method: 'POST', headers: {'X-Skyhop-CSRF': csrf, 'Sec-Fetch-Site': 'cross-site'}},
      ]
      for (const t of tries) {
        const r = await ask(port, path, t)
        expect(r.status, JSON.stringify(t)).to.equal(403)
        expect(JSON.parse(r.body).error.code).to.equal('CSRF')
      }
      expect((await ask(port, path, {headers: {'X-Skyhop-CSRF': csrf}})).status).to.equal(405)
      const status = parseEnvelope(runCli(['status', history.eval.id, '--json'], {home}).stdout).result.job
      expect(status.state).to.equal('RUNNING')
    })

    it("a cancel with the page's token goes to the cancel service: an unknown job is its JOB_NOT_FOUND, an ended one already ended", async () => {
      const csrf = csrfOf((await ask(port, '/')).body)
      const headers = {'X-Skyhop-CSRF': csrf, Origin: `http://127.0.0.1:${port}`}
      const unknown = await ask(port, '/api/jobs/no-such-job/cancel', {method: 'POST', headers})
      expect(unknown.status).to.equal(404)
      expect(JSON.parse(unknown.body).error.code).to.equal('JOB_NOT_FOUND')
      const ended = await ask(port, `/api/jobs/${history.train.id}/cancel`, {method: 'POST', headers})
      expect(ended.status).to.equal(200)
      expect(JSON.parse(ended.body)).to.include({alreadyEnded: true})
    })
  })

  describe('owners, as status has them', () => {
    it("lists one's own jobs (and those from before owners) by default; every user's with --all-users", async () => {
      const own = await startDashboardCli(home)
      const all = await startDashboardCli(home, ['--all-users'])
      try {
        const mine = JSON.parse((await ask(own.started.result.port, '/api/snapshot')).body)
        const team = JSON.parse((await ask(all.started.result.port, '/api/snapshot')).body)
        expect(mine.viewer).to.include({allUsers: false, admin: false})
        expect(team.viewer).to.include({allUsers: true})
        expect(mine.jobs.map((j: any) => j.id)).not.to.include(history.alice.id)
        expect(mine.jobs.map((j: any) => j.id)).to.include(history.train.id)
        expect(team.jobs.map((j: any) => j.id)).to.include.members([history.alice.id, history.train.id])
      } finally {
        await own.stop()
        await all.stop()
      }
    })

    it("refuses to cancel another user's job without the admin role, as skyhop cancel does (403)", async () => {
      const d = await startDashboardCli(home, ['--all-users'])
      const port = d.started.result.port
      try {
        const csrf = csrfOf((await ask(port, '/')).body)
        const r = await ask(port, `/api/jobs/${history.alice.id}/cancel`, {method: 'POST', headers: {'X-Skyhop-CSRF': csrf}})
        expect(r.status).to.equal(403)
        const error = JSON.parse(r.body).error
        expect(error.code).to.equal('PERMISSION_DENIED')
        expect(error.message).to.include('alice-finetune').and.include('belongs to alice')
        const cli = runCli(['cancel', history.alice.id, '--json'], {home})
        expect(parseEnvelope(cli.stdout).error!.code).to.equal(error.code)
        expect(parseEnvelope(runCli(['status', history.alice.id, '--json'], {home}).stdout).result.job.state).to.equal('RUNNING')
      } finally {
        await d.stop()
      }
    })
  })

  describe('off loopback, with a token', () => {
    const token = 'tok-' + 'x'.repeat(20) + '-0123456789abcdef'
    let d: DashboardProcess
    let port: number
    before(async () => {
      writeFileSync(join(home, 'token'), token + '\n')
      d = await startDashboardCli(home, ['--host', '0.0.0.0', '--token-file', join(home, 'token')])
      port = d.started.result.port
    })
    after(async () => {
      await d?.stop()
    })

    it('says a token is required, and never prints it', () => {
      expect(d.started.result).to.include({tokenRequired: true, tokenSource: 'file', host: '0.0.0.0'})
      expect(JSON.stringify(d.started)).not.to.include(token)
    })

    it('answers nothing without the token, or with a wrong one', async () => {
      for (const path of ['/', '/api/snapshot', '/api/events', '/app.js']) expect((await ask(port, path)).status, path).to.equal(401)
      expect((await ask(port, `/?token=${token.slice(0, -1)}`)).status).to.equal(401)
      expect((await ask(port, '/api/snapshot', {headers: {Authorization: `Bearer ${token}x`}})).status).to.equal(401)
      expect((await ask(port, '/api/snapshot', {headers: {Cookie: 'skyhop_dashboard=guess'}})).status).to.equal(401)
    })

    it('takes it once in the address and trades it for an HttpOnly, SameSite=Strict session cookie; or as a Bearer header', async () => {
      const opened = await ask(port, `/?token=${token}`)
      expect(opened.status).to.equal(303)
      expect(opened.headers.location).to.equal('/')
      const cookie = String(opened.headers['set-cookie'])
      expect(cookie)
        .to.match(/HttpOnly/)
        .and.match(/SameSite=Strict/)
      expect(cookie).not.to.include(token)
      const session = cookie.split(';')[0]!
      expect((await ask(port, '/api/snapshot', {headers: {Cookie: session}})).status).to.equal(200)
      expect((await ask(port, '/api/snapshot', {headers: {Authorization: `Bearer ${token}`}})).status).to.equal(200)
    })
  })

  describe('per-user tokens (--tokens)', () => {
    const tokens = {alice: 'alice-' + 'a'.repeat(40), bob: 'bob-' + 'b'.repeat(40), carol: 'carol-' + 'c'.repeat(40)}
    const sha = (t: string) => createHash('sha256').update(t).digest('hex')
    let own: string
    let d: DashboardProcess
    let port: number
    let queued: {first: string; second: string}
    before(async () => {
      own = tempHome('skyhop-dashboard-users-')
      writeDashboardHistory(own)
      writeFileSync(join(own, 'config.yaml'), 'providers:\n  slurm: {enabled: false}\nroles: {admin: [carol]}\n')
      const store = Store.open(own)
      const spec = testJobSpec({name: 'queued', run: 'true'})
      queued = {
        first: store.createJob({name: 'alice-queued-1', file: null, spec, owner: 'alice'}).id,
        second: store.createJob({name: 'alice-queued-2', file: null, spec, owner: 'alice'}).id,
      }
      store.close()
      const file = join(own, 'tokens')
      writeFileSync(
        file,
        Object.entries(tokens)
          .map(([user, t]) => `${user}: ${sha(t)}`)
          .join('\n') + '\n',
      )
      d = await startDashboardCli(own, ['--host', '0.0.0.0', '--tokens', file, '--all-users'])
      port = d.started.result.port
    })
    after(async () => {
      await d?.stop()
      rmSync(own, {recursive: true, force: true})
    })

    const bearer = (user: keyof typeof tokens) => ({Authorization: `Bearer ${tokens[user]}`})
    const stateOf = (id: string) => parseEnvelope(runCli(['status', id, '--all-users', '--json'], {home: own}).stdout).result.job

    it("each request acts as its token's user: the page shows who, and a cancel is theirs, under the CLI's role rules", async () => {
      expect(d.started.result).to.include({tokenRequired: true, tokenSource: 'users'})
      expect((await ask(port, '/api/snapshot')).status).to.equal(401)
      expect((await ask(port, '/api/snapshot', {headers: {Authorization: `Bearer ${sha(tokens.bob)}`}})).status).to.equal(401)
      const asBob = JSON.parse((await ask(port, '/api/snapshot', {headers: bearer('bob')})).body)
      expect(asBob.viewer).to.deep.equal({user: 'bob', admin: false, allUsers: true})
      // alice signs in through the address: her session cookie then acts as her.
      const opened = await ask(port, `/?token=${tokens.alice}`)
      expect(opened.status).to.equal(303)
      const aliceCookie = {Cookie: String(opened.headers['set-cookie']).split(';')[0]!}
      expect(JSON.parse((await ask(port, '/api/snapshot', {headers: aliceCookie})).body).viewer).to.deep.equal({
        user: 'alice',
        admin: false,
        allUsers: true,
      })
      expect(JSON.parse((await ask(port, '/api/snapshot', {headers: bearer('carol')})).body).viewer.admin).to.equal(true)

      const csrf = csrfOf((await ask(port, '/', {headers: bearer('bob')})).body)
      const cancelAs = (headers: Record<string, string>, id: string) =>
        ask(port, `/api/jobs/${id}/cancel`, {method: 'POST', headers: {...headers, 'X-Skyhop-CSRF': csrf}})
      const refused = await cancelAs(bearer('bob'), queued.first)
      expect(refused.status).to.equal(403)
      expect(JSON.parse(refused.body).error).to.include({
        code: 'PERMISSION_DENIED',
        message: `bob may not cancel job alice-queued-1 (${queued.first}): it belongs to alice`,
      })
      expect(stateOf(queued.first).state).to.equal('PENDING')
      expect((await cancelAs(aliceCookie, queued.first)).status).to.equal(200)
      expect(stateOf(queued.first)).to.include({state: 'CANCELLED', reason: 'cancelled by user'})
      expect((await cancelAs(bearer('carol'), queued.second)).status).to.equal(200)
      expect(stateOf(queued.second)).to.include({state: 'CANCELLED', reason: 'cancelled by carol'})
    })

    it('never prints a token or its hash; --tokens and --token-file together are refused (exit 2)', async () => {
      const printed = JSON.stringify(d.started)
      for (const t of Object.values(tokens)) expect(printed).not.to.include(t).and.not.to.include(sha(t))
      writeFileSync(join(own, 'one'), 'k'.repeat(40))
      const both = runCli(['dashboard', '--port', '0', '--tokens', join(own, 'tokens'), '--token-file', join(own, 'one'), '--json'], {
        home: own,
      })
      expect(both.code).to.equal(2)
      writeFileSync(join(own, 'bad'), `alice: ${sha('x').slice(1)}\n`)
      const bad = runCli(['dashboard', '--port', '0', '--tokens', join(own, 'bad'), '--json'], {home: own})
      expect(bad.code).to.equal(2)
      expect(parseEnvelope(bad.stdout).error).to.include({code: 'TOKEN_FILE_INVALID'})
      expect(parseEnvelope(bad.stdout).error!.message).to.include(`${join(own, 'bad')}:1:`)
    })
  })

  describe('bad flags', () => {
    it('refuses to make up a token it could not show: off loopback under --json without --token-file (exit 2)', () => {
      const r = runCli(['dashboard', '--host', '0.0.0.0', '--port', '0', '--json'], {home})
      expect(r.code).to.equal(2)
      expect(parseEnvelope(r.stdout).error!.code).to.equal('TOKEN_REQUIRED')
    })

    it('says which token file is missing or too short (exit 2)', () => {
      const missing = runCli(['dashboard', '--token-file', join(home, 'nope'), '--port', '0'], {home})
      expect(missing.code).to.equal(2)
      expect(missing.stderr).to.include(join(home, 'nope')).and.include('ENOENT')
      writeFileSync(join(home, 'short'), 'abc\n')
      const short = runCli(['dashboard', '--token-file', join(home, 'short'), '--port', '0', '--json'], {home})
      expect(short.code).to.equal(2)
      const error = parseEnvelope(short.stdout).error!
      expect(error.code).to.equal('TOKEN_FILE_INVALID')
      expect(error.message).to.include('3 characters').and.not.include('abc')
    })

    it('says the port is taken (exit 2)', async () => {
      const holder = createServer()
      await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()))
      const port = (holder.address() as {port: number}).port
      try {
        const r = runCli(['dashboard', '--port', String(port), '--json'], {home})
        expect(r.code).to.equal(2)
        const error = parseEnvelope(r.stdout).error!
        expect(error.code).to.equal('DASHBOARD_LISTEN_FAILED')
        expect(error.message).to.include(`127.0.0.1:${port}`)
      } finally {
        holder.close()
      }
    })
  })

  it('prints a generated token once, in the address, when bound off loopback without --json; it works', async () => {
    const run = runCliAsync(['dashboard', '--host', '0.0.0.0', '--port', '0'], {home})
    let out = ''
    run.child.stdout!.on('data', (d) => (out += d))
    try {
      await waitUntil(() => /token=\S+/.test(out), 30_000, 50)
      const url = new URL(/dashboard: (\S+)/.exec(out)![1]!)
      const token = url.searchParams.get('token')!
      expect(token.length).to.be.greaterThan(30)
      expect((await ask(Number(url.port), '/api/snapshot')).status).to.equal(401)
      expect((await ask(Number(url.port), '/api/snapshot', {headers: {Authorization: `Bearer ${token}`}})).status).to.equal(200)
    } finally {
      run.child.kill('SIGTERM')
    }
    const ended = await run
    expect(ended.code).to.equal(0)
    expect(ended.stderr).not.to.match(/token=/)
  })

  it('stops on SIGINT: closes the port and exits 0, having printed one JSON document', async () => {
    const d = await startDashboardCli(home)
    const port = d.started.result.port
    const ended = await d.stop('SIGINT')
    expect(ended.code).to.equal(0)
    expect(JSON.parse(ended.stdout).result.port).to.equal(port)
    const answer = await ask(port, '/').then(
      () => 'answered',
      () => 'refused',
    )
    expect(answer).to.equal('refused')
  })
})
