// The URLs pip is pointed at: package indexes and direct requirement URLs. They reach pip as data, but pip
// itself gives some characters meaning (`${VAR}` is expanded in requirements files, ` #` starts a comment, `;` starts a
// marker, a VCS revision starting with `-` becomes an option of `git checkout`), and a URL is a place users are tempted
// to put passwords, so the accepted set is deliberately narrow. The URL is taken apart literally, not through the
// WHATWG parser, which repairs inputs (`http:host/x`, `http:/x`) that Python and pip read differently. The installer
// (installer.py, `check_url`) applies the same rules again; test/corpus/untrusted-inputs.json is the shared corpus.
import { checkNoDollar } from './pip-expansion.ts';

/**
 * Only git: pip hands a revision to `hg update` / `svn` / `bzr` in ways that older pip versions (those of Debian 12
 * and Ubuntu 22.04 among them, CVE-2023-5752) let turn into options, and none of them is tested here.
 */
const vcsSchemes = new Set(['git']);
const vcsTransports = new Set(['https', 'http', 'ssh', 'git']);

// RFC 3986 characters minus `$` (pip expands ${VAR}); no spaces, quotes, backslashes, braces or backticks.
const urlCharacters = /^[A-Za-z0-9\-._~:/?#[\]@!&'()*+,;=%]+$/;
// scheme "://" authority path [?query] [#fragment], read literally.
const urlShape = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/;
const hostShape = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)$/;
const userShape = /^[A-Za-z0-9._~](?:[A-Za-z0-9._~-]*)$/;
// pip reads `subdirectory=` anywhere in the URL with this pattern and joins the value to the checkout unchecked.
const subdirectoryPattern = /[#&]subdirectory=([^&]*)/g;

export type UrlKind = 'index' | 'requirement';

/** Why a URL is not acceptable, or undefined when it is. The reason reads after "URL ...". */
export function checkUrl(text: string, kind: UrlKind): string | undefined {
  if (text === '') return kind === 'index' ? 'is empty (leave the field out for PyPI)' : 'is empty';
  const dollar = checkNoDollar(text);
  if (dollar !== undefined) return dollar;
  if (!urlCharacters.test(text))
    return 'contains characters that are not allowed in a URL (spaces, quotes, braces, backslashes)';
  const parts = urlShape.exec(text);
  if (parts === null) return `'${shortened(text)}' is not an absolute URL of the form scheme://host/path`;
  const [, rawScheme = '', authority = '', path = '', query, fragment] = parts;
  const scheme = rawScheme.toLowerCase();
  const [vcs, transport = ''] = scheme.includes('+') ? scheme.split('+', 2) : [undefined, scheme];
  if (vcs === undefined || kind === 'index') {
    if (scheme !== 'http' && scheme !== 'https') {
      return kind === 'index'
        ? `must use http or https, not '${scheme}'`
        : `must use http, https or git+ (git+https, git+http, git+ssh, git+git), not '${scheme}'`;
    }
  } else if (!vcsSchemes.has(vcs) || !vcsTransports.has(transport)) {
    return vcsSchemes.has(vcs)
      ? `scheme '${scheme}' is not supported; use git+https, git+http, git+ssh or git+git`
      : `scheme '${scheme}' is not supported: of the VCS schemes only git+ is accepted (see the user guide)`;
  }
  const authorityProblem = checkAuthority(authority, transport === 'ssh' && vcs !== undefined);
  if (authorityProblem !== undefined) return authorityProblem;
  if (query !== undefined) {
    return kind === 'index'
      ? "must not have a query ('?'): pip appends the project to the URL, and a token there would be logged; use credentials.secretRef"
      : "must not have a query ('?'): it would be logged and stored in status; use an index with credentials.secretRef for private files";
  }
  if (kind === 'index') {
    if (fragment !== undefined) return "must not have a fragment ('#'): pip appends the project after it";
    return undefined;
  }
  if (text.includes(';')) {
    return "must not contain ';': pip reads it as the start of a marker (write ' ; <marker>' after the URL, or %3B)";
  }
  if (vcs !== undefined) {
    const at = path.lastIndexOf('@');
    if (at >= 0) {
      const revision = path.slice(at + 1);
      if (revision === '') return "has an empty revision after '@'";
      if (revision.startsWith('-'))
        return `revision '${shortened(revision)}' must not start with '-' (git reads it as an option)`;
    }
  }
  for (const match of text.matchAll(subdirectoryPattern)) {
    const problem = checkSubdirectory(match[1] ?? '');
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function checkAuthority(authority: string, userAllowed: boolean): string | undefined {
  if (authority === '') return 'must name a host (scheme://host/...)';
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : undefined;
  const hostPort = authority.slice(at + 1);
  if (userinfo !== undefined) {
    if (!userAllowed || userinfo.includes(':')) {
      return 'must not embed credentials; put them in a Secret and reference it with pythonPackages.credentials.secretRef';
    }
    if (!userShape.test(userinfo)) {
      return `user '${shortened(userinfo)}' must be letters, digits and . _ ~ - and must not start with '-'`;
    }
  }
  const portMatch = /^(.*?)(?::([0-9]*))?$/.exec(hostPort);
  const host = portMatch?.[1] ?? '';
  const port = portMatch?.[2];
  if (host === '') return 'must name a host (scheme://host/...)';
  if (host.startsWith('-')) return `host '${shortened(host)}' must not start with '-'`;
  if (!hostShape.test(host)) return `host '${shortened(host)}' is not a host name or IP address`;
  if (port !== undefined && !/^[0-9]{1,5}$/.test(port)) return `port '${port}' is not a number`;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return `port ${port} is out of range (1-65535)`;
  return undefined;
}

function checkSubdirectory(value: string): string | undefined {
  const why =
    value === ''
      ? 'is empty'
      : value.startsWith('/')
        ? 'is absolute'
        : value.split('/').includes('..')
          ? "has a '..' segment"
          : value.includes('%')
            ? "contains '%'"
            : undefined;
  return why === undefined
    ? undefined
    : `subdirectory '${shortened(value)}' ${why}: it must be a path inside the source`;
}

const shortened = (text: string): string => (text.length <= 60 ? text : `${text.slice(0, 57)}...`);

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
