//! Random signatures and the argument and return values they are called with.
//!
//! A signature depends only on the seed, the ABI and its index, so one failing index can be
//! regenerated alone (`ABI_FUZZ_ONLY`) whatever the count.

use closure_ffi::dynamic::{Abi, LongDouble, Type, TypeKind};

use crate::rng::Rng;

/// Struct nesting limit: a top-level aggregate is depth 1.
const MAX_NESTING: u32 = 3;
/// Larger aggregates are generated again, which keeps the C source small.
const MAX_AGGREGATE_SIZE: usize = 128;
/// Most arguments of a fixed-arity signature.
const MAX_ARGS: usize = 20;
/// One signature in this many is variadic.
const VARIADIC_ONE_IN: usize = 8;

/// A value of some [`Type`]: its bytes (padding filled with junk) and the byte ranges that
/// carry its scalars, the only ones an ABI must preserve.
pub struct Value {
    /// `ty.size()` bytes.
    pub bytes: Vec<u8>,
    /// `(offset, len)` of every significant byte run, sorted and merged.
    pub ranges: Vec<(usize, usize)>,
}

impl Value {
    /// Whether `got` (at least as long as the value) has the same significant bytes.
    pub fn matches(&self, got: &[u8]) -> bool {
        self.ranges
            .iter()
            .all(|&(off, len)| got[off..off + len] == self.bytes[off..off + len])
    }

    /// The significant bytes of `bytes` in hex, `..` for padding: for failure reports.
    pub fn show(&self, bytes: &[u8]) -> String {
        let mut out = String::new();
        let mut at = 0;
        for &(off, len) in &self.ranges {
            if off > at {
                out.push_str(" ..");
            }
            for byte in &bytes[off..off + len] {
                out.push_str(&format!(" {byte:02x}"));
            }
            at = off + len;
        }
        out
    }
}

/// One generated signature with its values.
pub struct Signature {
    /// The index within the run (names the C functions `f_<index>` and `call_<index>`).
    pub index: usize,
    /// The calling convention.
    pub abi: Abi,
    /// Argument types, fixed then variadic.
    pub args: Vec<Type>,
    /// The return type (`Type::VOID` for none).
    pub ret: Type,
    /// The number of fixed arguments of a variadic signature.
    pub nfixed: Option<usize>,
    /// One value per argument.
    pub arg_values: Vec<Value>,
    /// The value returned, `None` for void.
    pub ret_value: Option<Value>,
    /// Call through `Cif::call_raw` with a null return buffer.
    pub null_rvalue: bool,
    /// The closure stores a narrow integer result widened to 8 bytes (libffi's `ffi_arg`).
    pub widen_closure_ret: bool,
}

impl Signature {
    /// The signature number `index` of the run with `seed`, for `abi`.
    pub fn generate(seed: u64, abi: Abi, index: usize) -> Self {
        let abi_stream = match abi {
            Abi::SysV64 => 1,
            Abi::Win64 => 2,
            Abi::Aapcs64 => 3,
            Abi::Vfp => 4,
            Abi::Aapcs => 5,
            // The i386 conventions: libffi's numbers, past the x86_64 streams.
            other => 16 + u64::from(other.to_raw()),
        };
        let mut rng = Rng::new(seed, (abi_stream << 48) | index as u64);
        let mut gen = TypeGen { rng: &mut rng, abi };
        let ret = if gen.rng.percent(8) {
            Type::VOID
        } else {
            gen.value_type()
        };
        let (args, nfixed) = if gen.rng.below(VARIADIC_ONE_IN) == 0 && variadic_abi(abi) {
            let nfixed = gen.rng.range(1, 4);
            let nvar = gen.rng.range(0, 12);
            let mut args: Vec<Type> = (0..nfixed).map(|_| gen.value_type()).collect();
            args.extend((0..nvar).map(|_| gen.promoted_type()));
            (args, Some(nfixed))
        } else {
            let nargs = match gen.rng.below(3) {
                0 => gen.rng.range(0, 4),
                1 => gen.rng.range(5, 10),
                _ => gen.rng.range(11, MAX_ARGS),
            };
            ((0..nargs).map(|_| gen.value_type()).collect(), None)
        };
        let arg_values = args.iter().map(|ty| value(&mut rng, ty)).collect();
        let ret_value = (ret.kind() != TypeKind::Void).then(|| value(&mut rng, &ret));
        Self {
            index,
            abi,
            args,
            ret,
            nfixed,
            arg_values,
            ret_value,
            null_rvalue: rng.percent(10),
            widen_closure_ret: rng.percent(50),
        }
    }

    /// The signature as a C prototype with the aggregates written out, for reports.
    pub fn prototype(&self) -> String {
        let abi = c_attribute(self.abi);
        let mut params: Vec<String> = self.args.iter().map(inline_c_type).collect();
        if let Some(nfixed) = self.nfixed {
            params.insert(nfixed, "...".to_owned());
        }
        if params.is_empty() {
            params.push("void".to_owned());
        }
        format!(
            "{abi}{} f_{}({})",
            inline_c_type(&self.ret),
            self.index,
            params.join(", ")
        )
    }
}

/// The C spelling of a scalar kind.
pub fn scalar_c_name(kind: TypeKind) -> &'static str {
    match kind {
        TypeKind::Void => "void",
        TypeKind::U8 => "uint8_t",
        TypeKind::I8 => "int8_t",
        TypeKind::U16 => "uint16_t",
        TypeKind::I16 => "int16_t",
        TypeKind::U32 => "uint32_t",
        TypeKind::I32 => "int32_t",
        TypeKind::U64 => "uint64_t",
        TypeKind::I64 => "int64_t",
        TypeKind::U128 => "unsigned __int128",
        TypeKind::I128 => "__int128",
        TypeKind::F32 => "float",
        TypeKind::F64 => "double",
        TypeKind::LongDouble => "long double",
        TypeKind::Pointer => "void *",
        other => unreachable!("{other:?} is not a scalar"),
    }
}

/// The alignment C gives an aggregate without attributes: its most aligned member's.
pub fn natural_align(ty: &Type) -> usize {
    ty.members().iter().map(Type::align).max().unwrap_or(1)
}

/// A type written out in C-like notation (`struct { uint8_t; float[3]; }`).
fn inline_c_type(ty: &Type) -> String {
    match ty.kind() {
        TypeKind::Complex => format!("{} _Complex", inline_c_type(&ty.members()[0])),
        TypeKind::Array => format!("{}[{}]", inline_c_type(&ty.members()[0]), ty.len()),
        kind @ (TypeKind::Struct | TypeKind::Union) => {
            let keyword = if kind == TypeKind::Struct {
                "struct"
            } else {
                "union"
            };
            let aligned = if ty.align() != natural_align(ty) {
                format!(" aligned({})", ty.align())
            } else {
                String::new()
            };
            let members: Vec<String> = ty.members().iter().map(inline_c_type).collect();
            format!("{keyword}{aligned} {{ {}; }}", members.join("; "))
        }
        kind => scalar_c_name(kind).to_owned(),
    }
}

/// What an aggregate's scalar members are drawn from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// `float` and `double` only (SSE classes).
    Float,
    /// 8- and 16-bit integers (odd sizes: 3, 5, 6, 7 bytes...).
    SmallInt,
    /// Integers up to 64 bits and pointers.
    Int,
    /// Anything, including `long double`, `__int128` and complex members.
    Mixed,
}

struct TypeGen<'r> {
    rng: &'r mut Rng,
    abi: Abi,
}

impl TypeGen<'_> {
    /// An argument or return type: a scalar, a complex type or an aggregate.
    fn value_type(&mut self) -> Type {
        match self.rng.below(100) {
            0..52 => self.scalar(),
            52..60 => self.complex(),
            _ => self.top_aggregate(),
        }
    }

    /// A type C's default argument promotions leave alone (for the variadic part).
    fn promoted_type(&mut self) -> Type {
        loop {
            let ty = self.value_type();
            let promoted = !matches!(
                ty.kind(),
                TypeKind::F32 | TypeKind::U8 | TypeKind::I8 | TypeKind::U16 | TypeKind::I16
            );
            if promoted && !(self.abi == Abi::SysV64 && gcc_va_arg_crashes(&ty)) {
                return ty;
            }
        }
    }

    fn scalar(&mut self) -> Type {
        loop {
            let ty = self.any_scalar();
            // gcc -m32 and 32-bit Arm gcc have no __int128.
            let int128 = matches!(ty.kind(), TypeKind::U128 | TypeKind::I128);
            if !int128 || has_int128(self.abi) {
                return ty;
            }
        }
    }

    fn any_scalar(&mut self) -> Type {
        self.rng.weighted(&[
            (5, Type::U8),
            (5, Type::I8),
            (5, Type::U16),
            (5, Type::I16),
            (5, Type::U32),
            (5, Type::I32),
            (5, Type::U64),
            (5, Type::I64),
            (3, Type::U128),
            (3, Type::I128),
            (15, Type::F32),
            (15, Type::F64),
            (6, Type::LONG_DOUBLE),
            (8, Type::POINTER),
        ])
    }

    fn complex(&mut self) -> Type {
        let element = self
            .rng
            .weighted(&[(4, Type::F32), (4, Type::F64), (2, Type::LONG_DOUBLE)]);
        Type::complex(element).expect("floating-point complex element")
    }

    fn member_scalar(&mut self, flavor: Flavor) -> Type {
        match flavor {
            Flavor::Float => self.rng.pick(&[Type::F32, Type::F64]),
            Flavor::SmallInt => self.rng.pick(&[Type::U8, Type::I8, Type::U16, Type::I16]),
            Flavor::Int => self.rng.weighted(&[
                (3, Type::U8),
                (3, Type::I8),
                (3, Type::U16),
                (3, Type::I16),
                (3, Type::U32),
                (3, Type::I32),
                (3, Type::U64),
                (3, Type::I64),
                (3, Type::POINTER),
            ]),
            Flavor::Mixed => self.scalar(),
        }
    }

    /// A struct or union passed or returned by value, of a random flavor; about half are
    /// built to fit two eightbytes (register candidates), the rest are unbounded.
    fn top_aggregate(&mut self) -> Type {
        loop {
            let flavor = self.rng.weighted(&[
                (30, Flavor::Float),
                (20, Flavor::SmallInt),
                (15, Flavor::Int),
                (35, Flavor::Mixed),
            ]);
            // Win64 passes 1, 2, 4 and 8 bytes by value: favour the small ones there.
            let budget = match (self.abi, self.rng.below(100)) {
                (Abi::Win64, 0..40) => Some(8),
                (Abi::Win64, 40..55) | (_, 0..50) => Some(16),
                _ => None,
            };
            let union = self.rng.percent(12);
            let mut ty = self.aggregate(1, flavor, budget, union);
            if self.rng.percent(6) && ty.align() < 16 {
                let align = ty.align() << self.rng.range(1, (16 / ty.align()).ilog2() as usize);
                ty = ty.aligned(align).expect("a raised power-of-two alignment");
            }
            if ty.size() <= MAX_AGGREGATE_SIZE {
                return ty;
            }
        }
    }

    /// A struct (or union) at nesting `depth` with 1..=6 members; with a `budget`, members
    /// that would grow it past that many bytes are left out.
    fn aggregate(
        &mut self,
        depth: u32,
        flavor: Flavor,
        budget: Option<usize>,
        union: bool,
    ) -> Type {
        let build = |members: &[Type]| {
            if union {
                Type::union(members.iter().cloned())
            } else {
                Type::structure(members.iter().cloned())
            }
            .expect("a well-formed aggregate")
        };
        let count = if union {
            self.rng.range(1, 4)
        } else {
            self.rng.range(1, 6)
        };
        let mut members = Vec::with_capacity(count);
        for _ in 0..count {
            let member = self.member(depth, flavor, budget);
            members.push(member);
            if budget.is_some_and(|budget| build(&members).size() > budget) {
                members.pop();
                break;
            }
        }
        if members.is_empty() {
            members.push(match flavor {
                Flavor::Float => Type::F32,
                _ => Type::U8,
            });
        }
        build(&members)
    }

    /// A member of an aggregate at nesting `depth`.
    fn member(&mut self, depth: u32, flavor: Flavor, budget: Option<usize>) -> Type {
        let nest = depth < MAX_NESTING;
        match self.rng.below(100) {
            60..72 => {
                let element = if nest && self.rng.percent(15) {
                    self.aggregate(depth + 1, flavor, budget, false)
                } else {
                    self.member_scalar(flavor)
                };
                let len = if self.rng.percent(80) {
                    self.rng.range(1, 5)
                } else {
                    self.rng.range(6, 12)
                };
                Type::array(element, len).expect("a non-empty array")
            }
            72..82 if nest => self.aggregate(depth + 1, flavor, budget, true),
            82..95 if nest => self.aggregate(depth + 1, flavor, budget, false),
            95..100 if matches!(flavor, Flavor::Float | Flavor::Mixed) => {
                let element = if flavor == Flavor::Float {
                    self.rng.pick(&[Type::F32, Type::F64])
                } else {
                    self.rng.pick(&[Type::F32, Type::F64, Type::LONG_DOUBLE])
                };
                Type::complex(element).expect("floating-point complex element")
            }
            _ => self.member_scalar(flavor),
        }
    }
}

// ---- Known exclusions ---------------------------------------------------------------------

/// Whether a System V variadic argument of this type crashes gcc 12's `va_arg` at -O1: a
/// 16-aligned aggregate of at most 16 bytes (passed in two integer registers) can be loaded
/// with `movdqa` from the register save area at an offset that is only 8-aligned. Seen with
/// `union { struct { float a, b, c; } s; unsigned __int128 w; }` read after two `void *`
/// variadic arguments: a SIGSEGV in the callee, with gcc alone (no closure-ffi code).
fn gcc_va_arg_crashes(ty: &Type) -> bool {
    ty.kind().is_aggregate() && ty.align() == 16 && ty.size() <= 16
}

/// A random value of `ty`: junk in the padding, a random scalar in every member (one
/// random member of each union).
fn value(rng: &mut Rng, ty: &Type) -> Value {
    let mut bytes: Vec<u8> = (0..ty.size()).map(|_| rng.next_u64() as u8).collect();
    let mut ranges = Vec::new();
    fill(rng, ty, 0, &mut bytes, &mut ranges);
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (off, len) in ranges {
        match merged.last_mut() {
            Some((last_off, last_len)) if *last_off + *last_len == off => *last_len += len,
            _ => merged.push((off, len)),
        }
    }
    Value {
        bytes,
        ranges: merged,
    }
}

/// Writes random scalars into `bytes` at the layout of `ty` (from the library's offsets),
/// recording their byte ranges.
fn fill(rng: &mut Rng, ty: &Type, base: usize, bytes: &mut [u8], ranges: &mut Vec<(usize, usize)>) {
    match ty.kind() {
        TypeKind::Struct => {
            for (member, offset) in ty.members().iter().zip(ty.offsets()) {
                fill(rng, member, base + offset, bytes, ranges);
            }
        }
        // Only one member of a union holds a value; the others' extra bytes are undefined.
        TypeKind::Union => {
            let member = rng.pick(ty.members());
            fill(rng, &member, base, bytes, ranges);
        }
        TypeKind::Array | TypeKind::Complex => {
            let element = &ty.members()[0];
            for i in 0..ty.len() {
                fill(rng, element, base + i * element.size(), bytes, ranges);
            }
        }
        kind => {
            let (scalar, len) = scalar_bytes(rng, kind);
            bytes[base..base + len].copy_from_slice(&scalar[..len]);
            ranges.push((base, len));
        }
    }
}

/// Random bytes of a scalar and how many of them are significant (10 of an x87 long
/// double's 16). Integers favour their edge values; floating-point values are exact (no rounding
/// anywhere) and never NaN.
fn scalar_bytes(rng: &mut Rng, kind: TypeKind) -> ([u8; 16], usize) {
    let mut out = [0u8; 16];
    let len = match kind {
        TypeKind::F32 => {
            out[..4].copy_from_slice(&nice_f32(rng).to_le_bytes());
            4
        }
        TypeKind::F64 => {
            out[..8].copy_from_slice(&nice_f64(rng).to_le_bytes());
            8
        }
        TypeKind::LongDouble => {
            let ld = LongDouble::from_f64(nice_f64(rng)).0;
            out[..ld.len()].copy_from_slice(&ld);
            // x87: 10 value bytes and padding; aarch64: binary128, all 16 bytes; 32-bit
            // Arm: a double, all 8 bytes.
            if cfg!(target_arch = "aarch64") {
                16
            } else if cfg!(target_arch = "arm") {
                8
            } else {
                10
            }
        }
        kind => {
            let len = Type::scalar(kind).expect("a scalar kind").size();
            let bits = u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64());
            let top = 1u128 << (8 * len - 1);
            let bits = match rng.below(12) {
                0 => 0,
                1 => 1,
                2 => u128::MAX,
                3 => top,
                4 => top - 1,
                _ => bits,
            };
            out = bits.to_le_bytes();
            len
        }
    };
    (out, len)
}

fn nice_f64(rng: &mut Rng) -> f64 {
    if rng.percent(10) {
        return rng.pick(&[
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::MAX,
            -1.5,
        ]);
    }
    let mantissa = (rng.next_u64() >> 11) as f64;
    let sign = if rng.percent(50) { -1.0 } else { 1.0 };
    sign * mantissa * 2f64.powi(rng.range(0, 120) as i32 - 100)
}

fn nice_f32(rng: &mut Rng) -> f32 {
    if rng.percent(10) {
        return rng.pick(&[
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE,
            f32::from_bits(1),
            f32::MAX,
            0.1,
        ]);
    }
    let mantissa = (rng.next_u64() >> 40) as f32;
    let sign = if rng.percent(50) { -1.0 } else { 1.0 };
    sign * mantissa * 2f32.powi(rng.range(0, 60) as i32 - 40)
}

/// Whether gcc has `__int128` for `abi`'s target: the 64-bit ones only (not `gcc -m32`,
/// not 32-bit Arm).
fn has_int128(abi: Abi) -> bool {
    matches!(abi, Abi::SysV64 | Abi::Win64 | Abi::Aapcs64)
}

/// Whether `abi` can call variadic functions (the caller-pops conventions, AAPCS64, and the
/// Arm VFP variant, whose variadic calls follow the base standard).
fn variadic_abi(abi: Abi) -> bool {
    matches!(
        abi,
        Abi::SysV64 | Abi::Win64 | Abi::SysV | Abi::MsCdecl | Abi::Aapcs64 | Abi::Vfp | Abi::Aapcs
    )
}

/// The gcc attribute that selects `abi` (with a trailing space), empty for the default.
pub fn c_attribute(abi: Abi) -> &'static str {
    match abi {
        Abi::Win64 | Abi::MsCdecl => "__attribute__((ms_abi)) ",
        Abi::StdCall => "__attribute__((stdcall)) ",
        Abi::FastCall => "__attribute__((fastcall)) ",
        Abi::ThisCall => "__attribute__((thiscall)) ",
        Abi::Aapcs => "__attribute__((pcs(\"aapcs\"))) ",
        _ => "",
    }
}
