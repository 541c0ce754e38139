/**
 * docs/first-hour.md, followed to the letter: the shell lines of its code blocks run verbatim with `sh -c`
 * (HOME a fresh folder, so `~` is ours; the launchers of this checkout on PATH instead of the installation
 * step, which test/release/ covers). The dev network starts with `eps demo --dir ~/eps-dev`, hd-3 is created
 * with `eps operator init`, hd-1 (the admin) submits hd-3's records, hd-3 starts, and the two curl calls
 * must answer: hd-1 → hd-3 (direct) and hd-3 → hd-1 (peer to peer through a public proxy). Then what the
 * document says about other methods: refused (403) until the example service is added to hd-3's services
 * record and submitted again, then answered by hd-3's backend; and hd-3 stops on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/processes.js';
import { lockDevPorts } from '../helpers/dev-ports-lock.js';
import { waitFor } from '../helpers/wait.js';

const DOC = readFileSync(join(REPO_ROOT, 'docs/first-hour.md'), 'utf8');
const curl = spawnSync('curl', ['--version']).status === 0;
if (!curl) process.stderr.write('*** SKIPPED: docs/first-hour.md walkthrough (curl is not installed) ***\n');

/** Every line of the document's ```sh blocks, in order. */
function shellLines(markdown: string): string[] {
  const lines: string[] = [];
  let inside = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inside = line === '```sh';
    else if (inside && line.trim() !== '') lines.push(line.trim());
  }
  return lines;
}

function step(lines: string[], prefix: string): string {
  const found = lines.filter((l) => l.startsWith(prefix));
  assert.equal(found.length, 1, `docs/first-hour.md: one shell line starting with '${prefix}'`);
  return found[0]!;
}

interface Shell {
  child: ChildProcess;
  output(): string;
}

function shell(line: string, env: NodeJS.ProcessEnv): Shell {
  // Its own process group: stopping it stops whatever the line started.
  const child = spawn('sh', ['-c', line], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

async function finish(s: Shell, timeoutMs: number): Promise<string> {
  const timer = setTimeout(() => process.kill(-s.child.pid!, 'SIGKILL'), timeoutMs);
  const [code] = (await once(s.child, 'exit')) as [number | null];
  clearTimeout(timer);
  assert.equal(code, 0, s.output());
  return s.output();
}

async function stop(s: Shell): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = once(s.child, 'exit');
  process.kill(-s.child.pid!, 'SIGTERM');
  const timer = setTimeout(() => process.kill(-s.child.pid!, 'SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Waits for `text` in a long-running line's output; fails at once, with the output, if it exits. */
async function until(s: Shell, text: string, timeoutMs: number): Promise<void> {
  await waitFor(
    () => {
      if (s.child.exitCode !== null || s.child.signalCode !== null) {
        throw new Error(`exited before '${text}':\n${s.output()}`);
      }
      return s.output().includes(text);
    },
    { timeoutMs, what: `'${text}'`, intervalMs: 200 },
  ).catch((e: Error) => assert.fail(`${e.message}\noutput:\n${s.output()}`));
}

interface PingAnswer {
  result?: { serverInfo: { name: string }; params: { _client: { name: string } } };
}

/** Runs a curl line until it prints a JSON-RPC result (the nodes pick up the new entry within seconds). */
async function callUntilAnswered(line: string, env: NodeJS.ProcessEnv): Promise<PingAnswer> {
  let last = '';
  let answer: PingAnswer = {};
  await waitFor(
    async () => {
      last = await finish(shell(`${line} --silent --show-error --max-time 10`, env), 30_000).catch(
        (e: Error) => e.message,
      );
      try {
        answer = JSON.parse(last) as PingAnswer;
      } catch {
        return false;
      }
      return answer.result !== undefined;
    },
    { timeoutMs: 90_000, what: `an answer to: ${line}`, intervalMs: 500 },
  ).catch((e: Error) => assert.fail(`${e.message}\nlast output: ${last}`));
  return answer;
}

/** The service the document tells the operator to add to the services record (inline JSON, maybe wrapped). */
function serviceFromDoc(markdown: string): unknown {
  const found = /`(\{"name": "app",[^`]*\})`/.exec(markdown);
  assert.ok(found, 'docs/first-hour.md: the example service {"name": "app", ...}');
  return JSON.parse(found[1]!.replace(/\s*\n\s*/g, ' ')) as unknown;
}

/** The operator's application on the backend address: answers every call with the caller's name. */
async function startBackend(url: URL): Promise<Server> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const call = JSON.parse(body) as { id: string; params: { _client: { name: string } } };
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ jsonrpc: '2.0', id: call.id, result: { hello: call.params._client.name } }));
    });
  });
  server.listen(Number(url.port), url.hostname);
  await once(server, 'listening');
  return server;
}

test(
  'a new operator joins the dev network by following docs/first-hour.md',
  { skip: !curl, timeout: 600_000 },
  async (t) => {
    const home = mkdtempSync(join(tmpdir(), 'eps-first-hour-'));
    t.after(() => rmSync(home, { recursive: true, force: true }));
    const env = { ...process.env, HOME: home, PATH: `${join(REPO_ROOT, 'bin')}:${process.env.PATH ?? ''}` };
    const lines = shellLines(DOC);
    const running: Shell[] = [];
    t.after(async () => {
      for (const s of running.reverse()) await stop(s);
    });
    t.after(await lockDevPorts());

    // 2. The dev network, kept running.
    const network = shell(step(lines, 'eps demo --dir '), env);
    running.push(network);
    await until(network, 'The network keeps running', 300_000);

    // 3. The operator's settings, keys, certificates and records.
    const initLine = step(lines, 'eps operator init hd-3 ');
    const init = await finish(shell(initLine, env), 120_000);
    assert.match(init, /wrote certs\/hd-3\.crt/);
    const records = JSON.parse(readFileSync(join(home, 'hd-3/records/hd-3.json'), 'utf8')) as {
      records: { section: string }[];
    };
    assert.deepEqual(
      records.records.map((r) => r.section),
      ['channels', 'groups', 'services', 'certificates'],
    );

    // 4. The administrator submits them.
    const submitLine = step(
      lines,
      'cd ~/eps-dev && EPS_SETTINGS=settings/dev/roles/hd-1 eps sd submit-records',
    );
    const submitted = await finish(shell(submitLine, env), 120_000);
    assert.match(submitted, /4 records|hash/);

    // 5. hd-3 starts.
    const hd3 = shell(step(lines, 'EPS_SETTINGS=~/hd-3 eps server run'), env);
    running.push(hd3);
    await until(hd3, 'Waiting for CTRL-C', 120_000);

    // 6. hd-1 calls hd-3, then hd-3 calls hd-1.
    const toHd3 = await callUntilAnswered(step(lines, 'cd ~/eps-dev && curl '), env);
    assert.equal(toHd3.result?.serverInfo.name, 'hd-3');
    assert.equal(toHd3.result?.params._client.name, 'hd-1');
    const toHd1 = await callUntilAnswered(step(lines, 'cd ~/hd-3 && curl '), env);
    assert.equal(toHd1.result?.serverInfo.name, 'hd-1');
    assert.equal(toHd1.result?.params._client.name, 'hd-3');

    // Another method: refused until hd-3's services record offers it; then the backend answers it.
    const hello = step(lines, 'cd ~/eps-dev && curl ').replace('"hd-3._ping"', '"hd-3.hello"');
    const refused = await finish(shell(`${hello} --silent --show-error --max-time 10`, env), 30_000);
    assert.match(refused, /"code":403.*Permission denied for method 'hello'/);
    const backend = await startBackend(new URL(/--backend (\S+)/.exec(initLine)![1]!));
    t.after(() => backend.close());
    const recordsFile = join(home, 'hd-3/records/hd-3.json');
    const updated = JSON.parse(readFileSync(recordsFile, 'utf8')) as {
      records: { section: string; data: unknown[] }[];
    };
    updated.records.find((r) => r.section === 'services')!.data.push(serviceFromDoc(DOC));
    writeFileSync(recordsFile, JSON.stringify(updated, null, 2));
    await finish(shell(submitLine, env), 120_000);
    const answered = (await callUntilAnswered(hello, env)) as { result?: { hello?: string } };
    assert.equal(
      answered.result?.hello,
      'hd-1',
      'the backend answered, with hd-1 as the authenticated caller',
    );

    // Ctrl-C (SIGTERM): the node finishes its calls and stops.
    process.kill(-hd3.child.pid!, 'SIGTERM');
    await waitFor(() => hd3.output().includes('msg=stopped'), {
      timeoutMs: 15_000,
      what: 'hd-3 to stop',
      intervalMs: 100,
    }).catch((e: Error) => assert.fail(`${e.message}\n${hd3.output()}`));
  },
);
