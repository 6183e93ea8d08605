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
 * The runtime arguments that pass `request`'s devices into a container, in the vendor's way.
 * `exists` says which read-only host paths are present (default: all are).
 */
export function deviceArgs(runtime: ContainerRuntime, request: DeviceRequest, exists: (path: string) => boolean = () => true): string[] {
  const map = VENDOR_DEVICES[request.vendor]
  if (!map) {
    throw new UnknownVendorError(
      `no container device map for vendor "${request.vendor}" (known: ${Object.keys(VENDOR_DEVICES).join(', ')})`,
    )
  }
  const indices = [...new Set(request.indices)].sort((a, b) => a - b)
  if (indices.some((i) => !Number.isInteger(i) || i < 0))
    throw new RangeError(`device indices must be whole numbers ≥ 0: ${request.indices.join(',')}`)
  if (indices.length === 0) return []
  const args: string[] = []
  if (map.runtimeGpus) {
    // docker: the value is a CSV field, so a list of devices is quoted inside it.
    if (runtime === 'docker') args.push('--gpus', `"device=${indices.join(',')}"`)
    else for (const i of indices) args.push('--device', `nvidia.com/gpu=${i}`)
  }
  for (const i of indices) for (const path of map.perDevice) args.push('--device', path.replace('{i}', String(i)))
  for (const path of map.shared) args.push('--device', path)
  for (const path of map.readOnly) if (exists(path)) args.push('--volume', `${path}:${path}:ro`)
  for (const group of map.groups) args.push('--group-add', group)
  for (const opt of map.securityOpts) args.push('--security-opt', opt)
  if (map.visibleEnv) args.push('--env', `${map.visibleEnv}=${indices.join(',')}`)
  return args
}
