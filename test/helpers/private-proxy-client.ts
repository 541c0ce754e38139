/**
 * The public side of a private proxy's back-connection, played by a test: make the private proxy connect
 * back to a stand-in for the public proxy's internal port, then speak TLS and one HTTP request over it; and
 * the plain HTTP servers (internal endpoint, upstream) the proxy delivers to.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type net from 'node:net';
import tls from 'node:tls';
import { CERTS } from './network.js';
import type { Listener } from './net-pair.js';
import { callControl, clientInfo, DOMAIN, PRIVATE_NAME, PUBLIC_NAME, readExactly } from './proxy-fixtures.js';

/**
 * Makes the private proxy connect back (as on `incomingConnection` from the public proxy) to our stand-in
 * for the public proxy's internal port, and returns that socket after the 32 token bytes.
 */
export async function backConnection(
  api: number,
  publicPort: Listener,
  endpoint: string,
): Promise<net.Socket> {
  const accepted = publicPort.accept();
  await callControl(
    api,
    'incomingConnection',
    { domain: DOMAIN, endpoint, token: randomBytes(32).toString('base64'), _client: clientInfo(PUBLIC_NAME) },
    { as: PRIVATE_NAME },
  );
  const socket = await accepted;
  await readExactly(socket, 32);
  return socket;
}

/** Starts `server` on a free loopback port and returns the port. */
export async function startHttp(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** Stops `server`, closing its open connections. */
export async function stopHttp(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** Plays the public client over a back-connection: TLS to the private proxy, one HTTP request. */ export async function requestOver(
  socket: net.Socket,
  opts: { method?: string; path?: string; body?: string; contentType?: string; as?: string } = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const identity =
    opts.as === undefined
      ? {}
      : {
          cert: readFileSync(join(CERTS, `${opts.as}.crt`)),
          key: readFileSync(join(CERTS, `${opts.as}.key`)),
        };
  const secure = tls.connect({
    socket,
    servername: DOMAIN,
    ca: readFileSync(join(CERTS, 'root.crt')),
    ALPNProtocols: ['http/1.1'],
    ...identity,
  });
  secure.on('error', () => undefined);
  await once(secure, 'secureConnect');
  assert.equal(secure.alpnProtocol, 'http/1.1');
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        createConnection: () => secure,
        method: opts.method ?? 'GET',
        path: opts.path ?? '/',
        headers: { host: DOMAIN, ...(opts.contentType ? { 'content-type': opts.contentType } : {}) },
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}
