"""Clients sending messages while the store goes down and comes back, then freezes and
thaws (tests/faults/proxy.py does both); then a check of what was stored. Run by
tests/faults/run, which starts the services; see its header.

Each client behaves as the README tells a client to: every request carries an
Idempotency-Key, and a request that got a 503 or no answer is sent again, with the same
key and body, until it gets a 200. So every message a client means to send is either
acknowledged or still being retried when the run ends."""

import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

if len(sys.argv) != 5:
    asked = sys.argv[1:2] in (["-h"], ["--help"])
    print(__doc__ + "\n    usage: python3 tests/faults/load.py API_BASE DYNAMODB_URL TABLE PROXY_PID",
          file=sys.stdout if asked else sys.stderr)
    sys.exit(0 if asked else 2)
BASE, DYNAMODB, TABLE, PROXY_PID = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
CLIENTS, SECONDS, TIMEOUT = 16, 18.0, 10.0
DOWN_SECONDS, FREEZE_SECONDS = 2.0, 3.0
SECRET = b"fault-secret"

lock = threading.Lock()
statuses = {}          # status -> count
hangs = 0
missing_retry_after = 0
replayed = 0           # 200s that repeated an earlier answer
acknowledged = {}      # chat id -> {message id: (text, when its answered attempt was sent, when the 200 came)}
events = {}            # fault name -> monotonic time


def post(path, email, key, body):
    """POSTs a signed request; returns (status, parsed body, headers) or None on a timeout."""
    token = hmac.new(SECRET, email.encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, json.load(response), response.headers
    except urllib.error.HTTPError as err:
        return err.code, json.load(err), err.headers
    except (TimeoutError, urllib.error.URLError):
        return None


def record(result):
    global hangs, missing_retry_after, replayed
    with lock:
        if result is None:
            hangs += 1
            return
        status, _, headers = result
        statuses[status] = statuses.get(status, 0) + 1
        if status == 503 and not headers.get("Retry-After"):
            missing_retry_after += 1
        if status == 200 and headers.get("Idempotent-Replayed") == "true":
            replayed += 1


def until_answered(path, email, body, stop):
    """Sends one request until it gets a 200, as a retrying client does; returns the
    answer and when the answered attempt was sent, or None if stopped."""
    key = str(uuid.uuid4())
    while not stop.is_set():
        sent_at = time.monotonic()
        result = post(path, email, key, body)
        record(result)
        if result and result[0] == 200:
            return result[1]["data"], sent_at
        if result and result[0] != 503:
            return None  # a client error: record() counted it, retrying cannot help
        time.sleep(0.2)
    return None


def client(n, stop):
    email = f"client{n}@example.com"
    opened = until_answered("/api/client/live/create", email,
                            {"email": email, "created_at": 1679223400, "message": "hello"}, stop)
    if opened is None:
        return
    chat = opened[0]["chatId"]
    with lock:
        acknowledged[chat] = {}
    sent = 0
    while not stop.is_set():
        sent += 1
        text = f"{n}-{sent}"
        answered = until_answered("/api/client/live/chat", email, {"chat_id": chat, "email": email, "message": text}, stop)
        if answered is not None:
            answer, sent_at = answered
            with lock:
                acknowledged[chat][answer["messageId"]] = (text, sent_at, time.monotonic())


def dynamodb(target, body):
    """DynamoDB Local's JSON API; it does not check signatures."""
    request = urllib.request.Request(DYNAMODB, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"DynamoDB_20120810.{target}",
        "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def all_items():
    items, start = [], None
    while True:
        body = {"TableName": TABLE, "ConsistentRead": True} | ({"ExclusiveStartKey": start} if start else {})
        page = dynamodb("Scan", body)  # a check of the whole table, in this script only
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def signal_proxy(signal_number):
    try:
        os.kill(PROXY_PID, signal_number)
    except ProcessLookupError:
        raise SystemExit(f"FAIL: the proxy (process {PROXY_PID}) is gone; its log is printed below") from None


def fault(signal_number, seconds, started, ended):
    """Turns one of the proxy's faults on for `seconds` (its signal toggles it), noting
    when under the names `started` and `ended`."""
    events[started] = time.monotonic()
    signal_proxy(signal_number)
    time.sleep(seconds)
    signal_proxy(signal_number)
    events[ended] = time.monotonic()


def faults():
    """At a third of the run, take the store down (its connections reset, new ones
    refused) for 2 s; at two thirds, freeze it (connections open, nothing answers) for
    3 s."""
    time.sleep(SECONDS / 3)
    fault(signal.SIGUSR1, DOWN_SECONDS, "down", "back")
    time.sleep(SECONDS / 3 - DOWN_SECONDS)
    fault(signal.SIGUSR2, FREEZE_SECONDS, "frozen", "thawed")
    time.sleep(SECONDS / 3 - FREEZE_SECONDS)


def check():
    stop = threading.Event()
    threads = [threading.Thread(target=client, args=(n, stop)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        faults()
    finally:  # the clients stop whatever happened to the faults
        stop.set()
        for thread in threads:
            thread.join()

    items = all_items()
    by_conversation = {}
    for item in items:
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if pk.startswith("CONV#"):
            by_conversation.setdefault(pk[5:], []).append(item)
    problems = []
    for chat, chat_items in by_conversation.items():
        sks = [item["sk"]["S"] for item in chat_items]
        if "META" not in sks or not any(sk.startswith("MSG#") for sk in sks):
            problems.append(f"{chat} is half-created: {sorted(sks)}")
    total = lost = 0
    for chat, acks in acknowledged.items():
        stored = {item["sk"]["S"][4:]: item["body"]["S"] for item in by_conversation.get(chat, [])
                  if item["sk"]["S"].startswith("MSG#")}
        texts = list(stored.values())
        total += len(acks)
        for message_id, (text, _, at) in acks.items():
            if message_id not in stored:
                lost += 1
                when = ", ".join(f"{at - t:+.3f} s after {name}" for name, t in events.items())
                problems.append(f"{chat}: acknowledged message {message_id} ({text!r}, {when}) is not stored")
        duplicated = {t for t in texts if texts.count(t) > 1}
        if duplicated:
            problems.append(f"{chat}: stored more than once: {sorted(duplicated)}")
    print(f"clients: {CLIENTS}, seconds: {SECONDS:.0f}, faults: the store down (connections reset, new ones refused) "
          f"for {DOWN_SECONDS:.0f} s, then frozen for {FREEZE_SECONDS:.0f} s")
    print(f"responses by status: {dict(sorted(statuses.items()))}; timeouts (>{TIMEOUT:.0f} s): {hangs}; "
          f"answers repeated for a retry: {replayed}")
    print(f"acknowledged messages: {total}; lost: {lost}; conversations: {len(by_conversation)}; "
          f"503s without Retry-After: {missing_retry_after}")
    if statuses.get(500, 0):
        problems.append(f"{statuses[500]} responses were 500")
    if hangs:
        problems.append(f"{hangs} requests hung")
    if missing_retry_after:
        problems.append(f"{missing_retry_after} 503s lacked Retry-After")
    if total == 0:
        problems.append("no message was acknowledged: the load never got through")
    # A message sent before a fault can be answered 200 during it (its write committed,
    # and what follows it waited on the store): recovery is a message sent after it.
    for name, start, end in [("back", events["back"], events["frozen"]), ("thawed", events["thawed"], float("inf"))]:
        if not any(start < sent < end for acks in acknowledged.values() for _, sent, _ in acks.values()):
            problems.append(f"no message sent after the store was {name} was acknowledged: it never recovered")
    if not statuses.get(503):
        problems.append("no 503 seen: the faults did not reach the clients")
    for problem in problems:
        print("FAIL:", problem)
    sys.exit(1 if problems else 0)


check()
