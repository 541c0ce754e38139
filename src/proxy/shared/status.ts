/**
 * The status source of a proxy (`/status.json` and the page at `/` on its metrics listener,
 * docs/status.md): announced domains, live spliced connections and bytes relayed, tokens waiting, and
 * rate-limit hits. Counts come from the proxy's own tables (`stats()`) and, where the metrics already
 * count something (bytes relayed, limit hits), from the metrics registry.
 */
import type { StatusSource } from '../../metrics/status.js';
import { registry } from '../../metrics/server.js';
import { metricSum } from '../../metrics/read-counter.js';
import { announcementJson, type AnnouncementTable } from './announcements.js';

/** Announcements listed at most (the count is always complete). */
export const MAX_ANNOUNCEMENTS_SHOWN = 500;

export interface ProxyStatusSource {
  kind: 'public' | 'private';
  name: string;
  announcements: AnnouncementTable;
  stats(): object;
}

const number = (stats: object, key: string): number | null => {
  const value: unknown = (stats as Record<string, unknown>)[key];
  return typeof value === 'number' ? value : null;
};

export function proxyStatus(proxy: ProxyStatusSource): StatusSource {
  return {
    program: 'proxy',
    name: proxy.name,
    sections: async () => {
      const stats = proxy.stats();
      const all = proxy.announcements.all();
      return {
        proxy: { kind: proxy.kind, name: proxy.name, announcements: all.length },
        announcements: all
          .slice(0, MAX_ANNOUNCEMENTS_SHOWN)
          .map((a) => announcementJson(proxy.kind === 'public' ? 'public' : 'private', a)),
        tunnels: {
          live: number(stats, 'tunnels'),
          pending_connections: number(stats, 'pendingConnections'),
          back_connections: number(stats, 'backConnections'),
          bytes_relayed: await metricSum(registry, 'proxy_relayed_bytes_total'),
        },
        tokens: { normal: number(stats, 'normalTokens'), p2p: number(stats, 'p2pTokens') },
        rate_limits: { hits: await metricSum(registry, 'rate_limit_hits_total') },
      };
    },
  };
}
