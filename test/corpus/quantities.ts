// Quantities shared by the unit test (our parser and canonical form) and the integration test, which sends every
// accepted one to the real kube-apiserver and compares the string it stores with ours, and every refused one to see
// it refused there too. Non-negative only: the apiserver field that takes them all (a ResourceQuota's hard limits)
// refuses negative values whatever their form.

/** Accepted by the apiserver and by us: strings as written in a manifest, numbers as JSON numbers. */
export const acceptedQuantities: readonly (string | number)[] = [
  ...['0', '1', '100m', '0.5', '0.0005', '500u', '1n', '1u', '1m', '1k', '1M', '1G', '1T', '1P', '1E', '999E'],
  ...['1Ki', '1Mi', '1Gi', '1Ti', '1Pi', '1Ei', '8Ei', '1024Mi', '1000M', '1536Mi', '1.5Gi', '0.5Gi', '3Ki', '8Ki'],
  ...['1025Ki', '256Mi', '1.1Gi', '.001Ki', '.000000000001Ki', '0.5Ki', '1.5Ki', '1023', '1024', '2048'],
  ...['.5', '5.', '1.', '+1', '007', '1.500', '1.5k', '1500', '0.1', '0.10', '10.0', '100', '1000', '0.000'],
  ...['12e6', '1e3', '1E3', '1e+3', '1e-3', '2.5e-7', '1e-10', '0.0000000001', '1e0', '0e5', '0Mi', '-0', '1e1000'],
  ...['123456789012345678', '1234567890123456789', '100000000000000000000', '9223372036854775807Ei', '1.000001k'],
  ...['e3', 'Mi', '.', '+', ' 2Gi '],
  ...[0, 1, 0.0005, 2.5, 1e21, 1e-7, 1536, 0.1],
];

/** Refused by the apiserver and by us. */
export const refusedQuantities: readonly string[] = [
  ...['abc', '1 Gi', '1K', '1ki', '1mi', '1KiB', '1e', '1e1.5', '1e+', '--1', '+-1', '1.2.3', '1Gi1', '1b'],
  ...['0x10', '1,5', '1_000', '1e3Mi', '1Mie3', 'Infinity', '1i', '1.5.Gi'],
];

/**
 * Accepted by the apiserver but refused by us, on purpose: decimal values of 1000E and more come back from the
 * apiserver without their suffix (a far smaller number), and exponents beyond ±1000 serve no resource.
 */
export const refusedThoughAccepted: readonly string[] = ['1000E', '1e1001'];
