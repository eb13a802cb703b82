// Kubeconfig as on a laptop against a managed cluster: KUBECONFIG's files merged, and a user whose token comes from
// an exec credential plugin (a fake one: the real ones need a cloud account) that prints a service-account token the
// real apiserver accepts. The plugin runs once while its token is good, again when it expires or is refused, and
// gets its arguments verbatim, never through a shell. And a token file, as a pod's projected token: cached, and read
// again when the apiserver refuses the token it held.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite, test, type TestContext } from 'node:test';
import type { Secret } from 'kubernetes-types/core/v1.js';
import { parse, stringify } from 'yaml';
import { KubeClient, type RequestInfo } from '../../src/runtime/kube/client.ts';
import { loadKubeConfig } from '../../src/runtime/kube/config.ts';
import { ResourceTypes } from '../../src/runtime/kube/resources.ts';
import { fakePluginDirEnv, fakePluginRuns, type FakeCredential } from '../support/fake-exec-plugin.ts';
import { connectCluster, createTestNamespace, waitFor } from '../support/integration.ts';

const cluster = await connectCluster();
const fakePlugin = join(import.meta.dirname, '../support/fake-exec-plugin.ts');
/** An argument a shell would act on: it must reach the plugin as one verbatim word. */
const hostileArgument = 'prod; touch pwned $(touch pwned2) `touch pwned3`';

interface Laptop {
  /** The fake plugin's directory: credentials.json (what it prints) and runs.jsonl (what it was given). */
  readonly pluginDir: string;
  readonly client: KubeClient;
  /** Every request the client sent, with its answer's status. */
  readonly requests: RequestInfo[];
  readonly username: string;
}

/**
 * Two kubeconfig files as KUBECONFIG would list them: the first names the cluster (copied from the admin
 * kubeconfig) and the current context, the second the user, whose exec plugin is the fake.
 */
async function laptop(t: TestContext, credentials: (token: string) => FakeCredential[]): Promise<Laptop> {
  const { name: namespace } = await createTestNamespace(t, cluster);
  const token = await serviceAccountToken(namespace, 'laptop');
  const dir = mkdtempSync(join(cluster.dir, 'laptop-'));
  const pluginDir = join(dir, 'plugin');
  mkdirSync(pluginDir);
  writeFileSync(join(pluginDir, 'credentials.json'), JSON.stringify(credentials(token)));

  const admin = parse(readFileSync(cluster.kubeconfigPath, 'utf8')) as {
    clusters: { name: string; cluster: object }[];
  };
  const clusterFile = join(dir, 'cluster.yaml');
  writeFileSync(
    clusterFile,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'managed',
      clusters: [{ name: 'managed', cluster: admin.clusters[0]?.cluster }],
      contexts: [{ name: 'managed', context: { cluster: 'managed', user: 'sso', namespace } }],
    }),
  );
  const userFile = join(dir, 'user.yaml');
  writeFileSync(
    userFile,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // Ignored: the cluster file, first in KUBECONFIG, set current-context.
      'current-context': 'elsewhere',
      users: [
        {
          name: 'sso',
          user: {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: process.execPath,
              args: [fakePlugin, '--cluster', hostileArgument],
              env: [
                { name: fakePluginDirEnv, value: pluginDir },
                { name: 'FAKE_REGION', value: 'eu-west-1' },
              ],
              interactiveMode: 'Never',
              provideClusterInfo: true,
            },
          },
        },
      ],
    }),
  );
  const requests: RequestInfo[] = [];
  const client = new KubeClient(loadKubeConfig([join(dir, 'absent.yaml'), clusterFile, userFile]), {
    onRequest: (info) => requests.push(info),
  });
  t.after(() => {
    client.close();
  });
  return { pluginDir, client, requests, username: `system:serviceaccount:${namespace}:laptop` };
}

/**
 * A new service account and a token for it that the apiserver accepts; bound to a Secret of the same name when
 * `bound` (deleting the Secret revokes the token).
 */
async function serviceAccountToken(namespace: string, name: string, bound = false): Promise<string> {
  await cluster.client.create(ResourceTypes.ServiceAccount, {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name, namespace },
  });
  const secret = bound
    ? await cluster.client.create<Secret>(ResourceTypes.Secret, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace },
      })
    : undefined;
  const boundObjectRef =
    secret !== undefined ? { apiVersion: 'v1', kind: 'Secret', name, uid: secret.metadata?.uid } : undefined;
  const { status } = await cluster.client.request<{ status: { token: string } }>({
    verb: 'POST',
    path: `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600, boundObjectRef },
    },
  });
  return status.token;
}

/** Who the apiserver says we are (a SelfSubjectReview needs no permission). */
async function whoAmI(client: KubeClient): Promise<string | undefined> {
  const review = await client.request<{ status?: { userInfo?: { username?: string } } }>({
    verb: 'POST',
    path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  return review.status?.userInfo?.username;
}

const inAnHour = (): string => new Date(Date.now() + 3_600_000).toISOString();

suite('kubeconfig with an exec credential plugin, against the real apiserver', { concurrency: true }, () => {
  test('the token the plugin prints is accepted, and the plugin runs once while it is good', async (t) => {
    const { client, pluginDir, username } = await laptop(t, (token) => [{ token, expirationTimestamp: inAnHour() }]);
    assert.equal(await whoAmI(client), username);
    assert.equal(await whoAmI(client), username);
    assert.equal(await whoAmI(client), username);
    const runs = fakePluginRuns(pluginDir);
    assert.equal(runs.length, 1, 'one run for three requests');
    const [run] = runs;
    assert.ok(run);
    assert.deepEqual(run.argv, ['--cluster', hostileArgument], 'arguments arrive verbatim');
    for (const file of ['pwned', 'pwned2', 'pwned3']) {
      assert.equal(existsSync(join(process.cwd(), file)), false, `no shell ran: ${file} was not created`);
    }
    assert.equal(run.region, 'eu-west-1', "the kubeconfig's env");
    assert.deepEqual(run.execInfo, {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        cluster: { server: client.config.server, 'certificate-authority-data': client.config.ca?.toString('base64') },
      },
    });
  });

  test('a token the apiserver refuses makes the plugin run again, and the request succeeds', async (t) => {
    const { client, pluginDir, requests, username } = await laptop(t, (token) => [
      { token: 'revoked-token', expirationTimestamp: inAnHour() },
      { token, expirationTimestamp: inAnHour() },
    ]);
    assert.equal(await whoAmI(client), username);
    assert.equal(fakePluginRuns(pluginDir).length, 2);
    assert.deepEqual(
      requests.map((r) => `${r.verb} ${r.status}`),
      ['POST 401', 'POST 201'],
      'the refused request was sent once more, with the new token',
    );
  });

  test('an expired token makes the plugin run again before the next request', async (t) => {
    // Good for a few seconds: one run serves the first requests, and a later request needs a new one.
    const soon = (): string => new Date(Date.now() + 3_000).toISOString();
    const { client, pluginDir, requests, username } = await laptop(t, (token) => [
      { token, expirationTimestamp: soon() },
      { token, expirationTimestamp: inAnHour() },
    ]);
    assert.equal(await whoAmI(client), username);
    await waitFor(async () => (await whoAmI(client)) === username && fakePluginRuns(pluginDir).length === 2, {
      message: 'a second run of the plugin once the first token expired',
    });
    assert.ok(
      requests.every((r) => r.status === 201),
      'the new token was fetched before sending, not after a 401',
    );
  });
});

test('a token file is read once a minute, and again as soon as the apiserver refuses its token', async (t) => {
  const { name: namespace } = await createTestNamespace(t, cluster);
  const [oldToken, newToken] = [
    await serviceAccountToken(namespace, 'old', true),
    await serviceAccountToken(namespace, 'new'),
  ];
  const dir = mkdtempSync(join(cluster.dir, 'token-file-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${oldToken}\n`);
  const admin = parse(readFileSync(cluster.kubeconfigPath, 'utf8')) as { clusters: { cluster: object }[] };
  const kubeconfig = join(dir, 'config');
  writeFileSync(
    kubeconfig,
    stringify({
      'current-context': 'pod',
      clusters: [{ name: 'c', cluster: admin.clusters[0]?.cluster }],
      contexts: [{ name: 'pod', context: { cluster: 'c', user: 'sa', namespace } }],
      users: [{ name: 'sa', user: { tokenFile: 'token' } }],
    }),
  );
  const requests: RequestInfo[] = [];
  const client = new KubeClient(loadKubeConfig([kubeconfig]), { onRequest: (info) => requests.push(info) });
  t.after(() => {
    client.close();
  });
  assert.equal(await whoAmI(client), `system:serviceaccount:${namespace}:old`);

  // The kubelet rotates the file; the old token stays valid, and the cached one is used until the minute is up.
  writeFileSync(tokenFile, `${newToken}\n`);
  assert.equal(await whoAmI(client), `system:serviceaccount:${namespace}:old`, 'the file is not read per request');

  // Revoked: the next request is refused, the file read again, and the request sent once more with the new token.
  await cluster.client.delete(ResourceTypes.Secret, { namespace, name: 'old' });
  await waitFor(async () => (await whoAmI(client)) === `system:serviceaccount:${namespace}:new`, {
    message: 'the new token once the old one is refused',
  });
  // Until the apiserver has seen the deletion, the old token still works: any number of 201s, then the refusal
  // and, in the same call, the retry with the token read again.
  const statuses = requests.map((r) => r.status);
  assert.deepEqual(statuses.slice(-2), [401, 201], 'the refused request was sent once more, with the new token');
  assert.ok(
    statuses.slice(0, -2).every((status) => status === 201),
    `no other refusal and no failed request: ${statuses.join(', ')}`,
  );
});
