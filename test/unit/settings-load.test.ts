/**
 * Settings loading (docs/settings.md#loading): locations, file discovery and
 * order, merge rules, vars, substitution, $DIR/$PATH, $include/$ref and loading errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { SettingsError, loadSettingsTree, splitLocations } from '../../src/settings/index.js';
import { withTree } from '../helpers/settings-fixtures.js';

async function rejectsWith(promise: Promise<unknown>, ...fragments: string[]): Promise<SettingsError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SettingsError, `expected SettingsError, got ${String(error)}`);
    for (const fragment of fragments) {
      assert.ok(
        error.message.includes(fragment),
        `message ${JSON.stringify(error.message)} lacks ${fragment}`,
      );
    }
    return error;
  }
  assert.fail('expected a SettingsError');
}

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
