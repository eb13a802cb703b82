#!/usr/bin/env python3
"""Resolve the Debian packages an image needs: the Depends/PreDepends closure of the seed packages, not entering
the excluded ones, as apt's candidate versions.

usage: aptclosure.py --exclude PKG[,PKG...] NAME=SEED[,SEED...]...

Prints, for each NAME in turn, one line per package of its closure, sorted: "<name> <package> <deb file name>
<sha256>", from `apt-get download --print-uris`, so the output names exact versions and contents and can serve as a
cache key.

Why not `apt-cache depends --recurse`: it follows every alternative and every provider of a virtual package, and
cannot stop at a package, so excluding perl or dpkg afterwards still leaves what only they needed.
"""
import re
import subprocess
import sys

DEPENDS = re.compile(r'^ (\|| )(Pre)?Depends: (.+)$')


def apt_depends(packages):
    """{package: [[alternative, ...], ...]} where an alternative is (name, [providers]) and providers is non-empty
    only for a virtual package."""
    out = subprocess.run(
        ['apt-cache', 'depends', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks',
         '--no-replaces', '--no-enhances', *packages],
        check=True, capture_output=True, text=True).stdout
    deps = {}
    current = None
    group_open = False
    for line in out.splitlines():
        if not line.startswith(' '):
            current = deps.setdefault(line.strip(), [])
            group_open = False
            continue
        m = DEPENDS.match(line)
        if m:
            alternative = (m.group(3), [])
            if group_open:
                current[-1].append(alternative)
            else:
                current.append([alternative])
            group_open = m.group(1) == '|'
        elif line.startswith('    ') and current and current[-1]:
            current[-1][-1][1].append(line.strip())
    return deps


def plain(name):
    return name.split(':', 1)[0].strip('<>')


def choose(group, excluded):
    """apt's own choice is the first installable alternative; a virtual one is satisfied by its first provider."""
    for name, providers in group:
        if name.startswith('<'):
            for provider in providers:
                if plain(provider) not in excluded:
                    return plain(provider)
        elif plain(name) not in excluded:
            return plain(name)
    return None


def main():
    args = sys.argv[1:]
    excluded = set()
    if len(args) >= 2 and args[0] == '--exclude':
        excluded = {p for p in args[1].split(',') if p}
        args = args[2:]
    sets = {}
    for arg in args:
        if '=' not in arg:
            sys.exit(__doc__)
        name, seeds = arg.split('=', 1)
        sets[name] = set(seeds.split(','))
    if not sets:
        sys.exit(__doc__)
    graph = {}
    seen = {name: set(seeds) for name, seeds in sets.items()}
    frontiers = {name: set(seeds) for name, seeds in sets.items()}
    while any(frontiers.values()):
        # One apt-cache run per level for all the sets: each run costs apt's start-up, about a second.
        wanted = sorted(set().union(*frontiers.values()) - graph.keys())
        if wanted:
            graph.update(apt_depends(wanted))
        for name, frontier in frontiers.items():
            found = {choose(group, excluded) for package in frontier for group in graph.get(package, [])}
            found.discard(None)
            frontiers[name] = found - seen[name]
            seen[name] |= found
    everything = sorted(set().union(*seen.values()))
    out = subprocess.run(['apt-get', 'download', '--print-uris', *everything],
                         check=True, capture_output=True, text=True).stdout
    files = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 4 or not parts[3].startswith('SHA256:'):
            sys.exit(f'aptclosure.py: unexpected apt-get --print-uris line: {line!r}')
        filename = parts[1]
        files[filename.split('_', 1)[0]] = f'{filename} {parts[3][len("SHA256:"):]}'
    missing = set(everything) - files.keys()
    if missing:
        sys.exit(f'aptclosure.py: apt-get printed no file for {", ".join(sorted(missing))}')
    for name in sets:
        for package in sorted(seen[name]):
            print(f'{name} {package} {files[package]}')


if __name__ == '__main__':
    main()
