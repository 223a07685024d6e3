"""A pytest fixture that puts a simulated Fluvius meter on a pseudo-terminal.

`p1sim run SCENARIO --out pty` prints the device path as its first line on stdout, then
sends one telegram per simulated second; the `--truth` file says what each telegram
means. Point the code under test at `meter.path` as if it were /dev/ttyUSB0.

Set P1SIM to the p1sim binary (default: `p1sim` on PATH) and P1SIM_SCENARIO to a
scenario file (default: the built-in quickstart).
"""

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class VirtualMeter:
    path: str
    truth_file: Path

    def truth(self):
        """The truth records written so far, keyed by the meter time of each telegram."""
        records = {}
        with open(self.truth_file, encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):
                    r = json.loads(line)
                    if r["readout"] is not None:
                        records[r["readout"]["time"]] = r["readout"]
        return records


@pytest.fixture
def p1_meter(tmp_path):
    binary = os.environ.get("P1SIM", "p1sim")
    scenario = os.environ.get("P1SIM_SCENARIO")
    truth = tmp_path / "truth.jsonl"
    cmd = [binary, "run", "--out", "pty", "--speed", "5", "--truth", str(truth)]
    if scenario:
        cmd.insert(2, scenario)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    path = proc.stdout.readline().strip()
    if not path.startswith("/dev/"):
        proc.kill()
        raise RuntimeError(f"p1sim did not report a pty: {path!r} {proc.stderr.read()}")
    try:
        yield VirtualMeter(path=path, truth_file=truth)
    finally:
        proc.terminate()  # SIGTERM: p1sim stops cleanly and exits 0
        proc.wait(timeout=10)
