// Containers for the runner: how each accelerator vendor's devices reach a container (the
// device map, data with a source per vendor), and the `podman run` / `docker run` arguments a
// provider writes into the attempt directory's `container-args` for the runner (contract.ts).
// Pure: no I/O except through the `exists` the caller passes.
//
// The runner adds the rest itself, from what it knows only on the host: the container's
// name, --init, the attempt directory, workdir, checkpoint directory and notice file mounted
// at the same paths, and the job's gang variables.

export const CONTAINER_RUNTIMES = ['podman', 'docker'] as const
export type ContainerRuntime = (typeof CONTAINER_RUNTIMES)[number]

/** How one vendor's accelerators are passed into a container. `{i}` is a device index. */
export interface VendorDeviceMap {
  /** The vendor's own container documentation this entry follows. */
  source: string
  /** One device node per accelerator. */
  perDevice: string[]
  /** Device nodes every container of this vendor needs besides. */
  shared: string[]
  /** Host paths (tools, driver libraries) mounted read-only at the same path when they exist on the host. */
  readOnly: string[]
  /** Supplementary groups owning the device nodes. */
  groups: string[]
  /** `--security-opt` values the vendor's documentation passes. */
  securityOpts: string[]
  /** The variable naming the visible devices (comma-separated indices), set in the container. */
  visibleEnv: string | null
  /** NVIDIA: devices through the runtime's own mechanism (docker --gpus, podman CDI) instead of device nodes. */
  runtimeGpus?: true
}

/** The device map: one entry per vendor id of the accelerator registry (data/accelerators.json). */
export const VENDOR_DEVICES: Readonly<Record<string, VendorDeviceMap>> = {
  nvidia: {
    source:
      'https://docs.docker.com/engine/containers/resource_constraints/#gpu (docker --gpus); ' +
      'https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/cdi-support.html (podman: CDI nvidia.com/gpu=N)',
    perDevice: [],
    shared: [],
    readOnly: [],
    groups: [],
    securityOpts: [],
    visibleEnv: null,
    runtimeGpus: true,
  },
  amd: {
    source: 'https://rocm.docs.amd.com/projects/install-on-linux/en/latest/how-to/docker.html',
    perDevice: [],
    shared: ['/dev/kfd', '/dev/dri'],
    readOnly: [],
    groups: ['video'],
    securityOpts: ['seccomp=unconfined'],
    visibleEnv: 'ROCR_VISIBLE_DEVICES',
  },
  huawei: {
    source: 'https://www.hiascend.com/document/detail/zh/mindx-dl/60rc1/clusterscheduling/dockerruntimeug/dlruntime_ug_013.html',
    perDevice: ['/dev/davinci{i}'],
    shared: ['/dev/davinci_manager', '/dev/devmm_svm', '/dev/hisi_hdc'],
    readOnly: ['/usr/local/Ascend/driver', '/usr/local/bin/npu-smi', '/usr/local/dcmi', '/etc/ascend_install.info'],
    groups: [],
    securityOpts: [],
    visibleEnv: 'ASCEND_VISIBLE_DEVICES',
  },
  cambricon: {
    source:
      'https://www.cambricon.com/docs/sdk_1.15.0/driver_5.10.22/user_guide/index.html (Container: --device /dev/cambricon_dev0 --device /dev/cambricon_ctl)',
    perDevice: ['/dev/cambricon_dev{i}'],
    shared: ['/dev/cambricon_ctl'],
    readOnly: ['/usr/bin/cnmon'],
    groups: [],
    securityOpts: [],
    visibleEnv: 'MLU_VISIBLE_DEVICES',
  },
  hygon: {
    source:
      'https://developer.sourcefind.cn/ (DCU container guide: --device=/dev/kfd --device=/dev/mkfd --device=/dev/dri -v /opt/hyhal:/opt/hyhal:ro)',
    perDevice: [],
    shared: ['/dev/kfd', '/dev/mkfd', '/dev/dri'],
    readOnly: ['/opt/hyhal'],
    groups: ['video'],
    securityOpts: ['seccomp=unconfined'],
    visibleEnv: 'HIP_VISIBLE_DEVICES',
  },
  kunlunxin: {
    source: 'https://www.kunlunxin.com/ (XPU container guide: --device=/dev/xpu0 … --device=/dev/xpuctrl)',
    perDevice: ['/dev/xpu{i}'],
    shared: ['/dev/xpuctrl'],
    readOnly: [],
    groups: [],
    securityOpts: [],
    visibleEnv: 'XPU_VISIBLE_DEVICES',
  },
}

export interface DeviceRequest {
  /** A vendor id of the accelerator registry (`nvidia`, `huawei`, …). */
  vendor: string
  /** Device indices on the host, e.g. [0, 1]. */
  indices: number[]
}

/** A vendor the device map has no entry for: the caller turns it into its own error. */
export class UnknownVendorError extends Error {}

/**
 * The device map of one vendor as a template of argument groups, for a device list known only
 * later (a Slurm job's allocation, read on its node by the runner: container-devices in
 * contract.ts). `each` repeats per index with `{i}` replaced; `list` replaces `{list}` with the
 * comma-separated indices; `once` is passed as is; `exists` only when `path` exists on the host.
 * Expanded in this order by expandDeviceTemplate here and by the runner, so that both give what
 * deviceArgs gives.
 */
export type DeviceTemplateLine =
  | {kind: 'each'; args: string[]}
  | {kind: 'list'; args: string[]}
  | {kind: 'once'; args: string[]}
  | {kind: 'exists'; path: string; args: string[]}

export function deviceTemplate(runtime: ContainerRuntime, vendor: string): DeviceTemplateLine[] {
  const map = VENDOR_DEVICES[vendor]
  if (!map) {
    throw new UnknownVendorError(`no container device map for vendor "${vendor}" (known: ${Object.keys(VENDOR_DEVICES).join(', ')})`)
  }
  const lines: DeviceTemplateLine[] = []
  if (map.runtimeGpus) {
    // docker: the value is a CSV field, so a list of devices is quoted inside it.
    if (runtime === 'docker') lines.push({kind: 'list', args: ['--gpus', '"device={list}"']})
    else lines.push({kind: 'each', args: ['--device', 'nvidia.com/gpu={i}']})
  }
  if (map.perDevice.length > 0) lines.push({kind: 'each', args: map.perDevice.flatMap((path) => ['--device', path])})
  for (const path of map.shared) lines.push({kind: 'once', args: ['--device', path]})
  for (const path of map.readOnly) lines.push({kind: 'exists', path, args: ['--volume', `${path}:${path}:ro`]})
  for (const group of map.groups) lines.push({kind: 'once', args: ['--group-add', group]})
  for (const opt of map.securityOpts) lines.push({kind: 'once', args: ['--security-opt', opt]})
  if (map.visibleEnv) lines.push({kind: 'list', args: ['--env', `${map.visibleEnv}={list}`]})
  return lines
}

/** The arguments of `lines` for `indices` (sorted, distinct, whole numbers ≥ 0); none without indices. */
export function expandDeviceTemplate(
  lines: readonly DeviceTemplateLine[],
  indices: readonly number[],
  exists: (path: string) => boolean = () => true,
): string[] {
  if (indices.length === 0) return []
  const list = indices.join(',')
  const args: string[] = []
  for (const line of lines) {
    if (line.kind === 'each') for (const i of indices) args.push(...line.args.map((a) => a.replaceAll('{i}', String(i))))
    else if (line.kind === 'list') args.push(...line.args.map((a) => a.replaceAll('{list}', list)))
    else if (line.kind === 'once') args.push(...line.args)
    else if (exists(line.path)) args.push(...line.args)
  }
  return args
}

/**
 * The runtime arguments that pass `request`'s devices into a container, in the vendor's way.
 * `exists` says which read-only host paths are present (default: all are).
 */
export function deviceArgs(runtime: ContainerRuntime, request: DeviceRequest, exists: (path: string) => boolean = () => true): string[] {
  const lines = deviceTemplate(runtime, request.vendor)
  const indices = [...new Set(request.indices)].sort((a, b) => a - b)
  if (indices.some((i) => !Number.isInteger(i) || i < 0))
    throw new RangeError(`device indices must be whole numbers ≥ 0: ${request.indices.join(',')}`)
  return expandDeviceTemplate(lines, indices, exists)
}

/**
 * Where the runner finds a job's device indices on its node, in order (the first that gives
 * any wins): environment variables, and `scontrol` for the per-node IDX list of a GRES
 * (`scontrol show job -d`: `Nodes=n1 … GRES=npu:2(IDX:1-2)`).
 */
export interface DeviceIndexSources {
  env: string[]
  /** The GRES name whose IDX list `scontrol show job -d` gives for this node; null: not asked. */
  scontrolGres: string | null
}

/**
 * container-devices (contract.ts): what the runner reads to pass the devices of an allocation it
 * learns only on its node into the container, through the same device map. Tab-separated lines:
 * `vendor V`, `from VAR…` (the variables in order), `gres NAME` (scontrol's fallback), then the
 * template (`each|list|once ARG…`, `exists PATH ARG…`).
 */
export function renderContainerDevices(runtime: ContainerRuntime, vendor: string, sources: DeviceIndexSources): string {
  const lines = deviceTemplate(runtime, vendor)
  const words = [...sources.env, sources.scontrolGres ?? '', ...lines.flatMap((l) => [...l.args, l.kind === 'exists' ? l.path : ''])]
  const bad = words.find((w) => /[\t\n\r\0]/.test(w))
  if (bad !== undefined) throw new RangeError(`container-devices: ${JSON.stringify(bad)} cannot be one field of a line`)
  const out = [`vendor\t${vendor}`, ['from', ...sources.env].join('\t')]
  if (sources.scontrolGres !== null) out.push(`gres\t${sources.scontrolGres}`)
  for (const line of lines) out.push([line.kind, ...(line.kind === 'exists' ? [line.path] : []), ...line.args].join('\t'))
  return `${out.join('\n')}\n`
}
