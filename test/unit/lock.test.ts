import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLock, isFileOf, parsePipReport, parseProjectPage } from '../../src/packages/lock.ts';

const page = 'https://pypi.example.com/simple/charset-normalizer/';
const digest = (digit: string): string => digit.repeat(64);

test('project pages: PEP 503 HTML with #sha256 fragments and entities, and PEP 691 JSON', () => {
  const html = `<a href="../../files/charset_normalizer-3.3.2-py3-none-any.whl#sha256=${digest('A')}">x</a>
    <a href="https://files.example.com/charset-normalizer-3.3.2.tar.gz#md5=00&amp;sha256=${digest('b')}" data-requires-python="&gt;=3.7">y</a>
    <a href="/files/charset_normalizer-3.3.1-py3-none-any.whl">z</a>`;
  assert.deepEqual(parseProjectPage(html, 'text/html', page), [
    {
      filename: 'charset_normalizer-3.3.2-py3-none-any.whl',
      url: 'https://pypi.example.com/files/charset_normalizer-3.3.2-py3-none-any.whl',
      sha256: digest('a'),
    },
    {
      filename: 'charset-normalizer-3.3.2.tar.gz',
      url: 'https://files.example.com/charset-normalizer-3.3.2.tar.gz',
      sha256: digest('b'),
    },
    {
      filename: 'charset_normalizer-3.3.1-py3-none-any.whl',
      url: 'https://pypi.example.com/files/charset_normalizer-3.3.1-py3-none-any.whl',
      sha256: undefined,
    },
  ]);
  const json = JSON.stringify({
    files: [
      {
        filename: 'charset_normalizer-3.3.2-cp311-cp311-manylinux_2_17_x86_64.whl',
        url: '/f/a.whl',
        hashes: { sha256: digest('c') },
      },
      { filename: 'charset-normalizer-3.3.2.tar.gz', url: 'https://f.example.com/b.tar.gz', hashes: {} },
    ],
  });
  assert.deepEqual(parseProjectPage(json, 'application/vnd.pypi.simple.v1+json', page), [
    {
      filename: 'charset_normalizer-3.3.2-cp311-cp311-manylinux_2_17_x86_64.whl',
      url: 'https://pypi.example.com/f/a.whl',
      sha256: digest('c'),
    },
    { filename: 'charset-normalizer-3.3.2.tar.gz', url: 'https://f.example.com/b.tar.gz', sha256: undefined },
  ]);
});

test('a file belongs to a version by its parsed name, not by a prefix', () => {
  assert.ok(isFileOf('charset_normalizer-3.3.2-py3-none-any.whl', 'Charset-Normalizer', '3.3.2'));
  assert.ok(isFileOf('charset-normalizer-3.3.2.tar.gz', 'charset_normalizer', '3.3.2'));
  assert.ok(!isFileOf('charset_normalizer-3.3.21-py3-none-any.whl', 'charset-normalizer', '3.3.2'));
  assert.ok(!isFileOf('charset_normalizer_x-3.3.2-py3-none-any.whl', 'charset-normalizer', '3.3.2'));
  assert.ok(!isFileOf('charset-normalizer-3.3.2.exe', 'charset-normalizer', '3.3.2'));
});

test("pip's report and the lock: sorted by project and digest, the chosen file's digest always in", () => {
  const report = JSON.stringify({
    version: '1',
    install: [
      {
        metadata: { name: 'Requests', version: '2.31.0' },
        download_info: { url: 'https://f/r.whl', archive_info: { hashes: { sha256: digest('9') } } },
      },
      {
        metadata: { name: 'certifi', version: '2024.2.2' },
        download_info: { url: 'https://f/c.whl', archive_info: {} },
      },
    ],
  });
  const resolved = parsePipReport(report);
  const lock = buildLock(resolved, (d) =>
    d.name === 'Requests' ? [digest('b'), digest('A'), digest('9')] : [digest('c')],
  );
  assert.deepEqual(lock, [
    { name: 'certifi', version: '2024.2.2', hashes: [{ algorithm: 'sha256', digest: digest('c') }] },
    {
      name: 'requests',
      version: '2.31.0',
      hashes: [digest('9'), digest('a'), digest('b')].map((d) => ({ algorithm: 'sha256', digest: d })),
    },
  ]);
  assert.throws(() => parsePipReport('{"version": "1"}'), /no installation report/);
});
