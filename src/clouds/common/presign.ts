// What a presigned object URL is made from, for every cloud's object store (S3, OSS, COS,
// OBS). The controller, which holds the credentials, signs one GET and one PUT URL per
// attempt for the job's checkpoint archive; the runner on the instance needs nothing but
// curl to restore and save it, so no credential ever reaches an instance.
export interface PresignRequest {
  method: 'GET' | 'PUT' | 'HEAD' | 'DELETE'
  bucket: string
  /** The object key, without a leading slash; any bytes, percent-encoded by the signer. '' is the bucket itself (a LIST). */
  key: string
  /**
   * Query parameters of the request itself (a LIST's `list-type`, `prefix`, `continuation-token`,
   * `marker`), unencoded: each signer places them in the URL and signs those its cloud signs.
   */
  query?: ReadonlyArray<readonly [string, string]>
  /** The bucket's region, e.g. us-east-1, cn-hangzhou, ap-guangzhou, cn-north-4. */
  region: string
  /**
   * Base URL of an S3-compatible store or a test fake, e.g. http://127.0.0.1:9000: the URL
   * is then path-style, ENDPOINT/BUCKET/KEY. Without it, the cloud's own virtual-hosted
   * endpoint (https://BUCKET.s3.REGION.amazonaws.com/KEY and the like).
   */
  endpoint?: string
  /** How long the URL works, from `now`. */
  expiresSeconds: number
  now: Date
}

/**
 * PUT URLs are signed for exactly this Content-Type, and the runner sends exactly it: the
 * V1-style signatures (OSS, OBS) cover the header, so both sides must agree.
 */
export const CHECKPOINT_CONTENT_TYPE = 'application/octet-stream'
