// Versions and requirement strings, valid and invalid, that test/script/pep440-differential.test.ts gives both to our
// parser (src/packages/requirement.ts, pep440.ts) and to the `packaging` library pip vendors.

export const versions: readonly string[] = [
  ...['1', '1.0', '2.0.0', '1.0rc1', '1.0-RC1', '1.0.rc.1', '1.0_rc_1', 'v1.0', 'V1.0', '01.02.003', '1!2.0'],
  ...['0!1.0', '1.0a', '1.0alpha1', '1.0b2', '1.0beta2', '1.0c3', '1.0pre3', '1.0preview3', '1.0-1', '1.0post'],
  ...['1.0.post1', '1.0-post-1', '1.0rev2', '1.0r', '1.0dev', '1.0.dev0', '1.0-dev-3', '1.0a1.post2.dev3'],
  ...['1.0+local', '1.0+Ubuntu-01', '1.0+a.b_c-d', '1.0+007', ' 1.0 ', '2023.10.01', '41.0.0rc1', '1.0A1'],
  // Not versions.
  ...['', 'one', '1.0-', '1.0+', '1.0++x', '1..0', '.1', '1.0.', 'v', '1.0-foo', '1.0+lo+cal', '1.0 rc1', '1-0'],
  ...['1.0.*', '=1.0', '1.0a1b1', '1,0', '1.0post1dev1x'],
];

export const requirements: readonly string[] = [
  ...['requests', 'Requests>=2.0', 'requests>=2.28,<3', 'Requests[Security, SOCKS] >= 2.0 , <3'],
  ...['requests (>=2.0, <3.0)', 'numpy~=1.26.0', 'pandas===2.1.4', 'Django>=4.2,!=4.2.1,<5.0'],
  ...['foo>=1.0-RC1', 'foo>=1.0rc1', 'foo==V01.02-alpha.3', 'foo!=1.0-1', 'foo<2.0dev', 'foo==1.0+Ubuntu-01'],
  ...['foo==v1.0.*', 'foo!=2.*', 'foo~=1.4.RC2', 'foo>=0!1.0_rev', 'foo===1.0-RC1', 'zope.interface==6.1'],
  ...['typing_extensions>=4.0', 'torch==2.1.0+cpu', 'grpcio>=1.60.0.dev0', 'x>1.0.post1'],
  ...['urllib3<2; python_version < "3.10"', "importlib-metadata>=4.6; python_version<'3.10'"],
  ...['uvloop; sys_platform != "win32" and implementation_name == "cpython"'],
  ...['aiokafka; python_version >= "3.8" and (platform_machine == "x86_64" or platform_machine == "aarch64")'],
  ...['foo; python_version in "3.10 3.11"', 'foo; "3.8" not in python_version'],
  ...['pip @ https://github.com/pypa/pip/archive/22.0.2.zip', 'mypkg @ git+https://git.example.com/mypkg.git@v1'],
  ...['mypkg @ https://files.example.com/mypkg-1.0.tar.gz ; python_version >= "3.8"'],
  // Invalid for both.
  ...['requests==', 'requests=2.0', 'requests~=2', 'requests>=1.0.*', 'requests<1.0+local', 'requests[security'],
  ...['requests; python_version == "3.8', 'requests==2.0; ', '', 'requests; os == "linux"', '-r x.txt'],
  ...['foo>=1.0-', 'foo==1..0', 'foo!=1.0.*.*', 'foo~=1.0.*', 'foo>=1.0 rc1', 'foo<=1.0+x'],
];

/**
 * Requirement strings pip's packaging accepts and we refuse on purpose: they would reach pip as data that can
 * run code or read the installer's environment, or they fail only later, during the install (user guide,
 * "Requirement strings").
 */
export const refusedOnPurpose: readonly string[] = [
  'requests===${VERSION}',
  'requests; python_version == "`id`"',
  'pkg @ file:///etc/passwd',
  'pkg @ https://user:pass@host.example/x.whl',
  'x; platform_release ~= "a"',
  'requests===1.0~',
];
