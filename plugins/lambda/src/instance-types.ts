// Lambda's instance types as skyhop offers: GET /instance-types gives each type's price,
// specs and the regions with capacity now. The accelerator each type carries, by skyhop's
// canonical names (the names of the bundled catalog's Lambda rows, SkyPilot's
// lambda/vms.csv): Lambda's own `gpu_description` is prose ("8x H100 (80 GB SXM5)").
import type {Offer} from 'skyhop/provider'

/** The model part of `gpu_<n>x_<model>` → the canonical accelerator. */
export const LAMBDA_ACCELERATORS: Readonly<Record<string, string>> = {
  a10: 'A10',
  a100: 'A100-40GB',
  a100_sxm4: 'A100-40GB',
  a100_80gb_sxm4: 'A100-80GB',
  a6000: 'A6000',
  b200_sxm6: 'B200',
  gh200: 'GH200',
  h100_pcie: 'H100-PCIE',
  h100_sxm5: 'H100-80GB',
  rtx6000: 'RTX6000',
  v100: 'V100-16GB',
  v100_n: 'V100-16GB',
}

export interface LambdaInstanceType {
  instance_type: {
    name: string
    price_cents_per_hour: number
    specs?: {vcpus?: number; memory_gib?: number; gpus?: number}
  }
  regions_with_capacity_available?: Array<{name: string}>
}

/**
 * Offers of the types with capacity, one per region that has it. A GPU type whose model the
 * table does not know is left out (with its name in `unknown`): planning it under a guessed
 * accelerator would be worse than not planning it.
 */
export function offersFrom(types: Record<string, LambdaInstanceType>, asOf: string): {offers: Offer[]; unknown: string[]} {
  const offers: Offer[] = []
  const unknown: string[] = []
  for (const [name, t] of Object.entries(types)) {
    const accelerator = acceleratorOf(name, t.instance_type.specs?.gpus ?? 0)
    if (accelerator === undefined) {
      unknown.push(name)
      continue
    }
    for (const region of t.regions_with_capacity_available ?? []) {
      offers.push({
        provider: 'lambda',
        region: region.name,
        zone: null,
        instanceType: name,
        accelerator,
        vcpus: t.instance_type.specs?.vcpus ?? 0,
        memoryGiB: t.instance_type.specs?.memory_gib ?? 0,
        price: {onDemand: t.instance_type.price_cents_per_hour / 100, spot: null, currency: 'USD'},
        priceStatus: 'list',
        expectedQueueMinutes: null,
        preemptionRatePerHour: null,
        capacity: null,
        noticeSeconds: null,
        source: 'Lambda Cloud API GET /instance-types (live)',
        asOf,
        confidence: 'high',
      })
    }
  }
  return {offers, unknown}
}

/** null for a CPU type, undefined for a GPU model the table does not know. */
export function acceleratorOf(type: string, gpus: number): {name: string; count: number} | null | undefined {
  const m = /^gpu_(\d+)x_(.+)$/.exec(type)
  if (!m) return gpus > 0 ? undefined : null
  const name = LAMBDA_ACCELERATORS[m[2]]
  return name ? {name, count: Number(m[1])} : undefined
}
