#!/usr/bin/env python3
"""Differential check of one client whose requests go to different nodes.

A client may point its connections at any node (a pool across the cluster, a
load balancer) and must still see one Redis. Each trial starts from FLUSHALL,
then sends 2..--max_len requests one at a time, each through a connection to a
node drawn at random (one per node, all in the same protocol; one to four
requests pipelined on it at a time), and the same requests on one connection
to a plain redis-server. Every
reply is compared byte for byte, and the data after the trial.

The requests are differential.py's, without those whose effect belongs to the
connection (SELECT, MULTI/EXEC/WATCH, HELLO, RESET, AUTH, CLIENT, (un)subscribing,
tracking: another connection would not see it), plus two of this check's own:
a collection filled past its small encodings by a script, and a whole scan
(SCAN, HSCAN, SSCAN or ZSCAN from cursor 0 until 0 again, each call through a
node drawn at random), compared as the elements it returned (Redis allows
duplicates; cursors differ between servers). A cursor is a position in one
redis-server's hash tables: before the node tagged cursors with their child's
epoch, a scan whose calls reached different children missed elements. No
users are made (differential.py checks them): with users in use followers send
their reads to the leader, and this check is after the followers' own reads too.

Exit status: 0 if no trial differed, 1 otherwise, 77 when --require_env names a
variable that is not "1".
"""

import itertools
import random
import re
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import differential  # noqa: E402  (the request table, data_of, the command line, run)

CONNECTION_STATE = {"select", "multi", "exec", "discard", "watch", "unwatch", "hello", "reset", "auth", "client",
                    "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "monitor"}
MEMBERS = 600  # past every small encoding of a hash, set or sorted set
FILL = {
    "hash": "for i=1,%d do redis.call('hset',KEYS[1],'f'..i,i) end return redis.call('hlen',KEYS[1])",
    "set": "for i=1,%d do redis.call('sadd',KEYS[1],'m'..i) end return redis.call('scard',KEYS[1])",
    "zset": "for i=1,%d do redis.call('zadd',KEYS[1],i,'m'..i) end return redis.call('zcard',KEYS[1])",
    "keys": "for i=1,%d do redis.call('set','s'..i,i) end return redis.call('dbsize')",
}
SCANS = {"hash": "HSCAN", "set": "SSCAN", "zset": "ZSCAN"}


def spread_requests(rng, n, only=None):
    """n requests any connection may carry; now and then a fill or a whole scan
    (mostly of something this trial filled)."""
    out, filled = [], []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.1:
            kind, key = rng.choice(sorted(FILL)), rng.choice(differential.KEYS)
            out.append(["EVAL", FILL[kind] % MEMBERS] + (["0"] if kind == "keys" else ["1", key]))
            filled.append(["<scan>", "SCAN"] if kind == "keys" else ["<scan>", SCANS[kind], key])
        elif roll < 0.2:
            command = rng.choice(["SCAN"] + sorted(SCANS.values()))
            out.append(rng.choice(filled) if filled and rng.random() < 0.75 else
                       ["<scan>", command] + ([] if command == "SCAN" else [rng.choice(differential.KEYS)]))
        else:
            while (r := differential.request(rng, only))[0].lower() in CONNECTION_STATE:
                pass
            out.append(r)
    return out


def value_end(buf, pos=0):
    """Where the RESP2/RESP3 value starting at buf[pos] ends, or None if incomplete."""
    line = buf.find(b"\r\n", pos)
    if line < 0:
        return None
    kind, head = buf[pos:pos + 1], buf[pos + 1:line]
    after = line + 2
    if kind in b"$!=":
        n = int(head)
        if n < 0:
            return after
        return after + n + 2 if len(buf) >= after + n + 2 else None
    if kind in b"*~>%|":
        n = int(head)
        count = max(n, 0) * (2 if kind in b"%|" else 1)
        for _ in range(count):
            after = value_end(buf, after)
            if after is None:
                return None
        if kind == b"|":  # an attribute: the value it annotates follows
            return value_end(buf, after)
        return after
    return after  # + - : _ , # (


class Connection:
    def __init__(self, port, proto, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.timeout = timeout
        if proto == 3:
            self.call(["HELLO", "3"])

    def call(self, args):
        """The raw reply to one request (b"<no answer>" after the timeout or a close)."""
        return self.pipeline([args])[0]

    def pipeline(self, requests):
        """The raw replies to requests sent at once, in order."""
        self.sock.sendall(b"".join(differential.encode(r) for r in requests))
        deadline = time.monotonic() + self.timeout
        replies = []
        while len(replies) < len(requests):
            if (end := value_end(self.buf)) is not None:
                replies.append(self.buf[:end])
                self.buf = self.buf[end:]
                continue
            left = deadline - time.monotonic()
            data = b""
            if left > 0:
                self.sock.settimeout(left)
                try:
                    data = self.sock.recv(1 << 20)
                except (socket.timeout, ConnectionResetError):
                    pass
            if not data:
                return replies + [b"<no answer>"] * (len(requests) - len(replies))
            self.buf += data
        return replies

    def close(self):
        self.sock.close()


def elements_of(reply, pos):
    """The values of the aggregate at reply[pos]."""
    out, pos = [], reply.index(b"\r\n", pos) + 2
    while pos < len(reply):
        end = value_end(reply, pos)
        out.append(reply[pos:end])
        pos = end
    return out


def in_hash_order(request, reply):
    """A reply whose order is the server's hash table's (which differs between
    any two servers once a collection outgrew its small encoding): HGETALL, SORT
    of a set BY a pattern without "*" (nosort), and SCAN (its cursor too) are
    compared as sorted elements."""
    name = request[0].lower()
    lowered = [a.lower() for a in request]
    by = lowered.index("by") + 1 if "by" in lowered else len(request)
    unsorted = name == "sort" and by < len(request) and "*" not in request[by]
    if not reply[:1] in b"*%~" or not (name in ("hgetall", "scan") or unsorted):
        return reply
    if name == "scan":
        return ("scan", sorted(elements_of(reply, value_end(reply, 4))) if reply.startswith(b"*2\r\n") else reply)
    elements = elements_of(reply, 0)
    return ("unordered", sorted(zip(elements[0::2], elements[1::2]) if name == "hgetall" else elements))


def whole_scan(command, key, pick):
    """The elements of one scan from cursor 0 to 0, each call through pick()."""
    cursor, seen, pairs = b"0", set(), command in ("HSCAN", "ZSCAN")
    for _ in range(10000):
        reply = pick().call([command] + ([key] if key else []) + [cursor.decode(), "COUNT", "25"])
        if not reply.startswith(b"*2\r\n"):
            return ("error", reply)
        cursor_end = value_end(reply, 4)
        cursor = reply[4:cursor_end].split(b"\r\n")[1]
        elements = elements_of(reply, cursor_end)
        seen.update(zip(elements[0::2], elements[1::2]) if pairs else elements)
        if cursor == b"0":
            return ("elements", sorted(seen))
    return ("no end", cursor)


def described(want, got):
    if want[0] == got[0] == "elements":
        missed, extra = sorted(set(want[1]) - set(got[1])), sorted(set(got[1]) - set(want[1]))
        want, got = (f"{len(want[1])} elements", f"{len(got[1])} elements, {len(missed)} of Redis's "
                     f"missing {missed[:3]}, {len(extra)} more {extra[:3]}")
    return f"  redis: {want!r:.600}\n  node:  {got!r:.600}"


def run_trial(ref_port, ports, proto, requests, timeout, rng):
    """The first difference between the reference's replies and the cluster's, or None."""
    for port in [ref_port, ports[0]]:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            pre = [["FLUSHALL"], ["FUNCTION", "FLUSH"], ["SCRIPT", "FLUSH"], ["ECHO", "ready"]]
            s.sendall(b"".join(differential.encode(r) for r in pre))
            if differential.read_until(s, lambda b: b.endswith(b"ready\r\n"), timeout) is None:
                return f"no answer to the preamble on {port}"
    ref = Connection(ref_port, proto, timeout)
    nodes = [Connection(p, proto, timeout) for p in ports]
    try:
        i = 0
        while i < len(requests):
            if requests[i][0] == "<scan>":
                r = requests[i]
                batch = [r]
                want = [whole_scan(r[1], r[2] if len(r) > 2 else None, lambda: ref)]
                got = [whole_scan(r[1], r[2] if len(r) > 2 else None, lambda: rng.choice(nodes))]
            else:
                # A few requests pipelined on one connection, then the next
                # few on another node's.
                batch = list(itertools.takewhile(lambda r: r[0] != "<scan>", requests[i:i + rng.randint(1, 4)]))
                want = [in_hash_order(r, reply) for r, reply in zip(batch, ref.pipeline(batch))]
                got = [in_hash_order(r, reply) for r, reply in zip(batch, rng.choice(nodes).pipeline(batch))]
            for j, (r, w, g) in enumerate(zip(batch, want, got)):
                if isinstance(w, bytes) and isinstance(g, bytes):
                    g = differential.align_clock(w, g)
                if w != g:
                    return f"request {i + j + 1} ({' '.join(r)[:60]}):\n" + described(w, g)
            i += len(batch)
    finally:
        for c in [ref] + nodes:
            c.close()
    return None


def check(args, ref_port, ports, churn):
    rng = random.Random(args.seed)
    only = re.compile(args.only, re.IGNORECASE) if args.only else None
    diffs = trials = faults = 0
    begin = time.monotonic()
    for proto in map(int, args.protocols.split(",")):
        for trial in range(args.trials):
            requests = spread_requests(rng, rng.randint(2, args.max_len), only)
            alive = churn.alive() if churn else ports
            problem = run_trial(ref_port, alive, proto, requests, args.timeout, rng)
            if problem is None:
                want = differential.data_of(ref_port)
                for port in alive:
                    if (got := differential.data_of(port)) != want:
                        problem = f"data differs on {port}:\n  redis {want}\n  node  {got}"
                        break
            trials += 1
            if problem:
                diffs += 1
                print(f"DIFFERENCE (RESP{proto}, trial {trial}): {problem}\n"
                      f"  requests:\n{differential.show(requests)}", flush=True)
                if diffs >= args.max_diffs:
                    break
            elif churn and churn.rng.random() < args.churn:
                what = churn.step()
                faults += 1
                problem = churn.children_differ(differential.data_of(ref_port, True), f"after a fault ({what})", True)
                if problem:
                    diffs += 1
                    print(f"DIFFERENCE (RESP{proto}, trial {trial}): {problem}", flush=True)
                    if diffs >= args.max_diffs:
                        break
        if diffs >= args.max_diffs:
            break
    faulted = f", {faults} faults between them ({churn.counts})" if churn else ""
    print(f"{trials} trials spread over {len(ports)} node(s), against redis-server, in "
          f"{time.monotonic() - begin:.0f} s{faulted}: {diffs} differed")
    return 1 if diffs else 0


def main():
    return differential.run(differential.arguments(__doc__, 23200, 23450).parse_args(), check, "anarcho-spread-")


if __name__ == "__main__":
    sys.exit(main())
