"""Run a command under ``strace -f`` and list what a privacy-first program must never do.

Python audit hooks see only what Python code does; a native library (a telemetry uploader
inside an inference runtime, say) opens its sockets below them. The kernel sees everything,
so this traces the system calls of the whole process tree and reports, as violations:

- ``socket``: any address family but AF_UNIX (a DNS lookup needs AF_INET/AF_INET6, getaddrinfo
  AF_NETLINK);
- ``connect``: any at all, AF_UNIX included (a name-service lookup connects to nscd's socket);
- ``send*``: any ``sendto``/``sendmsg``/``sendmmsg`` that names a destination address;
- reading a name-service file (``/etc/resolv.conf``, ``/etc/hosts``, ``/etc/gai.conf``...);
- ``execve``/``execveat`` beyond the traced command itself (successful or not: trying to run a
  program is the violation);
- a file opened for writing (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND), created, renamed,
  linked, truncated or deleted, or a folder made, unless its path is in ``allowed_writes``. An
  open for writing that the kernel refused (create-if-absent of a file that exists) wrote
  nothing and is not counted; a refused network call still is: trying is the violation.
  Kernel interfaces that are not files on disk (``/dev/null``, a thread's ``/proc/.../comm``)
  are not counted.

A loopback server (``emoplay serve``) may be allowed explicitly: then TCP sockets are accepted
as long as every ``bind`` is to 127.0.0.1 or ::1; it still may not connect anywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

TRACED = ("socket,socketpair,connect,bind,sendto,sendmsg,sendmmsg,execve,execveat,open,openat,openat2,creat,mkdir,mkdirat,"
          "rename,renameat,renameat2,unlink,unlinkat,link,linkat,symlink,symlinkat,truncate")
NAME_SERVICE_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/gai.conf", "/etc/host.conf", "/etc/nsswitch.conf")
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")
PATH_CHANGES = {"mkdir": 0, "mkdirat": 1, "rename": 1, "renameat": 3, "renameat2": 3, "unlink": 0, "unlinkat": 1,
                "link": 1, "linkat": 3, "symlink": 1, "symlinkat": 2, "truncate": 0, "creat": 0}
NOT_FILES = (re.compile(r"^/dev/null$"), re.compile(r"^/proc/(self|\d+)/task/\d+/comm$"))

_LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<call>\w+)\((?P<args>.*)\)\s+=\s+(?P<ret>-?\d+|\?)(?P<rest>.*)$")
_UNFINISHED = re.compile(r"^(?P<pid>\d+)\s+(?P<head>.*) <unfinished \.\.\.>$")
_RESUMED = re.compile(r"^(?P<pid>\d+)\s+<\.\.\. (?P<call>\w+) resumed>(?P<tail>.*)$")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Syscall:
    pid: int
    call: str
    args: str
    result: str

    def strings(self) -> list[str]:
        """The quoted string arguments (paths), in order."""
        return [bytes(s, "utf-8").decode("unicode_escape") for s in _STRING.findall(self.args)]


@dataclass
class Trace:
    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    calls: list[Syscall]
    violations: list[str] = field(default_factory=list)


def strace_path() -> str | None:
    return shutil.which("strace")


def parse(text: str) -> list[Syscall]:
    """System calls from ``strace -f`` output, with interrupted calls joined to their resumption."""
    calls: list[Syscall] = []
    pending: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.split(maxsplit=1)[-1].startswith(("---", "+++")):
            continue  # signals and exits
        started = _UNFINISHED.match(line)
        if started:
            pending[started["pid"]] = started["head"]
            continue
        resumed = _RESUMED.match(line)
        if resumed and resumed["pid"] in pending:
            line = f"{resumed['pid']} {pending.pop(resumed['pid'])}{resumed['tail']}"
        match = _LINE.match(line)
        if match:
            calls.append(Syscall(int(match["pid"]), match["call"], match["args"], match["ret"] + match["rest"]))
    return calls


def _is_allowed_write(path: str, cwd: Path, allowed: set[str]) -> bool:
    full = os.path.normpath(os.path.join(str(cwd), path))
    return full in allowed or any(rule.match(full) for rule in NOT_FILES)


def violations(calls: list[Syscall], cwd: Path, allowed_writes: set[str], loopback_server: bool = False) -> list[str]:
    """What the traced programs did that they must not (see the module docstring)."""
    allowed = {os.path.normpath(str(p)) for p in allowed_writes}
    found: list[str] = []
    first_exec_pid = next((c.pid for c in calls if c.call == "execve"), None)
    seen_first_exec = False
    for c in calls:
        text = f"{c.call}({c.args[:160]}) = {c.result[:60]}"
        if c.call in ("socket", "socketpair"):
            local = c.args.startswith(("AF_UNIX", "AF_LOCAL"))
            server = loopback_server and c.args.startswith(("AF_INET,", "AF_INET6,")) and "SOCK_STREAM" in c.args
            if not (local or server):
                found.append(f"network socket: {text}")
        elif c.call == "bind":
            if "AF_UNIX" not in c.args and not re.search(r'inet_addr\("127\.0\.0\.1"\)|inet_pton\(AF_INET6, "::1"', c.args):
                found.append(f"listens beyond loopback: {text}")
        elif c.call == "connect":
            found.append(f"connect: {text}")
        elif c.call in ("sendto", "sendmsg", "sendmmsg"):
            if re.search(r"sa_family=AF_(INET|INET6|NETLINK|PACKET)|msg_name=\{", c.args):
                found.append(f"send to an address: {text}")
        elif c.call in ("execve", "execveat"):
            if c.pid == first_exec_pid and not seen_first_exec:
                seen_first_exec = True  # the traced command itself
            else:
                found.append(f"runs another program: {text}")
        elif c.call in ("open", "openat", "openat2"):
            paths = c.strings()
            path = paths[0] if paths else ""
            if path in NAME_SERVICE_FILES:
                found.append(f"name-service lookup: {text}")
            elif (any(flag in c.args for flag in WRITE_FLAGS) and not c.result.startswith("-1")
                  and not _is_allowed_write(path, cwd, allowed)):
                found.append(f"opens for writing: {text}")
        elif c.call in PATH_CHANGES:
            paths = c.strings()
            if paths and not all(_is_allowed_write(p, cwd, allowed) for p in paths):
                found.append(f"changes the file system: {text}")
    return found


def run_traced(command: list[str], cwd: Path, *, allowed_writes: set[str] = frozenset(), env: dict | None = None,
               timeout: float = 300, loopback_server: bool = False) -> Trace:
    """Run ``command`` in ``cwd`` under strace; HOME and TMPDIR point at ``cwd`` too, so any stray write lands there."""
    strace = strace_path()
    if strace is None:
        raise RuntimeError("strace is not installed (Debian: apt-get install strace)")
    log = cwd.parent / f"{cwd.name}.strace"  # outside cwd, so the trace itself is not a stray file
    run_env = dict(os.environ if env is None else env, HOME=str(cwd), TMPDIR=str(cwd), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([strace, "-f", "-qq", "-s", "256", "-e", "signal=none", "-e", f"trace={TRACED}",
                           "-o", str(log), "--", *command], cwd=cwd, env=run_env, capture_output=True, text=True,
                          timeout=timeout)
    calls = parse(log.read_text(errors="replace"))
    trace = Trace(command, done.returncode, done.stdout, done.stderr, calls)
    trace.violations = violations(calls, cwd, set(allowed_writes), loopback_server)
    return trace


def trace_loopback_server(command: list[str], cwd: Path, url: str, token: str, *, until: str = "EmotionChanged",
                          timeout: float = 30) -> tuple[Trace, list[str]]:
    """Run a loopback server (``emoplay serve`` with ``--max-seconds``) under strace, pair with it as a client and
    read message types until one of type ``until``: (the trace, with TCP on loopback allowed; the types read)."""
    import threading

    from emoplay import BridgeError
    from emoplay.bridge.client import connect_with_retry

    result: dict[str, Trace] = {}
    server = threading.Thread(target=lambda: result.update(trace=run_traced(command, cwd, loopback_server=True)))
    server.start()
    received: list[str] = []
    try:
        with connect_with_retry(url, token, attempts=25) as bridge:  # strace slows a cold start down a lot
            for message in bridge.messages(timeout=timeout):
                received.append(message["type"])
                if message["type"] == until:
                    break
    except BridgeError as e:
        server.join(timeout=timeout + 60)
        trace = result.get("trace")
        raise AssertionError(f"{e}; the traced server exited with {trace and trace.returncode}, stderr:\n"
                             f"{trace and trace.stderr[-2000:]}") from None
    finally:
        server.join(timeout=timeout + 60)
    return result["trace"], received
