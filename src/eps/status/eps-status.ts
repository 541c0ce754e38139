/**
 * The status source of an eps (`/status.json` and the page at `/` on its metrics listener,
 * docs/status.md): identity, directory, peers, ServerCall streams, P2P tunnels, calls per minute and the
 * last errors, the store of asynchronous calls, directory transparency alarms, each from a provider of
 * its own.
 */
import type { Broker } from '../../broker/broker.js';
import type { Clock } from '../../core/clock.js';
import type { StatusSource } from '../../metrics/status.js';
import type { ChannelItem } from '../channel-registry.js';
import { directoryStatus } from './directory-view.js';
import { identityStatus } from './identity.js';
import type { StatusParts } from './parts.js';
import { peersStatus, streamsStatus, tunnelsStatus } from './peers-view.js';
import { alarmsStatus } from './alarms-view.js';
import type { Alarm } from '../../transparency/alarms.js';

export function epsStatus(
  name: string,
  channels: readonly ChannelItem[],
  broker: Broker,
  parts: StatusParts,
  clock: Clock,
  /** Directory transparency alarms (absent: the node exchanges no tips). */
  alarms?: () => readonly Alarm[],
): StatusSource {
  const identity = identityStatus(name, channels, broker.directory);
  return {
    program: 'eps',
    name,
    sections: () => {
      const now = clock.now();
      return {
        identity: identity(now),
        directory: directoryStatus(broker.directory, now),
        peers: peersStatus(name, broker.directory, parts, broker.activity),
        streams: streamsStatus(parts),
        tunnels: tunnelsStatus(parts),
        calls: {
          in_flight: broker.requestsInFlight,
          minutes: broker.activity.perMinute(),
          latency: broker.activity.latencyPerMinute(),
        },
        errors: broker.activity.lastErrors(),
        ...(broker.async
          ? { async_store: { ...broker.async.storeStatus(), tables: broker.async.status(undefined) } }
          : {}),
        ...(alarms ? { directory_alarms: alarmsStatus(alarms()) } : {}),
      };
    },
  };
}
