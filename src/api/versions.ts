// Kaspr versions and their images, as the original operator publishes them. `spec.image` overrides the table;
// without it, `spec.version` (or the default) must be listed here. A new Kaspr release is one row here (newest
// first) and, when it becomes the default, `defaultKasprVersion` (see the user guide, "Kaspr versions");
// tools/images/build.sh reads both lines to name the test stand-in of the default image, so keep their format.

export interface KasprVersion {
  readonly version: string;
  readonly image: string;
}

export const kasprVersions: readonly KasprVersion[] = [
  { version: '0.11.19', image: 'kasprio/kaspr:0.11.19' },
  { version: '0.11.18', image: 'kasprio/kaspr:0.11.18' },
  { version: '0.11.17', image: 'kasprio/kaspr:0.11.17' },
  { version: '0.11.16', image: 'kasprio/kaspr:0.11.16' },
  { version: '0.11.15', image: 'kasprio/kaspr:0.11.15' },
  { version: '0.11.14', image: 'kasprio/kaspr:0.11.14' },
  { version: '0.11.13', image: 'kasprio/kaspr:0.11.13' },
  { version: '0.11.12', image: 'kasprio/kaspr:0.11.12' },
  { version: '0.11.11', image: 'kasprio/kaspr:0.11.11' },
  { version: '0.11.9', image: 'kasprio/kaspr:0.11.9' },
  { version: '0.11.8', image: 'kasprio/kaspr:0.11.8' },
  { version: '0.11.7', image: 'kasprio/kaspr:0.11.7' },
  { version: '0.11.6', image: 'kasprio/kaspr:0.11.6' },
  { version: '0.11.5', image: 'kasprio/kaspr:0.11.5' },
  { version: '0.11.4', image: 'kasprio/kaspr:0.11.4' },
  { version: '0.11.2', image: 'kasprio/kaspr:0.11.2' },
  { version: '0.10.6', image: 'kasprio/kaspr:0.10.6' },
  { version: '0.10.5', image: 'kasprio/kaspr:0.10.5-alpha' },
  { version: '0.10.4', image: 'kasprio/kaspr:0.10.4-alpha' },
  { version: '0.10.3', image: 'kasprio/kaspr:0.10.3-alpha' },
  { version: '0.10.2', image: 'kasprio/kaspr:0.10.2-alpha' },
  { version: '0.10.1', image: 'kasprio/kaspr:0.10.1-alpha' },
  { version: '0.9.1', image: 'kasprio/kaspr:0.9.1-alpha' },
];

export const defaultKasprVersion = '0.11.19';

export function findKasprVersion(version: string): KasprVersion | undefined {
  return kasprVersions.find((v) => v.version === version);
}
