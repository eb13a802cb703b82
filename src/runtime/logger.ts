// JSON lines, one object per line: what log collectors parse without configuration. `child` binds fields such as
// the app key, so every line a reconcile writes can be found by that key.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Whether a line at `level` would be written: skip building costly fields for discarded lines. */
  enabled(level: LogLevel): boolean;
  /** A logger that adds `fields` to every line (after this logger's own bound fields). */
  child(fields: LogFields): Logger;
}

/** The part of a writable stream a logger needs; process.stderr fits, and so does an array-backed test sink. */
export interface LogSink {
  write(line: string): unknown;
}

export interface LoggerOptions {
  readonly sink: LogSink;
  /** Lines below this level are dropped; default info. */
  readonly level?: LogLevel;
  readonly fields?: LogFields;
  /** Timestamp source, for tests; default the wall clock. */
  readonly now?: () => Date;
}

const ranks: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Parses a level name (case-insensitive), e.g. from a flag or environment variable. */
export function parseLogLevel(value: string): LogLevel {
  const level = value.trim().toLowerCase();
  if ((logLevels as readonly string[]).includes(level)) return level as LogLevel;
  throw new Error(`unknown log level ${JSON.stringify(value)}: expected one of ${logLevels.join(', ')}`);
}

export function createLogger({ sink, level = 'info', fields = {}, now = () => new Date() }: LoggerOptions): Logger {
  const threshold = ranks[level];
  const enabled = (at: LogLevel): boolean => ranks[at] >= threshold;
  const write = (at: LogLevel, msg: string, extra: LogFields | undefined): void => {
    if (!enabled(at)) return;
    sink.write(formatLine({ time: now().toISOString(), level: at, msg, ...fields, ...extra }, level === 'debug'));
  };
  return {
    level,
    enabled,
    debug: (msg, extra) => write('debug', msg, extra),
    info: (msg, extra) => write('info', msg, extra),
    warn: (msg, extra) => write('warn', msg, extra),
    error: (msg, extra) => write('error', msg, extra),
    child: (more) => createLogger({ sink, level, fields: { ...fields, ...more }, now }),
  };
}

/** A logger that writes nothing: the default for library code whose caller passed none. */
export const silentLogger: Logger = createLogger({ sink: { write: () => undefined }, level: 'error' });

/** One JSON line. Errors become objects (JSON.stringify would turn them into `{}`); stacks only at debug level. */
export function formatLine(record: LogFields, withStacks = false): string {
  const replacer = (_key: string, value: unknown): unknown => {
    if (value instanceof Error) return errorFields(value, withStacks);
    if (typeof value === 'bigint') return value.toString();
    return value;
  };
  try {
    return JSON.stringify(record, replacer) + '\n';
  } catch (error) {
    // A circular field must not turn a log call into a crash; keep what identifies the line.
    return (
      JSON.stringify({
        time: record.time,
        level: record.level,
        msg: record.msg,
        logError: `fields not serializable: ${error instanceof Error ? error.message : String(error)}`,
      }) + '\n'
    );
  }
}

function errorFields(error: Error, withStack: boolean): Record<string, unknown> {
  // Own enumerable fields carry what matters for API errors (status, reason), and `cause` chains are kept.
  const fields: Record<string, unknown> = { name: error.name, message: error.message };
  Object.assign(fields, error);
  if (error.cause !== undefined) fields.cause = error.cause;
  if (withStack && error.stack !== undefined) fields.stack = error.stack;
  return fields;
}
