#!/usr/bin/env python3
"""Interleaving differential: several clients at once, each on a node of its
own, against the same clients on one plain redis-server.

Each trial opens two to four connections (to the cluster: each to a node
drawn at random; to the reference: all to the one Redis) and runs a random
schedule of steps, one request on one connection each, waiting for its reply
before the next step: lists, sorted sets and streams written and read, and
blocking commands that wait for another client's write (BLPOP, BRPOP,
BLMOVE, BRPOPLPUSH, BZPOPMIN, BLMPOP, XREAD and XREADGROUP with BLOCK 0),
WATCH/MULTI/EXEC around another client's write, SELECT. A blocking request
does not wait: its connection is busy until its reply arrives, and the
reference decides when that is: after each step the reference's blocked
connections that got their reply are noted, and the node's must get theirs
at the same step (it may take up to --timeout), and no other. Then every
connection's replies, in order, and the data are compared. Across nodes this
checks that one client sees what another's acknowledged write did, and that
a write wakes exactly the clients it wakes in Redis, with what Redis gives
them.

Exit status: 0 if no trial differed, 1 otherwise, 77 when --require_env names a
variable that is not "1".
"""

import random
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import differential  # noqa: E402  (arguments, run, encode, data_of)
import spread  # noqa: E402  (value_end)
import run_suite  # noqa: E402

LISTS = ["l1", "l2"]


def step_request(rng, seq):
    """One request; seq numbers stream IDs so that every target makes the same."""
    lst, other = rng.sample(LISTS, 2)
    r = rng.random()
    if r < 0.3:
        return rng.choice([
            ["BLPOP", lst, "0"], ["BRPOP", lst, other, "0"], ["BLMOVE", lst, other, "LEFT", "RIGHT", "0"],
            ["BRPOPLPUSH", lst, other, "0"], ["BZPOPMIN", "z", "0"], ["BLMPOP", "0", "2", lst, other, "RIGHT"],
            ["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
            ["XREADGROUP", "GROUP", "g", f"c{rng.randint(1, 2)}", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", ">"],
        ])
    seq[0] += 1
    if r < 0.55:  # writes that wake blocked clients
        return rng.choice([["RPUSH", lst, f"e{seq[0]}"], ["LPUSH", lst, f"e{seq[0]}", f"f{seq[0]}"],
                           ["ZADD", "z", str(rng.randint(1, 5)), f"m{seq[0]}"], ["XADD", "s", f"{seq[0]}-1", "f", "v"],
                           ["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]])
    return rng.choice([
        ["RPUSH", lst, f"e{seq[0]}"], ["LPUSH", lst, f"e{seq[0]}", f"f{seq[0]}"], ["LRANGE", lst, "0", "-1"],
        ["LPOP", lst], ["LMOVE", lst, other, "RIGHT", "LEFT"], ["ZADD", "z", str(rng.randint(1, 5)), f"m{seq[0]}"],
        ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["XADD", "s", f"{seq[0]}-1", "f", "v"], ["XLEN", "s"],
        ["XPENDING", "s", "g"], ["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"], ["DEL", lst], ["SET", "k", str(seq[0])],
        ["GET", "k"], ["INCR", "k"], ["WATCH", "k"], ["MULTI"], ["EXEC"], ["SELECT", rng.choice(["0", "1"])],
        ["MGET", "k", lst], ["EXISTS", "l1", "l2", "z", "s"],
    ])


BLOCKING = {"blpop", "brpop", "blmove", "brpoplpush", "bzpopmin", "blmpop", "xread", "xreadgroup"}


def blocks(req, in_multi):
    return req[0].lower() in BLOCKING and not in_multi


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.replies = []

    def send(self, req):
        self.sock.sendall(differential.encode(req))

    def wait(self, count, timeout):
        """Reads until `count` replies arrived in all, or timeout; how many did."""
        deadline = time.monotonic() + timeout
        while len(self.replies) < count:
            if (end := spread.value_end(self.buf)) is not None:
                self.replies.append(self.buf[:end])
                self.buf = self.buf[end:]
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                break
            except ConnectionResetError:
                data = b""
            if not data:
                self.replies.append(b"<closed>")
                break
            self.buf += data
        return len(self.replies)

    def close(self):
        self.sock.close()


def blocked_clients(port):
    info = run_suite.call_once(port, "INFO", "clients")
    info = info.decode() if isinstance(info, bytes) else info
    return int(next(line.split(":")[1] for line in info.splitlines() if line.startswith("blocked_clients:")))


def wait_blocked(port, count, timeout):
    """Until the server holds `count` blocked clients: a request that blocks
    is in place before the next step, as it is in Redis once sent (on the
    cluster it may still be on its way to the leader's child)."""
    deadline = time.monotonic() + timeout
    while blocked_clients(port) < count and time.monotonic() < deadline:
        time.sleep(0.005)


def run_schedule(ports, schedule, releases=None, timeout=10.0, quiet=0.05):
    """Runs the steps on connections to ports. With releases None (the
    reference), schedule(blocked) gives each step, (connection, request) for
    a connection that is not blocked, or None to end; returns the steps run,
    which blocked connections got their reply after each, and every
    connection's replies. Otherwise schedule is the reference's steps, replayed
    expecting its releases; returns the replies and the first mismatch, if
    any."""
    clients = [Client(p) for p in ports]
    expected = [0] * len(clients)  # replies each connection is owed so far
    blocked = {}  # connection -> the step its blocking request was sent in
    in_multi = [False] * len(clients)
    steps, seen_releases, problem = [], [], None
    try:
        for i, (c, req) in enumerate(schedule if releases is not None else iter(lambda: schedule(blocked), None)):
            clients[c].send(req)
            expected[c] += 1
            name = req[0].lower()
            if blocks(req, in_multi[c]):
                blocked[c] = i
            elif clients[c].wait(expected[c], timeout) < expected[c]:
                problem = problem or f"no reply to step {i} ({' '.join(req)}) on connection {c}"
            in_multi[c] = (in_multi[c] or name == "multi") and name not in ("exec", "discard")
            steps.append((c, req))
            # Which blocked connections got their reply at this step.
            want = None if releases is None else releases[len(steps) - 1]
            got = []
            for b in sorted(blocked):
                # Replaying: wait for the replies Redis gave here, only look
                # for others (a reply that came early shows at a later step).
                wait_for = quiet if want is None else timeout if b in want else 0.002
                if clients[b].wait(expected[b], wait_for) >= expected[b]:
                    got.append(b)
            for b in got:
                del blocked[b]
            if blocked.get(c) == i:  # this step's request blocked
                wait_blocked(ports[c], len(blocked), timeout)
            seen_releases.append(got)
            if want is not None and got != want and problem is None:
                problem = (f"after step {len(steps) - 1} ({' '.join(req)} on connection {c}) connections {got} "
                           f"got their blocked replies, in Redis {want}")
        # What the connections still blocked say when their reply never came.
        for b in blocked:
            clients[b].wait(expected[b], quiet)
        return steps, seen_releases, [cl.replies for cl in clients], problem
    finally:
        for cl in clients:
            cl.close()


def show(steps):
    return "\n".join(f"    c{c}: {' '.join(r)}" for c, r in steps)


def check(args, ref_port, ports, churn=None):
    rng = random.Random(args.seed)
    diffs = wakeups = 0
    begin = time.monotonic()
    for trial in range(args.trials):
        n = rng.randint(2, 4)
        seq = [0]
        left = [rng.randint(4, args.max_len)]

        def schedule(blocked):
            free = [c for c in range(n) if c not in blocked]
            left[0] -= 1
            return (rng.choice(free), step_request(rng, seq)) if free and left[0] >= 0 else None

        run_suite.call_once(ref_port, "FLUSHALL")
        steps, releases, want, _ = run_schedule([ref_port] * n, schedule)
        wakeups += sum(len([b for b in got if steps[i][0] != b]) for i, got in enumerate(releases))
        want_data = differential.data_of(ref_port)
        run_suite.call_once(ports[0], "FLUSHALL")
        targets = [rng.choice(ports) for _ in range(n)]
        _, _, got, problem = run_schedule(targets, steps, releases, timeout=args.timeout)
        if problem is None and got != want:
            c = next(i for i in range(n) if got[i] != want[i])
            problem = (f"connection {c} (port {targets[c]}) got other replies:\n  redis: {want[c]}\n"
                       f"  node:  {got[c]}")
        if problem is None and (got_data := differential.data_of(targets[0])) != want_data:
            problem = f"data differs:\n  redis {want_data}\n  node  {got_data}"
        if problem:
            diffs += 1
            print(f"DIFFERENCE (trial {trial}, connections to ports {targets}): {problem}\n  steps:\n{show(steps)}",
                  flush=True)
            if diffs >= args.max_diffs:
                break
    print(f"{trial + 1} schedules against {len(ports)} node(s) and redis-server in {time.monotonic() - begin:.0f} s "
          f"({wakeups} blocked requests woken by another client's request): {diffs} differed")
    return 1 if diffs else 0


def main():
    return differential.run(differential.arguments(__doc__, 24200, 24060).parse_args(), check,
                            "anarcho-interleave-")


if __name__ == "__main__":
    sys.exit(main())
