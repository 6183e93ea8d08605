// The container tests need a real podman and the offline test image that
// scripts/podman-up.sh builds. Without them a suite skips with a message; under CI (CI set)
// it fails instead: CI must never pass by testing nothing.
import {execFile} from 'node:child_process'

export const TEST_IMAGE = 'localhost/skyhop-test:busybox'

function run(command: string, args: string[]): Promise<{ok: boolean; out: string}> {
  return new Promise((resolve) =>
    execFile(command, args, {timeout: 60_000}, (error, stdout, stderr) => resolve({ok: !error, out: `${stdout}${stderr}`.trim()})),
  )
}

/** In a `before` hook: skip the suite without podman and the test image, or fail it when CI is set. */
export async function requirePodman(context: Mocha.Context): Promise<void> {
  const version = await run('podman', ['version', '--format', '{{.Client.Version}}'])
  let why = version.ok ? '' : 'podman is not installed or does not answer'
  if (!why) {
    const probe = await run('podman', ['run', '--rm', TEST_IMAGE, 'true'])
    if (!probe.ok) why = `podman cannot run ${TEST_IMAGE}: ${probe.out}`
  }
  if (!why) return
  const message = `${why}; set it up with: sudo bash scripts/podman-up.sh`
  if (process.env.CI) throw new Error(`${message}. CI must run the container tests, so this fails instead of skipping.`)
  // eslint-disable-next-line no-console
  console.log(`      skipping: ${message}`)
  context.skip()
}

/** Names of the containers, running or not, whose name starts with `prefix`. */
export async function containersNamed(prefix: string): Promise<string[]> {
  const {out} = await run('podman', ['ps', '--all', '--format', '{{.Names}}'])
  return out.split('\n').filter((n) => n.startsWith(prefix))
}
