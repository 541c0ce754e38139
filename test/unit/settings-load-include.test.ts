/**
 * Settings loading (docs/settings.md#includes): $include of other files and $ref within a file.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSettingsTree } from '../../src/settings/index.js';
import { rejectsWith, withTree } from '../helpers/settings-fixtures.js';

describe('settings $include and $ref', () => {
  it('merges included files into the surrounding map in document order, with their own vars and $DIR', async () => {
    await withTree(
      {
        'conf/001.yml': [
          'vars:',
          '  OP: {type: string, source: literal, value: outer}',
          'name: $OP',
          'tls:',
          '  verify_client: false',
          '  $include: parts/tls.yml',
          '  server_name: after',
          'many: {$include: [parts/a.json, parts/b.yml]}',
          'list: [0, {$include: parts/list.yml}, 9]',
          'whole: {$include: parts/scalar.yml}',
          '',
        ].join('\n'),
        'conf/parts/tls.yml': [
          'vars:',
          '  OP: {type: string, source: literal, value: inner}',
          'ca_certificate_files: ["/$DIR/root.crt"]',
          'verify_client: true',
          'server_name: $OP',
          '',
        ].join('\n'),
        'conf/parts/a.json': '{"x": [1], "y": "a"}',
        'conf/parts/b.yml': 'x: [2]\n',
        'conf/parts/list.yml': '- 1\n- 2\n',
        'conf/parts/scalar.yml': 'just text\n',
      },
      async (tree) => {
        const loaded = await loadSettingsTree('conf', { cwd: tree.root });
        assert.deepEqual(loaded.tree, {
          name: 'outer',
          tls: {
            verify_client: true,
            ca_certificate_files: [tree.path('conf/parts/root.crt')],
            server_name: 'after',
          },
          many: { x: [1, 2], y: 'a' },
          list: [0, 1, 2, 9],
          whole: 'just text',
        });
        assert.equal(loaded.origins.get('tls.verify_client'), tree.path('conf/parts/tls.yml'));
        assert.equal(loaded.origins.get('tls.server_name'), tree.path('conf/001.yml'));
        assert.ok(loaded.files.includes(tree.path('conf/parts/b.yml')));
      },
    );
  });

  it('rejects absolute include paths, other extensions, cycles and non-map content next to siblings', async () => {
    await withTree(
      {
        'abs/1.yml': `x: {$include: ${JSON.stringify(join('/', 'etc', 'x.yml'))}}\n`,
        'ext/1.yml': 'x: {$include: x.txt}\n',
        'cyc/1.yml': 'x: {$include: ../loop/a.yml}\n',
        'loop/a.yml': 'a: {$include: b.yml}\n',
        'loop/b.yml': 'b: {$include: a.yml}\n',
        'sib/1.yml': 'x: {$include: list.yml, z: 1}\n',
        'sib/list.yml': '- 1\n',
      },
      async (tree) => {
        await rejectsWith(loadSettingsTree('abs', { cwd: tree.root }), 'absolute paths are not allowed');
        await rejectsWith(loadSettingsTree('ext', { cwd: tree.root }), 'x.txt');
        await rejectsWith(loadSettingsTree('cyc', { cwd: tree.root }), 'cycle');
        await rejectsWith(
          loadSettingsTree('sib', { cwd: tree.root }),
          'must hold a map',
          tree.path('sib/1.yml'),
        );
      },
    );
  });

  it('replaces {$ref: path} with the value at that path of the same file, lists indexed by number', async () => {
    await withTree(
      {
        's.yml': [
          'certs: {root: /r.crt, list: [/a.crt, /b.crt]}',
          'tls: {ca: {$ref: certs.root}, second: {$ref: certs.list.1}, chain: {$ref: alias}}',
          'alias: {$ref: certs.list}',
          'not_ref: {$ref: certs.root, other: 1}',
          '',
        ].join('\n'),
        'bad.yml': 'x: {$ref: certs.nope}\ncerts: {}\n',
        'range.yml': 'x: {$ref: l.5}\nl: [1]\n',
        'self.yml': 'x: {$ref: x}\n',
      },
      async (tree) => {
        const { tree: value } = await loadSettingsTree('s.yml', { cwd: tree.root });
        assert.deepEqual(value['tls'], { ca: '/r.crt', second: '/b.crt', chain: ['/a.crt', '/b.crt'] });
        assert.deepEqual(value['alias'], ['/a.crt', '/b.crt']);
        assert.deepEqual(value['not_ref'], { $ref: 'certs.root', other: 1 });
        await rejectsWith(loadSettingsTree('bad.yml', { cwd: tree.root }), "key 'nope' not found");
        await rejectsWith(loadSettingsTree('range.yml', { cwd: tree.root }), "index '5'");
        await rejectsWith(loadSettingsTree('self.yml', { cwd: tree.root }), 'refers to itself');
      },
    );
  });
});
