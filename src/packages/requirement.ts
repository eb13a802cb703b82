// PEP 508 requirements, parsed strictly. What passes here is written, one per line, into the requirements file
// that pip reads, so the parser is also the security boundary: a string it cannot explain is refused with the
// reason, never passed on. Accepted forms:
//   name[extras] <specifiers> ; <marker>
//   name[extras] @ <http(s) or VCS URL> ; <marker>
//   <git+ URL>#egg=name[&subdirectory=dir]         (pip's VCS form; the egg fragment names the project)
// The canonical form (normalized name and extras, sorted specifiers with PEP 440 normalized versions, normalized
// marker) is what pip receives and what the spec hash covers, so spelling differences do not cause reinstalls.
import { checkNoDollar } from './pip-expansion.ts';
import { normalizeSpecifierVersion } from './pep440.ts';
import { checkUrl } from './url.ts';

export interface Specifier {
  readonly operator: string;
  readonly version: string;
}

export interface Requirement {
  /** The project name normalized per PEP 503: lower case, runs of `-_.` as one `-`. */
  readonly project: string;
  readonly extras: readonly string[];
  readonly specifiers: readonly Specifier[];
  readonly url?: string;
  readonly marker?: string;
  /** The line pip is given; equal for requirements that differ only in spelling. */
  readonly canonical: string;
}

export type RequirementResult = { ok: true; requirement: Requirement } | { ok: false; reason: string };

/** PEP 503 normalization, the identity of a project for pip and for duplicate detection. */
export const normalizeProjectName = (name: string): string => name.toLowerCase().replace(/[-_.]+/g, '-');

const namePattern = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?/;

// PEP 440 public version with its permitted alternative spellings (case-insensitive), and a local label.
const releasePart = String.raw`v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*`;
const prePostDev = String.raw`(?:[-_.]?(?:alpha|a|beta|b|preview|pre|c|rc)[-_.]?[0-9]*)?(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?(?:[-_.]?dev[-_.]?[0-9]*)?`;
const localPart = String.raw`(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?`;
const versionPatterns = {
  exact: new RegExp(`^${releasePart}${prePostDev}${localPart}$`, 'i'),
  wildcard: new RegExp(`^${releasePart}\\.\\*$`, 'i'),
  ordered: new RegExp(`^${releasePart}${prePostDev}$`, 'i'),
  arbitrary: /^[A-Za-z0-9._+!-]+$/,
};

const operators = ['===', '==', '!=', '<=', '>=', '~=', '<', '>'] as const;

const markerVariables = new Set([
  'python_version',
  'python_full_version',
  'os_name',
  'sys_platform',
  'platform_release',
  'platform_system',
  'platform_version',
  'platform_machine',
  'platform_python_implementation',
  'implementation_name',
  'implementation_version',
  'extra',
]);

// Marker strings compare against platform values such as "3.11", "linux" or "x86_64". Anything beyond this set
// has no use there and could change how pip reads the requirements file (` #` starts a comment, `${X}` expands).
const markerStringPattern = /^[A-Za-z0-9 ._*+!~:-]*$/;

class ParseError extends Error {}

export function parseRequirement(input: string): RequirementResult {
  try {
    return { ok: true, requirement: new RequirementParser(input).parse() };
  } catch (error) {
    if (error instanceof ParseError) return { ok: false, reason: error.message };
    throw error;
  }
}

class RequirementParser {
  readonly #text: string;
  #pos = 0;
  #markerDepth = 0;

  constructor(input: string) {
    if (/[\r\n]/.test(input))
      throw new ParseError('must be a single line (found a line break); use one entry per requirement');
    // eslint-disable-next-line no-control-regex -- the point is to find control characters
    if (/[\x00-\x08\x0b-\x1f\x7f]/.test(input)) throw new ParseError('contains a control character');
    // Checked before any grammar rule, so `requests==${VERSION}` is refused for its `$`, not as a bad version.
    const dollar = checkNoDollar(input);
    if (dollar !== undefined) throw new ParseError(dollar);
    this.#text = input.trim();
  }

  parse(): Requirement {
    const text = this.#text;
    if (text.length === 0) throw new ParseError('is empty');
    if (text.startsWith('-')) {
      throw new ParseError(
        'pip options (such as -r, -e or --index-url) are not allowed; use the pythonPackages fields instead',
      );
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return this.#parseBareUrl();

    const nameMatch = namePattern.exec(text);
    if (!nameMatch) throw this.#unexpected("a project name (letters, digits, '.', '_' and '-')");
    const project = normalizeProjectName(nameMatch[0]);
    this.#pos = nameMatch[0].length;
    this.#skipSpace();
    const extras = this.#peek() === '[' ? this.#parseExtras() : [];
    this.#skipSpace();

    if (this.#peek() === '@') {
      this.#pos++;
      this.#skipSpace();
      const url = this.#parseUrl();
      let marker: string | undefined;
      if (!this.#atEnd()) {
        // PEP 508: after a URL, whitespace must come before ';' (a ';' could belong to the URL).
        if (!/\s/.test(this.#peek())) throw this.#unexpected("whitespace and '; <marker>' after the URL");
        this.#skipSpace();
        if (this.#peek() !== ';') throw this.#unexpected("'; <marker>' after the URL");
        this.#pos++;
        marker = this.#parseMarkerToEnd();
      }
      return build({ project, extras, specifiers: [], url, marker });
    }

    let specifiers: Specifier[] = [];
    if (this.#peek() === '(') {
      this.#pos++;
      specifiers = this.#parseSpecifiers();
      this.#skipSpace();
      if (this.#peek() !== ')') throw this.#unexpected("')'");
      this.#pos++;
    } else if (this.#startsSpecifier()) {
      specifiers = this.#parseSpecifiers();
    }
    this.#skipSpace();
    let marker: string | undefined;
    if (this.#peek() === ';') {
      this.#pos++;
      marker = this.#parseMarkerToEnd();
    }
    if (!this.#atEnd()) {
      throw this.#unexpected(
        specifiers.length > 0 || extras.length > 0
          ? "',', another specifier or '; <marker>'"
          : "extras '[...]', a version specifier, '@ <url>' or '; <marker>'",
      );
    }
    return build({ project, extras, specifiers, url: undefined, marker });
  }

  #parseBareUrl(): Requirement {
    const url = this.#parseUrl();
    if (!this.#atEnd()) throw this.#unexpected('the end of the requirement after the URL');
    if (!/^git\+/i.test(url)) {
      throw new ParseError(`a direct URL needs a project name: write 'name @ ${url}'`);
    }
    const egg = /[#&]egg=([^&]*)/.exec(new URL(url).hash)?.[1];
    if (egg === undefined || egg === '') {
      throw new ParseError("a VCS URL needs '#egg=<project>' to name the project, or write 'name @ <url>'");
    }
    if (!namePattern.test(egg) || namePattern.exec(egg)?.[0] !== egg) {
      throw new ParseError(`'#egg=${egg}' is not a valid project name`);
    }
    return build({ project: normalizeProjectName(egg), extras: [], specifiers: [], url, marker: undefined });
  }

  #parseUrl(): string {
    const start = this.#pos;
    while (!this.#atEnd() && !/\s/.test(this.#peek())) this.#pos++;
    const url = this.#text.slice(start, this.#pos);
    if (url.length === 0) throw this.#unexpected('a URL');
    if (url.endsWith(';')) throw new ParseError("put a space between the URL and '; <marker>' (PEP 508)");
    const problem = checkUrl(url, 'requirement');
    if (problem !== undefined) throw new ParseError(`URL ${problem}`);
    return url;
  }

  #parseExtras(): string[] {
    this.#pos++; // '['
    const extras: string[] = [];
    for (;;) {
      this.#skipSpace();
      if (this.#peek() === ']' && extras.length === 0) break;
      const match = namePattern.exec(this.#text.slice(this.#pos));
      if (!match) throw this.#unexpected('an extra name');
      extras.push(normalizeProjectName(match[0]));
      this.#pos += match[0].length;
      this.#skipSpace();
      if (this.#peek() === ',') {
        this.#pos++;
        continue;
      }
      break;
    }
    if (this.#peek() !== ']') throw this.#unexpected("',' or ']' in the extras");
    this.#pos++;
    return extras;
  }

  #startsSpecifier(): boolean {
    return /^[<>=!~]/.test(this.#text.slice(this.#pos));
  }

  #parseSpecifiers(): Specifier[] {
    const specifiers: Specifier[] = [];
    for (;;) {
      this.#skipSpace();
      const rest = this.#text.slice(this.#pos);
      const operator = operators.find((op) => rest.startsWith(op));
      if (operator === undefined) throw this.#unexpected(`a version operator (${operators.join(' ')})`);
      this.#pos += operator.length;
      this.#skipSpace();
      const start = this.#pos;
      while (!this.#atEnd() && !/[\s,;)]/.test(this.#peek())) this.#pos++;
      const version = this.#text.slice(start, this.#pos);
      if (version.length === 0) throw this.#unexpected(`a version after '${operator}'`);
      checkVersion(operator, version);
      specifiers.push({ operator, version: normalizeSpecifierVersion(operator, version) });
      this.#skipSpace();
      if (this.#peek() !== ',') return specifiers;
      this.#pos++;
    }
  }

  #parseMarkerToEnd(): string {
    const marker = this.#parseMarkerOr();
    this.#skipSpace();
    if (!this.#atEnd()) throw this.#unexpected("'and', 'or' or the end of the marker");
    return marker;
  }

  #parseMarkerOr(): string {
    let left = this.#parseMarkerAnd();
    while (this.#keyword('or')) left = `${left} or ${this.#parseMarkerAnd()}`;
    return left;
  }

  #parseMarkerAnd(): string {
    let left = this.#parseMarkerExpr();
    while (this.#keyword('and')) left = `${left} and ${this.#parseMarkerExpr()}`;
    return left;
  }

  #parseMarkerExpr(): string {
    this.#skipSpace();
    if (this.#peek() === '(') {
      // pip's marker parser recurses per parenthesis and dies (RecursionError) from about 100 levels.
      if (++this.#markerDepth > maxMarkerNesting) {
        throw new ParseError(`the marker nests parentheses more than ${String(maxMarkerNesting)} deep`);
      }
      this.#pos++;
      const inner = this.#parseMarkerOr();
      this.#skipSpace();
      if (this.#peek() !== ')') throw this.#unexpected("')' in the marker");
      this.#pos++;
      this.#markerDepth--;
      return `(${inner})`;
    }
    const left = this.#parseMarkerValue();
    const operator = this.#parseMarkerOperator();
    const right = this.#parseMarkerValue();
    checkMarkerComparison(left, operator, right);
    return `${left} ${operator} ${right}`;
  }

  #parseMarkerValue(): string {
    this.#skipSpace();
    const quote = this.#peek();
    if (quote === '"' || quote === "'") {
      const end = this.#text.indexOf(quote, this.#pos + 1);
      if (end < 0) throw new ParseError(`unterminated string in the marker at position ${this.#pos + 1}`);
      const value = this.#text.slice(this.#pos + 1, end);
      // `\s-` reads as an option to pip in a requirements file (and the installer refuses it as one).
      if (!markerStringPattern.test(value) || /\s-/.test(value)) {
        throw new ParseError(
          `marker string ${quote}${value}${quote} may contain only letters, digits, spaces and . _ - * + ! ~ : ` +
            '(and no - after a space)',
        );
      }
      this.#pos = end + 1;
      return `"${value}"`;
    }
    const match = /^[a-z_]+/.exec(this.#text.slice(this.#pos));
    if (match && markerVariables.has(match[0])) {
      this.#pos += match[0].length;
      return match[0];
    }
    throw this.#unexpected(`a marker variable (such as python_version or sys_platform) or a quoted string`);
  }

  #parseMarkerOperator(): string {
    this.#skipSpace();
    const rest = this.#text.slice(this.#pos);
    const operator = operators.find((op) => rest.startsWith(op));
    if (operator !== undefined) {
      this.#pos += operator.length;
      return operator;
    }
    if (this.#keyword('in')) return 'in';
    if (this.#keyword('not')) {
      if (this.#keyword('in')) return 'not in';
      throw this.#unexpected("'in' after 'not'");
    }
    throw this.#unexpected("a marker operator (==, !=, <, <=, >, >=, ~=, ===, 'in' or 'not in')");
  }

  /** Consumes a keyword that stands alone (followed by a space, quote, '(' or the end). */
  #keyword(word: string): boolean {
    const save = this.#pos;
    this.#skipSpace();
    const rest = this.#text.slice(this.#pos);
    if (rest.startsWith(word) && !/^[A-Za-z0-9_]/.test(rest.slice(word.length))) {
      this.#pos += word.length;
      return true;
    }
    this.#pos = save;
    return false;
  }

  #skipSpace(): void {
    while (this.#peek() === ' ' || this.#peek() === '\t') this.#pos++;
  }

  #peek(): string {
    return this.#text.charAt(this.#pos);
  }

  #atEnd(): boolean {
    return this.#pos >= this.#text.length;
  }

  #unexpected(expected: string): ParseError {
    const found = this.#atEnd() ? 'the end' : `'${this.#text.slice(this.#pos, this.#pos + 12)}'`;
    return new ParseError(`expected ${expected} at position ${this.#pos + 1}, found ${found}`);
  }
}

function checkVersion(operator: string, version: string): void {
  const fail = (why: string): never => {
    throw new ParseError(`'${operator}${version}': ${why}`);
  };
  if (operator === '===') {
    if (!versionPatterns.arbitrary.test(version))
      fail('an arbitrary-equality version may contain only letters, digits and . _ + ! -');
    return;
  }
  if (version.endsWith('.*')) {
    if (operator !== '==' && operator !== '!=') fail("a '.*' wildcard is allowed only with == and !=");
    if (!versionPatterns.wildcard.test(version)) fail('not a valid PEP 440 version prefix');
    return;
  }
  if (operator === '==' || operator === '!=') {
    if (!versionPatterns.exact.test(version)) fail('not a valid PEP 440 version');
    return;
  }
  if (!versionPatterns.ordered.test(version)) {
    fail(
      version.includes('+') ? `a local version label is not allowed with ${operator}` : 'not a valid PEP 440 version',
    );
  }
  if (operator === '~=' && !/^v?(?:[0-9]+!)?[0-9]+\.[0-9]+/i.test(version)) {
    fail("'~=' needs at least two release segments, e.g. ~=1.4");
  }
}

const maxMarkerNesting = 10;
// Marker variables whose values are PEP 440 versions: the only ones `~=` can compare.
const versionMarkerVariables = new Set(['python_version', 'python_full_version', 'implementation_version']);

/**
 * pip evaluates `~=` and `===` only as version specifiers: `~=` against anything but a version raises
 * UndefinedComparison during the install (and `===` with a string that is no specifier), so they are checked here.
 */
function checkMarkerComparison(left: string, operator: string, right: string): void {
  if (operator !== '~=' && operator !== '===') return;
  const quoted = (value: string): string | undefined => (value.startsWith('"') ? value.slice(1, -1) : undefined);
  const [variable, text] = quoted(left) === undefined ? [left, quoted(right)] : [right, quoted(left)];
  if (operator === '~=') {
    if (!versionMarkerVariables.has(variable) || text === undefined) {
      throw new ParseError(
        `'~=' in a marker compares a version variable (${[...versionMarkerVariables].join(', ')}) with a quoted version`,
      );
    }
    checkVersion(operator, text);
  } else if (text === undefined || !versionPatterns.arbitrary.test(text)) {
    throw new ParseError("'===' in a marker needs a quoted value of letters, digits and . _ + ! -");
  }
}

function build(parts: {
  project: string;
  extras: string[];
  specifiers: Specifier[];
  url: string | undefined;
  marker: string | undefined;
}): Requirement {
  const extras = [...new Set(parts.extras)].sort();
  const specifiers = [...parts.specifiers].sort((a, b) =>
    `${a.operator}${a.version}`.localeCompare(`${b.operator}${b.version}`),
  );
  const extrasText = extras.length > 0 ? `[${extras.join(',')}]` : '';
  const canonical =
    parts.url !== undefined
      ? `${parts.project}${extrasText} @ ${parts.url}${parts.marker !== undefined ? ` ; ${parts.marker}` : ''}`
      : `${parts.project}${extrasText}${specifiers.map((s) => `${s.operator}${s.version}`).join(',')}${
          parts.marker !== undefined ? `; ${parts.marker}` : ''
        }`;
  return {
    project: parts.project,
    extras,
    specifiers,
    ...(parts.url !== undefined && { url: parts.url }),
    ...(parts.marker !== undefined && { marker: parts.marker }),
    canonical,
  };
}
