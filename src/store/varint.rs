//! LEB128 varints and zigzag signs: the one integer encoding of the store's binary values (item
//! records, full-text fetch states, packed index chunks).

/// Appends `value` as a LEB128 varint.
pub(super) fn put(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The bytes `value` takes as a LEB128 varint.
pub(super) fn len(mut value: u64) -> usize {
    let mut len = 1;
    while value >= 0x80 {
        value >>= 7;
        len += 1;
    }
    len
}

/// Reads one varint from the front of `bytes` and advances past it (at most 10 bytes, at most
/// 64 bits); the error says what was wrong.
pub(super) fn take(bytes: &mut &[u8]) -> Result<u64, &'static str> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first().ok_or("value ends inside a varint")?;
        *bytes = rest;
        let bits = u64::from(byte & 0x7f);
        if shift == 63 && bits > 1 {
            return Err("varint overflows 64 bits");
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint longer than 10 bytes")
}

/// Maps a signed value to an unsigned one that small magnitudes keep small.
pub(super) fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub(super) fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(value: u64, signed: i64) {
            let mut out = Vec::new();
            put(&mut out, value);
            prop_assert_eq!(out.len(), len(value));
            let mut rest = out.as_slice();
            prop_assert_eq!(take(&mut rest), Ok(value));
            prop_assert!(rest.is_empty());
            prop_assert_eq!(unzigzag(zigzag(signed)), signed);
        }

        #[test]
        fn any_bytes_read_without_panicking(bytes: Vec<u8>) {
            let mut rest = bytes.as_slice();
            let _ = take(&mut rest);
        }
    }

    #[test]
    fn damage_is_an_error() {
        assert!(take(&mut &[0x80u8][..]).is_err());
        assert!(take(&mut &[0xffu8; 11][..]).is_err());
        assert!(
            take(&mut &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02][..]).is_err()
        );
    }
}
