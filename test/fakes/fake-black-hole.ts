// Endpoints that fail the way a dead or sick API endpoint does, for the deadline tests
// (nothing here fakes a cloud's API: they never get as far as one): a TCP server that
// accepts connections and never answers a byte (a hung process, a load balancer with no
// healthy target), and an HTTP server that sends its status line, headers and part of the
// body, then stalls with the connection open.
import {createServer as createHttpServer, type Server as HttpServer, type ServerResponse} from 'node:http'
import {createServer, type Server, type Socket} from 'node:net'

abstract class HeldEndpoint<S extends Server | HttpServer> {
  protected readonly sockets = new Set<Socket>()
  /** Connections accepted so far: a call that never connected would not count. */
  connections = 0
  protected abstract readonly server: S

  protected track(socket: Socket): void {
    this.connections++
    this.sockets.add(socket)
    socket.on('close', () => this.sockets.delete(socket))
    socket.on('error', () => {})
  }

  /** `http://127.0.0.1:PORT`: listening on a free port. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    const address = this.server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    return `http://127.0.0.1:${address.port}`
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/** Accepts every connection and reads what is sent; never writes anything back. */
export class FakeBlackHole extends HeldEndpoint<Server> {
  protected readonly server = createServer((socket) => {
    this.track(socket)
    socket.on('data', () => {})
  })
}

/** Answers 200 with a Content-Length it never finishes: `prefix` is sent, the rest never comes. */
export class FakeStallingServer extends HeldEndpoint<HttpServer> {
  private readonly held: ServerResponse[] = []
  protected readonly server = createHttpServer((req, res) => {
    req.resume()
    res.writeHead(200, {'content-type': 'application/json', 'content-length': String(this.prefix.length + 1000)})
    res.write(this.prefix)
    this.held.push(res)
  })

  constructor(private readonly prefix = '{"partial": "') {
    super()
    this.server.on('connection', (socket) => this.track(socket))
  }
}
