/** Store and forward with the default store, a JSON Lines journal per table (test/helpers/async-outbox-suite.ts). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { outboxSuite } from '../helpers/async-outbox-suite.js';

outboxSuite('file store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eps-outbox-'));
  return {
    store: { type: 'file', settings: { directory: dir } },
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
