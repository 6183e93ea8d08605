// Builds the accelerator registry (data/accelerators.json) from the collected spec sheet
// (data/sources/accelerators.csv) and SkyPilot's list of accelerator names.
// The table below is the project's own knowledge: which canonical name each source row
// becomes, its vendor id, software stack, Kubernetes resource and spellings. Figures are
// never written here; they come from the CSV (or from the providers' catalogs' GpuInfo
// for memory), and a figure no source gives stays null.
import type {Runtime} from '../../model/job-spec.js'
import {BugError} from '../../errors.js'
import type {Accelerator, Confidence, Sourced} from '../../model/catalog.js'
import {parseFigure, parseRowConfidence, unknown} from './figures.js'

export interface EntrySpec {
  /** Canonical name. */
  name: string
  /** The `accelerator` cell of accelerators.csv whose figures this entry carries. */
  csv?: string
  vendor: string
  runtime: Runtime
  aliases: string[]
  k8s: string | null
  /** For one of several variants sharing a CSV row: its own name as a vendor would write it. */
  displayName?: string
  /** Memory per device when the CSV cell covers several variants (`16 / 32`). */
  memoryGB?: number
  /** Replaces the row's memory confidence where the row explains it (HAMi tables). */
  memoryConfidence?: Confidence
  /** A caveat of our own, added to the CSV's notes. */
  note?: string
}

const NV = 'nvidia.com/gpu'

/** Every accelerator skyhop knows. Order does not matter; the output is sorted. */
export const REGISTRY_SPEC: EntrySpec[] = [
  // NVIDIA, with figures from accelerators.csv
  {name: 'H200', csv: 'NVIDIA H200 SXM', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['H200-SXM', 'H200-141GB']},
  {
    name: 'H100-80GB',
    csv: 'NVIDIA H100 SXM',
    vendor: 'nvidia',
    runtime: 'cuda',
    k8s: NV,
    // SkyPilot's names for the same SXM part: GCP's a3-mega host and Fluidstack's NVLink boxes.
    aliases: ['H100', 'H100-SXM', 'H100-SXM5', 'H100-80GB-SXM', 'H100-MEGA', 'H100-NVLINK'],
  },
  {
    name: 'H100-NVL',
    vendor: 'nvidia',
    runtime: 'cuda',
    k8s: NV,
    aliases: ['H100NVL', 'H100-94GB'],
    note: 'memory and bandwidth from the notes of the H100 SXM row of accelerators.csv (Azure NC*_H100_v5); throughput not collected',
  },
  {
    name: 'H100-PCIE',
    vendor: 'nvidia',
    runtime: 'cuda',
    k8s: NV,
    aliases: ['H100-PCIe-80GB'],
    note: 'SkyPilot labels this part H100; its PCIe figures were not collected',
  },
  {name: 'H20', csv: 'NVIDIA H20', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['H20-96GB']},
  {name: 'H800', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['H800-80GB']},
  {
    name: 'A100-80GB',
    csv: 'NVIDIA A100 80GB SXM',
    vendor: 'nvidia',
    runtime: 'cuda',
    k8s: NV,
    aliases: ['A100-80GB-SXM', 'A100-SXM4-80GB', 'A100-80GB-PCIE'],
  },
  {
    name: 'A100-40GB',
    csv: 'NVIDIA A100 40GB',
    vendor: 'nvidia',
    runtime: 'cuda',
    k8s: NV,
    // As in SkyPilot, a bare `A100` means the 40 GB part.
    aliases: ['A100', 'A100-SXM4-40GB', 'A100-40GB-SXM'],
  },
  {name: 'L40S', csv: 'NVIDIA L40S', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['L40S-48GB']},
  {name: 'L4', csv: 'NVIDIA L4', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['L4-24GB']},
  {name: 'A10', csv: 'NVIDIA A10', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['A10-24GB']},
  {name: 'A10G', csv: 'NVIDIA A10G (AWS)', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: []},
  {name: 'T4', csv: 'NVIDIA T4', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['T4-16GB', 'Tesla-T4']},
  {
    name: 'V100-16GB',
    csv: 'NVIDIA V100 (SXM2)',
    vendor: 'nvidia',
    runtime: 'cuda',
    k8s: NV,
    aliases: ['V100', 'V100-SXM2', 'V100-SXM2-16GB', 'Tesla-V100'],
    displayName: 'NVIDIA V100 (SXM2) 16GB',
    memoryGB: 16,
  },
  {
    name: 'V100-32GB',
    csv: 'NVIDIA V100 (SXM2)',
    vendor: 'nvidia',
    runtime: 'cuda',
    k8s: NV,
    aliases: ['V100-SXM2-32GB'],
    displayName: 'NVIDIA V100 (SXM2) 32GB',
    memoryGB: 32,
  },
  {name: 'RTX4090', csv: 'NVIDIA RTX 4090', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['RTX-4090', 'GeForce-RTX-4090']},
  // NVIDIA names SkyPilot or the China data use, without collected figures
  {name: 'B200', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['B200-SXM', 'B200-SXM6']},
  {name: 'B300', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: []},
  {name: 'GB200', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: [], note: 'per Blackwell GPU of a Grace-Blackwell superchip'},
  {name: 'GB300', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: [], note: 'per Blackwell Ultra GPU of a Grace-Blackwell superchip'},
  {name: 'GH200', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: []},
  {name: 'A800', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: []},
  {name: 'A30', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: []},
  {name: 'A40', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: []},
  {name: 'L40', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: []},
  {name: 'L20', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['L20-48GB']},
  {name: 'A6000', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['RTXA6000', 'RTX-A6000']},
  {name: 'A4000', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['RTXA4000', 'RTX-A4000']},
  {name: 'RTXA4500', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['RTX-A4500', 'A4500']},
  {name: 'RTXA5000', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['RTX-A5000', 'A5000']},
  {
    name: 'RTX6000',
    vendor: 'nvidia',
    runtime: 'cuda',
    k8s: NV,
    aliases: ['Quadro-RTX6000'],
    note: 'Turing Quadro RTX 6000 (Lambda gpu_1x_rtx6000)',
  },
  {name: 'RTX6000-Ada', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['RTX6000Ada']},
  {name: 'RTX4000-Ada', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['RTX4000Ada']},
  {
    name: 'RTXPRO6000S',
    vendor: 'nvidia',
    runtime: 'cuda',
    k8s: NV,
    aliases: ['RTX-PRO-6000-Server', 'RTX-PRO-6000-Server-96GB'],
    note: 'RTX PRO 6000 Server Edition; AWS g7e lists it as "RTX PRO 6000 Server (96GB)"',
  },
  {
    name: 'RTXPRO6000',
    vendor: 'nvidia',
    runtime: 'cuda',
    k8s: NV,
    aliases: [],
    note: 'RTX PRO 6000 as OCI lists it (BM.GPU.RTXPRO.8); edition not stated',
  },
  {name: 'RTXPRO6000WS', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['RTX-PRO-6000-Workstation']},
  {name: 'RTX5090', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: []},
  {name: 'RTX5060', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: []},
  {name: 'RTX3090', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: []},
  {name: 'RTX3080', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: []},
  {name: 'RTX3070', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: []},
  {name: 'RTX3060', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: []},
  {name: 'GTX1660S', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['GTX-1660-Super']},
  {name: 'T4g', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: [], note: 'AWS g5g: T4G Tensor Core GPU on an arm64 Graviton host'},
  {name: 'P100', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['Tesla-P100']},
  {name: 'P40', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['Tesla-P40']},
  {name: 'P4', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['Tesla-P4']},
  {name: 'K80', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['Tesla-K80']},
  {name: 'M60', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['Tesla-M60']},
  {name: 'M4000', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['Quadro-M4000']},
  {name: 'P4000', vendor: 'nvidia', runtime: 'cuda', k8s: NV, aliases: ['Quadro-P4000']},
  // AMD
  {name: 'MI300X', csv: 'AMD Instinct MI300X', vendor: 'amd', runtime: 'rocm', k8s: 'amd.com/gpu', aliases: ['Instinct-MI300X']},
  {name: 'MI250', csv: 'AMD Instinct MI250', vendor: 'amd', runtime: 'rocm', k8s: 'amd.com/gpu', aliases: ['Instinct-MI250']},
  {name: 'MI355X', vendor: 'amd', runtime: 'rocm', k8s: 'amd.com/gpu', aliases: ['Instinct-MI355X']},
  {name: 'MI25', vendor: 'amd', runtime: 'rocm', k8s: 'amd.com/gpu', aliases: ['Radeon-MI25', 'Radeon-Instinct-MI25']},
  {name: 'V520', vendor: 'amd', runtime: 'rocm', k8s: 'amd.com/gpu', aliases: ['Radeon-Pro-V520']},
  // Intel
  {name: 'Gaudi2', csv: 'Intel Gaudi2', vendor: 'intel', runtime: 'habana', k8s: 'habana.ai/gaudi', aliases: ['Gaudi-2', 'HL-225']},
  {name: 'Gaudi3', csv: 'Intel Gaudi3', vendor: 'intel', runtime: 'habana', k8s: 'habana.ai/gaudi', aliases: ['Gaudi-3']},
  {
    name: 'Gaudi',
    vendor: 'intel',
    runtime: 'habana',
    k8s: 'habana.ai/gaudi',
    aliases: ['Gaudi-HL-205', 'HL-205', 'Gaudi1'],
    note: 'first-generation Gaudi (AWS dl1)',
  },
  // Intel's GPUs run oneAPI (Level Zero), not Gaudi's stack; xpu-smi names them `Intel(R) Arc(TM) B580`.
  {name: 'Arc-B580', csv: 'Intel Arc B580', vendor: 'intel', runtime: 'oneapi', k8s: null, aliases: ['B580', 'Arc-B580-12GB']},
  // Google
  {
    name: 'TPU-v5e',
    csv: 'Google TPU v5e',
    vendor: 'google',
    runtime: 'xla',
    k8s: 'google.com/tpu',
    aliases: ['tpu-v5litepod', 'v5e', 'v5litepod'],
  },
  {name: 'TPU-v5p', csv: 'Google TPU v5p', vendor: 'google', runtime: 'xla', k8s: 'google.com/tpu', aliases: ['v5p']},
  {name: 'TPU-v6e', vendor: 'google', runtime: 'xla', k8s: 'google.com/tpu', aliases: ['v6e', 'Trillium']},
  {name: 'TPU-v4', vendor: 'google', runtime: 'xla', k8s: 'google.com/tpu', aliases: []},
  {name: 'TPU-v3', vendor: 'google', runtime: 'xla', k8s: 'google.com/tpu', aliases: []},
  {name: 'TPU-v2', vendor: 'google', runtime: 'xla', k8s: 'google.com/tpu', aliases: []},
  // AWS
  {
    name: 'Trainium',
    csv: 'AWS Trainium (Trn1)',
    vendor: 'aws',
    runtime: 'neuron',
    k8s: 'aws.amazon.com/neuron',
    aliases: ['Trainium1', 'Trn1'],
  },
  {name: 'Trainium2', csv: 'AWS Trainium2 (Trn2)', vendor: 'aws', runtime: 'neuron', k8s: 'aws.amazon.com/neuron', aliases: ['Trn2']},
  {name: 'Inferentia2', csv: 'AWS Inferentia2 (Inf2)', vendor: 'aws', runtime: 'neuron', k8s: 'aws.amazon.com/neuron', aliases: ['Inf2']},
  // Huawei
  {
    name: 'Ascend910B',
    csv: 'Huawei Ascend 910B (generic)',
    vendor: 'huawei',
    runtime: 'cann',
    k8s: null,
    aliases: ['910B', 'Snt9B'],
    // The row's "LOW-MEDIUM" is the throughput; its memory comes from HAMi's device table.
    memoryConfidence: 'medium',
    note: 'device plugins differ: HAMi huawei.com/Ascend910B{2,3,4}, MindX huawei.com/Ascend910 (unverified), ModelArts Lite huawei.com/ascend-1980',
  },
  {name: 'Ascend910B1', csv: 'Huawei Ascend 910B1', vendor: 'huawei', runtime: 'cann', k8s: 'huawei.com/Ascend910B1', aliases: ['910B1']},
  {name: 'Ascend910B2', csv: 'Huawei Ascend 910B2', vendor: 'huawei', runtime: 'cann', k8s: 'huawei.com/Ascend910B2', aliases: ['910B2']},
  {name: 'Ascend910B3', csv: 'Huawei Ascend 910B3', vendor: 'huawei', runtime: 'cann', k8s: 'huawei.com/Ascend910B3', aliases: ['910B3']},
  {
    name: 'Ascend910B4',
    csv: 'Huawei Ascend 910B4',
    vendor: 'huawei',
    runtime: 'cann',
    k8s: 'huawei.com/Ascend910B4',
    aliases: ['910B4'],
    memoryGB: 32,
  },
  {
    name: 'Ascend910B4-1',
    csv: 'Huawei Ascend 910B4',
    vendor: 'huawei',
    runtime: 'cann',
    k8s: 'huawei.com/Ascend910B4-1',
    aliases: ['910B4-1'],
    displayName: 'Huawei Ascend 910B4-1',
    memoryGB: 64,
  },
  {
    name: 'Ascend910C',
    csv: 'Huawei Ascend 910C',
    vendor: 'huawei',
    runtime: 'cann',
    k8s: 'huawei.com/Ascend910C',
    aliases: ['910C'],
    note: 'figures per package (two dies); Kubernetes sees two 64 GB devices per package',
  },
  {
    name: 'Ascend910',
    vendor: 'huawei',
    runtime: 'cann',
    k8s: null,
    aliases: ['910', 'Snt9', 'Ascend910A'],
    note: 'first-generation Ascend 910 (ModelArts snt9 flavors)',
  },
  {
    name: 'Ascend310P',
    csv: 'Huawei Ascend 310P (310P3)',
    vendor: 'huawei',
    runtime: 'cann',
    k8s: 'huawei.com/Ascend310P',
    aliases: ['310P', '310P3', 'Ascend310P3'],
  },
  // Cambricon
  {
    name: 'MLU370-X8',
    csv: 'Cambricon MLU370-X8',
    vendor: 'cambricon',
    runtime: 'neuware',
    k8s: 'cambricon.com/mlu',
    aliases: ['MLU370', 'MLU370X8'],
  },
  {name: 'MLU590', csv: 'Cambricon MLU590', vendor: 'cambricon', runtime: 'neuware', k8s: 'cambricon.com/mlu', aliases: []},
  // Hygon
  {
    name: 'DCU-Z100',
    csv: 'Hygon DCU Z100',
    vendor: 'hygon',
    runtime: 'dtk',
    k8s: 'hygon.com/hcunum',
    aliases: ['Z100', 'HygonZ100'],
    note: 'k8s resource from HAMi; the vendor plugin name may differ (unverified)',
  },
  {
    name: 'DCU-K100',
    csv: 'Hygon DCU K100 / K100-AI',
    vendor: 'hygon',
    runtime: 'dtk',
    k8s: 'hygon.com/hcunum',
    aliases: ['K100', 'K100-AI', 'DCU-K100-AI'],
  },
  // Kunlunxin (Baidu)
  {
    name: 'Kunlunxin-R200',
    csv: 'Kunlunxin R200',
    vendor: 'kunlunxin',
    runtime: 'xpu',
    k8s: 'kunlunxin.com/xpu',
    aliases: ['R200', 'Kunlun-R200', 'XPU-R200'],
  },
  {
    name: 'Kunlunxin-P800',
    csv: 'Kunlunxin P800',
    vendor: 'kunlunxin',
    runtime: 'xpu',
    k8s: 'kunlunxin.com/xpu',
    aliases: ['P800', 'Kunlun-P800'],
  },
  // Iluvatar CoreX
  {
    name: 'BI-V150',
    csv: 'Iluvatar CoreX BI-V150',
    vendor: 'iluvatar',
    runtime: 'corex',
    k8s: 'iluvatar.ai/BI-V150-vgpu',
    aliases: ['BIV150', 'CoreX-BI-V150'],
    note: 'figures per card (two dies); ixsmi shows 32 GiB per device',
  },
  {
    name: 'MR-V100',
    csv: 'Iluvatar CoreX MR-V100',
    vendor: 'iluvatar',
    runtime: 'corex',
    k8s: 'iluvatar.ai/MR-V100-vgpu',
    aliases: ['MRV100', 'CoreX-MR-V100'],
  },
  // Moore Threads
  {
    name: 'MTT-S4000',
    csv: 'Moore Threads MTT S4000',
    vendor: 'moorethreads',
    runtime: 'musa',
    k8s: 'mthreads.com/gpu',
    aliases: ['S4000', 'MTTS4000'],
  },
  // mthreads-gmi names it `MTT S5000`.
  {
    name: 'MTT-S5000',
    csv: 'Moore Threads MTT S5000',
    vendor: 'moorethreads',
    runtime: 'musa',
    k8s: 'mthreads.com/gpu',
    aliases: ['S5000', 'MTTS5000'],
  },
  // MetaX
  {name: 'MetaX-C500', csv: 'MetaX C500', vendor: 'metax', runtime: 'maca', k8s: 'metax-tech.com/gpu', aliases: ['C500', 'Xiyun-C500']},
  // mx-smi names it `MetaX C550`.
  {name: 'MetaX-C550', csv: 'MetaX C550', vendor: 'metax', runtime: 'maca', k8s: 'metax-tech.com/gpu', aliases: ['C550', 'Xiyun-C550']},
  // Biren
  {name: 'BR104', csv: 'Biren BR104', vendor: 'biren', runtime: 'supa', k8s: 'birentech.com/gpu', aliases: ['Biren-BR104']},
]

export interface MemoryObservation {
  gb: number
  source: string
}

export interface RegistryInputs {
  /** Records of accelerators.csv. */
  specRows: Array<Record<string, string>>
  /** Accelerator names of SkyPilot's common/accelerators.csv. */
  skypilotNames: string[]
  /** Memory per device seen in providers' GpuInfo, by canonical name. */
  observedMemory: Map<string, MemoryObservation>
}

const CSV_SOURCE = 'accelerators.csv'

/** Builds the registry entries; throws if a CSV row or SkyPilot name maps to nothing. */
export function buildRegistry(inputs: RegistryInputs): Accelerator[] {
  const rowsByName = new Map(inputs.specRows.map((r) => [r.accelerator, r]))
  const used = new Set<string>()
  const out: Accelerator[] = []
  for (const spec of REGISTRY_SPEC) {
    const row = spec.csv ? rowsByName.get(spec.csv) : undefined
    if (spec.csv && !row) throw new BugError(`registry: accelerators.csv has no row "${spec.csv}" (entry ${spec.name})`)
    if (spec.csv) used.add(spec.csv)
    out.push(row ? fromCsvRow(spec, row) : withoutFigures(spec))
  }
  // Rows we do not map would silently drop an accelerator from the registry.
  const unmapped = inputs.specRows.map((r) => r.accelerator).filter((a) => !used.has(a))
  if (unmapped.length > 0) throw new BugError(`registry: accelerators.csv rows without an entry: ${unmapped.join(', ')}`)

  const h100 = rowsByName.get('NVIDIA H100 SXM')
  for (const entry of out) {
    if (entry.name === 'H100-NVL' && h100) {
      // "H100 NVL 94GB/3.9TB/s (Azure NC*_H100_v5)" in the H100 row's notes.
      const m = /H100 NVL (\d+)GB\/(\d+(?:\.\d+)?)TB\/s/.exec(h100.notes)
      if (m) {
        const source = `${CSV_SOURCE} (notes of the NVIDIA H100 SXM row)`
        entry.memoryGB = {value: Number(m[1]), confidence: 'medium', source}
        entry.memoryBandwidthTBs = {value: Number(m[2]), confidence: 'medium', source}
      }
    }
    const seen = inputs.observedMemory.get(entry.name)
    if (entry.memoryGB.value === null && seen) entry.memoryGB = {value: seen.gb, confidence: 'medium', source: seen.source}
  }
  return out.sort((a, b) => a.vendor.localeCompare(b.vendor) || a.name.localeCompare(b.name))
}

function fromCsvRow(spec: EntrySpec, row: Record<string, string>): Accelerator {
  const conf = parseRowConfidence(row.confidence)
  const source = `${CSV_SOURCE}: ${row.sources}`
  let memoryGB: Sourced<number> = parseFigure(row.memory_gb, conf.memory, source)
  if (spec.memoryGB !== undefined) {
    memoryGB = {value: spec.memoryGB, confidence: memoryGB.value === null ? conf.memory : memoryGB.confidence, source, raw: row.memory_gb}
    // "16 / 32": both values are published; each variant takes its own without a hedge.
    if (!/~|UNCERTAIN|UNVERIFIED/i.test(row.memory_gb)) memoryGB.confidence = conf.memory
  }
  if (spec.memoryConfidence && memoryGB.value !== null && !/~|UNCERTAIN|UNVERIFIED/i.test(row.memory_gb)) {
    memoryGB = {...memoryGB, confidence: spec.memoryConfidence}
  }
  const notes = [
    row.notes,
    spec.note,
    row.pytorch_path ? `PyTorch: ${row.pytorch_path}` : '',
    row.software_stack ? `stack: ${row.software_stack}` : '',
  ]
    .filter((s) => s && s.trim() !== '')
    .join('; ')
  return {
    name: spec.name,
    displayName: spec.displayName ?? row.accelerator,
    aliases: [...spec.aliases],
    vendor: spec.vendor,
    memoryGB,
    memoryBandwidthTBs: parseFigure(row.mem_bw_tbs, conf.compute, source),
    denseTflops16: parseFigure(row.dense_bf16_fp16_tflops, conf.compute, source),
    fp32Tflops: parseFigure(row.fp32_tflops, conf.compute, source),
    runtime: spec.runtime,
    k8sResource: spec.k8s,
    notes: notes === '' ? null : notes,
  }
}

function withoutFigures(spec: EntrySpec): Accelerator {
  return {
    name: spec.name,
    aliases: [...spec.aliases],
    vendor: spec.vendor,
    memoryGB: unknown(),
    memoryBandwidthTBs: unknown(),
    denseTflops16: unknown(),
    fp32Tflops: unknown(),
    runtime: spec.runtime,
    k8sResource: spec.k8s,
    notes: spec.note ?? 'figures not collected',
  }
}
