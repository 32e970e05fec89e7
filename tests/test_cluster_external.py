"""Nodes on a NATS server of one's own, by address: nothing embedded, TLS and a login.

The test starts ``nats-server`` itself, with TLS (a self-signed certificate
made here) and a user and password, then runs ``actorflow run APP --node
NAME`` twice with only ``--set cluster.nats.*`` to say where it is and how to
log in, as across machines.  The nodes start no server of their own; a wrong
password or an unknown certificate authority stops a node at once, saying so.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cluster import find_nats_server
from tests.cli_support import actorflow
from tests.cluster_support import wait_for
from tests.test_cluster_lua import APP, SETTINGS, LuaNode

USER, PASSWORD = "node", "s3cret-pass"


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (the certificate is its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "actorflow test NATS")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Server:
    """A ``nats-server`` with JetStream, TLS and a login, started by the test."""

    def __init__(self, directory: Path) -> None:
        self.cert, key = _certificate(directory)
        self.port = _free_port()
        self.process = subprocess.Popen(
            [
                str(find_nats_server()),
                *("-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(directory / "js")),
                *("--user", USER, "--pass", PASSWORD),
                *("--tls", "--tlscert", str(self.cert), "--tlskey", str(key)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: _accepts(self.port) or self.process.poll() is not None, what="nats-server")
        assert self.process.poll() is None, "nats-server did not start"

    @property
    def address(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def settings(self, *, password: str = PASSWORD, ca: Path | None = None) -> tuple[str, ...]:
        return (
            *SETTINGS,
            *("--set", f"cluster.nats.address={self.address}"),
            *("--set", f"cluster.nats.user={USER}", "--set", f"cluster.nats.password={password}"),
            *("--set", f"cluster.nats.tls.ca={ca or self.cert}"),
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = Server(tmp_path_factory.mktemp("nats-external"))
    yield started
    started.stop()


def _nats_servers_of(pid: int, state_dir: Path) -> list[int]:
    """``nats-server`` processes that ``pid`` started, or that keep their state under ``state_dir``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if command and Path(command[0].decode(errors="replace")).name == "nats-server":
            if parent == pid or any(str(state_dir).encode() in part for part in command):
                found.append(int(entry.name))
    return found


def test_nodes_join_a_nats_server_by_address_with_tls_and_a_login(server: Server, tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    a = LuaNode("a", state_dir, *server.settings())
    b = None
    try:
        b = LuaNode("b", state_dir, *server.settings())
        for node in (a, b):
            assert f"(NATS {server.address})" in node.run.summary, node.run.summary
            others = sorted({"a", "b"} - {node.name})
            wait_for(lambda node=node, others=others: node.do("node")["members"] == [node.name, *others])
            assert node.do("node")["addr"] == f"127.0.0.1:{server.port}"
            assert _nats_servers_of(node.run.process.pid, state_dir) == []
        assert not (state_dir / "nats").exists()  # no embedded server's state either
        target = b.do("spawn", entry="target")
        assert a.do("send", dest=target, topic="ping", payload="through TLS") is True
        (pong,) = wait_for(lambda: a.records("msg", topic="pong"), what="the pong from b")
        assert (pong["from"], pong["payload"]) == (target, "through TLS")
    finally:
        for node in (a, b):
            if node is not None:
                status, _took = node.run.interrupt(timeout=30)
                assert status == 0, node.run.output()
    assert server.process.poll() is None  # the nodes leave it running: it is not theirs


@pytest.mark.parametrize(
    ("wrong", "reason"),
    [("password", "Authorization Violation"), ("ca", "CERTIFICATE_VERIFY_FAILED")],
)
def test_a_wrong_login_or_certificate_stops_the_node_at_once(
    server: Server, tmp_path: Path, wrong: str, reason: str
) -> None:
    if wrong == "password":
        settings = server.settings(password="not-it")
    else:
        other, _key = _certificate(tmp_path)  # a CA that did not sign the server's certificate
        settings = server.settings(ca=other)
    began = time.monotonic()
    done = actorflow(
        "run", str(APP), "--state-dir", str(tmp_path / "state"), "--node", "x", *settings, timeout=60
    )
    assert done.returncode != 0
    assert time.monotonic() - began < 20
    assert f"cannot connect to NATS at {server.address}" in done.stderr, done.stderr
    assert reason in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
