/** Prometheus gauges of a running proxy (tunnels, pending tokens, announcements), read at scrape time. */
import { Gauge } from 'prom-client';
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
