"""A webhook receiver for tests/api/webhooks.rs that checks every delivery with the
`standardwebhooks` package (pip install standardwebhooks), the specification's own
Python library, not SupportZen's code.

It listens on 127.0.0.1, on the port in the PORT environment variable (by default a free
one), prints {"listening": PORT} first, then one JSON line per request: {"verified": true, "id": <webhook-id>, "payload": <the parsed body>}
and answers 204, or {"verified": false, "id": ..., "error": ...} and answers 400.
The endpoint's secret (whsec_...) comes in the WEBHOOK_SECRET environment variable.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["WEBHOOK_SECRET"])


def report(line):
    print(json.dumps(line), flush=True)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {name: value for name, value in self.headers.items()}
        try:
            payload = webhook.verify(body, headers)
        except (WebhookVerificationError, ValueError) as err:
            report({"verified": False, "id": self.headers.get("webhook-id"), "error": str(err)})
            status = 400
        else:
            report({"verified": True, "id": self.headers["webhook-id"], "payload": payload})
            status = 204
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass  # stdout carries the report lines only


server = HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "0"))), Handler)
report({"listening": server.server_address[1]})
try:
    server.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
