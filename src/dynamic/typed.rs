//! The typed layer: Rust types that describe their C type ([`CType`]), Cifs derived from
//! function-pointer types ([`FnSig`], [`TypedCif`]) and typed closures ([`TypedClosure`]).

use alloc::vec::Vec;
use core::ffi::c_void;
use core::marker::PhantomData;
use core::mem::MaybeUninit;

use super::cif::{Cif, CifError, CodePtr};
use super::closure::{Args, Closure, ClosureCallback, ClosureError};
use super::plan::ValueTypeError;
use super::types::Type;
use super::Abi;
#[cfg(feature = "global_jit_alloc")]
use crate::jit_alloc::GlobalJitAlloc;
use crate::jit_alloc::JitAlloc;

/// A Rust type with a C layout that a [`Type`] describes.
///
/// Implemented for the integer and floating-point types, raw pointers, `()` (void, as a
/// return type), [`LongDouble`] and [`Complex`]. `#[derive(CType)]` (feature `proc_macros`)
/// implements it for `#[repr(C)]` structs whose fields are `CType`s.
///
/// # Safety
/// `ffi_type()` must describe exactly `Self`'s size, alignment and member layout, so that a
/// value of the C type can be read as `Self` and the reverse.
pub unsafe trait CType: Copy + 'static {
    /// The C type of `Self`.
    fn ffi_type() -> Type;
}

macro_rules! scalar_ctypes {
    ($($t:ty => $c:ident),* $(,)?) => {$(
        // SAFETY: the scalar constants have the host's size and alignment of these types.
        unsafe impl CType for $t {
            #[inline]
            fn ffi_type() -> Type {
                Type::$c
            }
        }
    )*};
}

scalar_ctypes! {
    u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, u64 => U64,
    i64 => I64, u128 => U128, i128 => I128, f32 => F32, f64 => F64, usize => USIZE,
    isize => ISIZE, () => VOID, LongDouble => LONG_DOUBLE,
}

// SAFETY: raw pointers are pointer-sized scalars.
unsafe impl<T: 'static> CType for *const T {
    #[inline]
    fn ffi_type() -> Type {
        Type::POINTER
    }
}

// SAFETY: raw pointers are pointer-sized scalars.
unsafe impl<T: 'static> CType for *mut T {
    #[inline]
    fn ffi_type() -> Type {
        Type::POINTER
    }
}

/// A C `long double` value in its in-memory form: the x87 80-bit extended format in 16
/// bytes on x86_64, in 12 bytes (4-byte aligned) on i386, the bytes past the tenth being
/// padding; IEEE binary128 (quadruple precision, 16 bytes, 16-aligned) on aarch64; an IEEE
/// double (8 bytes) on 32-bit ARM.
///
/// It describes `long double` in Cifs and closure arguments. It cannot stand for one in a
/// Rust function-pointer type on x86_64 System V and on aarch64 (Rust would pass it as a
/// 16-byte struct, C passes it in memory or in a q register) or in 32-bit Arm's VFP variant
/// (C passes it in d registers), nor as a return type on i386 (Rust returns it through
/// memory, C in st(0)) or in Arm's base standard (C returns it in r0:r1), so [`TypedCif`]
/// and [`TypedClosure`] refuse such signatures.
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
    if m == 0 {
        return sign * 0.0;
    }
    let lz = m.leading_zeros() as i32;
    let lead = exp.max(1) - 16383 - 112 + (127 - lz); // the exponent of the leading 1 bit
    if lead > 1023 {
        return sign * f64::INFINITY;
    }
    // Keep 53 bits (fewer for f64 subnormals), rounding ties to even, then scale exactly.
    let drop = (128 - lz) - 53 + (-1022 - lead).max(0);
    if drop <= 0 {
        return sign * (m as f64) * pow2(lead - (127 - lz));
    }
    if drop >= 127 {
        return sign * 0.0;
    }
    let mut top = m >> drop;
    let rem = m & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    if rem > half || (rem == half && top & 1 == 1) {
        top += 1;
    }
    sign * (top as f64) * pow2(lead - (127 - lz) + drop)
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
        if mant == 0 {
            return sign * 0.0;
        }
        // value = mant * 2^(exp - 16383 - 63), with exponent field 0 meaning 1 (x87
        // denormals). Keep as many bits as the f64 result holds at its exponent (53, fewer
        // for f64 subnormals), rounding ties to even, then scale exactly.
        let lz = mant.leading_zeros() as i32;
        let lead = exp.max(1) - 16383 - lz; // the exponent of the leading 1 bit
        if lead > 1023 {
            return sign * f64::INFINITY;
        }
        let drop = 11 + (-1022 - lead).max(0);
        if drop > 65 {
            return sign * 0.0;
        }
        let norm = u128::from(mant << lz);
        let mut top = norm >> drop;
        let rem = norm & ((1u128 << drop) - 1);
        let half = 1u128 << (drop - 1);
        if rem > half || (rem == half && top & 1 == 1) {
            top += 1;
        }
        sign * (top as f64) * pow2(lead - 63 + drop)
    }
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

/// A C `_Complex` value: real part, then imaginary part.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct Complex<T> {
    /// The real part.
    pub re: T,
    /// The imaginary part.
    pub im: T,
}

macro_rules! complex_ctypes {
    ($($t:ty => $e:ident),*) => {$(
        // SAFETY: Complex<T> is repr(C) {T, T}, the layout of `T _Complex`.
        unsafe impl CType for Complex<$t> {
            fn ffi_type() -> Type {
                Type::$e()
            }
        }
    )*};
}

complex_ctypes!(f32 => complex_f32, f64 => complex_f64, LongDouble => complex_long_double);

/// An argument for [`Cif::call`]: the address of a value and its C type.
#[derive(Clone, Copy, Debug)]
pub struct Arg<'a> {
    pub(crate) ptr: *mut c_void,
    pub(crate) ty: fn() -> Type,
    _borrow: PhantomData<&'a ()>,
}

/// An [`Arg`] for `value`, which must outlive the call.
pub fn arg<T: CType>(value: &T) -> Arg<'_> {
    Arg {
        ptr: (value as *const T).cast_mut().cast(),
        ty: T::ffi_type,
        _borrow: PhantomData,
    }
}

impl Arg<'_> {
    /// The value's address.
    pub fn as_ptr(&self) -> *mut c_void {
        self.ptr
    }
}

/// A return buffer for `R`: at least 8 bytes (libffi widens small integers to `ffi_arg`),
/// aligned for `R`.
#[repr(C)]
pub(crate) union RetBuf<R: Copy> {
    value: MaybeUninit<R>,
    widened: u64,
}

impl<R: Copy> RetBuf<R> {
    pub(crate) fn new() -> Self {
        Self { widened: 0 }
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut c_void {
        (self as *mut Self).cast()
    }

    /// # Safety
    /// A value of type `R` must have been stored.
    pub(crate) unsafe fn read(&self) -> R {
        // SAFETY: forwarded contract; the value is at offset 0 (little-endian widening
        // keeps the low bytes there too).
        unsafe { self.value.assume_init() }
    }
}

/// A Rust function-pointer type whose signature a [`Cif`] can describe: `extern "C"`
/// functions (the only ones on aarch64), and on x86_64 `extern "sysv64"` and `extern
/// "win64"`, on i386 `extern "cdecl"`, `"stdcall"`, `"fastcall"` and `"thiscall"`, on 32-bit
/// ARM `extern "aapcs"` (the base standard) (safe or `unsafe`), of up to 12
/// [`CType`] arguments.
///
/// # Safety
/// The associated items must describe the function-pointer type exactly.
pub unsafe trait FnSig: Copy {
    /// The argument types, as a tuple.
    type Args;
    /// The return type.
    type Ret: CType;
    /// The calling convention.
    const ABI: Abi;

    /// The C types of the arguments.
    fn arg_types() -> Vec<Type>;

    /// The untyped code address.
    fn code_ptr(self) -> CodePtr;

    /// The function pointer for a code address.
    ///
    /// # Safety
    /// `code` must be a function with this exact signature.
    unsafe fn from_code_ptr(code: CodePtr) -> Self;

    /// Writes the addresses of the tuple's values to `out`.
    #[doc(hidden)]
    fn arg_ptrs(args: &Self::Args, out: &mut [*mut c_void]);

    /// Calls `f` with the values behind `args` (the dispatch of a typed closure).
    ///
    /// # Safety
    /// `args` must hold one pointer per argument, to values of the argument types.
    #[doc(hidden)]
    unsafe fn invoke<F: TypedFn<Self>>(f: &F, args: &Args<'_>) -> Self::Ret;
}

/// A Rust closure callable with the arguments of the signature `S` (`Fn(A, B, ..) -> R`).
pub trait TypedFn<S: FnSig> {
    /// Calls the closure.
    fn call_typed(&self, args: S::Args) -> S::Ret;
}

macro_rules! fn_sigs {
    ($($abi:literal => $variant:ident),*) => {$(
        fn_sigs!(@arity $abi $variant;);
        fn_sigs!(@arity $abi $variant; A0);
        fn_sigs!(@arity $abi $variant; A0 A1);
        fn_sigs!(@arity $abi $variant; A0 A1 A2);
        fn_sigs!(@arity $abi $variant; A0 A1 A2 A3);
        fn_sigs!(@arity $abi $variant; A0 A1 A2 A3 A4);
        fn_sigs!(@arity $abi $variant; A0 A1 A2 A3 A4 A5);
        fn_sigs!(@arity $abi $variant; A0 A1 A2 A3 A4 A5 A6);
        fn_sigs!(@arity $abi $variant; A0 A1 A2 A3 A4 A5 A6 A7);
        fn_sigs!(@arity $abi $variant; A0 A1 A2 A3 A4 A5 A6 A7 A8);
        fn_sigs!(@arity $abi $variant; A0 A1 A2 A3 A4 A5 A6 A7 A8 A9);
        fn_sigs!(@arity $abi $variant; A0 A1 A2 A3 A4 A5 A6 A7 A8 A9 A10);
        fn_sigs!(@arity $abi $variant; A0 A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11);
    )*};
    (@arity $abi:literal $variant:ident; $($a:ident)*) => {
        fn_sigs!(@impl $abi $variant [unsafe extern $abi fn($($a),*) -> R]; $($a)*);
        fn_sigs!(@impl $abi $variant [extern $abi fn($($a),*) -> R]; $($a)*);
    };
    (@impl $abi:literal $variant:ident [$($fnty:tt)*]; $($a:ident)*) => {
        // SAFETY: the items below describe `$($fnty)*` exactly.
        unsafe impl<R: CType, $($a: CType),*> FnSig for $($fnty)* {
            type Args = ($($a,)*);
            type Ret = R;
            const ABI: Abi = Abi::$variant;

            fn arg_types() -> Vec<Type> {
                alloc::vec![$($a::ffi_type()),*]
            }

            fn code_ptr(self) -> CodePtr {
                CodePtr::new(self as *const c_void)
            }

            unsafe fn from_code_ptr(code: CodePtr) -> Self {
                // SAFETY: forwarded contract; function pointers are pointer-sized.
                unsafe { core::mem::transmute::<*const c_void, Self>(code.as_ptr()) }
            }

            #[allow(non_snake_case, unused_variables, unused_mut, unused_assignments)]
            fn arg_ptrs(args: &Self::Args, out: &mut [*mut c_void]) {
                let ($($a,)*) = args;
                let mut i = 0;
                $(
                    out[i] = ($a as *const $a).cast_mut().cast();
                    i += 1;
                )*
            }

            #[allow(unused_variables, unused_mut, unused_assignments)]
            unsafe fn invoke<Fun: TypedFn<Self>>(f: &Fun, args: &Args<'_>) -> R {
                let mut i = 0;
                let tuple = ($({
                    // SAFETY: the Cif was derived from this signature, so argument i has
                    // type A_i (forwarded contract).
                    let v = unsafe { args.get_unchecked::<$a>(i) };
                    i += 1;
                    v
                },)*);
                f.call_typed(tuple)
            }
        }

        impl<Fun, R: CType, $($a: CType),*> TypedFn<$($fnty)*> for Fun
        where
            Fun: Fn($($a),*) -> R,
        {
            #[allow(non_snake_case)]
            fn call_typed(&self, ($($a,)*): ($($a,)*)) -> R {
                self($($a),*)
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
fn_sigs!("C" => DEFAULT_VARIANT_C, "sysv64" => SysV64, "win64" => Win64);
#[cfg(all(target_arch = "aarch64", target_os = "linux"))]
fn_sigs!("C" => DEFAULT_VARIANT_C);
#[cfg(all(target_arch = "arm", target_os = "linux"))]
fn_sigs!("C" => DEFAULT_VARIANT_C, "aapcs" => Aapcs);
#[cfg(target_arch = "x86")]
fn_sigs!(
    "C" => DEFAULT_VARIANT_C,
    "cdecl" => SysV,
    "stdcall" => StdCall,
    "fastcall" => FastCall,
    "thiscall" => ThisCall
);

impl Abi {
    #[allow(non_upper_case_globals)]
    const DEFAULT_VARIANT_C: Abi = Abi::DEFAULT;
}

/// A [`Cif`] derived from the function-pointer type `S`, with typed calls.
///
/// ```
/// use closure_ffi::dynamic::TypedCif;
///
/// extern "C" fn mul(a: f64, b: i32) -> f64 { a * b as f64 }
///
/// let cif = TypedCif::<extern "C" fn(f64, i32) -> f64>::new()?;
/// assert_eq!(unsafe { cif.call(mul, (1.5, 4)) }, 6.0);
/// # Ok::<(), closure_ffi::dynamic::CifError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TypedCif<S> {
    cif: Cif,
    _sig: PhantomData<S>,
}

impl<S: FnSig> TypedCif<S> {
    /// Prepares the Cif of `S` and, with the global JIT allocator, compiles it
    /// ([`Cif::compile`]; if that fails the Cif stays interpreted).
    ///
    /// # Errors
    /// [`CifError`] if a type of `S` cannot be passed by value (an over-aligned struct), or
    /// if Rust passes a type of `S` differently from C ([`ValueTypeError::NoRustEquivalent`]:
    /// a `long double` on x86_64 System V, aarch64 and 32-bit Arm's VFP variant; a `long
    /// double` return in Arm's base standard; a `long double` or `_Complex float` return on
    /// i386).
    pub fn new() -> Result<Self, CifError> {
        let (args, ret) = (S::arg_types(), S::Ret::ffi_type());
        check_rust_equivalent(S::ABI, &args, &ret)?;
        #[allow(unused_mut)]
        let mut cif = Cif::new(S::ABI, args, ret)?;
        #[cfg(feature = "global_jit_alloc")]
        let _ = cif.compile();
        Ok(Self {
            cif,
            _sig: PhantomData,
        })
    }

    /// The untyped Cif.
    pub fn cif(&self) -> &Cif {
        &self.cif
    }

    /// Calls `fun` with `args` through the Cif.
    ///
    /// # Safety
    /// The same as calling `fun` directly with `args`.
    pub unsafe fn call(&self, fun: S, args: S::Args) -> S::Ret {
        let mut ptrs = [core::ptr::null_mut(); 12];
        S::arg_ptrs(&args, &mut ptrs);
        let mut ret = RetBuf::<S::Ret>::new();
        // SAFETY: the Cif describes S exactly, the pointers address `args`' fields, and
        // `ret` is large enough (RetBuf).
        unsafe {
            self.cif
                .call_raw(fun.code_ptr(), ret.as_mut_ptr(), ptrs.as_ptr());
            ret.read()
        }
    }
}

/// Refuses a signature whose Rust function-pointer type passes a value where C does not
/// ([`ValueTypeError::NoRustEquivalent`]): `LongDouble` is a struct of bytes to Rust, and C
/// passes `long double` by rules of its own.
fn check_rust_equivalent(abi: Abi, args: &[Type], ret: &Type) -> Result<(), CifError> {
    let reason = ValueTypeError::NoRustEquivalent;
    let is_long_double = ret.kind() == super::TypeKind::LongDouble;
    // (Whether arguments can differ, whether this return differs.)
    let (args_differ, ret_differs) = match abi {
        // Rust passes LongDouble as a 16-byte struct; C passes `long double` as x87 in memory
        // (System V) or in a q register (AAPCS64), alone or in an HFA. 32-bit Arm's VFP
        // variant: `long double` is a `double`, passed and returned in d registers, where
        // Rust uses core registers or memory for the 8-byte struct.
        Abi::SysV64 | Abi::Aapcs64 | Abi::Vfp => (true, has_long_double(ret)),
        // Arm's base standard passes both in an even core pair, but returns the double in
        // r0:r1 and the struct through memory.
        Abi::Aapcs => (false, is_long_double),
        // i386: Rust returns every struct through memory, C returns `long double` in st(0)
        // and `_Complex float` in eax:edx.
        _ if cfg!(target_arch = "x86") => (
            false,
            is_long_double || (ret.kind() == super::TypeKind::Complex && ret.size() <= 8),
        ),
        _ => (false, false),
    };
    if args_differ {
        if let Some(index) = args.iter().position(has_long_double) {
            return Err(CifError::BadArgType { index, reason });
        }
    }
    if ret_differs {
        return Err(CifError::BadReturnType(reason));
    }
    Ok(())
}

/// Whether `ty` contains a `long double` anywhere (see [`check_rust_equivalent`]).
fn has_long_double(ty: &Type) -> bool {
    let mut found = false;
    ty.for_each_scalar(0, &mut |_, kind| {
        found |= kind == super::TypeKind::LongDouble
    });
    found
}

type TypedState<S, F> = (F, PhantomData<fn(S)>);

/// A dynamic closure with the signature of the function-pointer type `S`, calling a Rust
/// closure `F: Fn(A, B, ..) -> R`.
///
/// ```
/// use closure_ffi::dynamic::TypedClosure;
///
/// let offset = 10;
/// let add = TypedClosure::<extern "C" fn(i32, i32) -> i32, _>::new(move |a, b| a + b + offset)?;
/// // SAFETY: `add` outlives every call through `f`.
/// let f = unsafe { add.fn_ptr() };
/// assert_eq!(f(1, 2), 13);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "global_jit_alloc")]
pub struct TypedClosure<S: FnSig, F, A: JitAlloc = GlobalJitAlloc> {
    inner: Closure<TypedCallback<S, F>, A>,
}

/// A dynamic closure with the signature of the function-pointer type `S`, calling a Rust
/// closure `F: Fn(A, B, ..) -> R`.
#[cfg(not(feature = "global_jit_alloc"))]
pub struct TypedClosure<S: FnSig, F, A: JitAlloc> {
    inner: Closure<TypedCallback<S, F>, A>,
}

/// The callback of a [`TypedClosure`]: decodes the arguments and stores the result.
#[doc(hidden)]
pub struct TypedCallback<S, F>(TypedState<S, F>);

impl<S: FnSig, F: TypedFn<S>> ClosureCallback for TypedCallback<S, F> {
    unsafe fn invoke(&self, cif: &Cif, args: *const *mut c_void, ret: *mut c_void) {
        // SAFETY: the closure's Cif was derived from S, so the arguments have S's types and
        // the return buffer holds S::Ret (forwarded contract).
        unsafe {
            let value = S::invoke(&self.0 .0, &Args::new(cif, args));
            ret.cast::<S::Ret>().write_unaligned(value);
        }
    }
}

#[cfg(feature = "global_jit_alloc")]
impl<S: FnSig, F: TypedFn<S>> TypedClosure<S, F, GlobalJitAlloc> {
    /// Creates the closure in the global JIT allocator.
    ///
    /// # Errors
    /// [`TypedClosureError`] if the Cif of `S` cannot be prepared (an over-aligned struct
    /// type) or executable memory is not available.
    pub fn new(fun: F) -> Result<Self, TypedClosureError> {
        Self::new_in(fun, GlobalJitAlloc)
    }
}

impl<S: FnSig, F: TypedFn<S>, A: JitAlloc> TypedClosure<S, F, A> {
    /// Creates the closure in `alloc`.
    ///
    /// # Errors
    /// [`TypedClosureError`] if the Cif of `S` cannot be prepared or `alloc` fails.
    pub fn new_in(fun: F, alloc: A) -> Result<Self, TypedClosureError> {
        let cif = TypedCif::<S>::new().map_err(TypedClosureError::Cif)?.cif;
        let callback = TypedCallback((fun, PhantomData));
        let inner = Closure::build(cif, callback, alloc).map_err(TypedClosureError::Closure)?;
        Ok(Self { inner })
    }

    /// The closure's code as a function pointer of type `S`.
    ///
    /// # Safety
    /// The pointer is valid only while `self` lives, and when `F` is not `Sync` it must not
    /// be called from two threads at once. `S` may be a safe `extern fn` type, so the
    /// compiler cannot enforce either: the caller promises both for every call made through
    /// the returned pointer (see docs/SAFETY.md).
    pub unsafe fn fn_ptr(&self) -> S {
        // SAFETY: the code has S's signature (its Cif was derived from S); its lifetime and
        // threading are the caller's contract.
        unsafe { S::from_code_ptr(self.inner.code_ptr()) }
    }

    /// The untyped closure.
    pub fn as_closure(&self) -> &Closure<TypedCallback<S, F>, A> {
        &self.inner
    }
}

/// Why a [`TypedClosure`] could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypedClosureError {
    /// The signature's Cif could not be prepared.
    Cif(CifError),
    /// The closure could not be allocated.
    Closure(ClosureError),
}

impl core::fmt::Display for TypedClosureError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Cif(err) => write!(f, "cannot prepare the signature: {err}"),
            Self::Closure(err) => err.fmt(f),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TypedClosureError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "arm")]
    fn long_double_is_double_on_arm() {
        assert_eq!(core::mem::size_of::<LongDouble>(), 8);
        assert_eq!(core::mem::align_of::<LongDouble>(), 8);
        assert_eq!(
            (Type::LONG_DOUBLE.size(), Type::LONG_DOUBLE.align()),
            (8, 8)
        );
        for x in [0.0, -0.1, 1e300, f64::from_bits(1), f64::INFINITY] {
            assert_eq!(LongDouble::from_f64(x).to_f64().to_bits(), x.to_bits());
        }
    }

    #[test]
    #[cfg(not(target_arch = "arm"))]
    fn long_double_round_trips_every_f64_class() {
        for x in [
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
            f64::INFINITY,
        ] {
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
        for x in [
            0.0,
            -0.0,
            0.5,
            -0.1,
            3.5,
            1e300,
            -1e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::MIN_POSITIVE / 8.0,
            f64::from_bits(1),
            f64::from_bits(0x000F_FFFF_FFFF_FFFF),
            f64::NEG_INFINITY,
        ] {
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
