// The load balancer's worker thread (balancer-thread.ts): a LoadBalancer whose event loop
// does nothing but requests, driven by the service controller's messages, posting what the
// controller reads back every SNAPSHOT_MS (rates and outstanding requests) and percentiles
// every second (they sort the window's samples: once a second, not per read).
import {parentPort, workerData} from 'node:worker_threads'

import {type BalancerOptions, LoadBalancer} from './balancer.js'
import {type BalancerCommand, type BalancerMessage, SNAPSHOT_MS} from './balancer-thread.js'

const port = parentPort!
const {options} = workerData as {options: BalancerOptions}
const lb = new LoadBalancer(options)
const post = (m: BalancerMessage) => port.postMessage(m)
let ticks = 0
let timer: NodeJS.Timeout | undefined

function snapshot(full: boolean): void {
  const now = Date.now()
  const replicas = full
    ? lb.metrics(now)
    : lb.replicaStates().map((r) => ({...r, ratePerSecond: 0, p50Ms: null, p95Ms: null, p99Ms: null, samples: 0}))
  post({kind: 'snapshot', rate: lb.rate(now), totals: {...lb.totals}, replicas, full})
}

port.on('message', (c: BalancerCommand) => {
  switch (c.op) {
    case 'add':
      lb.add(c.target)
      break
    case 'drain':
      void lb.drain(c.id, c.timeoutMs ?? Infinity).then((ok) => post({kind: 'drained', seq: c.seq, ok}))
      break
    case 'drainAt':
      lb.scheduleDrain(c.id, c.atMs)
      break
    case 'remove':
      lb.remove(c.id)
      break
    case 'close':
      if (timer) clearInterval(timer)
      void lb.close().then(() => post({kind: 'closed', seq: c.seq}))
      return
  }
  // What the controller just changed is in the next snapshot at once (a drain must be seen).
  snapshot(false)
})

lb.start().then(
  (endpoint) => {
    post({kind: 'started', endpoint})
    timer = setInterval(() => snapshot(++ticks % Math.round(1000 / SNAPSHOT_MS) === 0), SNAPSHOT_MS)
    snapshot(true)
  },
  (error: unknown) => {
    const e = error as {code?: string; message?: string}
    post({kind: 'error', code: e?.code ?? null, message: e?.message ?? String(error)})
  },
)
