// What the agent tests share (test/integration/agent*.test.ts): a job that notices being run
// twice, a seeded random source for the chaos, and agent processes of the built CLI whose
// JSON Lines can be watched.
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {type CliResult, runCliAsync} from './cli.js'
import {waitUntil} from './wait.js'

/**
 * A job that notices being run twice at once: it takes a lock directory (mkdir is atomic) for
 * its run, writes DOUBLE when another run holds it, and counts its starts.
 */
export function writeJob(home: string, extra = ''): string {
  const file = join(home, 'short.yaml')
  writeFileSync(
    file,
    [
      'name: short',
      ...(extra ? [extra] : []),
      'run: |',
      '  m="$MARKS/$SKYHOP_JOB_ID"',
      '  echo start >> "$m.starts"',
      '  mkdir "$m.lock" 2>/dev/null || echo "$SKYHOP_JOB_ID" >> "$MARKS/DOUBLE"',
      '  sleep "$NAP"',
      '  rmdir "$m.lock"',
      '  echo done >> "$m.done"',
      '',
    ].join('\n'),
  )
  return file
}

/** Mulberry32: the chaos is reproducible from the seed the test prints. */
export function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export type Agent = ReturnType<typeof runCliAsync> & {started: () => boolean; seen: () => string}

export const seenOf = (agent: Agent): string => agent.seen()

export function startAgent(home: string, env: Record<string, string>): Agent {
  const run = runCliAsync(['agent', '--json', '--interval', '200ms'], {home, env}) as Agent
  let seen = ''
  run.child.stdout!.on('data', (d) => (seen += d))
  run.started = () => seen.includes('"event":"started"')
  run.seen = () => seen
  return run
}

/** SIGTERM once the agent listens for it (a process still starting would just die of it). */
export async function stopAgent(agent: Agent): Promise<CliResult> {
  await waitUntil(agent.started, 60_000, 50)
  agent.child.kill('SIGTERM')
  return agent
}
