/**
 * Waits on a raw connection for the client's first TLS handshake message (the ClientHello) to have arrived
 * whole, at the level of TLS records only: content type, record lengths and the handshake message's
 * length; the hello itself is left to OpenSSL. The handshake guard hands a connection to the TLS server
 * only then, so that connections that send nothing or part of a hello cost a socket, not TLS state.
 */
import type net from 'node:net';

const RECORD_HEADER_BYTES = 5;
const CONTENT_TYPE_HANDSHAKE = 22;
const HANDSHAKE_HEADER_BYTES = 4;
const MAX_RECORD_PAYLOAD_BYTES = 16_384;
/** Bytes a ClientHello may take, records included (real ones are a few hundred bytes to ~2 KB). */
export const MAX_CLIENT_HELLO_BYTES = 2 * (MAX_RECORD_PAYLOAD_BYTES + RECORD_HEADER_BYTES);

/** A whole ClientHello has arrived; or not yet, with `invalid` saying why it never will. */
export type HelloProgress = { complete: true } | { complete: false; invalid?: string };

/** Examines the bytes received so far. */
export function clientHelloProgress(bytes: Buffer): HelloProgress {
  let offset = 0;
  let handshakeBytes = 0;
  let messageBytes: number | undefined;
  while (offset + RECORD_HEADER_BYTES <= bytes.length) {
    if (bytes[offset] !== CONTENT_TYPE_HANDSHAKE) {
      return { complete: false, invalid: `record of content type ${bytes[offset]}, not handshake` };
    }
    const length = bytes.readUInt16BE(offset + 3);
    if (length === 0 || length > MAX_RECORD_PAYLOAD_BYTES) {
      return { complete: false, invalid: `record length ${length}` };
    }
    const start = offset + RECORD_HEADER_BYTES;
    if (messageBytes === undefined && start + HANDSHAKE_HEADER_BYTES <= bytes.length) {
      messageBytes = HANDSHAKE_HEADER_BYTES + bytes.readUIntBE(start + 1, 3);
    }
    handshakeBytes += Math.min(length, bytes.length - start);
    if (messageBytes !== undefined && handshakeBytes >= messageBytes) return { complete: true };
    offset = start + length;
  }
  if (offset < bytes.length && bytes[offset] !== CONTENT_TYPE_HANDSHAKE) {
    return { complete: false, invalid: `record of content type ${bytes[offset]}, not handshake` };
  }
  if (bytes.length > MAX_CLIENT_HELLO_BYTES || (messageBytes ?? 0) > MAX_CLIENT_HELLO_BYTES) {
    return { complete: false, invalid: `ClientHello above ${MAX_CLIENT_HELLO_BYTES} bytes` };
  }
  return { complete: false };
}

/**
 * Reads from `socket` until a whole ClientHello has arrived; resolves with every byte read, the socket
 * paused, for the caller to unshift. Rejects when the bytes cannot be one, or the socket closes first.
 * No timer: the caller's deadline destroys the socket.
 */
export function awaitClientHello(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    const done = (): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
    };
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const progress = clientHelloProgress(received);
      if (progress.complete) {
        done();
        resolve(received);
      } else if (progress.invalid !== undefined) {
        done();
        reject(new Error(progress.invalid));
      }
    };
    const onClose = (): void => {
      done();
      reject(new Error('closed before the ClientHello was complete'));
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
