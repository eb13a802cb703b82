"""Stand-in for the Kaspr app (kasprio/kaspr), which cannot be pulled here: it proves what a real app would need
from its pod, namely that the distributions the operator installed are importable from the PYTHONPATH it was given.

For every directory in PYTHONPATH it finds the distributions installed there, imports each one's top-level modules,
logs one line per distribution, then serves the same report as JSON on GET / and /healthz on 0.0.0.0:$K_WEB_PORT
(default 6065; 0 picks a free port, which the log names). A failed import is reported, not fatal: the app stays up
so a test can read why. SIGTERM ends it at once (as PID 1, a signal without a handler would be ignored).
"""
import importlib
import importlib.metadata
import json
import os
import signal
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = 'kaspr-standin:'


def log(message):
    print(f'{PREFIX} {message}', flush=True)


def top_level_modules(dist):
    listed = dist.read_text('top_level.txt')
    if listed is not None:
        names = [line.strip().replace('/', '.') for line in listed.splitlines()]
        return sorted({name for name in names if name})
    names = set()
    for path in dist.files or []:
        first = path.parts[0]
        if first.endswith(('.dist-info', '.egg-info', '.data')) or first in ('..', '__pycache__'):
            continue
        if len(path.parts) == 1:
            if first.endswith('.py'):
                names.add(first[:-3])
            elif first.endswith('.so'):
                names.add(first.split('.', 1)[0])
        else:
            names.add(first)
    return sorted(names)


def inspect(directory):
    report = []
    dists = importlib.metadata.distributions(path=[directory])
    for dist in sorted(dists, key=lambda d: (d.metadata['Name'] or '').lower()):
        entry = {'name': dist.metadata['Name'], 'version': dist.version, 'path': directory, 'modules': [],
                 'error': None}
        try:
            for name in top_level_modules(dist):
                module = importlib.import_module(name)
                entry['modules'].append({'name': name, 'file': getattr(module, '__file__', None)})
        except BaseException as error:  # an imported module may raise anything, SystemExit included
            entry['error'] = ''.join(traceback.format_exception_only(type(error), error)).strip()
        report.append(entry)
    return report


def main():
    directories = [d for d in os.environ.get('PYTHONPATH', '').split(os.pathsep) if d]
    distributions = [entry for directory in directories for entry in inspect(directory)]
    failed = [d for d in distributions if d['error'] is not None]
    for d in distributions:
        if d['error'] is None:
            log(f'imported {d["name"]}=={d["version"]} from {d["path"]}')
        else:
            log(f'FAILED to import {d["name"]}=={d["version"]} from {d["path"]}: {d["error"]}')
    report = json.dumps({
        'python': sys.version.split()[0],
        'pythonpath': directories,
        'distributions': distributions,
        'imported': len(distributions) - len(failed),
        'failed': len(failed),
    }, indent=2).encode() + b'\n'

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path not in ('/', '/healthz'):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(report)))
            self.end_headers()
            self.wfile.write(report)

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(('0.0.0.0', int(os.environ.get('K_WEB_PORT') or 6065)), Handler)
    server.daemon_threads = True

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f'{len(distributions) - len(failed)} distribution(s) imported, {len(failed)} failed, from '
        f'{len(directories)} PYTHONPATH director{"y" if len(directories) == 1 else "ies"}; '
        f'serving on 0.0.0.0:{server.server_address[1]}')
    try:
        server.serve_forever()
    finally:
        server.server_close()
        log('stopped')


if __name__ == '__main__':
    main()
