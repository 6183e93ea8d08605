// Real replicas for the serve tests: the example model server (examples/model-server) as a
// child process on a free port, waited for until its readiness path answers.
import {type ChildProcess, spawn} from 'node:child_process'
import {createServer} from 'node:net'
import {fileURLToPath} from 'node:url'

export const MODEL_SERVER = fileURLToPath(new URL('../../examples/model-server/server.mjs', import.meta.url))

export interface RunningServer {
  child: ChildProcess
  port: number
  origin: string
  stop(): void
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as {port: number}).port
      s.close(() => resolve(port))
    })
  })
}

export async function startModelServer(env: Record<string, string> = {}): Promise<RunningServer> {
  const port = await freePort()
  const child = spawn(process.execPath, [MODEL_SERVER], {
    env: {...process.env, PORT: String(port), SKYHOP_REPLICA: env.SKYHOP_REPLICA ?? `r${port}`, ...env},
    stdio: 'ignore',
  })
  const origin = `http://127.0.0.1:${port}`
  const until = Date.now() + 10_000
  for (;;) {
    const ok = await fetch(`${origin}/health`).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) break
    if (child.exitCode !== null || Date.now() > until) throw new Error(`model server on ${port} did not become ready`)
    await new Promise((r) => setTimeout(r, 25))
  }
  return {
    child,
    port,
    origin,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGKILL')
    },
  }
}
