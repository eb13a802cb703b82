// The installer's pure functions, called in the real interpreter with the shipped program text: failure classification
// on pip 23 output captured from real runs against the test index, the result size limit, secret scrubbing, input
// refusal, credential splicing and cache pruning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { callInstaller, createSandbox } from './installer-harness.ts';

// Console lines first, then the debug-log lines the installer keeps (timestamps as pip writes them).
const PIP_SAMPLES: Record<string, { lines: string[]; type: string; evidence: RegExp }> = {
  'wrong credentials: pip only says "from versions: none"; its log says 401': {
    lines: [
      'Looking in indexes: http://****@127.0.0.1:44665/simple/',
      'ERROR: Could not find a version that satisfies the requirement kaspr-demo-a==1.0 (from versions: none)',
      'ERROR: No matching distribution found for kaspr-demo-a==1.0',
      '2026-11-26T10:01:54,085 Could not fetch URL http://****@127.0.0.1:42489/simple/kaspr-demo-a/: 401 Client Error: Unauthorized for url: http://127.0.0.1:42489/simple/kaspr-demo-a/ - skipping',
      '2026-11-26T10:01:54,090 ERROR: Could not find a version that satisfies the requirement kaspr-demo-a==1.0 (from versions: none)',
    ],
    type: 'authentication',
    evidence: /^Could not fetch URL .*401 Client Error/,
  },
  forbidden: {
    lines: [
      'ERROR: Could not find a version that satisfies the requirement x (from versions: none)',
      '2026-11-26T10:01:54,085 Could not fetch URL https://pkgs.example/simple/x/: 403 Client Error: Forbidden for url: https://pkgs.example/simple/x/ - skipping',
    ],
    type: 'authentication',
    evidence: /403 Client Error/,
  },
  'connection refused': {
    lines: [
      'ERROR: Could not find a version that satisfies the requirement kaspr-demo-a==1.0 (from versions: none)',
      "2026-11-26T10:02:19,861 Could not fetch URL http://127.0.0.1:1/simple/kaspr-demo-a/: connection error: HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /simple/kaspr-demo-a/ (Caused by NewConnectionError('<pip._vendor.urllib3.connection.HTTPConnection object at 0x7f33421c3850>: Failed to establish a new connection: [Errno 111] Connection refused')) - skipping",
    ],
    type: 'network',
    evidence: /Connection refused/,
  },
  'connection dropped without an answer': {
    lines: [
      "2026-11-26T10:06:45,100 Could not fetch URL http://127.0.0.1:37493/simple/kaspr-demo-a/: connection error: HTTPConnectionPool(host='127.0.0.1', port=37493): Max retries exceeded with url: /simple/kaspr-demo-a/ (Caused by ProtocolError('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))) - skipping",
    ],
    type: 'network',
    evidence: /RemoteDisconnected/,
  },
  'server errors': {
    lines: [
      "2026-11-26T10:06:46,100 Could not fetch URL http://127.0.0.1:45849/simple/kaspr-demo-a/: HTTPConnectionPool(host='127.0.0.1', port=45849): Max retries exceeded with url: /simple/kaspr-demo-a/ (Caused by ResponseError('too many 500 error responses')) - skipping",
    ],
    type: 'network',
    evidence: /too many 500 error responses/,
  },
  'socket read timeout': {
    lines: [
      'ERROR: Could not find a version that satisfies the requirement kaspr-demo-a==1.0 (from versions: none)',
      "2026-11-26T10:08:27,841 Could not fetch URL http://127.0.0.1:33341/simple/kaspr-demo-a/: connection error: HTTPConnectionPool(host='127.0.0.1', port=33341): Max retries exceeded with url: /simple/kaspr-demo-a/ (Caused by ReadTimeoutError(\"HTTPConnectionPool(host='127.0.0.1', port=33341): Read timed out. (read timeout=1.0)\")) - skipping",
    ],
    type: 'timeout',
    evidence: /Read timed out/,
  },
  'wrong hash in the index': {
    lines: [
      'ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have updated the package versions, please update the hashes. Otherwise, examine the package contents carefully; someone may have tampered with them.',
      '    kaspr-demo-a==1.0 from http://127.0.0.1:1/files/kaspr_demo_a-1.0-py3-none-any.whl#sha256=0000:',
      '        Expected sha256 0000000000000000000000000000000000000000000000000000000000000000',
    ],
    type: 'hash_mismatch',
    evidence: /^THESE PACKAGES DO NOT MATCH THE HASHES/,
  },
  'two requirements that cannot hold together': {
    lines: [
      'ERROR: Cannot install kaspr-demo-a==1.0 and kaspr-demo-a==2.0 because these package versions have conflicting dependencies.',
      '',
      'The conflict is caused by:',
      '    The user requested kaspr-demo-a==1.0',
      '    The user requested kaspr-demo-a==2.0',
      'ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts',
    ],
    type: 'version_conflict',
    evidence: /^Cannot install kaspr-demo-a==1.0 and kaspr-demo-a==2.0/,
  },
  'a version that does not exist': {
    lines: [
      'ERROR: Could not find a version that satisfies the requirement kaspr-demo-a==9.0 (from versions: 1.0, 2.0)',
      'ERROR: No matching distribution found for kaspr-demo-a==9.0',
    ],
    type: 'version_conflict',
    evidence: /\(from versions: 1.0, 2.0\)/,
  },
  'a project that does not exist (its log has a traceback naming ResolutionImpossible)': {
    lines: [
      'ERROR: Could not find a version that satisfies the requirement kaspr-demo-missing (from versions: none)',
      'ERROR: No matching distribution found for kaspr-demo-missing',
      "2026-11-26T10:01:54,091 pip._vendor.resolvelib.resolvers.ResolutionImpossible: [RequirementInformation(requirement=SpecifierRequirement('kaspr-demo-missing'), parent=None)]",
      '2026-11-26T10:01:54,091 pip._internal.exceptions.DistributionNotFound: No matching distribution found for kaspr-demo-missing',
    ],
    type: 'package_not_found',
    evidence: /^Could not find a version that satisfies the requirement kaspr-demo-missing \(from versions: none\)$/,
  },
  'a marker pip cannot parse (a traceback)': {
    lines: [
      'ERROR: Exception:',
      'Traceback (most recent call last):',
      '  File "/usr/lib/python3/site-packages/pip/_internal/req/constructors.py", line 297, in parse_req_from_line',
      '    raise InvalidMarker(',
      "pip._vendor.packaging.markers.InvalidMarker: Invalid marker: 'touch canary', parse error at 'touch ca'",
    ],
    type: 'invalid_input',
    evidence: /^pip\._vendor\.packaging\.markers\.InvalidMarker: Invalid marker/,
  },
  'a requirement pip cannot parse': {
    lines: ["ERROR: Invalid requirement: 'kaspr-demo-a | touch canary' (from line 1 of requirements.txt)"],
    type: 'invalid_input',
    evidence: /^Invalid requirement/,
  },
  'a full volume': {
    lines: [
      '  Downloading http://127.0.0.1:34817/files/kaspr_demo_big-1.0-py3-none-any.whl (1.1 MB)',
      'ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device',
    ],
    type: 'disk_full',
    evidence: /No space left on device/,
  },
  'anything else': {
    lines: ['ERROR: Exception:', 'Traceback (most recent call last):', 'RuntimeError: something new'],
    type: 'unknown',
    evidence: /^RuntimeError: something new$/,
  },
};

test('pip failures are classified from real pip output, with the line that shows why', () => {
  const cases = Object.entries(PIP_SAMPLES);
  const classified = callInstaller(
    'OUTPUT = [list(classify_pip_failure(lines, False)) for lines in INPUT]',
    cases.map(([, sample]) => sample.lines),
  ) as [string, string][];
  cases.forEach(([name, sample], i) => {
    const [type, evidence] = classified[i]!;
    assert.equal(type, sample.type, name);
    assert.match(evidence, sample.evidence, name);
  });
  assert.deepEqual(callInstaller('OUTPUT = list(classify_pip_failure(["Successfully installed x"], True))'), [
    'timeout',
    'pip ran out of its time for one attempt and was stopped',
  ]);
});

test("pip's hash-checking report: the file and every digest of a mismatch; the unlocked dependencies by name", () => {
  const url = 'http://127.0.0.1:1/files/kaspr_demo_a-1.0-py3-none-any.whl#sha256=' + 'b'.repeat(64);
  const mismatch = [
    'Collecting kaspr-demo-a==1.0 (from -r /packages/.staging/x/requirements.txt (line 1))',
    'ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have updated the package versions, please update the hashes. Otherwise, examine the package contents carefully; someone may have tampered with them.',
    `    kaspr-demo-a==1.0 from ${url} (from -r /packages/.staging/x/requirements.txt (line 1)):`,
    `        Expected sha256 ${'2'.repeat(64)}`,
    `             Or     sha256 ${'4'.repeat(64)}`,
    `             Got        ${'b'.repeat(64)}`,
    `        Expected sha512 ${'3'.repeat(128)}`,
    `             Got        ${'c'.repeat(128)}`,
  ];
  const unlocked = [
    'ERROR: In --require-hashes mode, all requirements must have their versions pinned with ==. These do not:',
    '    kaspr-demo-b>=1 from http://127.0.0.1:1/files/kaspr_demo_b-2.0-py3-none-any.whl#sha256=00 (from kaspr-demo-a==1.0->-r /packages/.staging/x/requirements.txt (line 1))',
  ];
  const [mismatchFailure, unlockedFailure, none] = callInstaller(
    `
def described(failure):
    return None if failure is None else [failure.error_type, failure.message]
OUTPUT = [described(hash_check_failure(lines, True)) for lines in INPUT]
`,
    [mismatch, unlocked, ['Successfully installed kaspr-demo-a-1.0']],
  ) as ([string, string] | null)[];
  // The file's digest and the first expected one (pip compares the first algorithm's), within 400 characters.
  assert.deepEqual(mismatchFailure, [
    'hash_mismatch',
    `kaspr_demo_a-1.0-py3-none-any.whl (kaspr-demo-a==1.0) has sha256:${'b'.repeat(64)}, not the digest in ` +
      `packagesWithHashes (sha256:${'2'.repeat(64)} or 1 other(s)); the index serves other bytes than were locked`,
  ]);
  assert.deepEqual(unlockedFailure, [
    'invalid_input',
    "packagesWithHashes does not lock 'kaspr-demo-b' (kaspr-demo-b>=1 required by kaspr-demo-a==1.0): a " +
      'hash-checked install needs every dependency pinned with its digests; lock again with `kasprop lock -f FILE`',
  ]);
  assert.equal(none, null);
});

test('the result stays under 4096 bytes with a long install list, keeping the total', () => {
  const installed = Array.from(
    { length: 600 },
    (_, i) => `some-rather-long-distribution-name-${String(i)}==1.0.${String(i)}`,
  );
  const warnings = Array.from({ length: 10 }, (_, i) => `warning ${String(i)} ${'x'.repeat(150)}`);
  const encoded = callInstaller(
    `
document = result_document(state="Ready", hash="abcdef0123456789", installed=INPUT["installed"],
    installedTotal=len(INPUT["installed"]), warnings=INPUT["warnings"], error="e" * 5000)
OUTPUT = encode_result(document)
`,
    { installed, warnings },
  ) as string;
  assert.ok(Buffer.byteLength(encoded) < 4096, `${String(Buffer.byteLength(encoded))} bytes`);
  assert.doesNotMatch(encoded, /\n/);
  const document = JSON.parse(encoded) as { installed: string[]; installedTotal: number; error: string };
  assert.equal(document.installedTotal, 600);
  assert.ok(document.installed.length > 40, 'as many entries as fit are kept');
  assert.deepEqual(document.installed, installed.slice(0, document.installed.length));
  assert.ok(document.error.length <= 400);
});

test('the scrubber removes the password in every form pip might print it', () => {
  const password = 'p@ss:w/rd%#&?x';
  const username = 'kaspr user';
  const scrubbed = callInstaller(
    `
from urllib.parse import quote, quote_plus
import base64
scrub = Scrubber(INPUT["username"], INPUT["password"])
p = INPUT["password"]
forms = [p, quote(p, safe=""), quote(p), quote_plus(p), quote(p, safe="").lower(),
         base64.b64encode((INPUT["username"] + ":" + p).encode()).decode()]
OUTPUT = [scrub("before " + form + " after") for form in forms] + [scrub("http://user:secret@host/simple/")]
`,
    { username, password },
  ) as string[];
  for (const line of scrubbed.slice(0, -1)) assert.equal(line, 'before **** after');
  assert.equal(scrubbed.at(-1), 'http://****@host/simple/');
});

test('requirement lines that could act as pip options or expand variables are refused before pip runs', () => {
  const refused = callInstaller(
    `
OUTPUT = []
for raw in INPUT:
    try:
        requirement_lines(raw)
        OUTPUT.append(None)
    except Failure as failure:
        OUTPUT.append([failure.error_type, failure.message])
`,
    [
      '-r /etc/passwd',
      '--index-url http://evil.invalid/simple/',
      'kaspr-demo-a --index-url http://evil.invalid/simple/',
      '-e git+https://evil.invalid/x#egg=x',
      '$(touch canary)',
      'kaspr-demo-a==${VERSION}',
      'kaspr-demo-a\r\n-r /etc/passwd',
      'kaspr-demo-a\0',
      'kaspr-demo-a \\\n--index-url=http://evil.invalid/',
      'kaspr-demo-a \\',
      '',
      'kaspr-demo-a>=1.0,<3 ; python_version >= "3.8"\nkaspr-demo-c[extra]\npkg @ https://host.example/pkg-1.0-py3-none-any.whl',
    ],
  ) as ([string, string] | null)[];
  refused.slice(0, -1).forEach((outcome, i) => {
    assert.ok(outcome !== null, `case ${String(i)} is refused`);
    assert.equal(outcome[0], 'invalid_input');
  });
  assert.equal(refused.at(-1), null, 'PEP 508 requirements with markers, extras and URLs pass');
});

test('credentials are spliced URL-encoded into the index URL only, and other inputs are checked', () => {
  const outcomes = callInstaller(
    `
def attempt(env):
    try:
        cfg = Config(env)
        return ["ok", cfg.pip_index_url(), cfg.extra_index_urls, cfg.trusted_hosts, cfg.retries, cfg.timeout, cfg.deadline]
    except Failure as failure:
        return [failure.error_type, failure.message]
base = {"KASPR_PACKAGES_HASH": "abcdef0123456789", "KASPR_PACKAGES_REQUIREMENTS": "kaspr-demo-a"}
OUTPUT = [attempt(dict(base, **change)) for change in INPUT]
`,
    [
      {
        KASPR_PACKAGES_INDEX_URL: 'https://pkgs.example:8443/simple/',
        KASPR_PACKAGES_EXTRA_INDEX_URLS: 'https://pypi.org/simple/\n\nhttps://mirror.example/simple/',
        KASPR_PACKAGES_TRUSTED_HOSTS: 'pkgs.example:8443\n[::1]:8080',
        KASPR_PACKAGES_INDEX_USERNAME: 'kaspr user',
        KASPR_PACKAGES_INDEX_PASSWORD: 'p@ss:w/rd%#&',
        KASPR_PACKAGES_RETRIES: '2',
        KASPR_PACKAGES_TIMEOUT_SECONDS: '10',
      },
      { KASPR_PACKAGES_INDEX_PASSWORD: 'secret-password' },
      { KASPR_PACKAGES_INDEX_URL: 'https://old:stale@pkgs.example:8443/simple/' },
      {
        KASPR_PACKAGES_INDEX_URL: 'https://repo.example/private/simple/',
        KASPR_PACKAGES_EXTRA_INDEX_URLS: 'https://repo.example:443/public/simple/',
        KASPR_PACKAGES_INDEX_USERNAME: 'reader',
        KASPR_PACKAGES_INDEX_PASSWORD: 'secret-password',
      },
      { KASPR_PACKAGES_INDEX_URL: 'ftp://pkgs.example/simple/' },
      { KASPR_PACKAGES_INDEX_URL: 'https://pkgs.example/simple/ --trusted-host evil' },
      { KASPR_PACKAGES_EXTRA_INDEX_URLS: 'https://pkgs.example:notaport/simple/' },
      { KASPR_PACKAGES_TRUSTED_HOSTS: 'evil; touch canary' },
      { KASPR_PACKAGES_RETRIES: '-1' },
      { KASPR_PACKAGES_TIMEOUT_SECONDS: '0' },
      { KASPR_PACKAGES_ON_FAILURE: 'maybe' },
      { KASPR_PACKAGES_HASH: 'abcdef0123456789\n' },
      { KASPR_PACKAGES_HASH: '../../etc' },
    ],
  ) as unknown[][];
  assert.deepEqual(outcomes[0], [
    'ok',
    'https://kaspr%20user:p%40ss%3Aw%2Frd%25%23%26@pkgs.example:8443/simple/',
    ['https://pypi.org/simple/', 'https://mirror.example/simple/'],
    ['pkgs.example:8443', '[::1]:8080'],
    2,
    10,
    // (2 + 1) attempts of 10 s, plus 0.5 s and 1 s of backoff, rounded up.
    32,
  ]);
  for (const outcome of outcomes.slice(1)) assert.equal(outcome[0], 'invalid_input', JSON.stringify(outcome));
});

test('pruning the pip cache deletes the least recently written files first, down to the limit', async (t) => {
  const sandbox = await createSandbox();
  t.after(() => sandbox.cleanup());
  const cache = join(sandbox.volume, 'cache');
  await mkdir(join(cache, 'http', 'a'), { recursive: true });
  for (let i = 0; i < 5; i++) {
    const file = join(cache, 'http', 'a', `entry-${String(i)}`);
    await writeFile(file, Buffer.alloc(1000));
    await utimes(file, 1_000_000 + i, 1_000_000 + i);
  }
  const freed = callInstaller('OUTPUT = prune_directory(INPUT, 2500)', cache);
  assert.equal(freed, 3000);
  assert.deepEqual((await readdir(join(cache, 'http', 'a'))).sort(), ['entry-3', 'entry-4']);
});

test('what pip download chose, from its log: files found (a backtracked one too), replaced and saved; the counts', () => {
  const downloads = '/v/.staging/h.1/downloads';
  const events = [
    `2026-12-03T13:49:01,101   File was already downloaded ${downloads}/kaspr_demo_a-1.0-py3-none-any.whl`,
    // The resolver looked at b 2.0, backtracked and took b 1.0: one file per project in the final set all the same.
    `2026-12-03T13:49:01,102   File was already downloaded ${downloads}/kaspr_demo_b-2.0-py3-none-any.whl`,
    `2026-12-03T13:49:01,103   File was already downloaded ${downloads}/kaspr_demo_b-1.0-py3-none-any.whl`,
    `2026-12-03T13:49:01,104   File was already downloaded ${downloads}/kaspr_demo_c-1.0-py3-none-any.whl`,
    `2026-12-03T13:49:01,105 WARNING: Previously-downloaded file ${downloads}/kaspr_demo_c-1.0-py3-none-any.whl has bad hash. Re-downloading.`,
    '2026-12-03T13:49:01,106   Downloading http://127.0.0.1:1/files/kaspr_demo_c-1.0-py3-none-any.whl (1.5 kB)',
    '2026-12-03T13:49:01,107   Downloading link http://127.0.0.1:1/files/x.whl to /tmp/x.whl',
    '2026-12-03T13:49:01,108 Saved ./downloads/kaspr_demo_c-1.0-py3-none-any.whl',
    '2026-12-03T13:49:01,109 Successfully downloaded kaspr-demo-a kaspr-demo-b kaspr-demo-c',
  ];
  const output = callInstaller(
    `choice = PipChoice(INPUT)
OUTPUT = [sorted(choice.files()), choice.from_store(), choice.downloaded(), downloads_of(PipRun(0, False, [], [], INPUT))]`,
    events,
  );
  assert.deepEqual(output, [
    [
      'kaspr_demo_a-1.0-py3-none-any.whl',
      'kaspr_demo_b-1.0-py3-none-any.whl',
      'kaspr_demo_b-2.0-py3-none-any.whl',
      'kaspr_demo_c-1.0-py3-none-any.whl',
    ],
    2,
    1,
    1,
  ]);
});
