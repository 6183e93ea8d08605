// What an attempt gets of the job's checkpoint store: signed URLs and what may be shown of
// them. Shared by the checkpoint store that signs them and the providers that pass them on.

/** What an attempt gets: the signed URLs, and what may be shown or stored about them. */
export interface CheckpointSync {
  getUrl: string
  putUrl: string
  /** e.g. `s3://bucket/prefix/JOB/checkpoint.tar`: safe to show and to store. */
  location: string
  /** When the URLs stop working (ISO-8601). */
  expiresAt: string
  /** Seconds between copies while the job runs. */
  syncSeconds: number
}
