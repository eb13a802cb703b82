// deploy/ and the Dockerfile, read as data: the kustomization ties every manifest together, the RBAC grants exactly
// what the code does (a table below, each row pointing at the code), the Deployment is hardened and configured the
// way `kasprop run` reads its configuration, and the image runs as non-root with what the operator needs.
// test/integration/rbac.test.ts proves the same RBAC on a real control plane.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { Container, Namespace, Service, ServiceAccount } from 'kubernetes-types/core/v1.js';
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding } from 'kubernetes-types/rbac/v1.js';
import { parse, parseAllDocuments } from 'yaml';
import { crdText } from '../../src/api/crd.ts';
import { parseRunConfig } from '../../src/cli/run.ts';
import { childTypes } from '../../src/controller/cluster-view.ts';
import { deployCrdPath, deployCrdText } from '../../scripts/gen-deploy-crd.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const deployDir = join(root, 'deploy');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const manifest = (file: string): unknown => parse(read(join('deploy', file)));

interface Kustomization {
  namespace: string;
  resources: string[];
  images: { name: string; newName?: string; newTag?: string }[];
}
const kustomization = manifest('kustomization.yaml') as Kustomization;
const namespace = manifest('namespace.yaml') as Namespace;
const serviceAccount = manifest('service-account.yaml') as ServiceAccount;
const clusterRole = manifest('cluster-role.yaml') as ClusterRole;
const clusterRoleBinding = manifest('cluster-role-binding.yaml') as ClusterRoleBinding;
const leaseRole = manifest('leader-election-role.yaml') as Role;
const leaseRoleBinding = manifest('leader-election-role-binding.yaml') as RoleBinding;
const deployment = manifest('deployment.yaml') as Deployment;
const metricsService = manifest('metrics-service.yaml') as Service;
const packageVersion = (JSON.parse(read('package.json')) as { version: string }).version;

const podSpec = deployment.spec!.template.spec!;
const container: Container = podSpec.containers[0]!;

/** One permission per line: `group resource verb [name]`, so that rule sets compare whatever their grouping. */
function permissions(rules: readonly PolicyRule[]): string[] {
  return rules
    .flatMap((rule) =>
      (rule.apiGroups ?? []).flatMap((group) =>
        (rule.resources ?? []).flatMap((resource) =>
          rule.verbs.flatMap((verb) =>
            (rule.resourceNames ?? ['']).map((name) => `${group || 'core'} ${resource} ${verb} ${name}`.trimEnd()),
          ),
        ),
      ),
    )
    .sort();
}

const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');

/**
 * What the operator does against the API, read from the code. The ClusterRole must grant exactly this: a new request
 * in the code needs a row here and a rule in deploy/cluster-role.yaml (and rbac.test.ts fails until both exist).
 */
const operatorRequests: readonly { group: string; resource: string; verbs: string[]; code: string }[] = [
  { group: 'kaspr.io', resource: 'kasprapps', verbs: ['list', 'watch'], code: 'informer, controller/cluster-view.ts' },
  {
    group: 'kaspr.io',
    resource: 'kasprapps/status',
    verbs: ['patch'],
    code: 'server-side apply of status: Applier.applyStatus (runtime/applier.ts) from controller/reconciler.ts',
  },
  {
    group: 'kaspr.io',
    resource: 'kasprapps/finalizers',
    verbs: ['update'],
    code: 'no request: blockOwnerDeletion (model/owner.ts) under OwnerReferencesPermissionEnforcement admission',
  },
  // The children: informers (steps.ts childTypes, from model/children.ts) and server-side apply (controller/steps.ts, Applier.apply:
  // a PATCH, authorized as create too when it creates the object).
  { group: '', resource: 'serviceaccounts', verbs: ['list', 'watch', 'create', 'patch'], code: 'steps.ts' },
  {
    group: '',
    resource: 'configmaps',
    verbs: ['list', 'watch', 'create', 'patch', 'delete'],
    code: 'steps.ts; installer ConfigMaps no pod uses: reconciler.ts through controller/installer-config-maps.ts',
  },
  { group: '', resource: 'services', verbs: ['list', 'watch', 'create', 'patch'], code: 'steps.ts' },
  {
    group: '',
    resource: 'persistentvolumeclaims',
    verbs: ['list', 'watch', 'create', 'patch', 'delete'],
    code: 'steps.ts packages-claim: deleted through Applier.deleteIfPresent when deleteClaim says so',
  },
  { group: 'apps', resource: 'statefulsets', verbs: ['list', 'watch', 'create', 'patch'], code: 'steps.ts' },
  {
    group: 'autoscaling',
    resource: 'horizontalpodautoscalers',
    verbs: ['list', 'watch', 'create', 'patch', 'delete'],
    code: 'steps.ts hpa: deleted when replicas is 0 (model/hpa.ts)',
  },
  { group: '', resource: 'pods', verbs: ['list', 'watch'], code: 'informer, cluster-view.ts (status only)' },
  {
    group: '',
    resource: 'events',
    verbs: ['list', 'watch', 'create'],
    code: 'informer of ProvisioningFailed (cluster-view.ts); EventRecorder.record (controller/event-recorder.ts)',
  },
];

/** The Lease of leader election (runtime/leader-election.ts): GET, POST when missing, PUT to renew and release. */
const leaseRequests = [
  'coordination.k8s.io leases create',
  ...['get', 'update'].map((verb) => `coordination.k8s.io leases ${verb} kasprop-leader`),
];

describe('deploy/kustomization.yaml', () => {
  test('lists every manifest in deploy/, and only files that exist', () => {
    const files = readdirSync(deployDir)
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .sort();
    assert.deepEqual([...kustomization.resources].sort(), files);
  });

  test('puts everything in the namespace of namespace.yaml', () => {
    assert.equal(kustomization.namespace, 'kasprop-system');
    assert.equal(namespace.metadata?.name, kustomization.namespace);
    for (const object of [serviceAccount, leaseRole, leaseRoleBinding, deployment, metricsService]) {
      assert.equal(object.metadata?.namespace, kustomization.namespace, object.kind);
    }
  });

  test('sets the image of the Deployment, at the version of package.json', () => {
    const [image] = kustomization.images;
    assert.equal(kustomization.images.length, 1);
    assert.equal(image?.name, container.image?.split(':')[0]);
    assert.equal(image?.newTag, packageVersion);
    assert.equal(container.image, `${image.name}:${packageVersion}`);
  });

  test('the namespace enforces Pod Security "restricted"', () => {
    assert.equal(namespace.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
  });
});

describe('deploy/crd.yaml', () => {
  test('is crds/kasprapp.crd.yaml, byte for byte after its header (npm run gen:deploy)', () => {
    assert.equal(readFileSync(deployCrdPath, 'utf8'), deployCrdText(), 'deploy/crd.yaml drifted: npm run gen:deploy');
    assert.deepEqual(parse(readFileSync(deployCrdPath, 'utf8')), parse(crdText));
  });
});

describe('RBAC', () => {
  const allRules = [...(clusterRole.rules ?? []), ...(leaseRole.rules ?? [])];

  test('the ClusterRole grants exactly what the code does', () => {
    const expected = permissions(
      operatorRequests.map(({ group, resource, verbs }) => ({ apiGroups: [group], resources: [resource], verbs })),
    );
    assert.deepEqual(permissions(clusterRole.rules ?? []), expected);
  });

  test('the table covers every child type the operator watches and applies', () => {
    for (const type of childTypes) {
      const row = operatorRequests.find((r) => r.group === groupOf(type.apiVersion) && r.resource === type.plural);
      assert.ok(row, `${type.kind} has no row`);
      for (const verb of ['list', 'watch', 'create', 'patch'])
        assert.ok(row.verbs.includes(verb), `${type.kind} ${verb}`);
    }
  });

  test('Leases: only the operator namespace, only the kasprop-leader Lease beyond create', () => {
    assert.equal(leaseRole.kind, 'Role');
    assert.deepEqual(permissions(leaseRole.rules ?? []), [...leaseRequests].sort());
    // run.ts names the Lease inline; the Role's resourceNames must be that name.
    assert.match(read('src/cli/run.ts'), /name: 'kasprop-leader'/);
  });

  test('no wildcard, no non-resource URL, no secrets, no exec/attach/port-forward/proxy, no escalation verbs', () => {
    for (const rule of allRules) {
      for (const list of [rule.apiGroups, rule.resources, rule.verbs, rule.resourceNames]) {
        assert.ok(!(list ?? []).includes('*'), JSON.stringify(rule));
      }
      assert.equal(rule.nonResourceURLs, undefined);
      for (const resource of rule.resources ?? []) {
        assert.ok(!/^secrets(\/|$)/.test(resource), `${resource} is granted`);
        assert.ok(
          !/^pods\/(exec|attach|portforward|proxy|ephemeralcontainers)$/.test(resource),
          `${resource} is granted`,
        );
      }
      for (const verb of rule.verbs) assert.ok(!['escalate', 'bind', 'impersonate'].includes(verb), verb);
    }
    assert.equal(clusterRole.aggregationRule, undefined);
  });

  test('the bindings give the roles to the ServiceAccount, and to it alone', () => {
    const subject = { kind: 'ServiceAccount', name: serviceAccount.metadata?.name, namespace: kustomization.namespace };
    assert.deepEqual(clusterRoleBinding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: clusterRole.metadata?.name,
    });
    assert.deepEqual(clusterRoleBinding.subjects, [subject]);
    assert.deepEqual(leaseRoleBinding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: leaseRole.metadata?.name,
    });
    assert.deepEqual(leaseRoleBinding.subjects, [subject]);
    assert.equal(podSpec.serviceAccountName, serviceAccount.metadata?.name);
    assert.notEqual(podSpec.automountServiceAccountToken, false, 'the operator authenticates with its token');
  });
});

describe('deploy/deployment.yaml', () => {
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e]));

  test('two replicas, and a rolling update that always keeps one running', () => {
    assert.equal(deployment.spec?.replicas, 2);
    assert.equal(deployment.spec.strategy?.type, 'RollingUpdate');
    assert.equal(deployment.spec.strategy.rollingUpdate?.maxUnavailable, 0);
    assert.equal(deployment.spec.strategy.rollingUpdate.maxSurge, 1);
  });

  test('the pods prefer different nodes', () => {
    const terms = podSpec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    assert.equal(terms.length, 1);
    assert.equal(terms[0]?.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
    assert.deepEqual(terms[0].podAffinityTerm.labelSelector?.matchLabels, deployment.spec?.selector.matchLabels);
    assert.equal(podSpec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution, undefined);
  });

  test('non-root, read-only root filesystem, no privilege escalation, no capabilities, seccomp RuntimeDefault', () => {
    const pod = podSpec.securityContext ?? {};
    assert.equal(pod.runAsNonRoot, true);
    assert.ok((pod.runAsUser ?? 0) > 0 && (pod.runAsGroup ?? 0) > 0);
    assert.equal(pod.seccompProfile?.type, 'RuntimeDefault');
    const own = container.securityContext ?? {};
    assert.equal(own.allowPrivilegeEscalation, false);
    assert.equal(own.readOnlyRootFilesystem, true);
    assert.equal(own.privileged, false);
    assert.equal(own.runAsNonRoot, true);
    assert.deepEqual(own.capabilities, { drop: ['ALL'] });
    assert.equal(own.seccompProfile?.type, 'RuntimeDefault');
    for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const) assert.notEqual(podSpec[field], true, field);
    assert.deepEqual(podSpec.volumes ?? [], [], 'no volume: the operator writes no file');
  });

  test('resource requests and limits for CPU and memory', () => {
    for (const kind of ['requests', 'limits'] as const) {
      const amounts = container.resources?.[kind];
      assert.ok(amounts?.cpu !== undefined, `${kind}.cpu`);
      assert.ok(amounts.memory !== undefined, `${kind}.memory`);
    }
  });

  test('liveness on /healthz and readiness on /readyz, on the metrics port', () => {
    const port = container.ports?.find((p) => p.name === 'metrics');
    assert.equal(port?.containerPort, Number(env.METRICS_PORT?.value));
    assert.deepEqual(container.livenessProbe?.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(container.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' });
    const servicePort = metricsService.spec?.ports?.[0];
    assert.equal(servicePort?.name, 'metrics');
    assert.equal(servicePort.targetPort, 'metrics');
    assert.deepEqual(metricsService.spec?.selector, deployment.spec?.template.metadata?.labels);
  });

  test('POD_NAME and POD_NAMESPACE come from the downward API', () => {
    assert.deepEqual(env.POD_NAME?.valueFrom, { fieldRef: { fieldPath: 'metadata.name' } });
    assert.deepEqual(env.POD_NAMESPACE?.valueFrom, { fieldRef: { fieldPath: 'metadata.namespace' } });
  });

  test('kasprop run reads its environment as meant: leader election on, the Lease in its own namespace', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kasprop-deploy-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      'clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]\n' +
        'contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {}}]\n',
    );
    const downward: Record<string, string> = { 'metadata.name': 'kasprop-7d4b9-x2x9z', 'metadata.namespace': 'ops' };
    const values = Object.fromEntries(
      (container.env ?? []).map((e) => [e.name, e.value ?? downward[e.valueFrom?.fieldRef?.fieldPath ?? ''] ?? '']),
    );
    // Every variable set is one the operator reads (a misspelt name would be silently ignored).
    const readers = ['src/cli/run.ts', 'src/model/operator-settings.ts', 'src/runtime/leader-election.ts'].map(read);
    for (const name of Object.keys(values)) {
      assert.ok(
        readers.some((source) => source.includes(`env.${name}`)),
        `${name} is read nowhere`,
      );
    }
    const config = parseRunConfig({ kubeconfig }, values);
    assert.equal(config.leaderElect, true);
    assert.equal(config.leaseNamespace, 'ops');
    assert.equal(config.namespaces, undefined, 'every namespace');
    assert.equal(config.metricsPort, 8080);
    assert.equal(config.metricsHost, '0.0.0.0', 'probes and scrapes come from outside the pod');
    assert.deepEqual(container.args, ['run']);
  });

  test('the grace period outlasts a clean Lease release', () => {
    // The in-flight reconcile's last request (30 s client timeout), then the release: a GET and a PUT, each bounded by
    // the 10 s renew deadline (runtime/leader-election.ts).
    assert.ok((podSpec.terminationGracePeriodSeconds ?? 30) >= 30 + 2 * 10);
  });
});

describe('Dockerfile', () => {
  /** Instructions by stage, continuation lines joined, comments dropped. */
  function stages(text: string): { from: string; instructions: string[] }[] {
    const lines = text.replace(/\\\n/g, ' ').split('\n');
    const result: { from: string; instructions: string[] }[] = [];
    for (const line of lines.map((l) => l.trim())) {
      if (line === '' || line.startsWith('#')) continue;
      if (/^FROM /i.test(line)) result.push({ from: line, instructions: [] });
      else result.at(-1)?.instructions.push(line);
    }
    return result;
  }
  const dockerfile = read('Dockerfile');
  const all = stages(dockerfile);
  const runtime = all.at(-1)!;

  test('is multi-stage, on the project Node version pinned by tag', () => {
    assert.ok(all.length >= 2);
    const nodeVersion = read('.node-version').trim();
    assert.match(dockerfile, new RegExp(`^ARG NODE_VERSION=${nodeVersion.replaceAll('.', '\\.')}$`, 'm'));
    assert.ok(nodeVersion.startsWith('24.'), 'Node 24 LTS');
    for (const stage of all) assert.match(stage.from, /^FROM node:\$\{NODE_VERSION\}-[a-z]+-slim( AS \w+)?$/);
  });

  test('compiles in a build stage, installs production dependencies only, and runs no npm in the final image', () => {
    const npmRuns = all.slice(0, -1).map((s) => s.instructions.filter((i) => i.startsWith('RUN npm')));
    assert.deepEqual(npmRuns, [
      ['RUN npm ci --ignore-scripts --no-audit --no-fund', 'RUN npm run build'],
      ['RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund'],
    ]);
    assert.ok(!runtime.instructions.some((i) => /^RUN .*\bnpm (ci|install|i)\b/.test(i)));
    assert.ok(runtime.instructions.some((i) => i.startsWith('RUN rm -rf /usr/local/lib/node_modules')));
  });

  test('copies only what runs: package.json, package-lock.json, the build (dist/) and the production node_modules', () => {
    const copies = runtime.instructions.filter((i) => i.startsWith('COPY'));
    assert.deepEqual(copies, [
      'COPY --from=dependencies /app/node_modules ./node_modules',
      'COPY package.json package-lock.json ./',
      'COPY --from=build /app/dist ./dist',
    ]);
  });

  test('runs node dist/src/cli/main.js run as a non-root numeric user, in production mode', () => {
    const user = runtime.instructions.filter((i) => i.startsWith('USER '));
    assert.equal(user.length, 1);
    const [uid, gid] = user[0]!.slice(5).split(':').map(Number);
    assert.ok(uid! > 0 && gid! > 0, 'numeric and not root');
    assert.equal(podSpec.securityContext?.runAsUser, uid, 'the Deployment runs as the image user');
    assert.equal(podSpec.securityContext?.runAsGroup, gid);
    assert.ok(runtime.instructions.includes('ENV NODE_ENV=production'));
    assert.ok(
      runtime.instructions.includes(
        'ENTRYPOINT ["node", "--max-semi-space-size=2", "--optimize-for-size", "dist/src/cli/main.js"]',
      ),
    );
    assert.ok(runtime.instructions.includes('ENV MALLOC_ARENA_MAX=2'));
    assert.ok(runtime.instructions.includes('CMD ["run"]'));
    assert.ok(runtime.instructions.includes(`EXPOSE ${container.ports?.[0]?.containerPort}`));
  });

  test('.dockerignore sends only what the Dockerfile copies', () => {
    const patterns = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    assert.equal(patterns[0], '*', 'an allow-list');
    assert.deepEqual(
      patterns.filter((p) => p.startsWith('!')),
      ['!package.json', '!package-lock.json', '!tsconfig.json', '!tsconfig.build.json', '!src/', '!crds/'],
    );
  });
});

test('every manifest in deploy/ is one YAML document with apiVersion, kind and name', () => {
  for (const file of readdirSync(deployDir).filter((f) => f.endsWith('.yaml'))) {
    const docs = parseAllDocuments(readFileSync(join(deployDir, file), 'utf8'));
    assert.equal(docs.length, 1, file);
    assert.deepEqual(docs[0]!.errors, [], file);
    if (file === 'kustomization.yaml') continue;
    const object = docs[0]!.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } };
    assert.ok(object.apiVersion && object.kind && object.metadata?.name, file);
  }
});
