/**
 * The drain notice of a stopping public proxy (docs/protocol.md#p2p, "Proxy stop"): the proxy cannot speak
 * inside the end-to-end TLS of its P2P tunnels, so it asks its own EPS node — `<own name>._proxyDraining`
 * with its internal endpoint, through the node's gateway like every control call — to tell the callees.
 * The node sends a notice on the reverse stream each callee keeps to it, and the callee sends HTTP/2 GOAWAY
 * inside its tunnels through this proxy. The answer names the operators told; their tunnels may then end
 * by themselves. A node that does not know the method (the original's) answers an error: nobody was told,
 * and the stop goes on as before.
 */
import { isJsonObject } from '../../core/json.js';
import { errorMessage } from '../../core/errors.js';
import { logger } from '../../core/log.js';
import type { Deadline } from '../../core/deadline.js';
import { PROXY_DRAINING_METHOD } from '../../broker/internal-methods.js';
import type { EpsCaller } from '../shared/eps-link.js';

const log = logger('public-proxy');

/**
 * Sends the notice when a live P2P tunnel has a callee (`parties`), within `within`; resolves with the
 * operators told (empty when none, on any failure, or when `within` passed first). Never rejects.
 */
export async function noticeDrain(
  eps: EpsCaller,
  own: { name: string; internal_endpoint: string },
  parties: ReadonlySet<string>,
  within: Deadline,
): Promise<Set<string>> {
  if (parties.size === 0) return new Set();
  let timer: ReturnType<Deadline['onExpire']>;
  const late = new Promise<'late'>((resolve) => (timer = within.onExpire(() => resolve('late'))));
  try {
    const call = eps.call(`${own.name}.${PROXY_DRAINING_METHOD}`, { endpoint: own.internal_endpoint });
    const reply = await Promise.race([call, late]);
    if (reply === 'late') {
      log.warn('drain notice not answered in time; live tunnels are cut after the drain', {});
      return new Set();
    }
    if (reply.error !== undefined) {
      log.warn('the own EPS did not take the drain notice', { error: reply.error.message });
      return new Set();
    }
    const told = isJsonObject(reply.result) ? reply.result.notified : undefined;
    const names = Array.isArray(told) ? told.filter((n): n is string => typeof n === 'string') : [];
    log.info('drain notice sent: callees send GOAWAY in their tunnels', {
      told: names.join(','),
      tunnels_to: [...parties].join(','),
    });
    return new Set(names);
  } catch (error) {
    log.warn('drain notice failed', { error: errorMessage(error) });
    return new Set();
  } finally {
    within.cancelExpire(timer);
  }
}
