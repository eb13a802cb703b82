// Kubernetes resource quantities (the grammar of k8s.io/apimachinery resource.Quantity), parsed to a number so that
// they can be compared: a claim may grow but not shrink, requests must not exceed limits, and `1` equals `1000m`
// when the applier compares what it applied with what the apiserver returns.

const quantityPattern =
  /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))?$/;

const suffixes: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** The value of a quantity (bytes for sizes, cores for cpu), or undefined when it is not a quantity. */
export function parseQuantity(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  const match = quantityPattern.exec(value.trim());
  if (!match) return undefined;
  const [, sign = '', number = '', suffix = ''] = match;
  const base = Number(number) * (sign === '-' ? -1 : 1);
  if (suffix === '') return base;
  const multiplier = suffixes[suffix];
  return multiplier !== undefined ? base * multiplier : base * 10 ** Number(suffix.slice(1));
}

export const quantityGrammarHint = 'a Kubernetes quantity such as 256Mi, 1Gi, 500m or 2';
