/**
 * Minimal structured logger writing one line per entry to stderr.
 * Formats: `text` (default, logfmt-like) and `iris` (the original's `--format iris` line layout).
 */
export const LEVELS = ['panic', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type Level = (typeof LEVELS)[number];
export type LogFormat = 'text' | 'iris' | 'json';

const LEVEL_NAMES: Record<Level, string> = {
  panic: 'PANIC',
  fatal: 'FATAL',
  error: 'ERROR',
  warn: 'WARNING',
  info: 'INFO',
  debug: 'DEBUG',
  trace: 'TRACE',
};

interface LoggerState {
  level: number;
  format: LogFormat;
  service: string;
  write: (line: string) => void;
}

const state: LoggerState = {
  level: LEVELS.indexOf('info'),
  format: 'text',
  service: 'EPS',
  write: (line) => process.stderr.write(line + '\n'),
};

export function parseLevel(value: string): Level {
  const v = value.toLowerCase() === 'warning' ? 'warn' : value.toLowerCase();
  if (!(LEVELS as readonly string[]).includes(v)) {
    throw new Error(`invalid log level '${value}' (use one of: ${LEVELS.join(', ')})`);
  }
  return v as Level;
}

export function configureLogging(opts: {
  level?: Level;
  format?: LogFormat;
  service?: string;
  write?: (line: string) => void;
}): void {
  if (opts.level) state.level = LEVELS.indexOf(opts.level);
  if (opts.format) state.format = opts.format;
  if (opts.service) state.service = opts.service;
  if (opts.write) state.write = opts.write;
}

export type Fields = Record<string, unknown>;

function quote(v: unknown): string {
  const s = typeof v === 'string' ? v : v instanceof Error ? v.message : JSON.stringify(v);
  return /^[\w.:/@-]+$/.test(s ?? '') ? (s ?? '') : JSON.stringify(s);
}

function emit(level: Level, component: string, msg: string, fields?: Fields): void {
  if (LEVELS.indexOf(level) > state.level) return;
  const time = new Date().toISOString();
  if (state.format === 'iris') {
    state.write(`${time} ${LEVEL_NAMES[level]} ${process.pid} ${state.service} [nan] [nan] : ${msg}`);
    return;
  }
  if (state.format === 'json') {
    state.write(JSON.stringify({ time, level, component, msg, ...fields }));
    return;
  }
  let line = `time=${time} level=${level} component=${component} msg=${quote(msg)}`;
  if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${quote(v)}`;
  state.write(line);
}

export interface Logger {
  error(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  trace(msg: string, fields?: Fields): void;
  enabled(level: Level): boolean;
}

export function logger(component: string): Logger {
  return {
    error: (m, f) => emit('error', component, m, f),
    warn: (m, f) => emit('warn', component, m, f),
    info: (m, f) => emit('info', component, m, f),
    debug: (m, f) => emit('debug', component, m, f),
    trace: (m, f) => emit('trace', component, m, f),
    enabled: (level) => LEVELS.indexOf(level) <= state.level,
  };
}
