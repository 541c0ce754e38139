/** `host:port` strings as used throughout the settings and the directory. */
export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(value: string, defaultHost = 'localhost'): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  if (!m) throw new Error(`invalid address '${value}' (expected host:port)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in address '${value}'`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? defaultHost : host, port };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
