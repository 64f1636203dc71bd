"""A Debian guest booted with ``systemd-nspawn -b``: systemd 252 as PID 1 for the service tests.

The guest's root is made once by debootstrap and cached under /var/cache/camera-app-ci/, keyed by
release, architecture and package list (``CAMERA_APP_CI_CACHE`` moves it); each test run boots a
fresh copy, so nothing a run installs leaks into the next. Commands run inside through
``nsenter`` into the guest's namespaces: ``machinectl``/``systemd-run -M`` need systemd-machined on
the host, and test hosts (containers, CI VMs) often do not run systemd as PID 1.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from tests.e2e.test_mjpeg_run import _stop as stop_process

__all__ = [
    "DEFAULT_MIRROR",
    "Guest",
    "GuestError",
    "cached_root",
    "debian_mirror",
    "fresh_run_dir",
]

DEFAULT_MIRROR = "http://deb.debian.org/debian"
GUEST_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "SYSTEMD_PAGER": "",
    "SYSTEMD_COLORS": "0",
    "TERM": "dumb",
}


class GuestError(RuntimeError):
    """The guest could not be made, booted, or a command inside it failed."""


def debian_mirror(release: str, apt_dir: Path = Path("/etc/apt")) -> str:
    """The mirror this host's apt uses for ``release`` (deb822 or one-line sources).

    debootstrap then fetches from the same place apt does (a local mirror or proxy on a build
    box). Without one naming the release, Debian's own redirector.
    """
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for stanza in path.read_text(errors="replace").split("\n\n"):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                key, sep, value = line.partition(":")
                if sep and not line.startswith(("#", " ", "\t")):
                    fields[key.strip().lower()] = value.strip()
            if fields.get("enabled", "yes") == "no" or "deb" not in fields.get("types", "").split():
                continue
            if release in fields.get("suites", "").split() and fields.get("uris"):
                return fields["uris"].split()[0].rstrip("/")
    lists = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in lists:
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()  # no [options]
            if len(words) >= 3 and words[0] == "deb" and words[2] == release:
                return words[1].rstrip("/")
    return DEFAULT_MIRROR


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # two runs on one box build the root once
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def cached_root(
    cache: Path, release: str, packages: Sequence[str], mirror: str, timeout_s: float
) -> Path:
    """The debootstrapped root for (release, architecture, packages), built if not yet cached.

    Built into a temporary directory and renamed when complete, so an interrupted build is
    never mistaken for a cached one.
    """
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    key = hashlib.sha256(f"{release} {arch} {' '.join(sorted(packages))}".encode()).hexdigest()
    root = cache / f"{release}-{arch}-{key[:12]}"
    with _locked(cache / ".lock"):
        if root.is_dir():
            return root
        partial = cache / f".{root.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        log = cache / f"{root.name}.debootstrap.log"
        with log.open("w") as out:
            result = subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--arch={arch}",
                    f"--include={','.join(packages)}",
                    release,
                    str(partial),
                    mirror,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                check=False,
            )
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-3000:]
            raise GuestError(f"debootstrap {release} from {mirror} failed ({log}):\n{tail}")
        partial.rename(root)
        return root


def fresh_run_dir(cached: Path, runs: Path) -> Path:
    """A new directory under ``runs`` with ``root``, a copy of ``cached`` to boot and change.

    Beside the cache, so the copy is a reflink where the file system can; a temporary directory
    of pytest could be pruned under a long run by another one. Directories left by runs that
    died (their process is gone) are removed first.
    """
    runs.mkdir(parents=True, exist_ok=True)
    for old in runs.glob("run-*"):
        pid = old.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(old, ignore_errors=True)
    run = runs / f"run-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    run.mkdir()
    subprocess.run(
        ["cp", "-a", "--reflink=auto", str(cached), str(run / "root")], check=True, timeout=300
    )
    return run


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


class Guest:
    """One booted container: ``boot()``, ``run()`` commands in it, ``poweroff()``."""

    def __init__(
        self, root: Path, name: str, binds_ro: Mapping[Path, str], console_log: Path
    ) -> None:
        self.root = root
        self.name = name
        self.binds_ro = dict(binds_ro)
        self.console_log = console_log
        self.leader = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def boot(self, timeout_s: float) -> None:
        """Start systemd in the container and wait until its boot has finished."""
        command = [
            "systemd-nspawn",
            f"--directory={self.root}",
            f"--machine={self.name}",
            "--boot",
            "--quiet",
            # No systemd-machined to register with, and no host systemd to make a scope.
            "--register=no",
            "--keep-unit",
            "--private-network",
            # The guest's systemd may load BPF programs: DevicePolicy= is then enforced.
            "--system-call-filter=bpf",
            "--capability=CAP_BPF",
            "--console=read-only",
            *(f"--bind-ro={host}:{guest}" for host, guest in self.binds_ro.items()),
        ]
        env = {**os.environ, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}
        with self.console_log.open("wb") as log:
            self._proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + timeout_s
        while not self.leader:
            if self._proc.poll() is not None:
                raise GuestError(f"systemd-nspawn exited {self._proc.returncode}: {self.tail()}")
            if time.monotonic() > deadline:
                raise GuestError(f"no init in the container after {timeout_s:.0f} s: {self.tail()}")
            for child in _children(self._proc.pid):
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                        self.leader = child
            time.sleep(0.1)
        state = ""
        while time.monotonic() < deadline:
            # --wait returns once start-up is over; before the bus is up it fails at once.
            left = max(1.0, deadline - time.monotonic())
            result = self.run(["systemctl", "is-system-running", "--wait"], timeout_s=left)
            state = result.stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(0.2)
        raise GuestError(f"the guest did not finish booting ({state!r}): {self.tail()}")

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float = 60.0,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """``argv`` inside the guest, as root, in all its namespaces (its PIDs, its network)."""
        if not self.leader:
            raise GuestError("the guest is not booted")
        command = ["nsenter", f"--target={self.leader}", "--all", "--root", "--wd", "--", *argv]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, env=GUEST_ENV, check=False
        )
        if check and result.returncode != 0:
            raise GuestError(
                f"{' '.join(argv)} exited {result.returncode} in the guest:\n"
                f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
        return result

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.console_log.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"(no console log: {exc})"

    def poweroff(self) -> None:
        """SIGTERM to nspawn asks the guest's systemd to shut down (SIGKILL if it hangs)."""
        if self._proc is not None:
            stop_process(self._proc)
