// Which accelerators a Kubernetes node has: the extended resources device plugins advertise
// in its allocatable, and the labels their feature discovery puts on it, as a table with the
// source of each entry. A node's accelerator is named through skyhop's accelerator registry
// (catalog/accelerators.ts): the model label's value is resolved as written, then in a few
// normal forms (NVIDIA-H100-80GB-HBM3 → H100-80GB); where no label names the model, a
// resource that denotes one model names it (an Ascend910 node without a 910B marker is an
// Ascend910); otherwise the node is left out rather than guessed, and an admin can name it
// with the skyhop.dev/accelerator label.
//
// Sources (read 2025–2026):
//   NVIDIA  k8s-device-plugin and GPU Feature Discovery: resource nvidia.com/gpu, labels
//           nvidia.com/gpu.product (e.g. NVIDIA-H100-80GB-HBM3), nvidia.com/gpu.memory (MiB)
//           https://github.com/NVIDIA/k8s-device-plugin#gpu-feature-discovery
//           GKE: cloud.google.com/gke-accelerator (nvidia-h100-80gb, nvidia-tesla-a100)
//           https://cloud.google.com/kubernetes-engine/docs/how-to/gpus
//   AMD     ROCm k8s-device-plugin and node labeller: amd.com/gpu, amd.com/gpu.product-name
//           https://github.com/ROCm/k8s-device-plugin
//   HAMi    per-model resources (huawei.com/Ascend910B3, iluvatar.ai/BI-V150-vgpu,
//           hygon.com/hcunum): the registry's k8sResource column (data/accelerators.json)
//           https://github.com/Project-HAMi/HAMi/tree/master/docs
//   Huawei  MindCluster Ascend Device Plugin: huawei.com/Ascend910, huawei.com/Ascend310,
//           huawei.com/Ascend310P; node labels accelerator=huawei-Ascend910, accelerator-type
//           (module-910b-8, card-910b-2 on Atlas 800T/300T A2: the 910B)
//           https://gitcode.com/Ascend/mind-cluster (docs/ascend-device-plugin),
//           https://www.hiascend.com/document/detail/en/mindcluster/
//   Cambricon cambricon-k8s-device-plugin: cambricon.com/mlu (no model label; HAMi's
//           cambricon.com/use-mlutype annotation names models per pod)
//           https://github.com/Cambricon/cambricon-k8s-device-plugin
//   Hygon   DCU device plugin: hygon.com/dcu  https://developer.sourcefind.cn (DCU k8s plugin)
//   Kunlunxin XPU device plugin: kunlunxin.com/xpu  https://github.com/Project-HAMi/HAMi (kunlunxin)
//   MetaX   gpu-device plugin: metax-tech.com/gpu  https://github.com/Project-HAMi/HAMi (metax)
//   Iluvatar CoreX: iluvatar.ai/gpu  https://github.com/Deep-Spark/ix-device-plugin
//   Moore Threads: mthreads.com/gpu  https://github.com/Project-HAMi/HAMi (mthreads)
//   Intel Gaudi: habana.ai/gaudi  https://docs.habana.ai/en/latest/Orchestration/Gaudi_Kubernetes/
//   AWS Neuron: aws.amazon.com/neuron  https://awsdocs-neuron.readthedocs-hosted.com (k8s setup)

export interface DeviceKind {
  /** The extended resource the device plugin advertises (and a pod requests). */
  resource: string
  vendor: string
  /** Node labels whose value names the model, most specific first (after MODEL_LABEL). */
  modelLabels: string[]
  /**
   * The registry name when no label names the model: only where the resource denotes one
   * model (null: such a node is left out, and `check` says why).
   */
  fallback: string | null
  /** Labels that say a node of this resource is a particular model (value pattern → registry name). */
  markers?: Array<{label: string; pattern: RegExp; name: string}>
}

/**
 * A label a cluster's admin may put on nodes to name their accelerator for skyhop, for any
 * resource, where the device plugin labels no model (Cambricon, Hygon, Kunlunxin…):
 * `kubectl label node n1 skyhop.dev/accelerator=MLU590`. Any registry name or alias.
 */
export const MODEL_LABEL = 'skyhop.dev/accelerator'

export const DEVICE_KINDS: readonly DeviceKind[] = [
  {
    resource: 'nvidia.com/gpu',
    vendor: 'nvidia',
    modelLabels: ['nvidia.com/gpu.product', 'cloud.google.com/gke-accelerator'],
    fallback: null,
  },
  {resource: 'amd.com/gpu', vendor: 'amd', modelLabels: ['amd.com/gpu.product-name', 'beta.amd.com/gpu.product-name'], fallback: null},
  {
    resource: 'huawei.com/Ascend910',
    vendor: 'huawei',
    modelLabels: [],
    fallback: 'Ascend910',
    // The 910B shares the 910's resource name; its servers' accelerator-type says so.
    markers: [{label: 'accelerator-type', pattern: /910b/i, name: 'Ascend910B'}],
  },
  {resource: 'huawei.com/Ascend310P', vendor: 'huawei', modelLabels: [], fallback: 'Ascend310P'},
  {resource: 'huawei.com/Ascend310', vendor: 'huawei', modelLabels: [], fallback: 'Ascend310'},
  // No model label from these plugins, and more than one model behind each resource.
  {resource: 'cambricon.com/mlu', vendor: 'cambricon', modelLabels: [], fallback: null},
  {resource: 'hygon.com/dcu', vendor: 'hygon', modelLabels: [], fallback: null},
  {resource: 'kunlunxin.com/xpu', vendor: 'kunlunxin', modelLabels: [], fallback: null},
  {resource: 'metax-tech.com/gpu', vendor: 'metax', modelLabels: [], fallback: null},
  {resource: 'iluvatar.ai/gpu', vendor: 'iluvatar', modelLabels: [], fallback: null},
  {resource: 'mthreads.com/gpu', vendor: 'moorethreads', modelLabels: [], fallback: null},
  {resource: 'habana.ai/gaudi', vendor: 'intel', modelLabels: [], fallback: null},
  {resource: 'aws.amazon.com/neuron', vendor: 'aws', modelLabels: [], fallback: null},
]

/** What the registry knows of Kubernetes resources: registry names by `k8sResource`. */
export type ResourceIndex = ReadonlyMap<string, readonly string[]>

export function resourceIndex(entries: ReadonlyArray<{name: string; k8sResource: string | null}>): ResourceIndex {
  const out = new Map<string, string[]>()
  for (const e of entries) if (e.k8sResource) out.set(e.k8sResource, [...(out.get(e.k8sResource) ?? []), e.name])
  return out
}

/**
 * The device kinds to look for on a node: the table's, then every resource the registry names
 * (HAMi's per-model resources such as huawei.com/Ascend910B3 or iluvatar.ai/BI-V150-vgpu),
 * which name their model when only one registry entry has them.
 */
export function deviceKinds(index: ResourceIndex): DeviceKind[] {
  const known = new Set(DEVICE_KINDS.map((k) => k.resource))
  const extra = [...index]
    .filter(([resource]) => !known.has(resource))
    .map(([resource, names]) => ({
      resource,
      vendor: resource.split('/')[0],
      modelLabels: [],
      fallback: names.length === 1 ? names[0] : null,
    }))
  return [...DEVICE_KINDS, ...extra]
}

/** The device plugin resources skyhop knows without the registry, for messages ("no accelerator device plugin"). */
export const DEVICE_RESOURCES: readonly string[] = DEVICE_KINDS.map((k) => k.resource)

export interface NodeDevice {
  kind: DeviceKind
  count: number
  /** The registry's canonical name, or null when it cannot be named. */
  name: string | null
  /** What the node said, for the warning when it cannot be named. */
  said: string
}

/**
 * Model names as device plugins write them, in the forms the registry may know: as written,
 * without the vendor word and memory type (NVIDIA-H100-80GB-HBM3 → H100-80GB), GKE's
 * nvidia-tesla-a100 → A100, AMD's AMD_Instinct_MI300X_OAM → MI300X.
 */
export function modelCandidates(value: string): string[] {
  const out = [value]
  let v = value.replace(/_/g, '-')
  out.push(v)
  v = v.replace(/^(nvidia|amd|tesla|instinct|huawei)-/i, '').replace(/^(tesla|instinct|geforce|radeon)-/i, '')
  out.push(v)
  const trimmed = v.replace(/-(HBM\d?e?|PCIE|SXM\d?|OAM|NVL)$/i, '')
  out.push(trimmed, trimmed.replace(/-(PCIE|SXM\d?)$/i, ''))
  const memory = /^(.*?-\d+GB)\b/i.exec(v)
  if (memory) out.push(memory[1])
  return [...new Set(out.filter((s) => s !== ''))]
}

/** The accelerators a node's allocatable offers, named through `resolve` (the registry). */
export function nodeDevices(
  allocatable: Record<string, string>,
  labels: Record<string, string>,
  resolve: (name: string) => string | null,
  kinds: readonly DeviceKind[] = DEVICE_KINDS,
): NodeDevice[] {
  const out: NodeDevice[] = []
  for (const kind of kinds) {
    const count = Number.parseInt(allocatable[kind.resource] ?? '0', 10)
    if (!Number.isFinite(count) || count <= 0) continue
    let name: string | null = null
    let said = kind.resource
    const modelLabels = [MODEL_LABEL, ...kind.modelLabels]
    for (const label of modelLabels) {
      const value = labels[label]
      if (!value) continue
      said = `${label}=${value}`
      name =
        modelCandidates(value)
          .map(resolve)
          .find((n) => n !== null) ?? null
      if (name) break
    }
    for (const m of kind.markers ?? []) {
      if (name === null && m.pattern.test(labels[m.label] ?? '')) name = resolve(m.name)
    }
    if (name === null && kind.fallback !== null && modelLabels.every((l) => !labels[l])) name = resolve(kind.fallback)
    out.push({kind, count, name, said})
  }
  return out
}
