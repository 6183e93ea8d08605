// What `skyhop import` produces from a SkyPilot task or a dstack run configuration: the
// skyhop job document, and every key of the source that did not carry over unchanged.

export type ForeignFormat = 'skypilot' | 'dstack'

/**
 * Why a key of the source is listed:
 * - `no-equivalent`: skyhop has no such feature (ports, replicas, an IDE);
 * - `not-yet-supported`: skyhop will have it (file mounts, volumes, issue #19) but has no key yet;
 * - `approximated`: carried over, but its meaning changed on the way (said how);
 * - `left-out`: skyhop has the feature, but this part could not be converted from this file
 *   (a local path missing here, a bucket to create, a relative destination): said why and how.
 */
export type UnmappedKind = 'no-equivalent' | 'not-yet-supported' | 'approximated' | 'left-out'

export interface UnmappedKey {
  /** JSON-pointer path of the key in the source file, e.g. `/resources/ports`. */
  path: string
  line?: number
  column?: number
  kind: UnmappedKind
  reason: string
}

export interface ImportedJob {
  format: ForeignFormat
  /** `task` for SkyPilot (or `service` when it has a `service:` section); dstack's `type`. */
  kind: string
  /** The skyhop job file's content, as data (schemas/job.schema.json). */
  job: Record<string, unknown>
  unmapped: UnmappedKey[]
}

/** A source the importer cannot turn into a job at all (no command to run, a dstack fleet…). */
export class ImportRefusal extends Error {
  constructor(
    message: string,
    readonly path: string = '',
  ) {
    super(message)
  }
}
