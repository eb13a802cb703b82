// Kubernetes resource quantities exactly as the apiserver reads and writes them (k8s.io/apimachinery
// resource.ParseQuantity and Quantity.String), shared by api/ (validation) and runtime/ (comparing applied with live
// objects); it imports nothing. Values are exact: a quantity is held in units of 10^-9, as the apiserver holds it, so
// `0.0005` equals `500u` and `1` equals `1000m` with no float tolerance, and the string the apiserver stores for an
// input is known before it is sent (test/integration/quantity.test.ts compares with the apiserver's own).

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

export interface Quantity {
  /** The value in units of 10^-9: non-zero values rounded up (away from zero) to 1n; binary ones capped at 2^63-1. */
  readonly nanos: bigint;
  readonly format: QuantityFormat;
  /** The string the apiserver stores and returns for the input. */
  readonly text: string;
}

export const quantityGrammarHint = 'a Kubernetes quantity such as 256Mi, 1Gi, 500m or 2';

const decimalSuffixes: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const binarySuffixes: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const binarySuffixOf = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
const decimalSuffixOf = new Map(Object.entries(decimalSuffixes).map(([suffix, exponent]) => [exponent, suffix]));

/**
 * Exponents (`1e<n>`) beyond this are refused although the apiserver would take them: no resource needs them, and
 * exact arithmetic on them would cost memory.
 */
const maxExponent = 1000;
const maxInt64 = 2n ** 63n - 1n;
const nanosPerUnit = 10n ** 9n;

/**
 * The quantity a string (or a JSON number) denotes, or undefined when the apiserver would refuse it, and for
 * decimal values of 1000E or more, which the apiserver writes back without their suffix (a smaller number).
 */
export function parseQuantity(input: string | number): Quantity | undefined {
  if (typeof input === 'number' && !Number.isFinite(input)) return undefined;
  // A number reaches the apiserver as its JSON text; a string is trimmed as Quantity.UnmarshalJSON does.
  const str = typeof input === 'number' ? JSON.stringify(input) : input.trim();
  if (str === '') return undefined;
  if (str === '0') return { nanos: 0n, format: 'DecimalSI', text: '0' };
  const scanned = scan(str);
  if (scanned === undefined) return undefined;
  const { positive, num, denom, suffix } = scanned;
  const unit = interpretSuffix(suffix);
  if (unit === undefined) return undefined;

  const magnitude = BigInt(num + denom) * (unit.base === 2 ? 2n ** BigInt(unit.exponent) : 1n);
  // value = magnitude * 10^(shift - 9) nanos-wise: 9 decimal places, less the denominator's, plus a decimal exponent.
  const shift = 9 - denom.length + (unit.base === 10 ? unit.exponent : 0);
  let nanos = shift >= 0 ? magnitude * 10n ** BigInt(shift) : ceilDiv(magnitude, 10n ** BigInt(-shift));
  if (unit.format === 'BinarySI' && nanos > maxInt64 * nanosPerUnit) nanos = maxInt64 * nanosPerUnit;
  if (!positive) nanos = -nanos;

  const text = reusesInput(scanned, unit) ? str : canonicalText(nanos, unit.format);
  return text === undefined ? undefined : { nanos, format: unit.format, text };
}

const nanosPerMilli = 10n ** 6n;

/**
 * A quantity in a ResourceList (a container's requests and limits, a claim's storage, a quota's hard limits): the
 * apiserver's defaulting rounds it up to a multiple of 1m (k8s.io/kubernetes SetDefaults_ResourceList), so a
 * `cpu: 0.0005` is stored as `1m`.
 */
export function parseResourceListQuantity(input: string | number): Quantity | undefined {
  const parsed = parseQuantity(input);
  if (parsed === undefined || parsed.nanos % nanosPerMilli === 0n) return parsed;
  const magnitude = parsed.nanos < 0n ? -parsed.nanos : parsed.nanos;
  const rounded = ceilDiv(magnitude, nanosPerMilli) * nanosPerMilli;
  const nanos = parsed.nanos < 0n ? -rounded : rounded;
  const text = canonicalText(nanos, parsed.format);
  return text === undefined ? undefined : { nanos, format: parsed.format, text };
}

/** The string the apiserver stores for a quantity, or undefined when it is not one. */
export const canonicalQuantity = (input: string | number): string | undefined => parseQuantity(input)?.text;

/** The string the apiserver stores for a quantity in a ResourceList, or undefined when it is not one. */
export const canonicalResourceListQuantity = (input: string | number): string | undefined =>
  parseResourceListQuantity(input)?.text;

/**
 * Whether the apiserver stores `desired` as the value `live` denotes (`1Gi` and `1073741824`, `0.5` and `500m`, and
 * in a ResourceList `0.0005` and `1m`).
 */
export function storedAs(desired: string | number, live: string | number, inResourceList: boolean): boolean {
  const x = inResourceList ? parseResourceListQuantity(desired) : parseQuantity(desired);
  const y = parseQuantity(live);
  return x !== undefined && y !== undefined && x.nanos === y.nanos;
}

interface Scanned {
  readonly positive: boolean;
  /** The integer digits without leading zeros ("0" when none are left). */
  readonly num: string;
  readonly denom: string;
  readonly suffix: string;
}

/** resource.parseQuantityString: sign, digits, '.', digits, then a suffix of "eEinumkKMGTP", a sign and digits. */
function scan(str: string): Scanned | undefined {
  let pos = 0;
  let positive = true;
  if (str[0] === '-' || str[0] === '+') {
    positive = str[0] === '+';
    pos++;
  }
  while (str[pos] === '0') pos++;
  if (pos >= str.length) return { positive, num: '0', denom: '', suffix: '' };
  const numStart = pos;
  while (isDigit(str[pos])) pos++;
  const num = str.slice(numStart, pos) || '0';
  let denom = '';
  if (str[pos] === '.') {
    const denomStart = ++pos;
    while (isDigit(str[pos])) pos++;
    denom = str.slice(denomStart, pos);
  }
  const suffixStart = pos;
  while (pos < str.length && 'eEinumkKMGTP'.includes(str.charAt(pos))) pos++;
  if (str[pos] === '-' || str[pos] === '+') pos++;
  while (isDigit(str[pos])) pos++;
  if (pos < str.length) return undefined;
  return { positive, num, denom, suffix: str.slice(suffixStart) };
}

interface Unit {
  readonly base: 2 | 10;
  readonly exponent: number;
  readonly format: QuantityFormat;
}

function interpretSuffix(suffix: string): Unit | undefined {
  const decimal = decimalSuffixes[suffix];
  if (decimal !== undefined) return { base: 10, exponent: decimal, format: 'DecimalSI' };
  const binary = binarySuffixes[suffix];
  if (binary !== undefined) return { base: 2, exponent: binary, format: 'BinarySI' };
  // Go's strconv.ParseInt: an optional sign and decimal digits.
  if (/^[eE][-+]?[0-9]+$/.test(suffix)) {
    const exponent = Number(suffix.slice(1));
    return Math.abs(exponent) <= maxExponent ? { base: 10, exponent, format: 'DecimalExponent' } : undefined;
  }
  return undefined;
}

/**
 * ParseQuantity keeps the input string, instead of writing the canonical one, when its int64 fast path takes the
 * value and the input "looks canonical": then the apiserver returns exactly what it was sent (`+1`, `1.500`).
 */
function reusesInput({ num, denom }: Scanned, unit: Unit): boolean {
  const digits = num + denom;
  if (unit.format === 'BinarySI') {
    const precision = 15 - num.length - Math.trunc((unit.exponent * 3) / 10) - 1;
    if (denom !== '' || precision < 0) return false;
    const value = BigInt(digits);
    return value * 2n ** BigInt(unit.exponent) <= maxInt64 && value % 8n !== 0n;
  }
  const scale = unit.exponent - denom.length;
  if (digits.length > 18 || scale < -9) return false;
  return scale % 3 === 0 && !digits.endsWith('000') && !digits.startsWith('0');
}

/** Quantity.CanonicalizeBytes; undefined for a decimal value whose exponent has no suffix (see parseQuantity). */
function canonicalText(nanos: bigint, format: QuantityFormat): string | undefined {
  if (nanos === 0n) return '0';
  const magnitude = nanos < 0n ? -nanos : nanos;
  if (format === 'BinarySI' && magnitude >= 1024n * nanosPerUnit && nanos % nanosPerUnit === 0n) {
    let value = nanos / nanosPerUnit;
    let times = 0;
    while (value % 1024n === 0n) {
      value /= 1024n;
      times++;
    }
    return `${value}${binarySuffixOf[times] ?? ''}`;
  }
  let mantissa = nanos;
  let exponent = -9;
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    exponent++;
  }
  while (exponent % 3 !== 0) {
    mantissa *= 10n;
    exponent--;
  }
  if (format === 'DecimalExponent') return exponent === 0 ? `${mantissa}` : `${mantissa}e${exponent}`;
  const suffix = decimalSuffixOf.get(exponent);
  return suffix === undefined ? undefined : `${mantissa}${suffix}`;
}

const isDigit = (ch: string | undefined): boolean => ch !== undefined && ch >= '0' && ch <= '9';

const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;
