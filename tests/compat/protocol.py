#!/usr/bin/env python3
"""Protocol differential: random byte streams sent to every node of a cluster
and to a plain redis-server, what each answers compared byte for byte.

Each trial builds one stream of requests written the ways a client (or a
broken one) can write them: RESP multibulk, inline commands with quoting and
escapes, empty lines, lengths with signs and leading zeros, a bulk whose CRLF
is something else, nil and empty multibulks, declared lengths past what
follows, QUIT; then, in some trials, a few random insertions, deletions and
byte changes, and now and then an inline line past 64 KB at the end. The stream goes to a fresh connection
of each target in the same random pieces (so the node parses requests split
anywhere), after FLUSHALL. What each target answers until it closes the
connection or falls silent is compared, with whether it closed: a protocol
error must come where Redis gives it, with its text, after the same replies,
and close the connection as Redis does; an incomplete request must leave it
open. A node that stops answering, or answers later, is a difference too. A
trial where the node refuses a request inside MULTI (documented in the README)
is skipped, and a connection the node closes where Redis leaves it open after a
CLIENT REPLY that silenced the end (documented too) is not a difference.

Exit status: 0 if no trial differed, 1 otherwise (each difference is printed
with its stream), 77 when --require_env names a variable that is not "1".
"""

import random
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import differential  # noqa: E402  (arguments, run, encode)
import run_suite  # noqa: E402

# Requests whose replies depend only on the requests before them on the same
# connection (the keyspace is flushed before each target's turn).
REQUESTS = [
    ["PING"], ["PING", "hello world"], ["ECHO", "x y"], ["SET", "k", "v"], ["SET", "k", ""], ["GET", "k"],
    ["INCR", "n"], ["DEL", "k", "n"], ["MGET", "k", "n", "k2"], ["APPEND", "k", "a\r\nb"], ["EXISTS", "k", "k2"],
    ["STRLEN", "k"], ["RPUSH", "l", "a", "b"], ["LRANGE", "l", "0", "-1"], ["HSET", "h", "f", "1"],
    ["HGETALL", "h"], ["SELECT", "1"], ["SELECT", "0"], ["DBSIZE"], ["GET"], ["NOSUCHCOMMAND", "x"],
    ["HELLO", "3"], ["HELLO", "2"], ["CLIENT", "SETNAME", "fz"], ["CLIENT", "GETNAME"], ["MULTI"], ["EXEC"],
    ["DISCARD"], ["QUIT"], ["CLIENT", "REPLY", "OFF"], ["CLIENT", "REPLY", "ON"], ["CLIENT", "REPLY", "SKIP"],
    ["SUBSCRIBE", "ch"], ["UNSUBSCRIBE"], ["RESET"], ["AUTH", "nopass"], ["WATCH", "k"], ["BLPOP", "nolist", "0.01"],
    ["PSUBSCRIBE", "c*"], ["PUNSUBSCRIBE"], ["PUBLISH", "ch", "m"], ["SELECT", "99"], ["PING", ""],
]


def quoted(arg, rng):
    """An inline argument, quoted the way sdssplitargs reads it when it needs to be."""
    plain = arg and not any(c in arg for c in " \t\r\n\"'\\")
    if plain and rng.random() < 0.7:
        return arg
    if rng.random() < 0.5:
        out = []
        for c in arg:
            if c in "\"\\" or (c in "\r\n" and rng.random() < 0.5):
                out.append({"\r": "\\r", "\n": "\\n"}.get(c, "\\" + c))
            elif rng.random() < 0.1:
                out.append("\\x%02x" % ord(c))
            else:
                out.append(c)
        return '"' + "".join(out) + '"'
    return "'" + arg.replace("'", "\\'") + "'"


def inline(req, rng):
    spaces = [" ", " ", "  ", "\t"]
    line = rng.choice(["", " "]) + rng.choice(spaces).join(quoted(a, rng) for a in req)
    return (line + rng.choice(["\r\n", "\r\n", "\n"])).encode()


def multibulk(req, rng):
    """Mostly plain RESP; sometimes lengths written as Redis still reads them
    (a sign, leading zeros) or a CRLF after a bulk that is something else."""
    def length(n):
        r = rng.random()
        return str(n) if r < 0.85 else ("+%d" % n if r < 0.92 else "0%d" % n)
    out = [b"*%s\r\n" % length(len(req)).encode()]
    for a in req:
        b = a.encode()
        end = b"\r\n" if rng.random() < 0.95 else rng.choice([b"xx", b"\n\n", b"\r\r"])
        out.append(b"$%s\r\n%s%s" % (length(len(b)).encode(), b, end))
    return b"".join(out)


ODDITIES = [
    b"\r\n", b"\n", b"*0\r\n", b"*-1\r\n", b"*-5\r\n", b"*1\r\n$-1\r\n", b"*1\r\n$0\r\n\r\n", b" \r\n",
    b"*2\r\n$4\r\nECHO\r\n$3\r\nabcdef\r\n", b"*1\r\n$4\r\nPINGxx", b"\"unbalanced\r\n", b"'x\r\n",
    b"ECHO \"a\"b\r\n", b"ECHO \"\\x4\"\r\n", b"ECHO \"\\x4g\"\r\n", b"*1\r\nx\r\n", b"*abc\r\n", b"*1\r\n$abc\r\n",
    b"*1\r\n$999999999999\r\n", b"*99999999999\r\n", b"*3\r\n$3\r\nSET\r\n", b"$3\r\nGET\r\n", b"+PING\r\n",
    b":1\r\n", b"*1\r\n$4\r\nPI", b"*2\r\n$4\r\nECHO\r\n$100\r\nshort\r\n", b"PING\x00PING\r\n",
]

BIG_INLINE = b"ECHO " + b"a" * (64 * 1024 + 10)


def stream(rng):
    """The bytes, and whether a CLIENT REPLY OFF or SKIP is among them."""
    parts = []
    silencing = False
    for _ in range(rng.randint(1, 8)):
        r = rng.random()
        if r < 0.12:
            parts.append(rng.choice(ODDITIES))
        else:
            req = rng.choice(REQUESTS)
            silencing |= req[:2] == ["CLIENT", "REPLY"] and req[2] != "ON"
            parts.append(inline(req, rng) if rng.random() < 0.4 else multibulk(req, rng))
    data = bytearray(b"".join(parts))
    if rng.random() < 0.3:
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data) + 1)
            kind = rng.random()
            if kind < 0.4:
                data[at:at] = bytes(rng.choice(b"*$\r\n0123456789-+ \"'\\xa") for _ in range(rng.randint(1, 3)))
            elif kind < 0.7:
                del data[at:at + rng.randint(1, 4)]
            elif at < len(data):
                data[at] = rng.choice(b"*$\r\n0123456789-+ \"'\\xa\x00")
    # An inline line past 64 KB, last: with no line end after it, an error
    # however it arrives. (With one, Redis's answer depends on how much it had
    # read when it looked; the node rejects any such line, see request_parser.cc.)
    return bytes(data) + (BIG_INLINE if rng.random() < 0.03 else b""), silencing


def pieces(data, rng):
    """Where the stream is cut, and the pause after each piece (seconds)."""
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 4)))) if len(data) > 1 else []
    bounds = [0] + cuts + [len(data)]
    return [(bounds[i], bounds[i + 1], rng.choice([0, 0, 0.002, 0.02])) for i in range(len(bounds) - 1)]


def without_client_id(out):
    return differential.HELLO_ID.sub(b"$2\r\nid\r\n:_", out)


def answer(port, data, cuts, quiet, settle_for=None, settle_timeout=5.0):
    """What `port` answers to `data` sent in `cuts`: (bytes, closed), HELLO's
    client id left out. Reads until the peer closes or `quiet` seconds pass
    without a byte; given `settle_for` (the reference's answer), keeps waiting
    up to settle_timeout while the answer is still short of it (or of its
    close): the node may just be slower."""
    run_suite.call_once(port, "FLUSHALL")
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for start, end, pause in cuts:
            try:
                s.sendall(data[start:end])
            except (BrokenPipeError, ConnectionResetError):
                break
            if pause:
                time.sleep(pause)
        deadline = time.monotonic() + settle_timeout
        while True:
            so_far = without_client_id(out)
            behind = settle_for is not None and settle_for[0].startswith(so_far) and (
                len(so_far) < len(settle_for[0]) or settle_for[1])
            s.settimeout(max(deadline - time.monotonic(), 0.001) if behind else quiet)
            try:
                chunk = s.recv(1 << 16)
            except socket.timeout:
                return so_far, False
            except ConnectionResetError:
                return so_far, True
            if not chunk:
                return so_far, True
            out += chunk


def silenced_close(silencing, want, got):
    """The README's documented difference: a connection whose protocol error
    (or QUIT) CLIENT REPLY OFF or SKIP silenced, with nothing else to write, is
    closed by the node, where Redis leaves it open and reads no more."""
    return silencing and want[0] == got[0] and got[1] and not want[1]


def check(args, ref_port, ports, churn=None):
    rng = random.Random(args.seed)
    diffs = skipped = 0
    begin = time.monotonic()
    for trial in range(args.trials):
        data, silencing = stream(rng)
        cuts = pieces(data, rng)
        want = answer(ref_port, data, cuts, quiet=0.15)
        for port in ports:
            got = answer(port, data, cuts, quiet=0.15, settle_for=want)
            if differential.SKIP_MARK in got[0]:
                skipped += 1  # a documented refusal inside MULTI
                break
            if got == want or silenced_close(silencing, want, got):
                continue
            diffs += 1
            print(f"DIFFERENCE (trial {trial}, node port {port}):\n  stream: {data[:600]!r}\n"
                  f"  pieces: {[(a, b) for a, b, _ in cuts]}\n"
                  f"  redis: {want[0][:600]!r} {'closed' if want[1] else 'open'}\n"
                  f"  node:  {got[0][:600]!r} {'closed' if got[1] else 'open'}", flush=True)
            break
        if diffs >= args.max_diffs:
            break
    print(f"{trial + 1} streams against {len(ports)} node(s) and redis-server in {time.monotonic() - begin:.0f} s: "
          f"{diffs} differed, {skipped} skipped (a documented refusal inside MULTI)")
    return 1 if diffs else 0


def main():
    return differential.run(differential.arguments(__doc__, 24000, 24050).parse_args(), check,
                            "anarcho-protocol-")


if __name__ == "__main__":
    sys.exit(main())
