"""Schemathesis hook: authenticates every generated request as its caller would.

Customer operations (security scheme hmac) are signed as a client app signs them, with
Authorization: Bearer hex(HMAC-SHA256(secret, the email exactly as sent)): the body's for
the POST routes, the X-SupportZen-Email header's for the GET routes. The server runs with
trust-on-first-use, so each new email is pinned to its first (correct) token and later
requests for it authenticate.

Agent operations (security scheme agentJwt) carry the agent token in the environment
variable SUPPORTZEN_AGENT_TOKEN (`run` mints one with both scopes), so that they are
exercised past the authorizer.

`python3 signing_hook.py BASE_URL` seeds the server before a run: one customer's ticket
(TKT-001, the id the agent operations' examples name) and chat, each with a message."""

import hashlib
import hmac
import json
import os
import sys
import urllib.request

import schemathesis

SECRET = b"schemathesis-secret"
AGENT_TOKEN_VARIABLE = "SUPPORTZEN_AGENT_TOKEN"


def _email(body):
    if not isinstance(body, dict):
        return None
    fields = body["data"] if isinstance(body.get("data"), dict) else body
    email = fields.get("email")
    return email if isinstance(email, str) else None


def _header_email(headers):
    for name, value in (headers or {}).items():
        if name.lower() == "x-supportzen-email" and isinstance(value, str):
            return value
    return None


def _sign(email):
    return hmac.new(SECRET, email.encode(), hashlib.sha256).hexdigest()


def _schemes(case):
    """The security schemes the operation accepts."""
    requirements = case.operation.definition.raw.get("security") or []
    return {name for requirement in requirements for name in requirement}


def _agent_token():
    token = os.environ.get(AGENT_TOKEN_VARIABLE)
    if not token:
        raise RuntimeError(f"{AGENT_TOKEN_VARIABLE} is not set: run tests/schemathesis/run")
    return token


@schemathesis.hook
def before_call(context, case, kwargs):
    if "agentJwt" in _schemes(case):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {_agent_token()}"}
        return
    email = _email(case.body) or _header_email(case.headers)
    if email is not None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {_sign(email)}"}


def seed(base_url):
    """Opens a ticket and a chat for one customer, so that the agent operations' example
    id (TKT-001) names a conversation; prints their ids."""
    email = "seed@example.com"
    for route in ("/api/client/ticket/create", "/api/client/live/create"):
        body = {"email": email, "created_at": 1700000000, "message": "Seeded by tests/schemathesis/run"}
        request = urllib.request.Request(
            base_url + route,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {_sign(email)}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            data = json.load(response)["data"]
        print("seeded", route, *data.values())


if __name__ == "__main__":
    seed(sys.argv[1])
