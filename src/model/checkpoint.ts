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
  /** The job's workdir archive (JobSpec.workdirArchive), signed for this attempt: fetched and checked before setup. */
  workdir?: {getUrl: string; sha256: string}
}

/** A presigned GET and PUT of one object. Bearer credentials: never logged, never stored. */
export interface SignedObject {
  getUrl: string
  putUrl: string
}

/**
 * What a cloud gang (a multi-node attempt on instances of their own) gets of the job's store,
 * under `PREFIX/JOB_ID/gangs/ATTEMPT_ID/`: the provider PUTs the peer list once the private
 * addresses are known, and every node GETs it; a rank that gets a notice PUTs the deadline,
 * and every rank GETs it (docs/job-contract.md, the gang contract).
 */
export interface GangObjects {
  /** The private IPs, rank order, space-separated (runner.conf nodeIpsUrl). */
  nodeIps: SignedObject
  /** The instance ids, rank order, space-separated: each node's boot script finds its rank there. */
  nodeIds: SignedObject
  /** The gang notice (runner.conf gangNoticePutUrl / gangNoticeGetUrl). */
  notice: SignedObject
  /**
   * skyhop-runner.sh, which the provider PUTs before the launch and each node GETs at boot:
   * with it in the user data beside a gang's signed URLs, EC2's 16 KB would not hold both.
   */
  runner: SignedObject
  /** e.g. `s3://bucket/prefix/JOB/gangs/ATTEMPT/`: safe to show and to store. */
  location: string
}

/**
 * A cloud attempt's secrets in the job's store, `PREFIX/JOB_ID/secrets/ATTEMPT_ID`: PUT by the
 * provider just before the launch, GET and DELETEd by the boot script, DELETEd again when the
 * attempt is released. Bearer credentials, short-lived: never logged, never stored.
 */
export interface SecretsObject {
  putUrl: string
  getUrl: string
  deleteUrl: string
  /** e.g. `s3://bucket/prefix/JOB/secrets/ATTEMPT`: safe to show. */
  location: string
}
