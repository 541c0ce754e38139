/**
 * Prometheus metrics of a running proxy: its state (tunnels, pending tokens, announcements) read at scrape
 * time, and the bytes its tunnels relayed.
 */
import { Counter, Gauge } from 'prom-client';
import { registry } from '../../metrics/server.js';

/** Exposes `stats()` as `proxy_state{proxy, item}`; call once per process. */
export function registerProxyMetrics(proxy: 'public' | 'private', stats: () => object): void {
  new Gauge({
    name: 'proxy_state',
    help: 'Current proxy state: tunnels, pending tokens and connections, announcements',
    labelNames: ['proxy', 'item'] as const,
    registers: [registry],
    collect() {
      for (const [item, value] of Object.entries(stats())) {
        if (typeof value === 'number') this.set({ proxy, item }, value);
      }
    },
  });
}

/** `normal`: a public client spliced to an announced domain; `p2p`: two eps nodes; `pass-through`: private. */
export type TunnelKind = 'normal' | 'p2p' | 'pass-through';

export const relayedBytes = new Counter({
  name: 'proxy_relayed_bytes_total',
  help: 'Bytes relayed through tunnels, by tunnel kind and direction (up: from the client side, the first party)',
  labelNames: ['kind', 'direction'] as const,
  registers: [registry],
});
