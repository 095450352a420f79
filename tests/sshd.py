"""A real OpenSSH sshd on 127.0.0.1 with throwaway keys, for tests that run Ansible over SSH."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

SSHD = "/usr/sbin/sshd"
APT_LOCK_WAIT = 300  # seconds; openssh-server may be being apt-installed by someone else right now


class SSHDUnavailable(RuntimeError):
    """sshd is missing or would not start."""


def ensure_sshd() -> str:
    """Path of sshd, apt-installing openssh-server when missing and we are root."""
    if os.access(SSHD, os.X_OK):
        return SSHD
    if os.geteuid() != 0:
        raise SSHDUnavailable(f"{SSHD} not found: run `apt-get install -y openssh-server` as root")
    cmd = ["apt-get", "-o", f"DPkg::Lock::Timeout={APT_LOCK_WAIT}", "install", "-y", "openssh-server"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=APT_LOCK_WAIT + 300)
    if done.returncode != 0 or not os.access(SSHD, os.X_OK):
        raise SSHDUnavailable(f"apt-get install openssh-server failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return SSHD


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def keygen(path: Path) -> Path:
    """Create an ed25519 keypair without passphrase at path (and path.pub)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "loopback-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


class LoopbackSSHD:
    """Context manager: `with LoopbackSSHD() as sshd:` gives sshd.port, sshd.user, sshd.key_path."""

    def __init__(self, start_timeout: float = 10.0) -> None:
        self.start_timeout = start_timeout
        self.user = getpass.getuser()
        self.port = 0
        self.dir = Path(tempfile.mkdtemp(prefix="loopback-sshd-"))
        self.key_path = self.dir / "client_key"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LoopbackSSHD:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Generate keys and config, start sshd, wait for its SSH banner (retrying if the port was taken)."""
        sshd = ensure_sshd()
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege-separation dir sshd insists on
        keygen(self.dir / "host_key")
        keygen(self.key_path)
        for _ in range(3):
            self.port = free_port()
            config = self._write_config()
            log = open(self.dir / "sshd.log", "wb")  # noqa: SIM115 - sshd writes here while it runs
            self.proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
            log.close()
            if self._wait_ready():
                return
            self._kill()
        raise SSHDUnavailable(f"sshd did not start:\n{self.log()}")

    def stop(self) -> None:
        """Stop sshd and remove its keys and config."""
        self._kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        """What sshd wrote to stderr so far (for failure messages)."""
        try:
            return (self.dir / "sshd.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def _write_config(self) -> Path:
        """Write a private sshd_config for this instance."""
        config = self.dir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.dir / 'host_key'}",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.key_path}.pub",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    "StrictModes no",  # our files live under /tmp
                    "UseDNS no",
                    "PrintMotd no",
                    "Subsystem sftp internal-sftp",  # Ansible copies modules over sftp
                    "",
                ]
            )
        )
        return config

    def _wait_ready(self) -> bool:
        """Poll until sshd answers with its banner; False if it exited or timed out."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            if self._banner():
                return True
            time.sleep(0.05)
        return False

    def _banner(self) -> bool:
        """True if the port accepts a connection and speaks SSH."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                return sock.recv(8).startswith(b"SSH-")
        except OSError:
            return False

    def _kill(self) -> None:
        """Terminate sshd (SIGKILL after 5 s)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
