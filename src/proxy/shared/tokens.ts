/**
 * One-time tokens that pair two connections at the public proxy (docs/protocol.md#token-framing): 32 random
 * bytes, sent raw as the first bytes on the internal port and as standard base64 in JSON-RPC. The table
 * holds, per token, the caller's metadata and at most one parked socket (the public client in normal mode,
 * the first P2P party otherwise); the next arrival claims it. Entries are single-use, expire after the accept
 * timeout, are freed on every failure path, and their number is capped.
 */
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { CodedError } from '../../core/errors.js';
import { countLimitHit } from '../../net/metrics.js';
import {
  DEFAULT_ACCEPT_TIMEOUT_SECONDS,
  DEFAULT_HANDSHAKE_TIMEOUT_SECONDS,
} from '../../settings/proxy-schema.js';

/** Raw token length [WIRE]. */
export const TOKEN_BYTES = 32;
/** Default lifetime of an unclaimed token / parked socket: the `accept_timeout` setting's default. */
export const DEFAULT_ACCEPT_TIMEOUT_MS = DEFAULT_ACCEPT_TIMEOUT_SECONDS * 1000;
/** Default time a new internal connection has to deliver its 32 token bytes: `handshake_timeout`'s. */
export const DEFAULT_TOKEN_READ_TIMEOUT_MS = DEFAULT_HANDSHAKE_TIMEOUT_SECONDS * 1000;
/** Default cap on live tokens. */
export const DEFAULT_MAX_TOKEN_ENTRIES = 10_000;
/** How long used or expired tokens are remembered, so a late arrival gets a precise error. */
export const SPENT_TOKEN_MEMORY_MS = 60_000;

export type TokenErrorCode =
  /** The token was never issued here (or was forgotten long ago). */
  | 'unknown'
  /** The token has already been used up. */
  | 'replayed'
  /** The token expired, was revoked, or its parked party went away. */
  | 'expired'
  /** The table holds maxEntries live tokens. */
  | 'table-full'
  /** A token that is not 32 bytes (or 44 base64 characters). */
  | 'invalid'
  /** A socket is already parked on this token (park only). */
  | 'already-parked'
  /** The connection ended before 32 token bytes arrived. */
  | 'short'
  /** The token bytes did not arrive in time. */
  | 'timeout';

export class TokenError extends CodedError<TokenErrorCode> {
  constructor(code: TokenErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'TokenError';
  }
}

export interface IssuedToken {
  /** The 32 raw bytes (what goes on the wire). */
  token: Buffer;
  /** Standard base64 with padding, 44 characters (what goes into JSON-RPC). */
  base64: string;
}

export interface TokenTableOptions<M> {
  /** Lifetime of an unclaimed entry, re-armed when a party parks (default DEFAULT_ACCEPT_TIMEOUT_MS). */
  acceptTimeoutMs?: number;
  /** Cap on live entries (default DEFAULT_MAX_TOKEN_ENTRIES). */
  maxEntries?: number;
  /** Called after an entry was dropped unclaimed (expired, revoked or abandoned); any parked socket is gone. */
  onDrop?: (meta: M, reason: 'expired' | 'revoked' | 'abandoned') => void;
}

/** Result of `arrive`: either the arriving socket is now parked, or it pairs with the parked one. */
export type Arrival<M> = { paired: false; meta: M } | { paired: true; meta: M; peer: Duplex };

interface Entry<M> {
  meta: M;
  socket: Duplex | undefined;
  timer: NodeJS.Timeout;
  onSocketClose: (() => void) | undefined;
}

/** Normalises a raw or base64 token to the base64 key, rejecting anything that is not exactly 32 bytes. */
export function tokenKey(token: Buffer | string): string {
  const raw = typeof token === 'string' ? Buffer.from(token, 'base64') : token;
  if (raw.length !== TOKEN_BYTES || (typeof token === 'string' && raw.toString('base64') !== token)) {
    throw new TokenError('invalid', `a token must be ${TOKEN_BYTES} bytes (standard base64 with padding)`);
  }
  return raw.toString('base64');
}

export class TokenTable<M> {
  private readonly acceptTimeoutMs: number;
  /** Cap on live entries. */
  readonly maxEntries: number;
  private readonly onDrop: TokenTableOptions<M>['onDrop'];
  private readonly live = new Map<string, Entry<M>>();
  /** base64 → why it is spent and when it may be forgotten; insertion order is time order. */
  private readonly spent = new Map<string, { code: 'replayed' | 'expired'; until: number }>();

  constructor(options: TokenTableOptions<M> = {}) {
    this.acceptTimeoutMs = options.acceptTimeoutMs ?? DEFAULT_ACCEPT_TIMEOUT_MS;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_TOKEN_ENTRIES;
    this.onDrop = options.onDrop;
    if (!(this.acceptTimeoutMs >= 0) || !Number.isInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new RangeError('acceptTimeoutMs must be ≥ 0 and maxEntries an integer ≥ 1');
    }
  }

  /** Number of live (unclaimed) tokens. */
  get size(): number {
    return this.live.size;
  }

  /** Whether the token is live. */
  has(token: Buffer | string): boolean {
    return this.live.has(tokenKey(token));
  }

  /**
   * Creates a token from the CSPRNG carrying `meta`; `parked` (normal mode: the public client) is held until
   * the token is claimed and destroyed when it expires. Throws TokenError('table-full') at the cap.
   */
  issue(meta: M, parked?: Duplex): IssuedToken {
    if (this.live.size >= this.maxEntries) {
      countLimitHit('proxy_tokens', 'tokens');
      throw new TokenError('table-full', `token table full (${this.maxEntries} pending connections)`);
    }
    let token = randomBytes(TOKEN_BYTES);
    while (this.live.has(token.toString('base64'))) token = randomBytes(TOKEN_BYTES);
    const key = token.toString('base64');
    const entry: Entry<M> = { meta, socket: undefined, timer: this.arm(key), onSocketClose: undefined };
    this.live.set(key, entry);
    if (parked !== undefined) this.attach(key, entry, parked);
    return { token, base64: key };
  }

  /** Parks the first arriving party on a live token and restarts its timer; returns the token's meta. */
  park(token: Buffer | string, socket: Duplex): M {
    const key = tokenKey(token);
    const entry = this.lookup(key);
    if (entry.socket !== undefined) {
      throw new TokenError('already-parked', 'a connection is already waiting on this token');
    }
    clearTimeout(entry.timer);
    entry.timer = this.arm(key);
    this.attach(key, entry, socket);
    return entry.meta;
  }

  /** Takes a live token out of the table (single use) with its meta and parked socket, if any. */
  claim(token: Buffer | string): { meta: M; socket: Duplex | undefined } {
    const key = tokenKey(token);
    const entry = this.lookup(key);
    this.remove(key, entry, 'replayed');
    return { meta: entry.meta, socket: entry.socket };
  }

  /** Internal-port arrival: pairs with the parked socket if there is one, else parks `socket`. */
  arrive(token: Buffer | string, socket: Duplex): Arrival<M> {
    const key = tokenKey(token);
    const entry = this.lookup(key);
    if (entry.socket === undefined) return { paired: false, meta: this.park(key, socket) };
    const claimed = this.claim(key);
    return { paired: true, meta: claimed.meta, peer: entry.socket };
  }

  /** Drops a live token on a failure path, destroying its parked socket. Returns whether it was live. */
  revoke(token: Buffer | string): boolean {
    const key = tokenKey(token);
    const entry = this.live.get(key);
    if (entry === undefined) return false;
    this.drop(key, entry, 'revoked');
    return true;
  }

  /** Drops every live token (destroying parked sockets) and forgets spent ones. */
  close(): void {
    for (const [key, entry] of [...this.live]) this.drop(key, entry, 'revoked');
    this.spent.clear();
  }

  private arm(key: string): NodeJS.Timeout {
    return setTimeout(() => {
      const entry = this.live.get(key);
      if (entry !== undefined) this.drop(key, entry, 'expired');
    }, this.acceptTimeoutMs);
  }

  private attach(key: string, entry: Entry<M>, socket: Duplex): void {
    entry.socket = socket;
    entry.onSocketClose = () => {
      if (this.live.get(key) === entry) this.drop(key, entry, 'abandoned');
    };
    socket.once('close', entry.onSocketClose);
  }

  private lookup(key: string): Entry<M> {
    const entry = this.live.get(key);
    if (entry !== undefined) return entry;
    this.forgetSpent();
    const spent = this.spent.get(key);
    if (spent?.code === 'replayed') throw new TokenError('replayed', 'token already used');
    if (spent?.code === 'expired') throw new TokenError('expired', 'token expired or withdrawn');
    throw new TokenError('unknown', 'unknown token');
  }

  private remove(key: string, entry: Entry<M>, code: 'replayed' | 'expired'): void {
    clearTimeout(entry.timer);
    if (entry.socket !== undefined && entry.onSocketClose !== undefined) {
      entry.socket.off('close', entry.onSocketClose);
    }
    this.live.delete(key);
    this.forgetSpent();
    this.spent.set(key, { code, until: Date.now() + SPENT_TOKEN_MEMORY_MS });
    while (this.spent.size > this.maxEntries) {
      const oldest = this.spent.keys().next();
      if (oldest.done === true) break;
      this.spent.delete(oldest.value);
    }
  }

  private drop(key: string, entry: Entry<M>, reason: 'expired' | 'revoked' | 'abandoned'): void {
    this.remove(key, entry, 'expired');
    entry.socket?.destroy();
    this.onDrop?.(entry.meta, reason);
  }

  private forgetSpent(): void {
    const now = Date.now();
    for (const [key, spent] of this.spent) {
      if (spent.until > now) break;
      this.spent.delete(key);
    }
  }
}

/**
 * Reads exactly the 32 token bytes from a fresh internal connection, however they are segmented. Anything
 * the peer sent after the token stays unread in the socket for the splice. The deadline timer and listeners
 * are removed once done; the socket is never destroyed here. Rejects with TokenError ('short' | 'timeout').
 */
export function readToken(
  socket: Duplex,
  timeoutMs: number = DEFAULT_TOKEN_READ_TIMEOUT_MS,
): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let done = false;
    const finish = (error: TokenError | undefined, token?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      if (error !== undefined) reject(error);
      else if (token !== undefined) resolve(token);
    };
    const short = (received: number, cause?: unknown): TokenError =>
      new TokenError('short', `connection closed after ${received} of ${TOKEN_BYTES} token bytes`, { cause });
    function onReadable(): void {
      const chunk: unknown = socket.read(TOKEN_BYTES);
      if (chunk === null) return;
      if (!Buffer.isBuffer(chunk) || chunk.length !== TOKEN_BYTES) {
        finish(short(Buffer.isBuffer(chunk) ? chunk.length : 0));
        return;
      }
      finish(undefined, chunk);
    }
    function onEnd(): void {
      finish(short(socket.readableLength));
    }
    function onError(error: Error): void {
      finish(short(socket.readableLength, error));
    }
    const timer = setTimeout(() => {
      finish(new TokenError('timeout', `no ${TOKEN_BYTES}-byte token within ${timeoutMs} ms`));
    }, timeoutMs);
    if (socket.destroyed || socket.readableEnded) {
      finish(short(0));
      return;
    }
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
  });
}
