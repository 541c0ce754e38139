/**
 * The two-node network of the raw gRPC benchmarks: ls-1 answers `_ping` over `/EPS/Call` to hd-1, whose
 * identity the benchmark's own clients use (hd-1 itself need not run).
 */
import { TestNetwork } from '../test/helpers/network.js';

export function pingNetwork(): TestNetwork {
  const all = [{ group: 'health-departments', rights: ['call'] }];
  return new TestNetwork([
    { name: 'hd-1', groups: ['health-departments'], grpcServer: true },
    {
      name: 'ls-1',
      groups: ['location-services'],
      grpcServer: true,
      services: [{ name: 'internals', permissions: all, methods: [{ name: '_ping' }] }],
    },
  ]);
}
