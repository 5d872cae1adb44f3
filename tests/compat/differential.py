#!/usr/bin/env python3
"""Differential check: random pipelines sent to every node of a cluster and to a
plain redis-server, replies and resulting data compared byte for byte.

Each trial starts from FLUSHALL and FUNCTION FLUSH on one fresh connection
(RESP2 or RESP3), sends a random pipeline of 2..--max_len requests drawn from
the table below (data types, values from empty to 1.5 MB, no-op writes, expiry,
SELECT/MOVE/SWAPDB/COPY, MULTI/WATCH, scripts and functions, blocking commands
with short timeouts, CLIENT REPLY, pub/sub, RESET, HELLO, wrong arity and
unknown commands), a
quarter of them as a user with two channels and no PING (ACL errors), then
RESET and ECHO <nonce>, and reads until the nonce comes back: a node that
stops answering is a difference too. After the pipeline every target's data
(types, values, whether a key has an expiry, the function libraries) is read
and compared. The cluster's members are checked through their own ports, so a
follower's answers (its relay to the leader and its local reads) are checked
as much as the leader's.

Differences the README documents are not reported: a request the node refuses
inside MULTI ("... is not supported by anarchoredis", or judged from the
pipeline when CLIENT REPLY OFF hides it) skips its trial, and
HELLO's client id is left out of the comparison.

Exit status: 0 if no trial differed, 1 otherwise (each difference is printed
with its pipeline), 77 when --require_env names a variable that is not "1".
"""

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_suite  # noqa: E402  (PlainServer, Cluster, wait_for)

HELLO_ID = re.compile(rb"\$2\r\nid\r\n:\d+")
UNIX_TIME = re.compile(rb":(1[0-9]{9})\r\n")


def align_clock(want, got):
    """A unix time computed from a relative expiry (EXPIRETIME after PSETEX k
    100000) depends on when each server ran the request, and the node runs the
    pipeline after Redis: the node's integers in that range count as Redis's
    when they are within 5 s of them, in order."""
    times = iter(UNIX_TIME.findall(want))

    def aligned(m):
        ref = next(times, None)
        return b":" + ref + b"\r\n" if ref is not None and abs(int(ref) - int(m.group(1))) <= 5 else m.group(0)
    return UNIX_TIME.sub(aligned, got)
SKIP_MARK = b"is not supported by anarchoredis"
REFUSED_IN_MULTI = {"wait", "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"}
KEYS = ["k", "k2", "n"]
DBS = ["0", "1", "2"]


def encode(args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(parts)


# --- The requests a pipeline is drawn from ------------------------------------

def value(rng):
    if rng.random() < 0.01:
        # Past the size the node hands on without a copy (1 MB), from the
        # client's input, the child's replies and the replication stream.
        return "b" * (3 << 19)
    return rng.choice(["v", "1", "-3", "2.5", "abc", "", "9223372036854775807",
                       "x" * rng.choice([10, 100, 70000])])


SCRIPTS = [
    'return redis.call("set",KEYS[1],ARGV[1])', 'return redis.call("get",KEYS[1])',
    'return redis.call("incr",KEYS[1])', 'redis.call("set",KEYS[1],"a"); return redis.call("nosuch")',
    'return redis.pcall("incr",KEYS[1])', 'return {1,2,{3,"x"},redis.status_reply("OK")}',
    'return redis.error_reply("MY err")', 'return 1.5', 'return redis.call("lpush",KEYS[1],"e")',
    'redis.call("select","1"); return redis.call("set",KEYS[1],"d1")', 'return redis.setresp(3)',
    'return redis.call("expire",KEYS[1],"100")', 'return redis.call("del",KEYS[1])',
]
LIBRARY = ('#!lua name=lib\nredis.register_function("f1", function(keys, args) '
           'return redis.call("set", keys[1], args[1]) end)')


def request(rng, only=None):
    """A random request; with `only`, one whose command name it matches."""
    while True:
        r = any_request(rng)
        if only is None or only.fullmatch(r[0]):
            return r


def any_request(rng):
    c, k, v = rng.choice, (lambda: rng.choice(KEYS)), (lambda: value(rng))
    makers = [
        lambda: ["SET", k(), v()] + c([[], ["NX"], ["XX"], ["GET"], ["KEEPTTL"], ["NX", "GET"],
                                       ["EX", "100"], ["EX", "0"], ["PX", "-1"], ["EXAT", "4000000000"]]),
        lambda: ["GET", k()], lambda: ["INCR", k()], lambda: ["DECRBY", k(), "5"],
        lambda: ["INCRBY", k(), c(["1", "-9223372036854775808", "x"])],
        lambda: ["INCRBYFLOAT", k(), c(["1.5", "inf", "x"])], lambda: ["APPEND", k(), v()],
        lambda: ["SETRANGE", k(), c(["0", "5", "-1", "536870912"]), v()],
        lambda: ["GETRANGE", k(), "0", "3"], lambda: ["STRLEN", k()], lambda: ["GETDEL", k()],
        lambda: ["GETEX", k()] + c([[], ["PERSIST"], ["EXAT", "4000000000"], ["EX", "-5"]]),
        lambda: ["MSET", k(), v(), k(), v()], lambda: ["MSETNX", k(), v(), k(), v()],
        lambda: ["MGET", k(), k(), k()], lambda: ["SETNX", k(), v()], lambda: ["GETSET", k(), v()],
        lambda: ["LCS", k(), k()], lambda: ["SETBIT", k(), c(["7", "4294967296"]), "1"],
        lambda: ["BITCOUNT", k()], lambda: ["PFADD", k(), "a", "b"], lambda: ["PFCOUNT", k()],
        lambda: ["DEL", k(), k()], lambda: ["UNLINK", k()], lambda: ["EXISTS", k(), k()],
        lambda: ["TYPE", k()], lambda: ["TOUCH", k()], lambda: ["OBJECT", "ENCODING", k()],
        lambda: ["EXPIRE", k(), c(["100", "-1", "0", "x"])] + c([[], ["NX"], ["XX"], ["GT"], ["LT"]]),
        lambda: ["EXPIREAT", k(), c(["4000000000", "4100000000"])], lambda: ["EXPIRETIME", k()],
        lambda: ["PERSIST", k()], lambda: ["RENAME", k(), k()], lambda: ["RENAMENX", k(), k()],
        lambda: ["COPY", k(), k()] + c([[], ["REPLACE"], ["DB", "1"], ["DB", "1", "REPLACE"]]),
        lambda: ["MOVE", k(), c(["1", "0", "99"])], lambda: ["SWAPDB", "0", c(["1", "2", "99"])],
        lambda: ["SELECT", c(["0", "1", "2", "99", "x"])], lambda: ["DBSIZE"], lambda: ["FLUSHDB"],
        lambda: ["LPUSH", k(), v()], lambda: ["RPUSH", k(), "a", "b"],
        lambda: ["LPOP", k()] + c([[], ["2"], ["0"], ["-1"]]), lambda: ["LRANGE", k(), "0", "-1"],
        lambda: ["LSET", k(), c(["0", "9"]), "q"], lambda: ["LINSERT", k(), "BEFORE", "a", "z"],
        lambda: ["LMOVE", k(), k(), "LEFT", "LEFT"], lambda: ["LPOS", k(), "a"],
        lambda: ["BLPOP", k(), c(["0.02", "-1", "x"])], lambda: ["BLMOVE", k(), k(), "LEFT", "RIGHT", "0.02"],
        lambda: ["BRPOPLPUSH", k(), k(), "0.02"], lambda: ["BZPOPMIN", k(), "0.02"],
        lambda: ["HSET", k(), "f", v()], lambda: ["HINCRBY", k(), "f", c(["1", "9223372036854775807"])],
        lambda: ["HGETALL", k()], lambda: ["HDEL", k(), "f", "g"],
        lambda: ["SADD", k(), c(["1", "a", "2"])], lambda: ["SREM", k(), "a"], lambda: ["SCARD", k()],
        lambda: ["SISMEMBER", k(), "1"], lambda: ["SINTERSTORE", k(), k(), k()],
        lambda: ["ZADD", k()] + c([[], ["NX"], ["XX"], ["GT"], ["CH"], ["INCR"], ["NX", "XX"], ["GT", "LT"]])
        + [c(["1", "2", "nan", "inf"]), "m"],
        lambda: ["ZINCRBY", k(), "1", "m"], lambda: ["ZRANGE", k(), "0", "-1", "WITHSCORES"],
        lambda: ["ZSCORE", k(), "m"], lambda: ["ZUNIONSTORE", k(), "2", k(), k()],
        lambda: ["XADD", k(), c(["1-1", "2-0", "0-0"]), "f", "v"], lambda: ["XLEN", k()],
        # Trims and deletions: counts, what a trim with ~ or LIMIT leaves, the
        # stream's deleted-entry bookkeeping (XINFO STREAM, XSETID).
        lambda: ["XADD", k()] + c([["NOMKSTREAM"], ["MAXLEN", "1"], ["MINID", "~", "2-0"], ["MAXLEN", "=", "0", "LIMIT", "1"],
                                   ["MAXLEN", "~", "1", "LIMIT", "5"]]) + [c(["3-0", "4-1", "1-1"]), "f", "v"],
        lambda: ["XDEL", k(), c(["1-1", "2-0", "9-9"])] + c([[], ["3-0"]]),
        lambda: ["XTRIM", k(), c(["MAXLEN", "MINID"])] + c([[], ["="], ["~"]]) + [c(["0", "1", "2-0", "-1"])]
        + c([[], ["LIMIT", "1"]]),
        lambda: ["XSETID", k(), c(["5-0", "0-1", "x"])] + c([[], ["ENTRIESADDED", "9", "MAXDELETEDID", "1-1"]]),
        lambda: ["XINFO", "STREAM", k()], lambda: ["XREVRANGE", k(), "+", "-", "COUNT", "1"],
        lambda: ["XRANGE", k(), "-", "+"], lambda: ["GEOADD", k(), "13.36", "38.11", "p"],
        lambda: ["GEODIST", k(), "p", "q"],
        lambda: ["SORT", k()] + c([[], ["ALPHA"], ["STORE", "k2"], ["LIMIT", "0", "1"]]),
        lambda: ["MULTI"], lambda: ["EXEC"], lambda: ["DISCARD"], lambda: ["WATCH", k()], lambda: ["UNWATCH"],
        lambda: ["EVAL", c(SCRIPTS), "1", k(), v()],
        lambda: ["EVAL_RO", c(['return redis.call("get",KEYS[1])', 'return redis.call("set",KEYS[1],"x")']), "1", k()],
        lambda: ["EVALSHA", c(["0" * 40, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"]), "1", k()],
        lambda: ["SCRIPT", "LOAD", "return 1"], lambda: ["SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"],
        lambda: ["FUNCTION", "LOAD", "REPLACE", LIBRARY], lambda: ["FUNCTION", "FLUSH"],
        lambda: ["FCALL", "f1", "1", k(), v()], lambda: ["FCALL_RO", "f1", "1", k(), v()],
        lambda: ["PING"], lambda: ["ECHO", v()], lambda: ["NOSUCH", "x"], lambda: ["GET"], lambda: ["SET", "k"],
        lambda: ["CLIENT", "REPLY", c(["ON", "OFF", "SKIP", "BAD"])],
        lambda: ["SUBSCRIBE", c(["a", "b"])], lambda: ["UNSUBSCRIBE", "a"], lambda: ["PSUBSCRIBE", c(["p*", "q*"])],
        lambda: ["PUNSUBSCRIBE", "p*"], lambda: ["PUBLISH", "a", "m"],
        lambda: ["HELLO", c(["2", "3", "4"])], lambda: ["RESET"],
        # Scripts that touch keys they do not declare, SORT's patterns, reads that write.
        lambda: ["EVAL", c(['return redis.call("set","k","undeclared")', 'return redis.call("get","n")',
                            'return redis.call("incr","n")']), "0"],
        lambda: ["SORT", k(), "BY", c(["nosort", "k*", "n"]), "GET", c(["#", "k2", "*"])],
        lambda: ["XGROUP", "CREATE", k(), "g", c(["0", "$"])] + c([[], ["MKSTREAM"]]),
        lambda: ["XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", k(), c([">", "0"])],
        lambda: ["XACK", k(), "g", "1-1"], lambda: ["XPENDING", k(), "g"],
        lambda: ["XREADGROUP", "GROUP", "g", c(["c1", "c2"]), "COUNT", c(["1", "5"]), "STREAMS", k(), c(["0", "1-1", ">"])],
        lambda: ["XGROUP", c(["CREATECONSUMER", "DELCONSUMER"]), k(), "g", c(["c1", "c2"])],
        lambda: ["XGROUP", "SETID", k(), "g", c(["0", "$", "1-1"])],
        lambda: ["XCLAIM", k(), "g", c(["c1", "c2"]), "0", c(["1-1", "2-0"]), "JUSTID"],
        lambda: ["XAUTOCLAIM", k(), "g", c(["c1", "c2"]), "0", "0-0", "COUNT", "2", "JUSTID"],
        lambda: ["SETEX", k(), c(["100", "0"]), v()], lambda: ["PSETEX", k(), "100000", v()],
        lambda: ["GETEX", k(), "PX", "100000"], lambda: ["BITFIELD", k(), "INCRBY", "u8", "0", "300"],
        lambda: ["BITOP", c(["AND", "NOT"]), k(), k()] + c([[], [k()]]), lambda: ["SMOVE", k(), k(), "1"],
        lambda: ["SINTERCARD", "2", k(), k()], lambda: ["LMPOP", "2", k(), k(), c(["LEFT", "RIGHT"])],
        lambda: ["BLMPOP", "0.02", "1", k(), "LEFT", "COUNT", "2"], lambda: ["ZMPOP", "1", k(), "MIN"],
        lambda: ["ZRANGESTORE", k(), k(), "0", "-1"],
        # DUMP's length: a stream's pending entries carry their delivery time.
        lambda: ["EVAL", 'local d = redis.call("dump", KEYS[1]); if d then return #d end; return d', "1", k()],
        lambda: ["RESTORE", k(), c(["0", "100000"]), c(["bad", "\x00\x01v\n\x00"])] + c([[], ["REPLACE"]]),
        lambda: ["CLIENT", c(["SETNAME", "GETNAME"])] + (["nm"] if rng.random() < 0.5 else []),
        lambda: ["CLIENT", "NO-EVICT", c(["on", "off", "x"])], lambda: ["ACL", "WHOAMI"],
        lambda: ["AUTH", c(["default", "nouser"]), "x"], lambda: ["FUNCTION", "DELETE", "lib"],
        lambda: ["FUNCTION", "LIST", "LIBRARYNAME", "l*"], lambda: ["SCRIPT", "FLUSH"],
        lambda: ["OBJECT", "FREQ", k()], lambda: ["LASTSAVE", "x"], lambda: ["SELECT", "1"],
        lambda: ["SPUBLISH", "s", "m"],
        # Connection and introspection commands the node answers or rewrites
        # itself. (Not BCAST tracking: Redis sends its invalidations once per
        # event loop turn, so whether a RESET later in the same read stops
        # them depends on how the input was split.)
        lambda: ["CLIENT", "TRACKING", c(["ON", "OFF"])] + c([[], ["OPTIN"], ["OPTOUT"], ["OPTIN", "OPTOUT"],
                                                            ["REDIRECT", "999"], ["PREFIX", "k"], ["NOLOOP"]]),
        lambda: ["CLIENT", "CACHING", c(["yes", "no", "x"])], lambda: ["CLIENT", "TRACKINGINFO"],
        lambda: ["CLIENT", "GETREDIR"], lambda: ["CLIENT", "UNPAUSE"], lambda: ["CLIENT", "NOSUCH"], lambda: ["CLIENT"],
        lambda: ["COMMAND", "GETKEYS"] + c([["SET", "a", "b"], ["EVAL", "x", "2", "a", "b"], ["SORT", "a", "STORE", "b"],
                                           ["MSET", "a"], ["GET"], ["NOSUCH"], ["XREAD", "STREAMS", "a", "b", "0", "0"],
                                           ["ZUNIONSTORE", "d", "2", "a", "b"], ["LMPOP", "2", "a", "b", "LEFT"],
                                           ["MIGRATE", "h", "1", "", "0", "5", "KEYS", "a", "b"],
                                           ["GEORADIUS", "a", "1", "2", "3", "m", "STORE", "b"]]),
        lambda: ["COMMAND", "COUNT"], lambda: ["COMMAND", "INFO", c(["get", "nosuch", "eval"])],
        lambda: ["COMMAND", "GETKEYSANDFLAGS", "LMOVE", "a", "b", "LEFT", "RIGHT"],
        lambda: ["OBJECT", c(["HELP", "REFCOUNT", "NOSUCH"]), k()],
        lambda: ["CONFIG", "GET", c(["maxmemory", "notify-keyspace-events", "nosuch*", "busy-reply-threshold"])],
        lambda: ["ECHO"], lambda: ["PING", "a", "b"], lambda: ["SELECT"],
        lambda: ["LATENCY", "LATEST"], lambda: ["MEMORY", "NOSUCH"], lambda: ["SWAPDB", "1", "1"],
        lambda: ["RANDOMKEY", "x"], lambda: ["KEYS", "nomatch*"], lambda: ["SCAN", "0", "MATCH", "zz*"], lambda: ["PUBSUB", "NUMSUB", "a"],
    ]
    return c(makers)()


# --- Faults between trials (--churn) -------------------------------------------

SETTLED = {("leader", "serving"), ("follower", "forwarding")}


class Churn:
    """Between trials, a fault the data must survive: a member killed (-9) and
    later restarted (after a snapshot of the leader, half the time, so that it
    may catch up from a snapshot), a member's child killed (rebuilt from the
    member's log and snapshot), a snapshot taken, leadership transferred. After
    each, every running member's data is compared with the reference's again.
    The members also run a divergence check every second (their children's
    digests at the same log index, streams' groups and functions included, all
    databases): a mismatch any member counted is a difference."""

    def __init__(self, cluster_dir, ports, rng):
        self.dir, self.ports, self.rng = cluster_dir, ports, rng
        self.down = {}  # port -> the command line it ran with
        self.counts = {}
        self.checks = {}  # port -> divergence checks it made (since it last started)
        self.mismatches = {}  # port -> mismatches it had counted when last asked

    def alive(self):
        return [p for p in self.ports if p not in self.down]

    def node_dir(self, port):
        return self.dir / f"n{self.ports.index(port) + 1}"

    def children_differ(self, want_data, after, after_fault=False):
        """Compares every running member's child itself with the reference (the
        node serves some reads from the leader's child: scripts, scans). A
        follower's child may still be applying the last entries: a difference
        counts once it lasted 5 s."""
        for port in self.alive():
            sock = str(self.node_dir(port) / "child" / "redis.sock")
            deadline = time.monotonic() + 5
            while True:
                try:
                    got = data_of(sock, after_fault)
                except (OSError, run_suite.RespError) as e:
                    got = f"unreadable: {e!r}"
                if got == want_data:
                    break
                if time.monotonic() > deadline:
                    rows = got if isinstance(got, str) else "\n".join(
                        f"  redis {w}\n  child {g}" for w, g in zip(want_data, got) if w != g)
                    return f"the child of {port} differs {after}\n{rows}"
                time.sleep(0.1)
        return None

    def status(self, port):
        """ANARCHO.STATUS as a dict; empty while the member does not answer (it closes
        its clients' connections when its child is lost)."""
        try:
            return run_suite.pairs(run_suite.call_once(port, "ANARCHO.STATUS", timeout=10))
        except (OSError, run_suite.RespError):
            return {}

    def leader(self):
        return next((p for p in self.alive() if run_suite.node_role(p) == ("leader", "serving")), None)

    def settle(self, what):
        """Waits until a leader serves and every running member is settled: its child
        healthy, and everything the leader had committed applied (a member that was
        down may still be installing a snapshot, which ends its clients' connections)."""
        def settled():
            leader = self.leader()
            if leader is None:
                return False
            commit = int(self.status(leader).get("commit_index", -1))
            for p in self.alive():
                st = self.status(p)
                if (st.get("role"), st.get("state")) not in SETTLED or st.get("child_healthy") != "yes":
                    return False
                if int(st.get("applied_index", -1)) < commit:
                    return False
            return True
        run_suite.wait_for(settled, 60, f"the cluster to settle after {what}")

    def divergences(self):
        """Mismatches running members' divergence checks found since last asked
        (a member's counts start again when it restarts: asked before each fault)."""
        found = []
        for port in self.alive():
            st = self.status(port)
            self.checks[port] = int(st.get("digest_checks", 0))
            mismatches = int(st.get("digest_mismatches", 0))
            if mismatches > self.mismatches.get(port, 0):
                found.append(f"{port}: {mismatches} mismatch(es), the last at index "
                             f"{st.get('last_digest_index')} ({st.get('last_digest_outcome')})")
            self.mismatches[port] = mismatches
        return "divergence checks failed: " + "; ".join(found) if found else None

    def step(self):
        """Does one fault and returns what it did."""
        choices = ["snapshot", "transfer", "child"] + (["restart"] * 3 if self.down else ["kill"] * 2)
        action = self.rng.choice(choices)
        self.counts[action] = self.counts.get(action, 0) + 1
        what = getattr(self, action)()
        self.settle(what)
        return what

    def snapshot(self):
        port = self.rng.choice(self.alive())
        run_suite.call_once(port, "ANARCHO.SNAPSHOT", timeout=60)
        return f"snapshot on {port}"

    def transfer(self):
        leader = self.leader()
        others = [p for p in self.alive() if p != leader]
        if leader is None or not others:
            return "no transfer (no second member running)"
        to = self.rng.choice(others)
        run_suite.call_once(leader, "ANARCHO.TRANSFER", str(self.ports.index(to) + 1), timeout=30)
        run_suite.wait_for(lambda: run_suite.node_role(to) == ("leader", "serving"), 30, f"{to} to lead")
        return f"leadership {leader} -> {to}"

    def child(self):
        port = self.rng.choice(self.alive())
        pid = int(self.status(port)["child_pid"])
        os.kill(pid, signal.SIGKILL)
        run_suite.wait_for(lambda: self.status(port).get("child_pid") not in (None, str(pid)), 60,
                           f"a new child on {port}")
        return f"child of {port} killed"

    def kill(self):
        port = self.rng.choice(self.ports)
        pid = int((self.node_dir(port) / "pid").read_text())
        self.down[port] = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        os.kill(pid, signal.SIGKILL)
        (self.node_dir(port) / "pid").unlink()  # the restart writes it again; stopping skips a member that is down
        run_suite.wait_for(lambda: not run_suite.answers(port, timeout=1), 30, f"{port} to stop")
        return f"member {port} killed"

    def restart(self):
        port = self.rng.choice(list(self.down))
        note = ""
        if self.rng.random() < 0.5:
            leader = self.leader()
            run_suite.call_once(leader, "ANARCHO.SNAPSHOT", timeout=60)
            note = f" after a snapshot on {leader}"
        self.mismatches.pop(port, None)  # counted again from 0
        with open(self.node_dir(port) / "node.log", "ab") as log:
            subprocess.Popen(self.down.pop(port), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                             start_new_session=True)
        return f"member {port} restarted{note}"


# --- Running a pipeline ---------------------------------------------------------

def read_until(sock, done, timeout):
    """Reads until done(bytes) or the peer closes; None after timeout."""
    out = b""
    deadline = time.monotonic() + timeout
    while not done(out):
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data = sock.recv(1 << 20)
        except socket.timeout:
            return None
        except ConnectionResetError:  # closed with requests unread
            return out + b"<closed>"
        if not data:
            return out + b"<closed>"
        out += data
    return out


# A user with few channels and without PING (the node's probe): what a
# subscribed connection owes is then told by errors.
RESTRICTED_USER = ["ACL", "SETUSER", "fz", "reset", "on", ">pw", "~*", "resetchannels", "&a", "&p*", "+@all",
                   "-ping", "-client|id"]


def refused_in_multi(requests):
    """Whether the node refuses one of the requests inside MULTI, a documented
    difference, judged from the requests: under CLIENT REPLY OFF the refusal
    (and so SKIP_MARK) never shows, while Redis's queued command still may
    (an UNSUBSCRIBE's confirmation leaves even then)."""
    in_multi = False
    for r in requests:
        name = r[0].lower()
        sub = r[1].lower() if len(r) > 1 else ""
        if name == "multi":
            in_multi = True
        elif name in ("exec", "discard", "reset"):
            in_multi = False
        elif in_multi and (name in REFUSED_IN_MULTI or (name == "hello" and len(r) > 1)
                           or (name == "client" and sub in ("reply", "kill"))):
            return True
        elif in_multi and name == "xreadgroup" and "streams" in (lowered := [a.lower() for a in r]):
            after = r[lowered.index("streams") + 1:]
            if any(i != ">" for i in after[len(after) // 2:]):
                return True
    return False


def run_pipeline(port, proto, requests, nonce, timeout, restricted=False):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        pre = [["SELECT", "0"], ["FLUSHALL"], ["FUNCTION", "FLUSH"], ["SCRIPT", "FLUSH"], RESTRICTED_USER]
        if restricted:
            pre.append(["AUTH", "fz", "pw"])
        if proto == 3:
            pre.append(["HELLO", "3"])
        pre.append(["ECHO", "ready"])
        s.sendall(b"".join(encode(r) for r in pre))
        if read_until(s, lambda b: b.endswith(b"ready\r\n"), timeout) is None:
            return b"<no answer to the preamble>"
        tail = [["RESET"], ["ECHO", nonce]]  # RESET: back to RESP2, unsubscribed, the default user
        s.sendall(b"".join(encode(r) for r in requests + tail))
        end = f"{nonce}\r\n".encode()
        out = read_until(s, lambda b: b.endswith(end), timeout)
        return b"<no end within %ds>" % timeout if out is None else HELLO_ID.sub(b"$2\r\nid\r\n:_", out)


# A stream's consumers (pending counts) and pending entries (owner, delivery
# count) per group, without the idle times.
CONSUMERS = """local out = {}
for _, g in ipairs(redis.call('xinfo', 'groups', KEYS[1])) do
  for _, c in ipairs(redis.call('xinfo', 'consumers', KEYS[1], g[2])) do
    table.insert(out, g[2] .. '/' .. c[2] .. ':' .. c[4])
  end
  for _, e in ipairs(redis.call('xpending', KEYS[1], g[2], '-', '+', 100)) do
    table.insert(out, g[2] .. '/' .. e[1] .. '@' .. e[2] .. '#' .. e[4])
  end
end
return out"""


# XINFO STREAM's fields that say what the stream holds (not its radix tree's layout).
STREAM_FIELDS = {"length", "last-generated-id", "max-deleted-entry-id", "entries-added", "recorded-first-entry-id"}


def without_entries_read(groups):
    """XINFO GROUPS without entries-read and lag, which Redis 7.0 does not
    replicate (README): after a failover they are as a promoted replica has them."""
    if not isinstance(groups, list):
        return groups
    kept = []
    for g in groups:
        pairs = zip(g[0::2], g[1::2]) if isinstance(g, list) else []
        kept.append([x for name, v in pairs if name not in ("entries-read", "lag") for x in (name, v)])
    return kept


def data_of(port, after_fault=False):
    """What a target holds after a trial, in a form that does not depend on the
    child's hash order: per db and key its type, value and whether it expires."""
    rows = []
    c = run_suite.Resp(port)
    try:
        def q(*args):
            try:
                return c.call(*args)
            except run_suite.RespError as e:
                return f"error {e}"
        for db in DBS:
            q("SELECT", db)
            for key in KEYS:
                kind = q("TYPE", key)
                read = {"string": ("GET",), "list": ("LRANGE", "0", "-1"), "hash": ("HGETALL",),
                        "set": ("SMEMBERS",), "zset": ("ZRANGE", "0", "-1", "WITHSCORES"),
                        "stream": ("XRANGE", "-", "+")}.get(kind)
                val = q(read[0], key, *read[1:]) if read else None
                if kind == "hash":
                    val = sorted(zip(val[0::2], val[1::2]))
                elif kind == "set":
                    val = sorted(val)
                if kind == "stream":  # its metadata and consumer groups: delivery state, not the idle times
                    groups = q("XINFO", "GROUPS", key)
                    info = q("XINFO", "STREAM", key)
                    info = [x for name, v in zip(info[0::2], info[1::2]) if name in STREAM_FIELDS for x in (name, v)]
                    val = (val, info, without_entries_read(groups) if after_fault else groups,
                           q("EVAL", CONSUMERS, "1", key))
                ttl = q("PTTL", key) if kind != "none" else None
                rows.append((db, key, kind, repr(val), ttl > 0 if isinstance(ttl, int) else ttl))
        rows.append(("functions", repr(q("FUNCTION", "LIST"))))
    finally:
        c.close()
    return rows


def show(requests):
    return "\n".join("    " + " ".join(a if len(a) < 40 else f"{a[:20]}...({len(a)} bytes)" for a in r)
                     for r in requests)


def arguments(description, base_port, ref_base_port):
    """The command line differential.py and spread.py share."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=100, help="trials (pipelines) per protocol")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max_len", type=int, default=12, help="most requests in one trial")
    ap.add_argument("--protocols", default="2,3")
    ap.add_argument("--timeout", type=int, default=20, help="seconds a trial's replies may take")
    ap.add_argument("--ports", help="test these nodes (already running) instead of starting a cluster")
    ap.add_argument("--ref_port", type=int, help="a plain redis-server already running, as the reference")
    ap.add_argument("--node_bin", type=Path, default=run_suite.REPO / "build/node/anarchoredis")
    ap.add_argument("--admin_bin", type=Path, default=run_suite.REPO / "build/tools/anarcho-admin")
    ap.add_argument("--base_port", type=int, default=base_port)
    ap.add_argument("--ref_base_port", type=int, default=ref_base_port)
    ap.add_argument("--work_dir", type=Path)
    ap.add_argument("--max_diffs", type=int, default=5, help="stop after this many differences")
    ap.add_argument("--only", help="draw only requests whose command name matches this regular expression")
    ap.add_argument("--churn", type=float, default=0.0,
                    help="chance after each trial of a fault (kill, restart, child kill, snapshot, transfer)")
    ap.add_argument("--require_env", help="run only if this environment variable is 1 (else exit 77)")
    return ap


def run(args, check_with, work_prefix):
    """Starts the reference and the cluster (or uses the ones --ref_port and
    --ports name), then returns check_with(args, ref_port, ports, churn)."""
    if args.require_env and os.environ.get(args.require_env) != "1":
        print(f"skipped: set {args.require_env}=1 to run")
        return 77
    work = args.work_dir or Path(tempfile.mkdtemp(prefix=work_prefix))
    for old in (work / "plain", work / "cluster"):  # a previous run's
        shutil.rmtree(old, ignore_errors=True)
    started = []
    try:
        if args.ref_port:
            ref_port = args.ref_port
        else:
            ref = run_suite.PlainServer(args.ref_base_port, work / "plain")
            ref.start()
            started.append(ref)
            ref_port = ref.port
        if args.ports:
            ports = [int(p) for p in args.ports.split(",")]
        else:
            # Under --churn: frequent snapshots, and a log kept only to them, so a
            # member that was down catches up from a snapshot; a divergence check
            # every second, whose mismatches count as differences.
            node_args = ["--snapshot_log_bytes=200000", "--snapshot_keep_entries=0",
                         "--digest_interval_s=1"] if args.churn else []
            cluster = run_suite.Cluster(args.admin_bin, args.node_bin, args.base_port, work / "cluster",
                                        node_args=node_args)
            cluster.start()
            started.append(cluster)
            ports = cluster.ports()
            for p in ports:
                run_suite.wait_for(lambda p=p: run_suite.answers(p), 30, f"node on {p}")
        churn = None
        if args.churn:
            if args.ports:
                sys.exit("--churn needs a cluster this run starts (it kills and restarts members)")
            churn = Churn(work / "cluster", ports, random.Random(args.seed * 7919 + 1))
        return check_with(args, ref_port, ports, churn)
    finally:
        for s in reversed(started):
            s.stop()


def main():
    return run(arguments(__doc__, 23500, 23400).parse_args(), check, "anarcho-differential-")


def check(args, ref_port, ports, churn=None):
    rng = random.Random(args.seed)
    only = re.compile(args.only, re.IGNORECASE) if args.only else None
    diffs = skipped = trials = faults = 0
    begin = time.monotonic()

    def differs(want_data, port, after, after_fault=False):
        try:
            got_data = data_of(port, after_fault)
        except (OSError, run_suite.RespError) as e:
            return f"data unreadable {after}: {e!r}"
        if got_data == want_data:
            return None
        rows = [f"  redis {w}\n  node  {g}" for w, g in zip(want_data, got_data) if w != g]
        return f"data differs {after}\n" + "\n".join(rows)

    for proto in map(int, args.protocols.split(",")):
        for trial in range(args.trials):
            requests = [request(rng, only) for _ in range(rng.randint(2, args.max_len))]
            restricted = rng.random() < 0.25
            if refused_in_multi(requests):
                trials += 1
                skipped += 1
                continue
            nonce = f"end-{proto}-{trial}"
            want = run_pipeline(ref_port, proto, requests, nonce, args.timeout, restricted)
            want_data = data_of(ref_port)
            trials += 1
            problem = port = None
            for port in churn.alive() if churn else ports:
                got = align_clock(want, run_pipeline(port, proto, requests, nonce, args.timeout, restricted))
                if SKIP_MARK in got:
                    skipped += 1
                    break
                if got != want:
                    at = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
                    start = max(0, at - 300)
                    problem = (f"replies differ at byte {at}\n  redis: ...{want[start:at + 500]!r}\n"
                               f"  node:  ...{got[start:at + 500]!r}")
                else:
                    problem = differs(want_data, port, "after the pipeline")
                if problem:
                    break
            else:
                if churn and churn.rng.random() < args.churn:
                    want_data_of_fault = data_of(ref_port, after_fault=True)
                    diverged = churn.divergences()
                    if diverged:
                        diffs += 1
                        print(f"DIFFERENCE (before fault {faults + 1}): {diverged}", flush=True)
                    else:
                        what = churn.step()
                        faults += 1
                        for port in churn.alive():
                            problem = differs(want_data_of_fault, port, f"after a fault ({what})", True)
                            if problem:
                                break
                        else:
                            problem = churn.children_differ(want_data_of_fault, f"after a fault ({what})", True)
            if problem:
                diffs += 1
                user = ", user fz" if restricted else ""
                print(f"DIFFERENCE (RESP{proto}{user}, trial {trial}, node port {port}): {problem}\n"
                      f"  pipeline:\n{show(requests)}", flush=True)
            if diffs >= args.max_diffs:
                break
        if diffs >= args.max_diffs:
            break
    if churn and (problem := churn.divergences()):
        diffs += 1
        print(f"DIFFERENCE (at the end): {problem}", flush=True)
    faulted = (f", {faults} faults between them ({churn.counts}), {sum(churn.checks.values())} divergence "
               f"checks by the running members" if churn else "")
    print(f"{trials} pipelines against {len(ports)} node(s) and redis-server in {time.monotonic() - begin:.0f} s"
          f"{faulted}: {diffs} differed, {skipped} skipped (a documented refusal inside MULTI)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
