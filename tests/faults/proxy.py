"""A TCP proxy between `supportzen serve` and DynamoDB Local that makes the store fail as
the server would see it fail, without touching the store. Run by tests/faults/run; see
its header.

    usage: python3 tests/faults/proxy.py LISTEN_PORT UPSTREAM_PORT   (both on 127.0.0.1)

SIGUSR1 takes the store down: every open connection is reset, in whichever direction its
bytes were (so a write already forwarded may commit with its answer lost), and new
connections are refused; the next SIGUSR1 brings it back. SIGUSR2 freezes it: connections
stay open, new ones are accepted by the kernel, and nothing is forwarded either way; the
next SIGUSR2 thaws it.

Why not stop DynamoDB Local itself: the emulator, stopped, can lose a write it has already
answered 200 (tests/faults/dynamodb_local_crash.py, docs/security.md), which DynamoDB never
does, and a test of our code must not fail on the emulator's durability."""

import signal
import socket
import struct
import sys
import threading
import time

if len(sys.argv) != 3 or not all(arg.isdigit() for arg in sys.argv[1:]):
    asked = sys.argv[1:2] in (["-h"], ["--help"])
    print(__doc__, file=sys.stdout if asked else sys.stderr)
    sys.exit(0 if asked else 2)
LISTEN_PORT, UPSTREAM_PORT = int(sys.argv[1]), int(sys.argv[2])

state = threading.Condition()
down = False
frozen = False
open_sockets = set()


def listener():
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", LISTEN_PORT))
    sock.listen(128)
    sock.settimeout(0.05)
    return sock


def reset(sock):
    """Closes a socket with a reset rather than an orderly end, and wakes a thread reading
    it. Only its reading side is shut down first: shutting down the writing side would send
    the peer an orderly end (FIN) before the reset."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    sock.close()


def forwarding(source):
    """Waits while the store is frozen; then whether this connection may still forward
    (not once the store went down, which reset it). Called with `state` held."""
    state.wait_for(lambda: not frozen)
    return not down and source in open_sockets


def pump(source, target):
    """Copies bytes one way until either side ends or the connection is reset. An orderly
    end is passed on as bytes are: not while frozen, never once down."""
    try:
        while True:
            data = source.recv(65536)
            with state:
                if not forwarding(source):
                    return
                if not data:
                    target.shutdown(socket.SHUT_WR)
                    return
            target.sendall(data)
    except OSError:
        return


def serve_connection(client):
    try:
        upstream = socket.create_connection(("127.0.0.1", UPSTREAM_PORT))
    except OSError:
        reset(client)
        return
    with state:
        if down:
            reset(client)
            reset(upstream)
            return
        open_sockets.update((client, upstream))
    threads = [threading.Thread(target=pump, args=pair, daemon=True) for pair in ((client, upstream), (upstream, client))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with state:
        open_sockets.difference_update((client, upstream))
    client.close()
    upstream.close()


def toggle_down(_signum, _frame):
    global down
    with state:
        down = not down
        print(f"store {'down' if down else 'back'}", flush=True)
        if down:
            for sock in list(open_sockets):
                reset(sock)
            open_sockets.clear()
        state.notify_all()


def toggle_frozen(_signum, _frame):
    global frozen
    with state:
        frozen = not frozen
        print(f"store {'frozen' if frozen else 'thawed'}", flush=True)
        state.notify_all()


def main():
    signal.signal(signal.SIGUSR1, toggle_down)
    signal.signal(signal.SIGUSR2, toggle_frozen)
    sock = listener()
    print(f"proxy listening on 127.0.0.1:{LISTEN_PORT}", flush=True)
    while True:
        if down or frozen:
            if down and sock is not None:
                sock.close()  # new connections are refused while down
                sock = None
            with state:
                state.wait_for(lambda: not (down or frozen), timeout=0.05)
            continue
        if sock is None:
            try:
                sock = listener()
            except OSError:  # the port, free while down, was taken meanwhile: keep trying
                time.sleep(0.05)
                continue
        try:
            client, _ = sock.accept()
        except TimeoutError:
            continue
        client.settimeout(None)
        threading.Thread(target=serve_connection, args=(client,), daemon=True).start()


main()
