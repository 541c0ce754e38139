/**
 * Cross-process exclusive lock for the file datastore: a lock file next to the store (`<file>.lock`) holding
 * the owner's pid, host name and start time. Node has no flock(); the owner writes a file of its own and
 * hard-links it to the lock's name, which is atomic and fails when the name exists on local file systems (the
 * file store is not meant for NFS, docs/settings.md#datastore-settings), so the lock file never exists
 * without its owner in it — a process killed while taking the lock leaves no empty lock behind (an empty
 * one, from a version that wrote the owner after creating the file, counts as stale). A lock left behind by a crashed process is taken over when its owner
 * pid is gone (same host) or when it is older than LOCK_STALE_AFTER_MS; the takeover renames the stale file
 * away first and checks it renamed the file it judged stale, so two waiters cannot both remove it and both
 * enter.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { logger } from '../core/log.js';
import { CodedError, errorMessage } from '../core/errors.js';

const log = logger('datastore');

/** How long `acquire` waits for another holder before failing. */
export const LOCK_WAIT_TIMEOUT_MS = 10_000;
/** A lock older than this is stale whoever holds it (appends hold it for milliseconds). */
export const LOCK_STALE_AFTER_MS = 60_000;
const FIRST_POLL_MS = 1;
const MAX_POLL_MS = 25;
const LOCK_FILE_MODE = 0o600;

export class FileLockError extends CodedError<'ERR_DATASTORE_LOCK'> {
  override readonly name = 'FileLockError';

  constructor(message: string, options?: ErrorOptions) {
    super('ERR_DATASTORE_LOCK', message, options);
  }
}

interface Owner {
  pid: number;
  host: string;
  text: string;
}

export class FileLock {
  private held = false;
  private readonly token = `${process.pid} ${hostname()} ${Date.now()} ${randomBytes(8).toString('hex')}\n`;

  constructor(
    readonly path: string,
    private readonly timeoutMs = LOCK_WAIT_TIMEOUT_MS,
  ) {}

  async acquire(): Promise<void> {
    if (this.held) throw new FileLockError(`lock ${this.path} is already held by this instance`);
    const deadline = Date.now() + this.timeoutMs;
    let pause = FIRST_POLL_MS;
    for (;;) {
      if (await this.tryCreate()) {
        this.held = true;
        return;
      }
      const owner = await readOwner(this.path);
      if (owner === undefined) continue; // released (or being replaced) meanwhile: try again at once
      if (await this.isStale(owner)) {
        await this.takeOver(owner);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new FileLockError(
          `could not lock ${this.path} within ${this.timeoutMs} ms: held by pid ${owner.pid} on ${owner.host}`,
        );
      }
      await delay(pause);
      pause = Math.min(pause * 2, MAX_POLL_MS);
    }
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    try {
      await unlink(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** Runs `work` while holding the lock. */
  async with<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      await this.release();
    }
  }

  private async tryCreate(): Promise<boolean> {
    const mine = `${this.path}.${process.pid}-${randomBytes(6).toString('hex')}`;
    try {
      const handle = await open(mine, 'wx', LOCK_FILE_MODE);
      try {
        await handle.writeFile(this.token);
      } finally {
        await handle.close();
      }
      await link(mine, this.path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new FileLockError(`cannot create lock file ${this.path}: ${errorMessage(err)}`);
    } finally {
      await unlink(mine).catch(() => undefined);
    }
  }

  private async isStale(owner: Owner): Promise<boolean> {
    if (owner.text === '') return true;
    if (owner.host === hostname() && !processAlive(owner.pid)) return true;
    try {
      const info = await stat(this.path);
      return Date.now() - info.mtimeMs > LOCK_STALE_AFTER_MS;
    } catch {
      return false;
    }
  }

  private async takeOver(owner: Owner): Promise<void> {
    const aside = `${this.path}.stale-${randomBytes(6).toString('hex')}`;
    try {
      await rename(this.path, aside);
    } catch {
      return; // someone else moved it first
    }
    const moved = await readFile(aside, 'utf8').catch(() => '');
    if (moved === owner.text) {
      log.warn(`removed stale lock ${this.path} of pid ${owner.pid} on ${owner.host}`);
      await unlink(aside).catch(() => undefined);
      return;
    }
    // We moved a fresh lock taken by another waiter in between: put it back unless yet another one exists.
    try {
      await link(aside, this.path);
    } catch {
      log.warn(`lock ${this.path} changed hands during a stale-lock takeover`);
    }
    await unlink(aside).catch(() => undefined);
  }
}

async function readOwner(path: string): Promise<Owner | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const [pid, host] = text.split(' ');
  return { pid: Number(pid) || 0, host: host ?? '', text };
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
