// Key paths with a dot inside a key (issue 13): a method name such as `ls-1.add` under `method_ttl` is one
// key, so schema errors and undefined variables under it name it in brackets and quotes — in the `run`
// error message, in the problem's keys, and in the `settings check` report — instead of as two keys.
import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { describe, it } from 'node:test';
import { loadEpsSettings, SettingsError } from '../../src/settings/index.js';
import { checkSettings, exitCodeOf, formatReport } from '../../src/settings-check/index.js';
import { tempTree } from '../helpers/settings-fixtures.js';

const BASE = [
  'name: node-a',
  'directory: {type: json, settings: {path: /x}}',
  'channels:',
  '  - {name: out, type: stdout, settings: {}}',
];

async function failure(lines: string[]): Promise<{ error: SettingsError; report: string; code: number }> {
  const tree = await tempTree({ 'settings/001.yml': [...BASE, ...lines].join('\n') + '\n' });
  try {
    const error = await loadEpsSettings(tree.path('settings')).then(
      () => assert.fail('the settings loaded'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof SettingsError, String(error));
    const findings = await checkSettings('eps', tree.path('settings'), { offline: true });
    const report = formatReport(findings, (file) => relative(tree.root, file));
    return { error, report, code: exitCodeOf(findings) };
  } finally {
    await tree.remove();
  }
}

describe('key paths with dots inside keys', () => {
  it('a schema error under method_ttl["ls-1.add"]', async () => {
    const { error, report, code } = await failure([
      'async:',
      '  outbox:',
      "    method_ttl: {'ls-1.add': soon}",
    ]);
    const [problem] = error.problems;
    assert.deepEqual(problem?.keys, ['async', 'outbox', 'method_ttl', 'ls-1.add']);
    assert.equal(problem?.path, 'async.outbox.method_ttl["ls-1.add"]');
    assert.match(error.message, /at async\.outbox\.method_ttl\["ls-1\.add"\]: expected/);
    assert.ok(
      report.includes('ERROR settings/001.yml: async.outbox.method_ttl["ls-1.add"]: expected'),
      report,
    );
    assert.equal(code, 1);
  });

  it('an undefined variable under a dotted key', async () => {
    const { error, report } = await failure(['async:', '  outbox:', "    method_ttl: {'ls-1.add': $NOPE}"]);
    assert.deepEqual(error.problems[0]?.keys, ['async', 'outbox', 'method_ttl', 'ls-1.add']);
    assert.match(error.message, /at async\.outbox\.method_ttl\["ls-1\.add"\]: undefined variable 'NOPE'/);
    assert.ok(report.includes('async.outbox.method_ttl["ls-1.add"]: undefined variable'), report);
  });

  it('plain paths print as before', async () => {
    const { error, report } = await failure(['async:', '  outbox: {ttl: soon}']);
    assert.equal(error.problems[0]?.path, 'async.outbox.ttl');
    assert.ok(report.includes('settings/001.yml: async.outbox.ttl: expected'), report);
  });
});
