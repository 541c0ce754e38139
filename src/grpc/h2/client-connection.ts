/** The client side of an HTTP/2 connection (see connection.ts): opens streams, receives responses. */
import type { Duplex } from 'node:stream';
import { H2Connection } from './connection.js';

export { H2Stream, StreamError, type StreamEvents } from './connection.js';

export class H2ClientConnection extends H2Connection {
  constructor(socket: Duplex) {
    super(socket, 'client');
  }
}
