import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, formatLine, parseLogLevel } from '../../src/runtime/logger.ts';
import { KubeApiError } from '../../src/runtime/kube/client.ts';

function sink(): { lines: string[]; records: () => Record<string, unknown>[]; write: (line: string) => void } {
  const lines: string[] = [];
  return {
    lines,
    write: (line) => lines.push(line),
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

const now = (): Date => new Date('2025-01-02T03:04:05.678Z');

describe('logger', () => {
  test('writes one JSON object per line: time, level, msg, then fields', () => {
    const out = sink();
    createLogger({ sink: out, now }).info('reconciled', { changed: 2 });
    assert.equal(out.lines.length, 1);
    assert.equal(out.lines[0], '{"time":"2025-01-02T03:04:05.678Z","level":"info","msg":"reconciled","changed":2}\n');
  });

  test('drops lines below the level', () => {
    const out = sink();
    const logger = createLogger({ sink: out, level: 'warn', now });
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    assert.deepEqual(
      out.records().map((r) => r.level),
      ['warn', 'error'],
    );
    assert.equal(logger.enabled('info'), false);
    assert.equal(logger.enabled('error'), true);
  });

  test('child loggers put their fields on every line, nested children add more', () => {
    const out = sink();
    const app = createLogger({ sink: out, now, fields: { component: 'controller' } }).child({ key: 'ns/app' });
    app.info('a');
    app.child({ step: 'statefulset' }).warn('b', { extra: true });
    assert.deepEqual(out.records(), [
      { time: '2025-01-02T03:04:05.678Z', level: 'info', msg: 'a', component: 'controller', key: 'ns/app' },
      {
        time: '2025-01-02T03:04:05.678Z',
        level: 'warn',
        msg: 'b',
        component: 'controller',
        key: 'ns/app',
        step: 'statefulset',
        extra: true,
      },
    ]);
  });

  test('errors become objects with their API fields; stacks only at debug level', () => {
    const error = new KubeApiError(410, { reason: 'Expired', message: 'too old resource version' }, 'gone');
    const info = JSON.parse(formatLine({ msg: 'x', error })) as { error: Record<string, unknown> };
    assert.equal(info.error.name, 'KubeApiError');
    assert.equal(info.error.message, 'too old resource version');
    assert.equal(info.error.status, 410);
    assert.equal(info.error.reason, 'Expired');
    assert.equal(info.error.stack, undefined);
    const debug = JSON.parse(formatLine({ msg: 'x', error: new Error('e', { cause: new Error('root') }) }, true)) as {
      error: { stack: string; cause: { message: string } };
    };
    assert.match(debug.error.stack, /Error: e/);
    assert.equal(debug.error.cause.message, 'root');
  });

  test('unserializable fields never throw', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const out = sink();
    createLogger({ sink: out, now }).info('still logged', { circular, big: 1n });
    const record = out.records()[0]!;
    assert.equal(record.msg, 'still logged');
    assert.match(String(record.logError), /not serializable/);
    assert.deepEqual(JSON.parse(formatLine({ big: 10n })), { big: '10' });
  });

  test('parses level names', () => {
    assert.equal(parseLogLevel(' DEBUG '), 'debug');
    assert.throws(() => parseLogLevel('verbose'), /unknown log level "verbose"/);
  });
});
