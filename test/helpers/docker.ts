// The docker tests need a docker daemon and the offline test image: scripts/docker-up.sh starts
// a private one (its own socket, no network changes) and loads the image from podman. Without
// them a suite skips with a message; under CI (CI set) it fails instead.
import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'

import {TEST_IMAGE} from './podman.js'

/** The private daemon's socket (scripts/docker-up.sh). */
export const DOCKER_UP_SOCKET = '/run/skyhop-docker/docker.sock'

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ok: boolean; out: string}> {
  return new Promise((resolve) =>
    execFile('docker', args, {timeout: 60_000, env}, (error, stdout, stderr) => resolve({ok: !error, out: `${stdout}${stderr}`.trim()})),
  )
}

/**
 * In a `before` hook: points DOCKER_HOST at docker-up.sh's daemon when none is set and its
 * socket exists (the runner and the provider inherit it), then skips the suite without a
 * daemon that runs the test image, or fails it when CI is set. Returns the variable to restore.
 */
export async function requireDocker(context: Mocha.Context): Promise<string | undefined> {
  const before = process.env.DOCKER_HOST
  if (before === undefined && existsSync(DOCKER_UP_SOCKET)) process.env.DOCKER_HOST = `unix://${DOCKER_UP_SOCKET}`
  const version = await run(['version', '--format', '{{.Server.Version}}'], process.env)
  let why = version.ok ? '' : `no docker daemon answers (${version.out.split('\n').pop()})`
  if (!why) {
    const probe = await run(['run', '--rm', TEST_IMAGE, 'true'], process.env)
    if (!probe.ok) why = `docker cannot run ${TEST_IMAGE}: ${probe.out}`
  }
  if (!why) return before
  const message = `${why}; set it up with: sudo bash scripts/podman-up.sh && sudo bash scripts/docker-up.sh`
  if (process.env.CI) throw new Error(`${message}. CI must run the container tests, so this fails instead of skipping.`)
  // eslint-disable-next-line no-console
  console.log(`      skipping: ${message}`)
  context.skip()
}

/** Names of docker's containers, running or not, whose name starts with `prefix`. */
export async function dockerContainersNamed(prefix: string): Promise<string[]> {
  const {out} = await run(['ps', '--all', '--format', '{{.Names}}'], process.env)
  return out.split('\n').filter((n) => n.startsWith(prefix))
}
