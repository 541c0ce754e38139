/** P2P brokering per public proxy, on the shared Prometheus registry (`metrics.bind_address`). */
import { Counter, Gauge, Histogram } from 'prom-client';
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

/** Each brokering attempt through one proxy, from asking it to a verified tunnel (or the failure). */
export const brokeringSeconds = new Histogram({
  name: 'eps_p2p_brokering_duration_seconds',
  help: 'Time to broker a P2P tunnel through a public proxy (ask, callee dials, TLS), by proxy and outcome',
  labelNames: ['proxy', 'outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

/** Open P2P tunnels: `caller`, sessions we brokered to a callee; `callee`, connections we dialled for one. */
export const tunnelsOpen = new Gauge({
  name: 'eps_p2p_tunnels_open',
  help: 'P2P tunnels through public proxies open now, by side (caller or callee)',
  labelNames: ['side'] as const,
  registers: [registry],
});

/** Counts `socket` as an open tunnel of `side` until it closes. */
export function trackTunnel(
  side: 'caller' | 'callee',
  socket: { once(e: 'close', f: () => void): unknown },
): void {
  tunnelsOpen.inc({ side });
  socket.once('close', () => tunnelsOpen.dec({ side }));
}
