/**
 * Reading the tools' input files: JSON values, and change-record files `{"records": [change record, ...]}`
 * [docs/operations.md#record-tools] normalised (docs/protocol.md#record-normalisation; each record needs a
 * valid `created_at`).
 */
import { readFileSync } from 'node:fs';
import type { JsonValue } from '../core/json.js';
import { isJsonObject } from '../core/json.js';
import type { ChangeRecord } from '../core/directory-entry.js';
import { normaliseChangeRecords } from '../records/index.js';
import { RecordToolError } from './errors.js';
import { errorMessage } from '../core/errors.js';

/** Largest input file the tools read. */
export const MAX_INPUT_FILE_BYTES = 64 * 1024 * 1024;

export function readJsonFile(file: string): JsonValue {
  let text: string;
  try {
    const data = readFileSync(file);
    if (data.length > MAX_INPUT_FILE_BYTES) {
      throw new RecordToolError('input', `'${file}' is larger than ${MAX_INPUT_FILE_BYTES} bytes`);
    }
    text = data.toString('utf8');
  } catch (err) {
    if (err instanceof RecordToolError) throw err;
    throw new RecordToolError(
      'input',
      `cannot read '${file}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new RecordToolError('input', `'${file}' is not valid JSON: ${errorMessage(err)}`);
  }
}

/** The normalised change records of one `{"records": [...]}` file. */
export function readChangeRecordFile(file: string): ChangeRecord[] {
  const content = readJsonFile(file);
  if (!isJsonObject(content) || !Array.isArray(content.records)) {
    throw new RecordToolError('input', `'${file}' must hold an object with a "records" list`);
  }
  try {
    return normaliseChangeRecords(content.records, { allowProperties: true });
  } catch (err) {
    throw new RecordToolError('input', `invalid change record in '${file}': ${errorMessage(err)}`);
  }
}
