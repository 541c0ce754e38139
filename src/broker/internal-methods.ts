/**
 * Methods every eps answers itself: `_ping`, `_directory`, `_connectionRequest` [WIRE,
 * docs/protocol.md#internal-methods], and ours: `_proxyDraining` (only for the own operator) and, for
 * auditors, `_treeTip`, `_inclusionProof`, `_consistencyProof` (proofs about the verified directory chain).
 */
import type { Address } from '../core/address.js';
import { isJsonObject, type JsonObject } from '../core/json.js';
import type { EpsRequest, EpsResponse } from '../core/messages.js';
import { rfc3339Local } from '../core/time.js';
import { VERSION } from '../core/version.js';
import type { Directory, EntryQuery } from '../directory/directory.js';
import type { DirectoryEntry } from '../core/directory-entry.js';
import type { ConnectionRequest } from './channel.js';
import { clientEntryView } from './client-info.js';
import { CodedError } from '../core/errors.js';
import { answerProofQuery, EPS_PROOF_METHODS, type ProofQuery } from '../records/index.js';

export class InternalMethodError extends CodedError<'ERR_BROKER_INTERNAL_METHOD_INPUT'> {
  constructor(message: string) {
    super('ERR_BROKER_INTERNAL_METHOD_INPUT', message);
  }
}

function toJson(value: unknown): JsonObject {
  return value as JsonObject;
}

/**
 * `_ping` echoes the params as the original does, with the authenticated `_client` but without `_caller`
 * (its alias for backends, which the original's `_ping` never had): a second copy of the caller's entry
 * view made every remote ping answer twice as large and cost a quarter of the remote calls/s.
 */
export function ping(request: EpsRequest, address: Address, own: DirectoryEntry): EpsResponse {
  const { _caller: _alias, ...params } = request.params;
  return {
    id: address.localId,
    result: {
      version: VERSION,
      timestamp: rfc3339Local(),
      params,
      // Without the records audit log, like `_client.entry` (weak point S8, see client-info.ts).
      serverInfo: clientEntryView(own),
    },
  };
}

function formError(field: string, reason: string): InternalMethodError {
  return new InternalMethodError(`invalid input data: ${field}(${reason})`);
}

export function directoryQuery(params: JsonObject): EntryQuery {
  const query: EntryQuery = {};
  for (const key of ['group', 'operator'] as const) {
    const v = params[key];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string') throw formError(key, 'expected a string');
    query[key] = v;
  }
  const channels = params.channels;
  if (channels !== undefined && channels !== null) {
    // Original quirk kept: a non-list value becomes an empty list and therefore matches nothing.
    if (!Array.isArray(channels)) query.channels = [];
    else {
      for (const c of channels) if (typeof c !== 'string') throw formError('channels', 'not a string');
      query.channels = channels as string[];
    }
  }
  return query;
}

export function directoryMethod(request: EpsRequest, address: Address, directory: Directory): EpsResponse {
  const entries = directory.entries(directoryQuery(request.params));
  return {
    id: address.localId,
    result: { entries: toJson(entries) },
  };
}

/** Standard base64 with padding only (Go's StdEncoding); reports the first bad byte like Go does. */
export function decodeStdBase64(value: string): Buffer {
  if (value.length % 4 !== 0) {
    throw formError('token', `illegal base64 data at input byte ${value.length - (value.length % 4)}`);
  }
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    const ok = /[A-Za-z0-9+/]/.test(c) || (c === '=' && i >= value.length - 2 && /^=*$/.test(value.slice(i)));
    if (!ok) throw formError('token', `illegal base64 data at input byte ${i}`);
  }
  return Buffer.from(value, 'base64');
}

export function parseConnectionRequest(params: JsonObject, caller: string): ConnectionRequest {
  const str = (key: string): string => {
    const v = params[key];
    if (typeof v !== 'string' || v === '')
      throw formError(key, v === undefined ? 'is required' : 'expected a string');
    return v;
  };
  const channel = str('channel');
  const endpoint = str('endpoint');
  const token = decodeStdBase64(str('token'));
  const client = params.client;
  if (!isJsonObject(client)) throw formError('client', 'not a map');
  if (typeof client.name !== 'string')
    throw formError('client', 'invalid input data: name(expected a string)');
  const entry = client.entry;
  if (!isJsonObject(entry) || typeof entry.name !== 'string' || !Array.isArray(entry.channels)) {
    throw formError('client', 'invalid input data: entry(not a valid directory entry)');
  }
  return { channel, endpoint, token, client, caller };
}

/** The proof question of each internal proof method. */
export const PROOF_QUERY_OF: ReadonlyMap<string, ProofQuery> = new Map(
  Object.entries(EPS_PROOF_METHODS).map(([query, name]) => [name, query as ProofQuery]),
);

/** Answers the proof methods from the tree the directory keeps over its verified chain. */
export class DirectoryProofs {
  constructor(private readonly directory: Directory) {}

  answer(request: EpsRequest, address: Address, query: ProofQuery): EpsResponse {
    if (!this.directory.tree) {
      throw new InternalMethodError('this node has no verified record chain (json directory)');
    }
    const { _client: _c, _caller: _a, ...params } = request.params;
    try {
      const result = answerProofQuery(this.directory.tree(), query, params);
      return { id: address.localId, result };
    } catch (err) {
      if (err instanceof TypeError || err instanceof RangeError) {
        throw new InternalMethodError(`invalid input data: ${err.message}`);
      }
      throw err;
    }
  }
}

/** Ours: the own public proxy tells its node that it is stopping (docs/protocol.md#internal-methods). */
export const PROXY_DRAINING_METHOD = '_proxyDraining';

/**
 * `_proxyDraining` with `{endpoint}` (the stopping proxy's internal endpoint): only the own operator may
 * send it (the proxy, through its node's gateway). `announce` sends the drain notices; the answer names the
 * operators that were told, `{"notified": [...]}`.
 */
export function proxyDraining(
  request: EpsRequest,
  address: Address,
  ownName: string,
  announce: (endpoint: string) => string[],
): EpsResponse {
  const client = request.params._client;
  if (!isJsonObject(client) || client.name !== ownName) {
    throw new InternalMethodError(`${PROXY_DRAINING_METHOD} is only accepted from the own operator`);
  }
  const endpoint = request.params.endpoint;
  if (typeof endpoint !== 'string' || endpoint === '') {
    throw formError('endpoint', endpoint === undefined ? 'is required' : 'expected a string');
  }
  return { id: address.localId, result: { notified: [...new Set(announce(endpoint))] } };
}
