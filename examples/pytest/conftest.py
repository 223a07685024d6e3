"""A pytest fixture that puts a simulated Fluvius meter on a pseudo-terminal.

`p1sim run SCENARIO --out pty` prints the device path as its first line on stdout, then
sends one telegram per simulated second; the `--truth` file says what each telegram
means. Point the code under test at `meter.path` as if it were /dev/ttyUSB0.

The binary is P1SIM if set, else the newer of this repository's target/release/p1sim
and target/debug/p1sim (under CARGO_TARGET_DIR if set), else `p1sim` on PATH.
P1SIM_SCENARIO names a scenario file (default: the built-in quickstart).

Run it from the repository root, after `cargo build --release` and
`scripts/setup-python.sh`:

    target/py-venv/bin/python -m pytest examples/pytest
"""

import json
import os
import shutil
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


REPO = Path(__file__).resolve().parents[2]


def find_p1sim():
    """P1SIM, else the newest p1sim built in this repository, else the one on PATH."""
    if os.environ.get("P1SIM"):
        return os.environ["P1SIM"]
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = REPO / target
    built = [p for p in (target / "release/p1sim", target / "debug/p1sim") if p.is_file()]
    if built:
        return str(max(built, key=lambda p: p.stat().st_mtime))
    on_path = shutil.which("p1sim")
    if on_path:
        return on_path
    raise RuntimeError(
        f"no p1sim: build it (cargo build --release) or set P1SIM; looked in {target} and PATH"
    )


@pytest.fixture
def p1_meter(tmp_path):
    binary = find_p1sim()
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
