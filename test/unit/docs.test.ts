// The documentation is checked like code. Every example in examples/ and every KasprApp shown in a fenced YAML block
// of the Markdown (README.md, docs/, examples/) must validate and render; every `kasprop` command line shown (also as
// `npm run -s kasprop -- ...`, `npm start -- ...` or `node src/cli/main.ts ...`) must name a command of src/cli/commands.ts
// and parse with its options exactly as main.ts parses them; every `npm run` script shown must exist; relative links
// and their anchors must resolve; the user guide must mention every field, status field, error type, metric and reason
// the code has. Shown outputs are checked by running or computing them: every kasprop command of a fenced shell block
// that needs no cluster is run as written, and the plain block right after it must be what it prints; every render's
// output must parse; every spec hash, the status, the conditions and the event messages in the user guide must be what
// the code makes of the guide's app and termination message. Failures name the file and line. Minimum counts keep the
// test from passing by finding nothing.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { Registry } from 'prom-client';
import { LineCounter, parseAllDocuments } from 'yaml';
import { kasprAppSchema, type SchemaNode } from '../../src/api/crd.ts';
import { formatFieldError, type FieldError } from '../../src/api/field-error.ts';
import type { KasprApp, KasprAppStatus } from '../../src/api/types.ts';
import { validateKasprApp } from '../../src/api/validation.ts';
import { commands } from '../../src/cli/commands.ts';
import { fieldLine } from '../../src/cli/manifests.ts';
import { validStatus } from '../../src/controller/app-status.ts';
import { packagesEvents } from '../../src/controller/events.ts';
import { observeInstall } from '../../src/controller/install-observation.ts';
import { InstallLedger } from '../../src/controller/install-ledger.ts';
import { PackageMetrics } from '../../src/controller/package-metrics.ts';
import { resolveApp, type AppModel } from '../../src/model/app-model.ts';
import { buildChildren } from '../../src/model/children.ts';
import { defaultOperatorSettings } from '../../src/model/operator-settings.ts';
import { installContainerName, packagesHashAnnotation } from '../../src/model/python-packages.ts';
import { INSTALL_ERROR_TYPES } from '../../src/packages/installer-contract.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const packageScripts = Object.keys(
  (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts,
);

// ---- finding things in Markdown ------------------------------------------------------------------------------------

interface Fence {
  readonly lang: string;
  /** 1-based line of the fence's first content line. */
  readonly firstLine: number;
  readonly lines: readonly string[];
}

interface ProseLine {
  readonly line: number;
  readonly text: string;
}

interface Markdown {
  /** Relative to the repository root. */
  readonly file: string;
  readonly fences: readonly Fence[];
  readonly prose: readonly ProseLine[];
  readonly problems: readonly string[];
}

function parseMarkdown(file: string, text: string): Markdown {
  const fences: Fence[] = [];
  const prose: ProseLine[] = [];
  const problems: string[] = [];
  let open: { marker: string; lang: string; firstLine: number; lines: string[] } | undefined;
  text.split('\n').forEach((line, index) => {
    if (open) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line)?.[1];
      if (close !== undefined && close[0] === open.marker[0] && close.length >= open.marker.length) {
        fences.push({ lang: open.lang, firstLine: open.firstLine, lines: open.lines });
        open = undefined;
      } else {
        open.lines.push(line);
      }
      return;
    }
    const start = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(line);
    if (start) {
      open = { marker: start[1] ?? '```', lang: (start[2] ?? '').toLowerCase(), firstLine: index + 2, lines: [] };
      return;
    }
    prose.push({ line: index + 1, text: line });
  });
  if (open) problems.push(`${file}:${open.firstLine - 1}: the code fence is never closed`);
  return { file, fences, prose, problems };
}

/** The contents of the inline code spans of one line (CommonMark: a run of n backticks closes a run of n). */
function inlineCode(text: string): string[] {
  const spans: string[] = [];
  const runAt = (at: number): number => {
    let n = 0;
    while (text[at + n] === '`') n++;
    return n;
  };
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '`') {
      i++;
      continue;
    }
    const n = runAt(i);
    let j = i + n;
    let close = -1;
    while (j < text.length) {
      if (text[j] !== '`') {
        j++;
        continue;
      }
      const m = runAt(j);
      if (m === n) {
        close = j;
        break;
      }
      j += m;
    }
    if (close < 0) {
      i += n;
      continue;
    }
    let content = text.slice(i + n, close);
    if (content.length > 2 && content.startsWith(' ') && content.endsWith(' ')) content = content.slice(1, -1);
    spans.push(content);
    i = close + n;
  }
  return spans;
}

// ---- shell command lines -------------------------------------------------------------------------------------------

type Token = { readonly word: string } | { readonly op: string };

/** Placeholders such as `<file>` or `<name>-app-0` are words, not redirects. */
const placeholder = /^<[A-Za-z0-9_.:/-]+>/;

/** Shell words and operators, enough for documentation: quotes, escapes, `$(...)`, comments, pipes, redirects. */
function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let word: string | undefined;
  const finish = (): void => {
    if (word !== undefined) tokens.push({ word });
    word = undefined;
  };
  let i = 0;
  while (i < line.length) {
    const c = line.charAt(i);
    const rest = line.slice(i);
    if (/\s/.test(c)) {
      finish();
      i++;
    } else if (c === '#' && word === undefined) {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      const stop = end < 0 ? line.length : end;
      word = (word ?? '') + line.slice(i + 1, stop);
      i = stop + 1;
    } else if (c === '"') {
      let j = i + 1;
      let text = '';
      while (j < line.length && line[j] !== '"') {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        text += line.charAt(j);
        j++;
      }
      word = (word ?? '') + text;
      i = j + 1;
    } else if (c === '\\') {
      word = (word ?? '') + line.charAt(i + 1);
      i += 2;
    } else if (rest.startsWith('$(')) {
      let depth = 0;
      let j = i + 1;
      for (; j < line.length; j++) {
        if (line[j] === '(') depth++;
        else if (line[j] === ')' && --depth === 0) break;
      }
      word = (word ?? '') + line.slice(i, j + 1);
      i = j + 1;
    } else if (placeholder.test(rest)) {
      const match = placeholder.exec(rest)?.[0] ?? '';
      word = (word ?? '') + match;
      i += match.length;
    } else {
      const op = /^(?:&&|\|\||[0-9]*>>?(?:&[0-9]+)?|[0-9]*<|[|;&()])/.exec(rest)?.[0];
      if (op !== undefined && (word === undefined || !/^[0-9]/.test(op))) {
        finish();
        tokens.push({ op });
        i += op.length;
      } else {
        word = (word ?? '') + c;
        i++;
      }
    }
  }
  finish();
  return tokens;
}

/** The simple commands of a line: words up to the next operator. After a redirect, the words are not a command. */
function simpleCommands(line: string): string[][] {
  const result: string[][] = [];
  let current: string[] = [];
  let isCommand = true;
  for (const token of tokenize(line)) {
    if ('word' in token) {
      if (isCommand) current.push(token.word);
      continue;
    }
    if (current.length > 0) result.push(current);
    current = [];
    isCommand = !/[<>]/.test(token.op);
  }
  if (current.length > 0) result.push(current);
  return result;
}

type Invocation =
  | { readonly kind: 'kasprop'; readonly command: string | undefined; readonly args: readonly string[] }
  /** `silent`: npm run -s, which keeps npm's `> pkg@version script` banner out of stdout. */
  | { readonly kind: 'npm-script'; readonly script: string; readonly silent: boolean };

/** What a simple command invokes, if it is kasprop (in any of its spellings) or an npm script. */
function invocations(words: readonly string[]): Invocation[] {
  let w = [...words];
  while (w.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(w[0] ?? '')) w = w.slice(1);
  const cli = (rest: string[]): Invocation => ({ kind: 'kasprop', command: rest[0], args: rest.slice(1) });
  const afterDashes = (rest: string[]): string[] => (rest[0] === '--' ? rest.slice(1) : rest);
  if (w[0] === 'npx' && (w[1] === 'kasprop' || w[1] === 'node')) w = w.slice(1);
  if (w[0] === 'kasprop') return [cli(w.slice(1))];
  if (w[0] === 'node' && w[1] === 'src/cli/main.ts') return [cli(w.slice(2))];
  if (w[0] !== 'npm') return [];
  const verb = w[1];
  if (verb === 'start') {
    return [
      { kind: 'npm-script', script: 'start', silent: false },
      { kind: 'kasprop', command: 'local', args: afterDashes(w.slice(2)) },
    ];
  }
  if (verb === 'test' || verb === 't') return [{ kind: 'npm-script', script: 'test', silent: false }];
  if (verb === 'run' || verb === 'run-script') {
    const silent = w[2] === '-s' || w[2] === '--silent';
    const script = w[silent ? 3 : 2];
    if (script === undefined) return [];
    return script === 'kasprop'
      ? [{ kind: 'npm-script', script, silent }, cli(afterDashes(w.slice(silent ? 4 : 3)))]
      : [{ kind: 'npm-script', script, silent }];
  }
  return [];
}

interface FoundInvocation {
  readonly at: string;
  readonly invocation: Invocation;
  /** In a fenced shell block (a bare `kasprop` there is an error) or inline code (a bare one is a mention). */
  readonly fenced: boolean;
}

const shellLanguages = new Set(['sh', 'bash', 'shell', 'console', 'zsh']);

/** The command lines of a fenced shell block, with continuation lines joined and a `$ ` prompt removed. */
function commandLines(fence: Fence): ProseLine[] {
  const lines: ProseLine[] = [];
  let pending: ProseLine | undefined;
  fence.lines.forEach((raw, index) => {
    const text = raw.replace(/^\s*\$ /, '');
    const joined = pending
      ? { line: pending.line, text: `${pending.text} ${text}` }
      : { line: fence.firstLine + index, text };
    if (/\\$/.test(joined.text)) {
      pending = { line: joined.line, text: joined.text.slice(0, -1) };
      return;
    }
    pending = undefined;
    lines.push(joined);
  });
  if (pending) lines.push(pending);
  return lines;
}

function findInvocations(markdown: Markdown): FoundInvocation[] {
  const found: FoundInvocation[] = [];
  const add = (line: number, text: string, fenced: boolean): void => {
    for (const words of simpleCommands(text)) {
      for (const invocation of invocations(words)) found.push({ at: `${markdown.file}:${line}`, invocation, fenced });
    }
  };
  for (const fence of markdown.fences.filter((f) => shellLanguages.has(f.lang))) {
    for (const { line, text } of commandLines(fence)) add(line, text, true);
  }
  for (const { line, text } of markdown.prose) {
    for (const span of inlineCode(text)) add(line, span, false);
  }
  return found;
}

/** Why a kasprop command line is wrong, or undefined. Parses exactly as src/cli/main.ts does. */
function checkCommandLine(command: string, args: readonly string[]): string | undefined {
  const definition = commands.find((c) => c.name === command);
  if (definition === undefined) {
    return `'${command}' is not a kasprop command (known: ${commands.map((c) => c.name).join(', ')})`;
  }
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: { ...definition.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (error) {
    return `kasprop ${command} ${args.join(' ')}: ${error instanceof Error ? error.message : String(error)}`;
  }
  // A file of this repository that is named must exist; other names are the reader's own files or placeholders.
  const files = [values.file].flat().filter((f): f is string => typeof f === 'string');
  const missing = files.filter((f) => /^(examples|crds|deploy|docs|test)\//.test(f) && !existsSync(join(root, f)));
  return missing.length > 0 ? `kasprop ${command}: no such file: ${missing.join(', ')}` : undefined;
}

// ---- running the documented commands ------------------------------------------------------------------------------

/** kasprop commands that need no cluster; any command's `--help` needs none either. */
const offlineCommands = new Set(['crd', 'validate', 'render']);

/** What to do with one command line of a fenced shell block. */
type RunPlan =
  | {
      readonly kind: 'run';
      readonly words: readonly string[];
      readonly command: string;
      readonly args: readonly string[];
      readonly stdoutTo?: string;
    }
  | { readonly kind: 'not-offline' }
  | { readonly kind: 'problem'; readonly why: string };

/**
 * A kasprop command that runs offline is run exactly as written (no shell: its words, with a trailing `> FILE`
 * standing for stdout). Other lines (kubectl, a cluster, a placeholder such as `<file>`) are not run.
 */
function planLine(text: string): RunPlan {
  const tokens = tokenize(text);
  const redirect = tokens.findIndex((t) => 'op' in t);
  const words = tokens.slice(0, redirect < 0 ? tokens.length : redirect).flatMap((t) => ('word' in t ? [t.word] : []));
  const invocation = invocations(words).find((i) => i.kind === 'kasprop');
  if (invocation?.kind !== 'kasprop' || invocation.command === undefined) return { kind: 'not-offline' };
  const { command, args } = invocation;
  const offline = offlineCommands.has(command) || args.includes('--help') || args.includes('-h');
  if (!offline || words.some((w) => placeholder.test(w))) return { kind: 'not-offline' };
  if (redirect < 0) return { kind: 'run', words, command, args };
  const [op, target, ...rest] = tokens.slice(redirect);
  if (op && 'op' in op && op.op === '>' && target && 'word' in target && rest.length === 0) {
    return { kind: 'run', words, command, args, stdoutTo: target.word };
  }
  return { kind: 'problem', why: 'a kasprop command the docs test runs is one command, optionally with > FILE' };
}

/** The `-f` files of a kasprop command line. */
const fileArguments = (args: readonly string[]): string[] =>
  args.flatMap((arg, i) =>
    arg === '-f' || arg === '--file' ? [args[i + 1] ?? ''] : arg.startsWith('--file=') ? [arg.slice(7)] : [],
  );

/** A fenced YAML block that starts with `# <name>.yaml` is that file, for the commands of the same document. */
const namedFile = (fence: Fence): string | undefined =>
  fence.lang === 'yaml' ? /^#\s*([A-Za-z0-9_.-]+\.ya?ml)\b/.exec(fence.lines[0] ?? '')?.[1] : undefined;

/** A YAML block shown as the input of a failing command says so in its name line. */
const isInvalidOnPurpose = (fence: Fence): boolean => /invalid on purpose/.test(fence.lines[0] ?? '');

/** The plain fence right after a shell fence (only blank lines between) shows what its last command prints. */
function outputBlocks(markdown: Markdown): Map<Fence, Fence> {
  const blank = new Set(markdown.prose.filter((p) => p.text.trim() === '').map((p) => p.line));
  const pairs = new Map<Fence, Fence>();
  markdown.fences.forEach((fence, index) => {
    const next = markdown.fences[index + 1];
    if (!shellLanguages.has(fence.lang) || next === undefined || !['', 'text'].includes(next.lang)) return;
    const closing = fence.firstLine + fence.lines.length;
    for (let line = closing + 1; line < next.firstLine - 1; line++) if (!blank.has(line)) return;
    pairs.set(fence, next);
  });
  return pairs;
}

/** Whether output lines show as `expected`: the same lines in order, where a `...` line stands for any run of lines. */
function matchesExcerpt(expected: readonly string[], actual: readonly string[]): boolean {
  const known = new Map<number, boolean>();
  const from = (i: number, j: number): boolean => {
    const key = i * (actual.length + 1) + j;
    const cached = known.get(key);
    if (cached !== undefined) return cached;
    let result: boolean;
    if (i === expected.length) result = j === actual.length;
    else if (expected[i] === '...') result = from(i + 1, j) || (j < actual.length && from(i, j + 1));
    else result = j < actual.length && expected[i] === actual[j] && from(i + 1, j + 1);
    known.set(key, result);
    return result;
  };
  return from(0, 0);
}

/** Lines as a terminal shows them: trailing spaces and trailing empty lines do not count. */
function outputLines(text: string): string[] {
  const lines = text.split('\n').map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

interface DocumentedRun {
  readonly at: string;
  readonly plan: Extract<RunPlan, { kind: 'run' }>;
  readonly dir: string;
  /** The block shown as its output, if any. */
  readonly shown?: { readonly at: string; readonly lines: readonly string[] };
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A reader's shell: nothing from the npm run of the tests (npm_* and INIT_CWD would tell npm where it was run). */
function readerEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('npm_') && name !== 'INIT_CWD'),
  );
}

function runWords(words: readonly string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const [file = '', ...args] = words;
  return new Promise((done) => {
    execFile(file, args, { cwd, env: readerEnv(), timeout: 120_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      done({ code, stdout, stderr: error !== null && code === -1 ? `${stderr}${error.message}` : stderr });
    });
  });
}

/**
 * Runs every offline kasprop command of the fenced shell blocks, each Markdown file in a directory of its own
 * with its `# <name>.yaml` blocks as files and the repository's examples/, crds/ and deploy/ next to them. The
 * directory is inside the clone (npm finds the package from there, as it does for a reader anywhere in it), under
 * node_modules/.cache, which git ignores.
 */
async function runDocumentedCommands(
  markdown: readonly Markdown[],
  workspace: string,
): Promise<{ runs: DocumentedRun[]; problems: string[] }> {
  const problems: string[] = [];
  const pending: (() => Promise<DocumentedRun>)[] = [];
  for (const md of markdown) {
    const dir = join(workspace, md.file.replaceAll('/', '__'));
    mkdirSync(dir, { recursive: true });
    for (const shared of ['examples', 'crds', 'deploy']) symlinkSync(join(root, shared), join(dir, shared));
    for (const fence of md.fences) {
      const name = namedFile(fence);
      if (name !== undefined) writeFileSync(join(dir, name), `${fence.lines.join('\n')}\n`);
    }
    const outputs = outputBlocks(md);
    for (const fence of md.fences.filter((f) => shellLanguages.has(f.lang))) {
      const lines = commandLines(fence).filter((l) => tokenize(l.text).length > 0);
      const output = outputs.get(fence);
      lines.forEach(({ line, text }, index) => {
        const at = `${md.file}:${line}`;
        const plan = planLine(text);
        if (plan.kind === 'problem') problems.push(`${at}: ${plan.why}`);
        if (plan.kind !== 'run') return;
        const missing = fileArguments(plan.args).filter((f) => !existsSync(join(dir, f)));
        if (missing.length > 0) {
          problems.push(
            `${at}: ${missing.join(', ')}: neither in the repository nor a \`# <name>.yaml\` block of ${md.file}`,
          );
          return;
        }
        const shown =
          output !== undefined && index === lines.length - 1
            ? { at: `${md.file}:${output.firstLine}`, lines: outputLines(output.lines.join('\n')) }
            : undefined;
        pending.push(async () => ({ at, plan, dir, ...(shown && { shown }), ...(await runWords(plan.words, dir)) }));
      });
    }
  }
  // Two at a time: each is an npm and a Node process, and the machine may be small.
  const runs: DocumentedRun[] = [];
  const worker = async (): Promise<void> => {
    for (let next = pending.shift(); next !== undefined; next = pending.shift()) runs.push(await next());
  };
  await Promise.all([worker(), worker()]);
  for (const run of runs) {
    if (run.plan.stdoutTo !== undefined) writeFileSync(join(run.dir, run.plan.stdoutTo), run.stdout);
  }
  return { runs, problems };
}

// ---- KasprApps -----------------------------------------------------------------------------------------------------

interface FoundYaml {
  /** `file:line` of the document. */
  readonly at: string;
  readonly value?: unknown;
  readonly error?: string;
  /** `file:line` of a field path such as `spec.pythonPackages.packages[2]` (of its nearest parent when it is missing). */
  readonly locate: (path: string) => string;
}

/** Every document of a YAML text, with its line (offset by `firstLine`). */
function yamlDocuments(file: string, text: string, firstLine: number): FoundYaml[] {
  const lineCounter = new LineCounter();
  return parseAllDocuments(text, { lineCounter }).map((doc) => {
    const locate = (path: string): string => `${file}:${firstLine + fieldLine(doc, lineCounter, path) - 1}`;
    const at = locate('');
    if (doc.errors.length > 0) {
      return { at, locate, error: doc.errors.map((e) => e.message.split('\n')[0] ?? '').join('; ') };
    }
    return { at, locate, value: doc.toJS() as unknown };
  });
}

const isKasprApp = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'KasprApp';

/** Why a KasprApp document does not validate or render, each problem at its line; empty when it does. */
function checkKasprApp(doc: FoundYaml): string[] {
  const result = validateKasprApp(doc.value);
  const located = (kind: string) => (e: FieldError) => `${doc.locate(e.path)}: ${kind}${formatFieldError(e)}`;
  const warnings = result.warnings.map(located('warning: '));
  if (!result.ok) return [...result.errors.map(located('')), ...warnings];
  if (warnings.length > 0) return warnings;
  const model = resolveApp(result.valid, defaultOperatorSettings);
  const statefulSet = buildChildren(model).find((c) => c.kind === 'StatefulSet') as StatefulSet | undefined;
  if (statefulSet === undefined) return [`${doc.at}: renders no StatefulSet`];
  const initContainers = statefulSet.spec?.template.spec?.initContainers ?? [];
  const installs = initContainers.some((c) => c.name === installContainerName);
  return installs === (model.packages !== undefined)
    ? []
    : [`${doc.at}: the ${installContainerName} init container is wrongly rendered`];
}

/** The user guide's app: its `# enrich.yaml` block, validated and resolved as the operator does. */
function guideApp(guide: Markdown): { app: KasprApp; model: AppModel } {
  const block = guide.fences.find((f) => namedFile(f) === 'enrich.yaml');
  assert.ok(block, `${guide.file} has no # enrich.yaml block`);
  const result = validateKasprApp(parseAllDocuments(block.lines.join('\n'))[0]?.toJS());
  assert.ok(result.ok);
  return { app: result.valid.app, model: resolveApp(result.valid, defaultOperatorSettings) };
}

// ---- files ---------------------------------------------------------------------------------------------------------

function filesUnder(directory: string, suffixes: readonly string[]): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) return filesUnder(path, suffixes);
      return suffixes.some((s) => entry.name.endsWith(s)) ? [path] : [];
    })
    .sort();
}

const markdownFiles = (): string[] => [
  join(root, 'README.md'),
  ...filesUnder(join(root, 'docs'), ['.md']),
  ...filesUnder(join(root, 'examples'), ['.md']),
];

const readMarkdown = (path: string): Markdown => parseMarkdown(relative(root, path), readFileSync(path, 'utf8'));

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingAnchors(markdown: Markdown): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text } of markdown.prose) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text)?.[1];
    if (heading === undefined) continue;
    const base = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

// ---- the tests -----------------------------------------------------------------------------------------------------

describe('documentation', () => {
  const markdown = markdownFiles().map(readMarkdown);

  const cache = join(root, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const workspace = mkdtempSync(join(cache, 'kasprop-docs-'));
  after(() => rmSync(workspace, { recursive: true, force: true }));
  let documented: ReturnType<typeof runDocumentedCommands> | undefined;
  const documentedRuns = (): ReturnType<typeof runDocumentedCommands> =>
    (documented ??= runDocumentedCommands(markdown, workspace));

  test('finds the Markdown files, each with its code fences closed', () => {
    const files = markdown.map((m) => m.file);
    for (const expected of [
      'README.md',
      'docs/user-guide/python-packages.md',
      'docs/testing/python-packages-manual-tests.md',
      'examples/python-packages/README.md',
    ]) {
      assert.ok(files.includes(expected), `${expected} is missing`);
    }
    assert.deepEqual(
      markdown.flatMap((m) => m.problems),
      [],
    );
  });

  test('every KasprApp in examples/ validates and renders', (t) => {
    const files = filesUnder(join(root, 'examples'), ['.yaml', '.yml']);
    const problems: string[] = [];
    let apps = 0;
    for (const path of files) {
      const file = relative(root, path);
      const documents = yamlDocuments(file, readFileSync(path, 'utf8'), 1);
      const kasprApps = documents.filter((d) => isKasprApp(d.value));
      if (kasprApps.length === 0) problems.push(`${file}:1: no KasprApp in it`);
      for (const doc of documents) {
        if (doc.error !== undefined) problems.push(`${doc.at}: YAML: ${doc.error}`);
        if (!isKasprApp(doc.value)) continue;
        apps++;
        problems.push(...checkKasprApp(doc));
      }
    }
    assert.deepEqual(problems, []);
    t.diagnostic(`${files.length} example files, ${apps} KasprApps`);
    assert.ok(files.length >= 4, `only ${files.length} example files found`);
    assert.ok(apps >= 4, `only ${apps} KasprApps found in examples/`);
  });

  test('every KasprApp in a fenced YAML block of the Markdown validates and renders', (t) => {
    const problems: string[] = [];
    let blocks = 0;
    let apps = 0;
    for (const md of markdown) {
      for (const fence of md.fences.filter((f) => f.lang === 'yaml' || f.lang === 'yml')) {
        blocks++;
        for (const doc of yamlDocuments(md.file, fence.lines.join('\n'), fence.firstLine)) {
          if (doc.error !== undefined) problems.push(`${doc.at}: YAML: ${doc.error}`);
          if (!isKasprApp(doc.value)) continue;
          apps++;
          const found = checkKasprApp(doc);
          if (!isInvalidOnPurpose(fence)) problems.push(...found);
          else if (found.length === 0) problems.push(`${doc.at}: says it is invalid on purpose, but it is valid`);
        }
      }
    }
    assert.deepEqual(problems, []);
    t.diagnostic(`${blocks} YAML blocks, ${apps} KasprApps`);
    assert.ok(blocks >= 12, `only ${blocks} YAML blocks found`);
    assert.ok(apps >= 12, `only ${apps} KasprApps found in the Markdown`);
  });

  test('every kasprop command line shown exists and accepts its options', (t) => {
    const problems: string[] = [];
    let checked = 0;
    const seenCommands = new Set<string>();
    for (const { at, invocation, fenced } of markdown.flatMap(findInvocations)) {
      if (invocation.kind !== 'kasprop') continue;
      const { command, args } = invocation;
      if (command === undefined) {
        if (fenced) problems.push(`${at}: kasprop without a command`);
        continue;
      }
      if (placeholder.test(command)) continue; // `kasprop <command> --help`: a pattern, not a command line
      checked++;
      seenCommands.add(command);
      const problem = checkCommandLine(command, args);
      if (problem !== undefined) problems.push(`${at}: ${problem}`);
    }
    assert.deepEqual(problems, []);
    t.diagnostic(`${checked} kasprop command lines`);
    assert.ok(checked >= 30, `only ${checked} kasprop command lines found`);
    assert.deepEqual([...seenCommands].sort(), commands.map((c) => c.name).sort(), 'every command is shown somewhere');
  });

  test('every npm script shown exists in package.json', (t) => {
    const problems: string[] = [];
    let checked = 0;
    for (const { at, invocation } of markdown.flatMap(findInvocations)) {
      if (invocation.kind !== 'npm-script') continue;
      checked++;
      if (!packageScripts.includes(invocation.script))
        problems.push(`${at}: npm script '${invocation.script}' does not exist`);
    }
    assert.deepEqual(problems, []);
    t.diagnostic(`${checked} npm script uses`);
    assert.ok(checked >= 30, `only ${checked} npm script uses found`);
  });

  test('every npm run kasprop shown is silent (-s), so that its output can be saved or piped', (t) => {
    const found = markdown
      .flatMap(findInvocations)
      .filter(({ invocation }) => invocation.kind === 'npm-script' && invocation.script === 'kasprop');
    const loud = found.filter(({ invocation }) => invocation.kind === 'npm-script' && !invocation.silent);
    assert.deepEqual(
      loud.map(({ at }) => `${at}: npm run kasprop without -s prints npm's banner into the output`),
      [],
    );
    t.diagnostic(`${found.length} npm run -s kasprop lines`);
    assert.ok(found.length >= 10, `only ${found.length} npm run kasprop lines found`);
  });

  test('every offline kasprop command shown runs as written, and prints the output shown next to it', async (t) => {
    const { runs, problems } = await documentedRuns();
    for (const run of runs) {
      const printed = [...outputLines(run.stdout), ...outputLines(run.stderr)];
      if (run.shown === undefined) {
        if (run.code !== 0) problems.push(`${run.at}: exits ${run.code}: ${run.stderr.trim()}`);
      } else if (!matchesExcerpt(run.shown.lines, printed)) {
        problems.push(
          `${run.at}: prints something else than ${run.shown.at} shows; it prints (exit ${run.code}):\n${printed.slice(0, 40).join('\n')}`,
        );
      }
    }
    assert.deepEqual(problems, []);
    const compared = runs.filter((r) => r.shown !== undefined).length;
    t.diagnostic(`${runs.length} commands run, ${compared} outputs compared`);
    assert.ok(runs.length >= 14, `only ${runs.length} commands run`);
    assert.ok(compared >= 6, `only ${compared} outputs compared`);
  });

  test('every render shown prints YAML or JSON that parses, also when saved to a file', async (t) => {
    const { runs } = await documentedRuns();
    const renders = runs.filter((r) => r.plan.command === 'render' && !r.plan.args.includes('--help'));
    const problems: string[] = [];
    for (const run of renders) {
      const text =
        run.plan.stdoutTo === undefined ? run.stdout : readFileSync(join(run.dir, run.plan.stdoutTo), 'utf8');
      const json =
        fileArguments(run.plan.args).length > 0 && /(^| )(-o|--output)( |=)json\b/.test(run.plan.args.join(' '));
      try {
        const kinds = json
          ? (JSON.parse(text) as { items: { kind: string }[] }).items.map((i) => i.kind)
          : parseAllDocuments(text).map((doc) => {
              if (doc.errors.length > 0) throw new Error(doc.errors[0]?.message);
              return (doc.toJS() as { kind: string }).kind;
            });
        if (!kinds.includes('StatefulSet')) problems.push(`${run.at}: no StatefulSet in ${kinds.join(', ')}`);
      } catch (error) {
        problems.push(
          `${run.at}: does not parse as ${json ? 'JSON' : 'YAML'}: ${String(error)}\n${text.slice(0, 200)}`,
        );
      }
    }
    assert.deepEqual(problems, []);
    t.diagnostic(`${renders.length} renders parsed`);
    assert.ok(renders.length >= 5, `only ${renders.length} renders found`);
    assert.ok(
      renders.some((r) => r.plan.stdoutTo !== undefined),
      'no render saved to a file',
    );
  });

  test('every relative link points to an existing file, and to an existing heading', (t) => {
    const problems: string[] = [];
    let checked = 0;
    const anchorsOf = new Map(markdown.map((m) => [m.file, headingAnchors(m)]));
    for (const md of markdown) {
      for (const { line, text } of md.prose) {
        const withoutCode = text.replace(/`+[^`]*`+/g, '');
        for (const match of withoutCode.matchAll(/\]\(([^)\s]+)\)/g)) {
          const target = match[1] ?? '';
          if (/^[a-z]+:/i.test(target)) continue;
          checked++;
          const [path = '', anchor] = target.split('#', 2);
          const file = path === '' ? md.file : relative(root, resolve(root, dirname(md.file), path));
          if (!existsSync(join(root, file))) {
            problems.push(`${md.file}:${line}: link to ${target}: no such file`);
            continue;
          }
          if (anchor === undefined || statSync(join(root, file)).isDirectory()) continue;
          const anchors = anchorsOf.get(file) ?? headingAnchors(readMarkdown(join(root, file)));
          if (!anchors.has(anchor)) problems.push(`${md.file}:${line}: link to ${target}: no such heading in ${file}`);
        }
      }
    }
    assert.deepEqual(problems, []);
    t.diagnostic(`${checked} relative links`);
    assert.ok(checked >= 30, `only ${checked} relative links found`);
  });

  test("every spec hash in the user guide is the one the code computes for the guide's app", (t) => {
    const guide = markdown.find((m) => m.file === 'docs/user-guide/python-packages.md');
    assert.ok(guide);
    const hash = guideApp(guide).model.packages?.hash;
    assert.ok(hash !== undefined);
    const lines = [
      ...guide.prose,
      ...guide.fences.flatMap((f) => f.lines.map((text, i) => ({ line: f.firstLine + i, text }))),
    ];
    const shown = lines.flatMap(({ line, text }) =>
      [...text.matchAll(/\b[0-9a-f]{16}\b/g)].map((m) => ({ line, value: m[0] })),
    );
    assert.deepEqual(
      shown
        .filter((h) => h.value !== hash)
        .map((h) => `${guide.file}:${h.line}: ${h.value} is not the spec hash ${hash}`),
      [],
    );
    t.diagnostic(`${shown.length} hashes shown`);
    assert.ok(shown.length >= 8, `only ${shown.length} hashes found`);
  });

  test("the user guide's status, conditions and events are what the code makes of its termination message", () => {
    const guide = markdown.find((m) => m.file === 'docs/user-guide/python-packages.md');
    assert.ok(guide);
    const { app, model } = guideApp(guide);
    const blocks = (lang: string, pattern: RegExp): Fence[] =>
      guide.fences.filter((f) => f.lang === lang && pattern.test(f.lines.join('\n')));
    const [terminationMessage] = blocks('json', /"formatVersion"/);
    const [statusBlock] = blocks('yaml', /^status:/m);
    assert.ok(terminationMessage && statusBlock, 'the guide shows a termination message and a status');
    const shown = (parseAllDocuments(statusBlock.lines.join('\n'))[0]?.toJS() as { status: KasprAppStatus }).status;

    // The pod that reported the termination message, in a StatefulSet that has rolled out with every pod ready.
    const message = terminationMessage.lines.join('\n').trim();
    const pod: Pod = {
      metadata: {
        name: 'enrich-app-0',
        uid: '7d1e4c2a-91b3-4f6e-8c0d-5a2b9e3f1c47',
        annotations: { [packagesHashAnnotation]: model.packages?.hash ?? '' },
      },
      status: {
        initContainerStatuses: [
          {
            name: installContainerName,
            image: model.image,
            imageID: '',
            ready: true,
            restartCount: 0,
            state: { terminated: { exitCode: 0, reason: 'Completed', message } },
          },
        ],
      },
    };
    const replicas = model.replicas;
    const statefulSet: StatefulSet = {
      metadata: { name: 'enrich-app', generation: 1 },
      status: { replicas, readyReplicas: replicas, updatedReplicas: replicas, observedGeneration: 1 },
    };
    const observations = [observeInstall(pod)].flatMap((o) => o ?? []);
    const generated = validStatus({
      app: { ...app, metadata: { ...app.metadata, generation: shown.observedGeneration } },
      now: '2026-11-26T11:10:55Z',
      model,
      statefulSet,
      observations,
      cacheMode: 'shared',
      packagesWarnings: [],
    });
    const withoutTimes = (status: KasprAppStatus) => ({
      ...status,
      conditions: status.conditions?.map(({ type, status: value, reason, message: text }) => ({
        type,
        status: value,
        reason,
        message: text,
      })),
    });
    // status.packagesClaim comes from the claim (the reconciler adds it, events.ts), not from the pods;
    // status.countedInstalls from the install ledger, which the reconciler feeds the same observations.
    const { packagesClaim, countedInstalls, ...fromPods } = shown;
    assert.equal(packagesClaim?.name, model.names.packagesClaim);
    assert.deepEqual(countedInstalls, new InstallLedger().record('ns/enrich', observations, undefined).counted);
    assert.deepEqual(withoutTimes(fromPods), withoutTimes(generated));

    // The condition and event messages the guide's tables give, as patterns: `N` a number, `<...>` a word.
    const pattern = (template: string): RegExp =>
      new RegExp(
        `^${template
          .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
          .replace(/^N /, '\\d+ ')
          .replace(/<[a-z]+>/g, '\\S+')}$`,
      );
    const tableRow = (reason: string): string[] => {
      const row = guide.prose.find(
        ({ text }) => text.startsWith('|') && text.split('|').some((c) => c.trim() === `\`${reason}\``),
      );
      assert.ok(row, `no table row for ${reason}`);
      return row.text.split('|').map((c) => c.trim());
    };
    const eventTemplate = (reason: string): string => inlineCode(tableRow(reason)[4] ?? '')[0] ?? '';
    const conditionTemplate = (reason: string): string =>
      /message `([^`]+)`/.exec(tableRow(reason)[4] ?? '')?.[1] ?? '';

    const installing = { pythonPackages: { hash: model.packages?.hash ?? '', state: 'Installing' as const } };
    const events = [...packagesEvents(undefined, installing), ...packagesEvents(installing, generated)];
    assert.deepEqual(
      events.map((e) => e.reason),
      ['PackagesInstalling', 'PackagesInstalled'],
    );
    for (const event of events) assert.match(event.message, pattern(eventTemplate(event.reason)), event.reason);
    const condition = generated.conditions?.find((c) => c.type === 'PythonPackagesReady');
    assert.ok(condition);
    assert.match(condition.message ?? '', pattern(conditionTemplate(condition.reason)));
  });

  test('the user guide covers every pythonPackages field, status field, error type, metric and reason', (t) => {
    const guidePath = join(root, 'docs/user-guide/python-packages.md');
    const guide = parseMarkdown(relative(root, guidePath), readFileSync(guidePath, 'utf8'));
    const quoted = new Set(guide.prose.flatMap(({ text }) => inlineCode(text)));
    const missing: string[] = [];
    const mention = (term: string, what: string): void => {
      if (!quoted.has(term)) missing.push(`${what} \`${term}\``);
    };

    // spec.pythonPackages, from the CRD: a leaf by its path, or (for a map such as resources.requests) by its name
    // next to its parent's path.
    const specFields = (node: SchemaNode, prefix: string): [string, string][] =>
      Object.entries(node.properties ?? {}).flatMap(([name, child]) => {
        const path = prefix === '' ? name : `${prefix}.${name}`;
        return child.properties ? specFields(child, path) : [[path, prefix]];
      });
    const specSchema = kasprAppSchema.properties?.spec?.properties?.pythonPackages;
    const statusSchema = kasprAppSchema.properties?.status?.properties?.pythonPackages;
    assert.ok(specSchema && statusSchema);
    const leaves = specFields(specSchema, '');
    for (const [path, parent] of leaves) {
      const name = path.slice(path.lastIndexOf('.') + 1);
      if (!quoted.has(path) && !(parent !== '' && quoted.has(parent) && quoted.has(name))) {
        missing.push(`spec.pythonPackages field \`${path}\``);
      }
    }
    const statusFields = Object.keys(statusSchema.properties ?? {});
    for (const field of statusFields) mention(field, 'status.pythonPackages field');

    // The operator's own error types, for failures the installer cannot report (src/controller/install-observation.ts).
    const errorTypes = [...INSTALL_ERROR_TYPES, 'configuration', 'image_pull', 'out_of_memory'];
    for (const type of errorTypes) mention(type, 'error type');

    const metrics = new Registry();
    new PackageMetrics(metrics);
    const metricNames = metrics.getMetricsAsArray().map((m) => m.name);
    for (const name of metricNames) mention(name, 'metric');

    // Condition and event reasons: the capitalized string literals on the controller's lines about a reason.
    const reasons = new Set<string>();
    for (const path of filesUnder(join(root, 'src/controller'), ['.ts'])) {
      for (const line of readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => /\breason\b/.test(l))) {
        for (const literal of line.matchAll(/'([A-Z][A-Za-z]+)'/g)) reasons.add(literal[1] ?? '');
      }
    }
    for (const word of ['True', 'False', 'Unknown', 'Normal', 'Warning']) reasons.delete(word);
    for (const reason of reasons) mention(reason, 'reason');

    t.diagnostic(
      `${leaves.length} spec fields, ${statusFields.length} status fields, ${errorTypes.length} error types, ` +
        `${metricNames.length} metrics, ${reasons.size} reasons`,
    );
    assert.deepEqual(missing, [], `${relative(root, guidePath)} does not mention these`);
    assert.ok(leaves.length >= 15, `only ${leaves.length} spec fields found in the CRD`);
    assert.ok(statusFields.length >= 10, `only ${statusFields.length} status fields found in the CRD`);
    assert.ok(metricNames.length === 3, `${metricNames.length} package metrics`);
    assert.ok(reasons.size >= 15, `only ${reasons.size} reasons found in src/controller`);
  });

  test('the checks themselves catch what they should, with file and line', () => {
    const sample = parseMarkdown(
      'sample.md',
      [
        'Run `kasprop render -f <file> -o json` or `kasprop rendr -f x.yaml`; `kasprop` alone is a name.', // 1
        '```sh', // 2
        'npm run -s kasprop -- validate -f examples/basic.yaml | grep error > out.txt', // 3
        'kasprop run --leader-elect false --no-such-flag', // 4
        'FOO=1 npx node src/cli/main.ts local \\', // 5
        '  --until-ready  # a comment', // 6
        "kubectl get pods -o jsonpath='{.items[*].metadata.name}' && npm start -- -f <file>", // 7
        'npm run no-such-script', // 8
        'kasprop render -f examples/missing.yaml', // 9
        '```', // 10
        '```yaml', // 11
        'apiVersion: kaspr.io/v1alpha1', // 12
        'kind: KasprApp', // 13
        'metadata: {name: bad}', // 14
        'spec: {bootstrapServers: k:9092, pythonPackages: {packages: ["-r x.txt"]}}', // 15
        '```', // 16
      ].join('\n'),
    );
    const problems: string[] = [];
    const found = findInvocations(sample).map(({ at, invocation }) => {
      if (invocation.kind === 'npm-script') return `${at} npm ${invocation.script}`;
      const { command, args } = invocation;
      const problem = command === undefined ? undefined : checkCommandLine(command, args);
      if (problem !== undefined) problems.push(`${at}: ${problem}`);
      const verdict = command === undefined ? 'bare' : problem === undefined ? 'ok' : 'refused';
      return `${at} kasprop ${command ?? '-'} [${args.join(' ')}] ${verdict}`;
    });
    assert.deepEqual(found, [
      'sample.md:3 npm kasprop',
      'sample.md:3 kasprop validate [-f examples/basic.yaml] ok',
      'sample.md:4 kasprop run [--leader-elect false --no-such-flag] refused',
      'sample.md:5 kasprop local [--until-ready] ok',
      'sample.md:7 npm start',
      'sample.md:7 kasprop local [-f <file>] ok',
      'sample.md:8 npm no-such-script',
      'sample.md:9 kasprop render [-f examples/missing.yaml] refused',
      'sample.md:1 kasprop render [-f <file> -o json] ok',
      'sample.md:1 kasprop rendr [-f x.yaml] refused',
      'sample.md:1 kasprop - [] bare',
    ]);
    assert.match(problems[0] ?? '', /^sample\.md:4: kasprop run .*'--no-such-flag'/);
    assert.equal(problems[1], 'sample.md:9: kasprop render: no such file: examples/missing.yaml');
    assert.equal(
      problems[2],
      "sample.md:1: 'rendr' is not a kasprop command (known: crd, validate, render, lock, bundle, run, local)",
    );
    const yaml = sample.fences.find((f) => f.lang === 'yaml');
    assert.ok(yaml);
    const [doc] = yamlDocuments(sample.file, yaml.lines.join('\n'), yaml.firstLine);
    assert.ok(doc);
    assert.equal(doc.at, 'sample.md:12');
    const [problem, ...more] = checkKasprApp(doc);
    assert.match(
      problem ?? '',
      /^sample\.md:15: spec\.pythonPackages\.packages\[0\]: invalid requirement "-r x\.txt": pip options/,
    );
    assert.deepEqual(more, []);
    assert.deepEqual(parseMarkdown('open.md', 'text\n```sh\nkasprop crd\n').problems, [
      'open.md:2: the code fence is never closed',
    ]);
  });

  test('the command runner plans, pairs and compares as it should', () => {
    const plan = (line: string): string => {
      const p = planLine(line);
      return p.kind === 'run'
        ? `run ${p.command} [${p.args.join(' ')}]${p.stdoutTo ? ` > ${p.stdoutTo}` : ''}`
        : p.kind;
    };
    assert.deepEqual(
      [
        'npm run -s kasprop -- render -f x.yaml > out.yaml  # saved',
        'npm run -s kasprop -- validate -f x.yaml | grep error',
        'npm run -s kasprop -- run --help',
        'npm run -s kasprop -- run --kubeconfig k',
        'npm run -s kasprop -- render -f <file>',
        'npm start -- --until-ready',
        'kubectl apply -f x.yaml',
      ].map(plan),
      [
        'run render [-f x.yaml] > out.yaml',
        'problem',
        'run run [--help]',
        'not-offline',
        'not-offline',
        'not-offline',
        'not-offline',
      ],
    );

    const sample = parseMarkdown(
      'sample.md',
      [
        '```sh',
        'kasprop crd',
        '```',
        '',
        '```',
        'shown',
        '```',
        'text',
        '```sh',
        'kasprop crd',
        '```',
        '```yaml',
        'a: 1',
        '```',
      ].join('\n'),
    );
    const pairs = outputBlocks(sample);
    assert.equal(pairs.size, 1, 'only a plain block right after a shell block is its output');
    assert.deepEqual(pairs.get(sample.fences[0]!)?.lines, ['shown']);

    assert.ok(matchesExcerpt(['a', '...', 'd'], ['a', 'b', 'c', 'd']));
    assert.ok(matchesExcerpt(['...', 'c', '...'], ['a', 'b', 'c', 'd']));
    assert.ok(!matchesExcerpt(['a', 'd'], ['a', 'b', 'c', 'd']), 'without ... every line counts');
    assert.ok(!matchesExcerpt(['a', '...', 'x'], ['a', 'b', 'c', 'd']));
    assert.deepEqual(outputLines('a  \nb\n\n'), ['a', 'b']);
  });

  test("npm run without -s would break a render's JSON, which is why the docs say -s", async () => {
    const args = ['run', 'kasprop', '--', 'render', '-f', 'examples/basic.yaml', '-o', 'json'];
    const [loud, silent] = await Promise.all([
      runWords(['npm', ...args], root),
      runWords(['npm', args[0]!, '-s', ...args.slice(1)], root),
    ]);
    assert.equal(loud.code, 0, loud.stderr);
    assert.match(loud.stdout, /^\s*> kasprop@[^\n]* kasprop\n/);
    assert.throws(() => JSON.parse(loud.stdout) as unknown, SyntaxError);
    assert.equal(silent.code, 0, silent.stderr);
    assert.equal((JSON.parse(silent.stdout) as { kind: string }).kind, 'List');
  });
});
