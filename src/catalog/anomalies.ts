// Known defects of the providers' price data and how skyhop reads around them. Used by
// the snapshot build and by the live refreshers, so a refreshed row is corrected the
// same way a bundled one was. Each rule cites where the defect was observed
// (data/sources/western.csv notes, data/sources/skypilot-catalog/CATALOG_NOTES.md).

/** Relative tolerance for "spot equals on-demand": catalogs round to 3–6 decimals. */
const SAME_PRICE = 1e-4

/**
 * A spot price is only a spot market if it is positive and below on-demand. SkyPilot's
 * catalogs fill the spot column with the on-demand price where no spot market exists
 * (AWS p4d eu-central-1, p5 use1-az1/az4; Azure H100 v5; RunPod), so equal means none.
 */
export function effectiveSpot(onDemand: number | null, spot: number | null): number | null {
  if (spot === null || !Number.isFinite(spot) || spot <= 0) return null
  if (onDemand !== null && spot >= onDemand * (1 - SAME_PRICE)) return null
  return spot
}

/**
 * One spot price for a region from the min and max over its zones: the highest zone
 * price that is still a real spot market, so a plan never counts on the cheapest zone
 * having capacity. Zones where spot equals on-demand (no market) are skipped.
 */
export function regionalSpot(onDemand: number | null, min: number | null, max: number | null): number | null {
  return effectiveSpot(onDemand, max) ?? effectiveSpot(onDemand, min)
}

/**
 * Accelerator counts the providers' catalogs get wrong. Azure's ND96isr_H100_v5 has
 * eight H100s (learn.microsoft.com ND H100 v5 series); SkyPilot's v6 azure/vms.csv says 12.
 */
export const ACCELERATOR_COUNT_FIXES: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  azure: {Standard_ND96isr_H100_v5: 8},
}

export function fixAcceleratorCount(provider: string, instanceType: string, count: number): {count: number; fixed: boolean} {
  const fix = ACCELERATOR_COUNT_FIXES[provider]?.[instanceType]
  if (fix === undefined || fix === count) return {count, fixed: false}
  return {count: fix, fixed: true}
}

/**
 * GCP prices a GPU VM as two catalog rows, the VM and the attached accelerators; the
 * price of the offer is their sum. Spot likewise, and only when both parts have one.
 */
export function gcpTotal(
  vm: {onDemand: number | null; spot: number | null},
  gpu: {onDemand: number | null; spot: number | null},
): {
  onDemand: number | null
  spot: number | null
} {
  const add = (a: number | null, b: number | null) => (a === null || b === null ? null : round6(a + b))
  const onDemand = add(vm.onDemand, gpu.onDemand)
  return {onDemand, spot: effectiveSpot(onDemand, add(vm.spot, gpu.spot))}
}

/**
 * Values catalogs use for "not available" instead of leaving the cell empty: GCP's
 * catalog carries 700.0 for TPU v6e where the slice is not sold (western.csv notes).
 */
export function isPlaceholderPrice(provider: string, instanceType: string, price: number | null): boolean {
  return provider === 'gcp' && instanceType.startsWith('tpu-') && price === 700
}

export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6
}
