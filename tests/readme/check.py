#!/usr/bin/env python3
"""Runs README.md's shell blocks in order, in one bash session, and checks what each
command prints against the output the README shows under it. Run by tests/readme/run,
which builds the CLI first; Python 3 standard library only.

The README's conventions, which this enforces:

- A ```sh block runs as written, from the repository root, in one bash session shared by
  all blocks (variables carry over), with pipefail on, and with history expansion on as
  in an interactive shell: a `!` that would break a paste into a terminal (as in
  "Thanks!\"", "event not found") breaks the check too.
- Lines starting with `#> ` (or a bare `#>`) are the output of the command just above
  them. `…` stands for any run of characters within a line; a line that is only `…`
  stands for any number of lines. A command with no such lines is run, not compared.
- Every command must exit with status 0, and whatever it prints must end with a newline
  (or the shell's prompt would stick to it).
- `<!-- readme-check: skip (why) -->` on the line before a fence: the block is not run.
  Every fence that is not a ```sh block needs this marker: nothing is left out silently.
- `<!-- readme-check: server (why) -->` before a ```sh block: the block's one
  `supportzen serve` command (`cargo run -p supportzen -- serve ...`) is not run as
  written; the check starts the built binary with the same arguments on a free port
  instead, in the session's environment at that point, after stopping the server it
  started before (as the README tells a reader to do), and waits until it listens. The
  block's other commands run as usual.
- The ports the README uses (3000 for `serve`, 8000 for DynamoDB Local, 8787 for the
  webhook receiver, 8025 for the SMTP sink) are replaced everywhere, in commands and
  expected output, by free ones.
- `cargo run [-q] -p supportzen --` runs the binary tests/readme/run built before the
  run (what cargo would run), so that a source edited during the run cannot make a
  command rebuild it; the session's PATH starts with a directory holding `supportzen`,
  that binary, as after the README's `cargo install --path cli`.
- The session starts with its own SUPPORTZEN_STORE, SUPPORTZEN_OUTBOX and
  SUPPORTZEN_AGENT_KEY in a temporary directory, and without the caller's other
  SUPPORTZEN_* and AWS_* variables and RUST_LOG.

A block that runs for more than --timeout seconds fails. On exit, everything the session
started is stopped (found by an environment variable they all inherit, since
scripts/dynamodb-local --background detaches DynamoDB Local into a session of its own),
and the files the walkthrough wrote in the repository root are removed (or put back as
they were, if they were there before): the files git ignores in the root whose names
appear in the blocks; nothing else in the tree is touched.
"""

import argparse
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

README_PORTS = (3000, 8000, 8787, 8025)
SERVER_PORT = 3000
MARKER = re.compile(r"^<!-- readme-check: (?P<kind>[a-z-]+) \((?P<why>[^()]*(?:\([^()]*\)[^()]*)*)\) -->$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>```+)(?P<lang>.*)$")
SERVE = re.compile(r"^(?:cargo run\b[^\n]*?\s-p supportzen\b[^\n]*?\s--|supportzen)\s+serve\b(?P<args>[^\n]*)$")
CARGO_RUN = re.compile(r"\bcargo run(?:\s+-q|\s+--quiet)?\s+-p\s+supportzen\s+--(?=\s)")
ENV_RUN = "README_CHECK_RUN"
# What bash says when it will not run a line: history expansion and syntax errors.
BASH_REFUSED = re.compile(r"event not found|syntax error|bad substitution")
BACKUP_LIMIT = 10 * 1024 * 1024
README = "README.md"  # as messages name it; --readme changes it


class Refusal(Exception):
    """README.md breaks one of the conventions above."""


class Command:
    def __init__(self, line, text):
        self.line = line  # README line of the command's first line
        self.text = text
        self.expected = []  # the #> lines, without the prefix
        self.expected_line = None


class Block:
    def __init__(self, line, lang, body, marker):
        self.line = line  # README line of the opening fence
        self.lang = lang
        self.body = body  # [(line number, text)]
        self.marker = marker  # (kind, why) or None
        self.commands = []
        self.serve = None  # index of the serve command in a server block


def parse(readme_path):
    with open(readme_path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks, i, markers = [], 0, set()
    while i < len(lines):
        line = lines[i]
        if line.startswith("<!-- readme-check"):
            if not MARKER.match(line):
                raise Refusal(f"{README}:{i + 1}: a malformed marker: {line!r} (write <!-- readme-check: skip (why) --> or <!-- readme-check: server (why) -->)")
            markers.add(i)
        fence = FENCE.match(line)
        if not fence:
            i += 1
            continue
        start, ticks = i, fence["ticks"]
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != ticks:
            body.append((i + 1, lines[i]))
            i += 1
        if i == len(lines):
            raise Refusal(f"{README}:{start + 1}: a fence that is never closed")
        i += 1
        previous = start - 1
        while previous >= 0 and not lines[previous].strip():
            previous -= 1
        marker = MARKER.match(lines[previous]) if previous >= 0 else None
        markers.discard(previous)
        if marker and not marker["why"].strip():
            raise Refusal(f"{README}:{previous + 1}: the marker must say why, in parentheses")
        marker = (marker["kind"], marker["why"]) if marker else None
        if marker and marker[0] not in ("skip", "server"):
            raise Refusal(f"{README}:{previous + 1}: unknown marker kind {marker[0]!r}: use skip or server")
        blocks.append(Block(start + 1, fence["lang"].strip(), body, marker))
    if markers:
        raise Refusal(f"{README}:{min(markers) + 1}: a marker must stand on the line before a fence (blank lines between are allowed)")
    for block in blocks:
        runs = block.marker is None or block.marker[0] == "server"
        if block.lang != "sh" and runs:
            raise Refusal(
                f"{README}:{block.line}: a ```{block.lang} block cannot run: mark it with "
                "<!-- readme-check: skip (why) --> on the line before the fence, or make it a ```sh block"
            )
        if block.lang == "sh" and runs:
            split_commands(block)
    return blocks


def complete(text):
    """Whether `text` is whole shell commands (no open quote, loop or continuation)."""
    if text.rstrip().endswith("\\"):
        return False
    check = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True)
    return check.returncode == 0


def split_commands(block):
    pending, pending_line = [], None
    for number, line in block.body:
        if line == "#>" or line.startswith("#> "):
            if pending and any(not l.strip().startswith("#") and l.strip() for l in pending):
                raise Refusal(f"{README}:{number}: expected output in the middle of a command ({README}:{pending_line})")
            if not block.commands:
                raise Refusal(f"{README}:{number}: expected output with no command above it")
            command = block.commands[-1]
            if command.expected and command.expected_line + len(command.expected) != number:
                raise Refusal(f"{README}:{number}: expected output separated from its command by other lines")
            if command.expected_line is None:
                command.expected_line = number
            command.expected.append(line[3:] if line.startswith("#> ") else "")
            continue
        if not pending:
            pending_line = number
        pending.append(line)
        text = "\n".join(pending)
        if any(l.strip() and not l.strip().startswith("#") for l in pending) and complete(text):
            block.commands.append(Command(pending_line, text))
            pending = []
    if pending and any(l.strip() and not l.strip().startswith("#") for l in pending):
        raise Refusal(f"{README}:{pending_line}: a command that never ends (an open quote, loop or trailing backslash)")
    serves = [i for i, c in enumerate(block.commands) if SERVE.match(strip_comments(c.text))]
    if block.marker and block.marker[0] == "server":
        if len(serves) != 1:
            raise Refusal(f"{README}:{block.line}: a server block needs exactly one `supportzen serve` command, on one line")
        block.serve = serves[0]
    elif serves:
        line = block.commands[serves[0]].line
        raise Refusal(
            f"{README}:{line}: `serve` runs until stopped; mark the block with "
            "<!-- readme-check: server (why) --> so that the check starts its own server instead"
        )


def strip_comments(text):
    return "\n".join(l for l in text.split("\n") if not l.strip().startswith("#")).strip()


def matches(expected, actual):
    """Whether the actual lines match the expected ones (`…` any run within a line; a
    line that is only `…`, any number of lines)."""
    parts = []
    for line in expected:
        if line == "…":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append("[^\\n]*?".join(re.escape(piece) for piece in line.split("…")) + "\n")
    return re.fullmatch("".join(parts), "".join(l + "\n" for l in actual)) is not None


def free_ports(count):
    """Distinct ports free now, below the ephemeral range (scripts/free-port says why)."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "free-port")
    return [int(port) for port in subprocess.check_output([script, str(count)], text=True).split()]


def as_run(text, ports):
    """The command as the check runs it: free ports, and the binary built before the run
    instead of `cargo run`, which would rebuild it if a source changed during the run."""
    return CARGO_RUN.sub("supportzen", rewrite_ports(text, ports))


def rewrite_ports(text, ports):
    return re.sub(r"\b(%s)\b" % "|".join(map(str, ports)), lambda m: str(ports[int(m[1])]), text)


class Failure(Exception):
    pass


class Session:
    """One bash process that the blocks' commands are written to, one at a time."""

    def __init__(self, repo, work, env):
        self.work = work
        self.bash = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=repo,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.count = 0
        self.buffer = b""
        self.stderr = b""  # what bash itself says; the commands' output goes to files
        self.send("set -o pipefail -o history -o histexpand", deadline=time.monotonic() + 10)

    def send(self, text, deadline):
        """Runs `text` in the session; returns (status, output)."""
        self.count += 1
        out = os.path.join(self.work, f"out-{self.count}")
        script = f"{{\n{text}\n}} >{shlex.quote(out)} 2>&1 </dev/null\nprintf '\\n__readme_check_done {self.count} %s\\n' \"$?\"\n"
        said_before = len(self.stderr)
        self.bash.stdin.write(script.encode())
        self.bash.stdin.flush()
        marker = re.compile(rb"\n__readme_check_done %d (\d+)\n" % self.count)
        while True:
            found = marker.search(self.buffer)
            if found:
                self.buffer = self.buffer[found.end():]
                status = int(found[1])
                break
            if BASH_REFUSED.search(self.stderr[said_before:].decode("utf-8", "replace")):
                # The rest of the command may never end: bash dropped a line of it.
                raise Failure("bash refused a line of it (as it would in a terminal)")
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("timeout")
            ready, _, _ = select.select([self.bash.stdout, self.bash.stderr], [], [], left)
            for stream in ready:
                chunk = os.read(stream.fileno(), 65536)
                if stream is self.bash.stderr:
                    self.stderr += chunk
                elif not chunk:
                    raise Failure("the bash session ended")
                else:
                    self.buffer += chunk
        with open(out, "rb") as f:
            return status, f.read().decode("utf-8", "replace")

    def said_size(self):
        return len(self.stderr)

    def said(self, since):
        """What bash itself wrote to its stderr since offset `since`."""
        return self.stderr[since:].decode("utf-8", "replace")

    def output_so_far(self):
        path = os.path.join(self.work, f"out-{self.count}")
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def close(self):
        try:
            os.killpg(self.bash.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.bash.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.bash.pid, signal.SIGKILL)
            self.bash.wait()


def stop_all(token, group):
    """Stops every process that inherited the run's token: the session's process group,
    and what left it (scripts/dynamodb-local --background starts DynamoDB Local in a
    session of its own). Returns the names of the latter."""
    needle = f"{ENV_RUN}={token}".encode()
    found = []
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0") and alive(int(pid)):
                    found.append(int(pid))
        except OSError:
            continue
    detached = []
    for pid in found:
        try:
            if os.getpgid(pid) != group:
                with open(f"/proc/{pid}/comm") as f:
                    detached.append(f"{f.read().strip()} ({pid})")
        except OSError:
            pass
    signal_all(found, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in found):
        time.sleep(0.05)
    signal_all([pid for pid in found if alive(pid)], signal.SIGKILL)
    return detached


def signal_all(pids, number):
    for pid in pids:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass


def alive(pid):
    """Whether the process runs: not gone, and not a zombie (a multithreaded process whose
    first thread has ended shows as one while its other threads still run)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                return True
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False


def walkthrough_files(repo, blocks):
    """The files in the repository root the runnable blocks may write: those git ignores
    whose names appear in a block. Only these are removed or put back afterwards; the
    tree is shared, so nothing else is touched."""
    text = "\n".join(c.text for b in blocks for c in b.commands)
    names = sorted(set(re.findall(r"[A-Za-z0-9_.-]+\.[A-Za-z0-9]+", text)))
    if not names:
        return []
    check = subprocess.run(["git", "check-ignore", "--no-index", "--", *names], cwd=repo, capture_output=True, text=True)
    return [n for n in check.stdout.split() if "/" not in n]


def snapshot(repo, work, names):
    """Copies of those of `names` that exist, to put back later."""
    backup = os.path.join(work, "backup")
    os.makedirs(backup)
    files = {}
    for name in names:
        path = os.path.join(repo, name)
        if os.path.isfile(path) and not os.path.islink(path):
            copy = None
            if os.path.getsize(path) <= BACKUP_LIMIT:
                copy = os.path.join(backup, name)
                shutil.copy2(path, copy)
            files[name] = copy
    return files


def restore(repo, names, files):
    removed, restored, changed = [], [], []
    for name in names:
        path = os.path.join(repo, name)
        if name not in files:
            if os.path.isfile(path):
                os.remove(path)
                removed.append(name)
        elif files[name] is None:
            changed.append(name)
        elif not os.path.isfile(path) or not filecmp(path, files[name]):
            shutil.copy2(files[name], path)
            restored.append(name)
    return removed, restored, changed


def filecmp(a, b):
    with open(a, "rb") as f, open(b, "rb") as g:
        return f.read() == g.read()


def show(title, text):
    print(f"--- {title}")
    print(text.rstrip("\n") if text else "(nothing)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default="target/debug/supportzen", help="the built supportzen (default: %(default)s)")
    parser.add_argument("--readme", default="README.md", help="default: %(default)s")
    parser.add_argument("--timeout", type=float, default=120, help="seconds a block may run (default: %(default)s)")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every command's output")
    parser.add_argument("--keep-going", "-k", action="store_true", help="go on after a command that fails its check (not after a timeout)")
    args = parser.parse_args()
    global README
    README = args.readme
    # A SIGTERM (CI cancelling) stops the run through the cleanup below, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    started = time.monotonic()
    repo = os.getcwd()
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"no executable at {args.binary}: build it first (cargo build -p supportzen), or run tests/readme/run")
    try:
        blocks = parse(args.readme)
    except Refusal as refusal:
        sys.exit(f"README check: {refusal}")

    ports = dict(zip(README_PORTS, free_ports(len(README_PORTS))))
    work = tempfile.mkdtemp(prefix="readme-check-")
    token = uuid.uuid4().hex
    bin_dir = os.path.join(work, "bin")
    os.makedirs(bin_dir)
    # As after `cargo install --path cli`, which the README's later blocks assume.
    os.symlink(binary, os.path.join(bin_dir, "supportzen"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SUPPORTZEN_")) and k != "RUST_LOG"}
    env.update(
        {
            ENV_RUN: token,
            "PATH": bin_dir + os.pathsep + env.get("PATH", ""),
            "SUPPORTZEN_STORE": "sqlite:" + os.path.join(work, "supportzen.db"),
            "SUPPORTZEN_OUTBOX": os.path.join(work, "supportzen-outbox.db"),
            "SUPPORTZEN_AGENT_KEY": os.path.join(work, "agent-key.pem"),
        }
    )
    print("README check: ports " + ", ".join(f"{a} -> {b}" for a, b in ports.items()) + f"; files in {work}")
    names = walkthrough_files(repo, blocks)
    files = snapshot(repo, work, names)
    session = Session(repo, work, env)
    server = None  # the pid of the server the check started
    servers = 0
    ran = compared = skipped = 0
    failed = timed_out = False
    mismatches = 0
    try:
        for block in blocks:
            if block.marker and block.marker[0] == "skip":
                print(f"{README}:{block.line}: skipped ({block.marker[1]})")
                skipped += 1
                continue
            block_start = time.monotonic()
            block_failed = mismatches
            deadline = block_start + args.timeout
            for index, command in enumerate(block.commands):
                text = as_run(command.text, ports)
                since = session.said_size()
                try:
                    if index == block.serve:
                        text = rewrite_ports(command.text, ports)
                        if server:
                            session.send(f"kill {server}; wait {server}", deadline)
                        servers += 1
                        arguments = SERVE.match(strip_comments(text))["args"]
                        out = os.path.join(work, f"serve-{servers}.out")
                        log = os.path.join(work, f"serve-{servers}.log")
                        status, output = session.send(
                            f"{shlex.quote(binary)} serve{arguments} --listen 127.0.0.1:{ports[SERVER_PORT]} "
                            f"--files {shlex.quote(os.path.join(work, 'files'))} "
                            f">{shlex.quote(out)} 2>{shlex.quote(log)} </dev/null &\necho $!",
                            deadline,
                        )
                        server = int(output.strip())
                        wait_for_server(out, log, server, deadline)
                        print(f"{README}:{command.line}: the check's server listens on port {ports[SERVER_PORT]} (serve{arguments.rstrip()})")
                        continue
                    status, output = session.send(text, deadline)
                except Failure as failure:
                    reason = f"the block ran over {args.timeout:g} s" if str(failure) == "timeout" else str(failure)
                    report(block, command, text, ports, session.output_so_far(), reason, work, servers, session.said(since))
                    failed = timed_out = True
                    mismatches += 1
                    break
                ran += 1
                if args.verbose:
                    show(f"{README}:{command.line} (status {status})", output)
                said = session.said(since)
                problem = None
                if BASH_REFUSED.search(said):
                    problem = "bash refused a line of it (as it would in a terminal)"
                elif status != 0:
                    problem = f"it exited with status {status}"
                elif output and not output.endswith("\n"):
                    problem = "its output does not end with a newline (the prompt would stick to it)"
                elif command.expected:
                    compared += 1
                    expected = [rewrite_ports(line, ports) for line in command.expected]
                    actual = output[:-1].split("\n") if output else []
                    if not matches(expected, actual):
                        problem = f"its output is not what {README} shows"
                if problem:
                    report(block, command, text, ports, output, problem, work, servers, said)
                    failed = True
                    mismatches += 1
                    if not args.keep_going:
                        break
            if failed and (not args.keep_going or timed_out):
                break
            if mismatches == block_failed:
                print(f"{README}:{block.line}: ok, {len(block.commands)} command{'s' if len(block.commands) != 1 else ''} in {time.monotonic() - block_start:.1f} s")
    finally:
        strays = stop_all(token, session.bash.pid)
        session.close()
        removed, restored, changed = restore(repo, names, files)
        # scripts/dynamodb-local --background logs there, under the check's free port.
        log = os.path.join(repo, "target", f"dynamodb-local-{ports[8000]}.log")
        if os.path.isfile(log):
            os.remove(log)
        shutil.rmtree(work, ignore_errors=True)
    if strays:
        print("README check: stopped what the walkthrough left running in the background: " + ", ".join(strays))
    if removed or restored:
        print("README check: removed " + (", ".join(sorted(removed)) or "nothing") + "; put back " + (", ".join(sorted(restored)) or "nothing"))
    if changed:
        print("README check: warning: the walkthrough may have changed these large files, which were not backed up: " + ", ".join(changed))
    elapsed = time.monotonic() - started
    if failed:
        print(f"README check FAILED ({mismatches} failing commands) after {elapsed:.1f} s")
        return 1
    print(f"README check passed: {ran} commands run, {compared} outputs compared, {skipped} blocks skipped, in {elapsed:.1f} s")
    return 0


def wait_for_server(out, log, pid, deadline):
    while time.monotonic() < deadline:
        try:
            with open(out) as f:
                if "listening on http://" in f.read():
                    return
        except OSError:
            pass
        if not alive(pid):
            break
        time.sleep(0.05)
    with open(log, errors="replace") as f:
        detail = f.read()
    raise Failure("the server did not start listening:\n" + detail)


def report(block, command, text, ports, output, problem, work, servers, said):
    print(f"\n{README}:{command.line}: in the block at {README}:{block.line}, {problem}.")
    show("the command (as run)", text.strip("\n"))
    if command.expected:
        show(f"expected ({README}:{command.expected_line}, ports rewritten)", "\n".join(rewrite_ports(l, ports) for l in command.expected))
    show("actual", output)
    if said.strip():
        show("bash itself said", said)
    if servers:
        try:
            with open(os.path.join(work, f"serve-{servers}.log"), errors="replace") as f:
                tail = f.read().splitlines()[-15:]
            show("the server's log (last lines)", "\n".join(tail))
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
