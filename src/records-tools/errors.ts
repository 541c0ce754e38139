/** Typed error of the record tools (`eps sd submit-records/sign/verify`, `sd-setup`): a clear, final message. */

export type RecordToolErrorCode =
  'no-signing' | 'not-api-directory' | 'signing-identity' | 'input' | 'self-verify' | 'submit';

export class RecordToolError extends Error {
  override readonly name = 'RecordToolError';

  constructor(
    readonly code: RecordToolErrorCode,
    message: string,
  ) {
    super(message);
  }
}
