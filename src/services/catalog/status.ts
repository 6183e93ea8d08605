// The `catalog status` service: where each provider's offers come from, how old they are.
import {type CatalogStatus, catalogStatus as readCatalogStatus} from '../../catalog/status.js'

export type {CatalogStatus, ProviderStatus} from '../../catalog/status.js'

export function catalogStatus(options: {home: string; catalogFile?: string}): CatalogStatus {
  return readCatalogStatus(options)
}
