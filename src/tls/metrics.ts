/** TLS metrics on the process registry (core/metrics-registry.ts): refused peers and certificate expiry. */
import { X509Certificate } from 'node:crypto';
import { Counter, Gauge } from 'prom-client';
import { registry } from '../core/metrics-registry.js';

/**
 * Where a peer's TLS session was refused: as client of a peer's gRPC port (`grpc_client`) or of a P2P
 * tunnel (`p2p_caller`); as server on our gRPC port (`grpc_server`) or of a P2P tunnel we dialled for our
 * callee side (`p2p_callee`); at the gateway (`gateway`: another operator's certificate); at a proxy's
 * control API (`proxy_control`).
 */
export type RefusalPath =
  'grpc_client' | 'grpc_server' | 'p2p_caller' | 'p2p_callee' | 'gateway' | 'proxy_control';

const refusals = new Counter({
  name: 'tls_peer_refusals_total',
  help: 'TLS sessions refused by the peer checks (pinning, chain, validity, name), by path and reason code',
  labelNames: ['path', 'reason'] as const,
  registers: [registry],
});

/** Counts one refused session; `reason` is one of the fixed refusal codes (tls/pinned-peer.ts). */
export function countRefusal(path: RefusalPath, reason: string): void {
  refusals.inc({ path, reason });
}

const notAfter = new Gauge({
  name: 'tls_certificate_expiry_timestamp_seconds',
  help: 'End of the validity (notAfter, Unix seconds) of each certificate file this process loaded',
  labelNames: ['file'] as const,
  registers: [registry],
});

/** Records the leaf (first certificate) of a loaded certificate file; a file that does not parse is skipped. */
export function recordCertificate(file: string, pem: Buffer): void {
  try {
    notAfter.set({ file }, Math.floor(Date.parse(new X509Certificate(pem).validTo) / 1000));
  } catch {
    // loadTls reports unusable files; the gauge only describes certificates that load.
  }
}
