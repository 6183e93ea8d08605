// What a job's files: copies from buckets weigh, for the planner's egress cost and transfer
// time: the sizes the HEAD of an object or the LIST of a prefix answers, as data: entries
// (the bucket's cloud and region). Gathered here, before the plan, so that the planner stays
// pure and the offer is chosen with them; `launch` keeps what it found, so each object is
// asked for once and every attempt is checked against the same sizes and ETags.
import {isSkyhopError} from '../errors.js'
import {BUCKET_CLOUD, type BucketRef, type DataSource, type FileEntry, type FileObject, type JobSpec} from '../model/job-spec.js'
import {redact} from '../util/redact.js'
import type {ServiceContext} from './context.js'

export interface LearnedFileData {
  /** The spec with a data: entry per bucket copy whose size was learned (and, at launch, its objects as fileObjects). */
  spec: JobSpec
  /** Copies whose size the plan does not count, and why: said in the plan's assumptions. */
  notes: string[]
}

type BucketCopy = FileEntry & {source: {kind: 'bucket'} & BucketRef}

/** A bucket copy whose size the job file gives counts already (job/load.ts): the same URI in data:. */
function uriOf(ref: BucketRef): string {
  return `${ref.scheme}://${ref.bucket}/${ref.key}`
}

/**
 * Looks up the bucket objects the job's files: copy and adds their sizes to its data:.
 * `launch`: every copy is looked up (the attempts need the ETags) and a failure throws, with
 * the code and exit status launch gives it (before anything is recorded). `plan`: only the
 * copies without a `size`; a failure (no credentials, a store that does not answer, a missing
 * object) is a note, and the plan goes on without that size.
 */
export async function learnFileData(ctx: ServiceContext, spec: JobSpec, mode: 'launch' | 'plan'): Promise<LearnedFileData> {
  const copies = (spec.files ?? []).filter((f): f is BucketCopy => f.mode === 'copy' && f.source.kind === 'bucket')
  const given = new Set(spec.data.map((d) => d.uri))
  const unsized = copies.filter((f) => !given.has(uriOf(f.source)))
  const lookUp = mode === 'launch' ? copies : unsized
  if (lookUp.length === 0) return {spec, notes: []}
  const unknown = (why: string) =>
    unsized.map(
      (f) =>
        `files: ${f.path}: the size of ${uriOf(f.source)} is not counted in the egress estimate (${why}); launch lists it before choosing an offer, or give the entry a size`,
    )
  if (!ctx.findFileObjects) {
    if (mode === 'launch') return {spec, notes: []}
    return {spec, notes: unknown('this context cannot look it up')}
  }
  const {storeFor} = await import('../checkpoint/checkpoint-store.js')
  const {bucketTarget, isPrefix} = await import('../checkpoint/transfers.js')
  const store = storeFor(spec, ctx.config())
  const region = (f: BucketCopy): string | null => {
    try {
      return bucketTarget(f.source, store).region
    } catch {
      return null
    }
  }
  // A bucket whose region is not known (FILES_REGION_MISSING) is not asked here: launch's own
  // lookup says so after the plan, which may have said first that no candidate can take the
  // job (no store for a cloud's copies).
  if (mode === 'launch' && lookUp.some((f) => region(f) === null)) return {spec, notes: []}
  let found: FileObject[]
  try {
    found = await ctx.findFileObjects({...spec, files: lookUp})
  } catch (error) {
    if (mode === 'launch') throw error
    const message = isSkyhopError(error) || error instanceof Error ? error.message : String(error)
    return {spec, notes: unknown(`looking it up failed: ${redact(message)}`)}
  }
  const data: DataSource[] = []
  for (const f of unsized) {
    const objects = isPrefix(f.source) ? found.filter((o) => o.entry === f.path) : found.filter((o) => o.path === f.path && !o.entry)
    const bytes = objects.reduce((sum, o) => sum + o.bytes, 0)
    if (bytes === 0) continue
    // Where the bytes are: the entry's region, else the store's (bucketTarget); Cloud Storage
    // signs for any location (`auto`), so its region is not known here.
    const where = region(f)
    data.push({
      uri: uriOf(f.source),
      provider: BUCKET_CLOUD[f.source.scheme],
      region: where === 'auto' ? null : where,
      sizeGB: bytes / 1e9,
    })
  }
  const learned = {...spec, data: [...spec.data, ...data]}
  return {spec: mode === 'launch' ? {...learned, fileObjects: found} : learned, notes: []}
}
