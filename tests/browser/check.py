"""Drives headless Chromium against `supportzen serve`: a page served from one local port
calls the API on another, as a browser front end does. Run by tests/browser/run.

Two servers are started on one SQLite file each. The first allows local pages (the
default): the page must open a chat, read its x-request-id, get the same answer again for
a retry (Idempotent-Replayed), attach a picture it draws (uploaded from its origin to the
server's /files with the signed form) and show it back from the message's link, and read
Retry-After from a 503 when the database is held
locked. The second allows only another origin: the browser must refuse the page the answer.

usage: check.py SUPPORTZEN_BINARY CHROMIUM
"""

import http.server
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
SUPPORTZEN, CHROMIUM = sys.argv[1], sys.argv[2]
SECONDS = 60


class Page(http.server.ThreadingHTTPServer):
    """Serves page.html, locks the database when the page asks, and takes its result."""

    def __init__(self, database):
        super().__init__(("127.0.0.1", 0), PageHandler)
        self.database = database
        self.lock = None
        self.result = None
        self.done = threading.Event()


class PageHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", kind="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with open(os.path.join(HERE, "page.html"), "rb") as page:
            self.reply(200, page.read(), "text/html")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        if self.path == "/lock":
            # Hold SQLite's write lock: the server's next write waits out its busy timeout
            # and answers 503 with Retry-After.
            self.server.lock = sqlite3.connect(
                self.server.database, isolation_level=None, check_same_thread=False
            )
            self.server.lock.execute("BEGIN IMMEDIATE")
            self.reply(204)
        elif self.path == "/result":
            self.server.result = json.loads(body)
            self.reply(204)
            self.server.done.set()
        else:
            self.reply(404)


def serve(database, *cors_args):
    """Starts `supportzen serve` on a fresh SQLite file; returns the process and its URL."""
    server = subprocess.Popen(
        [SUPPORTZEN, "serve", "--listen", "127.0.0.1:0", "--store", f"sqlite:{database}",
         "--agent-key", f"{database}.agent-key.pem", "--files", f"{database}.files", *cors_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = server.stdout.readline().strip()
    if not line.startswith("listening on "):
        server.kill()
        raise SystemExit(f"supportzen serve did not start: {line!r}")
    return server, line.removeprefix("listening on ")


def browse(work, cors_args):
    """Loads the page in Chromium against a server started with `cors_args`; returns what
    the page reported."""
    database = os.path.join(work, f"api-{len(os.listdir(work))}.db")
    server, api = serve(database, *cors_args)
    page = Page(database)
    threading.Thread(target=page.serve_forever, daemon=True).start()
    token = subprocess.run(
        [SUPPORTZEN, "sign", "--email", "ann@example.com", "--secret", "browser-secret"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    url = f"http://127.0.0.1:{page.server_address[1]}/#api={api}&token={token}"
    profile = tempfile.mkdtemp(dir=work)
    browser = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", f"--user-data-dir={profile}", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        if not page.done.wait(SECONDS):
            raise SystemExit(f"the page reported nothing within {SECONDS} s")
        return page.result
    finally:
        browser.kill()
        browser.wait()
        page.shutdown()
        if page.lock is not None:
            page.lock.close()
        server.kill()
        server.wait()


def check(condition, message, result):
    if not condition:
        raise SystemExit(f"FAILED: {message}\n{json.dumps(result, indent=2)}")
    print(f"ok: {message}")


def main():
    with tempfile.TemporaryDirectory() as work:
        result = browse(work, [])
        check("error" not in result, "the page's calls to the API were allowed", result)
        created, replayed, busy = result["created"], result["replayed"], result["busy"]
        check(created["status"] == 200 and created["body"]["data"]["chatId"].startswith("chat-"),
              "the page opened a chat", result)
        check(bool(created["requestId"]), "the page read x-request-id", result)
        check(replayed["replayed"] == "true" and replayed["body"] == created["body"],
              "the page read Idempotent-Replayed on a retry", result)
        attachment = result["attachment"]
        check(attachment["declared"] == 200 and attachment["stored"] == 204,
              "the page uploaded a file from its origin with the signed form", result)
        check(attachment["attached"] == 200 and attachment["files"][0]["name"] == "drawn.png",
              "the page attached it to a message", result)
        check(attachment["shown"] == {"width": 3, "height": 2},
              "the page showed the picture back from its link", result)
        check(busy["status"] == 503 and busy["body"]["error"]["code"] == "unavailable",
              "a locked store answered 503", result)
        check(busy["retryAfter"] == "1", "the page read Retry-After from the 503", result)

        refused = browse(work, ["--cors-origin", "http://app.example.com"])
        check("error" in refused and "fetch" in refused["error"].lower(),
              "a page on an origin not allowed was refused the answer", refused)
    print("2 passed, 0 failed")


main()
