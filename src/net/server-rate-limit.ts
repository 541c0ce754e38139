/** Applies `tcp_rate_limits` settings to a listening server (no-op when none are configured). */
import type net from 'node:net';
import type tls from 'node:tls';
import { logger } from '../core/log.js';
import { attachRateLimit, ConnectionRateLimiter, type RateLimit } from './rate-limit.js';
import { countLimitHit } from './metrics.js';

const log = logger('rate-limit');

export function applyRateLimits(
  server: net.Server | tls.Server,
  limits: readonly RateLimit[] | undefined,
  label: string,
): void {
  if (!limits || limits.length === 0) return;
  attachRateLimit(server, new ConnectionRateLimiter(limits), {
    onReject: ({ ip }) => {
      countLimitHit('tcp_connections', label);
      log.debug('connection over the rate limit closed', { listener: label, ip });
    },
  });
}
