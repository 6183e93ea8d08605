// What a job used while it ran, as the runner's sampler saw it (docs/utilisation.md): per
// sample, and summarised per attempt. Types only, shared by the providers (parsing), the
// controller (the idle policy), the store, `status`, `cost` and the planner (right-sizing).

/** One accelerator in one sample. Null where the vendor's tool does not say. */
export interface AcceleratorSample {
  index: number
  /** Busy percent (0-100): the share of the tool's last period the device ran work. */
  busyPct: number | null
  memUsedMiB: number | null
  memTotalMiB: number | null
}

/** One line of samples.jsonl, parsed. */
export interface UsageSample {
  ts: string
  /** Cores the job's process tree kept busy since the previous sample (2.0 = two cores). */
  cpuCores: number
  /** Cores the job may use (nproc on the host). */
  cores: number
  rssMiB: number
  /** The host's memory. */
  memTotalMiB: number
  accelerators: AcceleratorSample[]
  /** The vendor tool the accelerators come from; null when no tool answered. */
  tool: string | null
  /** Tools that were found but whose answer could not be read (missing, garbage, timeout). */
  unreadable: string[]
}

/** An attempt's samples, summarised: what `cost`, `status` and the planner read. */
/** One attempt's usage summary as the store keeps it (table attempt_usage). */
export interface UsageRecord {
  attemptId: string
  jobId: string
  jobName: string
  /** usageFingerprint(spec): how the planner finds the runs of the same job. */
  fingerprint: string
  summary: UsageSummary
  /** How long the idle policy has seen the attempt idle. */
  idleSeconds?: number
}

export interface UsageSummary {
  samples: number
  firstAt: string | null
  lastAt: string | null
  /** Mean share of the host's cores the job kept busy (0-1). */
  cpuBusy: number
  cores: number
  memPeakMiB: number
  memTotalMiB: number
  /** Accelerators seen (0: none, or no tool answered). */
  accelerators: number
  acceleratorTool: string | null
  /** Mean busy share over every accelerator and sample (0-1); null with no accelerator. */
  acceleratorBusy: number | null
  /** The most memory any one accelerator held in any sample, and that device's total. */
  acceleratorMemPeakMiB: number | null
  acceleratorMemTotalMiB: number | null
  /** The latest sample, for `status` while the job runs (a gang's: its head's). */
  last: UsageSample | null
  /**
   * A gang's (nodes > 1): each rank's own summary, rank 0 first. The fields above then cover
   * every rank: samples counted over all, CPU and accelerator busy shares the mean over every
   * rank's samples, memory peaks and accelerators the largest of one node (what one node must
   * hold). Absent for a single node.
   */
  ranks?: UsageRankSummary[]
}

/** One rank of a gang, summarised alone (samples 0: that rank's runner left none). */
export interface UsageRankSummary {
  rank: number
  samples: number
  cpuBusy: number
  cores: number
  memPeakMiB: number
  accelerators: number
  acceleratorBusy: number | null
  acceleratorMemPeakMiB: number | null
  last: UsageSample | null
}

/** The idle policy of a job file's `usage.idle`: what to do with accelerators (or CPUs) that sit idle. */
export interface IdlePolicy {
  /** Busy percent under which a sample counts as idle. */
  belowPct: number
  /** How long the job must stay idle before the action. */
  forSeconds: number
  action: 'warn' | 'checkpoint-and-stop' | 'stop'
}

/** The job file's `usage:` block. */
export interface UsageSpec {
  /** Seconds between samples; 0 turns sampling off. */
  sampleIntervalSeconds: number | null
  idle: IdlePolicy | null
}

/** One earlier attempt of the same job (by name and fingerprint), as the planner reads it. */
export interface UsageObservation {
  attemptId: string
  jobName: string
  fingerprint: string
  provider: string
  accelerator: string | null
  acceleratorCount: number | null
  runSeconds: number
  summary: UsageSummary
}
