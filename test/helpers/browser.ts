// A real headless browser for the dashboard's tests and its screenshot: Debian's chromium
// (scripts/chromium-up.sh installs it) driven by puppeteer-core, and `skyhop dashboard`
// started as a user would, through the built CLI. Without chromium a suite skips with a
// message; under CI it fails instead: CI must never pass by testing nothing.
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'

import type {Browser} from 'puppeteer-core'

import {runCliAsync} from './cli.js'

/** SKYHOP_CHROMIUM, else Debian's chromium. */
export const CHROMIUM = process.env.SKYHOP_CHROMIUM ?? '/usr/bin/chromium'

/** Chromium's own sandbox needs user namespaces a root process in a container rarely has. */
const ARGS = [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-gpu', '--disable-dev-shm-usage']

/** Why chromium cannot run here, or null when it can. */
export function chromiumMissing(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is not installed`
  const r = spawnSync(CHROMIUM, ['--version'], {encoding: 'utf8', timeout: 30_000})
  if (r.status !== 0) return `${CHROMIUM} --version failed: ${(r.stderr || r.stdout || String(r.error)).trim()}`
  return null
}

/** In a `before` hook: skip the suite without chromium, or fail it when CI is set. */
export function requireChromium(context: Mocha.Context): void {
  const why = chromiumMissing()
  if (!why) return
  const message = `${why}; install it with: sudo bash scripts/chromium-up.sh`
  if (process.env.CI) throw new Error(`${message}. CI must run the browser tests, so this fails instead of skipping.`)
  // eslint-disable-next-line no-console
  console.log(`      skipping: ${message}`)
  context.skip()
}

export async function launchBrowser(): Promise<Browser> {
  const puppeteer = (await import('puppeteer-core')).default
  return puppeteer.launch({executablePath: CHROMIUM, headless: true, args: ARGS})
}

export interface DashboardProcess {
  url: string
  /** The whole --json document it printed when it started. */
  started: any
  stop(signal?: NodeJS.Signals): Promise<{code: number | null; stdout: string; stderr: string}>
}

/** `skyhop dashboard --port 0 --json ARGS` on this home, once it listens. */
export async function startDashboardCli(home: string, args: string[] = []): Promise<DashboardProcess> {
  const run = runCliAsync(['dashboard', '--port', '0', '--json', ...args], {home})
  let out = ''
  run.child.stdout!.on('data', (d) => (out += d))
  const started = await new Promise<any>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`skyhop dashboard did not start within 30 s; stdout: ${out}`)), 30_000)
    const look = () => {
      try {
        const doc = JSON.parse(out)
        clearTimeout(timer)
        resolve(doc)
      } catch {}
    }
    run.child.stdout!.on('data', look)
    run.child.on('close', (code) => {
      clearTimeout(timer)
      reject(new Error(`skyhop dashboard exited (${code}) before it listened; stdout: ${out}`))
    })
  })
  if (!started.ok) throw new Error(`skyhop dashboard failed: ${JSON.stringify(started.error)}`)
  return {
    url: started.result.url,
    started,
    stop: async (signal = 'SIGTERM') => {
      run.child.kill(signal)
      return run
    },
  }
}
