/**
 * The dev network of settings/dev (sd-1, the public proxies, hd-1, hd-2, the proxies' eps nodes) as real
 * processes, on ports of its own: the role and directory files are copied into a folder with every port
 * replaced by a free one, so the fault scenarios never clash with `npm run demo` or with each other, and the
 * repository's settings/dev/data stays untouched. Each process's output is appended to `logs/ROLE.log`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, REPO_ROOT, runProgram, startProgram, type Running } from '../../test/helpers/processes.js';
import { withDeadline } from '../../test/helpers/wait.js';

const DEV = join(REPO_ROOT, 'settings/dev');
/** What each program prints once it listens. */
const READY = /Waiting for CTRL-C|Serving the service directory on/;
const START_TIMEOUT_MS = 60_000;
const ADDRESS = /\b(localhost|127\.0\.0\.1):(\d{2,5})\b/g;

/** The roles of the seed's P2P network, in start order (a role whose folder is missing is left out). */
export const P2P_ROLES = [
  'sd-1',
  'public-proxy-1',
  'public-proxy-2',
  'public-proxy-eps-1',
  'public-proxy-eps-2',
  'hd-1',
  'hd-2',
];

/** The program and arguments that run a role folder, from its name. */
function programOf(role: string): { bin: string; args: string[]; env: string } {
  if (role.startsWith('sd-')) return { bin: 'sd', args: ['run'], env: 'SD_SETTINGS' };
  if (/^public-proxy-\d+$/.test(role))
    return { bin: 'proxy', args: ['run', 'public'], env: 'PROXY_SETTINGS' };
  if (/^private-proxy-\d+$/.test(role))
    return { bin: 'proxy', args: ['run', 'private'], env: 'PROXY_SETTINGS' };
  return { bin: 'eps', args: ['server', 'run'], env: 'EPS_SETTINGS' };
}

export function devRoleExists(role: string): boolean {
  return existsSync(join(DEV, 'roles', role));
}

export class DevNetwork {
  /** Dev port → the port this copy uses instead. */
  readonly ports = new Map<number, number>();
  readonly settings: string;
  readonly logs: string;
  private readonly running = new Map<string, Running>();
  private readonly listenedAt = new Map<string, number>();

  constructor(readonly dir: string) {
    this.settings = join(dir, 'settings');
    this.logs = join(dir, 'logs');
  }

  /** Copies roles and directory records with fresh ports. */
  async prepare(): Promise<void> {
    mkdirSync(this.logs, { recursive: true });
    mkdirSync(join(this.settings, 'data'), { recursive: true });
    symlinkSync(join(DEV, 'certs'), join(this.settings, 'certs'));
    const files: [string, string][] = [];
    for (const role of readdirSync(join(DEV, 'roles')))
      for (const f of readdirSync(join(DEV, 'roles', role))) files.push([join('roles', role), f]);
    for (const f of readdirSync(join(DEV, 'directory')))
      if (f.endsWith('.json')) files.push(['directory', f]);
    const texts = files.map(([d, f]) => readFileSync(join(DEV, d, f), 'utf8'));
    for (const text of texts)
      for (const m of text.matchAll(ADDRESS)) {
        const port = Number(m[2]);
        if (!this.ports.has(port)) this.ports.set(port, await freePort());
      }
    files.forEach(([d, f], i) => {
      mkdirSync(join(this.settings, d), { recursive: true });
      const text = texts[i]!.replace(ADDRESS, (_, host: string, port: string) => {
        return `${host}:${this.ports.get(Number(port))!}`;
      });
      writeFileSync(join(this.settings, d, f), text);
    });
  }

  /** Sets the `connect_timeout` of `role`'s grpc_client channel in its copied settings (before it starts). */
  setConnectTimeout(role: string, seconds: number): void {
    const dir = this.roleDir(role);
    const client = /(type: grpc_client\n( +)settings:\n)/;
    const file = readdirSync(dir).find((f) => client.test(readFileSync(join(dir, f), 'utf8')));
    if (!file) throw new Error(`no grpc_client channel with settings in ${dir}`);
    const text = readFileSync(join(dir, file), 'utf8');
    writeFileSync(join(dir, file), text.replace(client, `$1$2  connect_timeout: ${seconds}\n`));
  }

  /** The port this network uses for a port of the dev port map (README of settings/dev). */
  port(devPort: number): number {
    const port = this.ports.get(devPort);
    if (port === undefined) throw new Error(`port ${devPort} is not in the dev settings`);
    return port;
  }

  roleDir(role: string): string {
    return join(this.settings, 'roles', role);
  }

  get certs(): string {
    return join(DEV, 'certs');
  }

  /** Starts a role and resolves once it listens (the time is kept: `listenedAt`). */
  async start(role: string, extraEnv: Record<string, string> = {}): Promise<Running> {
    if (this.isRunning(role)) throw new Error(`${role} is already running`);
    const { bin, args, env } = programOf(role);
    const p = startProgram(bin, args, { [env]: this.roleDir(role), ...extraEnv });
    this.running.set(role, p);
    await appendFile(this.logFile(role), `=== ${new Date().toISOString()} start ${bin} ${args.join(' ')}\n`);
    try {
      await p.waitFor(READY, START_TIMEOUT_MS);
    } catch (e) {
      await this.stop(role, 'SIGKILL');
      throw e;
    }
    this.listenedAt.set(role, performance.now());
    return p;
  }

  /** Stops a role with `signal` (SIGKILL after 5 s) and appends its output to its log. */
  async stop(role: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.running.get(role);
    if (!p) return;
    this.running.delete(role);
    const code = await withDeadline(p.stop(signal), { timeoutMs: 10_000, what: `${role} to exit` });
    const how = p.child.signalCode ?? `code ${code}`;
    await appendFile(this.logFile(role), `${p.output()}=== ${new Date().toISOString()} ${signal}: ${how}\n`);
  }

  /** Stops and starts a role again; resolves when it listens. */
  async restart(role: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<Running> {
    await this.stop(role, signal);
    return this.start(role);
  }

  isRunning(role: string): boolean {
    return this.running.has(role);
  }

  process(role: string): Running | undefined {
    return this.running.get(role);
  }

  /** performance.now() when the role last started listening. */
  listened(role: string): number {
    const t = this.listenedAt.get(role);
    if (t === undefined) throw new Error(`${role} never listened`);
    return t;
  }

  /** The pids of every running process, by role. */
  pids(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [role, p] of this.running) if (p.child.pid !== undefined) out.set(role, p.child.pid);
    return out;
  }

  /** Uploads the copied directory records to sd-1 with hd-1's settings (`npm run sd-setup`). */
  async sdSetup(): Promise<void> {
    const r = await runProgram(process.execPath, [
      join(REPO_ROOT, 'dist/src/cli/sd-setup.js'),
      join(this.settings, 'directory'),
      '--settings',
      this.roleDir('hd-1'),
      '--wait',
      '20',
    ]);
    await appendFile(this.logFile('sd-setup'), r.stdout + r.stderr);
    if (r.code !== 0) throw new Error(`sd-setup failed:\n${r.stdout}${r.stderr}`);
  }

  /** sd-1, the records, then the other roles of `roles` that exist in settings/dev/roles. */
  async startAll(roles: string[] = P2P_ROLES): Promise<void> {
    const present = roles.filter(devRoleExists);
    if (present.includes('sd-1')) {
      await this.start('sd-1');
      await this.sdSetup();
    }
    await Promise.all(present.filter((r) => r !== 'sd-1').map((r) => this.start(r)));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((r) => this.stop(r)));
  }

  private logFile(role: string): string {
    return join(this.logs, `${role}.log`);
  }
}
