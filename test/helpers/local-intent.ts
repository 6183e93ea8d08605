// The intent of a one-node local attempt, for tests that write attempts straight into a store.
import type {NewAttempt} from '../../src/model/records.js'

export function localIntent(jobId: string, overrides: Partial<NewAttempt> = {}): NewAttempt {
  return {
    jobId,
    provider: 'local',
    region: 'local',
    zone: null,
    instanceType: 'local',
    accelerator: null,
    acceleratorCount: null,
    spot: false,
    pricePerHour: 0,
    currency: 'USD',
    onDemandPricePerHour: 0,
    ...overrides,
  }
}
