/** Typed error for everything that can go wrong with a change record: schema, hash, certificate, signature. */
import { CodedError } from '../core/errors.js';

/** Stable codes, so callers can branch without parsing messages. */
export type RecordErrorCode = 'schema' | 'hash' | 'certificate' | 'signature';

export interface RecordErrorDetails {
  /** Position of the record in the batch or file, when known. */
  index?: number;
  /** `name/section` of the record, when known. */
  label?: string;
  /** Dotted path of the offending field, e.g. `data.0.permissions.0.rights.1`. */
  path?: string;
}

export class RecordError extends CodedError<RecordErrorCode> {
  override readonly name = 'RecordError';
  readonly index: number | undefined;
  readonly label: string | undefined;
  readonly path: string | undefined;
  /** The bare rule that was violated, without the record/path prefix. */
  readonly rule: string;

  constructor(code: RecordErrorCode, rule: string, details: RecordErrorDetails = {}) {
    super(code, formatMessage(rule, details));
    this.rule = rule;
    this.index = details.index;
    this.label = details.label;
    this.path = details.path;
  }

  /** The same error with record index/label filled in (used when a nested check fails). */
  withRecord(index: number | undefined, label: string | undefined): RecordError {
    return new RecordError(this.code, this.rule, {
      index: this.index ?? index,
      label: this.label ?? label,
      path: this.path,
    });
  }
}

function formatMessage(rule: string, { index, label, path }: RecordErrorDetails): string {
  let prefix = '';
  if (index !== undefined || label !== undefined) {
    prefix = 'record';
    if (index !== undefined) prefix += ` ${index}`;
    if (label !== undefined) prefix += ` (${label})`;
    prefix += ': ';
  }
  return path ? `${prefix}${path}: ${rule}` : `${prefix}${rule}`;
}
