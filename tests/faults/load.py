"""Clients sending messages while DynamoDB is killed and restarted, then a check of
what was stored. Run by tests/faults/run, which starts the services; see its header."""

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BASE, DYNAMODB, TABLE, DB_PID, START_DB = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
CLIENTS, SECONDS, TIMEOUT = 16, 12.0, 10.0
SECRET = b"fault-secret"

lock = threading.Lock()
statuses = {}          # status -> count
hangs = 0
missing_retry_after = 0
acknowledged = {}      # chat id -> set of message ids answered with 200


def post(path, email, body):
    """POSTs a signed request; returns (status, parsed body, headers) or None on a timeout."""
    token = hmac.new(SECRET, email.encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, json.load(response), response.headers
    except urllib.error.HTTPError as err:
        return err.code, json.load(err), err.headers
    except (TimeoutError, urllib.error.URLError):
        return None


def record(result):
    global hangs, missing_retry_after
    with lock:
        if result is None:
            hangs += 1
            return
        status, _, headers = result
        statuses[status] = statuses.get(status, 0) + 1
        if status == 503 and not headers.get("Retry-After"):
            missing_retry_after += 1


def client(n, stop):
    email = f"client{n}@example.com"
    chat = None
    while chat is None and not stop.is_set():
        result = post("/api/client/live/create", email, {"email": email, "created_at": 1679223400, "message": "hello"})
        record(result)
        if result and result[0] == 200:
            chat = result[1]["data"]["chatId"]
        else:
            time.sleep(0.2)
    if chat is None:
        return
    with lock:
        acknowledged[chat] = set()
    sent = 0
    while not stop.is_set():
        sent += 1
        result = post("/api/client/live/chat", email, {"chat_id": chat, "email": email, "message": f"{n}-{sent}"})
        record(result)
        if result and result[0] == 200:
            with lock:
                acknowledged[chat].add(result[1]["data"]["messageId"])
        else:
            time.sleep(0.2)


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
        body = {"TableName": TABLE} | ({"ExclusiveStartKey": start} if start else {})
        page = dynamodb("Scan", body)  # a check of the whole table, in this script only
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def main():
    stop = threading.Event()
    threads = [threading.Thread(target=client, args=(n, stop)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(SECONDS / 3)
    os.kill(DB_PID, signal.SIGKILL)                # the fault: DynamoDB disappears mid-load
    time.sleep(2)
    database = subprocess.Popen(START_DB)          # and comes back with its data
    time.sleep(SECONDS * 2 / 3)
    stop.set()
    for thread in threads:
        thread.join()

    items = all_items()
    database.terminate()
    try:
        database.wait(timeout=15)
    except subprocess.TimeoutExpired:
        database.kill()
        database.wait()
    by_conversation = {}
    for item in items:
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if pk.startswith("CONV#"):
            by_conversation.setdefault(pk[5:], []).append(sk)
    problems = []
    for chat, sks in by_conversation.items():
        if "META" not in sks or not any(sk.startswith("MSG#") for sk in sks):
            problems.append(f"{chat} is half-created: {sorted(sks)}")
    total = 0
    for chat, ids in acknowledged.items():
        stored = [sk[4:] for sk in by_conversation.get(chat, []) if sk.startswith("MSG#")]
        total += len(ids)
        lost = ids - set(stored)
        if lost:
            problems.append(f"{chat}: {len(lost)} acknowledged messages missing")
        if len(stored) != len(set(stored)):
            problems.append(f"{chat}: a message is stored twice")
    print(f"clients: {CLIENTS}, seconds: {SECONDS:.0f}, faults: DynamoDB Local killed once (SIGKILL) and restarted")
    print(f"responses by status: {dict(sorted(statuses.items()))}; timeouts (>{TIMEOUT:.0f} s): {hangs}")
    print(f"acknowledged messages: {total}; lost: {sum(len(acknowledged[c] - {sk[4:] for sk in by_conversation.get(c, [])}) for c in acknowledged)}; "
          f"conversations: {len(by_conversation)}; 503s without Retry-After: {missing_retry_after}")
    if statuses.get(500, 0):
        problems.append(f"{statuses[500]} responses were 500")
    if hangs:
        problems.append(f"{hangs} requests hung")
    if missing_retry_after:
        problems.append(f"{missing_retry_after} 503s lacked Retry-After")
    if total == 0:
        problems.append("no message was acknowledged: the load never got through")
    if not statuses.get(503):
        problems.append("no 503 seen: the fault did not reach the clients")
    for problem in problems:
        print("FAIL:", problem)
    sys.exit(1 if problems else 0)


main()
