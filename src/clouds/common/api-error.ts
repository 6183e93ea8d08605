// The error a cloud's API answered with, before it is classified: the HTTP status, the
// cloud's own error code and message, and its request id. Each cloud subclasses it, so its
// classifier (common/error-mapping.ts) only ever takes its own cloud's errors, and keeps
// its own wire parsing (XML for AWS, the JSON envelopes of the others). Its `code` is the
// cloud's own: the classifier reads it, and no CloudApiError leaves its API client unclassified.
import {BackendError} from '../../errors.js'
import {redact} from '../../util/redact.js'

export class CloudApiError extends BackendError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly apiMessage: string,
    readonly requestId: string | null,
  ) {
    // Cloud messages can echo request parameters; redact() keeps registered secrets out.
    super(redact(`${code}: ${apiMessage}${requestId ? ` (request id ${requestId})` : ''}`))
  }
}
