//! proptest strategies for telegrams (feature `proptest`, and this crate's own tests):
//! readouts across both models, all five versions, M-Bus layouts and history lengths,
//! each already in the normal form the wire can carry, so encode then decode is exact.

use proptest::collection::vec;
use proptest::prelude::*;

use crate::{
    Breaker, Demand, HistoryEntry, MbusCapture, MbusReadout, Model, Peak, PhaseReadout, Readout,
    Tst, Version,
};

/// A calendar-valid timestamp in 2000..=2099, either flag.
pub fn tst() -> impl Strategy<Value = Tst> {
    (
        0u8..100,
        1u8..=12,
        1u8..=28,
        0u8..24,
        0u8..60,
        0u8..60,
        any::<bool>(),
    )
        .prop_map(|(year, month, day, hour, minute, second, dst)| Tst {
            year,
            month,
            day,
            hour,
            minute,
            second,
            dst,
        })
}

/// A timestamp, sometimes the `632525252525W` placeholder.
pub fn tst_or_invalid() -> impl Strategy<Value = Tst> {
    prop_oneof![9 => tst(), 1 => Just(Tst::INVALID)]
}

fn breaker() -> impl Strategy<Value = Breaker> {
    prop_oneof![
        Just(Breaker::Connected),
        Just(Breaker::Disconnected),
        Just(Breaker::ReadyForReconnection)
    ]
}

/// A 14-character equipment id starting with `medium`.
pub fn equipment_id(medium: char) -> impl Strategy<Value = String> {
    ("[A-Z]{3}[0-9]{10}").prop_map(move |rest| format!("{medium}{rest}"))
}

fn kw() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), 0u32..100_000]
}

fn history() -> impl Strategy<Value = Vec<HistoryEntry>> {
    vec(
        (tst(), tst_or_invalid(), kw()).prop_map(|(period, at, w)| HistoryEntry { period, at, w }),
        0..=13,
    )
}

fn mbus(version: Version) -> impl Strategy<Value = Vec<MbusReadout>> {
    let kinds: Vec<u16> = if version.has_water() {
        vec![3, 7, 3, 4]
    } else {
        vec![3, 3, 3, 4]
    };
    (
        Just((1u8..=4).collect::<Vec<u8>>()).prop_shuffle(),
        0usize..=4,
        vec(
            (
                0usize..4,
                "[A-Z]{3}[0-9]{10}",
                breaker(),
                tst(),
                0u64..100_000_000,
                any::<bool>(),
            ),
            4,
        ),
    )
        .prop_map(move |(channels, n, devices)| {
            channels
                .into_iter()
                .take(n)
                .zip(devices)
                .map(|(channel, (k, id, valve, at, dm3, silent))| {
                    let device_type = kinds[k];
                    let medium = match device_type {
                        3 => '7',
                        7 => '8',
                        _ => '6',
                    };
                    MbusReadout {
                        channel,
                        device_type,
                        equipment_id: format!("{medium}{id}"),
                        valve: (device_type == 3).then_some(valve),
                        capture: if silent {
                            MbusCapture::Silent
                        } else {
                            MbusCapture::Reading { at, dm3 }
                        },
                    }
                })
                .collect()
        })
}

/// Any readout a Fluvius S211/T211 can print.
pub fn readout() -> impl Strategy<Value = Readout> {
    (
        prop_oneof![Just(Model::S211), Just(Model::T211)],
        proptest::sample::select(Version::ALL.to_vec()),
    )
        .prop_flat_map(|(model, version)| {
            let phase = (kw(), kw(), 0u32..10_000, 0u32..100_000).prop_map(
                move |(import_w, export_w, voltage_dv, current_ca)| PhaseReadout {
                    import_w: if version.has_phase_power() {
                        import_w
                    } else {
                        0
                    },
                    export_w: if version.has_phase_power() {
                        export_w
                    } else {
                        0
                    },
                    voltage_dv,
                    current_ca: if version.integer_currents() {
                        current_ca / 100 * 100
                    } else {
                        current_ca
                    },
                },
            );
            let demand = (kw(), tst_or_invalid(), kw(), history()).prop_map(
                move |(current_w, at, w, history)| {
                    version.has_demand().then_some(Demand {
                        current_w,
                        peak: Peak { at, w },
                        history,
                    })
                },
            );
            (
                (
                    equipment_id('1'),
                    tst(),
                    [0u64..1_000_000_000, 0u64..1_000_000_000],
                    [0u64..1_000_000_000, 0u64..1_000_000_000],
                    1u8..=2,
                ),
                (demand, kw(), kw(), vec(phase, model.phases())),
                (
                    breaker(),
                    0u32..=9999,
                    0u32..=999,
                    vec(0x20u8..0x7F, 0..=64),
                    mbus(version),
                ),
            )
                .prop_map(
                    move |(
                        (equipment_id, time, import_wh, export_wh, tariff),
                        (demand, import_w, export_w, phases),
                        (breaker, limiter_hw, fuse_a, message, mbus),
                    )| Readout {
                        model,
                        version,
                        equipment_id,
                        time,
                        import_wh,
                        export_wh,
                        tariff,
                        demand,
                        import_w,
                        export_w,
                        phases,
                        breaker,
                        limiter_hw,
                        fuse_a,
                        message,
                        mbus,
                    },
                )
        })
}
