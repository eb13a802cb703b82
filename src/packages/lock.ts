// The pure half of `kasprop lock`: from pip's resolution (`pip install --dry-run --report`) and the index's project
// pages to packagesWithHashes. The lock names every distribution of the resolved set with the digest of every file of
// its pinned version that the indexes list (wheels for every platform and the sdist), so that pip can pick whichever
// suits the image and still check it. Sorted by project and digest: the same index gives the same lock.
import { normalizeProjectName } from './requirement.ts';
import type { LockedPackage } from './locked-packages.ts';

/** One distribution pip chose, from its installation report (`install[]`). */
export interface ResolvedDistribution {
  readonly name: string;
  readonly version: string;
  /** The file pip would download, with its digest when the index gave one (`download_info`). */
  readonly url: string;
  readonly sha256?: string | undefined;
}

/** A file listed on a project page, with the sha256 the index gave (PEP 503 `#sha256=`, PEP 691 `hashes`). */
export interface IndexFile {
  readonly filename: string;
  readonly url: string;
  readonly sha256?: string | undefined;
}

/** Reads pip's `--report` JSON (format 1); throws with what is wrong when it is not one. */
export function parsePipReport(text: string): ResolvedDistribution[] {
  const report = JSON.parse(text) as { install?: unknown };
  if (!Array.isArray(report.install)) throw new Error('pip printed no installation report');
  return report.install.map((item: unknown) => {
    const entry = item as {
      metadata?: { name?: unknown; version?: unknown };
      download_info?: { url?: unknown; archive_info?: { hashes?: Record<string, unknown> } };
    };
    const name = entry.metadata?.name;
    const version = entry.metadata?.version;
    const url = entry.download_info?.url;
    if (typeof name !== 'string' || typeof version !== 'string' || typeof url !== 'string') {
      throw new Error('pip reported a distribution without name, version or download URL');
    }
    const sha256 = entry.download_info?.archive_info?.hashes?.sha256;
    return { name, version, url, sha256: typeof sha256 === 'string' ? sha256 : undefined };
  });
}

/** The files of a PEP 503 HTML or PEP 691 JSON project page; relative links resolved against the page's URL. */
export function parseProjectPage(body: string, contentType: string, pageUrl: string): IndexFile[] {
  if (contentType.includes('json')) {
    const page = JSON.parse(body) as { files?: { filename?: unknown; url?: unknown; hashes?: { sha256?: unknown } }[] };
    return (page.files ?? []).flatMap((file) =>
      typeof file.filename === 'string' && typeof file.url === 'string'
        ? [
            {
              filename: file.filename,
              url: new URL(file.url, pageUrl).href,
              sha256: stringOrUndefined(file.hashes?.sha256),
            },
          ]
        : [],
    );
  }
  const files: IndexFile[] = [];
  for (const match of body.matchAll(/<a\s[^>]*href\s*=\s*["']([^"']+)["'][^>]*>([^<]*)<\/a>/gi)) {
    const href = decodeEntities(match[1] ?? '');
    const url = new URL(href, pageUrl);
    const sha256 = /(?:^|&)sha256=([0-9a-fA-F]{64})/.exec(url.hash.slice(1))?.[1]?.toLowerCase();
    url.hash = '';
    const filename = decodeURIComponent(url.pathname.split('/').at(-1) ?? '');
    if (filename !== '') files.push({ filename, url: url.href, sha256 });
  }
  return files;
}

/** Whether a wheel or sdist file name is a distribution of this project and version. */
export function isFileOf(filename: string, project: string, version: string): boolean {
  const parsed = distributionOfFile(filename);
  return (
    parsed !== undefined &&
    normalizeProjectName(parsed.name) === normalizeProjectName(project) &&
    parsed.version.toLowerCase() === version.toLowerCase()
  );
}

function distributionOfFile(filename: string): { name: string; version: string } | undefined {
  if (filename.endsWith('.whl')) {
    const [name, version] = filename.split('-');
    return name !== undefined && version !== undefined ? { name, version } : undefined;
  }
  const stem = /^(.*)\.(?:tar\.gz|zip|tar\.bz2|tgz)$/.exec(filename)?.[1];
  const dash = stem?.lastIndexOf('-') ?? -1;
  return stem !== undefined && dash > 0 ? { name: stem.slice(0, dash), version: stem.slice(dash + 1) } : undefined;
}

/**
 * packagesWithHashes for the resolved set: per distribution, the sha256 of every file of its version on the pages
 * (deduplicated), and the one pip chose in any case. Sorted by project name, digests sorted.
 */
export function buildLock(
  resolved: readonly ResolvedDistribution[],
  digestsOf: (distribution: ResolvedDistribution) => readonly string[],
): LockedPackage[] {
  return resolved
    .map((distribution) => {
      const digests = new Set(digestsOf(distribution).map((d) => d.toLowerCase()));
      if (distribution.sha256 !== undefined) digests.add(distribution.sha256.toLowerCase());
      return {
        name: normalizeProjectName(distribution.name),
        version: distribution.version,
        hashes: [...digests].sort().map((digest) => ({ algorithm: 'sha256' as const, digest })),
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const stringOrUndefined = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

const decodeEntities = (text: string): string =>
  text
    .replace(/&amp;/g, '&')
    .replace(/&#x?([0-9a-fA-F]+);/g, (whole, code: string) =>
      whole.startsWith('&#x') ? String.fromCodePoint(parseInt(code, 16)) : String.fromCodePoint(parseInt(code, 10)),
    );
