// The inter-node fabric of the instance types whose provider documents it: one table, the
// only place skyhop learns that a p5.48xlarge has EFA or an ND H100 v5 InfiniBand. Every
// offer gets it from here, whatever file it came from (the bundled snapshot, a refreshed
// provider file, a user's catalog file that does not say), so a refresh never loses it and
// no offer file format has to carry it. A row holds what its source says and nothing more:
// `gbps` is null when the page names the fabric but no figure, and an instance type nobody
// documented has no row (its fabric is unknown, which the planner does not read as ethernet).
import type {Interconnect, InterconnectKind} from '../model/catalog.js'

interface Row {
  provider: string
  /** Exact instance types (the sources name shapes, not families: a p5.4xlarge is not a p5.48xlarge). */
  instanceTypes: string[]
  kind: InterconnectKind
  gbps: number | null
  source: string
}

const AWS_P5_EFA =
  'docs.aws.amazon.com/AWSEC2/latest/UserGuide/p5-efa.html: P5 and P5e support up to 32 network cards, up to 3,200 Gbps (EFA)'
const AWS_TRN1 = 'awsdocs-neuron general/arch/neuron-hardware/trn1-arch: "EFA bandwidth (Gbps)" column'
const AWS_P3 = 'awsdocs/amazon-ec2-user-guide accelerated-computing-instances.md, "Network performance": ENA only (no EFA in the P3 row)'
const AZURE = 'learn.microsoft.com (MicrosoftDocs/azure-docs articles/virtual-machines/sizes/gpu-accelerated'
const GCP =
  'docs.cloud.google.com/compute/docs/gpus/gpu-network-bandwidth ("Networking and GPU machines": max bandwidth and GPU-to-GPU networking per machine type)'

export const INTERCONNECT_TABLE: readonly Row[] = [
  // AWS
  {
    provider: 'aws',
    instanceTypes: ['p4d.24xlarge'],
    kind: 'efa',
    gbps: 400,
    source: 'AWS EC2 DescribeInstanceTypes p4d.24xlarge: EfaSupported true, MaxEfaInterfaces 4, NetworkPerformance "4x 100 Gigabit"',
  },
  {provider: 'aws', instanceTypes: ['p5.48xlarge', 'p5e.48xlarge'], kind: 'efa', gbps: 3200, source: AWS_P5_EFA},
  {provider: 'aws', instanceTypes: ['trn1.2xlarge'], kind: 'efa', gbps: 25, source: `${AWS_TRN1} (Trn1.2xlarge: up to 25)`},
  {provider: 'aws', instanceTypes: ['trn1.32xlarge'], kind: 'efa', gbps: 800, source: `${AWS_TRN1} (Trn1.32xlarge: 800)`},
  {provider: 'aws', instanceTypes: ['trn1n.32xlarge'], kind: 'efa', gbps: 1600, source: `${AWS_TRN1} (Trn1n.32xlarge: 1,600)`},
  {
    provider: 'aws',
    instanceTypes: ['p3dn.24xlarge'],
    kind: 'efa',
    gbps: 100,
    source:
      'awsdocs/amazon-ec2-user-guide efa.md, "Supported instance types": p3dn.24xlarge (one EFA: "All other supported instance types support only one EFA per instance"); accelerated-computing-instances.md, "Network performance": p3dn.24xlarge 100 Gbps',
  },
  {provider: 'aws', instanceTypes: ['p3.16xlarge'], kind: 'ethernet', gbps: 25, source: `${AWS_P3}: p3.16xlarge 25 Gbps`},
  {provider: 'aws', instanceTypes: ['p3.8xlarge'], kind: 'ethernet', gbps: 10, source: `${AWS_P3}: p3.8xlarge 10 Gbps`},
  {provider: 'aws', instanceTypes: ['p3.2xlarge'], kind: 'ethernet', gbps: 10, source: `${AWS_P3}: p3.2xlarge up to 10 Gbps`},
  // Azure: each GPU has its own InfiniBand link to the backend network.
  {
    provider: 'azure',
    instanceTypes: ['Standard_ND96asr_v4', 'Standard_ND96asr_A100_v4'],
    kind: 'infiniband',
    gbps: 1600,
    source: `${AZURE}/includes/ndasra100v4-series-summary.md): ND A100 v4, a 200 Gb/s HDR InfiniBand link per GPU, 1.6 Tb/s per VM`,
  },
  {
    provider: 'azure',
    instanceTypes: ['Standard_ND96amsr_A100_v4'],
    kind: 'infiniband',
    gbps: 1600,
    source: `${AZURE}/includes/ndma100v4-series-summary.md): NDm A100 v4, a 200 Gb/s HDR InfiniBand link per GPU, 1.6 Tb/s per VM`,
  },
  {
    provider: 'azure',
    instanceTypes: ['Standard_ND96isr_H100_v5'],
    kind: 'infiniband',
    gbps: 3200,
    source: `${AZURE}/includes/ndh100v5-series-summary.md): ND H100 v5, a 400 Gb/s Quantum-2 CX7 InfiniBand link per GPU, 3.2 Tbps per VM`,
  },
  {
    provider: 'azure',
    instanceTypes: ['Standard_ND40rs_v2'],
    kind: 'infiniband',
    gbps: 100,
    source: `${AZURE}/includes/ndv2-series-summary.md): NDv2, 100-Gigabit InfiniBand EDR backend network`,
  },
  // GCP
  {
    provider: 'gcp',
    instanceTypes: ['a3-ultragpu-8g', 'a4-highgpu-8g'],
    kind: 'roce',
    gbps: 3200,
    source: `${GCP}: A3 Ultra and A4, eight ConnectX-7 NICs for GPU-to-GPU traffic (GPUDirect RDMA), 3,200 Gbps`,
  },
  {
    provider: 'gcp',
    instanceTypes: ['a3-megagpu-8g'],
    kind: 'gpudirect-tcpx',
    gbps: 1600,
    source: `${GCP}: A3 Mega, GPUDirect-TCPXO, up to 1,600 Gbps (1,800 Gbps in another version of the page: the lower figure is kept)`,
  },
  {
    provider: 'gcp',
    instanceTypes: ['a3-highgpu-8g'],
    kind: 'gpudirect-tcpx',
    gbps: 1000,
    source: `${GCP}: A3 High, GPUDirect-TCPX, up to 1,000 Gbps`,
  },
  {
    provider: 'gcp',
    instanceTypes: ['a3-edgegpu-8g'],
    kind: 'gpudirect-tcpx',
    gbps: 600,
    source: `${GCP}: A3 Edge, GPUDirect-TCPX, 600 Gbps (800 Gbps in another version of the page: the lower figure is kept)`,
  },
  {
    provider: 'gcp',
    instanceTypes: ['a2-highgpu-8g', 'a2-ultragpu-8g'],
    kind: 'ethernet',
    gbps: 100,
    source: `${GCP}: A2, up to 100 Gbps, GPU-to-GPU networking technology N/A`,
  },
  // Oracle Cloud: RDMA cluster networks are RoCE v2 on ConnectX NICs.
  {
    provider: 'oci',
    instanceTypes: ['BM.GPU4.8'],
    kind: 'roce',
    gbps: 1600,
    source:
      'blogs.oracle.com/cloud-infrastructure/post/superclusters-rdma-high-performance: 8 A100 GPUs per node, 1.6 Tbps of RDMA (RoCE over NVIDIA ConnectX) per node',
  },
  // Nebius
  {
    provider: 'nebius',
    instanceTypes: ['gpu-b200-sxm_8gpu-160vcpu-1792gb'],
    kind: 'infiniband',
    gbps: 3200,
    source: 'mlcommons/inference_results_v6.0 closed/Nebius/systems/nebius_b200_n1.json: host_networking "8x ConnectX-7 IB NDR 400Gb/s"',
  },
  // Huawei Cloud: the nodes of one CloudMatrix super-node talk over HCCS (RoCE between super-nodes).
  {
    provider: 'huaweicloud',
    instanceTypes: ['Snt9B23'],
    kind: 'hccs',
    gbps: null,
    source:
      'china.csv (Snt9B23 is the CloudMatrix super-node flavor) + hiascend.com MindCluster scheduling guide, Atlas 900 A3 SuperPoD: compute nodes of one SuperPoD communicate through HCCS, across SuperPoDs through RoCE',
  },
]

// provider → instance type → fabric: two lookups without building a key string, since every
// decoded offer row asks (a plan may decode tens of thousands).
const byProvider = new Map<string, Map<string, Interconnect>>()
for (const row of INTERCONNECT_TABLE) {
  const value: Interconnect = Object.freeze({kind: row.kind, gbps: row.gbps, source: row.source})
  let types = byProvider.get(row.provider)
  if (types === undefined) byProvider.set(row.provider, (types = new Map()))
  for (const t of row.instanceTypes) types.set(t, value)
}

/** The documented fabric of an instance type, or undefined when nobody documented it. Shared and frozen. */
export function interconnectOf(provider: string, instanceType: string): Interconnect | undefined {
  return byProvider.get(provider)?.get(instanceType)
}

/** The one line for a catalog's generatedFrom: where offers' interconnects come from. */
export const INTERCONNECT_SOURCE = `src/catalog/interconnect.ts (inter-node fabric of ${INTERCONNECT_TABLE.reduce((n, r) => n + r.instanceTypes.length, 0)} instance types; a public source per row)`
