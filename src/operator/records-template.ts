/**
 * The change records a new operator hands to the directory's administrator (`DIR/records/NAME.json`, the
 * `{"records": [...]}` shape `eps sd submit-records` takes): how peers reach it (channels), its group,
 * the services it offers (`_ping` for its group; `_connectionRequest` for proxy providers when it is
 * reached through proxies) and, once its certificates exist, their pinned fingerprints.
 */
import type { ChangeRecord } from '../core/directory-entry.js';
import type { JsonValue } from '../core/json.js';
import { certificateRecords, rfc3339Seconds, type OperatorFingerprints } from '../tls/certgen-records.js';
import type { OperatorInitOptions } from './options.js';

/** The group of the public proxies' operators, allowed to ask for a connection (as in the dev network). */
export const PROXY_PROVIDERS_GROUP = 'proxy-providers';

export function operatorRecords(
  o: OperatorInitOptions,
  fingerprints: OperatorFingerprints | undefined,
  now: Date,
): ChangeRecord[] {
  const created_at = rfc3339Seconds(now);
  const record = (section: string, data: JsonValue[]): ChangeRecord => ({
    name: o.name,
    section,
    data,
    created_at,
  });
  const [first, ...more] = o.proxies;
  const server: Record<string, JsonValue> = { address: o.advertise ?? o.grpc };
  if (first !== undefined) server.proxy = first;
  if (more.length > 0) server.proxies = more;
  const services: JsonValue[] = [
    {
      name: 'internals',
      permissions: [{ group: o.group, rights: ['call'] }],
      methods: [{ name: '_ping' }],
    },
  ];
  if (first !== undefined) {
    services.unshift({
      name: 'connection-requests',
      permissions: [{ group: PROXY_PROVIDERS_GROUP, rights: ['call'] }],
      methods: [{ name: '_connectionRequest' }],
    });
  }
  return [
    record('channels', [{ type: 'grpc_client' }, { type: 'grpc_server', settings: server }]),
    record('groups', [o.group]),
    record('services', services),
    ...(fingerprints === undefined ? [] : certificateRecords([fingerprints], now)),
  ];
}
