/**
 * Service directory and proxy settings (docs/settings.md#sd-settings, docs/settings.md#proxy-settings):
 * defaults, datastores, bounds, and the required parts of each schema.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SettingsError, loadProxySettings, loadSdSettings } from '../../src/settings/index.js';
import { tlsYaml, withTree } from '../helpers/settings-fixtures.js';

const SD1 = `
jsonrpc_server:
  bind_address: localhost:3322
  tcp_rate_limits: [{type: second, limit: 10}, {type: minute, limit: 1000}]
  cors: {allowed_hosts: ['^http(?:s)?://localhost\\:\\d+$']}
  tls: ${tlsYaml('sd-1')}
directory:
  ca_certificate_files: ["/$DIR/certs/root.crt"]
  ca_intermediate_certificate_files: ["/$DIR/certs/intermediate.crt"]
  datastore:
    type: redis
    settings: {addresses: ["127.0.0.1:6379"], database: 0, password: "", key: sd-entries}
`;

async function failure(run: () => Promise<unknown>): Promise<SettingsError> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof SettingsError, String(error));
    return error;
  }
  return assert.fail('settings were accepted');
}

describe('SD settings', () => {
  it('loads an sd-1 style role with defaults', async () => {
    await withTree({ 'sd-1/001_default.yml': SD1 }, async (tree) => {
      const settings = await loadSdSettings('sd-1', { cwd: tree.root });
      assert.equal(settings.jsonrpc_server.path, '/jsonrpc');
      assert.equal(settings.jsonrpc_server.tls?.verify_client, true);
      assert.equal(settings.jsonrpc_server.tcp_rate_limits?.length, 2);
      assert.deepEqual(settings.directory.datastore, {
        type: 'redis',
        settings: {
          addresses: ['127.0.0.1:6379'],
          database: 0,
          password: '',
          key: 'sd-entries',
          master_name: '',
        },
      });
      assert.deepEqual(settings.directory.ca_certificate_files, [tree.path('sd-1/certs/root.crt')]);
      assert.equal(settings.metrics, undefined);
    });
  });

  it('applies redis defaults and accepts a file datastore and a top-level metrics block', async () => {
    const redis = SD1.replace(/settings: \{addresses.*\}/, 'settings: {addresses: [a:1], password: pw}');
    const file = SD1.replace(
      /type: redis\n.*settings: \{addresses.*\}/,
      'type: file\n    settings: {filename: /tmp/sd.records}',
    );
    const extra =
      'metrics: {bind_address: "localhost:2114"}\ndirectory: {metrics: {bind_address: "localhost:1"}}\n';
    await withTree({ 'r.yml': redis, 'f/001.yml': file, 'f/002.yml': extra }, async (tree) => {
      const r = await loadSdSettings('r.yml', { cwd: tree.root });
      assert.deepEqual(r.directory.datastore.settings, {
        addresses: ['a:1'],
        password: 'pw',
        database: 0,
        key: 'entries',
        master_name: '',
      });
      const f = await loadSdSettings('f', { cwd: tree.root });
      assert.deepEqual(f.directory.datastore, { type: 'file', settings: { filename: '/tmp/sd.records' } });
      assert.deepEqual(f.metrics, { bind_address: 'localhost:2114' });
      assert.deepEqual(f.directory.ca_intermediate_certificate_files.length, 1);
    });
  });

  it('requires jsonrpc_server and directory with datastore and ca_certificate_files', async () => {
    await withTree(
      {
        'a.yml': 'metrics: {bind_address: "localhost:1"}\n',
        'b.yml': 'jsonrpc_server: {bind_address: "localhost:1"}\ndirectory: {}\n',
      },
      async (tree) => {
        const a = await failure(() => loadSdSettings('a.yml', { cwd: tree.root }));
        assert.match(a.message, /: jsonrpc_server is required/);
        assert.match(a.message, /: directory is required/);
        const b = await failure(() => loadSdSettings('b.yml', { cwd: tree.root }));
        assert.match(b.message, /at directory: datastore is required/);
        assert.match(b.message, /at directory: ca_certificate_files is required/);
      },
    );
  });

  it('rejects an unknown datastore type, a missing redis password and a database out of range', async () => {
    const bad = (datastore: string): string => SD1.replace(/ {4}type: redis\n.*\n/, datastore);
    await withTree(
      {
        'a.yml': bad('    type: etcd\n    settings: {}\n'),
        'b.yml': bad('    type: redis\n    settings: {addresses: [], database: 101}\n'),
      },
      async (tree) => {
        const a = await failure(() => loadSdSettings('a.yml', { cwd: tree.root }));
        assert.match(
          a.message,
          /at directory\.datastore\.type: unknown datastore type "etcd" \(legal types: file, redis\)/,
        );
        const b = await failure(() => loadSdSettings('b.yml', { cwd: tree.root }));
        assert.match(b.message, /datastore\.settings: password is required/);
        assert.match(b.message, /datastore\.settings\.addresses: must list at least one address/);
        assert.match(b.message, /datastore\.settings\.database: must be at most 100/);
      },
    );
  });

  it('says which variable to set when SD_SETTINGS names nothing', async () => {
    const error = await failure(() => loadSdSettings(':'));
    assert.match(error.message, /SD_SETTINGS is not set/);
  });
});

const PUBLIC = `
public:
  name: public-proxy-1.ga
  tcp_rate_limits: [{type: minute, limit: 1000}]
  datastore: {type: file, settings: {filename: /tmp/public.db}}
  tls_bind_address: localhost:4433
  jsonrpc_client: {endpoint: "https://localhost:5544/jsonrpc", tls: ${tlsYaml('public-proxy-1.ga')}}
  jsonrpc_server: {bind_address: "localhost:6655", tls: ${tlsYaml('public-proxy-1.ga')}}
`;

const PRIVATE = `
private:
  name: private-proxy-1.ga
  datastore: {type: redis, settings: {addresses: ["localhost:6379"], password: "", key: private-proxy-entries}}
  internal_endpoint:
    address: localhost:7777
    tls: {verify_client: false, server_name: internal-server, ca_certificate_files: ["/$DIR/root.crt"]}
  jsonrpc_client: {endpoint: "https://localhost:7766/jsonrpc"}
  jsonrpc_server: {bind_address: "localhost:8877"}
`;

describe('proxy settings', () => {
  it('accepts an empty settings file', async () => {
    await withTree({ 'p/001.yml': '' }, async (tree) => {
      assert.deepEqual(await loadProxySettings('p', { cwd: tree.root }), {});
    });
  });

  it('applies the public and private defaults', async () => {
    await withTree({ 'pub.yml': PUBLIC, 'priv.yml': PRIVATE }, async (tree) => {
      const pub = (await loadProxySettings('pub.yml', { cwd: tree.root })).public;
      assert.ok(pub);
      assert.equal(pub.tls_bind_address, 'localhost:4433');
      assert.equal(pub.internal_bind_address, 'localhost:9999');
      assert.equal(pub.internal_endpoint, 'localhost:9999');
      assert.equal(pub.accept_timeout, 10);
      assert.equal(pub.jsonrpc_server.path, '/jsonrpc');
      const priv = (await loadProxySettings('priv.yml', { cwd: tree.root })).private;
      assert.ok(priv);
      assert.equal(priv.internal_endpoint.address, 'localhost:7777');
      assert.equal(priv.internal_endpoint.jsonrpc_path, '/jsonrpc');
      assert.equal(priv.internal_endpoint.timeout, 30);
      assert.equal(priv.internal_endpoint.tls?.verify_client, false);
      assert.equal(priv.internal_endpoint.jsonrpc_client, undefined);
      assert.equal(priv.jsonrpc_server.tls, undefined);
      assert.equal(priv.datastore.type, 'redis');

      const bare = await loadProxySettings('priv.yml', { cwd: tree.root, env: {} });
      assert.equal(bare.public, undefined);
    });
  });

  it('keeps fractional timeouts and rejects timeouts outside 0..3000 seconds', async () => {
    const frac = PUBLIC.replace('  tls_bind_address:', '  accept_timeout: 0.5\n  tls_bind_address:');
    const big = PUBLIC.replace('  tls_bind_address:', '  accept_timeout: 3001\n  tls_bind_address:');
    const neg = PRIVATE.replace(
      '    address: localhost:7777',
      '    address: localhost:7777\n    timeout: -1',
    );
    await withTree({ 'frac.yml': frac, 'big.yml': big, 'neg.yml': neg }, async (tree) => {
      assert.equal((await loadProxySettings('frac.yml', { cwd: tree.root })).public?.accept_timeout, 0.5);
      const a = await failure(() => loadProxySettings('big.yml', { cwd: tree.root }));
      assert.match(a.message, /at public\.accept_timeout: must be at most 3000/);
      const b = await failure(() => loadProxySettings('neg.yml', { cwd: tree.root }));
      assert.match(b.message, /at private\.internal_endpoint\.timeout: must be at least 0/);
    });
  });

  it('requires name, datastore and the JSON-RPC blocks in each section, and internal_endpoint in private', async () => {
    await withTree({ 'p.yml': 'public: {}\nprivate: {}\n' }, async (tree) => {
      const error = await failure(() => loadProxySettings('p.yml', { cwd: tree.root }));
      for (const section of ['public', 'private']) {
        for (const key of ['name', 'datastore', 'jsonrpc_client', 'jsonrpc_server']) {
          assert.match(error.message, new RegExp(`at ${section}: ${key} is required`));
        }
      }
      assert.match(error.message, /at private: internal_endpoint is required/);
    });
  });

  it('accepts a metrics block and rejects an unknown top-level section', async () => {
    await withTree(
      { 'm.yml': 'metrics: {bind_address: "localhost:2115"}\n', 'u.yml': 'publik: {}\n' },
      async (tree) => {
        assert.deepEqual((await loadProxySettings('m.yml', { cwd: tree.root })).metrics, {
          bind_address: 'localhost:2115',
        });
        const error = await failure(() => loadProxySettings('u.yml', { cwd: tree.root }));
        assert.equal(error.message, `settings error in ${tree.path('u.yml')}: unknown key 'publik'`);
      },
    );
  });

  it('ignores the top-level vars section', async () => {
    await withTree(
      {
        'v.yml':
          'vars:\n  P: {type: string, source: literal, value: "localhost:2116"}\n_vars: {}\nmetrics: {bind_address: $P}\n',
      },
      async (tree) => {
        assert.deepEqual(await loadProxySettings('v.yml', { cwd: tree.root }), {
          metrics: { bind_address: 'localhost:2116' },
        });
      },
    );
  });
});
