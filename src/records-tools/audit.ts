/**
 * `eps sd audit URL...` [docs/operations.md#proofs]: asks several sds (their JSON-RPC URL) or eps gateways
 * (`URL#OPERATOR`: the operator's internal proof methods through its gateway) for their tips, then checks every
 * pair: the party with more records proves with a consistency proof that the other's chain is its prefix
 * (equal sizes: equal roots). Every proof is verified here; nothing a party says is taken on trust.
 */
import type { JsonValue } from '../core/json.js';
import { errorMessage } from '../core/errors.js';
import { JsonRpcClient } from '../jsonrpc/client.js';
import {
  checkConsistencyProof,
  EPS_PROOF_METHODS,
  parseConsistencyProof,
  parseDirectoryTip,
  SD_PROOF_METHODS,
  type DirectoryTip,
  type ProofCheck,
  type ProofQuery,
} from '../records/index.js';
import type { ApiDirectorySettings } from '../settings/index.js';
import { RecordToolError } from './errors.js';

/** Most parties one audit compares (pairs grow with the square). */
export const MAX_AUDIT_TARGETS = 16;

export interface AuditTarget {
  /** As given on the command line. */
  label: string;
  endpoint: string;
  /** For an eps gateway: the operator whose internal methods are called. */
  operator: string | undefined;
}

export interface TargetTip {
  target: AuditTarget;
  tip?: DirectoryTip;
  error?: string;
}

export interface PairResult {
  a: string;
  b: string;
  check: ProofCheck;
}

export interface AuditReport {
  tips: TargetTip[];
  pairs: PairResult[];
}

export function parseAuditTarget(arg: string): AuditTarget {
  let url: URL;
  try {
    url = new URL(arg);
  } catch {
    throw new RecordToolError('audit-target', `not a URL: ${arg}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new RecordToolError('audit-target', `not an http(s) URL: ${arg}`);
  }
  const operator = url.hash === '' ? undefined : decodeURIComponent(url.hash.slice(1));
  url.hash = '';
  return { label: arg, endpoint: url.href, operator };
}

/** TLS server names the parties' certificates must carry. */
export interface AuditServerNames {
  /** Of the sds (default: the first of the api directory's `server_names`). */
  sd?: string;
  /**
   * Of the eps gateways: the operator whose node serves the gateway (usually the auditor's own node, through
   * which `URL#OPERATOR` reaches any operator of the network), not the operator asked.
   */
  gateway?: string;
}

class Party {
  private readonly client: JsonRpcClient;

  constructor(
    readonly target: AuditTarget,
    settings: ApiDirectorySettings,
    names: AuditServerNames,
  ) {
    const name = target.operator === undefined ? (names.sd ?? settings.server_names[0]) : names.gateway;
    this.client = new JsonRpcClient(
      { ...settings.jsonrpc_client, endpoint: target.endpoint },
      name === undefined ? {} : { serverName: name },
    );
  }

  async ask(query: ProofQuery, params: Record<string, number>): Promise<JsonValue | undefined> {
    const t = this.target;
    const method =
      t.operator === undefined ? SD_PROOF_METHODS[query] : `${t.operator}.${EPS_PROOF_METHODS[query]}`;
    const reply = await this.client.call(method, params, 'audit');
    if (reply.error) throw new Error(`${method} failed: ${reply.error.message} (code ${reply.error.code})`);
    return reply.result;
  }

  close(): void {
    this.client.close();
  }
}

/** Fetches the tips of `targets` and checks every pair of those that answered. */
export async function audit(
  targets: readonly AuditTarget[],
  settings: ApiDirectorySettings,
  names: AuditServerNames = {},
): Promise<AuditReport> {
  if (targets.length < 2 || targets.length > MAX_AUDIT_TARGETS) {
    throw new RecordToolError('audit-target', `give between 2 and ${MAX_AUDIT_TARGETS} URLs to compare`);
  }
  const parties = targets.map((t) => new Party(t, settings, names));
  try {
    const tips = await Promise.all(
      parties.map(async (party): Promise<TargetTip> => {
        try {
          return { target: party.target, tip: parseDirectoryTip(await party.ask('tip', {})) };
        } catch (err) {
          return { target: party.target, error: errorMessage(err) };
        }
      }),
    );
    const pairs: PairResult[] = [];
    for (let i = 0; i < parties.length; i++) {
      for (let j = i + 1; j < parties.length; j++) {
        const [x, y] = [tips[i]!, tips[j]!];
        if (!x.tip || !y.tip) continue;
        // The longer chain proves that the shorter one is its prefix.
        const [small, large, prover] = x.tip.size <= y.tip.size ? [x, y, parties[j]!] : [y, x, parties[i]!];
        pairs.push({
          a: small.target.label,
          b: large.target.label,
          check: await provePrefix(prover, small.tip!, large.tip!),
        });
      }
    }
    return { tips, pairs };
  } finally {
    for (const party of parties) party.close();
  }
}

async function provePrefix(prover: Party, small: DirectoryTip, large: DirectoryTip): Promise<ProofCheck> {
  try {
    const raw = await prover.ask('consistency', { first: small.size, second: large.size });
    return checkConsistencyProof(parseConsistencyProof(raw), small, large);
  } catch (err) {
    return { ok: false, reason: `no consistency proof from ${prover.target.label}: ${errorMessage(err)}` };
  }
}

/** The report as text: a table of the parties, then one line per pair. */
export function formatAudit(report: AuditReport): string {
  const rows = [['PARTY', 'SIZE', 'HEAD', 'ROOT']];
  for (const t of report.tips) {
    rows.push(
      t.tip
        ? [t.target.label, String(t.tip.size), t.tip.head.slice(0, 16) || '-', t.tip.root.slice(0, 16)]
        : [t.target.label, 'UNREACHABLE', '-', '-'],
    );
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd(),
  );
  lines.push('');
  for (const t of report.tips) if (!t.tip) lines.push(`unreachable   ${t.target.label}: ${t.error ?? ''}`);
  for (const p of report.pairs) {
    lines.push(
      `${p.check.ok ? 'consistent  ' : 'INCONSISTENT'}  ${p.a} <= ${p.b}${p.check.ok ? '' : `: ${p.check.reason}`}`,
    );
  }
  return lines.join('\n') + '\n';
}
