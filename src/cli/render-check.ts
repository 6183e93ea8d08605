// The human rendering of `check`: one row per provider, then the checkpoint store's probe.
import type {CheckResult} from '../services/check.js'
import {renderTable} from './table.js'

export function renderCheck(r: CheckResult): string {
  const table = renderTable(r.providers, [
    {header: 'PROVIDER', get: (c) => c.provider},
    {header: 'ENABLED', get: (c) => (c.enabled ? 'yes' : 'no')},
    {header: 'OK', get: (c) => (c.enabled ? (c.ok ? 'ok' : 'FAILED') : '-')},
    {header: 'SOURCE', get: (c) => c.source},
    {header: 'DETAIL', get: (c) => c.message},
  ])
  const store = r.checkpointStore
  if (!store) return table
  return `${table}\n\ncheckpoint store ${store.url}: ${store.ok ? 'ok' : 'FAILED'} (${store.source ?? 'no credentials'}): ${store.message}`
}
