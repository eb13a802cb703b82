import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { validateKasprApp } from '../../src/api/validation.ts';
import type { FieldError } from '../../src/api/field-error.ts';

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown>;
  spec: Record<string, unknown> & { pythonPackages: Record<string, unknown> };
};

const plainApp = (): Omit<Manifest, 'spec'> & { spec: Record<string, unknown> } => ({
  apiVersion: 'kaspr.io/v1alpha1',
  kind: 'KasprApp',
  metadata: { name: 'orders', namespace: 'streams' },
  spec: { bootstrapServers: 'kafka:9092', replicas: 2 },
});

const withPackages = (pythonPackages: Record<string, unknown> = { packages: ['requests==2.31.0'] }): Manifest => ({
  ...plainApp(),
  spec: { ...plainApp().spec, pythonPackages },
});

/** A KasprApp that uses every pythonPackages field. */
const everyField = (): Manifest =>
  withPackages({
    packages: [
      'requests[socks]>=2.28,<3',
      'numpy~=1.26.0; python_version >= "3.9"',
      'mypkg @ git+https://git.example.com/org/mypkg.git@v1.2',
    ],
    indexUrl: 'https://pypi.example.com/simple',
    extraIndexUrls: ['https://mirror.example.com/simple', 'http://10.0.0.5:8080/simple'],
    trustedHosts: ['10.0.0.5:8080', 'mirror.example.com'],
    credentials: { secretRef: { name: 'pypi-credentials', usernameKey: 'user', passwordKey: 'token' } },
    cache: { enabled: true, storageClass: 'nfs-client', size: '2Gi', accessMode: 'ReadWriteMany', deleteClaim: false },
    installPolicy: { retries: 5, timeout: 900, onFailure: 'allow' },
    resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: 1, memory: '2Gi' } },
  });

const errorsOf = (manifest: unknown): readonly FieldError[] => {
  const result = validateKasprApp(manifest);
  return result.ok ? [] : result.errors;
};

const pp = 'spec.pythonPackages';

const sha256 = (digit: string): string => `sha256:${digit.repeat(64)}`;

/** A packagesWithHashes entry; each hash is `algorithm:digest`. */
const locked = (name: string, version: string, ...hashes: string[]): Record<string, unknown> => ({
  name,
  version,
  hashes: hashes.map((hash) => ({ algorithm: hash.split(':')[0], digest: hash.split(':')[1] })),
});

// Each case: a change to a valid manifest and exactly the errors it must produce.
const invalidCases: [name: string, change: (m: Manifest) => void, expected: [path: string, message: string][]][] = [
  ['empty package list', (m) => (m.spec.pythonPackages.packages = []), [[`${pp}.packages`, 'must not be empty']]],
  [
    'neither packages nor packagesWithHashes',
    (m) => delete m.spec.pythonPackages.packages,
    [[pp, 'needs packages, packagesWithHashes or both']],
  ],
  [
    'requireHashes without a lock',
    (m) => (m.spec.pythonPackages.requireHashes = true),
    [
      [
        `${pp}.requireHashes`,
        'is true, but there is no packagesWithHashes to check the files against; lock the packages with ' +
          '`kasprop lock -f FILE`, or set requireHashes to false',
      ],
    ],
  ],
  [
    'offlineMode without a bundle',
    (m) => (m.spec.pythonPackages.offlineMode = true),
    [
      [
        `${pp}.offlineMode`,
        'is true, but there is no bundleSource to install from (offline, pip reaches no index); write one with ' +
          '`kasprop bundle -f FILE -o DIR` and name it in bundleSource',
      ],
    ],
  ],
  [
    'installer uv with a bundle',
    (m) => {
      m.spec.pythonPackages.installer = 'uv';
      m.spec.pythonPackages.bundleSource = { type: 'pvc', name: 'wheels' };
    },
    [
      [
        `${pp}.installer`,
        'is uv, but a bundle is installed by pip (--find-links, --no-index): use installer pip or auto with bundleSource',
      ],
    ],
  ],
  [
    'an image bundle without a reference, with a name',
    (m) => (m.spec.pythonPackages.bundleSource = { type: 'image', name: 'wheels' }),
    [
      [`${pp}.bundleSource.name`, "is not used with type image; give the image's reference"],
      [`${pp}.bundleSource.reference`, 'is required with type image (an OCI image reference)'],
    ],
  ],
  [
    'an image bundle with a reference that is not one',
    (m) => (m.spec.pythonPackages.bundleSource = { type: 'image', reference: 'registry.example/Wheels:1 0' }),
    [
      [
        `${pp}.bundleSource.reference`,
        'must be an OCI image reference: [registry[:port]/]repository[:tag][@sha256:digest], lower-case repository',
      ],
    ],
  ],
  [
    'a claim bundle without a name, with a reference',
    (m) => (m.spec.pythonPackages.bundleSource = { type: 'pvc', reference: 'wheels:1' }),
    [
      [`${pp}.bundleSource.reference`, 'is only for type image, not pvc'],
      [`${pp}.bundleSource.name`, 'is required with type pvc'],
    ],
  ],
  [
    'a ConfigMap bundle with a name that is not one, and a path',
    (m) => (m.spec.pythonPackages.bundleSource = { type: 'configmap', name: 'Wheels_1', path: 'wheels' }),
    [
      [`${pp}.bundleSource.name`, "must be a ConfigMap name: at most 253 lower-case letters, digits, '-' and '.'"],
      [
        `${pp}.bundleSource.path`,
        'is only for type pvc and image: the keys of a ConfigMap are files at the root of its volume',
      ],
    ],
  ],
  ...['../wheels', '/wheels', 'wheels/../..', 'wheels//x', './wheels', 'wheels dir'].map(
    (path): [string, (m: Manifest) => void, [string, string][]] => [
      `a bundle path ${JSON.stringify(path)}`,
      (m) => (m.spec.pythonPackages.bundleSource = { type: 'pvc', name: 'wheels', path }),
      [
        [
          `${pp}.bundleSource.path`,
          "must be a relative directory inside the source: segments of letters, digits, '.', '_' and '-' separated " +
            "by '/', none of them '.' or '..'",
        ],
      ],
    ],
  ),
  [
    'a locked digest of the wrong length',
    (m) => (m.spec.pythonPackages.packagesWithHashes = [locked('requests', '2.31.0', 'sha512:' + 'a'.repeat(64))]),
    [[`${pp}.packagesWithHashes[0].hashes[0].digest`, 'must be the 128 hex digits of a sha512 digest']],
  ],
  [
    'a locked digest that is not hex',
    (m) => (m.spec.pythonPackages.packagesWithHashes = [locked('requests', '2.31.0', 'sha256:' + 'g'.repeat(64))]),
    [[`${pp}.packagesWithHashes[0].hashes[0].digest`, 'must be the 64 hex digits of a sha256 digest']],
  ],
  [
    'a locked version that carries a marker',
    (m) => (m.spec.pythonPackages.packagesWithHashes = [locked('requests', '2.31.0; os_name == "nt"', sha256('a'))]),
    [[`${pp}.packagesWithHashes[0].version`, 'must be one exact PEP 440 version, such as 2.31.0']],
  ],
  [
    'a locked version range',
    (m) => (m.spec.pythonPackages.packagesWithHashes = [locked('requests', '2.31.0,<3', sha256('a'))]),
    [[`${pp}.packagesWithHashes[0].version`, 'must be one exact PEP 440 version, such as 2.31.0']],
  ],
  [
    'a locked name with a space',
    (m) => (m.spec.pythonPackages.packagesWithHashes = [locked('requests x', '2.31.0', sha256('a'))]),
    [[`${pp}.packagesWithHashes[0].name`, "must be a project name (letters and digits, '.', '_' and '-' inside)"]],
  ],
  [
    'a project locked twice',
    (m) =>
      (m.spec.pythonPackages.packagesWithHashes = [
        locked('requests', '2.31.0', sha256('a')),
        locked('Requests', '2.30.0', sha256('b')),
      ]),
    [
      [
        `${pp}.packagesWithHashes[1].name`,
        "'requests' is locked twice (also packagesWithHashes[0]); a lock has one version per project",
      ],
    ],
  ],
  [
    'a requirement the lock does not have',
    (m) => {
      m.spec.pythonPackages.packages = ['requests>=2', 'urllib3'];
      m.spec.pythonPackages.packagesWithHashes = [locked('requests', '2.31.0', sha256('a'))];
    },
    [
      [
        `${pp}.packages[1]`,
        "'urllib3' is not in packagesWithHashes (the lock is older than this requirement); lock again with " +
          '`kasprop lock -f FILE`',
      ],
    ],
  ],
  [
    'a VCS requirement beside a lock',
    (m) => {
      m.spec.pythonPackages.packages = ['mypkg @ git+https://git.example.com/org/mypkg.git@v1.2'];
      m.spec.pythonPackages.packagesWithHashes = [locked('mypkg', '1.2', sha256('a'))];
    },
    [
      [
        `${pp}.packages[0]`,
        'is a URL or VCS requirement, which pip cannot check against digests; with packagesWithHashes, install it ' +
          'from an index, or remove the lock',
      ],
    ],
  ],
  [
    'packages not a list',
    (m) => (m.spec.pythonPackages.packages = 'requests'),
    [[`${pp}.packages`, 'must be an array']],
  ],
  ['empty requirement', (m) => (m.spec.pythonPackages.packages = ['']), [[`${pp}.packages[0]`, 'must not be empty']]],
  [
    'non-string requirement',
    (m) => (m.spec.pythonPackages.packages = [42]),
    [[`${pp}.packages[0]`, 'must be a string']],
  ],
  [
    'shell command after a marker separator',
    (m) => (m.spec.pythonPackages.packages = ['requests; touch /tmp/x']),
    [
      [
        `${pp}.packages[0]`,
        `invalid requirement "requests; touch /tmp/x": expected a marker variable (such as python_version or sys_platform) or a quoted string at position 11, found 'touch /tmp/x'`,
      ],
    ],
  ],
  [
    'command substitution',
    (m) => (m.spec.pythonPackages.packages = ['$(id)']),
    [[`${pp}.packages[0]`, `invalid requirement "$(id)": contains '$', which is not allowed (pip expands \${VAR})`]],
  ],
  [
    'a variable as the version',
    (m) => (m.spec.pythonPackages.packages = ['requests==${VERSION}']),
    [
      [
        `${pp}.packages[0]`,
        `invalid requirement "requests==\${VERSION}": contains '$', which is not allowed (pip expands \${VAR})`,
      ],
    ],
  ],
  [
    'backticks',
    (m) => (m.spec.pythonPackages.packages = ['`id`']),
    [
      [
        `${pp}.packages[0]`,
        "invalid requirement \"`id`\": expected a project name (letters, digits, '.', '_' and '-') at position 1, found '`id`'",
      ],
    ],
  ],
  [
    'newline injection',
    (m) => (m.spec.pythonPackages.packages = ['a==1\nb']),
    [
      [
        `${pp}.packages[0]`,
        'invalid requirement "a==1\\nb": must be a single line (found a line break); use one entry per requirement',
      ],
    ],
  ],
  [
    'command chaining',
    (m) => (m.spec.pythonPackages.packages = ['pkg && x']),
    [
      [
        `${pp}.packages[0]`,
        `invalid requirement "pkg && x": expected extras '[...]', a version specifier, '@ <url>' or '; <marker>' at position 5, found '&& x'`,
      ],
    ],
  ],
  [
    'pipe',
    (m) => (m.spec.pythonPackages.packages = ['requests | sh']),
    [
      [
        `${pp}.packages[0]`,
        `invalid requirement "requests | sh": expected extras '[...]', a version specifier, '@ <url>' or '; <marker>' at position 10, found '| sh'`,
      ],
    ],
  ],
  [
    'pip option line',
    (m) => (m.spec.pythonPackages.packages = ['-r /etc/passwd']),
    [
      [
        `${pp}.packages[0]`,
        'invalid requirement "-r /etc/passwd": pip options (such as -r, -e or --index-url) are not allowed; use the pythonPackages fields instead',
      ],
    ],
  ],
  [
    'index override as a requirement',
    (m) => (m.spec.pythonPackages.packages = ['--extra-index-url=http://evil.example/simple']),
    [
      [
        `${pp}.packages[0]`,
        'invalid requirement "--extra-index-url=http://evil.example/simple": pip options (such as -r, -e or --index-url) are not allowed; use the pythonPackages fields instead',
      ],
    ],
  ],
  [
    'bad version',
    (m) => (m.spec.pythonPackages.packages = ['requests==latest']),
    [[`${pp}.packages[0]`, `invalid requirement "requests==latest": '==latest': not a valid PEP 440 version`]],
  ],
  [
    'single equals',
    (m) => (m.spec.pythonPackages.packages = ['requests=2.0']),
    [
      [
        `${pp}.packages[0]`,
        'invalid requirement "requests=2.0": expected a version operator (=== == != <= >= ~= < >) at position 9, found \'=2.0\'',
      ],
    ],
  ],
  [
    'unknown marker variable',
    (m) => (m.spec.pythonPackages.packages = ['requests; os == "linux"']),
    [
      [
        `${pp}.packages[0]`,
        `invalid requirement "requests; os == \\"linux\\"": expected a marker variable (such as python_version or sys_platform) or a quoted string at position 11, found 'os == "linux'`,
      ],
    ],
  ],
  [
    'substitution inside a marker string',
    (m) => (m.spec.pythonPackages.packages = ['requests; python_version == "$(id)"']),
    [
      [
        `${pp}.packages[0]`,
        `invalid requirement "requests; python_version == \\"$(id)\\"": contains '$', which is not allowed (pip expands \${VAR})`,
      ],
    ],
  ],
  [
    'file URL requirement',
    (m) => (m.spec.pythonPackages.packages = ['pkg @ file:///etc/passwd']),
    [
      [
        `${pp}.packages[0]`,
        `invalid requirement "pkg @ file:///etc/passwd": URL must use http, https or git+ (git+https, git+http, git+ssh, git+git), not 'file'`,
      ],
    ],
  ],
  [
    'credentials in a requirement URL',
    (m) => (m.spec.pythonPackages.packages = ['pkg @ https://u:p@files.example.com/pkg-1.0.tar.gz']),
    [
      [
        `${pp}.packages[0]`,
        'invalid requirement "pkg @ https://u:p@files.example.com/pkg-1.0.tar.gz": URL must not embed credentials; put them in a Secret and reference it with pythonPackages.credentials.secretRef',
      ],
    ],
  ],
  [
    'environment expansion in a URL',
    (m) => (m.spec.pythonPackages.packages = ['pkg @ https://evil.example/${KASPR_PACKAGES_INDEX_PASSWORD}.whl']),
    [
      [
        `${pp}.packages[0]`,
        `invalid requirement "pkg @ https://evil.example/\${KASPR_PACKAGES_INDEX_PASSWORD}.whl": contains '$', which is not allowed (pip expands \${VAR})`,
      ],
    ],
  ],
  [
    'VCS URL without a project name',
    (m) => (m.spec.pythonPackages.packages = ['git+https://git.example.com/org/repo.git@v1']),
    [
      [
        `${pp}.packages[0]`,
        `invalid requirement "git+https://git.example.com/org/repo.git@v1": a VCS URL needs '#egg=<project>' to name the project, or write 'name @ <url>'`,
      ],
    ],
  ],
  [
    'duplicate project (PEP 503 names)',
    (m) => (m.spec.pythonPackages.packages = ['typing_extensions', 'Typing.Extensions>=4']),
    [
      [
        `${pp}.packages[1]`,
        "duplicate requirement for project 'typing-extensions' (also packages[0]); combine the version specifiers into one entry",
      ],
    ],
  ],
  [
    'every bad requirement reported at once',
    (m) => (m.spec.pythonPackages.packages = ['ok-pkg', '$(id)', 'requests==']),
    [
      [`${pp}.packages[1]`, `invalid requirement "$(id)": contains '$', which is not allowed (pip expands \${VAR})`],
      [
        `${pp}.packages[2]`,
        `invalid requirement "requests==": expected a version after '==' at position 11, found the end`,
      ],
    ],
  ],
  [
    'index URL with user:pass@',
    (m) => (m.spec.pythonPackages.indexUrl = 'https://user:pass@pypi.example.com/simple'),
    [
      [
        `${pp}.indexUrl`,
        'URL must not embed credentials; put them in a Secret and reference it with pythonPackages.credentials.secretRef',
      ],
    ],
  ],
  [
    'index URL file:///',
    (m) => (m.spec.pythonPackages.indexUrl = 'file:///srv/pypi'),
    [[`${pp}.indexUrl`, "URL must use http or https, not 'file'"]],
  ],
  [
    'index URL ftp',
    (m) => (m.spec.pythonPackages.indexUrl = 'ftp://pypi.example.com/simple'),
    [[`${pp}.indexUrl`, "URL must use http or https, not 'ftp'"]],
  ],
  [
    'index URL git+https',
    (m) => (m.spec.pythonPackages.indexUrl = 'git+https://pypi.example.com/simple'),
    [[`${pp}.indexUrl`, "URL must use http or https, not 'git+https'"]],
  ],
  [
    'index URL relative',
    (m) => (m.spec.pythonPackages.indexUrl = '/simple'),
    [[`${pp}.indexUrl`, "URL '/simple' is not an absolute URL of the form scheme://host/path"]],
  ],
  [
    'index URL with spaces',
    (m) => (m.spec.pythonPackages.indexUrl = 'https://pypi.example.com/simple --trusted-host evil'),
    [[`${pp}.indexUrl`, 'URL contains characters that are not allowed in a URL (spaces, quotes, braces, backslashes)']],
  ],
  [
    'index URL with ${VAR}',
    (m) => (m.spec.pythonPackages.indexUrl = 'https://pypi.example.com/${HOME}/simple'),
    [[`${pp}.indexUrl`, "URL contains '$', which is not allowed (pip expands ${VAR})"]],
  ],
  ['index URL not a string', (m) => (m.spec.pythonPackages.indexUrl = 5), [[`${pp}.indexUrl`, 'must be a string']]],
  [
    'extra index URL with credentials',
    (m) =>
      (m.spec.pythonPackages.extraIndexUrls = [
        'https://mirror.example.com/simple',
        'http://u:p@mirror2.example.com/simple',
      ]),
    [
      [
        `${pp}.extraIndexUrls[1]`,
        'URL must not embed credentials; put them in a Secret and reference it with pythonPackages.credentials.secretRef',
      ],
    ],
  ],
  [
    'extra index URL file:',
    (m) => (m.spec.pythonPackages.extraIndexUrls = ['file:///wheels']),
    [[`${pp}.extraIndexUrls[0]`, "URL must use http or https, not 'file'"]],
  ],
  [
    'trusted host with a path',
    (m) => (m.spec.pythonPackages.trustedHosts = ['pypi.example.com/simple']),
    [
      [
        `${pp}.trustedHosts[0]`,
        'must be a host name or IP address, optionally with :port (no scheme, path or credentials)',
      ],
    ],
  ],
  [
    'trusted host with a scheme',
    (m) => (m.spec.pythonPackages.trustedHosts = ['https://pypi.example.com']),
    [
      [
        `${pp}.trustedHosts[0]`,
        'must be a host name or IP address, optionally with :port (no scheme, path or credentials)',
      ],
    ],
  ],
  [
    'trusted host port out of range',
    (m) => (m.spec.pythonPackages.trustedHosts = ['pypi.example.com:99999']),
    [[`${pp}.trustedHosts[0]`, 'port 99999 is out of range']],
  ],
  [
    'trusted host with ${VAR}',
    (m) => (m.spec.pythonPackages.trustedHosts = ['${MIRROR_HOST}']),
    [[`${pp}.trustedHosts[0]`, "contains '$', which is not allowed (pip expands ${VAR})"]],
  ],
  [
    'trusted host with a shell word',
    (m) => (m.spec.pythonPackages.trustedHosts = ['host;id']),
    [
      [
        `${pp}.trustedHosts[0]`,
        'must be a host name or IP address, optionally with :port (no scheme, path or credentials)',
      ],
    ],
  ],
  [
    'credentials without indexUrl',
    (m) => (m.spec.pythonPackages.credentials = { secretRef: { name: 'pypi' } }),
    [[`${pp}.credentials`, 'requires indexUrl: the credentials are only ever sent to indexUrl']],
  ],
  [
    'credentials secretRef without a name',
    (m) => {
      m.spec.pythonPackages.indexUrl = 'https://pypi.example.com/simple';
      m.spec.pythonPackages.credentials = { secretRef: {} };
    },
    [[`${pp}.credentials.secretRef.name`, 'is required']],
  ],
  [
    'cache size 5Gx',
    (m) => (m.spec.pythonPackages.cache = { size: '5Gx' }),
    [[`${pp}.cache.size`, 'must be a Kubernetes quantity such as 256Mi, 1Gi, 500m or 2']],
  ],
  [
    'cache size zero',
    (m) => (m.spec.pythonPackages.cache = { size: '0Mi' }),
    [[`${pp}.cache.size`, 'must be greater than zero']],
  ],
  [
    'cache size negative',
    (m) => (m.spec.pythonPackages.cache = { size: '-1Gi' }),
    [[`${pp}.cache.size`, 'must be greater than zero']],
  ],
  [
    'cache size boolean',
    (m) => (m.spec.pythonPackages.cache = { size: true }),
    [[`${pp}.cache.size`, 'must be an integer or a string']],
  ],
  [
    'cache access mode ReadOnlyMany',
    (m) => (m.spec.pythonPackages.cache = { accessMode: 'ReadOnlyMany' }),
    [[`${pp}.cache.accessMode`, 'must be one of: ReadWriteMany, ReadWriteOnce']],
  ],
  [
    'cache enabled "yes"',
    (m) => (m.spec.pythonPackages.cache = { enabled: 'yes' }),
    [[`${pp}.cache.enabled`, 'must be a boolean']],
  ],
  [
    'cache deleteClaim "no"',
    (m) => (m.spec.pythonPackages.cache = { deleteClaim: 'no' }),
    [[`${pp}.cache.deleteClaim`, 'must be a boolean']],
  ],
  [
    'retries -1',
    (m) => (m.spec.pythonPackages.installPolicy = { retries: -1 }),
    [[`${pp}.installPolicy.retries`, 'must be at least 0']],
  ],
  [
    'retries 1.5',
    (m) => (m.spec.pythonPackages.installPolicy = { retries: 1.5 }),
    [[`${pp}.installPolicy.retries`, 'must be an integer']],
  ],
  [
    'retries 100',
    (m) => (m.spec.pythonPackages.installPolicy = { retries: 100 }),
    [[`${pp}.installPolicy.retries`, 'must be at most 10']],
  ],
  [
    'timeout 30',
    (m) => (m.spec.pythonPackages.installPolicy = { timeout: 30 }),
    [[`${pp}.installPolicy.timeout`, 'must be at least 60']],
  ],
  [
    'timeout "10m"',
    (m) => (m.spec.pythonPackages.installPolicy = { timeout: '10m' }),
    [[`${pp}.installPolicy.timeout`, 'must be an integer']],
  ],
  [
    'installer conda',
    (m) => (m.spec.pythonPackages.installer = 'conda'),
    [[`${pp}.installer`, 'must be one of: pip, uv, auto']],
  ],
  [
    'installer UV (the names are lowercase)',
    (m) => (m.spec.pythonPackages.installer = 'UV'),
    [[`${pp}.installer`, 'must be one of: pip, uv, auto']],
  ],
  [
    'installer true',
    (m) => (m.spec.pythonPackages.installer = true),
    [
      [`${pp}.installer`, 'must be a string'],
      [`${pp}.installer`, 'must be one of: pip, uv, auto'],
    ],
  ],
  [
    'onFailure warn',
    (m) => (m.spec.pythonPackages.installPolicy = { onFailure: 'warn' }),
    [[`${pp}.installPolicy.onFailure`, 'must be one of: block, allow']],
  ],
  [
    'all install policy errors at once',
    (m) => (m.spec.pythonPackages.installPolicy = { retries: -1, timeout: 30, onFailure: 'warn' }),
    [
      [`${pp}.installPolicy.retries`, 'must be at least 0'],
      [`${pp}.installPolicy.timeout`, 'must be at least 60'],
      [`${pp}.installPolicy.onFailure`, 'must be one of: block, allow'],
    ],
  ],
  [
    'resources: not a quantity',
    (m) => (m.spec.pythonPackages.resources = { limits: { cpu: 'lots' } }),
    [[`${pp}.resources.limits.cpu`, 'must be a Kubernetes quantity such as 256Mi, 1Gi, 500m or 2']],
  ],
  [
    'resources: request above limit',
    (m) => (m.spec.pythonPackages.resources = { requests: { memory: '2Gi' }, limits: { memory: '1Gi' } }),
    [[`${pp}.resources.requests.memory`, '2Gi exceeds the limit 1Gi']],
  ],
  [
    'unknown field with a suggestion',
    (m) => (m.spec.pythonPackages.extraIndexUrl = ['https://mirror.example.com/simple']),
    [[`${pp}.extraIndexUrl`, "unknown field; did you mean 'extraIndexUrls'?"]],
  ],
  [
    'unknown nested field',
    (m) => (m.spec.pythonPackages.cache = { sise: '1Gi' }),
    [[`${pp}.cache.sise`, "unknown field; did you mean 'size'?"]],
  ],
  [
    'an invisible separator is shown escaped',
    (m) => (m.spec.pythonPackages.packages = ['requests\u2028==1']),
    [
      [
        `${pp}.packages[0]`,
        `invalid requirement "requests\\u2028==1": expected extras '[...]', a version specifier, '@ <url>' or '; <marker>' at position 9, found '\\u2028==1'`,
      ],
    ],
  ],
  [
    '10 000 identical requirements: the limit, not 9 999 duplicates',
    (m) => (m.spec.pythonPackages.packages = Array.from({ length: 10_000 }, () => 'requests')),
    [[`${pp}.packages`, 'must have at most 256 items']],
  ],
  [
    'trusted hosts too large for one environment variable',
    (m) =>
      (m.spec.pythonPackages.trustedHosts = Array.from({ length: 2 }, (_, i) => `${'h'.repeat(40_000)}${String(i)}`)),
    [
      [
        `${pp}.trustedHosts`,
        "the hosts take 80004 bytes, more than the 65536 that fit in the installer's environment variable",
      ],
    ],
  ],
  [
    'an empty index URL',
    (m) => (m.spec.pythonPackages.indexUrl = ''),
    [[`${pp}.indexUrl`, 'URL is empty (leave the field out for PyPI)']],
  ],
  [
    'a Secret name and keys Kubernetes would refuse',
    (m) => {
      m.spec.pythonPackages.indexUrl = 'https://pypi.example.com/simple';
      m.spec.pythonPackages.credentials = { secretRef: { name: '../../etc', usernameKey: 'a/b', passwordKey: '$(x)' } };
    },
    [
      [
        `${pp}.credentials.secretRef.name`,
        "must be a Secret name: at most 253 lower-case letters, digits, '-' and '.'",
      ],
      [
        `${pp}.credentials.secretRef.usernameKey`,
        "must be a Secret key: letters, digits, '-', '_' and '.' (not '.' or '..')",
      ],
      [
        `${pp}.credentials.secretRef.passwordKey`,
        "must be a Secret key: letters, digits, '-', '_' and '.' (not '.' or '..')",
      ],
    ],
  ],
  [
    'with credentials, an extra index on the same scheme, host and port as indexUrl',
    (m) => {
      m.spec.pythonPackages.indexUrl = 'https://repo.example.com/api/pypi/private/simple';
      m.spec.pythonPackages.extraIndexUrls = [
        'https://repo.example.com:443/api/pypi/public/simple',
        'https://repo.example.com:8443/simple',
      ];
      m.spec.pythonPackages.credentials = { secretRef: { name: 'pypi' } };
    },
    [
      [
        `${pp}.extraIndexUrls[0]`,
        "is on indexUrl's scheme, host and port, so pip would send it indexUrl's credentials; use one index that serves both, or an extra index on another host or port",
      ],
    ],
  ],
  [
    'requirements too large for one environment variable',
    (m) =>
      (m.spec.pythonPackages.packages = Array.from(
        { length: 70 },
        (_, i) => `p${String(i)} @ https://files.example.com/${'a'.repeat(1950)}/p${String(i)}-1.0-py3-none-any.whl`,
      )),
    [
      [
        `${pp}.packages`,
        "the requirements take 140540 bytes, more than the 65536 that fit in the installer's environment variable",
      ],
    ],
  ],
  [
    'pythonPackages not an object',
    (m) => (m.spec.pythonPackages = ['requests'] as unknown as Record<string, unknown>),
    [[pp, 'must be an object']],
  ],
];

describe('validateKasprApp', () => {
  test('a KasprApp without pythonPackages validates', () => {
    const result = validateKasprApp(plainApp());
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.warnings, []);
  });

  test('a lock validates alone, with the packages it locks, and with requireHashes', () => {
    const lock = [
      locked('Requests', '2.31.0', sha256('A'), 'sha512:' + 'b'.repeat(128)),
      locked('urllib3', '2.2.1', sha256('c')),
    ];
    for (const pythonPackages of [
      { packagesWithHashes: lock },
      { packages: ['requests[socks]>=2', 'colorama; os_name == "nt"'], packagesWithHashes: lock, requireHashes: true },
    ]) {
      const result = validateKasprApp(withPackages(pythonPackages));
      assert.ok(result.ok, JSON.stringify(result));
      // Validation hands on the canonical lines it parsed: the name as pip compares it, digests sorted, lower case.
      assert.deepEqual(result.valid.pythonPackages?.locked, [
        `requests==2.31.0 sha256:${'a'.repeat(64)} sha512:${'b'.repeat(128)}`,
        `urllib3==2.2.1 sha256:${'c'.repeat(64)}`,
      ]);
    }
  });

  test('a bundle of each type validates, offline or not, and validation returns it', () => {
    const digest = 'registry.example:5000/team/wheels:1.0@sha256:' + 'a'.repeat(64);
    for (const [bundleSource, bundle] of [
      [
        { type: 'configmap', name: 'wheels-1' },
        { type: 'configmap', name: 'wheels-1' },
      ],
      [
        { type: 'secret', name: 'wheels.v2' },
        { type: 'secret', name: 'wheels.v2' },
      ],
      [
        { type: 'pvc', name: 'wheels', path: 'py311/wheels' },
        { type: 'pvc', name: 'wheels', path: 'py311/wheels' },
      ],
      [
        { type: 'image', reference: digest },
        { type: 'image', reference: digest, path: undefined },
      ],
    ] as const) {
      for (const offlineMode of [true, false]) {
        const result = validateKasprApp(withPackages({ packages: ['requests'], bundleSource, offlineMode }));
        assert.ok(result.ok, JSON.stringify(result));
        assert.deepEqual(result.valid.pythonPackages?.bundle, bundle);
        assert.equal(result.valid.pythonPackages.offline, offlineMode);
      }
    }
  });

  test('a KasprApp with every pythonPackages field validates', () => {
    const result = validateKasprApp(everyField());
    assert.ok(result.ok, JSON.stringify(result));
  });

  test('every quantity the apiserver takes passes: n and u suffixes, exponents, decimal and binary SI', () => {
    for (const size of ['500u', '1n', '2.5e3', '1E', '1Ei', '0.0005', '1.5Gi', '1e+3', 3]) {
      const manifest = withPackages({
        packages: ['requests'],
        cache: { size },
        resources: { requests: { cpu: size } },
      });
      assert.deepEqual(errorsOf(manifest), [], JSON.stringify(size));
    }
    const limited = withPackages({
      packages: ['x'],
      resources: { requests: { cpu: '500u' }, limits: { cpu: '400u' } },
    });
    assert.deepEqual(errorsOf(limited), [
      { path: `${pp}.resources.requests.cpu`, message: '500u exceeds the limit 400u' },
    ]);
  });

  test('returns the parsed requirements and every default resolved', () => {
    const result = validateKasprApp(withPackages({ packages: ['Requests >= 2.28', 'numpy'] }));
    assert.ok(result.ok, JSON.stringify(result));
    const { app, pythonPackages, ...resolved } = result.valid;
    assert.equal(app.metadata.name, 'orders');
    assert.deepEqual(resolved, { version: '0.11.19', image: 'kasprio/kaspr:0.11.19', replicas: 2 });
    assert.deepEqual(pythonPackages, {
      requirements: [
        {
          project: 'requests',
          extras: [],
          specifiers: [{ operator: '>=', version: '2.28' }],
          canonical: 'requests>=2.28',
        },
        { project: 'numpy', extras: [], specifiers: [], canonical: 'numpy' },
      ],
      locked: [],
      offline: false,
      indexUrl: undefined,
      extraIndexUrls: [],
      trustedHosts: [],
      installer: 'pip',
      cache: { enabled: true, storageClass: undefined, size: '256Mi', accessMode: 'ReadWriteMany', deleteClaim: true },
      installPolicy: { retries: 3, timeoutSeconds: 600, onFailure: 'block' },
      resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
    });
  });

  test(`${invalidCases.length} invalid pythonPackages inputs, each with its message`, () => {
    assert.ok(invalidCases.length >= 40);
  });

  for (const [name, change, expected] of invalidCases) {
    test(`rejects: ${name}`, () => {
      const manifest = withPackages();
      change(manifest);
      assert.deepEqual(
        errorsOf(manifest).map((e) => [e.path, e.message]),
        expected,
      );
    });
  }

  test('reports errors across the whole object at once', () => {
    const manifest = everyField();
    manifest.metadata.name = 'Orders_App';
    manifest.spec.replicas = -1;
    manifest.spec.pythonPackages.installPolicy = { timeout: 1 };
    manifest.spec.pythonPackages.packages = ['x; y'];
    assert.deepEqual(
      errorsOf(manifest).map((e) => e.path),
      ['metadata.name', 'spec.replicas', `${pp}.installPolicy.timeout`, `${pp}.packages[0]`],
    );
  });

  test('the app name must fit the names derived from it', () => {
    const manifest = plainApp();
    manifest.metadata.name = 'a'.repeat(49);
    assert.deepEqual(errorsOf(manifest), [
      { path: 'metadata.name', message: 'must be at most 48 characters (child names and labels derive from it)' },
    ]);
  });

  test('an unknown spec field is kept (original manifests apply) but warned about', () => {
    const manifest = {
      ...plainApp(),
      spec: { ...plainApp().spec, pythonPackage: { packages: ['x'] }, legacyField: 1 },
    };
    const result = validateKasprApp(manifest);
    assert.ok(result.ok);
    assert.deepEqual(result.warnings, [
      { path: 'spec.pythonPackage', message: "unknown field, ignored; did you mean 'pythonPackages'?" },
      { path: 'spec.legacyField', message: 'unknown field, ignored' },
    ]);
  });

  test('persistent storage needs a size; an unknown version needs an image', () => {
    const manifest = {
      ...plainApp(),
      spec: { ...plainApp().spec, storage: { type: 'persistent-claim' }, version: '0.0.1' },
    };
    assert.deepEqual(
      errorsOf(manifest).map((e) => e.path),
      ['spec.version', 'spec.storage.size'],
    );
    const withImage = {
      ...manifest,
      spec: {
        ...manifest.spec,
        image: 'registry.example.com/kaspr:custom',
        storage: { type: 'persistent-claim', size: '1Gi' },
      },
    };
    assert.ok(validateKasprApp(withImage).ok);
  });

  test('wrong envelope', () => {
    assert.deepEqual(
      errorsOf({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} }).map((e) => `${e.path}: ${e.message}`),
      [
        'apiVersion: must be kaspr.io/v1alpha1',
        'kind: must be KasprApp',
        'metadata.name: is required',
        'spec: is required',
      ],
    );
    assert.deepEqual(errorsOf('hello'), [{ path: '(document)', message: 'must be a mapping (a KasprApp object)' }]);
  });
});
