import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeProjectName, parseRequirement } from '../../src/packages/requirement.ts';

// Real-world requirement strings and the canonical line pip receives for each.
const valid: [input: string, canonical: string][] = [
  ['requests', 'requests'],
  ['requests==2.31.0', 'requests==2.31.0'],
  ['requests>=2.28,<3', 'requests<3,>=2.28'],
  ['Requests[Security, SOCKS] >= 2.0 , <3', 'requests[security,socks]<3,>=2.0'],
  ['requests (>=2.0, <3.0)', 'requests<3.0,>=2.0'],
  ['numpy~=1.26.0', 'numpy~=1.26.0'],
  ['python-dateutil~=2.8', 'python-dateutil~=2.8'],
  ['pandas===2.1.4', 'pandas===2.1.4'],
  ['Django>=4.2,!=4.2.1,<5.0', 'django!=4.2.1,<5.0,>=4.2'],
  ['urllib3<2; python_version < "3.10"', 'urllib3<2; python_version < "3.10"'],
  ["importlib-metadata>=4.6; python_version<'3.10'", 'importlib-metadata>=4.6; python_version < "3.10"'],
  ['pywin32>=306; sys_platform == "win32"', 'pywin32>=306; sys_platform == "win32"'],
  [
    'uvloop; sys_platform != "win32" and implementation_name == "cpython"',
    'uvloop; sys_platform != "win32" and implementation_name == "cpython"',
  ],
  [
    'aiokafka>=0.8.0; python_version >= "3.8" and (platform_machine == "x86_64" or platform_machine == "aarch64")',
    'aiokafka>=0.8.0; python_version >= "3.8" and (platform_machine == "x86_64" or platform_machine == "aarch64")',
  ],
  ["orjson ; platform_python_implementation=='CPython'", 'orjson; platform_python_implementation == "CPython"'],
  ['foo; python_version in "3.10 3.11"', 'foo; python_version in "3.10 3.11"'],
  ['foo; "3.8" not in python_version', 'foo; "3.8" not in python_version'],
  ['typing_extensions>=4.0', 'typing-extensions>=4.0'],
  ['zope.interface==6.1', 'zope-interface==6.1'],
  ['ruamel.yaml>=0.17', 'ruamel-yaml>=0.17'],
  ['scikit-learn==1.3.2', 'scikit-learn==1.3.2'],
  ['pydantic[email]==2.5.3', 'pydantic[email]==2.5.3'],
  ['apache-airflow[postgres,google]==2.8.0', 'apache-airflow[google,postgres]==2.8.0'],
  ['torch==2.1.0+cpu', 'torch==2.1.0+cpu'],
  ['foo==1.0.*', 'foo==1.0.*'],
  ['foo!=1.5.*', 'foo!=1.5.*'],
  ['cryptography>=41.0.0rc1', 'cryptography>=41.0.0rc1'],
  ['Flask-SQLAlchemy>=3.0.0.post1', 'flask-sqlalchemy>=3.0.0.post1'],
  ['grpcio>=1.60.0.dev0', 'grpcio>=1.60.0.dev0'],
  ['certifi>=2023.7.22', 'certifi>=2023.7.22'],
  ['tzdata>=2024.1; sys_platform == "win32"', 'tzdata>=2024.1; sys_platform == "win32"'],
  ['pip @ https://github.com/pypa/pip/archive/22.0.2.zip', 'pip @ https://github.com/pypa/pip/archive/22.0.2.zip'],
  [
    'mypkg @ https://files.example.com/mypkg-1.0-py3-none-any.whl#sha256=0123abcd',
    'mypkg @ https://files.example.com/mypkg-1.0-py3-none-any.whl#sha256=0123abcd',
  ],
  [
    'mypkg @ https://files.example.com/mypkg-1.0.tar.gz ; python_version >= "3.8"',
    'mypkg @ https://files.example.com/mypkg-1.0.tar.gz ; python_version >= "3.8"',
  ],
  ['mypkg @ git+https://github.com/org/mypkg.git@v1.2.0', 'mypkg @ git+https://github.com/org/mypkg.git@v1.2.0'],
  [
    'mypkg @ git+https://github.com/org/mono.git@main#subdirectory=libs/mypkg',
    'mypkg @ git+https://github.com/org/mono.git@main#subdirectory=libs/mypkg',
  ],
  ['mypkg @ git+ssh://git@github.com/org/mypkg.git@v1', 'mypkg @ git+ssh://git@github.com/org/mypkg.git@v1'],
  [
    'git+https://github.com/org/mypkg.git@a1b2c3d#egg=mypkg',
    'mypkg @ git+https://github.com/org/mypkg.git@a1b2c3d#egg=mypkg',
  ],
  [
    'git+https://github.com/org/mono.git@v2#egg=my_pkg&subdirectory=pkgs/mypkg',
    'my-pkg @ git+https://github.com/org/mono.git@v2#egg=my_pkg&subdirectory=pkgs/mypkg',
  ],
  ['  requests==2.31.0  ', 'requests==2.31.0'],
  [
    `x; ${'('.repeat(10)}python_version >= "3"${')'.repeat(10)}`,
    `x; ${'('.repeat(10)}python_version >= "3"${')'.repeat(10)}`,
  ],
  ['x; python_version ~= "3.8"', 'x; python_version ~= "3.8"'],
  // PEP 440 spellings of one version, normalized as pip's packaging does.
  ['foo>=1.0-RC1', 'foo>=1.0rc1'],
  ['foo>=1.0rc1', 'foo>=1.0rc1'],
  ['foo==V01.02-alpha.3', 'foo==1.2a3'],
  ['foo!=1.0-1', 'foo!=1.0.post1'],
  ['foo<2.0dev', 'foo<2.0.dev0'],
  ['foo==1.0+Ubuntu-01', 'foo==1.0+ubuntu.1'],
  ['foo==v1.0.*', 'foo==1.0.*'],
  ['foo~=1.4.RC2', 'foo~=1.4rc2'],
  ['foo==1.0preview1', 'foo==1.0rc1'],
  ['foo>=0!1.0_rev', 'foo>=1.0.post0'],
  ['foo===1.0-RC1', 'foo===1.0-rc1'],
];

// `$` is refused wherever it is, with its own reason rather than whichever grammar rule it breaks first.
const dollar = "contains '$', which is not allowed (pip expands ${VAR})";

// Inputs that must be refused, with the reason the user sees.
const invalid: [input: string, reason: string][] = [
  [
    'requests; touch /tmp/x',
    "expected a marker variable (such as python_version or sys_platform) or a quoted string at position 11, found 'touch /tmp/x'",
  ],
  ['$(id)', dollar],
  ['requests==${VERSION}', dollar],
  ['requests[${EXTRA}]', dollar],
  ['`id`', "expected a project name (letters, digits, '.', '_' and '-') at position 1, found '`id`'"],
  ['a==1\nb', 'must be a single line (found a line break); use one entry per requirement'],
  ['requests==1.0\r', 'must be a single line (found a line break); use one entry per requirement'],
  ['requests\u0000', 'contains a control character'],
  ['pkg && x', "expected extras '[...]', a version specifier, '@ <url>' or '; <marker>' at position 5, found '&& x'"],
  [
    'requests | cat',
    "expected extras '[...]', a version specifier, '@ <url>' or '; <marker>' at position 10, found '| cat'",
  ],
  ['requests==2.0 # comment', "expected ',', another specifier or '; <marker>' at position 15, found '# comment'"],
  [
    '-r /etc/passwd',
    'pip options (such as -r, -e or --index-url) are not allowed; use the pythonPackages fields instead',
  ],
  [
    '--index-url http://evil.example',
    'pip options (such as -r, -e or --index-url) are not allowed; use the pythonPackages fields instead',
  ],
  [
    '-e git+https://x.example/y.git#egg=y',
    'pip options (such as -r, -e or --index-url) are not allowed; use the pythonPackages fields instead',
  ],
  ['requests==', "expected a version after '==' at position 11, found the end"],
  ['requests=2.0', "expected a version operator (=== == != <= >= ~= < >) at position 9, found '=2.0'"],
  ['requests==two', "'==two': not a valid PEP 440 version"],
  ['requests~=2', "'~=2': '~=' needs at least two release segments, e.g. ~=1.4"],
  ['requests>=1.0.*', "'>=1.0.*': a '.*' wildcard is allowed only with == and !="],
  ['requests<1.0+local', "'<1.0+local': a local version label is not allowed with <"],
  ['requests===1.0$', dollar],
  ['requests===1.0~', "'===1.0~': an arbitrary-equality version may contain only letters, digits and . _ + ! -"],
  ['requests[security', "expected ',' or ']' in the extras at position 18, found the end"],
  ['requests; python_version == "3.8', 'unterminated string in the marker at position 29'],
  [
    'requests; os == "linux"',
    `expected a marker variable (such as python_version or sys_platform) or a quoted string at position 11, found 'os == "linux'`,
  ],
  ['requests; python_version == "$(id)"', dollar],
  [
    'requests; python_version == "`id`"',
    'marker string "`id`" may contain only letters, digits, spaces and . _ - * + ! ~ : (and no - after a space)',
  ],
  [
    'requests; python_version == "3.8" ; rm -rf /',
    "expected 'and', 'or' or the end of the marker at position 35, found '; rm -rf /'",
  ],
  [
    'requests==2.0; ',
    'expected a marker variable (such as python_version or sys_platform) or a quoted string at position 15, found the end',
  ],
  ['pkg @ file:///etc/passwd', "URL must use http, https or git+ (git+https, git+http, git+ssh, git+git), not 'file'"],
  ['pkg @ git+file:///tmp/repo', "URL scheme 'git+file' is not supported; use git+https, git+http, git+ssh or git+git"],
  [
    'pkg @ ftp://host.example/x.whl',
    "URL must use http, https or git+ (git+https, git+http, git+ssh, git+git), not 'ftp'",
  ],
  [
    'pkg @ https://user:pass@host.example/x.whl',
    'URL must not embed credentials; put them in a Secret and reference it with pythonPackages.credentials.secretRef',
  ],
  ['pkg @ https://host.example/${PIP_PASSWORD}.whl', dollar],
  [
    'pkg @ https://host.example/a"b.whl',
    'URL contains characters that are not allowed in a URL (spaces, quotes, braces, backslashes)',
  ],
  ['pkg @ https://host.example/x.whl; python_version > "3"', "put a space between the URL and '; <marker>' (PEP 508)"],
  [
    'https://host.example/pkg-1.0-py3-none-any.whl',
    "a direct URL needs a project name: write 'name @ https://host.example/pkg-1.0-py3-none-any.whl'",
  ],
  [
    'git+https://github.com/org/repo.git',
    "a VCS URL needs '#egg=<project>' to name the project, or write 'name @ <url>'",
  ],
  ['git+https://github.com/org/repo.git#egg=$(id)', dollar],
  ['', 'is empty'],
  [`x; ${'('.repeat(11)}python_version >= "3"${')'.repeat(11)}`, 'the marker nests parentheses more than 10 deep'],
  [
    'x; platform_release ~= "a"',
    "'~=' in a marker compares a version variable (python_version, python_full_version, implementation_version) with a quoted version",
  ],
  ['x; python_version ~= "3"', "'~=3': '~=' needs at least two release segments, e.g. ~=1.4"],
  ['x; python_version === "3 8"', "'===' in a marker needs a quoted value of letters, digits and . _ + ! -"],
  [
    'x @ git+https://host.example/x.git@--pathspec-from-file=/etc/passwd',
    "URL revision '--pathspec-from-file=/etc/passwd' must not start with '-' (git reads it as an option)",
  ],
  [
    'x @ hg+http://host.example/@--config=alias.update=!/tmp/pwn.sh',
    "URL scheme 'hg+http' is not supported: of the VCS schemes only git+ is accepted (see the user guide)",
  ],
  ['x @ git+ssh://-oProxyCommand=id/x', "URL host '-oProxyCommand=id' must not start with '-'"],
  [
    'git+https://host.example/x.git#egg=x&subdirectory=../../tmp',
    "URL subdirectory '../../tmp' has a '..' segment: it must be a path inside the source",
  ],
  [
    "kcase-gamma @ http://host.example/kcase_gamma-0.5-py3-none-any.whl;extra=='x'",
    "URL must not contain ';': pip reads it as the start of a marker (write ' ; <marker>' after the URL, or %3B)",
  ],
  [
    'kernel-tools; platform_release == "5.15 -generic"',
    'marker string "5.15 -generic" may contain only letters, digits, spaces and . _ - * + ! ~ : (and no - after a space)',
  ],
];

describe('parseRequirement', () => {
  test(`accepts ${valid.length} real-world requirements and renders their canonical line`, () => {
    assert.ok(valid.length >= 30);
    for (const [input, canonical] of valid) {
      const result = parseRequirement(input);
      assert.ok(result.ok, `${JSON.stringify(input)} was refused: ${result.ok ? '' : result.reason}`);
      assert.equal(result.requirement.canonical, canonical, input);
      // The canonical line is itself a valid requirement with the same canonical form.
      const again = parseRequirement(result.requirement.canonical);
      assert.ok(again.ok && again.requirement.canonical === canonical, `canonical of ${input} is not stable`);
    }
  });

  for (const [input, reason] of invalid) {
    test(`refuses ${JSON.stringify(input)}`, () => {
      assert.deepEqual(parseRequirement(input), { ok: false, reason });
    });
  }

  test('normalizes project names per PEP 503', () => {
    assert.equal(normalizeProjectName('Foo.Bar__baz--Qux'), 'foo-bar-baz-qux');
  });

  test('parses parts: project, extras, specifiers, marker, url', () => {
    const result = parseRequirement('My_Pkg[B,a]>=1.0,<2; python_version >= "3.8"');
    assert.ok(result.ok);
    assert.deepEqual(result.requirement, {
      project: 'my-pkg',
      extras: ['a', 'b'],
      specifiers: [
        { operator: '<', version: '2' },
        { operator: '>=', version: '1.0' },
      ],
      marker: 'python_version >= "3.8"',
      canonical: 'my-pkg[a,b]<2,>=1.0; python_version >= "3.8"',
    });
  });
});
