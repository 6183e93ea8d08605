// `skyhop dashboard` in a real headless browser (Debian's chromium through puppeteer-core):
// what a person sees. The home holds real jobs run on the local provider through the CLI
// and a richer written history (test/helpers/dashboard-history.ts); the dashboard is the
// built CLI. Skips without chromium, fails under CI (scripts/chromium-up.sh installs it).
import {expect} from 'chai'
import {rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {Browser, Page} from 'puppeteer-core'

import {type DashboardProcess, launchBrowser, requireChromium, startDashboardCli} from '../helpers/browser.js'
import {ROOT, parseEnvelope, runCli, tempHome} from '../helpers/cli.js'
import {type DashboardHistory, writeDashboardHistory} from '../helpers/dashboard-history.js'
import {until} from '../helpers/wait.js'

describe('skyhop dashboard in a headless browser', function () {
  this.timeout(120_000)
  let home: string
  let browser: Browser
  let dashboard: DashboardProcess
  let history: DashboardHistory
  let sleeperId: string
  let page: Page

  before(async function () {
    requireChromium(this)
    home = tempHome('skyhop-dashboard-')
    const hello = runCli(['launch', join(ROOT, 'examples', 'hello.yaml'), '--yes', '--wait'], {home})
    expect(hello.code, hello.stderr).to.equal(0)
    writeFileSync(join(home, 'sleeper.yaml'), 'name: sleeper\nresources: {cpus: 1}\nrun: sleep 300\n')
    const sleeper = runCli(['launch', join(home, 'sleeper.yaml'), '--yes', '--detach', '--json'], {home})
    expect(sleeper.code, sleeper.stderr).to.equal(0)
    sleeperId = parseEnvelope(sleeper.stdout).result.job.id
    history = writeDashboardHistory(home)
    dashboard = await startDashboardCli(home, ['--interval', '500ms', '--all-users'])
    browser = await launchBrowser()
    page = await browser.newPage()
    await page.setViewport({width: 1280, height: 900})
    await page.goto(dashboard.url)
    await page.waitForSelector('#jobs tbody tr[data-job]')
  })

  after(async () => {
    await browser?.close()
    await dashboard?.stop()
    if (home) {
      runCli(['cancel', 'sleeper', '--grace', '1s'], {home})
      rmSync(home, {recursive: true, force: true})
    }
  })

  const rowNames = () => page.$$eval('#jobs tbody tr[data-job] .name', (els) => els.map((e) => e.textContent))
  const bars = (job: string) =>
    page.$$eval(`g.job-row[data-job="${job}"] rect.attempt`, (els) =>
      els.map((e) => ({provider: e.getAttribute('data-provider'), zone: e.getAttribute('data-zone'), state: e.getAttribute('data-state')})),
    )

  it('lists the jobs, the real ones and the written ones, each with its state', async () => {
    expect(await rowNames()).to.include.members(['hello', 'sleeper', 'train-llama', 'eval-v100', 'lr-grid-0.1-32'])
    const state = (id: string) => page.$eval(`#jobs tr[data-job="${id}"] .chip`, (e) => e.textContent)
    expect(await state(history.train.id)).to.equal('SUCCEEDED')
    expect(await state(sleeperId)).to.equal('RUNNING')
    expect(await page.$eval(`#jobs tr[data-job="${history.train.id}"] .attempts`, (e) => e.textContent)).to.equal(
      '3, 1 preempted, 1 failed over',
    )
  })

  it("shows whose each job is, and offers no cancel for another user's", async () => {
    expect(await page.$eval('#viewer', (e) => e.textContent)).to.match(/^as \S+ · every user’s jobs$/)
    expect(await page.$eval(`#jobs tr[data-job="${history.alice.id}"] .owner`, (e) => e.textContent)).to.equal('alice')
    expect(await page.$(`button.cancel[data-job="${history.alice.id}"]`)).to.equal(null)
    expect(await page.$eval(`#jobs tr[data-job="${history.alice.id}"] .not-yours`, (e) => e.textContent)).to.equal('not yours')
    expect(await page.$(`button.cancel[data-job="${sleeperId}"]`)).not.to.equal(null)
  })

  it('draws a timeline bar per attempt with its provider and zone, and marks the preemption and the failover', async () => {
    expect(await bars(history.train.id)).to.deep.equal([
      {provider: 'aws', zone: 'us-east-1a', state: 'PREEMPTED'},
      {provider: 'aliyun', zone: 'cn-hangzhou-h', state: 'SUCCEEDED'},
    ])
    expect(await bars(history.eval.id)).to.deep.equal([
      {provider: 'slurm', zone: 'low', state: 'PREEMPTED'},
      {provider: 'slurm', zone: 'high', state: 'RUNNING'},
    ])
    const hello = await page.$$eval('#jobs tbody tr[data-job]', (rows) =>
      rows.filter((r) => r.querySelector('.name')?.textContent === 'hello').map((r) => r.getAttribute('data-job')),
    )
    expect(await bars(hello[0]!)).to.deep.equal([{provider: 'local', zone: 'local', state: 'SUCCEEDED'}])
    const marks = (job: string, kind: string) =>
      page.$$eval(`g.job-row[data-job="${job}"] .mark.${kind}`, (els) => els.map((e) => e.getAttribute('data-provider')))
    expect(await marks(history.train.id, 'preemption')).to.deep.equal(['aws'])
    expect(await marks(history.train.id, 'failover')).to.deep.equal(['gcp'])
    expect(await marks(history.eval.id, 'preemption')).to.deep.equal(['slurm'])
    // Seen, not just present: the bar has a size on the page, and the label says where it ran.
    // Measured inside the page in one step: a live update may redraw the timeline between a
    // handle taken here and a later measure of it (puppeteer's boundingBox is then null).
    const box = await page.$eval(`g.job-row[data-job="${history.train.id}"] rect.attempt[data-provider="aliyun"]`, (e) => {
      const r = e.getBoundingClientRect()
      return {width: r.width, height: r.height}
    })
    expect(box.width).to.be.greaterThan(50)
    expect(box.height).to.be.greaterThan(5)
    const labels = await page.$$eval(`g.job-row[data-job="${history.train.id}"] .bar-label`, (els) => els.map((e) => e.textContent))
    expect(labels).to.include('aliyun · cn-hangzhou-h · A100-80GB:8')
  })

  it('shows what was paid against on-demand, the same figures as skyhop cost', async () => {
    const r = runCli(['cost', '--since', 'all', '--by', 'provider', '--json'], {home})
    const report = parseEnvelope(r.stdout).result
    const aliyun = report.groups.find((g: any) => g.key === 'aliyun')
    // The Alibaba attempt has ended, so its figure no longer moves: the page shows it exactly.
    const shown = await page.$$eval('.cost-row[data-provider="aliyun"] text.value', (els) => els.map((e) => e.textContent))
    expect(shown).to.deep.equal([`$${aliyun.cost.usd.toFixed(2)} paid`, `$${aliyun.onDemandUsd.toFixed(2)} on-demand`])
    // The total includes a running spot attempt, so it grows by the second: within a cent.
    const paid = Number((await page.$eval('#cost-total .paid', (e) => e.textContent))!.replace('$', ''))
    const onDemand = Number((await page.$eval('#cost-total .on-demand', (e) => e.textContent))!.replace('$', ''))
    expect(paid).to.be.closeTo(report.total.cost.usd, 0.02)
    expect(onDemand).to.be.closeTo(report.total.onDemandUsd, 0.02)
    expect(onDemand).to.be.greaterThan(paid)
  })

  it("shows the sweep's progress and the service's replicas", async () => {
    expect(await page.$eval(`.sweep[data-sweep="${history.sweep.id}"] .counts`, (e) => e.textContent)).to.match(/^3\/6 done/)
    const parts = await page.$$eval(`.sweep[data-sweep="${history.sweep.id}"] rect.part`, (els) =>
      els.map((e) => [e.getAttribute('class'), Math.round(Number(e.getAttribute('width')))]),
    )
    expect(parts).to.deep.equal([
      ['part succeeded', 160],
      ['part running', 53],
      ['part pending', 107],
    ])
    const replicas = await page.$$eval(`.service[data-service="${history.service.id}"] .replica`, (els) => els.map((e) => e.textContent))
    expect(replicas).to.deep.equal(['#1 aws · us-east-1b · L4:1 · spot · READY', '#2 aws · us-east-1c · L4:1 · READY'])
  })

  it('brings a change made elsewhere onto the open page without a reload', async () => {
    await page.evaluate(() => ((globalThis as any).__sameDocument = true))
    const late = runCli(['launch', join(ROOT, 'examples', 'hello.yaml'), '--yes', '--wait', '--name', 'late-arrival'], {home})
    expect(late.code, late.stderr).to.equal(0)
    await page.waitForFunction(
      () => [...(globalThis as any).document.querySelectorAll('#jobs tbody tr .name')].some((e: any) => e.textContent === 'late-arrival'),
      {timeout: 20_000},
    )
    expect(await page.evaluate(() => (globalThis as any).__sameDocument)).to.equal(true)
    expect(await page.$eval('#live', (e) => e.textContent)).to.match(/^live · updated/)
  })

  it('cancels a running job from its button, through the cancel service, and shows it cancelled', async () => {
    const asked: string[] = []
    page.once('dialog', (dialog) => {
      asked.push(dialog.message())
      void dialog.accept()
    })
    await page.click(`button.cancel[data-job="${sleeperId}"]`)
    await page.waitForFunction(
      (id) => (globalThis as any).document.querySelector(`#jobs tr[data-job="${id}"]`)?.getAttribute('data-state') === 'CANCELLED',
      {timeout: 60_000},
      sleeperId,
    )
    expect(asked[0]).to.include('sleeper')
    expect(await page.$(`button.cancel[data-job="${sleeperId}"]`)).to.equal(null)
    // The cancel marks the job CANCELLED first (so nothing relaunches it), then records its
    // attempt's end once the runner has stopped: the page shows the first, status the second
    // (seen to lag on PostgreSQL).
    const status = await until(
      async () => parseEnvelope(runCli(['status', sleeperId, '--json'], {home}).stdout).result.job,
      (job) => job.attemptsDetail.every((a: any) => a.state !== 'RUNNING'),
      30_000,
      250,
    )
    expect(status.state).to.equal('CANCELLED')
    expect(status.reason).to.equal('cancelled by user')
    expect(status.attemptsDetail.map((a: any) => a.state)).to.deep.equal(['CANCELLED'])
  })

  it('does nothing when the person says no at the confirmation', async () => {
    const running = history.eval.id
    page.once('dialog', (dialog) => void dialog.dismiss())
    await page.click(`button.cancel[data-job="${running}"]`)
    await new Promise((r) => setTimeout(r, 300))
    const status = parseEnvelope(runCli(['status', running, '--json'], {home}).stdout).result.job
    expect(status.state).to.equal('RUNNING')
  })

  it('with a token: the address printed opens the page, which then forgets the token; without it, nothing is shown', async () => {
    const tokenFile = join(home, 'token')
    const token = 'a'.repeat(8) + 'dashboard-token-for-the-test-0123456789'
    writeFileSync(tokenFile, `${token}\n`)
    const guarded = await startDashboardCli(home, ['--host', '0.0.0.0', '--token-file', tokenFile])
    const port = guarded.started.result.port
    try {
      const other = await browser.newPage()
      const denied = await other.goto(`http://127.0.0.1:${port}/`)
      expect(denied!.status()).to.equal(401)
      expect(await other.content()).not.to.include('Jobs and their attempts')
      await other.goto(`http://127.0.0.1:${port}/?token=${token}`)
      await other.waitForSelector('#jobs tbody tr[data-job]')
      expect(other.url()).to.equal(`http://127.0.0.1:${port}/`)
      expect(await other.$$eval('#jobs tbody tr .name', (els) => els.map((e) => e.textContent))).to.include('train-llama')
      await other.close()
    } finally {
      const ended = await guarded.stop()
      expect(ended.stdout + ended.stderr).not.to.include(token)
    }
  })
})
