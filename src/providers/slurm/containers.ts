// A Slurm job's container image: which runtime the cluster offers, and how the batch script
// or the runner uses it. Pure, so the exact argument vectors are tested.
//
// Two ways, by runtime:
//   - pyxis (`srun --container-image`, enroot underneath) and apptainer/singularity wrap the
//     job step: the runner's task runs inside the container, with the attempt directory,
//     the workdir and the checkpoint directory mounted at the same paths. Slurm's signals
//     (preemption's SIGTERM, GraceTime's SIGKILL) reach the runner inside as they reach it
//     outside, and the container ends with the step: nothing is left behind to clean up.
//     The image needs bash (the runner's shell), as a podman job's image does.
//   - podman and docker run beside the runner, as on the local provider: the runner starts
//     the container (runner.conf's containerImage), forwards signals into it and removes it.
//     The accelerators Slurm allocated reach it through container-devices (slurmDeviceSources).
import type {DeviceIndexSources} from '../../runner/container.js'

export const SLURM_CONTAINER_RUNTIMES = ['pyxis', 'apptainer', 'singularity', 'podman', 'docker'] as const
export type SlurmContainerRuntime = (typeof SLURM_CONTAINER_RUNTIMES)[number]

/** What the search for a runtime looks at, in order: said by the reason when none is found. */
export const LOOKED_FOR =
  "pyxis (srun --help offers --container-image), then apptainer, singularity, podman or docker on the submitting machine's PATH"

/** Whether `srun --help` advertises pyxis's `--container-image` (its SPANK options are listed there). */
export function srunHasPyxis(help: string): boolean {
  return /^\s*--container-image[= ]/m.test(help)
}

/** Whether the runtime wraps the step (the runner runs inside) or runs beside the runner. */
export function wrapsStep(runtime: SlurmContainerRuntime): runtime is Exclude<SlurmContainerRuntime, 'podman' | 'docker'> {
  return runtime === 'pyxis' || runtime === 'apptainer' || runtime === 'singularity'
}

/**
 * An OCI reference in enroot's spelling, which pyxis passes on: the registry is separated from
 * the repository by `#` (`nvcr.io#nvidia/pytorch:24.05-py3`); Docker Hub's needs no registry.
 */
export function enrootImage(reference: {reference: string; registry: string | null; repository: string}): string {
  if (reference.registry === null) return reference.reference
  const rest = reference.reference.slice(reference.registry.length + 1)
  return `${reference.registry}#${rest}`
}

/** Paths mounted into a wrapping container at the same place: absolute, distinct, none inside another. */
function mountPaths(paths: readonly string[]): string[] {
  const absolute = [...new Set(paths.filter((p) => p.startsWith('/')).map((p) => p.replace(/\/+$/, '') || '/'))].sort()
  const kept: string[] = []
  for (const p of absolute) if (!kept.some((k) => p === k || p.startsWith(`${k}/`))) kept.push(p)
  for (const p of kept) {
    // pyxis's --container-mounts is comma-separated SRC:DST; apptainer's --bind too.
    if (/[:,\s]/.test(p)) throw new RangeError(`cannot mount ${p} into the container: the path contains ':', ',' or a space`)
  }
  return kept
}

/**
 * The words that go before the runner's command in the batch script's srun line: srun options
 * for pyxis, or a command prefix for apptainer/singularity. Empty for podman and docker.
 */
export function stepWrap(
  runtime: SlurmContainerRuntime,
  image: {reference: string; registry: string | null; repository: string},
  mounts: readonly string[],
  /** The accelerators' vendor (the registry's id), for apptainer's own GPU flags. */
  vendor: string | null = null,
): {srunOptions: string[]; prefix: string[]} {
  if (!wrapsStep(runtime)) return {srunOptions: [], prefix: []}
  const paths = mountPaths(mounts)
  if (runtime === 'pyxis') {
    return {
      srunOptions: [
        `--container-image=${enrootImage(image)}`,
        `--container-mounts=${paths.map((p) => `${p}:${p}`).join(',')}`,
        // The image's entrypoint would run instead of the runner.
        '--no-container-entrypoint',
      ],
      prefix: [],
    }
  }
  // --cleanenv off: the step's environment (Slurm's variables, the job's secrets) passes in as
  // it does to a bare step. docker:// pulls (and caches) the OCI image. The host's /dev is the
  // container's; --nv and --rocm bring NVIDIA's and ROCm's user-space libraries in
  // (https://apptainer.org/docs/user/latest/gpu.html).
  const gpu = vendor === 'nvidia' ? ['--nv'] : vendor === 'amd' ? ['--rocm'] : []
  return {srunOptions: [], prefix: [runtime, 'exec', ...gpu, '--bind', paths.join(','), `docker://${image.reference}`]}
}

/**
 * Where the runner reads, on each node, the indices of the accelerators Slurm allocated to the
 * job there, for a podman or docker container (container-devices in contract.ts; the indices
 * go through the device map, container.ts). The first source that gives any wins:
 *   1. the vendor's own variable, for Ascend, Cambricon and Kunlunxin: Slurm never sets
 *      ASCEND_VISIBLE_DEVICES, MLU_VISIBLE_DEVICES or XPU_VISIBLE_DEVICES, so when one is set
 *      a site's (Task)Prolog set it for this job, and its answer is taken;
 *   2. for a GRES named `gpu` (Slurm's gres/gpu plugin): SLURM_STEP_GPUS, the global indices
 *      of the step's GPUs on this node — the number in each gres.conf File= name, /dev/nvidia2
 *      is 2 — never relative to a device cgroup (sbatch(1), srun(1)); SLURM_JOB_GPUS too for a
 *      one-node job only: the batch step's value, which srun --export=ALL hands to every rank,
 *      is the batch node's (measured on Slurm 22.05: rank 1 saw SLURM_JOB_GPUS=0 for its
 *      IDX 1). CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES (gres.conf Flags=nvidia_gpu_env,
 *      amd_gpu_env) are not read first: under ConstrainDevices they are relative to the step's
 *      cgroup, which a podman or docker container is not in;
 *   3. AMD and Hygon: ROCR_VISIBLE_DEVICES, which a site's prolog sets for a GRES not named
 *      `gpu`, as Slurm's amd_gpu_env does;
 *   4. `scontrol show job -d`: this node's `IDX:` list of the GRES, the one answer for a GRES
 *      Slurm sets no variable for (any name but gpu, mps, shard: Ascend's `npu`).
 */
export function slurmDeviceSources(vendor: string, gres: string, nodes: number): DeviceIndexSources {
  const name = gres.split(':')[0]
  const env: string[] = []
  const own: Record<string, string> = {huawei: 'ASCEND_VISIBLE_DEVICES', cambricon: 'MLU_VISIBLE_DEVICES', kunlunxin: 'XPU_VISIBLE_DEVICES'}
  if (own[vendor]) env.push(own[vendor])
  if (name === 'gpu') env.push('SLURM_STEP_GPUS', ...(nodes === 1 ? ['SLURM_JOB_GPUS'] : []))
  if (vendor === 'amd' || vendor === 'hygon') env.push('ROCR_VISIBLE_DEVICES')
  return {env, scontrolGres: name}
}
