// Tests of `settings check` (src/settings-check, src/cli/settings-check.ts): one broken settings tree of
// each kind, on real files with generated certificates; the report names the file and key path, and the
// exit code is 1 on errors, 0 with warnings only. The dev roles pass.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join, relative } from 'node:path';
import { before, describe, it } from 'node:test';
import { checkSettings, exitCodeOf, formatReport, type ProgramKind } from '../../src/settings-check/index.js';
import { keyPathText } from '../../src/settings-check/finding.js';
import { ensureCertificates } from '../../src/tls/ensure-certs.js';
import { issuePeerCert, type PeerCert } from '../helpers/peer-certs.js';
import { CERTS, testCertificates } from '../helpers/network.js';
import { apiSettings, signWith } from '../helpers/records-server.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { freePort, REPO_ROOT } from '../helpers/processes.js';
import { tempTree, type TempTree } from '../helpers/settings-fixtures.js';

const DAY_MS = 86_400_000;

interface Certs {
  good: PeerCert;
  expired: PeerCert;
  nearExpiry: PeerCert;
  otherCa: PeerCert;
}
let certs: Certs;

before(async () => {
  await testCertificates();
  const later = new Date(Date.now() + 200 * DAY_MS);
  certs = {
    good: await issuePeerCert({ names: ['node-a'], notAfter: later }),
    expired: await issuePeerCert({
      names: ['node-a'],
      notBefore: new Date(Date.now() - 20 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    }),
    nearExpiry: await issuePeerCert({ names: ['node-a'], notAfter: new Date(Date.now() + 10 * DAY_MS) }),
    otherCa: await issuePeerCert({ names: ['node-a'], otherCa: true, notAfter: later }),
  };
});

/**
 * An eps tree: its TLS block uses certs/node.crt and certs/node.key; the json directory pins `pinned` for
 * `pinnedFor` (node-a) with key usage `usage` (encryption).
 */
async function epsTree(opts: {
  cert?: PeerCert;
  key?: PeerCert;
  pinned?: PeerCert;
  pinnedFor?: string;
  usage?: string;
  bind?: string;
  extraChannel?: string;
  yaml?: string;
}): Promise<TempTree> {
  const cert = opts.cert ?? certs.good;
  const pinned = opts.pinned ?? cert;
  const tree = await tempTree({
    'certs/node.crt': cert.cert,
    'certs/node.key': (opts.key ?? cert).key,
    'directory/001.json': JSON.stringify({
      records: [
        {
          name: opts.pinnedFor ?? 'node-a',
          section: 'certificates',
          data: [{ fingerprint: pinned.fingerprint, key_usage: opts.usage ?? 'encryption' }],
          created_at: '2026-01-01T00:00:00Z',
        },
      ],
    }),
  });
  await copyFile(join(CERTS, 'root.crt'), tree.path('certs/root.crt'));
  const yaml =
    opts.yaml ??
    [
      'name: node-a',
      "directory: {type: json, settings: {path: '/$DIR/../directory'}}",
      'channels:',
      '  - name: grpc',
      '    type: grpc_server',
      '    settings:',
      `      bind_address: '${opts.bind ?? '127.0.0.1:0'}'`,
      "      tls: {ca_certificate_files: ['/$DIR/../certs/root.crt'], certificate_file: '/$DIR/../certs/node.crt', key_file: '/$DIR/../certs/node.key'}",
      opts.extraChannel ?? '',
    ].join('\n');
  await tree.write({ 'settings/001_node.yml': yaml });
  return tree;
}

async function report(kind: ProgramKind, tree: TempTree): Promise<{ text: string; code: number }> {
  const findings = await checkSettings(kind, tree.path('settings'));
  return { text: formatReport(findings, (file) => relative(tree.root, file)), code: exitCodeOf(findings) };
}

async function expectReport(tree: TempTree, code: number, ...fragments: string[]): Promise<string> {
  try {
    const result = await report('eps', tree);
    for (const fragment of fragments)
      assert.ok(result.text.includes(fragment), `${fragment} in\n${result.text}`);
    assert.equal(result.code, code, result.text);
    return result.text;
  } finally {
    await tree.remove();
  }
}

const FILE = 'settings/001_node.yml';
const TLS = 'channels[0].settings.tls';

describe('settings check: broken settings of each kind', () => {
  it('passes a good tree', async () => {
    const text = await expectReport(await epsTree({}), 0, '0 error(s), 0 warning(s)');
    assert.doesNotMatch(text, /ERROR|WARNING/);
  });

  it('reports unparseable YAML with its file', async () => {
    await expectReport(await epsTree({ yaml: 'name: [unclosed' }), 1, `ERROR ${FILE}`);
  });

  it('reports a schema error with file and key path', async () => {
    const tree = await epsTree({ extraChannel: '    colour: blue' });
    await expectReport(tree, 1, `${FILE}: channels[0]`, 'colour');
  });

  it('reports a missing certificate file', async () => {
    const tree = await epsTree({});
    await tree.write({ 'settings/001_node.yml': (await readYaml(tree)).replace('node.crt', 'missing.crt') });
    await expectReport(tree, 1, `${FILE}: ${TLS}.certificate_file: cannot read certificate`, 'no such file');
  });

  it('reports an expired certificate as an error', async () => {
    await expectReport(
      await epsTree({ cert: certs.expired }),
      1,
      `${FILE}: ${TLS}.certificate_file: certificate expired on`,
    );
  });

  it('warns about a certificate near expiry and exits 0', async () => {
    const text = await expectReport(
      await epsTree({ cert: certs.nearExpiry }),
      0,
      `WARNING ${FILE}: ${TLS}.certificate_file: certificate expires on`,
    );
    assert.doesNotMatch(text, /ERROR/);
  });

  it('warns about a CA certificate near expiry (checked at a later time)', async () => {
    const root = new X509Certificate(await readFile(join(CERTS, 'root.crt')));
    const tree = await epsTree({});
    try {
      const clock = new ManualClock(Date.parse(root.validTo) - 10 * DAY_MS);
      const findings = await checkSettings('eps', tree.path('settings'), { clock });
      const text = formatReport(findings, (file) => relative(tree.root, file));
      assert.ok(text.includes(`WARNING ${FILE}: ${TLS}.ca_certificate_files[0]: CA certificate`), text);
      assert.match(text, /CA certificate .* expires on/);
    } finally {
      await tree.remove();
    }
  });

  it('reports a key that does not match the certificate', async () => {
    await expectReport(
      await epsTree({ key: certs.expired, pinned: certs.good }),
      1,
      `${FILE}: ${TLS}.key_file: private key does not match`,
    );
  });

  it('reports a certificate of another CA', async () => {
    await expectReport(
      await epsTree({ cert: certs.otherCa }),
      1,
      `${FILE}: ${TLS}.certificate_file:`,
      'does not verify to the configured CA',
    );
  });

  it('reports a listen address that cannot be bound or parsed', async () => {
    // A documentation address (RFC 5737) is never local: valid for the schema, not bindable.
    await expectReport(
      await epsTree({ bind: '192.0.2.1:4000' }),
      1,
      `${FILE}: channels[0].settings.bind_address: cannot listen on 192.0.2.1:4000`,
    );
    await expectReport(
      await epsTree({ bind: 'localhost:99999' }),
      1,
      `${FILE}: channels[0].settings.bind_address: must be host:port`,
    );
  });

  it('reports a port in use as info, not an error', async () => {
    const server = net.createServer();
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const { port } = server.address() as { port: number };
    try {
      await expectReport(
        await epsTree({ bind: `127.0.0.1:${port}` }),
        0,
        `info ${FILE}: channels[0].settings.bind_address: 127.0.0.1:${port} is in use`,
      );
    } finally {
      server.close();
    }
  });

  it('reports an unreachable backend', async () => {
    const port = await freePort();
    const channel = `  - {name: app, type: jsonrpc_client, settings: {endpoint: 'http://127.0.0.1:${port}/jsonrpc'}}`;
    await expectReport(
      await epsTree({ extraChannel: channel }),
      1,
      `${FILE}: channels[1].settings.endpoint: http://127.0.0.1:${port}/jsonrpc unreachable`,
    );
  });

  it('reports an unreachable Redis store with its key path', async () => {
    const port = await freePort();
    const tree = await tempTree({
      'settings/001.yml': [
        "jsonrpc_server: {bind_address: '127.0.0.1:0'}",
        'directory:',
        `  datastore: {type: redis, settings: {addresses: ['127.0.0.1:${port}'], password: ''}}`,
        '  ca_certificate_files: []',
      ].join('\n'),
    });
    try {
      const findings = await checkSettings('sd', tree.path('settings'));
      const text = formatReport(findings, (file) => relative(tree.root, file));
      assert.ok(
        text.includes(
          `ERROR settings/001.yml: directory.datastore.settings.addresses[0]: 127.0.0.1:${port} unreachable`,
        ),
        text,
      );
      assert.equal(exitCodeOf(findings), 1);
    } finally {
      await tree.remove();
    }
  });

  it('reports a certificate that several TLS blocks share once, at the first block', async () => {
    const tls =
      "      tls: {ca_certificate_files: ['/$DIR/../certs/root.crt'], certificate_file: '/$DIR/../certs/node.crt', key_file: '/$DIR/../certs/node.key'}";
    const second = ['  - name: client', '    type: grpc_client', '    settings:', tls].join('\n');
    const text = await expectReport(await epsTree({ cert: certs.expired, extraChannel: second }), 1);
    assert.equal(text.match(/certificate expired on/g)?.length, 1, text);
    assert.ok(text.includes(`${TLS}.certificate_file: certificate expired on`), text);
  });

  it('prints keys with dots inside them in brackets and quotes', () => {
    assert.equal(keyPathText(['async', 'method_ttl', 'ls-1.add']), 'async.method_ttl["ls-1.add"]');
    assert.equal(keyPathText(['channels', 0, 'settings', 'tls']), 'channels[0].settings.tls');
    assert.equal(keyPathText(['a b', 'c-d']), '["a b"].c-d');
  });

  it('reports an own fingerprint missing from the directory', async () => {
    await expectReport(
      await epsTree({ pinned: certs.otherCa, cert: certs.good }),
      1,
      `${FILE}: ${TLS}.certificate_file: fingerprint ${certs.good.fingerprint} is not pinned for node-a`,
    );
  });

  it('reads the api directory state file as the node does: verified records, tampering refused', async () => {
    const chain = signWith(
      'hd-1-sign',
      [
        {
          name: 'node-a',
          section: 'certificates',
          data: [{ fingerprint: certs.good.fingerprint, key_usage: 'encryption' }],
          created_at: '2026-01-01T00:00:00Z',
        },
      ],
      '',
    );
    // Something listens where the sd would (the check connects to it).
    const sd = net.createServer((socket) => socket.destroy()).listen(0, '127.0.0.1');
    await once(sd, 'listening');
    const { port } = sd.address() as net.AddressInfo;
    const apiTree = async (records: readonly unknown[]): Promise<TempTree> => {
      const tree = await epsTree({});
      await writeFile(tree.path('state.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      const settings = apiSettings([`https://127.0.0.1:${port}/jsonrpc`]);
      // The node talks to the sd with its own certificate, like every TLS block it presents.
      const tls = { ...settings.jsonrpc_client.tls!, certificate_file: tree.path('certs/node.crt') };
      settings.jsonrpc_client.tls = { ...tls, key_file: tree.path('certs/node.key') };
      const directory = { type: 'api', settings: { ...settings, state_file: tree.path('state.jsonl') } };
      const yaml = (await readYaml(tree)).replace(
        /^directory: .*$/m,
        `directory: ${JSON.stringify(directory)}`,
      );
      await writeFile(tree.path('settings/001_node.yml'), yaml);
      return tree;
    };
    try {
      const text = await expectReport(await apiTree(chain), 0);
      assert.doesNotMatch(text, /not pinned|not in the directory|cannot read/);
      const tampered = chain.map((r) => ({ ...r, record: { ...r.record, name: 'node-b' } }));
      await expectReport(
        await apiTree(tampered),
        1,
        `${FILE}: directory.settings.state_file: cannot read the directory`,
      );
    } finally {
      sd.close();
    }
  });

  it('reports an own fingerprint pinned only for another operator, or only for signing', async () => {
    await expectReport(
      await epsTree({ pinnedFor: 'node-b' }),
      1,
      `${FILE}: name: operator node-a is not in the directory`,
    );
    await expectReport(
      await epsTree({ usage: 'signing' }),
      1,
      `${FILE}: ${TLS}.certificate_file: fingerprint ${certs.good.fingerprint} is not pinned for node-a`,
    );
  });
});

async function readYaml(tree: TempTree): Promise<string> {
  return readFile(tree.path('settings/001_node.yml'), 'utf8');
}

function programOf(role: string): ProgramKind {
  if (role.startsWith('sd-')) return 'sd';
  return /proxy-\d$/.test(role) ? 'proxy' : 'eps';
}

describe('settings check: the dev roles', () => {
  it('finds no error in any dev role (backends not connected)', async () => {
    await ensureCertificates(REPO_ROOT, 'dev');
    const roles = await readdir(join(REPO_ROOT, 'settings/dev/roles'));
    assert.ok(roles.length > 5);
    for (const role of roles) {
      const findings = await checkSettings(programOf(role), join(REPO_ROOT, 'settings/dev/roles', role), {
        offline: true,
      });
      assert.equal(exitCodeOf(findings), 0, `${role}:\n${formatReport(findings)}`);
      assert.ok(!findings.some((f) => f.level === 'warning'), `${role}:\n${formatReport(findings)}`);
    }
  });

  it('the sd CLI prints the report and exits 1 on errors', async () => {
    const tree = await tempTree({
      'settings/001.yml': 'jsonrpc_server: {bind_address: "localhost:99999"}\n',
    });
    try {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(REPO_ROOT, 'src/cli/sd.ts'), 'settings', 'check'],
        {
          env: { ...process.env, SD_SETTINGS: tree.path('settings') },
          cwd: REPO_ROOT,
        },
      );
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const [code] = (await once(child, 'exit')) as [number | null];
      clearTimeout(timer);
      assert.match(stdout, /ERROR \S*settings\/001\.yml: jsonrpc_server\.bind_address: must be host:port/);
      assert.equal(code, 1);
    } finally {
      await tree.remove();
    }
  });
});
