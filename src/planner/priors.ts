// The planner's documented defaults: what it assumes when neither the provider, nor our
// own observations, nor the catalog can say. Each figure says where it comes from, and
// every estimate built on one carries its `source` string so a reader can find it here.
import type {Confidence} from '../model/catalog.js'

export type ProviderKind = 'local' | 'slurm' | 'kubernetes' | 'cloud'

export function providerKind(provider: string): ProviderKind {
  if (provider === 'local') return 'local'
  if (provider === 'slurm' || provider.startsWith('slurm-') || provider.startsWith('slurm:')) return 'slurm'
  if (provider === 'kubernetes' || provider === 'k8s' || provider.startsWith('k8s-')) return 'kubernetes'
  return 'cloud'
}

/**
 * Minutes from launch to running when nothing better is known.
 * - local: the processes start at once.
 * - slurm: a shared cluster's queue is the whole point of asking Slurm (`sbatch --test-only`);
 *   without its answer we assume an hour, low confidence, so a known estimate always wins.
 * - kubernetes: scheduling plus image pull on a warm cluster.
 * - cloud: VM provisioning and boot of a GPU image (SkyPilot and dstack users report
 *   2–6 minutes); spot requests take a little longer to be fulfilled.
 */
export const QUEUE_PRIOR_MINUTES: Record<ProviderKind, {onDemand: number; spot: number}> = {
  local: {onDemand: 0, spot: 0},
  slurm: {onDemand: 60, spot: 60},
  kubernetes: {onDemand: 5, spot: 8},
  cloud: {onDemand: 5, spot: 8},
}

/**
 * Spot preemptions per hour when the offer has no rate and we have no observations.
 * Measured on the Can't Be Late spot traces (skypilot-org/spot-traces, AWS V100/K80,
 * 2022–2023): 3412 drops over 9050 available hours in the 1-node availability traces
 * (0.38/h) and 426 over 981 h in the preemption traces (0.43/h); per-zone rates range
 * 0.1–1.4/h. We take 0.4/h for every cloud's GPU spot market, low confidence, until the
 * state store has observations of our own. Slurm and local offers are never spot.
 */
export const PREEMPTION_PRIOR_PER_HOUR = 0.4
export const PREEMPTION_PRIOR_SOURCE = "prior: spot-traces (Can't Be Late, AWS 2022–23) ≈0.4/h"

/** Time to get going again after a preemption, beyond the relaunch wait: load the checkpoint, warm up. */
export const RESTORE_OVERHEAD_HOURS = 0.1

/**
 * Scaling efficiency of data-parallel work: each doubling of devices within a node keeps
 * 95% of linear speed-up (NVLink/HCCS-class interconnect), each doubling of nodes a further
 * 90% (network all-reduce). Efficiency of n devices on m nodes =
 * 0.95^log2(n/m) × 0.9^log2(m). The same formula applies to the reference, so equal
 * configurations cancel out exactly.
 */
export const INTRA_NODE_EFFICIENCY_PER_DOUBLING = 0.95
export const INTER_NODE_EFFICIENCY_PER_DOUBLING = 0.9
/** Devices per node assumed for a reference configuration larger than one node. */
export const REFERENCE_DEVICES_PER_NODE = 8

/**
 * Inter-node efficiency per doubling of nodes for a gang whose nodes talk over plain TCP
 * networking (a cloud offer with `ethernet`, or with no documented fabric, under the job's
 * default `resources.interconnect: preferred`), in place of INTER_NODE_EFFICIENCY_PER_DOUBLING.
 * Why 0.7: the 0.9 above is a data-parallel step whose exposed all-reduce costs ~10% on an
 * RDMA fabric (EFA, InfiniBand, RoCE; 400–3,200 Gbit/s per node). Without RDMA, NCCL falls
 * back to sockets: NVIDIA measures ~4 GB/s over TCP against ~340 GB/s with GPUDirect-TCPXO on
 * the same a3-megagpu-8g nodes (docs.nvidia.com/aicr, "GKE TCPXO Networking Prerequisites"),
 * and the documented links of such shapes are 25–100 Gbit/s (src/catalog/interconnect.ts).
 * The exposed communication grows several-fold; at 3× the 10% share becomes ~30% of a step,
 * hence 0.7. It is deliberately mild (a gang that is mostly compute loses less, a large model
 * over 25 Gbit/s far more): enough that between two otherwise equal offers the one with a
 * fabric wins, and a plan's assumptions say it was applied.
 */
export const SLOW_FABRIC_EFFICIENCY_PER_DOUBLING = 0.7

export function scalingEfficiency(
  devicesPerNode: number,
  nodes: number,
  interNodePerDoubling = INTER_NODE_EFFICIENCY_PER_DOUBLING,
): number {
  const perNode = Math.max(1, devicesPerNode)
  const n = Math.max(1, nodes)
  return INTRA_NODE_EFFICIENCY_PER_DOUBLING ** Math.log2(perNode) * interNodePerDoubling ** Math.log2(n)
}

/** SkyPilot's convention when a job says nothing of its length: one hour. */
export const DEFAULT_WORK_HOURS = 1

/**
 * Egress price per GB charged by the provider where the data lives: moving to another
 * region of the same provider, or out to the internet (another provider, a Slurm cluster,
 * this machine). First paid tier of each price list as published in 2024–2025:
 * AWS $0.09 internet / $0.02 inter-region; GCP $0.12 / $0.02; Azure $0.087 / $0.02;
 * Alibaba, Tencent, Huawei ~CNY 0.8/GB internet (pay-by-traffic, mainland), inter-region
 * CNY 0.5 (low confidence: varies by region pair). On-premises sources cost nothing.
 */
export const EGRESS_PER_GB: Record<string, {internet: number; interRegion: number; currency: 'USD' | 'CNY'; confidence: Confidence}> = {
  aws: {internet: 0.09, interRegion: 0.02, currency: 'USD', confidence: 'medium'},
  gcp: {internet: 0.12, interRegion: 0.02, currency: 'USD', confidence: 'medium'},
  azure: {internet: 0.087, interRegion: 0.02, currency: 'USD', confidence: 'medium'},
  aliyun: {internet: 0.8, interRegion: 0.5, currency: 'CNY', confidence: 'low'},
  alibaba: {internet: 0.8, interRegion: 0.5, currency: 'CNY', confidence: 'low'},
  tencentcloud: {internet: 0.8, interRegion: 0.5, currency: 'CNY', confidence: 'low'},
  tencent: {internet: 0.8, interRegion: 0.5, currency: 'CNY', confidence: 'low'},
  huaweicloud: {internet: 0.8, interRegion: 0.5, currency: 'CNY', confidence: 'low'},
  huawei: {internet: 0.8, interRegion: 0.5, currency: 'CNY', confidence: 'low'},
  local: {internet: 0, interRegion: 0, currency: 'USD', confidence: 'high'},
  slurm: {internet: 0, interRegion: 0, currency: 'USD', confidence: 'high'},
}
/** Any other cloud: AWS's internet rate, low confidence. */
export const EGRESS_DEFAULT = {internet: 0.09, interRegion: 0.02, currency: 'USD' as const, confidence: 'low' as Confidence}

/** Sustained copy rate: within one provider between regions, and across the internet. */
export const TRANSFER_GBPS = {interRegion: 2, internet: 0.5}

/**
 * `balanced` trades an hour of finish time for this many USD per accelerator device the
 * job asks for (per vCPU-node for CPU jobs: one device). About the on-demand price of an
 * A100-class GPU hour in 2025: an hour saved is worth what renting one such device for an
 * hour costs. Used only when the job has no budget and deadline to derive it from.
 */
export const DEFAULT_VALUE_OF_TIME_USD_PER_DEVICE_HOUR = 2

/** Quantile of the preemption count used for the pessimistic finish of a spot candidate. */
export const PESSIMISTIC_QUANTILE = 0.95

/** Observations older than this are ignored; younger ones are weighted by exp(-age / half-life · ln 2). */
export const OBSERVATION_WINDOW_HOURS = 14 * 24
export const OBSERVATION_HALF_LIFE_HOURS = 48
/** A failed launch (capacity) costs about this much before the next try elsewhere. */
export const CAPACITY_FAILURE_PENALTY_MINUTES = 10

export const DEFAULT_TOP = 25
export const DEFAULT_SAFETY_MARGIN = 0.1
