// Which regions a VM adapter works in, and how it batches by region: the regions it is
// configured for, those plus the ones a caller names for listOwned(), and attempts grouped
// by region, because each region has its own endpoint and client.
import type {OwnedQuery} from '../provider.js'
import type {LaunchHandle} from '../../model/attempt.js'

/** The given regions, else a comma-separated list from the environment, else the one fallback. */
export function configuredRegions(given: string[] | undefined, listed: string | undefined, fallback: string): string[] {
  if (given?.length) return given
  const fromList = (listed ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean)
  return fromList.length ? fromList : [fallback]
}

/** The adapter's own regions, then the ones the query adds (where attempts were launched), each once. */
export function regionsToScan(own: string[], query: OwnedQuery): Set<string> {
  return new Set([...own, ...(query.regions ?? [])])
}

export function groupByRegion(handles: LaunchHandle[]): Map<string, LaunchHandle[]> {
  const byRegion = new Map<string, LaunchHandle[]>()
  for (const h of handles) byRegion.set(h.region, [...(byRegion.get(h.region) ?? []), h])
  return byRegion
}
