/**
 * The public proxies an operator is reached through [docs/protocol.md#directory-entries]: the original's
 * `grpc_server.settings.proxy` (one operator name), followed by our `proxies` (the further ones, in the
 * operator's order of preference). An original node reads only `proxy`, so it keeps using the first.
 *
 * A malformed `proxies` is reported, not guessed at: the caller gets the reason instead of a route.
 */
import { isJsonObject, type JsonObject, type JsonValue } from '../core/json.js';

/** At most this many proxies per operator (`proxy` plus `proxies`). */
export const MAX_PROXIES = 8;

export type ProxyList = { proxies: string[]; error?: undefined } | { proxies: string[]; error: string };

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value === '') return 'an empty string';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * `proxy` then `proxies` from published `grpc_server` settings. With a malformed `proxies`, `error` says
 * what is wrong and `proxies` holds only the first proxy (what an original node would use).
 */
export function proxyList(settings: JsonObject): ProxyList {
  const first = typeof settings.proxy === 'string' ? settings.proxy : '';
  const base = first === '' ? [] : [first];
  const more = settings.proxies;
  if (more === undefined || more === null) return { proxies: base };
  const fail = (reason: string): ProxyList => ({
    proxies: base,
    error: `grpc_server.settings.proxies${reason.startsWith('[') ? '' : ' '}${reason}`,
  });
  if (!Array.isArray(more)) return fail(`must be a list of operator names, not ${describe(more)}`);
  if (more.length === 0) return { proxies: base };
  if (first === '') return fail('needs `proxy` (the first proxy, which original nodes use) to be set');
  if (more.length + 1 > MAX_PROXIES) {
    return fail(`lists ${more.length} proxies; at most ${MAX_PROXIES - 1} besides \`proxy\``);
  }
  const out = [first];
  for (const [i, name] of more.entries()) {
    if (typeof name !== 'string' || name === '') {
      return fail(`[${i}] must be an operator name (a non-empty string), not ${describe(name)}`);
    }
    if (out.includes(name)) return fail(`[${i}] names '${name}' twice (counting \`proxy\`)`);
    out.push(name);
  }
  return { proxies: out };
}

/**
 * The first malformed `proxies` in the data of a `channels` record (its element index and the reason), so
 * that the sd can refuse such a record when it is submitted.
 */
export function malformedProxies(data: readonly JsonValue[]): { index: number; error: string } | undefined {
  for (const [index, channel] of data.entries()) {
    if (!isJsonObject(channel) || channel.type !== 'grpc_server' || !isJsonObject(channel.settings)) continue;
    const { error } = proxyList(channel.settings);
    if (error !== undefined) return { index, error };
  }
  return undefined;
}
