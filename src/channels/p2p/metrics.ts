/** P2P brokering per public proxy, on the shared Prometheus registry (`metrics.bind_address`). */
import { Counter, Gauge } from 'prom-client';
import { registry } from '../../metrics/server.js';

/** `ok`: a tunnel was opened through the proxy; `failed`: brokering through it failed (the next was tried). */
export const brokeringsTotal = new Counter({
  name: 'eps_p2p_brokerings_total',
  help: 'P2P tunnels brokered by this node as caller, by public proxy and outcome',
  labelNames: ['proxy', 'outcome'] as const,
  registers: [registry],
});

/** The moving average that orders a callee's proxies (a failure counts as the penalty). */
export const brokeringAverageSeconds = new Gauge({
  name: 'eps_p2p_brokering_average_seconds',
  help: 'Moving average of the brokering time per public proxy, as used to choose among them',
  labelNames: ['proxy'] as const,
  registers: [registry],
});
