"""Helpers for the integration tests: drive tools/spate-dev and observe an instance.

conftest.py holds the fixtures; this module is plain code that tests import. Everything is
observed from outside the appliance: traffic from inside the instance's network namespace
(through `spate-dev exec`), and the dataplane's own counters through `spatectl --json status`.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SPATE_DEV = REPO / "tools" / "spate-dev"
NSTOOL = Path(__file__).resolve().parent / "nstool.py"
PY = "/usr/bin/python3"
# SPATE_IT_NAME: another name for the session instance, so two trees can run suites at once.
SESSION_NAME = os.environ.get("SPATE_IT_NAME", "spt-it")
SESSION_WORKERS = 2
UP_TIMEOUT_S = 600  # `up` may build the tree the first time
DOWN_TIMEOUT_S = 90
STATUS_TIMEOUT_S = 15
RESTART_TIMEOUT_S = 120  # restart-dataplane: stop, start, ready, connected
HUGE_DIR = Path("/dev/hugepages")  # as tools/spate-dev


def build_dir():
    return Path(os.environ.get("SPATE_BUILD_DIR", str(REPO / "build")))


def spatectl_bin():
    return str(build_dir() / "tools" / "spatectl")


def descendants(pid):
    """pid's children, grandchildren... (from /proc/*/task/*/children), depth first."""
    out = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as fh:
                kids = [int(k) for k in fh.read().split()]
        except (OSError, ValueError):
            continue
        for k in kids:
            out.append(k)
            out += descendants(k)
    return out


def proc_snapshot(pid):
    """Where a process and each of its descendants are: state, wait channel, kernel stack."""
    out = [one_proc_snapshot(pid)]
    for k in descendants(pid):
        try:
            with open("/proc/%d/cmdline" % k, "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = "?"
        out.append("-- descendant %d: %s\n%s" % (k, cmd[:200], one_proc_snapshot(k)))
    return "\n".join(out)


def one_proc_snapshot(pid):
    out = []
    for f in ("wchan", "stack", "syscall"):
        try:
            with open("/proc/%d/%s" % (pid, f)) as fh:
                out.append("%s: %s" % (f, fh.read().strip()))
        except OSError as e:
            out.append("%s: (%s)" % (f, e))
    try:
        with open("/proc/%d/status" % pid) as fh:
            out += [ln for ln in fh.read().splitlines()
                    if ln.startswith(("State:", "voluntary_ctxt", "nonvoluntary_ctxt"))]
    except OSError as e:
        out.append("status: (%s)" % e)
    return "\n".join(out)


def spate_snapshot():
    """Every spate process on the machine and the load: for a report when something hangs."""
    p = subprocess.run(["ps", "-eLo", "pid,tid,stat,pcpu,wchan:24,comm,args"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    lines = p.stdout.splitlines()
    keep = lines[:1] + [ln for ln in lines[1:] if "spate" in ln or "lcore" in ln or
                        "eal-intr" in ln]
    with open("/proc/loadavg") as fh:
        load = fh.read().strip()
    return "loadavg: %s\n%s\n%s" % (load, "\n".join(keep[:80]), blocked_tasks())


def blocked_tasks():
    """Every task in uninterruptible sleep with its kernel stack, and the pressure figures."""
    out = []
    for res in ("cpu", "memory", "io"):
        try:
            with open("/proc/pressure/%s" % res) as fh:
                out.append("pressure %s: %s" % (res, " | ".join(fh.read().split("\n")).strip()))
        except OSError:
            pass
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            tids = os.listdir("/proc/%s/task" % pid)
        except OSError:
            continue
        for tid in tids:
            base = "/proc/%s/task/%s/" % (pid, tid)
            try:
                with open(base + "stat") as fh:
                    stat = fh.read()
                if stat.rsplit(")", 1)[1].split()[0] != "D":
                    continue
                with open(base + "stack") as fh:
                    stack = fh.read().strip().replace("\n", " <- ")
                out.append("D %s/%s %s: %s" % (pid, tid, stat[stat.find("("):stat.rfind(")") + 1],
                                              stack))
            except (OSError, IndexError):
                continue
    return "\n".join(out[:40])


class CommandTimeout(AssertionError):
    """A command run() gave up on; the message holds the report."""


def run(cmd, timeout, check=True, input=None):
    """Run cmd, capture text output, fail the test with both streams when it goes wrong.

    A command that does not finish in time is looked at before it is killed (where it and
    each of its descendants are blocked, what else runs), so a hang leaves a report rather
    than only its duration. The command runs in a session of its own, so the kill reaches
    everything it started (the processes it left in an instance's namespace are spate-dev
    down's business)."""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True,
                          stdin=subprocess.PIPE if input is not None
                          else subprocess.DEVNULL) as proc:
        try:
            out, err = proc.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            where = proc_snapshot(proc.pid)
            others = spate_snapshot()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.kill()
            out, err = proc.communicate()
            raise CommandTimeout("timed out after %ss: %s\nstdout: %s\nstderr: %s\n"
                                 "the command, before it was killed:\n%s\n%s" %
                                 (timeout, cmd, out, err, where, others)) from None
    p = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if check and p.returncode != 0:
        raise AssertionError("exit %d: %s\nstdout:\n%s\nstderr:\n%s" %
                             (p.returncode, " ".join(map(str, cmd)), p.stdout, p.stderr))
    return p


def spate_dev(*args, timeout=120, check=True):
    return run(["bash", str(SPATE_DEV)] + [str(a) for a in args], timeout=timeout, check=check)


def parse_kv(text):
    out = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        assert "=" in line, "spate-dev printed a non key=value line on stdout: %r" % line
        k, v = line.split("=", 1)
        out[k] = v
    return out


def wait_until(fn, timeout, interval=0.1, what="condition"):
    """Poll fn() until it returns a truthy value; return it, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except (AssertionError, KeyError, ValueError, OSError) as e:
            last_exc = e
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s (last error: %s)" %
                                 (timeout, what, last_exc))
        time.sleep(interval)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


PING_RE = re.compile(r"(\d+) packets transmitted, (\d+) received")


class Instance:
    """One instance as `spate-dev up` described it, plus helpers to drive and observe it."""

    def __init__(self, info):
        self.info = info
        self.name = info["name"]
        self.netns = info["netns"]
        self.ipv4 = info["ipv4"]
        self.peer_ipv4 = info["peer_ipv4"]
        self.iface = info["iface"]
        self.slot = int(info["slot"]) if "slot" in info else int(self.ipv4.split(".")[2])
        self.data_dir = Path(info["data_dir"])
        self.run_dir = Path(info["run_dir"])
        self.control_socket = info["control_socket"]
        self.workers = int(info["workers"])
        self.dataplane_pid = int(info["dataplane_pid"])

    # -- observation ---------------------------------------------------------------------
    def spatectl(self, *args, timeout=STATUS_TIMEOUT_S, check=True):
        return run([spatectl_bin(), "--socket", self.control_socket] + list(args),
                   timeout=timeout, check=check)

    def rpc(self, method, params=None, timeout=STATUS_TIMEOUT_S):
        """One control-socket call (docs/control-socket.md) made from here, as spatectl makes
        it: the result, or AssertionError with the error or the silence.

        The frequent observation calls (status, catalog) come this way rather than through a
        spatectl process each: the machine's kernel (6.18) has been seen to leave a new
        process in uninterruptible sleep inside execve for 15 s and more (a per-VMA lock
        writer not woken; docs/DESIGN.md, "Test harness"), and a poll loop execs several
        programs a second. spatectl itself is tested in test_status and test_spatectl_*."""
        req = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
        deadline = time.monotonic() + timeout
        buf = b""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sk:
            sk.settimeout(timeout)
            try:
                sk.connect(self.control_socket)
                sk.sendall(json.dumps(req).encode() + b"\n")
                while b"\n" not in buf:
                    sk.settimeout(max(deadline - time.monotonic(), 0.001))
                    chunk = sk.recv(1 << 16)
                    if not chunk:
                        raise AssertionError("%s on %s: connection closed before a reply (%r)"
                                             % (method, self.control_socket, buf[:200]))
                    buf += chunk
            except socket.timeout:
                raise AssertionError("%s on %s: no reply within %ss\n%s" %
                                     (method, self.control_socket, timeout,
                                      spate_snapshot())) from None
            except OSError as e:
                raise AssertionError("%s on %s: %s" % (method, self.control_socket, e)) from None
        msg = json.loads(buf.split(b"\n", 1)[0])
        assert "error" not in msg, "%s: %s" % (method, msg["error"])
        return msg["result"]

    def status(self):
        return self.rpc("status")

    def dataplane(self):
        st = self.status()
        dp = st["dataplane"]
        assert dp.get("connected"), "dataplane not connected: %s" % json.dumps(st)[:2000]
        return dp

    def counters(self):
        return self.dataplane()["counters"]

    def port0(self):
        return self.dataplane()["ports"][0]

    def mac(self):
        return self.port0()["mac"].lower()

    def wait_counters(self, base, mins, timeout=10):
        """Wait until counters[name] - base[name] >= mins[name] for every name; return the
        latest counters. Fails with the deltas reached so far."""
        last = {}

        def check():
            c = self.counters()
            last.update(c)
            return c if all(c[k] - base[k] >= v for k, v in mins.items()) else None

        try:
            return wait_until(check, timeout, interval=0.2, what="counters")
        except AssertionError:
            got = {k: last.get(k, 0) - base[k] for k in mins}
            raise AssertionError("counter deltas %s, wanted at least %s" % (got, mins)) from None

    # -- traffic ------------------------------------------------------------------------
    def exec(self, *cmd, timeout=60, check=True, input=None):
        return run(["bash", str(SPATE_DEV), "exec", self.name, "--"] + [str(c) for c in cmd],
                   timeout=timeout, check=check, input=input)

    def ping(self, count, interval=0.01, timeout=None, deadline=None):
        """ping from the namespace; returns (transmitted, received, output)."""
        timeout = timeout or (count * max(interval, 0.002) + 30)
        cmd = ["ping", "-n", "-q", "-c", count, "-i", interval, "-W", 2]
        if deadline:
            cmd += ["-w", deadline]
        p = self.exec(*cmd, self.ipv4, timeout=timeout, check=False)
        m = PING_RE.search(p.stdout)
        assert m, "no ping summary (exit %d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr)
        return int(m.group(1)), int(m.group(2)), p.stdout

    def send_frames(self, frames, count=1, max_seconds=30):
        """Send raw frames on the kernel side of the tap; returns how many of each were sent."""
        spec = [{"hex": f.hex(), "count": count, "max_seconds": max_seconds} for f in frames]
        p = self.exec(PY, NSTOOL, "raw", self.iface, input=json.dumps(spec),
                      timeout=max_seconds * len(frames) + 30)
        return json.loads(p.stdout)["sent"]

    def peer_mac(self):
        p = run(["ip", "-n", self.netns, "-j", "link", "show", self.iface], timeout=10)
        return json.loads(p.stdout)[0]["address"].lower()

    # -- disruption ---------------------------------------------------------------------
    def restart_dataplane(self, kill=True, timeout=RESTART_TIMEOUT_S):
        """Stop the dataplane (SIGKILL: a crash; SIGTERM with kill=False) and start it again
        the way `spate-dev up` did (`spate-dev restart-dataplane`). Returns once the new
        process serves the catalog control holds; self.dataplane_pid names it."""
        args = ["restart-dataplane", self.name] + (["--kill"] if kill else [])
        info = parse_kv(spate_dev(*args, timeout=timeout).stdout)
        self.dataplane_pid = int(info["dataplane_pid"])
        want = self.rpc("catalog_get")["catalog_version"]

        def serving():
            dp = self.dataplane()
            return (dp.get("pid") == self.dataplane_pid and
                    dp.get("api", {}).get("catalog_version", 0) >= want)

        wait_until(serving, STATUS_TIMEOUT_S, interval=0.1,
                   what="the restarted dataplane to apply catalog version %d" % want)
        return self.dataplane_pid

    def hugepage_files(self):
        """The dataplane's DPDK hugepage files: <file-prefix>map_<n>, prefix spate-NAME."""
        return sorted(HUGE_DIR.glob("spate-%smap_*" % self.name))

    def crash_dataplane(self, wipe_hugepages=True):
        """SIGKILL the dataplane right now (restart_dataplane kills only after a shell has
        started) and, with wipe_hugepages, delete its hugepage files, so that nothing the
        dead process left in memory can be found again; restart_dataplane() then starts it.
        Returns how many hugepage files were deleted."""
        kill_pid(self.dataplane_pid)
        wiped = 0
        for f in self.hugepage_files() if wipe_hugepages else []:
            f.unlink(missing_ok=True)
            wiped += 1
        return wiped


def instance_up(name, workers, *extra):
    p = spate_dev("up", "--name", name, "--workers", workers, *extra, timeout=UP_TIMEOUT_S)
    info = parse_kv(p.stdout)
    for k in ("name", "netns", "endpoint", "ipv4", "peer_ipv4", "iface", "data_dir", "run_dir",
              "control_socket", "workers", "dataplane_pid", "control_pid"):
        assert k in info, "spate-dev up did not print %s=:\n%s" % (k, p.stdout)
    return Instance(info)


def instance_down(name, purge=True):
    """spate-dev down, once more if the first one hangs.

    `down` is idempotent, so a second run after a hang is safe, and it cannot hide a dataplane
    that will not stop: `down` itself escalates to SIGKILL after 15 s and fails if that does
    not work either. It is here for the machine's kernel (6.18), which has left a process that
    `down` forked running or blocked in the kernel for the whole timeout while the dataplane
    was still up (docs/DESIGN.md, "Test harness"). The first hang's report goes to stderr,
    where pytest shows it beside the test."""
    args = ["down", "--name", name] + (["--purge"] if purge else [])
    try:
        return spate_dev(*args, timeout=DOWN_TIMEOUT_S)
    except CommandTimeout as e:
        sys.stderr.write("harness: spate-dev down of %s hung; running it once more. "
                         "The report:\n%s\n" % (name, e))
        return spate_dev(*args, timeout=DOWN_TIMEOUT_S)


def attach(name):
    """Describe an instance that is already up (for --instance)."""
    state = Path(os.environ.get("SPATE_STATE_BASE", "/var/lib/spate")) / name
    rund = Path(os.environ.get("SPATE_RUN_BASE", "/run/spate")) / name
    slot = (state / "slot").read_text().strip()
    pid = (rund / "dataplane.pid").read_text().strip()
    info = {"name": name, "netns": name, "slot": slot, "ipv4": "198.18.%s.2" % slot,
            "peer_ipv4": "198.18.%s.1" % slot, "iface": "sp0", "data_dir": str(state),
            "run_dir": str(rund), "control_socket": str(rund / "control.sock"),
            "dataplane_pid": pid}
    inst = Instance(dict(info, workers=0))
    inst.workers = len(inst.port0()["queues"])
    return inst


def kill_pid(pid, sig=signal.SIGKILL, timeout=10):
    os.kill(pid, sig)
    wait_until(lambda: not pid_alive(pid), timeout, what="pid %d to exit" % pid)
