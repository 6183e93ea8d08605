// What the catalog knows: accelerators (the registry) and offers (what can be rented
// where, at what price). Types only; shared by catalog, planner and providers.
import type {Currency, Runtime} from './job-spec.js'

export type Confidence = 'high' | 'medium' | 'low'

/** A figure with where it came from; `value` null means nobody published it. */
export interface Sourced<T> {
  value: T | null
  confidence: Confidence | null
  source: string | null
  /** The figure as published, when it was not a plain number (`~280-400 (UNCERTAIN)`). */
  raw?: string
}

export interface Accelerator {
  /** Canonical name, e.g. `H100-80GB`, `Ascend910B`. */
  name: string
  /** The name as the source lists it, e.g. `NVIDIA H100 SXM`. */
  displayName?: string
  /** Other spellings that resolve to this entry (matched case- and punctuation-insensitively). */
  aliases: string[]
  /** Lower-case vendor id: nvidia, amd, intel, google, aws, huawei, cambricon, hygon, kunlunxin, iluvatar, moorethreads, metax, biren. */
  vendor: string
  memoryGB: Sourced<number>
  memoryBandwidthTBs: Sourced<number>
  /** Dense BF16/FP16 TFLOPS per device: the default basis for comparing work done. */
  denseTflops16: Sourced<number>
  fp32Tflops: Sourced<number>
  runtime: Runtime
  k8sResource: string | null
  notes: string | null
}

export type PriceStatus = 'list' | 'estimate' | 'unknown'

/**
 * The fabric between the nodes of one gang: `efa` (AWS Elastic Fabric Adapter),
 * `infiniband`, `roce` (RDMA over Converged Ethernet, GPUDirect RDMA), `gpudirect-tcpx`
 * (GCP A3's GPUDirect-TCPX/TCPXO), `hccs` (Huawei Ascend's HCCS between the nodes of a
 * super-node), or plain `ethernet` (TCP, no RDMA between the accelerators).
 */
export type InterconnectKind = 'efa' | 'infiniband' | 'roce' | 'gpudirect-tcpx' | 'hccs' | 'ethernet'
export const INTERCONNECT_KINDS: readonly InterconnectKind[] = ['efa', 'infiniband', 'roce', 'gpudirect-tcpx', 'hccs', 'ethernet']

/** What an offer's nodes talk to each other over, with the page that says so. */
export interface Interconnect {
  kind: InterconnectKind
  /** Inter-node bandwidth per node as published, Gbit/s; null when the source gives no figure. */
  gbps: number | null
  source: string
}

/** Every kind but plain ethernet is a fabric built for collectives across nodes. */
export function isFastFabric(i: Interconnect | null | undefined): boolean {
  return i !== null && i !== undefined && i.kind !== 'ethernet'
}

/**
 * Whether a cloud adapter sets up a fabric for a gang, per market: `true` (as the catalog
 * says), why not (the source of the `ethernet` the gang is planned on instead), or the part
 * of it the adapter sets up.
 */
type Setup = true | string | ((fabric: Interconnect, instanceType: string) => Interconnect)
interface FabricSetup {
  onDemand: Setup
  spot: Setup
}

/**
 * Network cards of the AWS instance types with EFA, one EFA interface each at most
 * (DescribeInstanceTypes NetworkInfo.MaximumNetworkCards / EfaInfo.MaximumEfaInterfaces:
 * p4d.24xlarge 4; p5 and p5e 32, AWS user guide p5-efa; trn1.32xlarge 8 and trn1n.32xlarge
 * 16, the Neuron trn1-arch page's 800 and 1,600 Gbit/s at 100 per card; p3dn and
 * trn1.2xlarge one EFA, efa.md "Supported instance types"). A type not listed counts one.
 */
export const AWS_EFA_NETWORK_CARDS: Readonly<Record<string, number>> = {
  'p4d.24xlarge': 4,
  'p5.48xlarge': 32,
  'p5e.48xlarge': 32,
  'trn1.32xlarge': 8,
  'trn1n.32xlarge': 16,
}

/**
 * The AWS adapter gives each node of an EFA gang one EFA interface, on network card 0
 * (src/providers/aws/aws-provider.ts): several interfaces would leave the node without the
 * public IPv4 its object store is reached through in a default subnet (EC2 assigns one only
 * to an instance launched with one interface). So the gang gets one card's share of the
 * shape's EFA bandwidth.
 */
function awsOneEfa(fabric: Interconnect, instanceType: string): Interconnect {
  const cards = AWS_EFA_NETWORK_CARDS[instanceType] ?? 1
  if (cards === 1) return fabric
  const gbps = fabric.gbps === null ? null : fabric.gbps / cards
  return {
    kind: 'efa',
    gbps,
    source: `${fabric.source}; skyhop sets up one EFA interface, on network card 0 of ${cards}${gbps === null ? '' : ` (${gbps} Gbit/s)`}: several would leave the node without the public IPv4 it reaches its store through (src/providers/aws/aws-provider.ts)`,
  }
}

const AZURE_SPOT_IB =
  'Azure: VMs share one InfiniBand network only in one availability set or scale set, and Spot VMs cannot join an availability set; a Spot gang is placed in one proximity placement group and talks over the VNet (src/providers/azure/azure-provider.ts placeClose)'
const GCP_ONE_NIC =
  'GCP: the adapter creates each node with one network interface on one network (src/providers/gcp/gcp-provider.ts), not the extra GPU NICs and their VPCs that GPUDirect-TCPX/TCPXO and RDMA need, so its nodes talk TCP'
const HUAWEI_NO_SUPERNODE =
  'Huawei Cloud: the adapter places a gang in an anti-affinity server group (src/providers/huaweicloud/huawei-provider.ts); nothing asks for one CloudMatrix super-node, so HCCS between the nodes is not set up'
const both = (why: Setup): FabricSetup => ({onDemand: why, spot: why})

/**
 * Which fabrics each cloud adapter of skyhop sets up for a gang, by provider and kind. A plan
 * that promises a fabric the launch does not deliver is a defect, so on a provider listed here
 * a shape's fabric counts only where its entry says `true`; any other kind (also one a user's
 * catalog file claims) is planned as `ethernet` with the reason. Providers not listed (Slurm,
 * Kubernetes, local, plugins) give the job what the cluster has: the offer's fabric stands.
 * Keep in step with the adapters and docs/planner.md ("The fabric a gang really gets").
 */
export const GANG_FABRIC_SETUP: Readonly<Record<string, Partial<Record<InterconnectKind, FabricSetup>>>> = {
  aws: {efa: both(awsOneEfa)},
  // On-demand: one availability set in one proximity placement group (azure-provider placeClose).
  azure: {infiniband: {onDemand: true, spot: AZURE_SPOT_IB}},
  gcp: {'gpudirect-tcpx': both(GCP_ONE_NIC), roce: both(GCP_ONE_NIC)},
  huaweicloud: {hccs: both(HUAWEI_NO_SUPERNODE)},
  aliyun: {},
  tencentcloud: {},
}

// One frozen fabric per (provider, instance type, kind, market) that differs from the
// offer's, made on first use: the planner asks for every candidate it compares.
const adjusted = new Map<string, Interconnect>()

/**
 * The fabric a gang of this offer really gets on this market: the offer's own where the
 * provider's adapter sets it up (GANG_FABRIC_SETUP), the part of it the adapter sets up, else
 * `ethernet` (no figure) whose source says why. Undefined: unknown. Pure, for the planner;
 * the AWS adapter asks it too, so plan and launch agree.
 */
export function gangFabric(offer: Pick<Offer, 'provider' | 'instanceType' | 'interconnect'>, spot: boolean): Interconnect | undefined {
  const i = offer.interconnect
  if (i === undefined || i.kind === 'ethernet') return i
  const setups = GANG_FABRIC_SETUP[offer.provider]
  if (setups === undefined) return i
  const setup = setups[i.kind]
  const how = setup === undefined ? `the ${offer.provider} adapter sets up no ${i.kind} for a gang` : spot ? setup.spot : setup.onDemand
  if (how === true) return i
  const key = `${offer.provider}\0${offer.instanceType}\0${i.kind}\0${i.gbps}\0${i.source}\0${spot}`
  let fabric = adjusted.get(key)
  if (fabric === undefined) {
    fabric = typeof how === 'string' ? {kind: 'ethernet', gbps: null, source: how} : how(i, offer.instanceType)
    if (fabric === i) return i
    adjusted.set(key, Object.freeze(fabric))
  }
  return fabric
}

export interface Offer {
  provider: string
  region: string
  zone: string | null
  instanceType: string
  /** Canonical accelerator name and count per node; null for CPU-only offers. */
  accelerator: {name: string; count: number} | null
  vcpus: number
  memoryGiB: number
  /** Per node per hour; null when this offer has no such market (e.g. no spot). */
  price: {onDemand: number | null; spot: number | null; currency: Currency}
  /** Whether the price is a published list price, an estimate, or unknown. */
  priceStatus: PriceStatus
  /** Typical wait before a launch starts running, if known. */
  expectedQueueMinutes: number | null
  /** Expected spot preemptions per hour, if known. */
  preemptionRatePerHour: number | null
  /** How many of this offer can run at once (capacity or quota); null = unbounded. */
  capacity: number | null
  /**
   * A limit this offer shares with other offers of the same pool id, in instances at once,
   * on top of its own capacity: e.g. the local machine's max_concurrent, which holds over
   * all its accelerator offers together. Absent = the offer's capacity is its own.
   */
  capacityPool?: {id: string; capacity: number}
  /**
   * The most nodes one gang of this offer may have (the local machine: how many ranks it
   * holds). Absent: the provider's Provider.maxNodes decides.
   */
  maxNodes?: number
  /** Seconds of notice before a spot/preemptible instance is taken back. */
  noticeSeconds: number | null
  /**
   * The inter-node fabric, where the catalog knows it (src/catalog/interconnect.ts, or a
   * user's catalog file). Absent: unknown, which is not the same as plain ethernet.
   */
  interconnect?: Interconnect
  source: string
  /** ISO date of the price. */
  asOf: string
  confidence: Confidence
  /**
   * Numeric fields whose value nobody published for this offer (e.g. the host shape of a
   * TPU slice). Such a field holds 0 and must not be used as a fact: check this list first.
   */
  unknownFields?: Array<'vcpus' | 'memoryGiB'>
  /** Why a row looks the way it does: anomalies corrected, ranges narrowed, caveats. */
  notes?: string
}

/**
 * Offers grouped by accelerator name (`''` for CPU-only), so whole groups are judged at
 * once and a group is turned into Offer objects only when a job can use it: a plan over a
 * million catalog rows decodes the few groups the job asks for, and counts the rest.
 */
export interface OfferIndex {
  readonly kind: 'offer-index'
  readonly size: number
  /** Every group's name and number of offers, without decoding any offer. */
  groupSizes(): ReadonlyMap<string, number>
  /** The group's offers (empty for a name with none), decoded on first use and kept. */
  group(name: string): readonly Offer[]
  /** One offer of a non-empty group, decoding only that one: an exclusion's example. */
  first(name: string): Offer
}

/** An index over offers already in memory (live offers, a user's file, a simulated catalog), in the order given. */
export function indexOffers(offers: readonly Offer[]): OfferIndex {
  const groups = new Map<string, Offer[]>()
  for (let i = 0; i < offers.length; i++) {
    const offer = offers[i]
    const name = offer.accelerator === null ? '' : offer.accelerator.name
    const group = groups.get(name)
    if (group === undefined) groups.set(name, [offer])
    else group.push(offer)
  }
  const sizes = new Map([...groups].map(([name, list]) => [name, list.length]))
  return {
    kind: 'offer-index',
    size: offers.length,
    groupSizes: () => sizes,
    group: (name) => groups.get(name) ?? [],
    first: (name) => groups.get(name)![0],
  }
}
