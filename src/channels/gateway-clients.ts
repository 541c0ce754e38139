/**
 * Who may use an operator's gateway: its local applications, which act as the operator. Any client
 * certificate that chains to the configured CAs passes TLS, and operators of one network usually share a
 * CA, so TLS alone would let another operator's node certificate in, acting as us (sending calls in our
 * name, answering our asynchronous requests with `respond`, reading `_status`). A client whose certificate
 * the directory pins for another operator is therefore refused at the TLS session, before any request.
 * Certificates the directory does not pin (local applications) and our own pass, as with the original.
 */
import type { Server } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { DirectoryEntry } from '../core/directory-entry.js';
import { logger } from '../core/log.js';
import { identitiesFor, peerKey } from '../tls/identity.js';
import { countRefusal } from '../tls/metrics.js';

const log = logger('gateway');

/** Names of other operators the directory pins `socket`'s client certificate for (empty: allowed). */
export function foreignOperators(
  socket: TLSSocket,
  ownName: string,
  lookup: (name: string) => DirectoryEntry | undefined,
): string[] {
  const key = peerKey(socket.getPeerCertificate());
  if (!key) return [];
  return identitiesFor(key, lookup)
    .map((i) => i.name)
    .filter((name) => name !== ownName);
}

/** Refuses, at the TLS session, gateway clients that are another operator's pinned certificate. */
export function refuseOtherOperators(
  server: Server,
  ownName: string,
  lookup: (name: string) => DirectoryEntry | undefined,
): void {
  server.on('secureConnection', (socket: TLSSocket) => {
    const others = foreignOperators(socket, ownName, lookup);
    if (others.length === 0) return;
    countRefusal('gateway', 'ERR_CERT_PEER_OTHER_OPERATOR');
    log.warn('gateway client refused: its certificate is pinned for another operator', {
      operators: others.join(','),
      remote: socket.remoteAddress,
    });
    socket.destroy();
  });
}
