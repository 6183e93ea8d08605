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
export function wrapsStep(runtime: SlurmContainerRuntime): boolean {
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
