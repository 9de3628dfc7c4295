//! The typed layer: Rust types that describe their C type ([`CType`]), Cifs derived from
//! function-pointer types ([`FnSig`], [`TypedCif`]) and typed closures ([`TypedClosure`]).

use alloc::vec::Vec;
use core::ffi::c_void;
use core::marker::PhantomData;
use core::mem::MaybeUninit;

use super::cif::{Cif, CifError, CodePtr};
use super::closure::{Args, Closure, ClosureCallback, ClosureError};
use super::long_double::LongDouble;
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
    "cdecl" => CDECL_VARIANT,
    "stdcall" => StdCall,
    "fastcall" => FastCall,
    "thiscall" => ThisCall
);

impl Abi {
    #[allow(non_upper_case_globals)]
    const DEFAULT_VARIANT_C: Abi = Abi::DEFAULT;
    /// `extern "cdecl"`: the C convention, Microsoft's on Windows.
    #[cfg(target_arch = "x86")]
    const CDECL_VARIANT: Abi = if cfg!(windows) {
        Abi::MsCdecl
    } else {
        Abi::SysV
    };
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
        // i686 Windows: both return small aggregates in registers, but not always the same
        // ones (`i386::rustc_returns_like_mingw`); `long double` as above.
        #[cfg(target_arch = "x86")]
        _ if cfg!(windows) => (
            false,
            has_long_double(ret) || !crate::arch::x86::i386::rustc_returns_like_mingw(ret),
        ),
        // i386 elsewhere: Rust returns every struct through memory, C returns `long double`
        // in st(0) and `_Complex float` in eax:edx.
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
