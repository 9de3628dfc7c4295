//! Callees, callbacks and helpers shared by `benches/dynamic.rs` (criterion) and
//! `benches/dynamic_callgrind.rs` (instruction counts), so both measure the same code.

#![allow(dead_code, reason = "each benchmark uses a different subset")]

use core::ffi::c_void;
use core::ptr::{addr_of_mut, null_mut};

use closure_ffi::dynamic::{Abi, Args, Cif, CodePtr, Ret, Type};
use libffi::low::{self, ffi_cif, ffi_type, type_tag, types};

pub type Add2 = extern "C" fn(u64, u64) -> u64;
pub type Mixed8 = extern "C" fn(i32, f64, i64, f32, u8, f64, i16, f64) -> f64;
pub type Struct24Fn = extern "C" fn(S24) -> S24;

#[inline(never)]
pub extern "C" fn add2(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// `struct { double d; int32_t i; float f; uint8_t b; }`: 24 bytes, passed in memory.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct S24 {
    pub d: f64,
    pub i: i32,
    pub f: f32,
    pub b: u8,
}

#[inline(never)]
pub extern "C" fn struct24(s: S24) -> S24 {
    S24 {
        d: s.d + 1.0,
        i: s.i.wrapping_add(1),
        f: s.f * 0.5,
        b: s.b ^ 1,
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub extern "C" fn mixed8(a: i32, b: f64, c: i64, d: f32, e: u8, f: f64, g: i16, h: f64) -> f64 {
    a as f64 + b + c as f64 + d as f64 + e as f64 + f + g as f64 + h
}

pub const MIXED8_ARGS: (i32, f64, i64, f32, u8, f64, i16, f64) =
    (-1, 2.5, 1 << 40, 0.25, 200, -3.0, -7, 0.125);

pub fn mixed8_types() -> [Type; 8] {
    [
        Type::I32,
        Type::F64,
        Type::I64,
        Type::F32,
        Type::U8,
        Type::F64,
        Type::I16,
        Type::F64,
    ]
}

pub fn s24_type() -> Type {
    Type::structure([Type::F64, Type::I32, Type::F32, Type::U8]).expect("S24 layout")
}

pub fn code_ptr<F: Copy>(f: F) -> CodePtr {
    const { assert!(size_of::<F>() == size_of::<*const c_void>()) };
    // SAFETY: F is a function-pointer type (pointer-sized, checked above).
    CodePtr::new(unsafe { core::mem::transmute_copy::<F, *const c_void>(&f) })
}

pub fn libffi_fn<F: Copy>(f: F) -> Option<unsafe extern "C" fn()> {
    const { assert!(size_of::<F>() == size_of::<*const c_void>()) };
    // SAFETY: F is a function-pointer type (pointer-sized, checked above); libffi calls it
    // with the signature of the cif it is paired with.
    Some(unsafe { core::mem::transmute_copy::<F, unsafe extern "C" fn()>(&f) })
}

pub fn add2_checked(args: &Args<'_>, ret: Ret<'_>) {
    let sum = args
        .get::<u64>(0)
        .unwrap()
        .wrapping_add(args.get::<u64>(1).unwrap());
    ret.set(sum).unwrap();
}

pub fn add2_unchecked(args: &Args<'_>, ret: Ret<'_>) {
    // SAFETY: the closure's Cif is `u64 (u64, u64)`, so arguments 0 and 1 are u64 and the
    // return buffer holds a u64.
    unsafe {
        let sum = args
            .get_unchecked::<u64>(0)
            .wrapping_add(args.get_unchecked::<u64>(1));
        ret.as_ptr().cast::<u64>().write(sum);
    }
}

/// Our [`RawClosure`] callback for `u64 (u64, u64)`.
///
/// # Safety
/// Called by the closure with two u64 arguments and a u64 return buffer.
pub unsafe extern "C" fn add2_raw(
    _cif: *const Cif,
    ret: *mut c_void,
    args: *const *mut c_void,
    _user_data: *mut c_void,
) {
    // SAFETY: see the function's contract.
    unsafe {
        let sum = (*(*args).cast::<u64>()).wrapping_add(*(*args.add(1)).cast::<u64>());
        ret.cast::<u64>().write(sum);
    }
}

/// The libffi closure callback for `u64 (u64, u64)`.
///
/// # Safety
/// Called by libffi with two u64 arguments (the return type u64 is `ffi_arg` itself).
pub unsafe extern "C" fn add2_libffi(
    _cif: &ffi_cif,
    ret: &mut u64,
    args: *const *const c_void,
    _user_data: &(),
) {
    // SAFETY: see the function's contract.
    unsafe {
        *ret = (*(*args).cast::<u64>()).wrapping_add(*(*args.add(1)).cast::<u64>());
    }
}

pub fn add2_cif() -> Cif {
    Cif::new(Abi::DEFAULT, [Type::U64, Type::U64], Type::U64).unwrap()
}

/// A prepared libffi call interface with the type arrays it points into (boxed, so the
/// pointers stay valid when the fixture moves).
pub struct FfiCif {
    cif: Box<ffi_cif>,
    _atypes: Box<[*mut ffi_type]>,
    _elements: Option<Box<[*mut ffi_type]>>,
    _struct_type: Option<Box<ffi_type>>,
}

impl FfiCif {
    /// Prepares `cif` for `atypes -> rtype` (the default ABI).
    pub fn new(mut atypes: Box<[*mut ffi_type]>, rtype: *mut ffi_type) -> Self {
        let mut cif: Box<ffi_cif> = Box::default();
        // SAFETY: `atypes` holds `atypes.len()` valid type pointers, which the fixture keeps
        // alive as long as the cif.
        unsafe {
            low::prep_cif(
                &mut *cif,
                low::ffi_abi_FFI_DEFAULT_ABI,
                atypes.len(),
                rtype,
                atypes.as_mut_ptr(),
            )
        }
        .expect("ffi_prep_cif");
        Self {
            cif,
            _atypes: atypes,
            _elements: None,
            _struct_type: None,
        }
    }

    pub fn add2() -> Self {
        Self::new(
            Box::new([addr_of_mut!(types::uint64), addr_of_mut!(types::uint64)]),
            addr_of_mut!(types::uint64),
        )
    }

    pub fn mixed8() -> Self {
        Self::new(Box::new(ffi_mixed8_types()), addr_of_mut!(types::double))
    }

    pub fn struct24() -> Self {
        let mut elements: Box<[*mut ffi_type]> = Box::new([
            addr_of_mut!(types::double),
            addr_of_mut!(types::sint32),
            addr_of_mut!(types::float),
            addr_of_mut!(types::uint8),
            null_mut(),
        ]);
        let mut struct_type = Box::new(ffi_type {
            type_: type_tag::STRUCT,
            elements: elements.as_mut_ptr(),
            ..Default::default()
        });
        let ty: *mut ffi_type = &mut *struct_type;
        let mut this = Self::new(Box::new([ty]), ty);
        this._elements = Some(elements);
        this._struct_type = Some(struct_type);
        this
    }

    pub fn as_ptr(&mut self) -> *mut ffi_cif {
        &mut *self.cif
    }
}

pub fn ffi_mixed8_types() -> [*mut ffi_type; 8] {
    [
        addr_of_mut!(types::sint32),
        addr_of_mut!(types::double),
        addr_of_mut!(types::sint64),
        addr_of_mut!(types::float),
        addr_of_mut!(types::uint8),
        addr_of_mut!(types::double),
        addr_of_mut!(types::sint16),
        addr_of_mut!(types::double),
    ]
}

/// A libffi closure (low API): allocated, prepared, freed on drop.
pub struct FfiClosure {
    pub closure: *mut low::ffi_closure,
    pub code: low::CodePtr,
}

impl FfiClosure {
    /// # Safety
    /// `cif` must be prepared for `u64 (u64, u64)` and outlive the closure.
    pub unsafe fn new(cif: *mut ffi_cif) -> Self {
        let (closure, code) = low::closure_alloc();
        // SAFETY: `closure` is freshly allocated with `code` its executable address, and
        // `cif` matches the callback (the function's contract); the user data is a ZST.
        unsafe { low::prep_closure(closure, cif, add2_libffi, &(), code) }
            .expect("ffi_prep_closure_loc");
        Self { closure, code }
    }

    pub fn fn_ptr(&self) -> Add2 {
        // SAFETY: the code has the signature `u64 (u64, u64)` (`new`'s contract).
        unsafe { core::mem::transmute::<*mut c_void, Add2>(self.code.as_mut_ptr()) }
    }
}

impl Drop for FfiClosure {
    fn drop(&mut self) {
        // SAFETY: `closure` came from `closure_alloc` and is freed once, here.
        unsafe { low::closure_free(self.closure) }
    }
}
