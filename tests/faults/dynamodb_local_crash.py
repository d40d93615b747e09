#!/usr/bin/env python3
"""Does DynamoDB Local, on disk, keep every write it acknowledged when its process dies?

No SupportZen code is involved: 16 threads send two-item TransactWriteItems (or single
PutItems) straight to DynamoDB Local's JSON API, remembering every key answered with
200; after 4 s the process gets the signal, the threads go on sending until it has
exited (so a write answered while it shuts down counts too), it is started again on the
same files, and a consistent Scan shows which acknowledged keys are missing and whether
any transaction is half there. tests/faults/run leaves DynamoDB Local running and fails
the store in a proxy instead, because of what this finds (docs/security.md)."""

import argparse
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TABLE = "crash"


def free_port():
    """A port free now, below the ephemeral range (scripts/free-port says why)."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "free-port")
    return int(subprocess.check_output([script], text=True))


class DynamoDBLocal:
    def __init__(self, path):
        self.port = free_port()
        self.command = ["env", f"DYNAMODB_LOCAL_DB_PATH={path}", os.path.join(ROOT, "scripts", "dynamodb-local"), str(self.port)]
        self.process = None

    def start(self):
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("DynamoDB Local did not start")

    def call(self, target, body, timeout=5):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}", data=json.dumps(body).encode(), method="POST", headers={
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"DynamoDB_20120810.{target}",
            "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)


def one_run(operation, signal_number):
    with tempfile.TemporaryDirectory() as path:
        db = DynamoDBLocal(path)
        try:
            return load_kill_and_check(db, operation, signal_number)
        finally:
            if db.process and db.process.poll() is None:
                db.process.kill()
                db.process.wait()


def load_kill_and_check(db, operation, signal_number):
    db.start()
    db.call("CreateTable", {"TableName": TABLE, "BillingMode": "PAY_PER_REQUEST",
                            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]})
    acknowledged, lock, stop = {}, threading.Lock(), threading.Event()

    def put(key):
        return {"Put": {"TableName": TABLE, "Item": {"pk": {"S": key}}, "ConditionExpression": "attribute_not_exists(pk)"}}

    def writer(n):
        sent = 0
        while not stop.is_set():
            sent += 1
            key = f"{n}-{sent}"
            try:
                if operation == "transact":
                    db.call("TransactWriteItems", {"TransactItems": [put(key), put(key + "-pair")]})
                else:
                    db.call("PutItem", put(key)["Put"])
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
                continue
            with lock:
                acknowledged[key] = time.monotonic()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(4)
    signalled = time.monotonic()
    db.process.send_signal(signal_number)
    db.process.wait()
    stop.set()
    for thread in threads:
        thread.join()
    db.start()
    stored, start = set(), None
    while True:
        page = db.call("Scan", {"TableName": TABLE, "ConsistentRead": True} | ({"ExclusiveStartKey": start} if start else {}), timeout=30)
        stored |= {item["pk"]["S"] for item in page["Items"]}
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    db.process.terminate()
    db.process.wait()
    lost = {key: at - signalled for key, at in acknowledged.items() if key not in stored}
    half = [key for key in stored if operation == "transact" and not key.endswith("-pair") and key + "-pair" not in stored]
    return len(acknowledged), lost, half


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operation", choices=["transact", "put"], default="transact")
    parser.add_argument("--signal", choices=["KILL", "TERM"], default="KILL")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    signal_number = getattr(signal, f"SIG{args.signal}")
    runs_with_loss = 0
    for run in range(1, args.runs + 1):
        count, lost, half = one_run(args.operation, signal_number)
        runs_with_loss += bool(lost)
        when = ", ".join(f"{key} answered {at * 1000:+.1f} ms from the signal" for key, at in lost.items())
        print(f"run {run}: {args.operation}, SIG{args.signal}: acknowledged {count}, lost {len(lost)}"
              f"{' (' + when + ')' if lost else ''}, half-written transactions {len(half)}")
    print(f"{runs_with_loss} of {args.runs} runs lost an acknowledged write")


main()
