// Takes docs/img/dashboard.png through a real browser: a fresh home with a real job run on
// the local provider and a richer history (test/helpers/dashboard-history.ts: a preemption,
// a failover, a sweep, a service), `skyhop dashboard` started through the built CLI, and
// headless chromium (scripts/chromium-up.sh) pointed at it. Run after a build:
//   npx tsx scripts/dashboard-screenshot.ts [out.png]
import {mkdirSync, rmSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'

import {chromiumMissing, launchBrowser, startDashboardCli} from '../test/helpers/browser.js'
import {ROOT, runCli, tempHome} from '../test/helpers/cli.js'
import {writeDashboardHistory} from '../test/helpers/dashboard-history.js'

const out = resolve(process.argv[2] ?? join(ROOT, 'docs', 'img', 'dashboard.png'))
const missing = chromiumMissing()
if (missing) {
  process.stderr.write(`${missing}; install it with: sudo bash scripts/chromium-up.sh\n`)
  process.exit(1)
}
const home = tempHome('skyhop-dashboard-shot-')
try {
  const r = runCli(['launch', join(ROOT, 'examples', 'hello.yaml'), '--yes', '--wait'], {home})
  if (r.code !== 0) throw new Error(`launch failed (${r.code}): ${r.stderr}`)
  writeDashboardHistory(home)
  const dashboard = await startDashboardCli(home)
  const browser = await launchBrowser()
  try {
    const page = await browser.newPage()
    await page.setViewport({width: 1280, height: 900, deviceScaleFactor: 1})
    await page.goto(dashboard.url)
    await page.waitForSelector('#jobs tbody tr')
    await page.waitForSelector('.mark.preemption')
    mkdirSync(dirname(out), {recursive: true})
    await page.screenshot({path: out as `${string}.png`, fullPage: true})
    process.stdout.write(`wrote ${out}\n`)
  } finally {
    await browser.close()
    await dashboard.stop()
  }
} finally {
  rmSync(home, {recursive: true, force: true})
}
