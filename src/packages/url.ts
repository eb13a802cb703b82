// The URLs pip is pointed at: package indexes and direct requirement URLs. They reach pip as data, but pip
// itself gives some characters meaning (`${VAR}` is expanded in requirements files, ` #` starts a comment),
// and a URL is a place users are tempted to put passwords, so the accepted set is deliberately narrow.
import { checkNoDollar } from './pip-expansion.ts';

const vcsSchemes = new Set(['git', 'hg', 'svn', 'bzr']);
const vcsTransports = new Set(['https', 'http', 'ssh', 'git']);

// RFC 3986 characters minus `$` (pip expands ${VAR}); no spaces, quotes, backslashes, braces or backticks.
const urlCharacters = /^[A-Za-z0-9\-._~:/?#[\]@!&'()*+,;=%]+$/;

export type UrlKind = 'index' | 'requirement';

/** Why a URL is not acceptable, or undefined when it is. The reason reads after "URL ...". */
export function checkUrl(text: string, kind: UrlKind): string | undefined {
  const dollar = checkNoDollar(text);
  if (dollar !== undefined) return dollar;
  if (!urlCharacters.test(text))
    return 'contains characters that are not allowed in a URL (spaces, quotes, braces, backslashes)';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `'${text}' is not a valid absolute URL`;
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const [vcs, transport] = scheme.includes('+') ? scheme.split('+', 2) : [undefined, scheme];
  if (vcs === undefined || kind === 'index') {
    if (scheme !== 'http' && scheme !== 'https') {
      return kind === 'index'
        ? `must use http or https, not '${scheme}'`
        : `must use http, https or a VCS scheme such as git+https, not '${scheme}'`;
    }
  } else if (!vcsSchemes.has(vcs) || !vcsTransports.has(transport)) {
    return `scheme '${scheme}' is not supported; use git+https (or hg+, svn+, bzr+ with https, http or ssh)`;
  }
  if (url.hostname === '') return 'must name a host';
  if (url.password !== '' || (url.username !== '' && transport !== 'ssh')) {
    return 'must not embed credentials; put them in a Secret and reference it with pythonPackages.credentials.secretRef';
  }
  return undefined;
}

/** host or host:port, as pip's --trusted-host takes it. */
export function checkTrustedHost(text: string): string | undefined {
  const dollar = checkNoDollar(text);
  if (dollar !== undefined) return dollar;
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::([0-9]{1,5}))?$/.exec(text);
  if (!match) return 'must be a host name or IP address, optionally with :port (no scheme, path or credentials)';
  const port = match[2];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return `port ${port} is out of range`;
  return undefined;
}
