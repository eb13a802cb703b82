// Structural validation of a KasprApp against the CRD's openAPIV3Schema, with the apiserver's strictness: unknown
// fields are errors wherever the schema does not preserve them. ajv does the checking; this module turns the CRD
// schema into JSON Schema and ajv's errors into "field path: reason" messages.
import { Ajv, type ErrorObject } from 'ajv';
import { kasprAppSchema, type SchemaNode } from './crd.ts';
import { quantityGrammarHint } from '../kubernetes/quantity.ts';
import type { FieldError } from './field-error.ts';

type JsonSchema = Record<string, unknown>;

function toJsonSchema(node: SchemaNode): JsonSchema {
  if (node['x-kubernetes-int-or-string'] === true) {
    // The apiserver applies `pattern` to the string form only; ajv wants that said explicitly.
    const asString: JsonSchema = { type: 'string', ...(node.pattern !== undefined && { pattern: node.pattern }) };
    return { anyOf: [{ type: 'integer' }, asString] };
  }
  const out: JsonSchema = {};
  const copied = [
    'type',
    'required',
    'enum',
    'minimum',
    'maximum',
    'minLength',
    'maxLength',
    'minItems',
    'maxItems',
    'pattern',
  ] as const;
  for (const key of copied) if (node[key] !== undefined) out[key] = node[key];
  if (node.anyOf) out.anyOf = node.anyOf.map(toJsonSchema);
  if (node.items) out.items = toJsonSchema(node.items);
  if (node.properties) {
    out.properties = Object.fromEntries(Object.entries(node.properties).map(([k, v]) => [k, toJsonSchema(v)]));
  }
  if (typeof node.additionalProperties === 'object') {
    out.additionalProperties = toJsonSchema(node.additionalProperties);
  } else if (node.type === 'object' && node.properties && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.additionalProperties = false;
  }
  return out;
}

const specSchema = kasprAppSchema.properties?.spec;
if (!specSchema) throw new Error('the CRD has no spec schema');

const ajv = new Ajv({ allErrors: true, strict: true });
const validateSpecSchema = ajv.compile(toJsonSchema(specSchema));

/** The names an object at `path` may have, for "did you mean" hints on unknown fields. */
function knownFields(path: readonly string[]): string[] {
  let node: SchemaNode | undefined = specSchema;
  for (const segment of path) {
    if (node?.type === 'array') node = node.items;
    else node = node?.properties?.[segment];
  }
  return Object.keys(node?.properties ?? {});
}

export function checkSpecSchema(spec: unknown): FieldError[] {
  if (validateSpecSchema(spec)) return [];
  return describeErrors(validateSpecSchema.errors ?? []);
}

export function formatPath(segments: readonly (string | number)[]): string {
  return segments.map((s, i) => (typeof s === 'number' || /^\d+$/.test(s) ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function describeErrors(errors: ErrorObject[]): FieldError[] {
  // An int-or-string field reports an error per anyOf branch plus the anyOf itself: a string that is not a
  // quantity is best told by its pattern error, anything else by the anyOf error alone.
  const patternPaths = new Set(errors.filter((e) => e.keyword === 'pattern').map((e) => e.instancePath));
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const result = new Map<string, FieldError>();
  for (const error of errors) {
    const keep = patternPaths.has(error.instancePath)
      ? error.keyword === 'pattern'
      : !anyOfPaths.has(error.instancePath) || error.keyword === 'anyOf';
    if (!keep) continue;
    const segments = error.instancePath.split('/').slice(1).map(decodePointer);
    const described = describe(error, segments);
    const path = formatPath(['spec', ...described.segments]);
    result.set(`${path}\n${described.message}`, { path, message: described.message });
  }
  return [...result.values()];
}

function describe(error: ErrorObject, segments: string[]): { segments: string[]; message: string } {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { segments: [...segments, String(params.missingProperty)], message: 'is required' };
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const suggestion = closest(field, knownFields(segments));
      return {
        segments: [...segments, field],
        message: `unknown field${suggestion !== undefined ? `; did you mean '${suggestion}'?` : ''}`,
      };
    }
    case 'enum':
      return { segments, message: `must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}` };
    case 'type':
      return { segments, message: `must be ${article(String(params.type))}` };
    case 'anyOf':
      return { segments, message: 'must be an integer or a string' };
    case 'minimum':
      return { segments, message: `must be at least ${String(params.limit)}` };
    case 'maximum':
      return { segments, message: `must be at most ${String(params.limit)}` };
    case 'minItems':
      return {
        segments,
        message: params.limit === 1 ? 'must not be empty' : `must have at least ${String(params.limit)} items`,
      };
    case 'maxItems':
      return { segments, message: `must have at most ${String(params.limit)} items` };
    case 'minLength':
      return {
        segments,
        message: params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters`,
      };
    case 'maxLength':
      return { segments, message: `must be at most ${String(params.limit)} characters` };
    case 'pattern':
      // The CRD's only patterns are Kubernetes quantities; anything else is named as it is.
      return {
        segments,
        message: String(params.pattern).includes('KMGTPE')
          ? `must be ${quantityGrammarHint}`
          : `must match ${String(params.pattern)}`,
      };
    default:
      return { segments, message: error.message ?? 'is invalid' };
  }
}

const article = (type: string): string => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);

const decodePointer = (segment: string): string => segment.replace(/~1/g, '/').replace(/~0/g, '~');

/** The known name within edit distance 2 of a misspelled one, if any. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
