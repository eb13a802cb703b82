// charts/kasprop with the real helm (built from its Go module by tools/helm): it lints, its default render is deploy/
// object by object, its values reach the objects they name, and the real control plane accepts what it installs.
// test/integration/node/helm-install.node.ts installs it on the real node and runs an app with it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { RoleBinding } from 'kubernetes-types/rbac/v1.js';
import { parse, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/runtime/kube/client.ts';
import { helm } from '../support/helm.ts';
import { kubectl } from '../support/kubectl.ts';
import { connectCluster, createTestNamespace, installKasprAppCrd } from '../support/integration.ts';

const repo = resolve(import.meta.dirname, '../..');
const chart = join(repo, 'charts/kasprop');
const deployDir = join(repo, 'deploy');

const keyOf = (o: KubeObject): string => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

function parseObjects(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

async function render(args: readonly string[] = []): Promise<Map<string, KubeObject>> {
  const text = await helm(['template', 'kasprop', chart, '--namespace', 'kasprop-system', ...args]);
  const objects = parseObjects(text);
  const byKey = new Map(objects.map((o) => [keyOf(o), o]));
  assert.equal(byKey.size, objects.length, 'no two rendered objects share kind, namespace and name');
  return byKey;
}

/** deploy/ as kustomize builds it: the files its kustomization lists (already in kasprop-system, image unchanged). */
function deployObjects(): Map<string, KubeObject> {
  const kustomization = parse(readFileSync(join(deployDir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  return new Map(
    kustomization.resources
      .flatMap((file) => parseObjects(readFileSync(join(deployDir, file), 'utf8')))
      .map((o) => [keyOf(o), o]),
  );
}

describe('the chart, rendered', () => {
  test('helm lint --strict passes, with the defaults and with every option on', async () => {
    await helm(['lint', '--strict', chart]);
    await helm([
      'lint',
      '--strict',
      chart,
      '--set',
      'serviceMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true,namespace.create=true',
      '--set',
      'watchNamespaces={a,b}',
    ]);
  });

  test('its defaults render deploy/, object by object (the Namespace only with namespace.create)', async () => {
    const rendered = await render(['--include-crds']);
    const deploy = deployObjects();
    const namespaceKey = 'Namespace//kasprop-system';
    assert.deepEqual(
      [...rendered.keys()].sort(),
      [...deploy.keys()].filter((key) => key !== namespaceKey).sort(),
      'the same objects',
    );
    for (const [key, object] of rendered) assert.deepEqual(object, deploy.get(key), `${key} differs from deploy/`);

    const withNamespace = await render(['--set', 'namespace.create=true']);
    assert.deepEqual(withNamespace.get(namespaceKey), deploy.get(namespaceKey));
  });

  test('its values reach the objects they name', async () => {
    const values = join(repo, 'charts/kasprop/values.yaml');
    assert.ok(readFileSync(values, 'utf8').includes('watchNamespaces'));
    const rendered = await render([
      '--set',
      'image.repository=registry.example/kasprop,image.tag=9.9.9,replicas=3,logLevel=debug,pythonPackagesEnabled=false',
      '--set',
      'watchNamespaces={team-a,team-b},nodeSelector.disk=ssd,resources.limits.memory=1Gi',
      '--set',
      'tolerations[0].key=dedicated,tolerations[0].operator=Exists',
      '--set',
      'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=zone',
      '--set',
      'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists',
      '--set',
      'podSecurityContext.runAsUser=2000,serviceMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true',
    ]);
    const deployment = rendered.get('Deployment/kasprop-system/kasprop') as Deployment & KubeObject;
    const pod = deployment.spec?.template.spec;
    assert.ok(pod);
    const container = pod.containers[0];
    assert.ok(container);
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(container.image, 'registry.example/kasprop:9.9.9');
    assert.equal(deployment.spec?.replicas, 3);
    assert.equal(env.LOG_LEVEL, 'debug');
    assert.equal(env.PYTHON_PACKAGES_ENABLED, 'false');
    assert.equal(env.WATCH_NAMESPACES, 'team-a,team-b');
    assert.deepEqual(pod.nodeSelector, { disk: 'ssd' });
    assert.deepEqual(pod.tolerations, [{ key: 'dedicated', operator: 'Exists' }]);
    assert.deepEqual(pod.affinity, {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }],
        },
      },
    });
    assert.equal(container.resources?.limits?.memory, '1Gi');
    assert.equal(pod.securityContext?.runAsUser, 2000);

    // Watched namespaces: the ClusterRole is granted in each of them, and nowhere else.
    assert.equal(rendered.get('ClusterRoleBinding//kasprop'), undefined);
    for (const ns of ['team-a', 'team-b']) {
      const binding = rendered.get(`RoleBinding/${ns}/kasprop`) as RoleBinding & KubeObject;
      assert.deepEqual(binding.roleRef, {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'kasprop',
      });
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'kasprop', namespace: 'kasprop-system' }]);
    }

    // The monitoring objects are deploy/monitoring/'s.
    const monitoring = join(deployDir, 'monitoring');
    const rule = parse(readFileSync(join(monitoring, 'prometheus-rule.yaml'), 'utf8')) as KubeObject;
    assert.deepEqual(rendered.get('PrometheusRule/kasprop-system/kasprop'), rule);
    const monitor = parse(readFileSync(join(monitoring, 'service-monitor.yaml'), 'utf8')) as KubeObject;
    assert.deepEqual(rendered.get('ServiceMonitor/kasprop-system/kasprop'), monitor);
    const dashboard = rendered.get('ConfigMap/kasprop-system/kasprop-dashboard') as KubeObject & {
      data: Record<string, string>;
    };
    assert.equal(dashboard.metadata?.labels?.grafana_dashboard, '1');
    assert.deepEqual(
      JSON.parse(dashboard.data['kasprop-dashboard.json'] ?? ''),
      JSON.parse(readFileSync(join(monitoring, 'kasprop-dashboard.json'), 'utf8')),
    );
  });
});

describe('the chart, installed', () => {
  test('helm install puts every object on the real control plane, and helm uninstall removes them', async (t) => {
    const cluster = await connectCluster();
    await installKasprAppCrd(cluster.client);
    const ns = await createTestNamespace(t, cluster);
    const apps = await createTestNamespace(t, cluster);
    // Its own names: the ClusterRole and its binding are cluster-wide, and other files install deploy/'s. No
    // replicas: this checks what the apiserver accepts; helm-install.node.ts runs the operator from the chart.
    const name = `kasprop-${ns.name.slice(-8)}`;
    const kube = ['--kubeconfig', cluster.kubeconfigPath, '--namespace', ns.name];
    t.after(() => helm(['uninstall', name, ...kube, '--wait']).catch(() => undefined));
    await helm([
      'install',
      name,
      chart,
      ...kube,
      '--set',
      `nameOverride=${name},replicas=0,watchNamespaces={${apps.name}}`,
    ]);
    const manifest = parseObjects(await helm(['get', 'manifest', name, ...kube]));
    assert.deepEqual(manifest.map((o) => o.kind).sort(), [
      'ClusterRole',
      'Deployment',
      'PodDisruptionBudget',
      'Role',
      'RoleBinding',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ]);
    // kubectl resolves each object's resource, as a person checking the install would.
    const manifestFile = join(cluster.dir, `${name}.yaml`);
    writeFileSync(manifestFile, await helm(['get', 'manifest', name, ...kube]));
    const found = (await kubectl(cluster.kubeconfigPath, ['get', '-f', manifestFile, '-o', 'name'])).trim().split('\n');
    assert.equal(found.length, manifest.length, `every object exists: ${found.join(', ')}`);
    await helm(['uninstall', name, ...kube, '--wait']);
    const gone = await cluster.client.request<{ items: unknown[] }>({
      verb: 'GET',
      path: `/apis/rbac.authorization.k8s.io/v1/clusterroles?fieldSelector=metadata.name=${name}`,
    });
    assert.equal(gone.items.length, 0, 'the ClusterRole is gone with the release');
  });
});
