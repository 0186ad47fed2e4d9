//! 统一社会信用代码 (unified social credit code, GB 32100-2015).
//!
//! Shape errors reject a record; a wrong check digit only flags it
//! (`USCC_CHECKSUM`), because real registries still hold early codes that fail it.

/// The 31 characters a USCC may contain, in the order that gives their value.
pub const CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Value + 1 of each byte in [`CHARSET`], 0 for every other byte: every
/// record carries a code, and a table lookup beats searching the charset.
const VALUES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < CHARSET.len() {
        t[CHARSET[i] as usize] = i as u8 + 1;
        i += 1;
    }
    t
};

fn value_of(c: u8) -> Option<u32> {
    u32::from(VALUES[usize::from(c)]).checked_sub(1)
}

/// What is wrong with the shape of a code, worded for a dead-letter reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShapeError {
    /// Not 18 characters long.
    Length(usize),
    /// A character outside `0-9 A-H J-N P Q R T U W X Y`, at a 1-based position.
    Charset(usize),
    /// Characters 3-8 (the administrative division) must be digits.
    DivisionNotDigits(usize),
}

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShapeError::Length(n) => write!(f, "is {n} characters long, expected 18"),
            ShapeError::Charset(p) => {
                write!(f, "character {p} is not one of 0-9 A-H J-N P Q R T U W X Y")
            }
            ShapeError::DivisionNotDigits(p) => {
                write!(f, "character {p} must be a digit (characters 3-8 are the division code)")
            }
        }
    }
}

/// Checks the shape of a code: 18 characters from the charset, characters 3-8 digits.
pub fn check_shape(code: &str) -> Result<(), ShapeError> {
    let b = code.as_bytes();
    if b.len() != 18 {
        return Err(ShapeError::Length(code.chars().count()));
    }
    for (i, &c) in b.iter().enumerate() {
        if value_of(c).is_none() {
            return Err(ShapeError::Charset(i + 1));
        }
        if (2..8).contains(&i) && !c.is_ascii_digit() {
            return Err(ShapeError::DivisionNotDigits(i + 1));
        }
    }
    Ok(())
}

/// The check character for the first 17 characters of a code, or `None` when
/// one of them is outside the charset.
pub fn check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in first17.iter().zip(WEIGHTS) {
        sum += value_of(*c)? * w;
    }
    let v = (31 - sum % 31) % 31;
    Some(CHARSET[v as usize])
}

/// True when the 18th character is the right check character. Assumes a valid shape.
pub fn checksum_ok(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 18 && check_char(&b[..17]) == Some(b[17])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        // Published codes of well-known companies.
        for code in
            ["91350100M000100Y43", "91440300708461136T", "91110108551385082Q", "914403001922038216"]
        {
            assert_eq!(check_shape(code), Ok(()), "{code}");
            assert!(checksum_ok(code), "{code}");
        }
        assert!(!checksum_ok("91440300708461136A"));
    }

    #[test]
    fn the_value_table_is_the_charset() {
        for c in 0..=255u8 {
            let want = CHARSET.iter().position(|&x| x == c).map(|p| p as u32);
            assert_eq!(value_of(c), want, "byte {c}");
        }
    }

    #[test]
    fn shape_errors() {
        assert_eq!(check_shape("9111000010000058"), Err(ShapeError::Length(16)));
        assert_eq!(check_shape("91110000100000589I"), Err(ShapeError::Charset(18)));
        assert_eq!(check_shape("911A0000100000589B"), Err(ShapeError::DivisionNotDigits(4)));
    }
}
