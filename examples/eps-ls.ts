/**
 * The "locations" example backend (`eps-ls`): JSON-RPC over plain HTTP on localhost:6666/jsonrpc with an
 * in-memory store [docs/operations.md#example-services]. `add {name, id}` stores a location, `lookup {name}`
 * finds it. Extra params such as `_client` (the calling operator, added by eps) are ignored. Environment:
 * LS_BIND_ADDRESS (default localhost:6666).
 */
import { z } from 'zod';
import { configureLogging, logger } from '../src/core/log.js';
import { dispatcher, method, MethodError } from '../src/jsonrpc/dispatcher.js';
import { JsonHttpServer } from '../src/jsonrpc/http-server.js';
import { jsonRpcServerSchema } from '../src/settings/tls-schema.js';

const log = logger('eps-ls');
export const MAX_LOCATIONS = 100_000;

export function locationsServer(bindAddress: string): JsonHttpServer {
  const locations = new Map<string, { name: string; id: string }>();
  return new JsonHttpServer(
    jsonRpcServerSchema.parse({ bind_address: bindAddress, path: '/jsonrpc' }),
    dispatcher({
      add: method(z.looseObject({ name: z.string().min(1), id: z.string().min(1) }), ({ name, id }) => {
        if (!locations.has(id) && locations.size >= MAX_LOCATIONS) {
          throw MethodError.foreign(3, 'too many locations');
        }
        locations.set(id, { name, id });
        return 'ok';
      }),
      lookup: method(z.looseObject({ name: z.string().min(1) }), ({ name }) => {
        for (const loc of locations.values()) if (loc.name === name) return loc;
        throw MethodError.foreign(2, 'not found', 'foo');
      }),
    }),
  );
}

const isMain = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('eps-ls.js');
if (isMain) {
  configureLogging({ service: 'LS_' });
  const bind = process.env.LS_BIND_ADDRESS ?? 'localhost:6666';
  const server = locationsServer(bind);
  const addr = await server.listen();
  log.info(`locations service listening on ${addr.address}:${addr.port}/jsonrpc`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
