/**
 * The `directory` section of an eps's status [docs/status.md]: the directory as this node sees it —
 * operators with their groups, channels, services and pinned fingerprints, the permission matrix (which
 * methods each operator may call on each other, by the same rule the broker applies), and for an `api`
 * directory the verified chain's tip and the last refresh. Bounded: at most MAX_OPERATORS operators, and
 * the matrix only over the first MAX_MATRIX_OPERATORS of them.
 */
import type { DirectoryEntry } from '../../core/directory-entry.js';
import { ApiDirectory } from '../../directory/api-directory.js';
import type { Directory } from '../../directory/directory.js';
import { canCall } from '../../directory/permissions.js';

export const MAX_OPERATORS = 500;
export const MAX_MATRIX_OPERATORS = 60;

export interface OperatorView {
  name: string;
  display_name: string;
  groups: string[];
  channels: { type: string; address?: string; proxies?: string[]; internal?: boolean }[];
  services: { name: string; methods: string[] }[];
  fingerprints: string[];
}

export interface PermissionView {
  caller: string;
  callee: string;
  methods: string[];
}

function channelView(c: DirectoryEntry['channels'][number]): OperatorView['channels'][number] {
  const s = c.settings ?? {};
  const proxies = [s.proxy, ...(Array.isArray(s.proxies) ? s.proxies : [])].filter(
    (p): p is string => typeof p === 'string' && p !== '',
  );
  return {
    type: c.type,
    ...(typeof s.address === 'string' ? { address: s.address } : {}),
    ...(proxies.length > 0 ? { proxies } : {}),
    ...(s.internal === true ? { internal: true } : {}),
  };
}

export function operatorView(e: DirectoryEntry): OperatorView {
  return {
    name: e.name,
    display_name: e.properties.displayName,
    groups: [...e.groups],
    channels: e.channels.map(channelView),
    services: e.services.map((s) => ({ name: s.name, methods: s.methods.map((m) => m.name) })),
    fingerprints: e.certificates.map((c) => c.fingerprint),
  };
}

/** Who may call what: one row per (caller, callee) pair with at least one method, callers ≠ callees. */
export function permissionMatrix(entries: readonly DirectoryEntry[]): PermissionView[] {
  const out: PermissionView[] = [];
  for (const callee of entries) {
    const names = [...new Set(callee.services.flatMap((s) => s.methods.map((m) => m.name)))];
    for (const caller of entries) {
      if (caller.name === callee.name) continue;
      const methods = names.filter((m) => canCall(caller, callee, m));
      if (methods.length > 0) out.push({ caller: caller.name, callee: callee.name, methods });
    }
  }
  return out;
}

export function directoryStatus(directory: Directory, now: number): Record<string, unknown> {
  const all = directory.entries().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const shown = all.slice(0, MAX_OPERATORS);
  const view: Record<string, unknown> = {
    type: directory instanceof ApiDirectory ? 'api' : 'json',
    operator_count: all.length,
    operators: shown.map(operatorView),
    permissions: permissionMatrix(shown.slice(0, MAX_MATRIX_OPERATORS)),
    truncated: all.length > MAX_MATRIX_OPERATORS,
  };
  if (directory instanceof ApiDirectory) {
    const s = directory.stats();
    Object.assign(view, {
      records: s.records,
      tip: s.tip,
      last_refresh: s.lastSuccessAt === 0 ? null : new Date(s.lastSuccessAt).toISOString(),
      age_s: s.lastSuccessAt === 0 ? null : Math.round((now - s.lastSuccessAt) / 1000),
      refresh_period_s: s.periodMs / 1000,
      refreshes: s.refreshes,
      failures: s.failures,
      consecutive_failures: s.consecutiveFailures,
      last_error: s.lastError ?? null,
      state_file: s.stateFile,
    });
  }
  return view;
}
