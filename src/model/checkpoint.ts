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

/**
 * Where a cloud attempt's runner ships what it leaves on the instance (its output.log and its
 * utilisation samples), `PREFIX/JOB_ID/attempts/ATTEMPT_ID/`: segment objects of at most
 * `segmentBytes` each (`output-0000.log`, …, `samples-0000.jsonl`, …; a gang rank's samples in
 * `node-<rank>/`), each PUT whole while it is the file's current one. The runner GETs its list of
 * signed PUT URLs (the manifest) at start: one URL in the user data instead of hundreds; and
 * again through the list's own URL once the controller has signed it again (renewShip).
 */
export interface ShipObjects {
  /** Signed GET of the manifest. A bearer credential: never logged, never stored. */
  manifestUrl: string
  /** The store the objects are in: safe to show and to store (the handle keeps it, so they can be read back). */
  store: ShipStoreRef
  /** e.g. `s3://bucket/prefix/JOB/attempts/ATTEMPT/`: safe to show. */
  location: string
  /** Bytes per segment object. */
  segmentBytes: number
  /** Seconds between the runner's uploads while the job runs. */
  shipSeconds: number
  /** When the signed URLs stop working (ISO-8601): after that the files stay on the instance. */
  expiresAt: string
}

/** A job's object store as a launch handle keeps it: its URL, region and endpoint, no credential. */
export interface ShipStoreRef {
  url: string
  region: string
  endpoint: string | null
}

/** The kinds of file a runner ships, by the name of the file on the instance. */
export type ShippedFile = 'output.log' | 'samples.jsonl'

/**
 * Reads back what a cloud attempt's runner shipped (ShipObjects): given to the VM providers, so
 * `logs` of an ended instance and `usageSamples` while it runs read the job's store.
 */
export interface AttemptObjectReader {
  /**
   * One segment's bytes from byte `from` of it on (a ranged GET); null when the segment is not
   * in the store (not shipped yet, or never), an empty buffer when it holds nothing past `from`.
   */
  segment(
    store: ShipStoreRef,
    jobId: string,
    attemptId: string,
    file: ShippedFile,
    index: number,
    from?: number,
    /** A gang's rank (default 0, the head): its samples are in `node-<rank>/`. */
    rank?: number,
  ): Promise<Buffer | null>
}

/** What a cloud attempt's handle keeps of its ShipObjects (handle.data.ship): enough to read them back. */
export interface ShipHandleData {
  store: ShipStoreRef
  segmentBytes: number
}

/** What an attempt gets of its job's files: and outputs:. */
export interface AttemptTransfers {
  /** The list, one tab-separated line per transfer (RunnerConfig.transfersFile). A bearer credential. */
  list: string
  /** A signed GET of the list in the job's store, for an instance (RunnerConfig.transfersUrl); null when not put there. */
  url: string | null
}
