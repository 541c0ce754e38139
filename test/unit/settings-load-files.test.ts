/**
 * Settings loading (docs/settings.md#locations, #loading, #merging): locations, file discovery and order,
 * YAML/JSON parsing and its errors, and how files merge into one tree.
 */
import assert from 'node:assert/strict';
import { symlink } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { loadSettingsTree, splitLocations } from '../../src/settings/index.js';
import { rejectsWith, withTree } from '../helpers/settings-fixtures.js';

describe('settings locations and file discovery', () => {
  it('splits on colons, drops empty segments and resolves relative segments against cwd', () => {
    assert.deepEqual(splitLocations('::a:/abs/b::', '/work'), ['/work/a', '/abs/b']);
    assert.deepEqual(splitLocations('', '/work'), []);
    assert.deepEqual(splitLocations(undefined, '/work'), []);
  });

  it('loads .yml/.yaml/.json files of a directory in byte order, ignoring other files and subfolders', async () => {
    await withTree(
      {
        'conf/b.yml': 'order: [b]\n',
        'conf/B.yaml': 'order: [B]\n',
        'conf/10_x.json': '{"order": ["10"]}',
        'conf/9_x.yml': "order: ['9']\n",
        'conf/README.md': 'order: [readme]\n',
        'conf/notes.yml.bak': 'order: [bak]\n',
        'conf/sub/c.yml': 'order: [sub]\n',
      },
      async (tree) => {
        const loaded = await loadSettingsTree('conf', { cwd: tree.root });
        assert.deepEqual(loaded.tree['order'], ['10', '9', 'B', 'b']);
        assert.deepEqual(loaded.locations, [tree.path('conf')]);
        assert.deepEqual(
          loaded.files,
          ['10_x.json', '9_x.yml', 'B.yaml', 'b.yml'].map((f) => tree.path(`conf/${f}`)),
        );
      },
    );
  });

  it('accepts a single file as a location and merges locations left to right', async () => {
    await withTree({ 'a/1.yml': 'x: 1\nw: a\n', 'b.yml': 'x: 2\n' }, async (tree) => {
      const loaded = await loadSettingsTree(`a:${tree.path('b.yml')}`, { cwd: tree.root });
      assert.deepEqual(loaded.tree, { x: 2, w: 'a' });
    });
  });

  it('follows symbolic links to files inside a directory', async () => {
    await withTree({ 'real/settings.yml': 'x: 1\n', 'conf/.keep': '' }, async (tree) => {
      await symlink(tree.path('real/settings.yml'), tree.path('conf/001_link.yml'));
      const loaded = await loadSettingsTree('conf', { cwd: tree.root });
      assert.deepEqual(loaded.tree, { x: 1 });
    });
  });

  it('yields an empty tree for no locations and for an empty file', async () => {
    assert.deepEqual((await loadSettingsTree('')).tree, {});
    await withTree({ 'e.yml': '# nothing here\n' }, async (tree) => {
      assert.deepEqual((await loadSettingsTree('e.yml', { cwd: tree.root })).tree, {});
    });
  });

  it('names the location when it does not exist', async () => {
    await withTree({}, async (tree) => {
      await rejectsWith(
        loadSettingsTree('missing', { cwd: tree.root }),
        tree.path('missing'),
        'no such file',
      );
    });
  });

  it('rejects a single file with another extension', async () => {
    await withTree({ 'settings.txt': 'x: 1\n' }, async (tree) => {
      await rejectsWith(
        loadSettingsTree('settings.txt', { cwd: tree.root }),
        tree.path('settings.txt'),
        '.yml',
      );
    });
  });

  it('names the file on a YAML parse error, a JSON parse error and a non-map top level', async () => {
    await withTree(
      { 'y/a.yml': 'a: [1\n', 'j/a.json': '{"a": ', 'l/a.yml': '- 1\n- 2\n', 'k/a.yml': 'on: 1\n' },
      async (tree) => {
        await rejectsWith(
          loadSettingsTree('y', { cwd: tree.root }),
          tree.path('y/a.yml'),
          'cannot parse YAML',
        );
        await rejectsWith(
          loadSettingsTree('j', { cwd: tree.root }),
          tree.path('j/a.json'),
          'cannot parse JSON',
        );
        await rejectsWith(loadSettingsTree('l', { cwd: tree.root }), tree.path('l/a.yml'), 'must be a map');
        await rejectsWith(loadSettingsTree('k', { cwd: tree.root }), tree.path('k/a.yml'), 'non-string');
      },
    );
  });
});

describe('settings merge across files', () => {
  const files = {
    'conf/001.yml': [
      'name: first',
      'map: {a: 1, nested: {keep: true, replace: old}}',
      'list: [1, 2]',
      'kept: value',
      'channels: [{name: one}]',
      'deep: {inner: {items: [a, b]}}',
      '',
    ].join('\n'),
    'conf/002.yml': [
      'name: second',
      'map: {b: 2, nested: {replace: new}}',
      'list: [3]',
      'kept: null',
      'channels!: [{name: two}]',
      'deep: {inner: {items!: [c]}}',
      'fresh: null',
      '',
    ].join('\n'),
  };

  it('merges maps recursively, replaces scalars, concatenates lists, ignores null and honours key!', async () => {
    await withTree(files, async (tree) => {
      const { tree: merged } = await loadSettingsTree('conf', { cwd: tree.root });
      assert.deepEqual(merged, {
        name: 'second',
        map: { a: 1, b: 2, nested: { keep: true, replace: 'new' } },
        list: [1, 2, 3],
        kept: 'value',
        channels: [{ name: 'two' }],
        deep: { inner: { items: ['c'] } },
        fresh: null,
      });
    });
  });

  it('records for each key path the file that last wrote it', async () => {
    await withTree(files, async (tree) => {
      const { origins } = await loadSettingsTree('conf', { cwd: tree.root });
      const first = tree.path('conf/001.yml');
      const second = tree.path('conf/002.yml');
      assert.equal(origins.get('name'), second);
      assert.equal(origins.get('map.a'), first);
      assert.equal(origins.get('map.b'), second);
      assert.equal(origins.get('list.1'), first);
      assert.equal(origins.get('list.2'), second);
      assert.equal(origins.get('kept'), first);
      assert.equal(origins.get('channels.0.name'), second);
    });
  });
});

describe('settings YAML 1.1 scalars', () => {
  it('reads yes/no/on/off as booleans, keeps dates and base-60 looking values as strings', async () => {
    await withTree(
      { 's.yml': 'a: yes\nb: off\nc: On\nd: 2021-05-17\ne: 1:20\nf: 0755\ng: "yes"\nh: 1_000\n' },
      async (tree) => {
        const { tree: value } = await loadSettingsTree('s.yml', { cwd: tree.root });
        assert.deepEqual(value, {
          a: true,
          b: false,
          c: true,
          d: '2021-05-17',
          e: '1:20',
          f: 493,
          g: 'yes',
          h: 1000,
        });
      },
    );
  });
});
