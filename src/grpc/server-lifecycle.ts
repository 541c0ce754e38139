/**
 * The lifetime of one server connection: closed after keepalive.maxIdleMs without calls, renewed after
 * its maximum age (GOAWAY, then a hard close after the grace), pinged when busy but silent; and the
 * timeout of a unary request's body. Timers run on the server's Clock so tests control them.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { H2Connection } from './h2/connection.js';
import type { ServerKeepalive } from './keepalive.js';

/**
 * Arms every connection-level timer of `conn`; they are cleared when it closes. Returns the connection's
 * onIdle (H2ConnectionOptions), which restarts the idle timer.
 */
export function superviseConnection(
  conn: H2Connection,
  keepalive: ServerKeepalive,
  clock: Clock,
): (idle: boolean) => void {
  limitAge(conn, keepalive, clock);
  pingAfterSilence(conn, keepalive, clock);
  return limitIdle(conn, keepalive, clock);
}

/**
 * A busy connection (long streams) from which nothing arrived for pingAfterSilenceMs must answer a ping
 * within pingTimeoutMs. One timer per connection, re-armed for the rest of the silence when it finds the
 * peer spoke meanwhile (the connection only notes the time of each read, no timer work per frame).
 */
function pingAfterSilence(conn: H2Connection, keepalive: ServerKeepalive, clock: Clock): void {
  const silenceMs = keepalive.pingAfterSilenceMs;
  let timer: TimerHandle | undefined;
  const check = (): void => {
    const silentFor = clock.now() - conn.lastReceivedAt;
    if (silentFor < silenceMs) return arm(silenceMs - silentFor);
    if (conn.activeStreams > 0) conn.keepalive(keepalive.pingTimeoutMs);
    arm(silenceMs);
  };
  const arm = (ms: number): void => {
    timer = clock.setTimeout(check, ms);
    timer.unref();
  };
  conn.onClose(() => clock.clearTimeout(timer));
  arm(silenceMs);
}

/** Closes a connection (GOAWAY) after maxIdleMs without calls, whatever pings keep it warm. */
function limitIdle(conn: H2Connection, keepalive: ServerKeepalive, clock: Clock): (idle: boolean) => void {
  let timer: TimerHandle | undefined;
  const arm = (idle: boolean): void => {
    clock.clearTimeout(timer);
    timer = undefined;
    if (!idle) return;
    timer = clock.setTimeout(() => conn.close(), keepalive.maxIdleMs);
    timer.unref();
  };
  conn.onClose(() => clock.clearTimeout(timer));
  arm(true);
  return arm;
}

/** Graceful renewal after the maximum age (GOAWAY, calls in progress finish), then a hard close. */
function limitAge(conn: H2Connection, keepalive: ServerKeepalive, clock: Clock): void {
  const age = keepalive.maxAgeMs * (0.9 + Math.random() / 5);
  let graceTimer: TimerHandle | undefined;
  const ageTimer = clock.setTimeout(() => {
    conn.close();
    graceTimer = clock.setTimeout(
      () => conn.destroy(new Error('maximum connection age reached')),
      keepalive.maxAgeGraceMs,
    );
    graceTimer.unref();
  }, age);
  ageTimer.unref();
  conn.onClose(() => {
    clock.clearTimeout(ageTimer);
    clock.clearTimeout(graceTimer);
  });
}

/** Calls `onTimeout` unless the request body is complete within requestBodyTimeoutMs (clear the handle). */
export function requestBodyTimer(
  keepalive: ServerKeepalive,
  clock: Clock,
  onTimeout: () => void,
): TimerHandle {
  return clock.setTimeout(onTimeout, keepalive.requestBodyTimeoutMs);
}
