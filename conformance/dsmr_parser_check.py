"""Checks p1sim telegrams against an outside parser: dsmr_parser (PyPI, pinned in
scripts/requirements-conformance.txt), with the Belgian specification, CRC check on and
throw_ex=True.

Input: a JSON-lines file; each line is an object
    {"name": str, "telegram": str (the exact telegram text),
     "readout": {...} | null (what the telegram is meant to say, p1sim's readout schema),
     "expect": "accept" | "reject"}
Every "accept" telegram must parse and every value dsmr_parser reports must equal the
readout's; every "reject" telegram must raise. Prints a summary; exits 1 on any mismatch.

Extensions (used by p1-faults; cases without them behave as above):
  "expect" may also be "silent_empty" (parsed without error into zero objects),
  "crash" (an exception other than InvalidChecksumError/ParseError escapes) or, with
  "mode": "stream", "not_framed" (dsmr_parser's TelegramBuffer never cuts a telegram
  out of the text). "mode": "stream" feeds the text to the reader path Home Assistant's
  asyncio protocol runs (TelegramBuffer, ASCII check, parse without throw_ex) instead of
  parsing it whole; the outcome is that of the last telegram cut out. Bytes outside
  ASCII travel as the code points U+0080..U+00FF (latin-1, as that protocol decodes).
"""

import json
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from dsmr_parser import telegram_specifications
from dsmr_parser.clients.telegram_buffer import TelegramBuffer
from dsmr_parser.exceptions import InvalidChecksumError, ParseError
from dsmr_parser.parsers import TelegramParser

INVALID_TST = "632525252525W"
BREAKER = {"disconnected": 0, "connected": 1, "ready_for_reconnection": 2}


BRUSSELS = ZoneInfo("Europe/Brussels")
KNOWN_DIVERGENCES = []


def tst_to_utc(text):
    """The instant a TST names: local time with S = UTC+2, W = UTC+1 (DSMR 5.0.2 §6.4).

    Known dsmr_parser divergence (guide/oracles.md): it reads the wall time in its zone
    and uses the flag only to pick the fold, so a flag that contradicts the date (the
    spec's example `200305122139S`, copied into dsmr_parser's own fixtures) is ignored.
    For such a timestamp this returns what dsmr_parser computes and records the case.
    """
    if text == INVALID_TST:
        return None
    naive = datetime.strptime(text[:12], "%y%m%d%H%M%S")
    offset = timedelta(hours=2 if text[12] == "S" else 1)
    meant = (naive - offset).replace(tzinfo=timezone.utc)
    possible = {naive.replace(tzinfo=BRUSSELS, fold=f).utcoffset() for f in (0, 1)}
    if offset in possible:
        return meant
    KNOWN_DIVERGENCES.append(text)
    return naive.replace(tzinfo=BRUSSELS, fold=1 if text[12] == "W" else 0).astimezone(timezone.utc)


def dec(n, places):
    return Decimal(n) / (Decimal(10) ** places)


class Mismatch(Exception):
    pass


def same(what, got, want):
    if got != want:
        raise Mismatch(f"{what}: dsmr_parser says {got!r}, p1sim meant {want!r}")


def check_values(t, r):
    same("version", t.BELGIUM_VERSION_INFORMATION.value, r["version"])
    same("equipment id", t.BELGIUM_EQUIPMENT_IDENTIFIER.value, r["equipment_id"].encode().hex().upper())
    same("time", t.P1_MESSAGE_TIMESTAMP.value, tst_to_utc(r["time"]))
    same("import T1", t.ELECTRICITY_USED_TARIFF_1.value, dec(r["import_wh"][0], 3))
    same("import T2", t.ELECTRICITY_USED_TARIFF_2.value, dec(r["import_wh"][1], 3))
    same("export T1", t.ELECTRICITY_DELIVERED_TARIFF_1.value, dec(r["export_wh"][0], 3))
    same("export T2", t.ELECTRICITY_DELIVERED_TARIFF_2.value, dec(r["export_wh"][1], 3))
    same("tariff", t.ELECTRICITY_ACTIVE_TARIFF.value, f"{r['tariff']:04d}")
    d = r.get("demand")
    if d is not None:
        same("1.4.0", t.BELGIUM_CURRENT_AVERAGE_DEMAND.value, dec(d["current_w"], 3))
        m = t.BELGIUM_MAXIMUM_DEMAND_MONTH
        same("1.6.0 time", m.datetime, tst_to_utc(d["peak"]["at"]))
        same("1.6.0 value", m.value, dec(d["peak"]["w"], 3))
        hist = t.BELGIUM_MAXIMUM_DEMAND_13_MONTHS
        same("98.1.0 length", len(hist), len(d["history"]))
        for i, (got, want) in enumerate(zip(hist, d["history"])):
            same(f"98.1.0[{i}] period", got.datetime, tst_to_utc(want["period"]))
            same(f"98.1.0[{i}] occurred", got.occurred, tst_to_utc(want["at"]))
            same(f"98.1.0[{i}] value", got.value, dec(want["w"], 3))
    same("1.7.0", t.CURRENT_ELECTRICITY_USAGE.value, dec(r["import_w"], 3))
    same("2.7.0", t.CURRENT_ELECTRICITY_DELIVERY.value, dec(r["export_w"], 3))
    phase_power = int(r["version"]) >= 50215
    integer_amps = r["version"] == "50213"
    for i, p in enumerate(r["phases"]):
        n = i + 1
        if phase_power:
            same(f"L{n} +P", getattr(t, f"INSTANTANEOUS_ACTIVE_POWER_L{n}_POSITIVE").value, dec(p["import_w"], 3))
            same(f"L{n} -P", getattr(t, f"INSTANTANEOUS_ACTIVE_POWER_L{n}_NEGATIVE").value, dec(p["export_w"], 3))
        same(f"L{n} voltage", getattr(t, f"INSTANTANEOUS_VOLTAGE_L{n}").value, dec(p["voltage_dv"], 1))
        amps = dec(p["current_ca"] // 100, 0) if integer_amps else dec(p["current_ca"], 2)
        same(f"L{n} current", getattr(t, f"INSTANTANEOUS_CURRENT_L{n}").value, amps)
    same("breaker", t.ACTUAL_SWITCH_POSITION.value, BREAKER[r["breaker"]])
    same("limiter", t.ACTUAL_TRESHOLD_ELECTRICITY.value, dec(r["limiter_hw"], 1))
    same("fuse", t.FUSE_THRESHOLD_L1.value, dec(r["fuse_a"], 0))
    # An empty message `()` reads as None in dsmr_parser.
    same("text message", t.TEXT_MESSAGE.value or "", r["message"])
    devices = {d.channel_id: d for d in getattr(t, "MBUS_DEVICES", [])}
    same("M-Bus channels", sorted(devices), sorted(m["channel"] for m in r["mbus"]))
    for m in r["mbus"]:
        dev = devices[m["channel"]]
        ch = m["channel"]
        same(f"ch{ch} type", dev.MBUS_DEVICE_TYPE.value, m["device_type"])
        same(f"ch{ch} id", dev.MBUS_EQUIPMENT_IDENTIFIER.value, m["equipment_id"].encode().hex().upper())
        if m["valve"] is not None:
            same(f"ch{ch} valve", dev.MBUS_VALVE_POSITION.value, BREAKER[m["valve"]])
        reading = dev.MBUS_METER_READING
        cap = m["capture"]
        if cap == "silent":
            same(f"ch{ch} time", reading.datetime, None)
            same(f"ch{ch} value", reading.value, Decimal(0))
            same(f"ch{ch} unit", reading.unit, None)
        else:
            same(f"ch{ch} time", reading.datetime, tst_to_utc(cap["reading"]["at"]))
            same(f"ch{ch} value", reading.value, dec(cap["reading"]["dm3"], 3))
            same(f"ch{ch} unit", reading.unit, "m3")


def outcome(t, error):
    """The extended verdict of one parse: accept, silent_empty, reject or crash."""
    if error is None:
        return "accept" if len(t) > 0 else "silent_empty"
    if isinstance(error, (InvalidChecksumError, ParseError)):
        return "reject"
    return "crash"


def run_stream(parser, text):
    """What the asyncio reader does with `text`: (outcome, telegram, error) of the last
    telegram TelegramBuffer cuts out, or ("not_framed", None, None)."""
    buf = TelegramBuffer()
    buf.append(text)
    last = ("not_framed", None, None)
    for telegram in buf.get_all():
        try:
            telegram = telegram.encode("latin1").decode("ascii")
            t, error = parser.parse(telegram), None
        except Exception as e:  # noqa: BLE001 - the point is to see what escapes
            t, error = None, e
        last = (outcome(t, error), t, error)
    return last


EXTENDED = ("silent_empty", "crash", "not_framed")


def main(path):
    parser = TelegramParser(telegram_specifications.BELGIUM_FLUVIUS)
    counts = {"accepted": 0, "rejected": 0}
    failures = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            case = json.loads(line)
            name = case.get("name", f"line {lineno}")
            stream = case.get("mode") == "stream"
            if stream:
                got, t, error = run_stream(parser, case["telegram"])
            else:
                try:
                    t = parser.parse(case["telegram"], throw_ex=True)
                    error = None
                except (InvalidChecksumError, ParseError) as e:
                    t, error = None, e
                except Exception as e:  # noqa: BLE001
                    t, error = None, e
                got = outcome(t, error)
            if case["expect"] in EXTENDED:
                if got == case["expect"]:
                    counts.setdefault(got, 0)
                    counts[got] += 1
                else:
                    failures.append(f"{name}: expected {case['expect']}, dsmr_parser: {got} ({error!r})")
                continue
            if got in ("crash", "not_framed") or (got == "silent_empty" and case["expect"] == "reject"):
                failures.append(f"{name}: expected {case['expect']}, dsmr_parser: {got} ({error!r})")
                continue
            if case["expect"] == "reject":
                if error is None:
                    failures.append(f"{name}: dsmr_parser accepted a telegram meant to be rejected")
                else:
                    counts["rejected"] += 1
                continue
            if error is not None:
                failures.append(f"{name}: dsmr_parser rejected it: {type(error).__name__}: {error}")
                continue
            try:
                # dsmr_parser parses LF-only telegrams into nothing without an error: an
                # empty result is a failure, not a pass.
                if len(t) == 0:
                    raise Mismatch("dsmr_parser found no objects")
                if case.get("readout") is not None:
                    check_values(t, case["readout"])
                counts["accepted"] += 1
            except (Mismatch, AttributeError, KeyError) as e:
                failures.append(f"{name}: {e}")
    for f_ in failures[:50]:
        print("FAIL", f_)
    if KNOWN_DIVERGENCES:
        print(f"known dsmr_parser divergence: S/W flag contradicting the date ignored in "
              f"{len(KNOWN_DIVERGENCES)} timestamp(s): {sorted(set(KNOWN_DIVERGENCES))}")
    extra = "".join(f", {counts[k]} {k} as expected" for k in EXTENDED if k in counts)
    print(f"dsmr_parser: {counts['accepted']} accepted with equal values, "
          f"{counts['rejected']} rejected as expected{extra}, {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
