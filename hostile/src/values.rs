//! The argument values, the reference computations the closures repeat, and the checksum
//! that makes a lost, truncated or swapped argument visible in the result.

/// A byte whose address is the `*const u8` argument.
pub static POINTEE: u8 = 0xC3;

/// Salts of the two thunks made from one closure type (one template, two closure pointers).
pub const SALT_ONE: u64 = 0x0123_4567_89AB_CDEF;
/// See [`SALT_ONE`].
pub const SALT_TWO: u64 = 0xFEDC_BA98_7654_3210;

/// The twelve arguments of the mixed signatures: arity `n` takes the first `n`.
pub type Mixed = (
    i8,
    u16,
    i32,
    u64,
    f32,
    f64,
    *const u8,
    i16,
    u8,
    i64,
    u32,
    f64,
);

/// Each value has high bits set, a sign or a fraction, so that a misplaced argument changes
/// the checksum.
pub fn mixed() -> Mixed {
    (
        -77,
        0xBEEF,
        -123_456_789,
        0xDEAD_BEEF_CAFE_F00D,
        3.25,
        -1.234_567_8e13,
        &POINTEE,
        -30_000,
        0xA5,
        i64::MIN + 12_345,
        0xFEED_FACE,
        6.022_140_76e23,
    )
}

/// The twelve arguments of the float-heavy signature (more than fit in registers on every
/// ABI).
pub type Floats = (f64, f32, f64, f32, f64, f64, f32, f64, f64, f32, f64, f64);

/// Values of [`Floats`], all exactly representable and of different magnitudes.
pub fn floats() -> Floats {
    (
        1.5, -2.25, 1.0e10, 0.125, -3.0e-5, 7.75, 1024.5, -0.5, 9.0e300, -6.5, 2.0e-300, 42.0,
    )
}

/// The exact bits of an argument, widened to `u64` (sign-extended for signed integers).
pub trait Bits: Copy {
    /// The value's bit pattern.
    fn bits(self) -> u64;
}

macro_rules! int_bits {
    ($($t:ty => $via:ty),*) => {$(
        impl Bits for $t {
            fn bits(self) -> u64 {
                self as $via as u64
            }
        }
    )*};
}
int_bits!(
    i8 => i64, u8 => u64, i16 => i64, u16 => u64, i32 => i64, u32 => u64, i64 => i64, u64 => u64
);

impl Bits for f32 {
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
}

impl Bits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

impl Bits for *const u8 {
    fn bits(self) -> u64 {
        self as usize as u64
    }
}

/// An order-sensitive mix of `salt` and `bits` (FNV-1a over 64-bit words, with the position).
pub fn checksum(salt: u64, bits: &[u64]) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325 ^ salt;
    for (i, &b) in bits.iter().enumerate() {
        h ^= b.rotate_left(i as u32 * 5);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
        h ^= h >> 29;
    }
    h
}

/// What the float-heavy closures compute: a position-weighted fold, evaluated in order (no
/// reassociation), so the reference and the thunk agree to the bit.
pub fn float_mix(salt: f64, xs: &[f64]) -> f64 {
    xs.iter()
        .enumerate()
        .fold(salt, |acc, (i, &x)| acc * 0.5 + x * (i as f64 + 1.25))
}

/// What the conversion closures compute: integer <-> float conversions, whose constants
/// optimised code loads from a constant pool, possibly before the stub.
pub fn convert_mix(salt: f64, a: u64, b: f64, c: i32) -> u64 {
    ((a as f64) * salt + b) as u64
        ^ (f64::from(c) * 0.75) as i64 as u64
        ^ (b as f32).to_bits() as u64
}

/// What the `f32` closures compute.
pub fn f32_mix(salt: f32, a: f32, b: f32, c: f32, d: f32) -> f32 {
    a * b + c / d - salt
}

/// A struct returned by value through a hidden pointer on every ABI.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wide {
    /// Checksums of the arguments with different salts.
    pub words: [u64; 5],
    /// A float result.
    pub x: f64,
}

/// What the struct-returning closures compute.
pub fn wide_of(salt: u64, a: u32, b: f64) -> Wide {
    Wide {
        words: core::array::from_fn(|i| {
            checksum(salt.wrapping_add(i as u64), &[a.bits(), b.bits()])
        }),
        x: b * 2.0 + salt as f64,
    }
}

/// The panic payload of the unwinding cases: only this program creates it, so the panic
/// hook can stay quiet about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unlucky(pub u64);
