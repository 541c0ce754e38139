import { CodedError } from '../core/errors.js';
import type { FailureKind, KnownFailure } from '../core/outcome.js';

export type BrokerErrorCode =
  | 'ERR_NO_CLIENT_INFO'
  | 'ERR_UNKNOWN_CALLER'
  | 'ERR_NO_OWN_ENTRY'
  | 'ERR_INVALID_ID'
  | 'ERR_METHOD_MISMATCH'
  | 'ERR_UNKNOWN_RECIPIENT'
  | 'ERR_DELIVERY_LOOP'
  | 'ERR_RELAY_LIMIT'
  | 'ERR_INTERNAL_METHOD'
  | 'ERR_NO_CHANNEL';

/**
 * A broker failure (not a response): the broker rejects the request, which surfaces as code 1 at the
 * gateway, UNKNOWN on gRPC and -100 on reverse streams (`rejected` in core/outcome.ts).
 */
export class BrokerError extends CodedError<BrokerErrorCode> implements KnownFailure {
  readonly failure: FailureKind = 'rejected';

  constructor(code: BrokerErrorCode, message: string) {
    super(code, message);
    this.name = 'BrokerError';
  }
}
