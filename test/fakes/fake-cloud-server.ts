// What the FAKE VM clouds share (fake-ec2-server.ts, fake-aliyun-ecs-server.ts,
// fake-tencent-cvm-server.ts, fake-huawei-ecs-server.ts): an HTTP server on a free local
// port, the timers that move their instances through states (cleared on stop() with the
// instances' processes), injected errors used up one request at a time, and the running of
// an instance's user data as cloud-init would. Each fake keeps its own API, wire format
// and errors.
import {spawn, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, writeFileSync} from 'node:fs'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'

/**
 * Runs base64 user data (gzip allowed) in `dir` as cloud-init would, with the boot script's
 * SKYHOP_BOOT_* hooks: `dir/root` as the root prefix, `dir/console` as the serial console,
 * and by default no power-off (the caller treats the script's exit as the shutdown). Like
 * cloud-init, it records the instance id in /var/lib/cloud/data/instance-id (under the root
 * prefix when the environment sets one).
 */
export function runUserData(
  dir: string,
  userDataBase64: string,
  instanceId: string,
  env: Record<string, string> = {...bootEnv(dir), HOME: dir},
): ChildProcess {
  mkdirSync(dir, {recursive: true})
  const cloudData = join(env.SKYHOP_BOOT_ROOT ?? join(dir, 'root'), 'var/lib/cloud/data')
  mkdirSync(cloudData, {recursive: true})
  writeFileSync(join(cloudData, 'instance-id'), `${instanceId}\n`)
  let data = Buffer.from(userDataBase64, 'base64')
  if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data)
  writeFileSync(join(dir, 'user-data'), data, {mode: 0o700})
  writeFileSync(
    join(dir, 'console'),
    `[    0.000000] Linux version 6.1.0-fake (fake cloud) #1 SMP\ncloud-init: running user data of ${instanceId}\n`,
  )
  const log = openSync(join(dir, 'cloud-init-output.log'), 'a')
  const child = spawn('bash', [join(dir, 'user-data')], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', log, log],
    env,
  })
  closeSync(log)
  return child
}

/** The environment that makes the boot script (and stop scripts) run under `dir`. */
export function bootEnv(dir: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    SKYHOP_BOOT_ROOT: join(dir, 'root'),
    SKYHOP_BOOT_CONSOLE: join(dir, 'console'),
    SKYHOP_BOOT_NO_SHUTDOWN: '1',
  }
}

/**
 * Kills everything an instance started, as terminating a VM would. runUserData starts the
 * boot script in a session of its own; the runner then puts the job in a process group of
 * its own, so killing the boot script's group alone would leave the job running after the
 * test. Every process of the session goes.
 */
export function killGroup(child: ChildProcess | null): void {
  if (!child?.pid) return
  for (const pid of sessionMembers(child.pid)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
}

/**
 * Which of `instances` sent `req`: the one whose processes hold the client end of the
 * request's connection. Every fake instance runs on this host behind one metadata port, so
 * this is how a fake metadata service answers the instance that asks, as the link-local
 * address of a real one does (Linux /proc: the socket's inode from /proc/net/tcp, then the
 * instance's processes' descriptors).
 */
export function askingInstance<I extends {process: ChildProcess | null}>(req: IncomingMessage, instances: I[]): I | null {
  const port = req.socket.remotePort
  if (port === undefined) return null
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
  let inode: string | null = null
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f[1] === local || f[1]?.endsWith(`0100007F:${local.slice(9)}`)) {
        inode = f[9]
        break
      }
    }
    if (inode) break
  }
  if (!inode) return null
  const target = `socket:[${inode}]`
  for (const instance of instances) {
    if (!instance.process?.pid) continue
    for (const pid of sessionMembers(instance.process.pid)) {
      let fds: string[] = []
      try {
        fds = readdirSync(`/proc/${pid}/fd`)
      } catch {
        continue
      }
      for (const fd of fds) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return instance
        } catch {
          // Closed meanwhile.
        }
      }
    }
  }
  return null
}

/** Pids whose session id is `sid` (Linux /proc; field 6 of /proc/PID/stat). */
function sessionMembers(sid: number): number[] {
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue
    }
    // After "pid (comm) ": state ppid pgrp session …
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (Number(fields[3]) === sid) out.push(Number(entry))
  }
  return out
}

/** A random id in UUID form, as the clouds' request ids look. */
export function uuid(): string {
  const h = randomBytes(16).toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** A released instance's slot goes back to its zone's stock (region → zone → type → free). */
export function restock(stock: Record<string, Record<string, Record<string, number>>>, region: string, zone: string, type: string): void {
  const free = stock[region]?.[zone]
  if (free && type in free) free[type] += 1
}

/** Errors a test injects, each answering the next `times` requests it applies to (default 1). */
export class Injections<I extends {times?: number}> {
  private readonly queue: Array<I & {times: number}> = []

  add(injection: I): void {
    this.queue.push({...injection, times: injection.times ?? 1})
  }

  /** Drops every injection not yet used up: the fault is over. */
  clear(): void {
    this.queue.length = 0
  }

  /** The first injection that applies, used up by one. */
  take(applies: (injection: I) => boolean): I | null {
    const idx = this.queue.findIndex(applies)
    if (idx < 0) return null
    const injection = this.queue[idx]
    if (--injection.times <= 0) this.queue.splice(idx, 1)
    return injection
  }
}

export abstract class FakeCloudServer {
  /** Where the fake listens, once started. */
  url = ''
  private server: Server | null = null
  private readonly timers = new Set<NodeJS.Timeout>()

  abstract readonly options: {now?: () => number; bootDir?: string}

  /** Whether `url` ends in `/`; a fake whose templates read `${url}/…` sets it false. */
  protected readonly trailingSlash: boolean = true

  /** Answers one request; what it throws is the fake's own bug, answered by crashed(). */
  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>

  /** The answer when handle() threw: the cloud's internal error, so the adapter's retries are exercised too. */
  protected abstract crashed(res: ServerResponse, error: Error): void

  /** Kills the processes running the instances' user data. */
  protected abstract killInstances(): void

  protected now(): number {
    return (this.options.now ?? Date.now)()
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => this.crashed(res, error as Error))
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.trailingSlash ? '/' : ''}`
    return this.url
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.killInstances()
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }

  /** What an instance's serial console holds now: the console file its user data writes, if it runs here. */
  consoleOf(id: string): string {
    const file = this.options.bootDir ? join(this.options.bootDir, id, 'console') : null
    return file && existsSync(file) ? readFileSync(file, 'utf8') : ''
  }

  protected later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    this.timers.add(t)
  }
}
