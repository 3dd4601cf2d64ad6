"""``pdloss study serve``: run the study app under a multi-threaded WSGI server.

The server is waitress (a pure-Python production WSGI server: a thread pool behind an
asynchronous front end that buffers whole requests, bounds request sizes and copes with slow
clients) when it is installed. Without it the app falls back to werkzeug's threaded server,
which is adequate on a lab network for a few dozen raters but is not hardened; a message says
so. Either way each request opens its own SQLite connection, and every write is a short
``BEGIN IMMEDIATE`` transaction, so concurrency is bounded by SQLite's single writer, not by
the server.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pdloss.errors import InputError
from pdloss.study.app import create_app

ADMIN_TOKEN_ENV = "PDLOSS_STUDY_ADMIN_TOKEN"


def serve(
    folder: str | Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    threads: int = 8,
    rate_limit: float = 50.0,
    server: str = "auto",
    secure_cookie: bool = False,
) -> None:
    """Serve the study until interrupted. Prints the rater link and the admin link (with token)."""
    admin_token = os.environ.get(ADMIN_TOKEN_ENV) or None
    app = create_app(folder, admin_token=admin_token, rate_limit=rate_limit, secure_cookie=secure_cookie)
    token = app.config["ADMIN_TOKEN"]
    fell_back = False
    if server == "auto":
        try:
            import waitress  # noqa: F401

            server = "waitress"
        except ImportError:
            server, fell_back = "werkzeug", True
    if server == "waitress":
        import logging

        from waitress.server import create_server

        # waitress warns "Task queue depth is N" for every queued request: under a burst of raters
        # that is tens of thousands of lines (which once filled an undrained pipe and stalled the
        # server). Queueing is normal here; keep its errors only.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)

        wsgi = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="pdloss-study",
            max_request_body_size=64 * 1024,
            max_request_header_size=32 * 1024,
            connection_limit=256,
            channel_timeout=60,
            clear_untrusted_proxy_headers=True,
        )
        actual_port = wsgi.effective_port
        run = wsgi.run
    elif server == "werkzeug":
        from werkzeug.serving import make_server

        if fell_back:
            print(
                "pdloss study: waitress is not installed; using werkzeug's threaded server "
                "(pip install waitress for a hardened one)",
                file=sys.stderr,
            )
        wsgi = make_server(host, port, app, threaded=True)
        actual_port = wsgi.server_port
        run = wsgi.serve_forever
    else:
        raise InputError(f"--server must be auto, waitress or werkzeug, got {server!r}")
    shown_host = f"[{host}]" if ":" in host else host
    base = f"http://{shown_host}:{actual_port}"
    print(f"pdloss study: serving {Path(folder)} with {server} on {base}", flush=True)
    print(f"  raters:  {base}/", flush=True)
    print(f"  admin:   {base}/admin?token={token}", flush=True)
    print(f"  report:  {base}/admin/report.md?token={token}", flush=True)
    try:
        run()
    except KeyboardInterrupt:
        pass
    finally:
        if server == "waitress":
            wsgi.close()
        else:
            wsgi.server_close()
