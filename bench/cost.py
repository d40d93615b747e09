#!/usr/bin/env python3
"""The monthly AWS bill of a SupportZen desk, recomputed from bench/cost-inputs.json.

Prints the tables of docs/cost.md: the cost of one request per route, the monthly bill
at three sizes (list prices, then after the always-free tiers), the cost per 1,000
messages and the line that dominates, and the seat prices of other desks for the same
teams. Every figure comes from the JSON file, each with its source; nothing is fetched.
The stack's counts in it (functions, alarm metrics, dashboards, counters) are checked
against template.yaml and shared/src/metrics.rs by --check and --update.

  python3 bench/cost.py                    print the tables (Markdown)
  python3 bench/cost.py --check docs/cost.md
                                           exit 1 unless the document's tables are
                                           exactly what the script prints now, and
                                           the stack's counts in the inputs (functions,
                                           alarm metrics, dashboards, counters) are
                                           those of template.yaml and shared/src/metrics.rs
  python3 bench/cost.py --update docs/cost.md
                                           rewrite the document's tables in place

Standard library only.
"""

import argparse
import difflib
import json
import math
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_INPUTS = HERE / "cost-inputs.json"
TEMPLATE = HERE.parent / "template.yaml"
METRICS_RS = HERE.parent / "shared" / "src" / "metrics.rs"
GIB = 1024**3

# The order of the bill's lines.
LINES = [
    ("lambda_requests", "Lambda requests"),
    ("lambda_duration", "Lambda duration (256 MB, x86_64)"),
    ("http_api", "API Gateway HTTP API requests"),
    ("ws_messages", "API Gateway WebSocket messages"),
    ("ws_minutes", "API Gateway WebSocket connection minutes"),
    ("dynamodb_writes", "DynamoDB on-demand writes"),
    ("dynamodb_reads", "DynamoDB on-demand reads"),
    ("kms", "KMS requests for the table's key (upper bound)"),
    ("sqs", "SQS (webhook queue)"),
    ("scheduler", "EventBridge Scheduler (due-work, every minute)"),
    ("ses", "SES v2 emails (unread replies)"),
    ("logs", "CloudWatch Logs ingestion"),
    ("xray", "X-Ray traces recorded (every invocation: upper bound)"),
    ("alarms", "CloudWatch alarms"),
    ("custom_metrics", "CloudWatch custom metrics"),
    ("dashboard", "CloudWatch dashboard"),
    ("s3", "S3 (attachments)"),
    ("cognito", "Cognito (agents' user pool)"),
]

# Lines that cost the same every month whatever the traffic.
FIXED = ("alarms", "custom_metrics", "dashboard")


def check_sources(inputs):
    """Every figure names where it comes from: a source, or why it was assumed."""
    missing = []
    for section in ("prices", "free_tiers", "measured", "assumptions"):
        for name, entry in inputs[section].items():
            if not (entry.get("source") or entry.get("why")):
                missing.append(f"{section}.{name}")
    for name, route in inputs["routes"].items():
        if not route.get("source"):
            missing.append(f"routes.{name}")
    for seat in inputs["seats"]:
        if not seat.get("source"):
            missing.append(f"seats.{seat['product']} {seat['plan']}")
    if not inputs.get("sizes_why"):
        missing.append("sizes_why")
    if not inputs["stack"].get("source"):
        missing.append("stack")
    if missing:
        raise ValueError("figures without a source or a reason: " + ", ".join(missing))


def stack_counts(template_text, metrics_rs_text):
    """What the stack deploys, counted from template.yaml and shared/src/metrics.rs."""
    resources = template_text.split("\nResources:\n", 1)[1].split("\nOutputs:\n", 1)[0]
    blocks = re.split(r"\n(?=  [A-Za-z0-9]+:\n)", resources)
    counts = {"functions": 0, "alarm_metrics": 0, "dashboards": 0}
    for block in blocks:
        kind = re.match(r"\s*[A-Za-z0-9]+:\n    Type: (\S+)", block)
        if not kind:
            continue
        if kind.group(1) == "AWS::Serverless::Function":
            counts["functions"] += 1
        elif kind.group(1) == "AWS::CloudWatch::Alarm":
            # A metric-math alarm is billed for each metric it references; one without
            # Metrics watches a single metric.
            counts["alarm_metrics"] += block.count("MetricStat:") or 1
        elif kind.group(1) == "AWS::CloudWatch::Dashboard":
            counts["dashboards"] += 1
    counters = re.search(r"pub const ALL: \[Counter; (\d+)\]", metrics_rs_text)
    counts["custom_metrics"] = int(counters.group(1)) if counters else 0
    return counts


def stack_drift(inputs, template=TEMPLATE, metrics_rs=METRICS_RS):
    """Differences between the inputs' stack counts and the repository's."""
    counted = stack_counts(template.read_text(encoding="utf-8"),
                           metrics_rs.read_text(encoding="utf-8"))
    return [f"stack.{k}: inputs say {inputs['stack'][k]}, {template.name}/{metrics_rs.name} give {v}"
            for k, v in counted.items() if inputs["stack"][k] != v]


class Model:
    def __init__(self, inputs):
        check_sources(inputs)
        self.i = inputs
        self.p = {k: v["usd"] / v["per"] for k, v in inputs["prices"].items()}
        self.a = {k: v["value"] for k, v in inputs["assumptions"].items() if "value" in v}
        self.kb = inputs["assumptions"]["item_kb"]
        self.emf = inputs["assumptions"]["emf_lines"]
        self.m = {k: v["value"] for k, v in inputs["measured"].items()}
        self.stack = inputs["stack"]

    # --- DynamoDB units -----------------------------------------------------------------

    def count(self, value, agents):
        if isinstance(value, (int, float)):
            return value
        if value == "agents":
            return agents
        return self.a[value]

    def units(self, route, agents):
        """(read units, write units) of one call of the route."""
        reads = writes = 0.0
        for call in self.i["routes"][route]["calls"]:
            op = call["op"]
            if op in ("GetItem", "BatchGetItem"):
                factor = 1.0 if call["read"] == "strong" else 0.5
                # A batch is billed item by item, each rounded up to 4 KB.
                for item in call.get("items", [call.get("item")]):
                    reads += math.ceil(self.kb[item] / 4) * factor
            elif op == "Query":
                factor = 1.0 if call["read"] == "strong" else 0.5
                kb = self.kb[call["item"]] * self.count(call["count"], agents)
                # A query is billed on the items it reads, rounded up to 4 KB, at least one unit.
                reads += max(1, math.ceil(kb / 4)) * factor * call.get("times", 1)
            elif op == "TransactWrite":
                writes += sum(2 * math.ceil(self.kb[item]) for item in call["items"])
            elif op in ("PutItem", "UpdateItem", "DeleteItem"):
                writes += math.ceil(self.kb[call["item"]])
            elif op == "IndexPut":
                writes += call["indexes"] * math.ceil(self.kb[call["item"]])
            elif op == "IndexMove":
                writes += call["indexes"] * 2 * math.ceil(self.kb[call["item"]])
            else:
                raise ValueError(f"{route}: unknown op {op}")
        return reads, writes

    # --- Lambda duration ----------------------------------------------------------------

    def posts(self, route, agents):
        """Sockets one call of the route posts to (PostToConnection, 32 at a time)."""
        audience = self.i["routes"][route].get("posts")
        return {None: 0, "everyone": agents + 1, "agents": agents, "customer": 1}[audience]

    def cpu_ms(self):
        return self.m["warm_p50_ms_upper"] * self.a["vcpu_mb"] / self.a["memory_mb"]

    def billed_ms(self, route, agents, cold):
        spec = self.i["routes"][route]
        trips = spec["round_trips"]
        trips += math.ceil(self.posts(route, agents) / 32)  # PostToConnection, 32 at a time
        if spec.get("webhooks") and self.a["webhook_endpoints"] > 0:
            trips += 1  # SendMessageBatch
        ms = self.cpu_ms() + trips * self.a["dynamodb_round_trip_ms"]
        if "extra_ms" in spec:
            ms += self.a[spec["extra_ms"]]
        if cold:
            ms += self.a["cold_start_extra_ms"]
        return math.ceil(ms)  # Lambda rounds duration up to the millisecond

    # --- one invocation -----------------------------------------------------------------

    def invocation(self, route, agents, cold):
        """Cost lines of one invocation of the route's function (and its entry)."""
        spec = self.i["routes"][route]
        reads, writes = self.units(route, agents)
        gb = self.a["memory_mb"] / 1024
        c = dict.fromkeys((k for k, _ in LINES), 0.0)
        if spec["entry"] == "attachment":
            # The declaration is its own HTTP request and invocation (two round trips);
            # the check runs inside the message's invocation and adds four (the uploads'
            # BatchGetItem, then S3's HEAD, ranged GET and PUT ?tagging).
            rtt = self.a["dynamodb_round_trip_ms"]
            declare = self.cpu_ms() + 2 * rtt + (self.a["cold_start_extra_ms"] if cold else 0)
            ms = math.ceil(declare) + math.ceil(4 * rtt)
            c["lambda_requests"] = self.p["lambda_request"]
            c["lambda_duration"] = gb * ms / 1000 * self.p["lambda_gb_second_x86"]
            c["http_api"] = self.p["http_api_request"]
            mb = self.a["attachment_mb"]
            c["s3"] = (2 * self.p["s3_put_request"]  # POST upload, PUT ?tagging
                       + 4 * self.p["s3_get_request"]  # HEAD, ranged GET, two downloads
                       + mb / 1024 * self.p["s3_storage_gb_month"])
            log_lines = 1
            touches_dynamodb = True
        elif spec["entry"] == "notice":
            # A notice is handled inside a due-work sweep's invocation: it adds that
            # invocation's time for its calls (and SES's), not a request or a trace.
            rtt = self.a["dynamodb_round_trip_ms"]
            ms = math.ceil(self.cpu_ms() + (spec["round_trips"] + 1) * rtt)
            c["lambda_duration"] = gb * ms / 1000 * self.p["lambda_gb_second_x86"]
            emailed = self.a["notices_emailed_share"]
            c["ses"] = emailed * self.p["ses_email"]
            c["dynamodb_reads"] = reads * self.p["dynamodb_read_request_unit"]
            c["dynamodb_writes"] = writes * self.p["dynamodb_write_request_unit"]
            # One log line per email sent ("unread-replies email sent").
            c["logs"] = emailed * self.a["log_line_bytes"] / GIB * self.p["cloudwatch_logs_ingest_gb"]
            return c
        else:
            ms = self.billed_ms(route, agents, cold)
            c["lambda_requests"] = self.p["lambda_request"]
            c["lambda_duration"] = gb * ms / 1000 * self.p["lambda_gb_second_x86"]
            log_lines = spec.get("log_lines", 0) + self.emf.get(route, 0)
            if spec["entry"] == "http":
                c["http_api"] = self.p["http_api_request"]
                log_lines += 1  # the HTTP API's access log
            if spec["entry"] == "schedule":
                c["scheduler"] = self.p["scheduler_invocation"]
            if spec.get("ws_route"):
                # A route of the WebSocket API: its access-log line, and the message in
                # (a frame; $connect and $disconnect as the assumption says).
                log_lines += self.a["websocket_access_log_lines"]
                if route != "ws-connection" or self.a["websocket_connect_counts_as_message"]:
                    c["ws_messages"] = self.p["websocket_message"]
            touches_dynamodb = bool(spec["calls"])
            c["ws_messages"] += self.posts(route, agents) * self.p["websocket_message"]
            endpoints = self.a["webhook_endpoints"]
            if spec.get("webhooks") and endpoints:
                # SendMessageBatch, then the mapping's receive and delete.
                c["sqs"] = (math.ceil(endpoints / 10) + 2 * endpoints) * self.p["sqs_request"]
        c["dynamodb_reads"] = reads * self.p["dynamodb_read_request_unit"]
        c["dynamodb_writes"] = writes * self.p["dynamodb_write_request_unit"]
        c["logs"] = log_lines * self.a["log_line_bytes"] / GIB * self.p["cloudwatch_logs_ingest_gb"]
        if self.a["every_invocation_traced"]:
            c["xray"] = self.p["xray_trace_recorded"]  # one trace per invocation
        if cold and touches_dynamodb:
            # A new environment's connection: DynamoDB decrypts the table key again.
            c["kms"] = self.a["kms_decrypt_per_cold_invocation"] * self.p["kms_request"]
        return c

    # --- a month ------------------------------------------------------------------------

    def calls_per_month(self, conversations, agents):
        a = self.a
        messages = conversations * 10
        customer = a["customer_messages_per_conversation"]
        replies = conversations * (10 - customer)
        keyed = a["agent_replies_keyed_share"]
        connects = agents * a["working_days_per_month"] * a["agent_hours_per_day"] / a["agent_reconnect_hours"]
        sockets = conversations + connects
        marks = conversations * (a["customer_read_marks_per_conversation"] + a["agent_read_marks_per_conversation"])
        ratings = conversations * a["ratings_per_conversation"]
        notices = conversations * a["notices_per_conversation"]
        frames = a["typing_frames_per_message"]
        create, follow = ("live-create", "live-chat") if a["conversation_kind"] == "chat" else ("ticket-create", "ticket-append")
        return {
            create: conversations,
            follow: conversations * (customer - 1),
            "agent-reply": replies * (1 - keyed),
            "agent-reply (Idempotency-Key)": replies * keyed,
            "conversation-read": conversations * a["customer_read_marks_per_conversation"],
            "agent-read": conversations * a["agent_read_marks_per_conversation"],
            "conversation-rating": ratings,
            "agent-customer": conversations * a["agent_customer_lookups_per_conversation"],
            "agent-inbox": conversations * a["agent_reads_per_conversation"],
            "agent-messages": conversations * a["agent_reads_per_conversation"],
            "realtime-ticket": conversations,
            "agent-realtime-ticket": connects,
            "ws-authorize": sockets,
            "ws-connection": 2 * sockets,
            "events-stream": messages * a["events_stream_invocations_per_message"],
            "events-stream (read mark, rating)": marks + ratings,
            "events-stream (notice taken)": notices,
            "webhook-deliver": messages * a["webhook_endpoints"],
            "ws-typing (customer)": conversations * customer * frames,
            "ws-typing (agent)": replies * frames,
            "due-work (sweep)": a["due_work_sweeps_per_month"],
            "unread-reply notice": notices,
            "attachment (1 file)": conversations * a["attachments_per_conversation"],
        }

    def month(self, conversations, agents):
        cold = self.a["every_invocation_cold"]
        bill = dict.fromkeys((k for k, _ in LINES), 0.0)
        calls = self.calls_per_month(conversations, agents)
        for route, n in calls.items():
            if not n:
                continue
            c = self.invocation(route, agents, cold)
            for k in bill:
                bill[k] += n * c[k]
        st = self.stack
        bill["alarms"] = st["alarm_metrics"] * self.p["cloudwatch_alarm_metric"]
        bill["custom_metrics"] = st["custom_metrics"] * self.p["cloudwatch_custom_metric"]
        bill["dashboard"] = st["dashboards"] * self.p["cloudwatch_dashboard"]
        minutes = (conversations * self.a["customer_socket_minutes_per_conversation"]
                   + agents * self.a["working_days_per_month"] * self.a["agent_hours_per_day"] * 60)
        bill["ws_minutes"] = minutes * self.p["websocket_connection_minute"]
        requests = bill["lambda_requests"] / self.p["lambda_request"]
        gb_seconds = bill["lambda_duration"] / self.p["lambda_gb_second_x86"]
        sqs_requests = bill["sqs"] / self.p["sqs_request"]
        log_gb = bill["logs"] / self.p["cloudwatch_logs_ingest_gb"]
        traces = bill["xray"] / self.p["xray_trace_recorded"]
        kms_requests = bill["kms"] / self.p["kms_request"]
        line = self.a["log_line_bytes"] / GIB
        emf_gib = sum(calls[route] * n for route, n in self.emf.items() if route in calls) * line
        ws_access_gib = (sum(n for route, n in calls.items() if self.i["routes"][route].get("ws_route"))
                         * self.a["websocket_access_log_lines"] * line)
        scheduled = bill["scheduler"] / self.p["scheduler_invocation"]
        emails = bill["ses"] / self.p["ses_email"]
        free = self.i["free_tiers"]
        after = dict(bill)
        after["scheduler"] = (max(0.0, scheduled - free["scheduler_invocations"]["amount"])
                              * self.p["scheduler_invocation"])
        after["lambda_requests"] = max(0.0, requests - free["lambda_requests"]["amount"]) * self.p["lambda_request"]
        after["lambda_duration"] = max(0.0, gb_seconds - free["lambda_gb_seconds"]["amount"]) * self.p["lambda_gb_second_x86"]
        after["sqs"] = max(0.0, sqs_requests - free["sqs_requests"]["amount"]) * self.p["sqs_request"]
        after["logs"] = max(0.0, log_gb - free["cloudwatch_logs_gb"]["amount"]) * self.p["cloudwatch_logs_ingest_gb"]
        after["xray"] = max(0.0, traces - free["xray_traces_recorded"]["amount"]) * self.p["xray_trace_recorded"]
        after["kms"] = max(0.0, kms_requests - free["kms_requests"]["amount"]) * self.p["kms_request"]
        after["alarms"] = (max(0, st["alarm_metrics"] - free["cloudwatch_alarm_metrics"]["amount"])
                           * self.p["cloudwatch_alarm_metric"])
        after["custom_metrics"] = (max(0, st["custom_metrics"] - free["cloudwatch_metrics"]["amount"])
                                   * self.p["cloudwatch_custom_metric"])
        dashboards = free["cloudwatch_dashboards"]
        if st["dashboard_metrics"] <= dashboards["max_metrics"]:
            after["dashboard"] = max(0, st["dashboards"] - dashboards["amount"]) * self.p["cloudwatch_dashboard"]
        kb = self.kb
        # New table data a month: conversations and messages, and the three indexes'
        # copies of each conversation (they project all attributes).
        stored_kb = (conversations * kb["conversation"] * 4
                     + conversations * 10 * kb["message"])
        usage = {"requests": requests, "gb_seconds": gb_seconds, "ws_minutes": minutes,
                 "sqs_requests": sqs_requests, "log_gb": log_gb, "stored_gib": stored_kb * 1024 / GIB,
                 "traces": traces, "kms_requests": kms_requests, "emf_gib": emf_gib,
                 "ws_access_gib": ws_access_gib, "emails": emails}
        return bill, after, usage


# --- formatting ---------------------------------------------------------------------------


def usd(x):
    if x >= 1:
        return f"${x:,.2f}"
    return f"${x:.3f}"


def micro(x):
    return f"{x * 1e6:,.2f}"


def table(header, rows, align):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def routes_table(model):
    agents = model.i["sizes"][1]["agents"]
    rows = []
    for route in model.i["routes"]:
        reads, writes = model.units(route, agents)
        warm = model.invocation(route, agents, cold=False)
        cold = model.invocation(route, agents, cold=True)
        if route == "attachment (1 file)":
            ms = "(two calls)"
        elif model.i["routes"][route]["entry"] == "notice":
            ms = "(in a sweep)"
        else:
            ms = f"{model.billed_ms(route, agents, False)} / {model.billed_ms(route, agents, True)}"
        rows.append([
            route,
            str(model.i["routes"][route]["round_trips"]),
            f"{reads:g}",
            f"{writes:g}",
            ms,
            micro(sum(warm.values())),
            micro(sum(cold.values())),
            micro(cold["dynamodb_writes"] + cold["dynamodb_reads"]),
        ])
    return table(
        ["route", "DynamoDB round trips", "read units", "write units", "billed ms warm / cold",
         "µ$ warm", "µ$ cold", "of which DynamoDB µ$"],
        rows, "lrrrrrrr")


def bill_table(model):
    sizes = model.i["sizes"]
    header = ["line"] + [f"{s['conversations']:,} conv., {s['agents']} agents" for s in sizes]
    months = [model.month(s["conversations"], s["agents"]) for s in sizes]
    labels = dict(LINES)
    st = model.stack
    labels["alarms"] += f" ({st['alarm_metrics']} alarm metrics)"
    labels["custom_metrics"] += f" ({st['custom_metrics']} EMF counters)"
    rows = [[labels[k]] + [usd(m[0][k]) for m in months] for k, _ in LINES]
    rows.append(["**total, list prices, no free tier**"] + [f"**{usd(sum(m[0].values()))}**" for m in months])
    rows.append(["total after the always-free tiers"] + [usd(sum(m[1].values())) for m in months])
    rows.append(["optional: a customer managed table key (`TableEncryptionKey`), first year, not in the totals"]
                + [usd(model.p["kms_key_month"]) for _ in months])
    return table(header, rows, "l" + "r" * len(sizes))


def growth_table(model):
    rows = []
    for s in model.i["sizes"]:
        bill, after, usage = model.month(s["conversations"], s["agents"])
        messages = s["conversations"] * 10
        total = sum(bill.values())
        top = max(bill, key=bill.get)
        label = dict(LINES)[top]
        rows.append([
            f"{s['conversations']:,}",
            f"{messages:,}",
            str(s["agents"]),
            usd(total),
            usd(total / messages * 1000),
            usd(sum(after.values()) / messages * 1000),
            f"{label} ({bill[top] / total:.0%})",
        ])
    return table(
        ["conversations", "messages", "agents", "bill", "per 1,000 messages",
         "per 1,000 messages after free tiers", "largest line (share)"],
        rows, "rrrrrrl")


def usage_table(model):
    rows = []
    for s in model.i["sizes"]:
        _, _, u = model.month(s["conversations"], s["agents"])
        rows.append([
            f"{s['conversations']:,}",
            f"{u['requests']:,.0f}",
            f"{u['gb_seconds']:,.0f}",
            f"{u['ws_minutes']:,.0f}",
            f"{u['sqs_requests']:,.0f}",
            f"{u['log_gb']:.3f}",
            f"{u['emf_gib']:.3f}",
            f"{u['ws_access_gib']:.4f}",
            f"{u['traces']:,.0f}",
            f"{u['kms_requests']:,.0f}",
            f"{u['emails']:,.0f}",
            f"{u['stored_gib']:.3f}",
        ])
    return table(
        ["conversations", "Lambda requests", "Lambda GB-seconds", "WebSocket connection minutes",
         "SQS requests", "log GiB", "of which EMF GiB", "of which socket access log GiB",
         "X-Ray traces", "KMS requests", "emails", "new table data GiB"],
        rows, "rrrrrrrrrrrr")


def seats_table(model):
    seats = model.i["seats"]
    header = ["team", "SupportZen on AWS (bill above)"] + [f"{s['product']} {s['plan']}" for s in seats]
    rows = []
    for s in model.i["sizes"]:
        bill, _, _ = model.month(s["conversations"], s["agents"])
        rows.append([f"{s['agents']} agents ({s['conversations']:,} conv.)", usd(sum(bill.values()))]
                    + [usd(s["agents"] * seat["usd_per_agent_month"]) for seat in seats])
    return table(header, rows, "l" + "r" * (len(seats) + 1))


def headline(model):
    s = model.i["sizes"][1]
    bill, after, _ = model.month(s["conversations"], s["agents"])
    total = sum(bill.values())
    fixed = sum(bill[k] for k in FIXED)
    seats = {(x["product"], x["plan"]): x["usd_per_agent_month"] for x in model.i["seats"]}
    cheapest = min(seats.values()) * s["agents"]
    return (f"{s['conversations']:,} conversations a month ({s['conversations'] * 10:,} messages, "
            f"{s['agents']} agents): {usd(total)} a month at list prices without free tiers "
            f"({usd(sum(after.values()))} after the always-free tiers), of which {usd(fixed)} is "
            f"monitoring that costs the same at any volume (alarms, dashboard, custom metrics); "
            f"{usd(total / (s['conversations'] * 10) * 1000)} per 1,000 messages; "
            f"the cheapest seat plan compared costs {usd(cheapest)} for the same team.")


TABLES = {
    "routes": routes_table,
    "bill": bill_table,
    "growth": growth_table,
    "usage": usage_table,
    "seats": seats_table,
    "headline": headline,
}

BLOCK = re.compile(r"<!-- cost\.py:(\w+) -->\n(.*?)\n<!-- /cost\.py:\1 -->", re.S)


def render(model):
    return {name: fn(model) for name, fn in TABLES.items()}


def main():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Blocks in the document look like <!-- cost.py:NAME --> ... <!-- /cost.py:NAME -->, "
               "NAME one of: " + ", ".join(TABLES) + ".")
    parser.add_argument("--inputs", type=Path, default=DEFAULT_INPUTS,
                        help="the figures (default: bench/cost-inputs.json)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", type=Path, metavar="DOC",
                      help="compare DOC's generated blocks with this output; exit 1 on a difference")
    mode.add_argument("--update", type=Path, metavar="DOC",
                      help="rewrite DOC's generated blocks with this output")
    args = parser.parse_args()

    try:
        inputs = json.loads(args.inputs.read_text(encoding="utf-8"))
        tables = render(Model(inputs))
    except (OSError, json.JSONDecodeError) as err:
        print(f"cost.py: cannot read {args.inputs}: {err}", file=sys.stderr)
        return 2
    except (KeyError, TypeError, ValueError) as err:
        print(f"cost.py: {args.inputs}: {type(err).__name__}: {err}", file=sys.stderr)
        return 2

    if args.check or args.update:
        try:
            drift = stack_drift(inputs)
        except (OSError, IndexError) as err:
            print(f"cost.py: cannot count the stack: {err}", file=sys.stderr)
            return 2
        if drift:
            print("cost.py: the inputs no longer describe the stack: " + "; ".join(drift), file=sys.stderr)
            return 1
        path = args.check or args.update
        try:
            doc = path.read_text(encoding="utf-8")
        except OSError as err:
            print(f"cost.py: cannot read {path}: {err}", file=sys.stderr)
            return 2
        found = {m.group(1): m.group(2) for m in BLOCK.finditer(doc)}
        missing = [name for name in TABLES if name not in found]
        unknown = [name for name in found if name not in TABLES]
        if missing or unknown:
            print(f"cost.py: {path}: blocks missing: {missing or 'none'}; unknown: {unknown or 'none'}",
                  file=sys.stderr)
            return 1
        if args.update:
            new = BLOCK.sub(lambda m: f"<!-- cost.py:{m.group(1)} -->\n{tables[m.group(1)]}\n"
                                      f"<!-- /cost.py:{m.group(1)} -->", doc)
            path.write_text(new, encoding="utf-8")
            print(f"cost.py: updated {len(found)} blocks in {path}")
            return 0
        stale = [name for name in TABLES if found[name] != tables[name]]
        for name in stale:
            sys.stdout.writelines(difflib.unified_diff(
                (found[name] + "\n").splitlines(keepends=True),
                (tables[name] + "\n").splitlines(keepends=True),
                f"{path} ({name})", f"bench/cost.py ({name})"))
        if stale:
            print(f"cost.py: {path}: {len(stale)} block(s) differ from the script's output: "
                  f"{', '.join(stale)} (python3 bench/cost.py --update {path})", file=sys.stderr)
            return 1
        print(f"cost.py: {path}: all {len(TABLES)} blocks match")
        return 0

    for name, text in tables.items():
        print(f"## {name}\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
