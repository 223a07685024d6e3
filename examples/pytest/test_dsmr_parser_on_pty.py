"""Reads the virtual meter with dsmr_parser's SerialReader, as a P1 application would,
and compares what it parsed with what the meter meant (the truth file)."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import islice

from dsmr_parser import telegram_specifications
from dsmr_parser.clients import SERIAL_SETTINGS_V5, SerialReader


def tst_to_utc(text):
    """YYMMDDhhmmssX -> aware UTC datetime (S = UTC+2, W = UTC+1)."""
    local = datetime.strptime(text[:12], "%y%m%d%H%M%S")
    return (local - timedelta(hours=2 if text[12] == "S" else 1)).replace(tzinfo=timezone.utc)


def test_serial_reader_gets_what_the_meter_meant(p1_meter):
    reader = SerialReader(
        device=p1_meter.path,
        serial_settings=dict(SERIAL_SETTINGS_V5),  # a copy: SerialReader writes into it
        telegram_specification=telegram_specifications.BELGIUM_FLUVIUS,
    )
    telegrams = list(islice(reader.read_as_object(), 3))
    meant_by_instant = {tst_to_utc(tst): r for tst, r in p1_meter.truth().items()}
    instants = []
    for t in telegrams:
        instant = t.P1_MESSAGE_TIMESTAMP.value
        instants.append(instant)
        meant = meant_by_instant[instant]
        assert t.BELGIUM_EQUIPMENT_IDENTIFIER.value == meant["equipment_id"].encode().hex().upper()
        assert t.ELECTRICITY_USED_TARIFF_1.value == Decimal(meant["import_wh"][0]) / 1000
        assert t.CURRENT_ELECTRICITY_USAGE.value == Decimal(meant["import_w"]) / 1000
        assert t.CURRENT_ELECTRICITY_DELIVERY.value == Decimal(meant["export_w"]) / 1000
    assert instants == sorted(instants) and len(set(instants)) == 3
