/** Open ServerCall (reverse) streams, on the shared Prometheus registry (`metrics.bind_address`). */
import { Gauge } from 'prom-client';
import { registry } from '../../metrics/server.js';

/** `accepted`: streams peers opened to our gRPC server; `dialled`: streams we keep to peers' servers. */
export const reverseStreamsOpen = new Gauge({
  name: 'eps_reverse_streams_open',
  help: 'ServerCall (reverse) streams open now, by side (accepted from peers, dialled to peers)',
  labelNames: ['side'] as const,
  registers: [registry],
});
