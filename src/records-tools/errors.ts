/** Typed error of the record tools (`eps sd submit-records/sign/verify`, `sd-setup`): a clear, final message. */
import { CodedError } from '../core/errors.js';

export type RecordToolErrorCode =
  | 'no-signing'
  | 'not-api-directory'
  | 'signing-identity'
  | 'input'
  | 'self-verify'
  | 'submit'
  | 'audit-target';

export class RecordToolError extends CodedError<RecordToolErrorCode> {
  override readonly name = 'RecordToolError';
}
