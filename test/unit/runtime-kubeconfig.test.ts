// Kubeconfig as kubectl reads it: KUBECONFIG's files merged (first to set a name or current-context wins), paths
// relative to their own file, and the checks and caching of exec credential plugins and token files.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { stringify } from 'yaml';
import { parseRunConfig } from '../../src/cli/run.ts';
import {
  kubeconfigPaths,
  loadKubeConfig,
  loadKubeConfigFile,
  mergeKubeconfigs,
} from '../../src/runtime/kube/config.ts';
import { FileTokenSource, tokenFileMaxAgeMs, tokenSourceFor } from '../../src/runtime/kube/credentials.ts';
import {
  execInfo,
  ExecTokenSource,
  isInteractive,
  parseExecConfig,
  parseExecCredential,
  type ExecPluginConfig,
  type PluginRun,
} from '../../src/runtime/kube/exec-credential.ts';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'kasprop-kubeconfig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const cluster = (name: string, server: string): object => ({ name, cluster: { server } });
const user = (name: string, token: string): object => ({ name, user: { token } });
const context = (name: string, clusterName: string, userName: string, namespace?: string): object => ({
  name,
  context: { cluster: clusterName, user: userName, namespace },
});

describe('kubeconfig files merged as kubectl merges KUBECONFIG', () => {
  test('KUBECONFIG: every entry in order, empty and repeated ones dropped; else ~/.kube/config', () => {
    assert.deepEqual(kubeconfigPaths({ KUBECONFIG: '/a:/b::/a:/c' }), ['/a', '/b', '/c']);
    assert.match(kubeconfigPaths({ KUBECONFIG: '' })[0] ?? '', /\.kube\/config$/);
  });

  test('the first file to set current-context, or a name, wins; later files add what is new', () => {
    const merged = mergeKubeconfigs([
      { path: '/a', doc: { clusters: [cluster('shared', 'https://a')], users: [user('u', 'from-a')] } },
      {
        path: '/b',
        doc: {
          'current-context': 'b',
          clusters: [cluster('shared', 'https://b'), cluster('only-b', 'https://only-b')],
          contexts: [context('b', 'shared', 'u', 'team')],
        },
      },
      { path: '/c', doc: { 'current-context': 'c', contexts: [context('c', 'only-b', 'u')] } },
    ]);
    assert.equal(merged.currentContext, 'b');
    assert.equal(merged.clusters.get('shared')?.value.server, 'https://a');
    assert.equal(merged.clusters.get('shared')?.file, '/a');
    assert.equal(merged.clusters.get('only-b')?.value.server, 'https://only-b');
    assert.deepEqual([...merged.contexts.keys()], ['b', 'c']);
  });

  test('loads the merged current context; missing files are skipped; paths are relative to their own file', (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'ca.crt'), 'the CA');
    writeFileSync(join(dir, 'token'), 'file-token\n');
    const clusters = join(dir, 'clusters.yaml');
    const users = join(dir, 'users.yaml');
    writeFileSync(
      clusters,
      stringify({
        'current-context': 'work',
        clusters: [{ name: 'c', cluster: { server: 'https://example:6443/', 'certificate-authority': 'ca.crt' } }],
        contexts: [context('work', 'c', 'u', 'team'), context('other', 'c', 'v')],
      }),
    );
    writeFileSync(users, stringify({ users: [{ name: 'u', user: { tokenFile: 'token' } }, user('v', 'static')] }));
    const config = loadKubeConfig([join(dir, 'missing.yaml'), clusters, users]);
    assert.equal(config.server, 'https://example:6443');
    assert.equal(config.ca?.toString(), 'the CA');
    assert.equal(config.tokenFile, join(dir, 'token'));
    assert.equal(config.namespace, 'team');
    const other = loadKubeConfig([clusters, users], 'other');
    assert.deepEqual([other.token, other.namespace], ['static', 'default']);
    assert.throws(() => loadKubeConfig([join(dir, 'missing.yaml')]), /no kubeconfig file: none of .*missing\.yaml/);
    assert.throws(() => loadKubeConfig([clusters], 'nope'), /context "nope" not found/);
    assert.throws(() => loadKubeConfig([clusters]), /user "u" of context "work" not found/, 'users.yaml not listed');
  });

  test('kasprop run: --kubeconfig alone, else KUBECONFIG merged, before the in-cluster config', (t) => {
    const dir = tempDir(t);
    const [first, second] = [join(dir, 'first.yaml'), join(dir, 'second.yaml')];
    writeFileSync(first, stringify({ 'current-context': 'x', clusters: [cluster('c', 'https://first')] }));
    writeFileSync(second, stringify({ contexts: [context('x', 'c', 'u', 'ns')], users: [user('u', 't')] }));
    const inCluster = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const merged = parseRunConfig({}, { ...inCluster, KUBECONFIG: `${first}:${second}` });
    assert.deepEqual([merged.kube.server, merged.kube.token, merged.leaseNamespace], ['https://first', 't', 'ns']);
    assert.throws(() => parseRunConfig({ kubeconfig: first }, {}), /context "x" not found/, 'only that file');
  });

  test('an exec user is parsed with its command resolved against its file; auth-provider is refused', (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'config');
    const exec = {
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      command: './bin/get-token',
      args: ['--cluster', 'prod'],
      env: [{ name: 'REGION', value: 'eu' }],
    };
    writeFileSync(
      path,
      stringify({
        'current-context': 'x',
        clusters: [
          {
            name: 'c',
            cluster: {
              server: 'https://example',
              extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { audience: 'prod' } }],
            },
          },
        ],
        contexts: [context('x', 'c', 'plugin'), context('y', 'c', 'legacy')],
        users: [
          { name: 'plugin', user: { exec } },
          { name: 'legacy', user: { 'auth-provider': { name: 'gcp' } } },
        ],
      }),
    );
    const config = loadKubeConfigFile(path);
    assert.ok(config.exec);
    assert.equal(config.exec.command, join(dir, 'bin/get-token'));
    assert.equal(config.exec.interactiveMode, 'IfAvailable', "v1beta1's default");
    assert.deepEqual(config.execClusterConfig, { audience: 'prod' });
    assert.throws(() => loadKubeConfigFile(path, 'y'), /user "legacy" uses an auth-provider plugin/);
  });

  test("token precedence is kubectl's: tokenFile, then token, then exec", () => {
    const base = { server: 'https://x', namespace: 'default' };
    const exec = parseExecConfig(
      { apiVersion: 'client.authentication.k8s.io/v1', command: 'p', interactiveMode: 'Never' },
      'u',
      '/',
    );
    assert.ok(tokenSourceFor({ ...base, tokenFile: '/t', token: 's', exec }) instanceof FileTokenSource);
    assert.ok(tokenSourceFor({ ...base, exec }) instanceof ExecTokenSource);
    assert.equal(tokenSourceFor(base), undefined);
  });
});

describe('exec plugin config and output', () => {
  const v1 = { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws', interactiveMode: 'Never' };

  test('bad configs name the field and the reason', () => {
    const bad: [object, RegExp][] = [
      [{ ...v1, apiVersion: 'client.authentication.k8s.io/v1alpha1' }, /u: exec\.apiVersion must be one of/],
      [{ ...v1, command: '' }, /exec\.command is required/],
      [{ ...v1, args: ['ok', 1] }, /exec\.args must be a list of strings/],
      [{ ...v1, env: [{ name: 'A' }] }, /exec\.env must be a list of \{name, value\}/],
      [
        { ...v1, interactiveMode: undefined },
        /exec\.interactiveMode is required with client\.authentication\.k8s\.io\/v1/,
      ],
      [{ ...v1, interactiveMode: 'Sometimes' }, /exec\.interactiveMode must be one of Never, IfAvailable, Always/],
      [{ ...v1, provideClusterInfo: 'yes' }, /exec\.provideClusterInfo must be true or false/],
    ];
    for (const [raw, message] of bad) assert.throws(() => parseExecConfig(raw, 'u', '/'), message);
    assert.equal(parseExecConfig({ ...v1, command: 'bin/x' }, 'u', '/k').command, '/k/bin/x');
    assert.equal(parseExecConfig(v1, 'u', '/k').command, 'aws', 'a bare name is looked up on PATH');
  });

  test('interactive only with a terminal and a mode that allows it; Always without one is an error', () => {
    const mode = (interactiveMode: string): ExecPluginConfig => parseExecConfig({ ...v1, interactiveMode }, 'u', '/');
    assert.equal(isInteractive(mode('Never'), true), false);
    assert.equal(isInteractive(mode('IfAvailable'), true), true);
    assert.equal(isInteractive(mode('IfAvailable'), false), false);
    assert.throws(() => isInteractive(mode('Always'), false), /needs a terminal \(interactiveMode: Always\)/);
  });

  test('KUBERNETES_EXEC_INFO carries the cluster only with provideClusterInfo', () => {
    const cluster = { server: 'https://k', certificateAuthorityData: Buffer.from('ca'), config: { a: 1 } };
    assert.deepEqual(JSON.parse(execInfo(parseExecConfig(v1, 'u', '/'), false, cluster)), {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: { interactive: false },
    });
    const withInfo = parseExecConfig({ ...v1, provideClusterInfo: true }, 'u', '/');
    assert.deepEqual((JSON.parse(execInfo(withInfo, true, cluster)) as { spec: unknown }).spec, {
      interactive: true,
      cluster: { server: 'https://k', 'certificate-authority-data': 'Y2E=', config: { a: 1 } },
    });
  });

  test('the printed ExecCredential is checked as client-go checks it', () => {
    const config = parseExecConfig(v1, 'u', '/');
    const credential = (status: object, apiVersion = v1.apiVersion): string =>
      JSON.stringify({ apiVersion, kind: 'ExecCredential', status });
    assert.deepEqual(parseExecCredential(credential({ token: 't' }), config), { token: 't' });
    assert.deepEqual(
      parseExecCredential(credential({ token: 't', expirationTimestamp: '2030-01-02T03:04:05Z' }), config),
      {
        token: 't',
        expiresAt: Date.UTC(2030, 0, 2, 3, 4, 5),
      },
    );
    const bad: [string, RegExp][] = [
      ['not json', /did not print an ExecCredential as JSON/],
      [
        credential({ token: 't' }, 'client.authentication.k8s.io/v1beta1'),
        /printed apiVersion ".*v1beta1"; the kubeconfig asks for .*\/v1$/,
      ],
      [JSON.stringify({ apiVersion: v1.apiVersion, kind: 'ExecCredential' }), /printed no status/],
      [credential({}), /returned no token/],
      [credential({ clientCertificateData: 'c', clientKeyData: 'k' }), /returned a client certificate/],
      [credential({ token: 't', expirationTimestamp: 'tomorrow' }), /expirationTimestamp "tomorrow"/],
    ];
    for (const [stdout, message] of bad) assert.throws(() => parseExecCredential(stdout, config), message);
  });
});

describe('token caching', () => {
  test('an exec token is kept until it expires or is refused; concurrent callers share one run', async () => {
    let now = Date.UTC(2030, 0, 1);
    const runs: PluginRun[] = [];
    const source = new ExecTokenSource(
      parseExecConfig(
        {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: 'p',
          interactiveMode: 'IfAvailable',
          env: [{ name: 'E', value: 'v' }],
        },
        'u',
        '/',
      ),
      { server: 'https://k' },
      {
        now: () => now,
        stdinIsTerminal: false,
        env: { PATH: '/bin' },
        run: (run) => {
          runs.push(run);
          const status = { token: `token-${runs.length}`, expirationTimestamp: new Date(now + 60_000).toISOString() };
          return Promise.resolve(
            JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status }),
          );
        },
      },
    );
    assert.deepEqual(await Promise.all([source.token(), source.token()]), ['token-1', 'token-1']);
    assert.equal(runs.length, 1);
    const [run] = runs;
    assert.ok(run);
    assert.equal(run.interactive, false);
    assert.deepEqual([run.env.PATH, run.env.E], ['/bin', 'v']);
    const info = JSON.parse(run.env.KUBERNETES_EXEC_INFO ?? '{}') as { spec: { interactive: boolean } };
    assert.equal(info.spec.interactive, false);
    now += 59_999;
    assert.equal(await source.token(), 'token-1');
    now += 1;
    assert.equal(await source.token(), 'token-2', 'run again at the expiry');
    assert.equal(source.rejected('token-2'), true);
    assert.equal(await source.token(), 'token-3', 'run again after a 401');
    assert.equal(runs.length, 3);
  });

  test('a failed or missing plugin says which, with the install hint', async () => {
    const config = parseExecConfig(
      {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: 'no-such-plugin-kasprop',
        interactiveMode: 'Never',
        installHint: 'install it with X',
      },
      'kubeconfig /k: user "u"',
      '/',
    );
    const source = new ExecTokenSource(config, { server: 'https://k' }, { env: { PATH: '/nonexistent' } });
    await assert.rejects(
      source.token(),
      /user "u": the exec plugin "no-such-plugin-kasprop" was not found\ninstall it with X/,
    );
  });

  test('a token file is read once a minute, and again after a 401', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'token');
    writeFileSync(path, 'one\n');
    let now = 0;
    const source = new FileTokenSource(path, () => now);
    assert.equal(await source.token(), 'one');
    writeFileSync(path, 'two\n');
    now += tokenFileMaxAgeMs - 1;
    assert.equal(await source.token(), 'one', 'cached within the minute');
    now += 1;
    assert.equal(await source.token(), 'two', 'read again after a minute');
    writeFileSync(path, 'three\n');
    assert.equal(source.rejected('two'), true);
    assert.equal(await source.token(), 'three', 'read again after a 401');
    writeFileSync(path, '');
    now += tokenFileMaxAgeMs;
    await assert.rejects(source.token(), /token file .* is empty/);
  });
});
