/**
 * The five JSON-RPC methods of the service directory [WIRE, docs/protocol.md#sd-api]: submitRecords,
 * getTip, getRecords (param `after`), getEntries, getEntry; plus our proof methods (proof-methods.ts). Same
 * shapes and codes as the original; error messages say which record broke which rule (data carries the
 * details), not just "internal error".
 */
import { z } from 'zod';
import type { JsonObject, JsonValue } from '../core/json.js';
import { logger } from '../core/log.js';
import type { MethodDefinition } from '../jsonrpc/dispatcher.js';
import { method, MethodError } from '../jsonrpc/dispatcher.js';
import type { SignedChangeRecord } from '../core/directory-entry.js';
import { normaliseSignedRecord, RecordError } from '../records/index.js';
import type { ServiceDirectory } from './directory.js';
import {
  INTERNAL_ERROR,
  INVALID_PARAMS,
  NOT_FOUND,
  StaleAppendError,
  StoreUnavailableError,
  SubmitError,
} from './errors.js';
import type { SdMetrics } from './metrics.js';
import type { SubmissionLog } from './submissions.js';
import { errorMessage } from '../core/errors.js';
import { malformedProxies } from '../directory/proxy-list.js';
import { proofMethods } from './proof-methods.js';

const log = logger('sd');

/** Most records accepted in one submitRecords call. */
export const MAX_RECORDS_PER_SUBMISSION = 10_000;
const HASH_OR_EMPTY = /^([a-f0-9]{64}|)$/;

/** Go's optional fields treat null and "" as absent. */
const optionalHash = z
  .union([z.string().regex(HASH_OR_EMPTY, 'must be empty or 64 lower-case hex characters'), z.null()])
  .optional();

function invalidParams(message: string, field: string, rule: string): MethodError {
  return new MethodError(INVALID_PARAMS, `invalid params: ${message}`, {
    message,
    code: 'FORM-ERROR',
    data: { [field]: rule },
    traceback: [],
  });
}

function normaliseAll(raw: unknown[]): SignedChangeRecord[] {
  if (raw.length > MAX_RECORDS_PER_SUBMISSION) {
    throw invalidParams(
      `records: at most ${MAX_RECORDS_PER_SUBMISSION} records per submission, got ${raw.length}`,
      'records',
      `at most ${MAX_RECORDS_PER_SUBMISSION} records`,
    );
  }
  return raw.map((item, index) => {
    try {
      const record = normaliseSignedRecord(item, index, { allowProperties: true });
      if (record.record.section === 'properties') {
        log.warn('accepting a properties record: original (Go) nodes refuse chains that contain one', {
          index,
          name: record.record.name,
        });
      }
      if (record.record.section === 'channels') {
        const bad = malformedProxies(record.record.data);
        if (bad !== undefined) {
          const field = `records.${index}.record.data.${bad.index}.settings.proxies`;
          throw invalidParams(
            `record ${index} (${record.record.name}, channels): ${bad.error}`,
            field,
            bad.error,
          );
        }
      }
      return record;
    } catch (err) {
      if (!(err instanceof RecordError)) throw err;
      const field = `records.${index}${err.path ? `.${err.path}` : ''}`;
      throw invalidParams(err.message, field, err.rule);
    }
  });
}

/** Turns failures of the directory into JSON-RPC errors (-32603 with a clear message, as described). */
function toMethodError(err: unknown): MethodError {
  if (err instanceof SubmitError) return new MethodError(err.code, err.message, err.data);
  if (err instanceof StaleAppendError || err instanceof StoreUnavailableError) {
    return new MethodError(err.code, err.message);
  }
  log.error('submitRecords failed', { error: errorMessage(err) });
  return new MethodError(INTERNAL_ERROR, 'internal error');
}

export function sdMethods(
  directory: ServiceDirectory,
  metrics?: SdMetrics,
  submissions?: SubmissionLog,
): Record<string, MethodDefinition> {
  return {
    submitRecords: method(z.object({ records: z.array(z.unknown()) }), async (params) => {
      const started = performance.now();
      let records: SignedChangeRecord[];
      try {
        records = normaliseAll(params.records);
      } catch (err) {
        metrics?.submitted('invalid', 0);
        submissions?.add('invalid', [], { error: errorMessage(err) });
        throw err;
      }
      try {
        await directory.submit(records);
      } catch (err) {
        const error = toMethodError(err);
        log.info(`rejected a submission of ${records.length} records: ${error.message}`);
        metrics?.submitted('rejected', performance.now() - started);
        submissions?.add('rejected', records, { error: error.message });
        throw error;
      }
      log.info(`stored ${records.length} records; tip is now ${directory.tip()?.hash ?? ''}`);
      metrics?.submitted('ok', performance.now() - started);
      submissions?.add('ok', records, { tip: directory.tip()?.hash ?? '' });
      return 'ok';
    }),

    getTip: method(z.object({}), () => toJson(directory.tip())),

    getRecords: method(z.object({ after: optionalHash }), (params) =>
      toJson(directory.recordsAfter(params.after ?? '')),
    ),

    getEntries: method(z.object({}), () => toJson(directory.allEntries())),

    getEntry: method(z.object({ name: z.string() }), (params) => {
      const entry = directory.entry(params.name);
      if (!entry) throw new MethodError(NOT_FOUND, 'not found');
      return toJson(entry);
    }),

    ...proofMethods(directory),
  };
}

/** Records and entries are plain JSON already; this only states it for the type checker. */
function toJson(
  value: SignedChangeRecord | SignedChangeRecord[] | object | undefined,
): JsonValue | undefined {
  return value as JsonObject | undefined;
}
