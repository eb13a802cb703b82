// PEP 440 versions in their normalized form, as pip's `packaging` writes them (str(Version(...))): `1.0-RC1` is
// `1.0rc1`, `v01.2` is `1.2`, `1.0-1` is `1.0.post1`, `1.0dev` is `1.0.dev0`, `1.0+Ubuntu-01` is `1.0+ubuntu.1`.
// The spec hash covers normalized versions, so spellings pip treats as one version install once. A version already in
// normalized form is left exactly as it is (trailing zeros included: `>=2.0` stays `>=2.0`), so the hash of such a
// spec does not change. test/script/pep440-differential.test.ts compares this module with pip's own `packaging`.

const versionPattern = new RegExp(
  String.raw`^v?(?:(?<epoch>[0-9]+)!)?(?<release>[0-9]+(?:\.[0-9]+)*)` +
    String.raw`(?<pre>[-_.]?(?<preL>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<preN>[0-9]+)?)?` +
    String.raw`(?<post>-(?<postN1>[0-9]+)|[-_.]?(?<postL>post|rev|r)[-_.]?(?<postN2>[0-9]+)?)?` +
    String.raw`(?<dev>[-_.]?dev[-_.]?(?<devN>[0-9]+)?)?` +
    String.raw`(?:\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$`,
  'i',
);

const preReleaseLabels: Readonly<Record<string, string>> = {
  a: 'a',
  alpha: 'a',
  b: 'b',
  beta: 'b',
  c: 'rc',
  rc: 'rc',
  pre: 'rc',
  preview: 'rc',
};

/** A decimal number without leading zeros, as Python's int() reads it. */
const integer = (digits: string | undefined): string => (digits === undefined ? '0' : BigInt(digits).toString());

/** The normalized form of a PEP 440 version, or undefined when it is not one. */
export function normalizeVersion(version: string): string | undefined {
  const groups = versionPattern.exec(version.trim())?.groups;
  if (groups === undefined) return undefined;
  const { epoch, release = '', pre, preL, preN, post, postN1, postN2, dev, devN, local } = groups;
  let text = epoch !== undefined && integer(epoch) !== '0' ? `${integer(epoch)}!` : '';
  text += release.split('.').map(integer).join('.');
  if (pre !== undefined) text += `${preReleaseLabels[(preL ?? '').toLowerCase()] ?? ''}${integer(preN)}`;
  if (post !== undefined) text += `.post${integer(postN1 ?? postN2)}`;
  if (dev !== undefined) text += `.dev${integer(devN)}`;
  if (local !== undefined) {
    text += `+${local
      .toLowerCase()
      .split(/[-_.]/)
      .map((part) => (/^[0-9]+$/.test(part) ? integer(part) : part))
      .join('.')}`;
  }
  return text;
}

/**
 * The normalized version of a specifier: `===` compares strings (case-insensitively), so it is only lower-cased;
 * a `.*` prefix is normalized as the release it names.
 */
export function normalizeSpecifierVersion(operator: string, version: string): string {
  if (operator === '===') return version.toLowerCase();
  if (version.endsWith('.*')) return `${normalizeVersion(version.slice(0, -2)) ?? version.slice(0, -2)}.*`;
  return normalizeVersion(version) ?? version.toLowerCase();
}
