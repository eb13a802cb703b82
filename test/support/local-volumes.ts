// The real node's storage: an external provisioner for the cluster's default StorageClass that gives each claim a
// `local` PersistentVolume, a directory under the node's root, pinned to the node. Binding mode WaitForFirstConsumer,
// as local storage must be: the scheduler picks the node, annotates the claim, and the provisioner follows; the
// kube-controller-manager's PV controller does the binding and the kubelet the mounting, as in any cluster.
//
// Access modes are honest: a directory on the only node is shared by every pod that mounts it, so ReadWriteMany
// holds for pods of this cluster (it would not with a second node, which this cluster never has).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PersistentVolume, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import { isConflict, KubeClient, type KubeObject } from '../../src/runtime/kube/client.ts';
import { loadKubeConfigFile } from '../../src/runtime/kube/config.ts';
import { ResourceTypes } from '../../src/runtime/kube/resources.ts';
import { parseQuantity } from '../../src/kubernetes/quantity.ts';

export const localVolumeProvisioner = 'local-volumes.kasprop.test';
const selectedNodeAnnotation = 'volume.kubernetes.io/selected-node';
const storageProvisionerAnnotation = 'volume.kubernetes.io/storage-provisioner';
const provisionedByAnnotation = 'pv.kubernetes.io/provisioned-by';
/** How often claims and volumes are looked at: a list of each per round, cheap at test scale. */
const pollMs = 250;

export interface LocalVolumes {
  stop(): Promise<void>;
}

type Claim = PersistentVolumeClaim & { metadata: NonNullable<KubeObject['metadata']> };
type Volume = PersistentVolume & { metadata: NonNullable<KubeObject['metadata']> };

/**
 * Provisions, grows and deletes volumes until stopped. Polling rather than watching: it has to outlive apiserver
 * restarts without a reflector of its own, and a round costs two list calls.
 */
export function startLocalVolumes(options: {
  kubeconfigPath: string;
  rootDir: string;
  nodeName: string;
  log: (line: string) => void;
}): LocalVolumes {
  const { rootDir, nodeName, log } = options;
  const client = new KubeClient(loadKubeConfigFile(options.kubeconfigPath), { requestTimeoutMs: 10_000 });
  const stopping = new AbortController();
  // A function, not the property: TypeScript would narrow `signal.aborted` to false inside the loop.
  const stopped = (): boolean => stopping.signal.aborted;
  const directoryOf = (volumeName: string): string => join(rootDir, volumeName);
  const loop = (async () => {
    while (!stopped()) {
      try {
        const [claims, volumes] = await Promise.all([
          client.list<Claim>(ResourceTypes.PersistentVolumeClaim, {}),
          client.list<Volume>(ResourceTypes.PersistentVolume, {}),
        ]);
        const ours = volumes.items.filter(
          (v) => v.metadata.annotations?.[provisionedByAnnotation] === localVolumeProvisioner,
        );
        const byName = new Map(ours.map((v) => [v.metadata.name ?? '', v]));
        for (const claim of claims.items) {
          const volumeName = `pvc-${claim.metadata.uid ?? ''}`;
          if (wantsVolume(claim, nodeName) && !byName.has(volumeName)) {
            mkdirSync(directoryOf(volumeName), { recursive: true });
            await createIgnoringConflict(client, localVolume(claim, volumeName, directoryOf(volumeName), nodeName));
          } else if (claim.status?.phase === 'Bound') {
            await growVolume(client, claim);
          }
        }
        for (const volume of ours) {
          if (volume.status?.phase === 'Released' || volume.status?.phase === 'Failed') {
            await client.delete(ResourceTypes.PersistentVolume, { name: volume.metadata.name ?? '' });
            rmSync(directoryOf(volume.metadata.name ?? ''), { recursive: true, force: true });
          }
        }
      } catch (error) {
        if (!stopped()) log(`local volumes: ${(error as Error).message}`);
      }
      await sleep(pollMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  })();
  return {
    stop: async () => {
      stopping.abort();
      await loop;
      client.close();
    },
  };
}

function wantsVolume(claim: Claim, nodeName: string): boolean {
  const annotations = claim.metadata.annotations ?? {};
  return (
    claim.status?.phase === 'Pending' &&
    claim.metadata.deletionTimestamp === undefined &&
    annotations[storageProvisionerAnnotation] === localVolumeProvisioner &&
    annotations[selectedNodeAnnotation] === nodeName
  );
}

function localVolume(claim: Claim, name: string, path: string, nodeName: string): Volume {
  const { namespace = '', name: claimName = '', uid = '' } = claim.metadata;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, annotations: { [provisionedByAnnotation]: localVolumeProvisioner } },
    spec: {
      capacity: { storage: claim.spec?.resources?.requests?.storage ?? '1Gi' },
      accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Delete',
      ...(claim.spec?.storageClassName !== undefined && { storageClassName: claim.spec.storageClassName }),
      volumeMode: 'Filesystem',
      // Pre-bound to its claim: the PV controller completes the binding from the claim's side.
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name: claimName, uid },
      local: { path },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [nodeName] }] },
          ],
        },
      },
    },
  };
}

/**
 * The resizer's part of online expansion: a directory has no size to change, so the volume and the claim's status
 * simply take the larger request.
 */
export async function growVolume(client: KubeClient, claim: PersistentVolumeClaim): Promise<void> {
  const requested = claim.spec?.resources?.requests?.storage;
  const capacity = claim.status?.capacity?.storage;
  const volumeName = claim.spec?.volumeName;
  if (requested === undefined || capacity === undefined || volumeName === undefined) return;
  if ((parseQuantity(requested)?.nanos ?? 0n) <= (parseQuantity(capacity)?.nanos ?? 0n)) return;
  await client.patch(
    ResourceTypes.PersistentVolume,
    { name: volumeName },
    { spec: { capacity: { storage: requested } } },
  );
  await client.patch(
    ResourceTypes.PersistentVolumeClaim,
    { namespace: claim.metadata?.namespace, name: claim.metadata?.name ?? '' },
    { status: { capacity: { storage: requested } } },
    { subresource: 'status' },
  );
}

async function createIgnoringConflict(client: KubeClient, volume: Volume): Promise<void> {
  try {
    await client.create(ResourceTypes.PersistentVolume, volume);
  } catch (error) {
    // AlreadyExists: made in an earlier round whose list did not show it yet.
    if (!isConflict(error)) throw error;
  }
}

/** The host directory of a bound claim's local volume (read from the API, so any process of the run can ask). */
export async function claimDirectory(client: KubeClient, namespace: string, claimName: string): Promise<string> {
  const claim = await client.get<Claim>(ResourceTypes.PersistentVolumeClaim, { namespace, name: claimName });
  const volumeName = claim?.spec?.volumeName;
  if (volumeName === undefined) throw new Error(`claim ${namespace}/${claimName} is not bound`);
  const volume = await client.get<Volume>(ResourceTypes.PersistentVolume, { name: volumeName });
  const path = volume?.spec?.local?.path ?? volume?.spec?.hostPath?.path;
  if (path === undefined) throw new Error(`volume ${volumeName} of claim ${namespace}/${claimName} has no host path`);
  return path;
}
