/**
 * The `_client` parameter [WIRE, docs/protocol.md#client-parameter]: `{name, entry}` of the authenticated
 * previous hop.
 *
 * Deviation (weak point S8): the entry is sent without its `records` audit log, which holds every signed
 * change record with an embedded PEM certificate and made `_client` many kilobytes per request. Every field
 * a service can use to decide (groups, channels, services, certificates, settings, preferences, properties)
 * is kept. The view is computed once per directory entry object, as constant JSON (a frozen copy) whose
 * protobuf encoding the gRPC codec keeps: it goes into every `_ping` answer and every `_client`.
 */
import type { JsonObject } from '../core/json.js';
import { constantJson } from '../core/constant-json.js';
import type { DirectoryEntry } from '../core/directory-entry.js';

const views = new WeakMap<DirectoryEntry, JsonObject>();

export function clientEntryView(entry: DirectoryEntry): JsonObject {
  let view = views.get(entry);
  if (!view) {
    const { records: _records, ...rest } = entry;
    view = constantJson(rest as unknown as JsonObject);
    views.set(entry, view);
  }
  return view;
}

/** Params as sent to another node: `_client` and `_caller` are dropped because every receiver sets them. */
export function paramsForPeer(params: JsonObject): JsonObject {
  if (!('_client' in params) && !('_caller' in params)) return params;
  const { _client: _dropped, _caller: _alsoDropped, ...rest } = params;
  return rest;
}
