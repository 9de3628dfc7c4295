//! What the fuzz targets share: a reader that turns the fuzzer's bytes into decisions.
//!
//! Every read succeeds: past the end of the input it yields zeros, so any input decodes to
//! something, and short inputs decode to the simplest cases (zero is always the plainest
//! choice in the targets' decoders).

pub mod plan;
pub mod types;

/// Reads little-endian values from the fuzzer's input, zeros past its end.
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Whether every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next `N` bytes, zero-padded past the end.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        out
    }

    /// The next little-endian `u16`.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    /// The next little-endian `u32`.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    /// The next little-endian `u64`.
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// A value below `n` (`n > 0`), from one byte.
    pub fn below(&mut self, n: u8) -> u8 {
        self.u8() % n
    }

    /// Fills `out` with the next bytes; past the end, with a pattern that still differs
    /// from byte to byte (so a misplaced copy is noticed).
    pub fn fill(&mut self, out: &mut [u8]) {
        let n = out.len().min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        for (i, b) in out[n..].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
    }

    /// The rest of the input.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.data)
    }
}

/// A zeroed, 16-byte aligned buffer (arguments and return values of any C type here).
pub struct Buf(Vec<u128>);

impl Buf {
    /// At least `len` bytes (and at least 16).
    pub fn new(len: usize) -> Self {
        Self(vec![0; len.div_ceil(16).max(1)])
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: u128 storage viewed as its bytes.
        unsafe { core::slice::from_raw_parts(self.0.as_ptr().cast(), self.0.len() * 16) }
    }

    /// The bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above.
        unsafe { core::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast(), self.0.len() * 16) }
    }

    /// The start of the buffer.
    pub fn ptr(&mut self) -> *mut core::ffi::c_void {
        self.0.as_mut_ptr().cast()
    }
}

/// Makes the 16 bytes at `at` an x87 `long double` that `fld`/`fstp` move unchanged: a
/// normal number (integer bit set, exponent neither 0 nor all ones). Other encodings
/// (pseudo-denormals, unnormals) are not guaranteed to survive a trip through st0.
pub fn normalize_long_double(bytes: &mut [u8], at: usize) {
    let Some(v) = bytes.get_mut(at..at + 10) else {
        return;
    };
    v[7] |= 0x80;
    let exp = u16::from_le_bytes([v[8], v[9]]);
    let (sign, mut e) = (exp & 0x8000, exp & 0x7FFF);
    if e == 0 || e == 0x7FFF {
        e = 0x3FFF;
    }
    v[8..10].copy_from_slice(&(sign | e).to_le_bytes());
}
