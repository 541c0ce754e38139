/** Limit hits on the process registry (core/metrics-registry.ts): who was turned away, by which limit. */
import { Counter } from 'prom-client';
import { registry } from '../core/metrics-registry.js';

/**
 * `tcp_connections`: a connection over a listener's `tcp_rate_limits`, closed at accept; `h2_flood`: an
 * HTTP/2 connection ended with ENHANCE_YOUR_CALM (floods, rapid reset, ping strikes; SECURITY.md);
 * `proxy_tokens`: a token refused because the proxy's token table is full; `proxy_pending_connections`: a
 * connection refused because too many are still presenting their ClientHello or token.
 */
export type LimitName = 'tcp_connections' | 'h2_flood' | 'proxy_tokens' | 'proxy_pending_connections';

const hits = new Counter({
  name: 'rate_limit_hits_total',
  help: 'Connections and requests turned away by a rate or size limit, by limit and listener',
  labelNames: ['limit', 'listener'] as const,
  registers: [registry],
});

/** `listener` names where it happened: a listener's label from the settings, or the protocol. */
export function countLimitHit(limit: LimitName, listener: string): void {
  hits.inc({ limit, listener });
}
