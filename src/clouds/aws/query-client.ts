// One signed call to an AWS Query-protocol API (EC2, STS): form-encoded POST, SigV4,
// XML back. Errors come back as AwsApiError carrying AWS's code and request id; mapping
// them onto skyhop's taxonomy is the caller's business (ec2-errors.ts for EC2).
import type {Dispatcher} from 'undici'

import {CloudApiError} from '../common/api-error.js'
import {rfc3986Encode} from '../common/signing-util.js'
import {sendRequest} from '../../http/request.js'
import {signRequest, type AwsCredentials} from './sigv4.js'
import {XmlParseError, at, parseXml, textAt, type XmlElement} from './xml.js'

export type QueryParams = ReadonlyArray<readonly [string, string]>

/** `a=1&b=2` with RFC 3986 encoding, in the given order. */
export function formEncode(params: QueryParams): string {
  return params.map(([k, v]) => `${rfc3986Encode(k)}=${rfc3986Encode(v)}`).join('&')
}

/** An AWS API answered with an error document (or a non-XML error status). */
export class AwsApiError extends CloudApiError {
  /** AWS's own message, under the name the AWS code has always used. */
  get awsMessage(): string {
    return this.apiMessage
  }
}

export interface QueryCall {
  endpoint: string
  region: string
  service: string
  action: string
  version: string
  params: QueryParams
  /** null for unsigned calls (STS AssumeRoleWithWebIdentity). */
  credentials: AwsCredentials | null
  dispatcher: Dispatcher
  timeoutMs: number
  now?: () => Date
  signal?: AbortSignal
}

/** Reads `<Response><Errors><Error>` (EC2) or `<ErrorResponse><Error>` (STS and most Query APIs). */
export function parseQueryError(status: number, body: string): AwsApiError {
  try {
    const root = parseXml(body)
    const error =
      root.name === 'Response'
        ? at(root, 'Errors/Error')
        : root.name === 'ErrorResponse'
          ? at(root, 'Error')
          : root.name === 'Error'
            ? root
            : undefined
    const requestId = textAt(root, 'RequestID') ?? textAt(root, 'RequestId') ?? null
    if (error) return new AwsApiError(status, textAt(error, 'Code') ?? `HTTP${status}`, textAt(error, 'Message') ?? '', requestId)
  } catch (e) {
    if (!(e instanceof XmlParseError)) throw e
  }
  return new AwsApiError(status, `HTTP${status}`, `unexpected ${status} response`, null)
}

export async function queryCall(call: QueryCall): Promise<XmlElement> {
  const url = new URL(call.endpoint)
  const body = formEncode([['Action', call.action], ['Version', call.version], ...call.params])
  const base: Array<[string, string]> = [
    ['Host', url.host],
    ['Content-Type', 'application/x-www-form-urlencoded; charset=utf-8'],
  ]
  const headers = call.credentials
    ? signRequest({method: 'POST', path: url.pathname, headers: base, body}, call.credentials, {
        region: call.region,
        service: call.service,
        date: (call.now ?? (() => new Date()))(),
      }).headers
    : base
  const res = await sendRequest({
    url: url.toString(),
    method: 'POST',
    headers,
    body,
    timeoutMs: call.timeoutMs,
    dispatcher: call.dispatcher,
    signal: call.signal,
  })
  if (res.status >= 300) throw parseQueryError(res.status, res.body)
  try {
    return parseXml(res.body)
  } catch (error) {
    if (error instanceof XmlParseError)
      throw new AwsApiError(
        res.status,
        'MalformedResponse',
        `the ${call.service} response to ${call.action} is not XML (${error.message})`,
        null,
      )
    throw error
  }
}
