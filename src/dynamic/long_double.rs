//! `LongDouble`: C's `long double` in its in-memory form per target, with exact
//! conversions from `f64` and rounding ones back (done in software: Rust has no such type).

/// A C `long double` value in its in-memory form: the x87 80-bit extended format in 16
/// bytes on x86_64, in 12 bytes (4-byte aligned) on i386, the bytes past the tenth being
/// padding; IEEE binary128 (quadruple precision, 16 bytes, 16-aligned) on aarch64; an IEEE
/// double (8 bytes) on 32-bit ARM.
///
/// It describes `long double` in Cifs and closure arguments. It cannot stand for one in a
/// Rust function-pointer type on x86_64 System V and on aarch64 (Rust would pass it as a
/// 16-byte struct, C passes it in memory or in a q register) or in 32-bit Arm's VFP variant
/// (C passes it in d registers), nor as a return type on i386 (Rust returns it through
/// memory, C in st(0)) or in Arm's base standard (C returns it in r0:r1), so [`TypedCif`](super::TypedCif)
/// and [`TypedClosure`](super::TypedClosure) refuse such signatures.
///
/// Rust has no such type; [`from_f64`](LongDouble::from_f64) converts exactly and
/// [`to_f64`](LongDouble::to_f64) rounds to nearest.
///
/// Equality and hashing look at the value bytes only (x87: the first 10): calls leave the
/// padding unspecified.
///
/// On 32-bit ARM `long double` is `double`: a `LongDouble` holds the 8 bytes of an `f64`,
/// and the conversions are exact both ways.
#[derive(Clone, Copy, Debug, Default)]
#[cfg_attr(not(any(target_arch = "x86", target_arch = "arm")), repr(C, align(16)))]
#[cfg_attr(target_arch = "x86", repr(C, align(4)))]
#[cfg_attr(target_arch = "arm", repr(C, align(8)))]
pub struct LongDouble(pub [u8; LONG_DOUBLE_BYTES]);

/// Bytes of a `long double` (x87 extended precision and its padding, binary128, or on ARM a
/// `double`) on the target.
const LONG_DOUBLE_BYTES: usize = if cfg!(target_arch = "x86") {
    12
} else if cfg!(target_arch = "arm") {
    8
} else {
    16
};

/// Bytes of a `long double` that hold its value (the rest is padding).
const LONG_DOUBLE_VALUE: usize = if cfg!(target_arch = "aarch64") {
    16
} else if cfg!(target_arch = "arm") {
    8
} else {
    10
};

impl PartialEq for LongDouble {
    fn eq(&self, other: &Self) -> bool {
        self.0[..LONG_DOUBLE_VALUE] == other.0[..LONG_DOUBLE_VALUE]
    }
}

impl Eq for LongDouble {}

impl core::hash::Hash for LongDouble {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.0[..LONG_DOUBLE_VALUE].hash(state);
    }
}

#[cfg(target_arch = "aarch64")]
impl LongDouble {
    /// The quadruple-precision value equal to `value` (exact: every `f64` is representable).
    pub fn from_f64(value: f64) -> Self {
        Self(binary128_from_f64(value).to_le_bytes())
    }

    /// The value rounded to the nearest `f64` (ties to even; overflow to infinity).
    pub fn to_f64(self) -> f64 {
        binary128_to_f64(u128::from_le_bytes(self.0))
    }
}

/// The IEEE binary128 encoding of `value` (exact).
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
fn binary128_from_f64(value: f64) -> u128 {
    let bits = value.to_bits();
    let sign = u128::from(bits >> 63) << 127;
    let exp = (bits >> 52) & 0x7FF;
    let frac = u128::from(bits & ((1 << 52) - 1));
    let (exp, frac) = match (exp, frac) {
        (0, 0) => (0, 0),
        // Infinities keep a zero fraction; NaNs keep their payload, made quiet.
        (0x7FF, 0) => (0x7FFF, 0),
        (0x7FF, _) => (0x7FFF, (frac << 60) | (1 << 111)),
        (0, _) => {
            // Subnormal: value = frac * 2^-1074 = 1.f * 2^(top - 1074), top the index of
            // the leading 1 bit; the fraction drops that bit.
            let top = 127 - frac.leading_zeros();
            let exp = 16383 + u128::from(top) - 1074;
            (exp, (frac << (112 - top)) & ((1 << 112) - 1))
        }
        _ => (u128::from(exp) + 16383 - 1023, frac << 60),
    };
    sign | (exp << 112) | frac
}

/// The binary128 value `bits` rounded to the nearest `f64` (ties to even; overflow to
/// infinity).
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
fn binary128_to_f64(bits: u128) -> f64 {
    let sign = if bits >> 127 != 0 { -1.0 } else { 1.0 };
    let exp = ((bits >> 112) & 0x7FFF) as i32;
    let frac = bits & ((1 << 112) - 1);
    if exp == 0x7FFF {
        return if frac == 0 {
            sign * f64::INFINITY
        } else {
            f64::NAN
        };
    }
    // value = m * 2^(max(exp, 1) - 16383 - 112), the implicit bit only for normal numbers.
    let m = if exp == 0 { frac } else { frac | (1 << 112) };
    round_to_f64(sign, m, exp.max(1) - 16383 - 112)
}

#[cfg(target_arch = "arm")]
impl LongDouble {
    /// The `long double` (an IEEE double on ARM) equal to `value`.
    pub fn from_f64(value: f64) -> Self {
        Self(value.to_le_bytes())
    }

    /// The value as an `f64` (exact on ARM).
    pub fn to_f64(self) -> f64 {
        f64::from_le_bytes(self.0)
    }
}

#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
impl LongDouble {
    /// The extended-precision value equal to `value` (exact: every `f64` is representable).
    pub fn from_f64(value: f64) -> Self {
        let bits = value.to_bits();
        let sign = ((bits >> 63) as u16) << 15;
        let exp = ((bits >> 52) & 0x7FF) as u16;
        let frac = bits & ((1 << 52) - 1);
        let (exp, mant) = match (exp, frac) {
            (0, 0) => (0, 0),
            (0x7FF, _) => (0x7FFF, (1 << 63) | (frac << 11)),
            (0, _) => {
                // Subnormal: value = frac * 2^-1074; normalise the explicit integer bit.
                let lz = frac.leading_zeros() as u16;
                (16383 + 63 - 1074 - lz, frac << lz)
            }
            _ => (exp + (16383 - 1023), (1 << 63) | (frac << 11)),
        };
        Self::from_parts(sign | exp, mant)
    }

    fn from_parts(sign_exp: u16, mant: u64) -> Self {
        let mut bytes = [0u8; LONG_DOUBLE_BYTES];
        bytes[..8].copy_from_slice(&mant.to_le_bytes());
        bytes[8..10].copy_from_slice(&sign_exp.to_le_bytes());
        Self(bytes)
    }

    /// The value rounded to the nearest `f64` (ties to even; overflow to infinity).
    pub fn to_f64(self) -> f64 {
        let mant = u64::from_le_bytes(self.0[..8].try_into().unwrap_or([0; 8]));
        let sign_exp = u16::from_le_bytes([self.0[8], self.0[9]]);
        let sign = if sign_exp & 0x8000 != 0 { -1.0 } else { 1.0 };
        let exp = i32::from(sign_exp & 0x7FFF);
        if exp == 0x7FFF {
            return if mant << 1 == 0 {
                sign * f64::INFINITY
            } else {
                f64::NAN
            };
        }
        // value = mant * 2^(exp - 16383 - 63), with exponent field 0 meaning 1 (x87
        // denormals).
        round_to_f64(sign, u128::from(mant), exp.max(1) - 16383 - 63)
    }
}

/// `sign * m * 2^e` rounded to the nearest `f64`: as many of `m`'s leading bits as the
/// result holds at its exponent (53, fewer for subnormals), ties to even, overflow to
/// infinity, underflow to zero. `m` must be below 2^127.
#[cfg_attr(target_arch = "arm", allow(dead_code))]
fn round_to_f64(sign: f64, m: u128, e: i32) -> f64 {
    if m == 0 {
        return sign * 0.0;
    }
    let width = 128 - m.leading_zeros() as i32;
    let lead = e + width - 1; // the exponent of the leading 1 bit
    if lead > 1023 {
        return sign * f64::INFINITY;
    }
    let drop = width - 53 + (-1022 - lead).max(0);
    if drop <= 0 {
        // Exact: at most 53 bits, and e >= -1074 (pow2 is exact there).
        return sign * (m as f64) * pow2(e);
    }
    if drop > width {
        return sign * 0.0; // below half the smallest subnormal
    }
    let mut top = m >> drop;
    let rem = m & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    if rem > half || (rem == half && top & 1 == 1) {
        top += 1;
    }
    sign * (top as f64) * pow2(e + drop)
}

/// 2^e as an f64, saturating to 0 and infinity, computed in exact steps.
#[cfg_attr(target_arch = "arm", allow(dead_code))]
fn pow2(mut e: i32) -> f64 {
    let mut result = 1.0f64;
    while e > 1000 {
        result *= f64::from_bits(((1000 + 1023) as u64) << 52);
        e -= 1000;
    }
    while e < -1000 {
        result *= f64::from_bits(((-1000 + 1023) as u64) << 52);
        e += 1000;
    }
    result * f64::from_bits(((e + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "arm")]
    fn long_double_is_double_on_arm() {
        // The Rust type, the C layout the dynamic layer uses, and an f64's, all agree.
        assert_eq!(core::mem::size_of::<LongDouble>(), 8);
        assert_eq!(core::mem::align_of::<LongDouble>(), 8);
        let ty = crate::dynamic::Type::LONG_DOUBLE;
        assert_eq!((ty.size(), ty.align()), (8, 8));
    }

    /// Zeros, normals, the extremes, subnormals (the smallest and the largest) and both
    /// infinities: each converts to the wider format and back unchanged.
    const EVERY_F64_CLASS: [f64; 16] = [
        0.0,
        -0.0,
        0.5,
        -0.1,
        1.0,
        3.5,
        1e300,
        -1e-300,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::MIN_POSITIVE / 8.0,
        f64::from_bits(1),
        f64::from_bits(0x000F_FFFF_FFFF_FFFF),
        f64::INFINITY,
        f64::NEG_INFINITY,
        -f64::MAX,
    ];

    #[test]
    #[cfg(not(target_arch = "arm"))]
    fn long_double_round_trips_every_f64_class() {
        for x in EVERY_F64_CLASS {
            let back = LongDouble::from_f64(x).to_f64();
            assert_eq!(back.to_bits(), x.to_bits(), "{x:e}");
        }
        assert!(LongDouble::from_f64(f64::NAN).to_f64().is_nan());
    }

    /// The x87 format's rounding and padding (aarch64's binary128: `binary128_conversions`;
    /// 32-bit Arm's `long double` is a `double`).
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    #[test]
    fn x87_long_double_rounds_to_nearest_even_and_ignores_padding() {
        // 1 + 2^-60 rounds to 1; 1 + 2^-52 + 2^-53 (a tie) rounds to even (1 + 2^-51).
        let one = LongDouble::from_f64(1.0);
        let mut bytes = one.0;
        bytes[0] = 8; // mantissa bit 3 = 2^-60 below the leading bit
        assert_eq!(LongDouble(bytes).to_f64(), 1.0);
        let mut bytes = one.0;
        bytes[1] = 0x0C; // bits 11 (2^-52, the last kept bit) and 10 (2^-53): a tie
        let tie = LongDouble(bytes).to_f64();
        assert_eq!(tie, 1.0 + 2f64.powi(-51));
        // value = mant * 2^(exp - 16383 - 63): around the smallest subnormal, 2^-1074.
        let x87 = |exp: u16, mant: u64| LongDouble::from_parts(exp, mant).to_f64();
        let min = f64::from_bits(1);
        assert_eq!(x87(16383 - 1075, 1 << 63), 0.0); // half of it: a tie, to even
        assert_eq!(x87(16383 - 1075, (1 << 63) | 1), min); // just above half
        assert_eq!(x87(16383 - 1074, 3 << 62), 2.0 * min); // 1.5 of it: a tie, to even
        assert_eq!(x87(0x8000 | (16383 - 1074), 1 << 63), -min);
        assert_eq!(x87(0, 1 << 63), 0.0); // an x87 denormal
        assert_eq!(x87(16383 + 63, 1), 1.0); // an unnormal: no integer bit
        assert_eq!(x87(16383 + 1024, 1 << 63), f64::INFINITY);
        // The 6 padding bytes do not take part in equality.
        let mut padded = one;
        padded.0[LONG_DOUBLE_BYTES - 1] = 0xAA;
        assert_eq!(padded, one);
    }

    /// binary128 fields: sign, biased exponent (bias 16383), 112-bit fraction.
    fn quad(negative: bool, exp: u128, frac: u128) -> u128 {
        (u128::from(negative) << 127) | (exp << 112) | frac
    }

    #[test]
    fn binary128_conversions() {
        // Encodings as gcc emits them for aarch64 (1.0L: .word 0, 0, 0, 0x3fff0000).
        assert_eq!(binary128_from_f64(1.0), quad(false, 0x3FFF, 0));
        assert_eq!(binary128_from_f64(-2.5), quad(true, 0x4000, 1 << 110));
        assert_eq!(binary128_from_f64(0.0), 0);
        assert_eq!(binary128_from_f64(-0.0), 1 << 127);
        assert_eq!(binary128_from_f64(f64::INFINITY), quad(false, 0x7FFF, 0));
        // The smallest f64 subnormal, 2^-1074, is a normal binary128 number.
        assert_eq!(
            binary128_from_f64(f64::from_bits(1)),
            quad(false, 16383 - 1074, 0)
        );
        for x in EVERY_F64_CLASS {
            let back = binary128_to_f64(binary128_from_f64(x));
            assert_eq!(back.to_bits(), x.to_bits(), "{x:e}");
        }
        assert!(binary128_to_f64(binary128_from_f64(f64::NAN)).is_nan());
        // Rounding to nearest, ties to even: fraction bit 60 is the last one a double keeps.
        let one = quad(false, 0x3FFF, 0);
        assert_eq!(binary128_to_f64(one | 1), 1.0);
        assert_eq!(binary128_to_f64(one | (1 << 59)), 1.0); // a tie, to even
        let tie_up = one | (1 << 60) | (1 << 59);
        assert_eq!(binary128_to_f64(tie_up), 1.0 + 2f64.powi(-51));
        assert_eq!(binary128_to_f64(one | (1 << 59) | 1), 1.0 + 2f64.powi(-52));
        // Out of the double range: infinity above, zero (or a rounded subnormal) below.
        assert_eq!(
            binary128_to_f64(quad(true, 0x3FFF + 1024, 0)),
            f64::NEG_INFINITY
        );
        assert_eq!(binary128_to_f64(quad(false, 0x3FFF - 1080, 0)), 0.0);
        assert_eq!(
            binary128_to_f64(quad(false, 16383 - 1075, 1)),
            f64::from_bits(1) // just above half the smallest subnormal
        );
        assert_eq!(binary128_to_f64(quad(false, 16383 - 1075, 0)), 0.0); // a tie, to even
        assert_eq!(binary128_to_f64(quad(false, 0, 1)), 0.0); // binary128 subnormal
    }
}
