#!/usr/bin/env python3
"""Runs Redis's own test suite (tag 7.0.15, external mode) against anarchoredis.

Starts a local 3-node cluster (or a plain redis-server for reference, or uses a
server already running), then runs each unit with its own `./runtest --single`
against the leader and/or a follower, parses runtest's output and writes a
summary. See README.md in this directory for the policy and the usual commands.

Exit status: 0 only if every test that ran passed, no unit aborted or timed
out, every target ran at least --min_tests tests, and at the end every node
still answers SET/GET and (a cluster) every member holds the same data.
77 when --require_env names a variable that is not "1" (CTest: skipped).
"""

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# The units REDIS-TESTS.md measured on plain redis (1127 tests, ~72 s): the data
# types, expiry, keyspace, transactions, scripting and INFO. The fast variant.
FAST_UNITS = [
    "unit/type/string", "unit/type/incr", "unit/type/list", "unit/type/hash",
    "unit/type/set", "unit/type/zset", "unit/expire", "unit/keyspace",
    "unit/multi", "unit/scripting", "unit/info-command",
]

# --durable: a failed test must not end its unit (we want every failure, not
# the first). Encodings and DEBUG DIGEST comparisons check redis-server's
# internals, which anarchoredis leaves to the same redis-server binary; what we
# measure here is the behaviour clients see.
RUNTEST_FLAGS = ["--durable", "--ignore-encoding", "--ignore-digest"]

# runtest's test server listens on 21079 (+ a few); this lock keeps two runners
# on one machine from racing for it.
SUITE_LOCK = Path(tempfile.gettempdir()) / "redis-test-suite-21079.lock"

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STATUS_LINE = re.compile(r"^\[(ok|err|skip|ignore|exception|TIMEOUT)\]:?\s?(.*)$")
DONE_LINE = re.compile(r"^\[\d+/\d+ done\]: (\S+)")


# --- A minimal RESP client: enough for PING, CONFIG and ANARCHO.STATUS --------

class RespError(Exception):
    pass


class Resp:
    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        """`port`: a TCP port on `host`, or the path of a unix socket."""
        if isinstance(port, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(port)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._read()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode(errors="replace")
        if kind == b"-":
            raise RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode(errors="surrogateescape")
        if kind in (b"*", b"%"):
            n = int(rest)
            if n < 0:
                return None
            return [self._read() for _ in range(n * (2 if kind == b"%" else 1))]
        raise RespError("unexpected reply type %r" % line)


def call_once(port, *args, timeout=10.0):
    c = Resp(port, timeout=timeout)
    try:
        return c.call(*args)
    finally:
        c.close()


def pairs(flat):
    return dict(zip(flat[0::2], flat[1::2]))


def answers(port, timeout=5.0):
    try:
        # A data command: a node without a leader answers PING too.
        return isinstance(call_once(port, "EXISTS", "anarcho:ready?", timeout=timeout), int)
    except (OSError, RespError):
        return False


def port_free(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


# --- The servers under test ----------------------------------------------------

class PlainServer:
    """A plain redis-server: the reference the runner itself is checked against."""

    def __init__(self, port, data_dir):
        self.port, self.dir = port, data_dir
        self.proc = None

    def start(self):
        if not port_free(self.port):
            sys.exit(f"port {self.port} is in use")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: answers(self.port), 10, f"redis-server on {self.port}")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
            if self.proc.poll() is None:
                self.proc.kill()

    def ports(self):
        return [self.port]

    def resolve(self, target):
        return "plain", self.port


class ExternalServer:
    """A server someone else started (--port): tested as it is, whatever its role."""

    def __init__(self, port):
        self.port, self.dir = port, None

    def start(self):
        if not answers(self.port):
            sys.exit(f"nothing answers PING on port {self.port}")

    def stop(self):
        pass

    def ports(self):
        return [self.port]

    def resolve(self, target):
        return f"port-{self.port}", self.port


class Cluster:
    """A local anarchoredis cluster started through anarcho-admin."""

    def __init__(self, admin, node_bin, base_port, data_dir, nodes=3, node_args=()):
        self.admin, self.node_bin, self.base = admin, node_bin, base_port
        self.dir, self.n, self.node_args = data_dir, nodes, list(node_args)

    def ports(self):
        return [self.base + i for i in range(self.n)]

    def start(self):
        # Which build was measured: the binary may be rebuilt while a run goes on
        # (the running nodes keep the old one).
        st = self.node_bin.stat()
        digest = hashlib.sha256(self.node_bin.read_bytes()).hexdigest()[:12]
        self.binary_id = (f"{self.node_bin} (built {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(st.st_mtime))}, "
                          f"sha256 {digest})")
        busy = [p for i in range(self.n) for p in (self.base + i, self.base + 100 + i) if not port_free(p)]
        if busy:
            sys.exit(f"ports in use: {busy} (pick another --base_port)")
        subprocess.run([str(self.admin), "cluster", "start", "--dir", str(self.dir), "--nodes", str(self.n),
                        "--base_port", str(self.base), "--node_bin", str(self.node_bin)]
                       + (["--node_args", ",".join(self.node_args)] if self.node_args else []), check=True)

    def stop(self):
        subprocess.run([str(self.admin), "cluster", "stop", "--dir", str(self.dir)],
                       stdout=subprocess.DEVNULL, check=False)

    def divergence_check(self):
        """Every member's data compared at one log index (ANARCHO.DIGEST), as every
        integration and fault test ends: the suite's odd corners must not split them."""
        out = subprocess.run([str(self.admin), "digest", "--dir", str(self.dir)],
                             capture_output=True, text=True, timeout=120)
        lines = [l for l in (out.stdout + out.stderr).splitlines() if l.strip()]
        return out.returncode == 0, lines

    def resolve(self, target):
        """The port of the leader or of a follower, found anew for each target:
        the units run against the leader may have moved leadership."""
        wanted = ("leader", "serving") if target == "leader" else ("follower", "forwarding")

        def find():
            return next((p for p in self.ports() if node_role(p) == wanted), None)
        return target, wait_for(find, 30, f"a {target} ({'/'.join(wanted)})")


def node_role(port):
    """(role, state) from ANARCHO.STATUS, or None if the node does not answer it."""
    try:
        st = pairs(call_once(port, "ANARCHO.STATUS", timeout=5))
        return st.get("role"), st.get("state")
    except (OSError, RespError, TypeError):
        return None


def wait_for(fn, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = fn()
        if r:
            return r
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}")


# --- Settings: the suite changes them and never undoes it in external mode ------

def config_snapshot(port):
    try:
        return pairs(call_once(port, "CONFIG", "GET", "*"))
    except (OSError, RespError):
        return {}


def config_restore(port, snapshot):
    """Sets back every setting that differs from the snapshot; refusals are fine.

    Only the changed ones are set, so a server that refuses some settings (or
    CONFIG SET altogether) is not asked about the others.
    """
    restored, refused = [], []
    for name, value in config_snapshot(port).items():
        if name in snapshot and snapshot[name] != value:
            try:
                call_once(port, "CONFIG", "SET", name, snapshot[name])
                restored.append(name)
            except (OSError, RespError):
                refused.append(name)
    return restored, refused


# --- The suite -----------------------------------------------------------------

def prepare_suite(tarball, work_dir):
    """Unpacks the suite once into work_dir/redis-tests and links the Redis tools it spawns."""
    suite = work_dir / "redis-tests"
    stamp = suite / ".unpacked-from"
    if not (stamp.exists() and stamp.read_text() == str(tarball)):
        shutil.rmtree(suite, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix="unpack-", dir=work_dir))
        with tarfile.open(tarball) as tar:
            # The "data" filter (refuse absolute paths, links out) exists from 3.11.4 on.
            tar.extractall(tmp, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        (top,) = tmp.iterdir()  # redis-tests-7.0.15/
        top.rename(suite)
        tmp.rmdir()
        stamp.write_text(str(tarball))
    # runtest expects a Redis source tree: src/redis-server etc. Helpers such as
    # redis-cli tests and the benchmark use them even in external mode.
    (suite / "src").mkdir(exist_ok=True)
    for tool in ("redis-server", "redis-cli", "redis-benchmark"):
        link, real = suite / "src" / tool, shutil.which(tool)
        if real and not link.exists():
            link.symlink_to(real)
    return suite


def all_units(suite):
    """Every unit runtest knows that the tarball holds (some are left out of it)."""
    out = subprocess.run(["./runtest", "--list-tests"], cwd=suite, capture_output=True, text=True, check=True)
    return [u for u in out.stdout.split() if (suite / "tests" / f"{u}.tcl").exists()]


def read_skiplist(path):
    """(entry, reason) pairs. Every entry must sit under a comment: no reason, no skip.

    A comment block gives the reason for the entries after it, up to the next
    blank line. An entry is "tag: NAME" (every test tagged NAME), a whole test
    name (runtest compares names exactly) or, starting with '/', a regexp.
    """
    entries, reason, prev_comment = [], None, False
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.rstrip()
        if line.startswith("#"):
            text = line.lstrip("#").strip()
            reason = (reason + " " + text).strip() if prev_comment and reason else text
            prev_comment = True
            continue
        prev_comment = False
        if not line.strip():
            reason = None
            continue
        if not reason:
            sys.exit(f"{path}:{n}: skip list entry without a reason comment above it: {line}")
        entries.append((line, reason))
    return entries


@dataclass
class UnitResult:
    target: str
    unit: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    ignored: int = 0
    status: str = "ok"  # ok | block aborted | exception | timeout | incomplete | server down
    seconds: float = 0.0
    failures: list = field(default_factory=list)  # (test name, first error line)
    exception: str = ""
    note: str = ""


def error_line(first, block):
    """The error of an [err] or [exception] line, with the command that raised it.

    runtest cuts the first 10 characters of every message (it expects an
    "assertion:" prefix); for other errors the Tcl stack trace follows, whose
    first line is the whole message and whose first "invoked from within" names
    the command (e.g. `r config set save ""`).
    """
    msg = first.strip()
    if block and msg and block[0].strip().endswith(msg):
        msg = block[0].strip()
    for j, line in enumerate(block[:-1]):
        if line.strip() == "invoked from within":
            msg += "  [at: " + block[j + 1].strip().strip('"')[:100] + "]"
            break
    return msg


def parse_runtest(text, res):
    """Counts runtest's per-test status lines. Only lines that start with the
    status count: the closing summary repeats every error behind '*** '."""
    lines = ANSI.sub("", text).splitlines()
    starts = [i for i, line in enumerate(lines) if STATUS_LINE.match(line) or DONE_LINE.match(line)]
    done = False
    for k, i in enumerate(starts):
        if DONE_LINE.match(lines[i]):
            done = True
            continue
        # The lines up to the next status line: an error's message and stack trace.
        block = lines[i + 1:starts[k + 1] if k + 1 < len(starts) else len(lines)]
        block = block[:next((j for j, l in enumerate(block) if l.startswith("*** ") or l == ""), len(block))]
        kind, data = STATUS_LINE.match(lines[i]).groups()
        if kind == "ok":
            res.passed += 1
        elif kind == "skip":
            res.skipped += 1
        elif kind == "ignore":
            res.ignored += 1
        elif kind == "err" and re.search(r" in tests/\S+\.tcl$", data):
            # "<name> in tests/unit/x.tcl", the message on the next line.
            res.failed += 1
            name = re.sub(r" in tests/\S+\.tcl$", "", data)
            res.failures.append((name, error_line(block[0] if block else "", block[1:])))
        elif kind == "err":
            # An error in a start_server body outside any test: runtest (--durable)
            # reports it and goes on after that block, whose remaining tests never ran.
            res.failed += 1
            res.failures.append(("(start_server block aborted: its remaining tests did not run)",
                                 error_line(data, block)))
            res.status = "block aborted"
        elif kind == "exception":
            # The test client died: the rest of the unit never ran.
            res.status = "exception"
            res.exception = error_line(data, block)
        elif kind == "TIMEOUT":
            res.status = "timeout"
    if res.status == "ok" and not done:
        res.status = "incomplete"


def run_unit(suite, port, unit, target, skips, timeout, extra, log_dir):
    res = UnitResult(target, unit)
    log = log_dir / (unit.replace("/", "_") + ".log")
    tags = [e[len("tag:"):].strip() for e, _ in skips if e.startswith("tag:")]
    cmd = ["./runtest", "--host", "127.0.0.1", "--port", str(port), "--single", unit, *RUNTEST_FLAGS,
           "--tags", " ".join("-" + t for t in tags), "--timeout", str(timeout)]
    for entry, _ in skips:
        if not entry.startswith("tag:"):
            cmd += ["--skiptest", entry]
    cmd += extra
    start = time.monotonic()
    with open(log, "w") as out:
        # Own session: runtest starts its test client as a separate tclsh, and a
        # timeout must take both down.
        proc = subprocess.Popen(cmd, cwd=suite, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            res.status = "timeout"
    res.seconds = time.monotonic() - start
    timed_out = res.status == "timeout"
    parse_runtest(log.read_text(errors="replace"), res)
    if timed_out:
        res.status = "timeout"
        res.exception = f"killed after {timeout} s (--unit_timeout)"
    return res


# --- Report --------------------------------------------------------------------

def summary_markdown(title, results, skips, post_checks, problems, reference):
    """The report. `reference` (unit -> tests plain redis passed, from the last
    --plain run) shows how much of a unit an abort left unrun."""
    out = [f"# {title}", ""]
    if reference:
        out += ["`plain`: tests plain redis-server passed in this unit (last `--plain` run in this work dir).", ""]
    for target in dict.fromkeys(r.target for r in results):
        rows = [r for r in results if r.target == target]
        out += [f"## {target}", "",
                "| unit | passed | failed | skipped | ignored | timeouts |" + (" plain |" if reference else "")
                + " status | seconds | notes |",
                "|---|---:|---:|---:|---:|---:|" + ("---:|" if reference else "") + "---|---:|---|"]
        for r in rows:
            ref = f" {reference.get(r.unit, '')} |" if reference else ""
            out.append(f"| {r.unit} | {r.passed} | {r.failed} | {r.skipped} | {r.ignored} | "
                       f"{int(r.status == 'timeout')} |{ref} {r.status} | {r.seconds:.0f} | {md(r.note)} |")
        t = lambda f: sum(getattr(r, f) for r in rows)  # noqa: E731
        ref = f" {sum(reference.get(r.unit, 0) for r in rows)} |" if reference else ""
        out.append(f"| **total** | {t('passed')} | {t('failed')} | {t('skipped')} | {t('ignored')} | "
                   f"{sum(r.status == 'timeout' for r in rows)} |{ref} | {t('seconds'):.0f} | |")
        out.append("")
    failed = [(r, n, d) for r in results for n, d in r.failures]
    # A block abort is already among the failures; these ended the whole unit.
    ended = [r for r in results if r.status not in ("ok", "block aborted")]
    if failed or ended:
        out += ["## Failed tests", "", "| target | unit | test | first error line |", "|---|---|---|---|"]
        for r, name, detail in failed:
            out.append(f"| {r.target} | {r.unit} | {md(name)} | {md(detail)} |")
        for r in ended:
            out.append(f"| {r.target} | {r.unit} | (unit {r.status}: the rest of it did not run) | {md(r.exception)} |")
        out.append("")
    if post_checks:
        out += ["## After the run: SET/GET on every node (and, for a cluster, the divergence check)", ""]
        out += [f"- {c}" for c in post_checks] + [""]
    if problems:
        out += ["## Why this run fails", ""] + [f"- {p}" for p in problems] + [""]
    out += ["## Skip list applied", ""]
    for why in dict.fromkeys(why for _, why in skips):
        out.append("- " + ", ".join(f"`{n}`" for n, w in skips if w == why) + f": {why}")
    out.append("")
    return "\n".join(out)


def md(s):
    return s.replace("|", "\\|").replace("\n", " ")[:300]


def post_check(ports):
    """Each node must still serve a write and a read: a unit can wedge a node."""
    lines, ok = [], True
    for p in ports:
        try:
            c = Resp(p, timeout=10)
            c.call("SELECT", "0")
            c.call("SET", "compat:post-check", str(p))
            got = c.call("GET", "compat:post-check")
            c.close()
            good = got == str(p)
            lines.append(f"port {p}: SET/GET {'ok' if good else 'returned ' + repr(got)}")
        except (OSError, RespError) as e:
            good = False
            lines.append(f"port {p}: FAILED ({e.__class__.__name__}: {e})")
        ok &= good
    return ok, lines


# --- Main ----------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--port", type=int, help="run against a server already listening on this port")
    mode.add_argument("--plain", action="store_true", help="start a plain redis-server (the reference)")
    ap.add_argument("--node_bin", default=str(REPO / "build/node/anarchoredis"))
    ap.add_argument("--admin_bin", help="anarcho-admin (default: build/tools/ next to --node_bin)")
    ap.add_argument("--tarball", default=os.environ.get("REDIS_TESTS_TARBALL"),
                    help="redis-tests-7.0.15.tar.gz (default: $REDIS_TESTS_TARBALL)")
    ap.add_argument("--work_dir", default=str(REPO / "build/compat"),
                    help="where the suite is unpacked and logs and reports go")
    ap.add_argument("--base_port", type=int, default=23000,
                    help="first client port of the cluster (Raft uses +100), or the plain server's port")
    ap.add_argument("--target", choices=["leader", "follower", "both"],
                    help="which cluster node(s) to test (default: both; follower with --all)")
    units = ap.add_mutually_exclusive_group()
    units.add_argument("--units", help="comma-separated units (default: the 11 fast units)")
    units.add_argument("--all", action="store_true", help="every unit in the tarball")
    ap.add_argument("--skiplist", default=str(HERE / "skiplist.txt"))
    ap.add_argument("--unit_timeout", type=int, default=600, help="seconds before a unit counts as hung")
    ap.add_argument("--min_tests", type=int, default=1,
                    help="each target must run at least this many tests (passed + failed)")
    ap.add_argument("--report", help="markdown summary (default: <work_dir>/report-<mode>[-all].md)")
    ap.add_argument("--keep", action="store_true", help="leave the cluster or server running")
    ap.add_argument("--require_env", metavar="VAR",
                    help="do nothing (exit 77, 'skipped' for CTest) unless $VAR is 1: opt-in variants")
    ap.add_argument("runtest_args", nargs="*", help="extra runtest arguments (after --)")
    return ap.parse_args()


def make_server(args):
    """The server under test and its label: an external one, plain redis-server, or a cluster."""
    if args.port:
        return "external", ExternalServer(args.port)
    if args.plain:
        return "plain", PlainServer(args.base_port, Path(tempfile.mkdtemp(prefix="compat-plain-")))
    admin = Path(args.admin_bin) if args.admin_bin else \
        Path(args.node_bin).resolve().parents[1] / "tools" / "anarcho-admin"
    return "anarchoredis", Cluster(admin, Path(args.node_bin).resolve(), args.base_port,
                                   Path(tempfile.mkdtemp(prefix="compat-cluster-")))


def run_targets(server, label, target_names, suite, unit_list, skips, args, work_dir):
    """Runs every unit against each target, then checks the servers still serve and agree."""
    results, problems, post = [], [], []
    server.start()
    for target in target_names:
        name, port = server.resolve(target)
        print(f"== {label}: {name} on port {port}", flush=True)
        log_dir = work_dir / "logs" / label / name
        log_dir.mkdir(parents=True, exist_ok=True)
        snapshot = config_snapshot(port)
        role = node_role(port)
        for unit in unit_list:
            res = run_target_unit(suite, port, unit, name, skips, args, log_dir, snapshot, role)
            results.append(res)
            print(f"  {unit:<22} passed {res.passed:4} failed {res.failed:3} skipped {res.skipped:2} "
                  f"ignored {res.ignored:3}  {res.status:<10} {res.seconds:5.0f} s  {res.note}", flush=True)
        ran = sum(r.passed + r.failed for r in results if r.target == name)
        if ran < args.min_tests:
            problems.append(f"{name}: only {ran} tests ran, fewer than --min_tests {args.min_tests}")
    nodes_ok, post = post_check(server.ports())
    if not nodes_ok:
        problems.append("a node no longer serves SET/GET after the run")
    if isinstance(server, Cluster):
        same, lines = server.divergence_check()
        post += ["digest: " + l for l in lines]
        if not same:
            problems.append("the members' data differ or were not compared (anarcho-admin digest)")
    return results, problems, post


def plain_reference(label, results, work_dir):
    """Plain runs record how many tests each unit passed; other runs read it for the report."""
    reference_file = work_dir / "plain-reference.json"
    if label == "plain":
        reference = {r.unit: r.passed for r in results if r.status == "ok"}
        known = json.loads(reference_file.read_text()) if reference_file.exists() else {}
        reference_file.write_text(json.dumps({**known, **reference}, indent=1, sort_keys=True))
        return {}
    return json.loads(reference_file.read_text()) if reference_file.exists() else {}


def main():
    args = parse_args()
    if args.require_env and os.environ.get(args.require_env) != "1":
        print(f"skipped: set {args.require_env}=1 to run this variant")
        return 77
    if not args.tarball or not Path(args.tarball).exists():
        sys.exit("no suite: give --tarball or set REDIS_TESTS_TARBALL")
    for tool in ("tclsh", "redis-server"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found")

    work_dir = Path(args.work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    lock = open(SUITE_LOCK, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(f"another Redis test suite is running ({SUITE_LOCK} is locked): they share port 21079")

    suite = prepare_suite(Path(args.tarball).resolve(), work_dir)
    skips = read_skiplist(Path(args.skiplist))
    unit_list = all_units(suite) if args.all else (args.units.split(",") if args.units else FAST_UNITS)
    missing = [u for u in unit_list if not (suite / "tests" / f"{u}.tcl").exists()]
    if missing:
        sys.exit(f"not in the tarball: {missing}")
    wanted = args.target or ("follower" if args.all else "both")
    label, server = make_server(args)
    # Only a cluster has roles to choose from; the other servers are one target.
    target_names = (["leader", "follower"] if wanted == "both" else [wanted]) if label == "anarchoredis" else [label]

    results, problems, post = [], [], []
    try:
        results, problems, post = run_targets(server, label, target_names, suite, unit_list, skips, args, work_dir)
    finally:
        if not args.keep:
            server.stop()
            clean = not problems and not any(r.failed or r.status != "ok" for r in results)
            if server.dir and clean:
                shutil.rmtree(server.dir, ignore_errors=True)
            elif server.dir:
                print(f"server data and logs kept in {server.dir}")

    failed = sum(r.failed for r in results)
    if failed:
        problems.append(f"{failed} test(s) failed")
    problems += [f"{r.target} {r.unit}: {r.status}" for r in results if r.status != "ok"]
    title = f"Redis 7.0.15 test suite against {label}"
    if isinstance(server, Cluster):
        title += f"\n\nNode binary: {server.binary_id}"
    report = summary_markdown(title, results, skips, post, problems, plain_reference(label, results, work_dir))
    report_path = Path(args.report) if args.report else work_dir / f"report-{label}{'-all' if args.all else ''}.md"
    report_path.write_text(report)
    print()
    print(report)
    print(f"report: {report_path}\nlogs: {work_dir / 'logs' / label}")
    return 1 if problems else 0


def run_target_unit(suite, port, unit, target, skips, args, log_dir, snapshot, role):
    if not wait_alive(port):
        return UnitResult(target, unit, status="server down")
    res = run_unit(suite, port, unit, target, skips, args.unit_timeout, args.runtest_args, log_dir)
    notes = []
    restored, refused = config_restore(port, snapshot)
    if restored:
        notes.append("restored " + ",".join(restored))
    if refused:
        # These stay changed for the units after this one.
        notes.append("could not restore " + ",".join(refused))
    now = node_role(port)
    if role and now != role:
        notes.append(f"role now {now}")
    res.note = "; ".join(notes)
    return res


def wait_alive(port, seconds=30):
    """A node may be between leaders for a moment; a dead one is reported, not waited on forever."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answers(port):
            return True
        time.sleep(0.5)
    return False


if __name__ == "__main__":
    sys.exit(main())
