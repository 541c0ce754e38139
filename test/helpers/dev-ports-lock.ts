/**
 * The dev network's fixed ports (settings/dev/README.md) are one resource per machine: the tests that
 * start dev roles on them (the demo, the installed package's demo, the first-hour walkthrough) take this
 * lock first, so they never run at the same time — not in one `npm test` run and not across checkouts of
 * the same machine. A lock whose holder has died is taken over.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait.js';

const LOCK_DIR = join(tmpdir(), 'eps-dev-ports.lock');
/** The longest a dev-ports test may wait for another one to finish (they take well under a minute each). */
export const DEV_PORTS_WAIT_MS = 300_000;

/** A lock folder without a holder's pid after this long was left by a process that died creating it. */
const ORPHAN_AFTER_MS = 10_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryTake(): boolean {
  try {
    mkdirSync(LOCK_DIR);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    let holder: number;
    try {
      holder = Number(readFileSync(join(LOCK_DIR, 'pid'), 'utf8'));
    } catch {
      // Being created or removed right now — or left without a pid by a holder that died at once.
      const age = Date.now() - (statSync(LOCK_DIR, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > ORPHAN_AFTER_MS) rmSync(LOCK_DIR, { recursive: true, force: true });
      return false;
    }
    if (!Number.isInteger(holder) || alive(holder)) return false;
    rmSync(LOCK_DIR, { recursive: true, force: true });
    return false;
  }
  writeFileSync(join(LOCK_DIR, 'pid'), String(process.pid));
  return true;
}

/** Waits for the dev ports; resolves to the function that gives them back. */
export async function lockDevPorts(timeoutMs = DEV_PORTS_WAIT_MS): Promise<() => void> {
  await waitFor(tryTake, { timeoutMs, what: `the dev ports (${LOCK_DIR})`, intervalMs: 200 });
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off('exit', release);
    rmSync(LOCK_DIR, { recursive: true, force: true });
  };
  process.once('exit', release);
  return release;
}
