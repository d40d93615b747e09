"""The sample events replayed through the release bootstraps under AWS's Lambda Runtime
Interface Emulator. Run by tests/rie/run, which builds the bootstraps and starts DynamoDB
Local and one emulator per function; see its header.

  replay.py seed CLI TABLE
      The state events/README.md describes, as cli/tests/cli/events.rs builds it: both demo
      users and the first two tickets through the `supportzen` binary CLI, then demo's
      chat, which no command creates (chat ids are random), written straight into
      DynamoDB Local ($AWS_ENDPOINT_URL_DYNAMODB) with the items the Rust store writes.
      First it checks, on a scratch table TABLE-layout, that those items are still
      exactly what the store writes for a chat live-create opens.

  replay.py replay FUNCTION=URL...
      Every file in events/ POSTed, in events/expected.json's order, to the emulator of the
      function expected.json names, and its Lambda proxy response checked against it, as
      cli/tests/cli/events.rs checks `supportzen invoke`. Then the WebSocket API's two
      functions on events/realtime/ (see replay_websocket), against table $RIE_TABLE.
      One line per file, then `N passed, M failed`; exits 1 on any failure, after showing
      the failing functions' logs from $RIE_LOG_DIR/FUNCTION.log if set.

Talks to 127.0.0.1 only."""

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

EVENTS = Path(__file__).resolve().parent.parent.parent / "events"
# The chat the sample events address, owned by the demo user (cli/tests/cli/events.rs).
SEEDED_CHAT = "chat-019aa6f0-0000-7000-8000-000000000001"
DEMO = ("demo@example.com", "demo-secret")
OTHER = ("other@example.com", "other-secret")
# The profile events.rs gives the seeded chat's create: no name or plan, this account age.
ACCOUNT_CREATED_AT = 1_679_223_400
ENVELOPE_KEYS = ["status", "message", "data", "error"]
REPLAYED_HEADER = "idempotent-replayed"


# --- seeding ---------------------------------------------------------------------------

def cli(binary, *args):
    """Runs the supportzen CLI as events.rs does (without TRUST_FIRST_REQUEST); its stdout."""
    env = {k: v for k, v in os.environ.items() if k != "TRUST_FIRST_REQUEST"}
    done = subprocess.run([binary, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"supportzen {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
    return done.stdout


def seed_ticket(binary, store, file, ticket):
    response = json.loads(cli(binary, "invoke", "ticket-create", str(EVENTS / file), "--store", store))
    got = json.loads(response["body"])["data"]["ticketId"]
    if got != ticket:
        sys.exit(f"seeding: {file} created {got}, not {ticket}: the table was not empty")


def uuid7():
    """A UUIDv7 (time-ordered, as the store's MessageId::generate), hyphenated."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    value = value & ~(0xF << 76) | 0x7 << 76          # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62          # RFC 4122 variant
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def dynamodb(target, body):
    """One DynamoDB JSON API call to DynamoDB Local. It requires an Authorization header
    whose credential scope parses but does not check the signature."""
    endpoint = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
    day = time.strftime("%Y%m%d", time.gmtime())
    region = os.environ.get("AWS_REGION", "us-east-1")
    key = os.environ.get("AWS_ACCESS_KEY_ID", "local")
    request = urllib.request.Request(
        endpoint.rstrip("/") + "/",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{target}",
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential={key}/{day}/{region}/dynamodb/aws4_request, "
                f"SignedHeaders=content-type;host;x-amz-target, Signature={'0' * 64}"
            ),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        sys.exit(f"DynamoDB Local {target}: {err.code} {err.read().decode(errors='replace')}")


def S(value):
    return {"S": value}


def N(value):
    return {"N": str(value)}


PREVIEW_CHARS = 200  # shared/src/store/conversations.rs
INBOX_SHARDS = 1  # template.yaml's InboxShards default (shared/src/dynamo/items.rs)


def inbox_shard(conversation):
    """items.rs's InboxShards::of: the first byte of the id's SHA-256, modulo INBOX_SHARDS."""
    return hashlib.sha256(conversation.encode()).digest()[0] % INBOX_SHARDS


def chat_items(chat, owner, message_id, text, sent_at):
    """The META and first-message items DynamoStore::create_conversation writes for a new
    chat (ConversationItem::new and MessageItem::new in shared/src/dynamo/conversations.rs,
    keys from items.rs), for a customer's message without image or client message id:
    open, unassigned, in its inbox shard and the unassigned one."""
    activity = f"{sent_at:013d}#{chat}"
    shard = inbox_shard(chat)
    conversation = {
        "pk": S(f"CONV#{chat}"),
        "sk": S("META"),
        "id": S(chat),
        "kind": S("chat"),
        "owner": S(owner),
        "open": {"BOOL": True},
        "status": S("open"),
        "created_at": N(sent_at),
        "last_activity_at": N(sent_at),
        "gsi1pk": S(f"USER#{owner}"),
        "gsi1sk": S(f"chat#{activity}"),
        "gsi2pk": S(f"INBOX#chat#{shard}"),
        "gsi2sk": S(f"open#{activity}"),
        "gsi3pk": S(f"UNASSIGNED#chat#{shard}"),
        "gsi3sk": S(f"open#{activity}"),
        "last_message_id": S(message_id),
        "last_message_author": S("customer"),
        "last_message_preview": S(text[:PREVIEW_CHARS]),
        # The read counters (docs/data-model.md, "Read marks"): the first message is the
        # customer's.
        "customer_messages": N(1),
        "agent_replies": N(0),
    }
    message = {
        "pk": S(f"CONV#{chat}"),
        "sk": S(f"MSG#{message_id}"),
        "id": S(message_id),
        "author": S("customer"),
        "body": S(text),
        "sent_at": N(sent_at),
    }
    return conversation, message


def check_layout(binary, table, owner, secret):
    """Fails unless chat_items builds exactly what the Rust store writes: on a scratch
    table, a chat opened with live-create.json through the CLI is compared, item for item,
    with chat_items of the same id, message id, text and time."""
    store = f"dynamodb:{table}"
    cli(binary, "table", "create", "--store", store)
    cli(binary, "users", "put", "--email", owner, "--secret", secret, "--grace-hours", "0", "--store", store)
    response = json.loads(cli(binary, "invoke", "live-create", str(EVENTS / "live-create.json"), "--store", store))
    chat = json.loads(response["body"])["data"]["chatId"]
    request = json.loads(json.loads((EVENTS / "live-create.json").read_text())["body"])
    text = request.get("data", request)["message"]
    stored = dynamodb("Query", {
        "TableName": table, "ConsistentRead": True,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": S(f"CONV#{chat}")},
    })["Items"]
    # The agents' notice (NOTICE#MESSAGES: an email if no agent reads the message in
    # time, docs/due-work.md) is the due work's, not the chat's: the seeded chats leave it
    # out, as a chat opened before notices has none.
    notices = [item for item in stored if item["sk"]["S"] == "NOTICE#MESSAGES"]
    chat_items_stored = [item for item in stored if item not in notices]
    written = {item["sk"]["S"].split("#")[0]: item for item in chat_items_stored}
    if sorted(written) != ["META", "MSG"] or len(chat_items_stored) != 2 or len(notices) > 1:
        sys.exit(f"layout check: live-create wrote {stored}, not one META and one MSG item (and at most one agents' notice)")
    message = written["MSG"]
    built = chat_items(chat, owner, message["id"]["S"], text, int(message["sent_at"]["N"]))
    for mine, theirs in zip(built, (written["META"], message)):
        if mine != theirs:
            differ = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
            sys.exit(
                "tests/rie/replay.py's chat_items no longer matches what the Rust store writes "
                f"(shared/src/dynamo/conversations.rs); attributes differing: {differ}\n"
                f"  store wrote:  {theirs}\n  replay.py has: {mine}"
            )
    dynamodb("DeleteTable", {"TableName": table})


def seed_chat(table, chat, owner):
    """What DynamoStore::create_conversation writes for a known owner, in one transaction
    and with its conditions: the owner's profile refreshed (users.rs, owner_action, a
    profile without name or plan), the open chat and its first message."""
    now = time.time_ns() // 1_000_000
    conversation, message = chat_items(chat, owner, f"msg-{uuid7()}", "Hello!", now)
    new = "attribute_not_exists(pk)"
    dynamodb("TransactWriteItems", {"TransactItems": [
        {"Update": {
            "TableName": table,
            "Key": {"pk": S(f"USER#{owner}"), "sk": S("PROFILE")},
            "UpdateExpression": "SET account_created_at = :created, updated_at = :now",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {":created": N(ACCOUNT_CREATED_AT), ":now": N(now)},
        }},
        {"Put": {"TableName": table, "Item": conversation, "ConditionExpression": new}},
        {"Put": {"TableName": table, "Item": message, "ConditionExpression": new}},
    ]})


def seed(binary, table):
    check_layout(binary, f"{table}-layout", *DEMO)
    store = f"dynamodb:{table}"
    for email, secret in (DEMO, OTHER):
        cli(binary, "users", "put", "--email", email, "--secret", secret,
            "--grace-hours", "0", "--store", store)
    seed_ticket(binary, store, "ticket-create.json", "TKT-001")
    seed_ticket(binary, store, "ticket-create-other-user.json", "TKT-002")
    seed_chat(table, SEEDED_CHAT, DEMO[0])
    print(f"seeded {table}: {DEMO[0]} and {OTHER[0]}, TKT-001, TKT-002, {SEEDED_CHAT}")


# --- replay ----------------------------------------------------------------------------

def invoke(url, file):
    """POSTs an event to an emulator: (status, headers, body) of the Lambda proxy response."""
    request = urllib.request.Request(url, data=(EVENTS / file).read_bytes(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        raw = answer.read()
    try:
        response = json.loads(raw)
        body = response["body"]
        if response.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        return response["statusCode"], headers, body
    except (ValueError, KeyError, TypeError) as err:
        raise Failure(f"not a Lambda proxy response ({err!r}): {raw[:2000].decode(errors='replace')}")


class Failure(Exception):
    pass


def check(file, expectation, status, headers, text):
    """The checks of events.rs's replay_all, on one response."""
    if "contentType" in expectation:
        # A page (the unsubscribe link's): its status, type, CSP and the text it holds.
        if status != expectation["status"]:
            raise Failure(f"{status}, expected {expectation['status']}: {text}")
        if not (headers.get("content-type") or "").startswith(expectation["contentType"]):
            raise Failure(f"content-type {headers.get('content-type')!r}: {text}")
        if "default-src 'none'" not in (headers.get("content-security-policy") or ""):
            raise Failure(f"no strict content-security-policy: {headers}")
        for wanted in expectation.get("contains", []):
            if wanted not in text:
                raise Failure(f"{wanted!r} not in the page: {text}")
        return None
    try:
        body = json.loads(text)
    except ValueError:
        raise Failure(f"{status}, body is not JSON: {text}")
    if status != expectation["status"]:
        raise Failure(f"{status}, expected {expectation['status']}: {text}")
    if headers.get("content-type") != "application/json":
        raise Failure(f"content-type {headers.get('content-type')!r}: {text}")
    if not isinstance(body, dict) or list(body) != ENVELOPE_KEYS:
        raise Failure(f"envelope keys are not {ENVELOPE_KEYS}: {text}")
    if status == 200:
        if body["status"] != "success" or not isinstance(body["data"], dict) or body["error"] is not None:
            raise Failure(f"not a success envelope: {text}")
    else:
        if body["status"] != "error" or body["data"] is not None or not isinstance(body["error"], dict):
            raise Failure(f"not an error envelope: {text}")
        if body["error"].get("code") != expectation.get("code"):
            raise Failure(f"error.code {body['error'].get('code')!r}, expected {expectation.get('code')!r}: {text}")
    if "field" in expectation and (body.get("error") or {}).get("field") != expectation["field"]:
        raise Failure(f"error.field is not {expectation['field']!r}: {text}")
    # The `data` fields an expectation names have those values; the rest may vary.
    for key, value in (expectation.get("data") or {}).items():
        if body["data"].get(key) != value:
            raise Failure(f"data.{key} is {body['data'].get(key)!r}, expected {value!r}: {text}")
    return body


def invoke_event(url, event):
    """POSTs an event (a dict) to an emulator: the function's answer, parsed. A function
    error comes back as {"errorType", "errorMessage"}."""
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return json.loads(err.read())


def realtime_event(file, **changes):
    """An events/realtime/ file, with requestContext fields replaced."""
    event = json.loads((EVENTS / "realtime" / file).read_text())
    event["requestContext"].update(changes)
    return event


def connection_items(table, email):
    """The connection items listed for customer `email` (shared/src/dynamo/items.rs's
    watch_pk), read strongly consistent."""
    return dynamodb("Query", {
        "TableName": table, "ConsistentRead": True,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": S(f"WATCH#CUSTOMER#{email}")},
    })["Items"]


def replay_websocket(urls, table):
    """The WebSocket API's functions on events/realtime/, against the seeded table: a
    ticket issued by realtime-ticket.json opens ws-authorize.json exactly once (a second
    redemption and a malformed ticket are Unauthorized); ws-connection-connect.json lists
    the connection, ws-connection-disconnect.json unlists it, and a $connect without the
    authorizer's context is refused. Yields (name, failure or None)."""
    now = time.time_ns() // 1_000_000
    status, _, text = invoke(urls["realtime-ticket"], "realtime-ticket.json")
    ticket = json.loads(text)["data"]["ticket"] if status == 200 else None
    yield "realtime-ticket.json issues a ticket", None if ticket else f"{status}: {text}"
    if not ticket:
        return

    authorize = realtime_event("ws-authorize.json")
    authorize["queryStringParameters"]["ticket"] = ticket
    authorize["multiValueQueryStringParameters"]["ticket"] = [ticket]
    answer = invoke_event(urls["ws-authorize"], authorize)
    statement = (answer.get("policyDocument") or {}).get("Statement") or [{}]
    allowed = (
        statement[0].get("Effect") == "Allow"
        and statement[0].get("Resource") == [authorize["methodArn"]]
        and answer.get("context") == {"subscriberKind": "customer", "subscriberId": DEMO[0]}
    )
    yield "ws-authorize.json with that ticket -> Allow, demo in the context", None if allowed else answer
    answer = invoke_event(urls["ws-authorize"], authorize)
    refused = answer.get("errorMessage") == "Unauthorized"
    yield "ws-authorize.json again -> Unauthorized (single use)", None if refused else answer
    answer = invoke_event(urls["ws-authorize"], realtime_event("ws-authorize-malformed-ticket.json"))
    refused = answer.get("errorMessage") == "Unauthorized"
    yield "ws-authorize-malformed-ticket.json -> Unauthorized", None if refused else answer

    connection = authorize["requestContext"]["connectionId"]
    connect = realtime_event("ws-connection-connect.json", connectedAt=now)
    answer = invoke_event(urls["ws-connection"], connect)
    listed = [i["sk"]["S"] for i in connection_items(table, DEMO[0])]
    ok = answer.get("statusCode") == 200 and listed == [f"CONN#{connection}"]
    yield "ws-connection-connect.json -> 200, the connection listed", None if ok else (answer, listed)
    answer = invoke_event(urls["ws-connection"], realtime_event("ws-connection-disconnect.json", connectedAt=now))
    listed = connection_items(table, DEMO[0])
    ok = answer.get("statusCode") == 200 and listed == []
    yield "ws-connection-disconnect.json -> 200, unlisted", None if ok else (answer, listed)
    answer = invoke_event(urls["ws-connection"], realtime_event("ws-connection-connect-no-authorizer.json", connectedAt=now))
    ok = answer.get("statusCode") == 403 and connection_items(table, DEMO[0]) == []
    yield "ws-connection-connect-no-authorizer.json -> 403, nothing listed", None if ok else answer


def replay(urls):
    """Replays every file; True if all passed. On a failure, the failing functions' logs
    (emulator and bootstrap, $RIE_LOG_DIR/FUNCTION.log) go to stderr before the summary."""
    expected = json.loads((EVENTS / "expected.json").read_text())
    files = sorted(p.name for p in EVENTS.glob("*.json") if p.name != "expected.json")
    passed = failed = 0
    failing = []
    if files != sorted(expected):
        print(f"FAILED: events/ and expected.json disagree: files {files}, expectations {sorted(expected)}")
        failed += 1
    for file, expectation in expected.items():
        function = expectation["function"]
        try:
            if function not in urls:
                raise Failure(f"expected.json names function {function!r}, not in functions/")
            status, headers, text = invoke(urls[function], file)
            body = check(file, expectation, status, headers, text)
            note = ""
            # An event with an Idempotency-Key, invoked again, is a retry: the same answer.
            if "twice" in expectation:
                again, again_headers, again_text = invoke(urls[function], file)
                if (again, json.loads(again_text)) != (status, body):
                    raise Failure(f"invoked again: {again} {again_text}, first {status} {text}")
                if again_headers.get(REPLAYED_HEADER) != "true":
                    raise Failure(f"invoked again: the same answer but no `{REPLAYED_HEADER}: true` header")
                note = ", invoked again -> the same answer (replayed)"
            print(f"ok: {file} -> {status}{note}", flush=True)
            passed += 1
        except (Failure, OSError) as err:
            print(f"FAILED: {file} ({function}): {err}", flush=True)
            failed += 1
            failing.append(function)
    table = os.environ.get("RIE_TABLE")
    if table and {"realtime-ticket", "ws-authorize", "ws-connection"} <= urls.keys():
        try:
            for name, failure in replay_websocket(urls, table):
                if failure is None:
                    print(f"ok: {name}", flush=True)
                    passed += 1
                else:
                    print(f"FAILED: {name}: {failure}", flush=True)
                    failed += 1
                    failing.extend(["ws-authorize", "ws-connection"])
        except (OSError, ValueError, KeyError) as err:
            print(f"FAILED: the WebSocket functions: {err!r}", flush=True)
            failed += 1
            failing.extend(["ws-authorize", "ws-connection"])
    else:
        print("FAILED: RIE_TABLE unset or the WebSocket functions missing: not replayed")
        failed += 1
    # The scheduler's event: a sweep of the seeded table, where nothing is due yet (the
    # agent's snooze, the reply notice and the customer messages' agents' notices are in
    # the future): a report of nothing done.
    if "due-work" in urls:
        event = json.loads((EVENTS / "scheduled" / "due-work.json").read_text())
        try:
            answer = invoke_event(urls["due-work"], event)
            counts = ["woken", "emailed", "read", "unsubscribed", "failed", "skipped",
                      "agents_emailed", "no_address"]
            if isinstance(answer, dict) and all(answer.get(k) == 0 for k in counts):
                print("ok: scheduled/due-work.json -> a sweep, nothing due", flush=True)
                passed += 1
            else:
                print(f"FAILED: scheduled/due-work.json: {answer}", flush=True)
                failed += 1
                failing.append("due-work")
        except (OSError, ValueError) as err:
            print(f"FAILED: scheduled/due-work.json: {err!r}", flush=True)
            failed += 1
            failing.append("due-work")
    logs = os.environ.get("RIE_LOG_DIR")
    for function in dict.fromkeys(failing) if logs else ():
        log = Path(logs) / f"{function}.log"
        if log.exists():
            print(f"--- {function}: emulator and bootstrap log\n{log.read_text(errors='replace')}",
                  file=sys.stderr, flush=True)
    print(f"{passed} passed, {failed} failed")
    return failed == 0


def main(argv):
    if len(argv) == 3 and argv[0] == "seed":
        seed(argv[1], argv[2])
        return 0
    if len(argv) >= 2 and argv[0] == "replay" and all("=" in a for a in argv[1:]):
        return 0 if replay(dict(a.split("=", 1) for a in argv[1:])) else 1
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
