// The record of refresh attempts, `${home}/catalog/refresh-state.json`, and the atomic
// file write refreshes use. No HTTP here, so `catalog status` stays light.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {ErrorJson} from '../../errors.js'
import {catalogDir} from '../catalog.js'

export interface RefreshStateEntry {
  lastAttempt: string
  lastSuccess: string | null
  lastError: ErrorJson | null
  lastRows: number | null
}

export interface RefreshState {
  format: 'skyhop-refresh-state/1'
  providers: Record<string, RefreshStateEntry>
}

export function refreshStateFile(home: string): string {
  return join(catalogDir(home), 'refresh-state.json')
}

export function readRefreshState(home: string): RefreshState {
  const file = refreshStateFile(home)
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as RefreshState
    if (parsed.format === 'skyhop-refresh-state/1' && parsed.providers && typeof parsed.providers === 'object') return parsed
  } catch {
    // Missing or damaged: no attempts on record.
  }
  return {format: 'skyhop-refresh-state/1', providers: {}}
}
