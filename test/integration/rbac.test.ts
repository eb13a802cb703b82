// deploy/ on the real control plane (RBAC authorizer, OwnerReferencesPermissionEnforcement, Pod Security admission).
// - Sufficient: the operator, authenticated as deploy/'s ServiceAccount by a bearer token (no admin certificate),
//   takes the basic case to Ready with leader election in its own namespace, and removes the HPA and the claim;
//   no request is refused, every verb it uses is granted and every verb granted is used.
// - Not more: that identity cannot exec into pods or read Secrets, the reviews say so too, and blockOwnerDeletion
//   really needs the kasprapps/finalizers rule.
// - The rest of deploy/ is accepted by the apiserver, and its pod passes Pod Security "restricted".
// Every run gets its own operator namespace and cluster-scoped names (a random suffix), removed after each test.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { CustomResourceDefinition } from 'kubernetes-types/apiextensions/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { ConfigMap, Namespace, Pod, Secret, ServiceAccount } from 'kubernetes-types/core/v1.js';
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding } from 'kubernetes-types/rbac/v1.js';
import { parse } from 'yaml';
import { KubeApiError, KubeClient, type KubeObject, type RequestInfo } from '../../src/runtime/kube/client.ts';
import type { KubeConfig } from '../../src/runtime/kube/config.ts';
import { resourcePath, ResourceTypes, type ResourceType } from '../../src/runtime/kube/resources.ts';
import { connectCluster, createTestNamespace, waitFor } from '../support/integration.ts';
import {
  createApp,
  getApp,
  imagePath,
  kasprApp,
  setSpec,
  waitForCondition,
  waitForPackages,
} from '../support/kasprapps.ts';
import { startTestOperator } from '../support/operator.ts';
import { startWheelIndex } from '../support/wheel-index.ts';

const cluster = await connectCluster();
const admin = cluster.client;
const fieldManager = 'kasprop-test';
const leaseName = 'kasprop-leader';

const Role: ResourceType = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'Role',
  plural: 'roles',
  namespaced: true,
};
const RoleBinding: ResourceType = { ...Role, kind: 'RoleBinding', plural: 'rolebindings' };
const DeploymentType: ResourceType = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  plural: 'deployments',
  namespaced: true,
};
const PodDisruptionBudget: ResourceType = {
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  plural: 'poddisruptionbudgets',
  namespaced: true,
};

/** A manifest of deploy/, fresh on every call (callers rename it). */
function deploy(file: string): unknown {
  return parse(readFileSync(new URL(`../../deploy/${file}`, import.meta.url), 'utf8'));
}

// deploy/'s copy of the CRD is what is installed (the unit test keeps it equal to crds/, which other files apply with
// the same field manager, so concurrent applies agree).
const crd = deploy('crd.yaml') as CustomResourceDefinition & KubeObject;
await admin.apply(ResourceTypes.CustomResourceDefinition, crd, { fieldManager });
await waitFor(
  async () =>
    (
      await admin.get<CustomResourceDefinition & KubeObject>(ResourceTypes.CustomResourceDefinition, {
        name: crd.metadata?.name ?? '',
      })
    )?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'),
  { message: 'the CRD of deploy/ Established' },
);

/** `group resource verb`, one per granted pair (resourceNames are the unit test's business). */
function permissions(rules: readonly PolicyRule[]): string[] {
  return rules.flatMap((rule) =>
    (rule.apiGroups ?? []).flatMap((group) =>
      (rule.resources ?? []).flatMap((resource) => rule.verbs.map((verb) => `${group || 'core'} ${resource} ${verb}`)),
    ),
  );
}

/**
 * The RBAC permissions a request needed, from its method and path: what the apiserver's request-info resolver
 * derives. A server-side apply that answered 201 created the object, which the apiserver authorizes as create too.
 */
function permissionsOf(request: RequestInfo): string[] {
  const parts = request.path.split('/').filter((p) => p !== '');
  const core = parts[0] === 'api';
  const group = core ? 'core' : parts[1]!;
  let rest = parts.slice(core ? 2 : 3);
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  const [plural, name, subresource] = rest;
  const resource = subresource === undefined ? plural! : `${plural}/${subresource}`;
  const verbs =
    request.verb === 'GET'
      ? [request.watch ? 'watch' : name === undefined ? 'list' : 'get']
      : request.verb === 'POST'
        ? ['create']
        : request.verb === 'PUT'
          ? ['update']
          : request.verb === 'DELETE'
            ? ['delete']
            : request.status === 201
              ? ['patch', 'create']
              : ['patch'];
  return verbs.map((verb) => `${group} ${resource} ${verb}`);
}

interface Access {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
}

function accessOf(permission: string, namespace: string, name?: string): Access {
  const [group = '', resourcePath = '', verb = ''] = permission.split(' ');
  const [resource = '', subresource] = resourcePath.split('/');
  return {
    verb,
    group: group === 'core' ? '' : group,
    resource,
    ...(subresource !== undefined && { subresource }),
    namespace,
    ...(name !== undefined && { name }),
  };
}

/** SelfSubjectAccessReview: what the authorizer says about the client's own identity. */
async function selfCan(client: KubeClient, access: Access): Promise<boolean> {
  const review = await client.request<{ status?: { allowed?: boolean } }>({
    verb: 'POST',
    path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: access },
    },
  });
  return review.status?.allowed === true;
}

/** SubjectAccessReview (as the admin): what the authorizer says about `user`. */
async function subjectCan(user: string, groups: readonly string[], access: Access): Promise<boolean> {
  const review = await admin.request<{ status?: { allowed?: boolean } }>({
    verb: 'POST',
    path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user, groups, resourceAttributes: access },
    },
  });
  return review.status?.allowed === true;
}

/** The HTTP status a request ended with (200 for any success). */
async function statusOf(request: Promise<unknown>): Promise<number> {
  try {
    await request;
    return 200;
  } catch (error) {
    if (error instanceof KubeApiError) return error.status;
    throw error;
  }
}

interface InstalledRbac {
  /** The operator's namespace: the ServiceAccount, the Lease and its Role live here. */
  readonly namespace: string;
  readonly account: string;
  /** system:serviceaccount:<namespace>:<account> */
  readonly user: string;
  /** The account's identity: server and CA of the control plane, and a token from TokenRequest. */
  readonly kubeConfig: KubeConfig;
  readonly clusterRules: readonly PolicyRule[];
  readonly leaseRules: readonly PolicyRule[];
}

/**
 * Applies deploy/'s Namespace, ServiceAccount, ClusterRole, ClusterRoleBinding, Role and RoleBinding as the admin,
 * renamed for this test (operator namespace kasprop-system-<suffix>, cluster-scoped names <name>-<suffix>), gets a
 * token for the ServiceAccount, and waits until the authorizer grants every rule to it. Removed after the test.
 * `dropRule` leaves rules out of the ClusterRole (to prove one is needed); `account` renames the ServiceAccount.
 */
async function installDeployRbac(
  t: TestContext,
  { account = 'kasprop', dropRule }: { account?: string; dropRule?: (rule: PolicyRule) => boolean } = {},
): Promise<InstalledRbac> {
  const suffix = randomBytes(3).toString('hex');
  const namespace = `kasprop-system-${suffix}`;
  const subjects = [{ kind: 'ServiceAccount', name: account, namespace }];

  const ns = deploy('namespace.yaml') as Namespace & KubeObject;
  ns.metadata = { ...ns.metadata, name: namespace };
  await admin.create(ResourceTypes.Namespace, ns);
  const clusterRole = deploy('cluster-role.yaml') as ClusterRole & KubeObject;
  clusterRole.metadata = { ...clusterRole.metadata, name: `${clusterRole.metadata?.name}-${suffix}` };
  clusterRole.rules = (clusterRole.rules ?? []).filter((rule) => dropRule?.(rule) !== true);
  const clusterRoleBinding = deploy('cluster-role-binding.yaml') as ClusterRoleBinding & KubeObject;
  clusterRoleBinding.metadata = {
    ...clusterRoleBinding.metadata,
    name: `${clusterRoleBinding.metadata?.name}-${suffix}`,
  };
  clusterRoleBinding.roleRef = { ...clusterRoleBinding.roleRef, name: clusterRole.metadata.name! };
  clusterRoleBinding.subjects = subjects;
  t.after(async () => {
    await admin.delete(ResourceTypes.ClusterRoleBinding, { name: clusterRoleBinding.metadata!.name! });
    await admin.delete(ResourceTypes.ClusterRole, { name: clusterRole.metadata!.name! });
    await admin.delete(ResourceTypes.Namespace, { name: namespace });
  });

  const serviceAccount = deploy('service-account.yaml') as ServiceAccount & KubeObject;
  serviceAccount.metadata = { ...serviceAccount.metadata, name: account, namespace };
  const leaseRole = deploy('leader-election-role.yaml') as Role & KubeObject;
  leaseRole.metadata = { ...leaseRole.metadata, namespace };
  const leaseRoleBinding = deploy('leader-election-role-binding.yaml') as RoleBinding & KubeObject;
  leaseRoleBinding.metadata = { ...leaseRoleBinding.metadata, namespace };
  leaseRoleBinding.subjects = subjects;
  for (const [type, object] of [
    [ResourceTypes.ServiceAccount, serviceAccount],
    [ResourceTypes.ClusterRole, clusterRole],
    [ResourceTypes.ClusterRoleBinding, clusterRoleBinding],
    [Role, leaseRole],
    [RoleBinding, leaseRoleBinding],
  ] as const) {
    await admin.apply(type, object, { fieldManager });
  }

  const tokenRequest = await admin.request<{ status: { token: string } }>({
    verb: 'POST',
    path: resourcePath(ResourceTypes.ServiceAccount, { namespace, name: account, subresource: 'token' }),
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  // The server and its CA only: a client certificate would authenticate as the admin whatever the token says.
  const kubeConfig: KubeConfig = {
    server: admin.config.server,
    ca: admin.config.ca,
    token: tokenRequest.status.token,
    namespace,
  };
  const installed = {
    namespace,
    account,
    user: `system:serviceaccount:${namespace}:${account}`,
    kubeConfig,
    clusterRules: clusterRole.rules,
    leaseRules: leaseRole.rules ?? [],
  };
  await waitForGrants(installed, 'default');
  return installed;
}

/**
 * The authorizer learns of new bindings from its own watch: wait until it grants every rule (in `namespace`, and the
 * Lease in the operator's), so that the operator meets no refusal that only a slow cache caused.
 */
async function waitForGrants(rbac: InstalledRbac, namespace: string): Promise<void> {
  const client = new KubeClient(rbac.kubeConfig);
  try {
    const wanted = [
      ...permissions(rbac.clusterRules).map((p) => accessOf(p, namespace)),
      ...rbac.leaseRules.flatMap((rule) =>
        permissions([rule]).map((p) => accessOf(p, rbac.namespace, rule.resourceNames?.[0])),
      ),
    ];
    let missing: Access[] = wanted;
    await waitFor(
      async () => {
        const allowed = await Promise.all(missing.map((access) => selfCan(client, access)));
        missing = missing.filter((_, i) => !allowed[i]);
        return missing.length === 0;
      },
      { message: () => `the grants of ${rbac.user}; missing ${JSON.stringify(missing)}` },
    );
  } finally {
    client.close();
  }
}

test('as the ServiceAccount of deploy/, the operator takes the basic case to Ready, using exactly the granted verbs', async (t) => {
  const rbac = await installDeployRbac(t);
  const ns = await createTestNamespace(t, cluster, { path: imagePath });
  await waitForGrants(rbac, ns.name);
  const index = await startWheelIndex({ reachableAt: cluster.serverAddressForPods });
  t.after(() => index.close());

  const identity = new KubeClient(rbac.kubeConfig);
  t.after(() => identity.close());
  const review = await identity.request<{ status?: { userInfo?: { username?: string } } }>({
    verb: 'POST',
    path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  assert.equal(review.status?.userInfo?.username, rbac.user, 'the operator connects as the ServiceAccount');

  const leader = `rbac-test_${randomBytes(4).toString('hex')}`;
  const operator = await startTestOperator(cluster, {
    namespaces: [ns.name],
    kubeConfig: rbac.kubeConfig,
    leaderElection: { namespace: rbac.namespace, name: leaseName, identity: leader },
  });
  // A refused request fails the test at once, naming it, rather than at the end of a wait for Ready.
  const refused = (): RequestInfo[] => operator.requests.filter((r) => r.status === 401 || r.status === 403);
  const unlessRefused = <T>(wait: Promise<T>): Promise<T> =>
    Promise.race([
      wait,
      new Promise<never>((_, reject) => {
        const timer = setInterval(() => {
          if (refused().length === 0) return;
          clearInterval(timer);
          reject(new Error(`the operator was refused: ${JSON.stringify(refused())}`));
        }, 50);
        void wait.finally(() => clearInterval(timer)).catch(() => undefined);
      }),
    ]);

  // Ready means every informer has listed: list is granted on every type it caches.
  await unlessRefused(
    waitFor(async () => (await fetch(`${operator.running.http!.url}/readyz`)).status === 200, {
      message: 'the operator ready (caches synced)',
    }),
  );

  await createApp(
    admin,
    kasprApp(ns.name, 'basic', {
      pythonPackages: { packages: ['kaspr-demo-a==1.0'], indexUrl: index.url, trustedHosts: [index.host] },
    }),
  );
  const status = await unlessRefused(
    waitForPackages(admin, ns.name, 'basic', (s) => s.state === 'Ready', 'packages Ready'),
  );
  assert.deepEqual(status.installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==2.0']);
  await unlessRefused(waitForCondition(admin, ns.name, 'basic', 'Ready', (c) => c.status === 'True'));

  const lease = await admin.get<Lease & KubeObject>(ResourceTypes.Lease, {
    namespace: rbac.namespace,
    name: leaseName,
  });
  assert.equal(lease?.spec?.holderIdentity, leader, 'it leads through the Lease in its own namespace');
  // Written under OwnerReferencesPermissionEnforcement: admission checked update on kasprapps/finalizers.
  for (const [type, name] of [
    [ResourceTypes.StatefulSet, 'basic-app'],
    [ResourceTypes.PersistentVolumeClaim, 'basic-app-python-packages'],
  ] as const) {
    const child = await admin.get(type, { namespace: ns.name, name });
    assert.equal(child?.metadata?.ownerReferences?.[0]?.blockOwnerDeletion, true, `${type.kind} ${name}`);
  }

  // The deletes: replicas 0 takes the HPA away, and without pythonPackages the claim goes (deleteClaim's default),
  // and so does the installer ConfigMap once the StatefulSet has rolled out without it.
  const { pythonPackages: _packages, ...spec } = (await getApp(admin, ns.name, 'basic'))!.spec;
  await setSpec(admin, ns.name, 'basic', { ...spec, replicas: 0 });
  const deleted = (plural: string): boolean =>
    operator.requests.some((r) => r.verb === 'DELETE' && r.path.includes(`/${plural}/`) && r.status === 200);
  await unlessRefused(
    waitFor(() => deleted('horizontalpodautoscalers') && deleted('persistentvolumeclaims') && deleted('configmaps'), {
      timeoutMs: 120_000,
      message: 'the operator to delete the HPA, the packages claim and the installer ConfigMap',
    }),
  );

  assert.equal(await operator.stop(), 'shutdown');
  const released = await admin.get<Lease & KubeObject>(ResourceTypes.Lease, {
    namespace: rbac.namespace,
    name: leaseName,
  });
  assert.equal(released?.spec?.holderIdentity, '', 'released on the way out');

  assert.deepEqual(refused(), [], 'no request of the operator was refused');
  const used = new Set(operator.requests.flatMap(permissionsOf));
  const granted = new Set(permissions([...rbac.clusterRules, ...rbac.leaseRules]));
  assert.deepEqual([...used].filter((p) => !granted.has(p)).sort(), [], 'used but not granted');
  // The finalizers rule is no request of the operator's: admission checks it when a child is written (see below).
  assert.deepEqual([...granted].filter((p) => !used.has(p)).sort(), ['kaspr.io kasprapps/finalizers update']);
});

test('the ServiceAccount of deploy/ cannot exec into pods, read Secrets, or set blockOwnerDeletion without the finalizers rule', async (t) => {
  const rbac = await installDeployRbac(t);
  const namespace = `rbac-denied-${randomBytes(3).toString('hex')}`;
  await admin.create(ResourceTypes.Namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  t.after(() => admin.delete(ResourceTypes.Namespace, { name: namespace }));
  await waitForGrants(rbac, namespace);
  const operator = new KubeClient(rbac.kubeConfig);
  t.after(() => operator.close());

  // A pod to exec into and a Secret to read, both there: only authorization stands in the way.
  await waitFor(() => admin.get(ResourceTypes.ServiceAccount, { namespace, name: 'default' }), {
    message: 'the default ServiceAccount',
  });
  await admin.create<Pod & KubeObject>(ResourceTypes.Pod, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'target', namespace },
    spec: { containers: [{ name: 'app', image: 'kasprop.test/python:3' }] },
  });
  await admin.create<Secret & KubeObject>(ResourceTypes.Secret, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'index-credentials', namespace },
    stringData: { username: 'u', password: 'p' },
  });

  const exec = {
    path: resourcePath(ResourceTypes.Pod, { namespace, name: 'target', subresource: 'exec' }),
    query: { command: 'true', stdout: true },
  };
  // pods/exec: POST (SPDY) and GET (WebSocket) alike; the admin's identical request gets past authorization.
  assert.equal(await statusOf(operator.request({ verb: 'POST', ...exec })), 403);
  assert.equal(await statusOf(operator.request({ verb: 'GET', ...exec })), 403);
  assert.notEqual(await statusOf(admin.request({ verb: 'POST', ...exec })), 403);

  // Secrets: no get, list or watch, here, everywhere, or in its own namespace.
  const secretPath = resourcePath(ResourceTypes.Secret, { namespace, name: 'index-credentials' });
  assert.equal(await statusOf(operator.request({ verb: 'GET', path: secretPath })), 403);
  assert.equal(await statusOf(operator.list(ResourceTypes.Secret, { namespace })), 403);
  assert.equal(await statusOf(operator.list(ResourceTypes.Secret, { namespace: rbac.namespace })), 403);
  assert.equal(await statusOf(operator.list(ResourceTypes.Secret)), 403);
  const watchSecrets = async (): Promise<void> => {
    for await (const _event of operator.watch(resourcePath(ResourceTypes.Secret, { namespace }), {})) break;
  };
  assert.equal(await statusOf(watchSecrets()), 403);
  assert.equal(await statusOf(admin.request({ verb: 'GET', path: secretPath })), 200);

  // The reviews agree, the ServiceAccount's own and the admin's about it; and they do say yes where it is granted.
  const groups = ['system:serviceaccounts', `system:serviceaccounts:${rbac.namespace}`, 'system:authenticated'];
  for (const subresource of ['exec', 'attach', 'portforward']) {
    for (const verb of ['create', 'get']) {
      const access = { verb, group: '', resource: 'pods', subresource, namespace, name: 'target' };
      assert.equal(await selfCan(operator, access), false, `${verb} pods/${subresource}`);
      assert.equal(await subjectCan(rbac.user, groups, access), false, `${verb} pods/${subresource}`);
    }
  }
  for (const verb of ['get', 'list', 'watch']) {
    const access = { verb, group: '', resource: 'secrets', namespace };
    assert.equal(await selfCan(operator, access), false, `${verb} secrets`);
    assert.equal(await subjectCan(rbac.user, groups, access), false, `${verb} secrets`);
  }
  assert.equal(await selfCan(operator, { verb: 'patch', group: 'apps', resource: 'statefulsets', namespace }), true);
  assert.equal(
    await subjectCan(rbac.user, groups, { verb: 'list', group: 'kaspr.io', resource: 'kasprapps', namespace }),
    true,
  );

  // blockOwnerDeletion: the same role without the kasprapps/finalizers rule cannot write a child as the operator does.
  const lacking = await installDeployRbac(t, {
    account: 'kasprop-no-finalizers',
    dropRule: (rule) => rule.resources?.includes('kasprapps/finalizers') === true,
  });
  await waitForGrants(lacking, namespace);
  const lackingClient = new KubeClient(lacking.kubeConfig);
  t.after(() => lackingClient.close());
  const owner = await createApp(admin, kasprApp(namespace, 'owner'));
  const child = (name: string): ConfigMap & KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace,
      ownerReferences: [
        {
          apiVersion: 'kaspr.io/v1alpha1',
          kind: 'KasprApp',
          name: 'owner',
          uid: owner.metadata.uid!,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
  });
  const refusal = await lackingClient.apply(ResourceTypes.ConfigMap, child('child'), { fieldManager: 'kasprop' }).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(refusal instanceof KubeApiError && refusal.status === 403, String(refusal));
  assert.match(refusal.message, /blockOwnerDeletion/);
  await operator.apply(ResourceTypes.ConfigMap, child('child'), { fieldManager: 'kasprop' });
});

test('the rest of deploy/ is valid for the apiserver, and its pods pass Pod Security "restricted"', async (t) => {
  const rbac = await installDeployRbac(t);
  const dryRun = async (type: ResourceType, object: KubeObject): Promise<number> =>
    statusOf(
      admin.request({
        verb: 'POST',
        path: resourcePath(type, { namespace: rbac.namespace }),
        query: { dryRun: 'All', fieldValidation: 'Strict' },
        body: { ...object, metadata: { ...object.metadata, namespace: rbac.namespace } },
      }),
    );
  const deployment = deploy('deployment.yaml') as Deployment & KubeObject;
  assert.equal(await dryRun(DeploymentType, deployment), 200);
  assert.equal(await dryRun(ResourceTypes.Service, deploy('metrics-service.yaml') as KubeObject), 200);
  assert.equal(await dryRun(PodDisruptionBudget, deploy('pod-disruption-budget.yaml') as KubeObject), 200);

  // The pod the Deployment makes, admitted in deploy/'s namespace (labelled enforce: restricted).
  const pod = (template: NonNullable<Deployment['spec']>['template']): Pod & KubeObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...template.metadata, name: 'kasprop-dry-run' },
    spec: template.spec,
  });
  const template = deployment.spec!.template;
  assert.equal(await dryRun(ResourceTypes.Pod, pod(template)), 200);
  // Pod Security admission is really enforcing here: the same pod allowed to escalate privileges is refused.
  const weakened = structuredClone(template);
  weakened.spec!.containers[0]!.securityContext!.allowPrivilegeEscalation = true;
  assert.equal(await dryRun(ResourceTypes.Pod, pod(weakened)), 403);
});
