// Parsers for what Slurm's client commands print. Pure functions over text, so every
// one is unit-tested against output captured from a real cluster (test/unit/slurm-*).
// The provider asks for machine-friendly output wherever the command has it
// (`--parsable2`, `--Format` with a `|` suffix, `--oneliner`), and these parsers
// accept nothing looser than that.

/** One partition as `sinfo --noheader --format=SINFO_FORMAT` prints it (one line per node state). */
export interface SinfoRow {
  partition: string
  /** `up`, `down`, `drain`, `inact`. */
  avail: string
  cpus: number
  memoryMB: number
  /** The GRES string, e.g. `gpu:a100:8(S:0-1)`; empty when the nodes have none. */
  gres: string
  nodes: number
  /** Compact node state, e.g. `idle`, `mix`, `alloc`, `down*`, `drain`. */
  state: string
  /** `infinite` or Slurm's `[days-]hours:minutes:seconds`. */
  timeLimit: string
}

/** `%R` partition (no default marker), availability, CPUs and memory per node, GRES, node count, state, time limit. */
export const SINFO_FORMAT = '%R|%a|%c|%m|%G|%D|%t|%l'

export function parseSinfo(text: string): SinfoRow[] {
  const rows: SinfoRow[] = []
  for (const line of lines(text)) {
    const f = line.split('|')
    if (f.length < 8) continue
    rows.push({
      partition: f[0],
      avail: f[1],
      // Heterogeneous nodes print ranges such as `2+` or `8-16`: the smallest is what every node has.
      cpus: leadingInt(f[2]),
      memoryMB: leadingInt(f[3]),
      gres: f[4] === '(null)' ? '' : f[4],
      nodes: leadingInt(f[5]),
      state: f[6],
      timeLimit: f.slice(7).join('|'),
    })
  }
  return rows
}

/**
 * One record of `scontrol show <entity> --oneliner`: `Key=Value` pairs separated by
 * spaces. A value runs until the next ` Key=`, so values with spaces or `=` inside
 * (`TRES=cpu=2,mem=8G`, `Reason=ReqNodeNotAvail, UnavailableNodes:vm`) stay whole.
 */
export function parseKeyValues(line: string): Record<string, string> {
  const out: Record<string, string> = {}
  // Keys are words that may hold `/`, `:` or `.`: `CPUs/Task`, `AllocNode:Sid`, `ReqB:S:C:T`.
  const keyAt = /(?:^|\s)([A-Za-z][A-Za-z0-9_/:.]*)=/g
  const starts: Array<{key: string; valueStart: number; keyStart: number}> = []
  for (let m = keyAt.exec(line); m !== null; m = keyAt.exec(line)) {
    const keyStart = m.index + (m[0].length - m[1].length - 1)
    starts.push({key: m[1], valueStart: m.index + m[0].length, keyStart})
  }
  for (let i = 0; i < starts.length; i++) {
    const end = i + 1 < starts.length ? starts[i + 1].keyStart : line.length
    out[starts[i].key] = line.slice(starts[i].valueStart, end).trim()
  }
  return out
}

export function parseOneliners(text: string): Array<Record<string, string>> {
  return lines(text)
    .map(parseKeyValues)
    .filter((r) => Object.keys(r).length > 0)
}

export interface PartitionInfo {
  name: string
  /** `UP`, `DOWN`, `DRAIN`, `INACTIVE`. */
  state: string
  /** `OFF`, `CANCEL`, `REQUEUE`, `SUSPEND`, `GANG`, combinations such as `SUSPEND,GANG`. */
  preemptMode: string
  graceSeconds: number
  priorityTier: number
  totalCpus: number | null
  totalNodes: number | null
  isDefault: boolean
  hidden: boolean
  maxTime: string
}

/** `scontrol show partition --oneliner`. */
export function parsePartitions(text: string): PartitionInfo[] {
  return parseOneliners(text)
    .filter((r) => r.PartitionName)
    .map((r) => ({
      name: r.PartitionName,
      state: (r.State ?? 'UNKNOWN').toUpperCase(),
      preemptMode: (r.PreemptMode ?? 'OFF').toUpperCase(),
      graceSeconds: intOr(r.GraceTime, 0),
      priorityTier: intOr(r.PriorityTier, 1),
      totalCpus: intOr(r.TotalCPUs, null),
      totalNodes: intOr(r.TotalNodes, null),
      isDefault: r.Default === 'YES',
      hidden: r.Hidden === 'YES',
      maxTime: r.MaxTime ?? 'UNLIMITED',
    }))
}

/** A partition whose jobs another can take the node from: it is spot-like capacity. */
export function isPreemptible(partition: Pick<PartitionInfo, 'preemptMode'>): boolean {
  return partition.preemptMode !== '' && partition.preemptMode !== 'OFF'
}

/** `ClusterName` out of `scontrol show config`. */
export function parseClusterName(text: string): string | null {
  const m = /^ClusterName\s*=\s*(\S+)\s*$/m.exec(text)
  return m ? m[1] : null
}

/** One GRES entry of a node: `gpu:a100:8(S:0-1)` is {name gpu, type a100, count 8}. */
export interface GresEntry {
  name: string
  type: string | null
  count: number
}

export function parseGres(text: string): GresEntry[] {
  if (!text || text === '(null)') return []
  const out: GresEntry[] = []
  // Commas separate entries, except inside the socket list `(S:0,1)`.
  for (const raw of text.split(/,(?![^(]*\))/)) {
    const entry = raw.replace(/\(.*\)$/, '').trim()
    if (!entry) continue
    const parts = entry.split(':')
    const last = parts[parts.length - 1]
    const hasCount = parts.length > 1 && /^\d+$/.test(last)
    const count = hasCount ? Number(last) : 1
    const body = hasCount ? parts.slice(0, -1) : parts
    out.push({name: body[0], type: body.length > 1 ? body.slice(1).join(':') : null, count})
  }
  return out
}

/** The job id `sbatch --parsable` prints: `123` or `123;cluster`. */
export function parseSbatchParsable(stdout: string): string | null {
  const m = /^\s*(\d+)(?:;\S+)?\s*$/m.exec(stdout)
  return m ? m[1] : null
}

export interface TestOnlyResult {
  jobId: string
  /** Slurm's local time, as printed. */
  startAt: string
  processors: number
  nodes: string
  partition: string
  /** Jobs that would be preempted to start this one. */
  preempts: string[]
}

/** `sbatch --test-only` (on stderr): `sbatch: Job 12 to start at 2026-11-27T22:52:29 using 2 processors on nodes vm in partition low`. */
export function parseTestOnly(stderr: string): TestOnlyResult | null {
  const m = /Job (\d+) to start at (\S+) using (\d+) processors on nodes (\S+) in partition (\S+)/.exec(stderr)
  if (!m) return null
  const pre = /Preempts:\s*(.+)$/m.exec(stderr)
  return {
    jobId: m[1],
    startAt: m[2],
    processors: Number(m[3]),
    nodes: m[4],
    partition: m[5],
    preempts: pre ? pre[1].split(/[,\s]+/).filter(Boolean) : [],
  }
}

/** What `squeue --Format=SQUEUE_FORMAT` prints about one job. */
export interface SqueueRow {
  jobId: string
  /** Long state name: `PENDING`, `RUNNING`, `COMPLETED`, `PREEMPTED`… */
  state: string
  /** Why it is pending or how it ended: `Priority`, `Resources`, `PartitionDown`, `NonZeroExitCode`; null for `None`. */
  reason: string | null
  /** The batch script's raw wait status (`exit_code`), e.g. 768 for exit 3. */
  waitStatus: number | null
  restarts: number
  startTime: string | null
  endTime: string | null
  partition: string
  stdout: string | null
  comment: string | null
}

/**
 * Fields each end with `|`. The comment comes last because it is free text that another
 * user's job may fill with anything, `|` included.
 */
export const SQUEUE_FORMAT = 'JobID:|,State:|,Reason:|,exit_code:|,RestartCnt:|,StartTime:|,EndTime:|,Partition:|,STDOUT:|,Comment:|'

export function parseSqueue(text: string): SqueueRow[] {
  const rows: SqueueRow[] = []
  for (const line of lines(text)) {
    const f = line.split('|')
    if (f.length < 10 || !/^\d+(_\d+)?$/.test(f[0])) continue
    const comment = f.slice(9).join('|').replace(/\|$/, '')
    rows.push({
      jobId: f[0],
      state: f[1].replace(/\+$/, ''),
      reason: nullish(f[2]),
      waitStatus: /^\d+$/.test(f[3]) ? Number(f[3]) : null,
      restarts: intOr(f[4], 0),
      startTime: slurmTime(f[5]),
      endTime: slurmTime(f[6]),
      partition: f[7],
      stdout: nullish(f[8]),
      comment: nullish(comment),
    })
  }
  return rows
}

/** `sacct --noheader --parsable2 --allocations --format=SACCT_FORMAT`. */
export const SACCT_FORMAT = 'JobIDRaw,State,ExitCode,Start,End,Reason,Partition'

export interface SacctRow {
  jobId: string
  /** First word of the state: `CANCELLED by 0` is `CANCELLED`. */
  state: string
  exitCode: number | null
  signal: number | null
  startTime: string | null
  endTime: string | null
  reason: string | null
  partition: string
}

export function parseSacct(text: string): SacctRow[] {
  const rows: SacctRow[] = []
  for (const line of lines(text)) {
    const f = line.split('|')
    if (f.length < 7 || !/^\d+$/.test(f[0])) continue
    const exit = parseExitPair(f[2])
    rows.push({
      jobId: f[0],
      state: f[1].split(/\s+/)[0].replace(/\+$/, ''),
      exitCode: exit?.code ?? null,
      signal: exit?.signal ?? null,
      startTime: slurmTime(f[3]),
      endTime: slurmTime(f[4]),
      reason: nullish(f[5]),
      partition: f[6],
    })
  }
  return rows
}

/** Details of one job from `scontrol show job --oneliner ID` that squeue does not print. */
export interface ScontrolJob {
  jobId: string
  state: string
  reason: string | null
  restarts: number
  exitCode: number | null
  signal: number | null
  /** When the job was chosen for preemption (its grace began); null if never. */
  preemptTime: string | null
  startTime: string | null
  endTime: string | null
  partition: string
  comment: string | null
}

export function parseScontrolJob(text: string): ScontrolJob | null {
  const r = parseOneliners(text).find((x) => x.JobId)
  if (!r) return null
  const exit = parseExitPair(r.ExitCode ?? '')
  return {
    jobId: r.JobId,
    state: (r.JobState ?? '').replace(/\+$/, ''),
    reason: nullish(r.Reason ?? ''),
    restarts: intOr(r.Restarts, 0),
    exitCode: exit?.code ?? null,
    signal: exit?.signal ?? null,
    preemptTime: slurmTime(r.PreemptTime ?? ''),
    startTime: slurmTime(r.StartTime ?? ''),
    endTime: slurmTime(r.EndTime ?? ''),
    partition: r.Partition ?? '',
    comment: nullish(r.Comment ?? ''),
  }
}

/** `3:0` (exit code : signal), as scontrol and sacct print it. */
export function parseExitPair(text: string): {code: number; signal: number} | null {
  const m = /^(\d+):(\d+)$/.exec(text.trim())
  return m ? {code: Number(m[1]), signal: Number(m[2])} : null
}

/** A raw wait status as squeue's `exit_code` prints it: exit 3 is 768, SIGKILL is 9. */
export function decodeWaitStatus(status: number): {exitCode: number; signal: number | null} {
  const signal = status & 0x7f
  if (signal !== 0) return {exitCode: 128 + signal, signal}
  return {exitCode: (status >> 8) & 0xff, signal: null}
}

/**
 * Slurm prints times in the cluster's local time without a zone (`2026-11-27T22:48:08`),
 * and `N/A`, `NONE`, `Unknown`, `None` for no time. ECMAScript reads a zone-less
 * date-time as local time, which is what Slurm meant when client and cluster share a zone.
 */
export function slurmTime(text: string): string | null {
  const t = text.trim()
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(t)) return null
  const ms = Date.parse(t)
  return Number.isNaN(ms) ? null : new Date(ms).toISOString()
}

/** Slurm's stderr line worth showing a user: the last `error:` line, else the last line. */
export function slurmMessage(stderr: string): string {
  const all = lines(stderr)
  const errors = all.filter((l) => /error:/i.test(l))
  const pick = (errors.length > 0 ? errors[errors.length - 1] : all[all.length - 1]) ?? ''
  return pick
    .replace(/^\S+:\s+error:\s+/, '')
    .replace(/^\S+:\s+/, '')
    .trim()
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '')
}

function leadingInt(text: string): number {
  const m = /^(\d+)/.exec(text.trim())
  return m ? Number(m[1]) : 0
}

function intOr<T>(text: string | undefined, fallback: T): number | T {
  if (text === undefined) return fallback
  return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : fallback
}

function nullish(text: string): string | null {
  const t = text.trim()
  return t === '' || t === 'None' || t === '(null)' || t === 'N/A' ? null : t
}

/** A Slurm release, as its client commands' `--version` prints it. */
export interface SlurmVersion {
  major: number
  minor: number
  patch: number
  /** As printed: `23.11.4`, `22.05.8`. */
  text: string
}

/**
 * `srun --version` (or any client's): `slurm 23.11.4` upstream, `slurm-wlm 22.05.8` from
 * Debian's and Ubuntu's packages, `slurm 20.11.9-1` with a distribution's release after it;
 * null for anything else.
 */
export function parseSlurmVersion(text: string): SlurmVersion | null {
  const m = /^\s*slurm(?:-wlm)?\s+(\d+)\.(\d+)(?:\.(\d+))?/im.exec(text)
  if (!m) return null
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)]
  return {major, minor, patch, text: `${m[1]}.${m[2]}${m[3] === undefined ? '' : `.${m[3]}`}`}
}

/** Whether `version` is at least `major.minor`. */
export function slurmAtLeast(version: Pick<SlurmVersion, 'major' | 'minor'>, major: number, minor: number): boolean {
  return version.major > major || (version.major === major && version.minor >= minor)
}
