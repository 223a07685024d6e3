"""Starts a fleet of meters on consecutive TCP ports (`p1sim fleet --out tcp:HOST:BASE`)
and reads every meter with dsmr_parser, as a multi-meter collector would: each meter
must send CRC-valid telegrams carrying the equipment id p1sim announced for its port,
and no two meters may share an id.

The binary is found as in conftest.py (P1SIM, else this repository's build).
"""

import random
import socket
import subprocess
from pathlib import Path

import pytest
from dsmr_parser import telegram_specifications
from dsmr_parser.parsers import TelegramParser

from conftest import find_p1sim

METERS = 5
SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.toml"


@pytest.fixture
def p1_fleet():
    """(process, [(host, port, equipment id)]) of a running fleet."""
    binary = find_p1sim()
    for _ in range(10):
        base = random.randrange(20000, 60000)
        cmd = [binary, "fleet", str(SCENARIO), "--meters", str(METERS),
               "--out", f"tcp:127.0.0.1:{base}", "--speed", "5"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = proc.stdout.readline().strip()
        if not first.startswith("tcp:"):
            proc.wait(timeout=10)  # a port of the range was taken: try another base
            continue
        lines = [first] + [proc.stdout.readline().strip() for _ in range(METERS - 1)]
        meters = []
        for line in lines:
            addr, equipment_id = line.split(" ")
            host, port = addr.removeprefix("tcp:").rsplit(":", 1)
            meters.append((host, int(port), equipment_id))
        try:
            yield proc, meters
        finally:
            proc.terminate()  # SIGTERM: p1sim stops cleanly
            proc.wait(timeout=10)
        return
    raise RuntimeError("no free range of ports for the fleet")


def read_telegram(host, port):
    """The first whole telegram from a meter's port (from `/` to the CRC line)."""
    with socket.create_connection((host, port), timeout=10) as s:
        data = b""
        while True:
            chunk = s.recv(4096)
            assert chunk, "the meter closed the connection"
            data += chunk
            start = data.find(b"/")
            bang = data.find(b"!", start)
            if start >= 0 and bang >= 0 and data.find(b"\r\n", bang) >= 0:
                return data[start:data.find(b"\r\n", bang) + 2].decode("ascii")


def test_every_meter_of_the_fleet_parses_with_its_own_id(p1_fleet):
    _, meters = p1_fleet
    parser = TelegramParser(telegram_specifications.BELGIUM_FLUVIUS)
    seen = set()
    for i, (host, port, equipment_id) in enumerate(meters):
        assert port == meters[0][1] + i  # meter k on BASE + k
        telegram = parser.parse(read_telegram(host, port), throw_ex=True)  # CRC checked
        got = telegram.BELGIUM_EQUIPMENT_IDENTIFIER.value
        assert got == equipment_id.encode().hex().upper()
        seen.add(got)
    assert len(seen) == METERS
