/**
 * The key names of a Redis store of asynchronous calls: the lease `<key>:{<eps name>}.lease` and one hash
 * per table `<key>:{<eps name>}.<table>` (`key` of the store's settings). Every write is a script that
 * reads the lease and writes a table (redis-table-store.ts), and Redis Cluster runs a script only when all
 * its keys are in one slot: the braces are a hash tag, so all keys of one eps instance share a slot.
 *
 * Why they do, whatever `key` and the eps name contain: Redis hashes the text between the first `{` of a
 * key and the first `}` after it, unless that text is empty (then the whole key). All keys share the prefix
 * `<key>:{<eps name>}`, which holds a `{` and, after it, a `}`; so that first `{` and first `}` lie in the
 * prefix, and the hashed text is the same for all keys unless it is empty. It is empty only when the first
 * `{` of the prefix is directly followed by `}` (a key like `eps{}`, or an eps name starting with `}`):
 * such names are refused (`storeKeys` throws), they would put the lease and the tables in different slots.
 */
import { RedisStoreError } from '../datastore/redis-store.js';

export interface StoreKeys {
  readonly lease: string;
  table(name: string): string;
}

export function storeKeys(key: string, ownName: string): StoreKeys {
  const prefix = `${key}:{${ownName}}`;
  const open = prefix.indexOf('{');
  if (prefix[open + 1] === '}')
    throw new RedisStoreError(
      `the Redis keys of the asynchronous calls would start with ${JSON.stringify(prefix)}, whose first ` +
        '"{" is directly followed by "}": Redis Cluster would put the lease and the tables in different ' +
        'slots; change async.store.settings.key (or the eps name)',
    );
  return { lease: `${prefix}.lease`, table: (name) => `${prefix}.${name}` };
}
