//! Updating a CRC-16/ARC after some bytes of the message changed, without reading the
//! bytes that did not.
//!
//! CRC-16/ARC starts from 0 and has no final XOR, so over messages of one length it is
//! linear: `crc(a ^ b) == crc(a) ^ crc(b)`. When a telegram keeps its length and only a
//! few values change, the new CRC is the old one XOR the CRC of the difference, and the
//! difference is zero everywhere but the changed bytes. Zero bytes before the first change
//! leave a zero register as it is; a run of zero bytes after a change only shifts the
//! register, a linear map on 16 bits that [`ZEROS`] tabulates for every power-of-two run
//! length. A step that changes 20 values of a 1 kB telegram thus touches about 100 bytes
//! of tables instead of 1,000 bytes of message.
//!
//! [`CrcDelta`] is checked against a whole-message CRC on random messages and random
//! changes in the tests below; the encoder that uses it ([`crate::Encoder`]) is checked
//! against [`crate::Readout::write_to`].

/// The reflected CRC-16/ARC table (polynomial 0x8005, reflected 0xA001), one byte a step.
const BYTE: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = i as u16;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 1 != 0 {
                (r >> 1) ^ 0xA001
            } else {
                r >> 1
            };
            bit += 1;
        }
        t[i] = r;
        i += 1;
    }
    t
};

/// Run lengths up to 2^16 - 1 bytes take one table per bit; longer runs repeat the last.
const LEVELS: usize = 16;

/// `ZEROS[k]` advances the register over 2^k zero bytes: the image of a register `r` is
/// `ZEROS[k][0][r & 0xFF] ^ ZEROS[k][1][r >> 8]` (the map is linear, so each byte of the
/// register contributes independently).
static ZEROS: [[[u16; 256]; 2]; LEVELS] = zero_tables();

/// The register after one byte `b`.
const fn step(r: u16, b: u8) -> u16 {
    (r >> 8) ^ BYTE[((r ^ b as u16) & 0xFF) as usize]
}

/// The image of `r` under the linear map whose images of the 16 unit registers are `basis`.
const fn apply(basis: &[u16; 16], r: u16) -> u16 {
    let mut out = 0;
    let mut j = 0;
    while j < 16 {
        if r & (1 << j) != 0 {
            out ^= basis[j];
        }
        j += 1;
    }
    out
}

const fn zero_tables() -> [[[u16; 256]; 2]; LEVELS] {
    // The map for one zero byte, then squared level by level (2, 4, 8, ... bytes).
    let mut basis = [0u16; 16];
    let mut j = 0;
    while j < 16 {
        basis[j] = step(1 << j, 0);
        j += 1;
    }
    let mut out = [[[0u16; 256]; 2]; LEVELS];
    let mut k = 0;
    while k < LEVELS {
        let mut v = 0;
        while v < 256 {
            out[k][0][v] = apply(&basis, v as u16);
            out[k][1][v] = apply(&basis, (v as u16) << 8);
            v += 1;
        }
        let mut squared = [0u16; 16];
        let mut j = 0;
        while j < 16 {
            squared[j] = apply(&basis, apply(&basis, 1 << j));
            j += 1;
        }
        basis = squared;
        k += 1;
    }
    out
}

/// The register after `n` zero bytes.
fn zeros(mut r: u16, mut n: usize) -> u16 {
    let top = &ZEROS[LEVELS - 1];
    while n >= 1 << LEVELS {
        r = top[0][usize::from(r & 0xFF)] ^ top[1][usize::from(r >> 8)];
        n -= 1 << (LEVELS - 1);
    }
    while n != 0 && r != 0 {
        let k = n.trailing_zeros() as usize;
        let t = &ZEROS[k];
        r = t[0][usize::from(r & 0xFF)] ^ t[1][usize::from(r >> 8)];
        n &= n - 1;
    }
    r
}

/// The CRC of the difference between an old and a new message of the same length, fed
/// the changed bytes in ascending position order.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CrcDelta {
    /// The register after the difference up to `pos`.
    reg: u16,
    /// Bytes of the difference consumed so far.
    pos: usize,
}

impl CrcDelta {
    /// Records that the byte at `at` (at or after every byte recorded before) changed
    /// from `old` to `new`.
    #[inline]
    pub(crate) fn changed(&mut self, at: usize, old: u8, new: u8) {
        debug_assert!(at >= self.pos, "changes are fed in ascending order");
        self.reg = step(zeros(self.reg, at - self.pos), old ^ new);
        self.pos = at + 1;
    }

    /// The new CRC of a message of `len` bytes whose old CRC was `old`.
    pub(crate) fn apply(self, old: u16, len: usize) -> u16 {
        old ^ zeros(self.reg, len.saturating_sub(self.pos))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::crc16;

    #[test]
    fn the_byte_table_is_crc_16_arc() {
        let crc = b"123456789".iter().fold(0, |r, &b| step(r, b));
        assert_eq!(crc, 0xBB3D, "the published check value");
    }

    proptest! {
        #[test]
        fn zero_runs_match_byte_steps(r in any::<u16>(), n in 0usize..5000) {
            let slow = (0..n).fold(r, |r, _| step(r, 0));
            prop_assert_eq!(zeros(r, n), slow);
        }

        #[test]
        fn a_patched_crc_is_the_crc_of_the_new_message(
            old in proptest::collection::vec(any::<u8>(), 1..3000),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..40),
        ) {
            let mut new = old.clone();
            for (i, b) in &edits {
                new[i.index(old.len())] = *b;
            }
            let mut delta = CrcDelta::default();
            for (at, (&o, &n)) in old.iter().zip(&new).enumerate() {
                if o != n {
                    delta.changed(at, o, n);
                }
            }
            prop_assert_eq!(delta.apply(crc16(&old), old.len()), crc16(&new));
        }
    }

    #[test]
    fn runs_longer_than_the_tables_are_split() {
        let n = (1 << LEVELS) + 12_345;
        let slow = (0..n).fold(0x1234, |r, _| step(r, 0));
        assert_eq!(zeros(0x1234, n), slow);
    }
}
