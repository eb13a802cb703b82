// The CRD as data. The YAML file is the single source of truth; this module gives typed access to its schema
// for validation and type generation. The file is read once at import time: it ships with the code.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export const crdPath = new URL('../../crds/kasprapp.crd.yaml', import.meta.url);

/** The subset of JSONSchemaProps that a structural CRD schema uses. */
export interface SchemaNode {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  title?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  required?: string[];
  enum?: (string | number | boolean)[];
  anyOf?: SchemaNode[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
}

interface CrdDocument {
  spec: { versions: { name: string; schema: { openAPIV3Schema: SchemaNode } }[] };
}

export const crdText: string = readFileSync(crdPath, 'utf8');

export const crd: CrdDocument = parse(crdText) as CrdDocument;

export const kasprAppSchema: SchemaNode = (() => {
  const version = crd.spec.versions.find((v) => v.name === 'v1alpha1');
  if (!version) throw new Error(`${crdPath.pathname}: version v1alpha1 is missing`);
  return version.schema.openAPIV3Schema;
})();
