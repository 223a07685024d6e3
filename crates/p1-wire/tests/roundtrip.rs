//! Property tests: encoding then decoding is exact for every readout the wire can carry,
//! and decoding hostile bytes — random, or real telegrams with mutations — never panics.

use p1_wire::{crc16, decode_all, strategies};
use proptest::prelude::*;

const REAL: &[&[u8]] = &[
    include_bytes!("fixtures/fluvius-t211-creadme-1.txt"),
    include_bytes!("fixtures/fluvius-t211-arduinodsmrtest-1.txt"),
    include_bytes!("fixtures/fluvius-s211-dsmrhub-1.txt"),
    include_bytes!("fixtures/fluvius-s211-domoticz-1.txt"),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_decode_encode_is_identity(r in strategies::readout()) {
        let bytes = r.to_bytes();
        let frames = decode_all(&bytes);
        prop_assert_eq!(frames.len(), 1);
        let frame = match &frames[0] {
            Ok(f) => f,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes)))),
        };
        prop_assert_eq!(&frame.readout, &r);
        prop_assert_eq!(frame.readout.to_bytes(), bytes.clone());
        prop_assert_eq!(frame.telegram.to_bytes(), bytes);
    }

    #[test]
    fn concatenated_with_noise_all_found(
        rs in proptest::collection::vec(strategies::readout(), 1..4),
        noise in proptest::collection::vec(proptest::collection::vec(any::<u8>().prop_filter("no slash", |b| *b != b'/'), 0..40), 4),
    ) {
        let mut stream = Vec::new();
        for (r, n) in rs.iter().zip(&noise) {
            stream.extend_from_slice(n);
            stream.extend_from_slice(&r.to_bytes());
        }
        let frames = decode_all(&stream);
        prop_assert_eq!(frames.len(), rs.len());
        for (f, r) in frames.iter().zip(&rs) {
            match f {
                Ok(f) => prop_assert_eq!(&f.readout, r),
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        for r in decode_all(&bytes) {
            if let Err(e) = r {
                // Positions point inside the input.
                prop_assert!(e.offset <= bytes.len());
                prop_assert!(e.line >= 1 && e.column >= 1);
            }
        }
    }

    #[test]
    fn mutated_real_telegrams_never_panic(
        which in 0..REAL.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut bytes = REAL[which].to_vec();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, byte),
            }
        }
        // Whatever is accepted is exactly what its lines re-encode to, CRC included:
        // a mutation is either caught or yields another well-formed telegram.
        for f in decode_all(&bytes).iter().flatten() {
            prop_assert_eq!(&f.telegram.to_bytes()[..], &bytes[f.offset..f.offset + f.len]);
        }
    }

    #[test]
    fn accepted_telegrams_are_canonical_even_with_a_fixed_up_crc(
        which in 0..REAL.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), prop::sample::select(b"0123456789.*()-:/!ABCDEFWSkVhm3 \r\n".to_vec()), 0u8..3), 1..4),
    ) {
        // Mutate the body with telegram-like bytes, then give it a correct CRC, so the
        // parser (not the CRC) must decide: whatever it accepts must re-encode exactly.
        let real = REAL[which];
        let bang = real.iter().rposition(|&b| b == b'!').unwrap_or(0);
        let mut body = real[..bang].to_vec();
        for (at, byte, op) in edits {
            let i = 1 + at.index(body.len().saturating_sub(1).max(1));
            match op {
                0 if i < body.len() => body[i] = byte,
                1 if i < body.len() => { body.remove(i); }
                _ => body.insert(i.min(body.len()), byte),
            }
        }
        body.push(b'!');
        let crc = crc16(&body);
        body.extend_from_slice(format!("{crc:04X}\r\n").as_bytes());
        for f in decode_all(&body).iter().flatten() {
            prop_assert_eq!(&f.telegram.to_bytes()[..], &body[f.offset..f.offset + f.len]);
        }
    }

    #[test]
    fn any_readout_comes_back_in_its_wire_form(
        r in strategies::readout(),
        big in proptest::collection::vec(any::<u32>(), 8),
        huge in any::<u64>(),
        phases in 0usize..5,
        message_len in 0usize..1500,
    ) {
        // Out-of-range values, the wrong number of phases, objects the version does not
        // print: the encoder still writes a valid telegram, and decoding it gives back
        // exactly `wire_form()`.
        let mut r = r;
        r.import_w = big[0];
        r.limiter_hw = big[1];
        r.fuse_a = big[2];
        r.import_wh[1] = huge;
        r.phases.resize(phases, p1_wire::PhaseReadout {
            import_w: big[3],
            export_w: big[4],
            voltage_dv: big[5],
            current_ca: big[6],
        });
        r.message = vec![b'M'; message_len];
        if r.demand.is_none() {
            r.demand = Some(p1_wire::Demand {
                current_w: big[7],
                peak: p1_wire::Peak { at: p1_wire::Tst::INVALID, w: 1 },
                history: Vec::new(),
            });
        }
        let frames = decode_all(&r.to_bytes());
        prop_assert_eq!(frames.len(), 1);
        let back = match &frames[0] {
            Ok(f) => f.readout.clone(),
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        };
        prop_assert_eq!(&back, &r.wire_form());
        prop_assert_eq!(back.wire_form(), back);
    }
}
