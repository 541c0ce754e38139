/**
 * EPS settings validation (docs/settings.md#eps-settings): a dev-style role loads
 * with defaults applied; wrong, missing and unknown keys fail naming file and key path.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import {
  CORS_METHODS,
  SettingsError,
  describeSettingsError,
  loadEpsSettings,
  type ChannelOf,
  type ChannelType,
  type EpsSettings,
} from '../../src/settings/index.js';
import { tlsYaml, withTree } from '../helpers/settings-fixtures.js';

const HD1_DIR = 'settings/dev/roles/hd-1';
const HD1_FILE = `${HD1_DIR}/001_default.yml`;
const CERTS = '$DIR/../../certs';

/** A role file shaped like the original's hd-1 dev role. */
const HD1 = `
name: hd-1
metrics:
  bind_address: "localhost:2112"
directory:
  type: api
  settings:
    ca_certificate_files: ["/${CERTS}/root.crt"]
    ca_intermediate_certificate_files: ["/${CERTS}/intermediate.crt"]
    endpoints: ["https://localhost:3322/jsonrpc"]
    server_names: ["sd-1"]
    jsonrpc_client:
      tls: ${tlsYaml('hd-1', CERTS)}
signing:
  certificate_file: "/${CERTS}/hd-1-sign.crt"
  key_file: "/${CERTS}/hd-1-sign.key"
  ca_certificate_file: "/${CERTS}/root.crt"
  ca_intermediate_certificate_files: ["/${CERTS}/intermediate.crt"]
channels:
  - name: main JSON-RPC client
    type: jsonrpc_client
    settings:
      endpoint: http://localhost:5555/jsonrpc
  - name: main gRPC server
    type: grpc_server
    settings:
      bind_address: localhost:8888
      tls: ${tlsYaml('hd-1', CERTS)}
  - name: main gRPC client
    type: grpc_client
    settings:
      tls: ${tlsYaml('hd-1', CERTS)}
  - name: main JSON-RPC server
    type: jsonrpc_server
    settings:
      bind_address: localhost:5555
      cors:
        allowed_hosts: ['^http(?:s)?://localhost\\:\\d+$']
      tls: ${tlsYaml('hd-1', CERTS)}
`;

async function loadFailure(
  files: Record<string, string>,
  location: string,
): Promise<{ error: SettingsError; root: string }> {
  return withTree(files, async (tree) => {
    try {
      await loadEpsSettings(location, { cwd: tree.root });
    } catch (error) {
      assert.ok(error instanceof SettingsError, String(error));
      return { error, root: tree.root };
    }
    return assert.fail('settings were accepted');
  });
}

function channel<T extends ChannelType>(settings: EpsSettings, type: T): ChannelOf<T> {
  const found = settings.channels.find((item): item is ChannelOf<T> => item.type === type);
  assert.ok(found, `no ${type} channel`);
  return found;
}

describe('EPS settings: a dev-style role', () => {
  it('loads with absolute certificate paths and all defaults applied', async () => {
    await withTree({ [HD1_FILE]: HD1 }, async (tree) => {
      const settings = await loadEpsSettings(HD1_DIR, { cwd: tree.root });
      const certs = tree.path('settings/dev/certs');
      assert.equal(settings.name, 'hd-1');
      assert.deepEqual(settings.metrics, { bind_address: 'localhost:2112' });
      assert.equal(settings.directory.type, 'api');
      if (settings.directory.type !== 'api') return;
      const api = settings.directory.settings;
      assert.equal(api.cache_entries_for, 5);
      assert.equal(resolve(api.ca_certificate_files[0] ?? ''), `${certs}/root.crt`);
      assert.equal(api.jsonrpc_client.local, true);
      assert.equal(api.jsonrpc_client.timeout, 30);

      const grpcServer = channel(settings, 'grpc_server').settings;
      assert.equal(grpcServer.bind_address, 'localhost:8888');
      assert.equal(grpcServer.tls.verify_client, true);
      assert.equal(grpcServer.tls.request_client_cert, false);
      assert.equal(grpcServer.tls.insecure_skip_verify, false);
      assert.equal(resolve(grpcServer.tls.certificate_file ?? ''), `${certs}/hd-1.crt`);
      assert.equal(grpcServer.tcp_rate_limits, undefined);

      const grpcClient = channel(settings, 'grpc_client').settings;
      assert.equal(grpcClient.useProxy, true);
      assert.equal(grpcClient.call_timeout, 30);
      assert.equal(grpcClient.connect_timeout, 10);

      const gateway = channel(settings, 'jsonrpc_server').settings;
      assert.equal(gateway.path, '/jsonrpc');
      assert.equal(gateway.max_body_bytes, 4194304);
      assert.equal(gateway.request_timeout, 60);
      assert.deepEqual(gateway.cors?.allowed_methods, [...CORS_METHODS]);
      assert.deepEqual(gateway.cors?.allowed_headers, []);

      const client = channel(settings, 'jsonrpc_client').settings;
      assert.equal(client.endpoint, 'http://localhost:5555/jsonrpc');
      assert.equal(client.tls, undefined);

      const intermediates = settings.signing?.ca_intermediate_certificate_files ?? [];
      assert.deepEqual(
        intermediates.map((file) => resolve(file)),
        [`${certs}/intermediate.crt`],
      );
    });
  });

  it('treats null and "" as missing, and YAML 1.1 booleans as booleans', async () => {
    const files = {
      'conf/001.yml': `
name: op-1
directory: {type: json, settings: {path: /tmp/records}}
channels:
  - {name: out, type: stdout, settings: {}}
  - name: server
    type: grpc_server
    settings: {bind_address: "", tcp_rate_limits: null, tls: {ca_certificate_files: [], verify_client: no, request_client_cert: on}}
  - name: client
    type: grpc_client
    settings: {useProxy: off, call_timeout: 2.5, tls: {ca_certificate_files: [], insecure_skip_verify: ~}}
`,
    };
    await withTree(files, async (tree) => {
      const settings = await loadEpsSettings('conf', { cwd: tree.root });
      assert.deepEqual(settings.directory, { type: 'json', settings: { path: '/tmp/records' } });
      const server = channel(settings, 'grpc_server').settings;
      assert.equal(server.bind_address, 'localhost:4444');
      assert.equal(server.tcp_rate_limits, undefined);
      assert.equal(server.tls.verify_client, false);
      assert.equal(server.tls.request_client_cert, true);
      const client = channel(settings, 'grpc_client').settings;
      assert.equal(client.useProxy, false);
      assert.equal(client.call_timeout, 2.5);
      assert.equal(client.tls.insecure_skip_verify, false);
      assert.deepEqual(channel(settings, 'stdout').settings, {});
    });
  });

  it('accepts tcp_rate_limits of second, minute and hour with integer limits of at least 1', async () => {
    const limits = '[{type: second, limit: 10}, {type: minute, limit: 1000}, {type: hour, limit: 1}]';
    const body = `name: a\ndirectory: {type: json, settings: {path: /x}}\nchannels:\n  - {name: s, type: grpc_server, settings: {tls: {ca_certificate_files: []}, tcp_rate_limits: ${limits}}}\n`;
    await withTree({ 's.yml': body }, async (tree) => {
      const settings = await loadEpsSettings('s.yml', { cwd: tree.root });
      assert.deepEqual(channel(settings, 'grpc_server').settings.tcp_rate_limits, [
        { type: 'second', limit: 10 },
        { type: 'minute', limit: 1000 },
        { type: 'hour', limit: 1 },
      ]);
    });
  });
});

describe('EPS settings: errors name the file and key path', () => {
  const base = 'name: a\ndirectory: {type: json, settings: {path: /x}}\n';

  it('reports a missing required key at its parent path, in the file that wrote the parent', async () => {
    const { error, root } = await loadFailure(
      // The fourth channel's TLS block loses its ca_certificate_files.
      {
        [HD1_FILE]: HD1.replace(
          /(- name: main JSON-RPC server[\s\S]*?tls: \{)ca_certificate_files: \[[^\]]*\], /,
          '$1',
        ),
      },
      HD1_DIR,
    );
    assert.equal(
      error.message,
      `settings error in ${root}/${HD1_FILE} at channels.3.settings.tls: ca_certificate_files is required`,
    );
  });

  it('rejects settings without name, directory or channels, naming each', async () => {
    const { error } = await loadFailure({ 's.yml': 'metrics: {bind_address: "localhost:1"}\n' }, 's.yml');
    const text = error.message;
    for (const key of ['name', 'directory', 'channels'])
      assert.match(text, new RegExp(`: ${key} is required`));
    assert.equal(error.problems.length, 3);
  });

  it('rejects an unknown key, naming the file that wrote it and its path', async () => {
    const { error, root } = await loadFailure(
      {
        'conf/001.yml': `${base}channels: [{name: s, type: stdout, settings: {}}]\n`,
        'conf/002.yml':
          'channels: [{name: g, type: jsonrpc_server, settings: {bind_address: "localhost:1", tls: {ca_certificate_files: [], validate_client: false}}}]\n',
      },
      'conf',
    );
    assert.equal(
      error.message,
      `settings error in ${root}/conf/002.yml at channels.1.settings.tls: unknown key 'validate_client'`,
    );
  });

  it('rejects a wrong type, naming what was expected and what was found', async () => {
    const { error, root } = await loadFailure(
      {
        's.yml': `${base}channels: [{name: c, type: grpc_client, settings: {useProxy: "sometimes", tls: {ca_certificate_files: /x}}}]\n`,
      },
      's.yml',
    );
    assert.deepEqual(error.message.split('\n').sort(), [
      `settings error in ${root}/s.yml at channels.0.settings.tls.ca_certificate_files: expected a list, got a string`,
      `settings error in ${root}/s.yml at channels.0.settings.useProxy: expected a boolean (true/false), got a string`,
    ]);
  });

  it('rejects an unknown channel, directory or datastore-less type, naming the type and the legal ones', async () => {
    const { error } = await loadFailure(
      {
        's.yml':
          'name: a\ndirectory: {type: ldap, settings: {}}\nchannels: [{name: q, type: amqp, settings: {}}, {name: n, settings: {}}]\n',
      },
      's.yml',
    );
    assert.match(
      error.message,
      /at directory\.type: unknown directory type "ldap" \(legal types: api, json\)/,
    );
    assert.match(
      error.message,
      /at channels\.0\.type: unknown channel type "amqp" \(legal types: stdout, grpc_server, grpc_client, jsonrpc_server, jsonrpc_client\)/,
    );
    assert.match(error.message, /at channels\.1\.type: channel type is required/);
  });

  it('requires name, type and a settings map on every channel', async () => {
    const { error } = await loadFailure({ 's.yml': `${base}channels: [{type: stdout}]\n` }, 's.yml');
    assert.match(error.message, /at channels\.0: name is required/);
    assert.match(error.message, /at channels\.0: settings is required/);
  });

  it('rejects two channels of the same type', async () => {
    const { error, root } = await loadFailure(
      {
        's.yml': `${base}channels: [{name: a, type: stdout, settings: {}}, {name: b, type: stdout, settings: {}}]\n`,
      },
      's.yml',
    );
    assert.equal(
      error.message,
      `settings error in ${root}/s.yml at channels.1.type: channel of same type already exists: stdout`,
    );
  });

  it('rejects gRPC channels without tls and TLS blocks without ca_certificate_files', async () => {
    const { error } = await loadFailure(
      {
        's.yml': `${base}channels:\n  - {name: a, type: grpc_server, settings: {}}\n  - {name: b, type: grpc_client, settings: {tls: {certificate_file: /c, key_file: /k}}}\n`,
      },
      's.yml',
    );
    assert.match(error.message, /at channels\.0\.settings: tls is required/);
    assert.match(error.message, /at channels\.1\.settings\.tls: ca_certificate_files is required/);
  });

  it('rejects bad rate limits', async () => {
    const { error } = await loadFailure(
      {
        's.yml': `${base}channels: [{name: s, type: grpc_server, settings: {tls: {ca_certificate_files: []}, tcp_rate_limits: [{type: day, limit: 1}, {type: second, limit: 0}, {type: minute, limit: 1.5}]}}]\n`,
      },
      's.yml',
    );
    assert.match(
      error.message,
      /tcp_rate_limits\.0\.type: must be one of "second", "minute", "hour" \(got the string "day"\)/,
    );
    assert.match(error.message, /tcp_rate_limits\.1\.limit: must be at least 1/);
    assert.match(error.message, /tcp_rate_limits\.2\.limit: expected an integer, got number 1\.5/);
  });

  it('rejects an api directory with empty endpoints or server_names, and cache_entries_for out of range', async () => {
    const api = `name: a\nchannels: []\ndirectory:\n  type: api\n  settings: {endpoints: [], server_names: [], cache_entries_for: 3601, ca_certificate_files: [], jsonrpc_client: {}, state_file: ""}\n`;
    const { error } = await loadFailure({ 's.yml': api }, 's.yml');
    assert.match(error.message, /directory\.settings\.state_file: must not be empty/);
    assert.match(error.message, /directory\.settings\.endpoints: must list at least one endpoint/);
    assert.match(error.message, /directory\.settings\.server_names: must list at least one server name/);
    assert.match(error.message, /directory\.settings\.cache_entries_for: must be at most 3600/);
  });

  it('rejects an invalid CORS regular expression and unknown CORS methods', async () => {
    const { error } = await loadFailure(
      {
        's.yml': `${base}channels: [{name: g, type: jsonrpc_server, settings: {bind_address: "localhost:1", cors: {allowed_hosts: ["(unclosed"], allowed_methods: [GET, TRACE]}}}]\n`,
      },
      's.yml',
    );
    assert.match(error.message, /cors\.allowed_hosts\.0: is not a valid regular expression/);
    assert.match(error.message, /cors\.allowed_methods\.1: must be one of/);
  });

  it('says which variable to set when the locations are empty', async () => {
    await assert.rejects(loadEpsSettings(''), (error: unknown) => {
      assert.ok(error instanceof SettingsError);
      assert.match(describeSettingsError(error), /EPS_SETTINGS is not set/);
      return true;
    });
  });

  it('describes errors that are not SettingsErrors on one line', () => {
    assert.equal(describeSettingsError(new Error('boom')), 'settings error: boom');
  });
});
