// Terminal output of `skyhop serve …`: a service's endpoint, its replicas and what they cost.
import type {ServiceEvent} from '../controller/service-controller.js'
import type {ServeLogLine, ServiceSummary} from '../services/serve.js'
import {renderTable} from './table.js'

const ms = (x: number | null) => (x === null ? null : x < 10 ? x.toFixed(1) : Math.round(x).toString())
const money = (m: {amount: number; currency: string} | null) => (m === null ? 'unknown' : `${m.amount.toFixed(4)} ${m.currency}/h`)

export function renderService(s: ServiceSummary): string {
  const head = [
    `service ${s.name} (${s.id}): ${s.state.toLowerCase()}, version ${s.version}${s.owner ? `, started by ${s.owner}` : ''}`,
    `endpoint: ${s.endpoint ?? 'not listening yet'}`,
    `replicas: ${s.readyReplicas} ready of ${s.targetReplicas} wanted` +
      (s.ratePerSecond === null ? '' : `; ${s.ratePerSecond} requests/s`) +
      (s.failedRequests === null ? '' : `; ${s.failedRequests} failed of ${s.requests}`),
    `cost: ${money(s.costPerHour)} (all on-demand: ${money(s.onDemandCostPerHour)})`,
  ]
  if (s.sloP95Ms !== null) {
    const above = s.replicas.filter((r) => r.p95Ms !== null && r.p95Ms > s.sloP95Ms!).map((r) => r.n)
    head.push(`slo: p95 ≤ ${s.sloP95Ms} ms; ${above.length === 0 ? 'every replica within it' : `above it: replica ${above.join(', ')}`}`)
  }
  if (s.reason) head.push(`reason: ${s.reason}`)
  if (s.replicas.length === 0) return head.join('\n')
  const table = renderTable(s.replicas, [
    {header: 'N', get: (r) => r.n, align: 'right'},
    {header: 'STATE', get: (r) => r.state},
    {header: 'VER', get: (r) => r.version, align: 'right'},
    {header: 'PROVIDER', get: (r) => [r.provider, r.region, r.zone].filter(Boolean).join('/')},
    {header: 'ACCELERATOR', get: (r) => r.accelerator},
    {header: 'SPOT', get: (r) => (r.spot ? 'spot' : 'on-demand')},
    {header: 'QPS', get: (r) => r.ratePerSecond, align: 'right'},
    {header: 'P50 MS', get: (r) => ms(r.p50Ms), align: 'right'},
    {header: 'P95 MS', get: (r) => ms(r.p95Ms), align: 'right'},
    {header: 'P99 MS', get: (r) => ms(r.p99Ms), align: 'right'},
    {header: 'ADDRESS', get: (r) => r.address},
  ])
  return head.join('\n') + '\n\n' + table
}

export function renderServices(list: readonly ServiceSummary[]): string {
  if (list.length === 0) return 'no running service; `skyhop serve up FILE` starts one'
  return list.map(renderService).join('\n\n')
}

export function serviceLogLine(e: ServiceEvent): string {
  return `${new Date().toISOString()} ${e.kind}${e.replica === undefined ? '' : ` [replica ${e.replica}]`}: ${e.message}\n`
}

export function serveLogPrinter(): (entry: ServeLogLine) => void {
  return (entry) => process.stdout.write(entry.line.endsWith('\n') ? entry.line : entry.line + '\n')
}
