"""The Optuna dashboard child process of `samplegan ui`, serving the harness's study storage.

Run as ``python -m harness.ui.dashboard --port PORT`` with the storage URL in
$SAMPLEGAN_STORAGE: the environment, not the command line, because `ps` shows
every process's arguments and a PostgreSQL URL may hold a password. The storage
is opened by `harness.study.optuna_storage.open_storage`, so a journal file is locked
the way the study workers lock it; `optuna-dashboard FILE.journal` would use
Optuna's default symlink lock, which does not exclude the workers' open-file lock
when the dashboard writes (notes, trial states set from the page).
"""

from __future__ import annotations

import argparse
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server

from harness.study.optuna_storage import open_storage


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """One thread per request: the page fetches many files at once."""

    daemon_threads = True  # an open browser connection must not hold up SIGTERM


def main(argv: list[str] | None = None) -> None:
    """Serve the dashboard on HOST:PORT until the process is terminated.

    Args:
        argv: Command-line arguments (``--host``, ``--port``); None reads `sys.argv`.
    """
    import optuna_dashboard

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="Interface to bind.")
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on.")
    args = parser.parse_args(argv)
    app = optuna_dashboard.wsgi(open_storage().optuna)
    server = make_server(args.host, args.port, app, server_class=_ThreadingWSGIServer)
    print(f"Optuna dashboard listening on http://{args.host}:{args.port}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
