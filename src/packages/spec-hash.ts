// The spec hash names a set of installed packages: the hash directory, the marker and the pod-template annotation
// all carry it, so it must change exactly when the installed result could change (DESIGN decision 4) and must
// stay the same across operator releases (golden values in tests), or every upgrade would reinstall everything.
import { createHash } from 'node:crypto';
import { UV_VERSION, type PackageInstaller } from './installer-contract.ts';
import type { Requirement } from './requirement.ts';

/**
 * Bumped only when the installer's output for the same inputs changes (volume layout, pip invocation), so that
 * a new installer never trusts a directory an older one produced.
 */
export const installerVersion = 1;

/** Where a bundle comes from, as `spec.pythonPackages.bundleSource` gives it. */
export interface BundleSourceInput {
  readonly type: string;
  readonly name?: string | undefined;
  readonly reference?: string | undefined;
  readonly path?: string | undefined;
}

/** What determines the installed result (the parts of a validated pythonPackages that reach pip, and the image). */
export interface PackagesHashInput {
  /** Parsed requirements; their canonical lines are hashed, so order and spelling do not matter. */
  readonly requirements: readonly Pick<Requirement, 'canonical'>[];
  readonly indexUrl?: string | undefined;
  readonly extraIndexUrls?: readonly string[] | undefined;
  readonly trustedHosts?: readonly string[] | undefined;
  /** Canonical lines of packagesWithHashes (see locked-packages.ts); order does not matter. */
  readonly locked?: readonly string[] | undefined;
  /**
   * The bundle's source (not its content: a changed ConfigMap of the same name does not reinstall, so a new bundle
   * should get a new name, as `kasprop bundle` suggests) and whether pip may reach the indexes besides it.
   */
  readonly bundle?: BundleSourceInput | undefined;
  readonly offline?: boolean | undefined;
  /** The app image: it fixes the Python version and ABI the wheels were chosen for. */
  readonly image: string;
  /** pip by default. uv may resolve and build differently, and may be the pinned uv the installer puts on the volume. */
  readonly installer?: PackageInstaller | undefined;
}

/** 16 hex characters (64 bits) of a SHA-256 over a canonical JSON rendering of what determines the result. */
export function packagesHash(input: PackagesHashInput): string {
  const canonical = JSON.stringify({
    installer: installerVersion,
    image: input.image,
    requirements: input.requirements.map((r) => r.canonical).sort(),
    indexUrl: input.indexUrl ?? null,
    // pip gives every extra index the same priority, so their order does not change what is installed.
    extraIndexUrls: [...(input.extraIndexUrls ?? [])].sort(),
    trustedHosts: [...(input.trustedHosts ?? [])].map((h) => h.toLowerCase()).sort(),
    // Only when there is a lock, so that the hash of every spec without one stays what it was.
    ...(input.locked !== undefined && input.locked.length > 0 && { locked: [...input.locked].sort() }),
    // Likewise only with a bundle (offline needs one): the hash of every spec without one is unchanged.
    ...(input.bundle !== undefined && {
      bundle: {
        type: input.bundle.type,
        name: input.bundle.name ?? null,
        reference: input.bundle.reference ?? null,
        path: input.bundle.path ?? null,
      },
      offline: input.offline === true,
    }),
    // Likewise only for uv or auto, so that the hash of every spec installed by pip stays what it was; with the
    // version of uv the installer would put on the volume, so that a new pinned uv installs again.
    ...(input.installer !== undefined && input.installer !== 'pip' && { with: input.installer, uv: UV_VERSION }),
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
