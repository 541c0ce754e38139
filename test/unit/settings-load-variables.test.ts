/**
 * Settings loading (docs/settings.md#variables): vars (env, literal, prompt), substitution,
 * $DIR and their errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { loadSettingsTree } from '../../src/settings/index.js';
import { rejectsWith, withTree } from '../helpers/settings-fixtures.js';

describe('settings variables and substitution', () => {
  it('takes env variables, literals and prompts, converting int and float', async () => {
    await withTree(
      {
        's.yml': [
          'vars:',
          '  OP: {type: string, source: env, variable: EPS_OP}',
          '  PORT: {type: int, source: env, variable: EPS_PORT}',
          '  RATIO: {type: float, source: literal, value: "2.5"}',
          '  COUNT: {type: int, source: literal, value: 7}',
          '  ANY: {type: any, source: literal, value: {k: [1, 2]}}',
          '  SECRET: {type: string, source: prompt, sensitive: true}',
          'name: $OP',
          'port: $PORT',
          'ratio: $RATIO',
          'count: $COUNT',
          'any: $ANY',
          'secret: $SECRET',
          'address: "localhost:$PORT"',
          'text: "ratio=$RATIO count=$COUNT"',
          '',
        ].join('\n'),
      },
      async (tree) => {
        const asked: [string, boolean][] = [];
        const { tree: value } = await loadSettingsTree('s.yml', {
          cwd: tree.root,
          env: { EPS_OP: 'hd-1', EPS_PORT: '5555' },
          prompt: async (question, sensitive) => {
            asked.push([question, sensitive]);
            return 'typed';
          },
        });
        assert.deepEqual(value, {
          name: 'hd-1',
          port: 5555,
          ratio: 2.5,
          count: 7,
          any: { k: [1, 2] },
          secret: 'typed',
          address: 'localhost:5555',
          text: 'ratio=2.5 count=7',
        });
        assert.deepEqual(asked, [["Please provide a value for variable 'SECRET': ", true]]);
      },
    );
  });

  it('fails naming the environment variable when it is unset (an empty value is accepted)', async () => {
    await withTree(
      { 's.yml': 'vars:\n  OP: {type: string, source: env, variable: EPS_OP}\nname: "x$OP"\n' },
      async (tree) => {
        await rejectsWith(
          loadSettingsTree('s.yml', { cwd: tree.root, env: {} }),
          'EPS_OP',
          tree.path('s.yml'),
        );
        const loaded = await loadSettingsTree('s.yml', { cwd: tree.root, env: { EPS_OP: '' } });
        assert.equal(loaded.tree['name'], 'x');
      },
    );
  });

  it('fails naming the variable when a value does not convert or is not a string', async () => {
    await withTree(
      {
        'i.yml': 'vars:\n  PORT: {type: int, source: env, variable: P}\n',
        'f.yml': 'vars:\n  R: {type: float, source: literal, value: abc}\n',
        's.yml': 'vars:\n  S: {type: string, source: literal, value: 12}\n',
      },
      async (tree) => {
        await rejectsWith(
          loadSettingsTree('i.yml', { cwd: tree.root, env: { P: '12ab' } }),
          "'PORT'",
          'integer',
        );
        await rejectsWith(loadSettingsTree('f.yml', { cwd: tree.root }), "'R'", 'float');
        await rejectsWith(loadSettingsTree('s.yml', { cwd: tree.root }), "'S'", 'string');
      },
    );
  });

  it('applies $$, leaves $ before a non-letter alone and never substitutes keys', async () => {
    await withTree(
      {
        's.yml': [
          'vars:',
          '  A: {type: string, source: literal, value: alpha}',
          'escaped: "$$A costs $$5"',
          'double: "$$$A"',
          "regex: '^http(?:s)?://localhost\\:\\d+$'",
          'price: "5$ or $1 or $ alone or $"',
          'list: ["$A", "x-$A-y", {inner: "$A"}]',
          '$A: key-kept',
          'nested: {$A: "$A"}',
          '',
        ].join('\n'),
      },
      async (tree) => {
        const { tree: value } = await loadSettingsTree('s.yml', { cwd: tree.root });
        assert.equal(value['escaped'], '$A costs $5');
        assert.equal(value['double'], '$alpha');
        assert.equal(value['regex'], '^http(?:s)?://localhost\\:\\d+$');
        assert.equal(value['price'], '5$ or $1 or $ alone or $');
        assert.deepEqual(value['list'], ['alpha', 'x-alpha-y', { inner: 'alpha' }]);
        assert.equal(value['$A'], 'key-kept');
        assert.deepEqual(value['nested'], { $A: 'alpha' });
      },
    );
  });

  it('keeps variables file-scoped', async () => {
    await withTree(
      {
        'conf/001.yml': 'vars:\n  OP: {type: string, source: literal, value: one}\nname: $OP\n',
        'conf/002.yml': 'other: $OP\n',
      },
      async (tree) => {
        await rejectsWith(loadSettingsTree('conf', { cwd: tree.root }), "'OP'", tree.path('conf/002.yml'));
      },
    );
  });

  it('names the undefined variable and file without dumping any variable values', async () => {
    await withTree(
      {
        's.yml':
          'vars:\n  PW: {type: string, source: env, variable: SECRET_PW}\npassword: $PW\nname: $NOPE\n',
      },
      async (tree) => {
        const error = await rejectsWith(
          loadSettingsTree('s.yml', { cwd: tree.root, env: { SECRET_PW: 'hunter2-very-secret' } }),
          "undefined variable 'NOPE'",
          tree.path('s.yml'),
          'at name',
        );
        assert.ok(!error.message.includes('hunter2-very-secret'));
        assert.ok(!error.message.includes(tree.root.slice(1) + '/s.yml:'), 'no DIR/PATH dump');
      },
    );
  });

  it('rejects embedding a map-valued variable in a longer string', async () => {
    await withTree(
      { 's.yml': 'vars:\n  M: {type: any, source: literal, value: {a: 1}}\nx: "pre-$M"\n' },
      async (tree) => {
        await rejectsWith(loadSettingsTree('s.yml', { cwd: tree.root }), "'M'", 'cannot be embedded');
      },
    );
  });

  it('expands $DIR without its leading slash so "/$DIR/../../certs/x.crt" is absolute', async () => {
    await withTree(
      {
        'settings/dev/certs/hd-1.crt': 'CERT',
        'settings/dev/roles/hd-1/001_default.yml':
          'cert: "/$DIR/../../certs/hd-1.crt"\ndir: $DIR\npath: $PATH\nabs: "/$PATH"\n',
      },
      async (tree) => {
        const file = tree.path('settings/dev/roles/hd-1/001_default.yml');
        const { tree: value, warnings } = await loadSettingsTree('settings/dev/roles/hd-1', {
          cwd: tree.root,
        });
        const cert = value['cert'] as string;
        assert.ok(cert.startsWith('/') && !cert.startsWith('//'));
        assert.equal(resolve(cert), tree.path('settings/dev/certs/hd-1.crt'));
        assert.equal(readFileSync(cert, 'utf8'), 'CERT');
        assert.equal(value['dir'], tree.path('settings/dev/roles/hd-1').slice(1));
        assert.equal(value['path'], file.slice(1));
        assert.equal(value['abs'], file);
        assert.deepEqual(warnings, []);
      },
    );
  });

  it('overwrites a user variable named DIR with a warning', async () => {
    await withTree(
      { 's.yml': 'vars:\n  DIR: {type: string, source: literal, value: nope}\nd: $DIR\n' },
      async (tree) => {
        const loaded = await loadSettingsTree('s.yml', { cwd: tree.root });
        assert.equal(loaded.tree['d'], tree.root.slice(1));
        assert.equal(loaded.warnings.length, 1);
        assert.match(loaded.warnings[0] ?? '', /DIR/);
      },
    );
  });

  it('fails a prompt variable without a terminal instead of blocking', () => {
    const code = [
      "import { loadSettingsTree } from './src/settings/load.ts';",
      'try { await loadSettingsTree(process.argv[1]); console.log("loaded"); }',
      'catch (e) { console.log(e.message); }',
    ].join('\n');
    return withTree({ 'p.yml': 'vars:\n  X: {type: string, source: prompt}\nx: $X\n' }, async (tree) => {
      const child = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', code, tree.path('p.yml')],
        {
          cwd: resolve(import.meta.dirname, '../..'),
          stdio: ['pipe', 'pipe', 'pipe'],
          input: '',
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      assert.match(child.stdout, /prompt variables need a terminal/);
      assert.match(child.stdout, /'X'/);
    });
  });
});
