//! libffi's C structures, constants and exported type objects, with their x86_64, i386,
//! aarch64 and 32-bit Arm layouts (checked at compile time against the sizes `ffi.h` declares).

// The fields and constants are libffi's, documented in include/ffi.h.
#![allow(missing_docs)]

use core::cell::UnsafeCell;
use core::ffi::{c_char, c_uint, c_ushort, c_void};
use core::mem::{offset_of, size_of};

use closure_ffi::dynamic::LongDouble;

/// `ffi_status`.
pub type FfiStatus = c_uint;
pub const FFI_OK: FfiStatus = 0;
pub const FFI_BAD_TYPEDEF: FfiStatus = 1;
pub const FFI_BAD_ABI: FfiStatus = 2;
pub const FFI_BAD_ARGTYPE: FfiStatus = 3;

/// `ffi_abi`: on x86_64 outside Windows FIRST 1, UNIX64 2, WIN64 (= EFI64) 3, GNUW64 4,
/// LAST 5; on i386 outside Windows FIRST 0, SYSV 1, THISCALL 3, FASTCALL 4, STDCALL 5,
/// PASCAL 6, REGISTER 7, MS_CDECL 8, LAST 9; on aarch64 outside Windows and Apple FIRST 0,
/// SYSV 1, WIN64 2 (declared, but refused: no Windows Arm64 convention here), LAST 3; on
/// 32-bit Arm FIRST 0, SYSV 1 (the base standard), VFP 2 (the default), LAST 3.
/// `closure_ffi::dynamic::Abi::from_raw` maps
/// them (per target) to the dynamic layer's conventions.
pub type FfiAbi = c_uint;
#[cfg(target_arch = "x86_64")]
pub const FFI_UNIX64: FfiAbi = 2;
#[cfg(target_arch = "x86_64")]
pub const FFI_DEFAULT_ABI: FfiAbi = FFI_UNIX64;
#[cfg(target_arch = "x86")]
pub const FFI_SYSV: FfiAbi = 1;
#[cfg(target_arch = "x86")]
pub const FFI_THISCALL: FfiAbi = 3;
#[cfg(target_arch = "x86")]
pub const FFI_FASTCALL: FfiAbi = 4;
#[cfg(target_arch = "x86")]
pub const FFI_STDCALL: FfiAbi = 5;
#[cfg(target_arch = "x86")]
pub const FFI_PASCAL: FfiAbi = 6;
#[cfg(target_arch = "x86")]
pub const FFI_REGISTER: FfiAbi = 7;
#[cfg(target_arch = "x86")]
pub const FFI_MS_CDECL: FfiAbi = 8;
#[cfg(target_arch = "x86")]
pub const FFI_DEFAULT_ABI: FfiAbi = FFI_SYSV;
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
pub const FFI_SYSV: FfiAbi = 1;
/// 32-bit Arm: the AAPCS VFP variant (the hard-float default of gnueabihf).
#[cfg(target_arch = "arm")]
pub const FFI_VFP: FfiAbi = 2;
#[cfg(target_arch = "arm")]
pub const FFI_DEFAULT_ABI: FfiAbi = FFI_VFP;
#[cfg(target_arch = "aarch64")]
pub const FFI_DEFAULT_ABI: FfiAbi = FFI_SYSV;

/// `ffi_arg`: the unit integral return values are widened to, and one raw slot
/// (`FFI_SIZEOF_ARG`: 8 bytes on x86_64 and aarch64, 4 on i386).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub type FfiArg = u64;
#[cfg(any(target_arch = "x86", target_arch = "arm"))]
pub type FfiArg = u32;

/// Type codes (`ffi_type.type`).
pub mod code {
    pub const VOID: u16 = 0;
    pub const INT: u16 = 1;
    pub const FLOAT: u16 = 2;
    pub const DOUBLE: u16 = 3;
    pub const LONGDOUBLE: u16 = 4;
    pub const UINT8: u16 = 5;
    pub const SINT8: u16 = 6;
    pub const UINT16: u16 = 7;
    pub const SINT16: u16 = 8;
    pub const UINT32: u16 = 9;
    pub const SINT32: u16 = 10;
    pub const UINT64: u16 = 11;
    pub const SINT64: u16 = 12;
    pub const STRUCT: u16 = 13;
    pub const POINTER: u16 = 14;
    pub const COMPLEX: u16 = 15;
    pub const UINT128: u16 = 16;
    pub const SINT128: u16 = 17;
}

/// `ffi_type`.
#[repr(C)]
pub struct FfiType {
    pub size: usize,
    pub alignment: c_ushort,
    pub type_: c_ushort,
    pub elements: *mut *mut FfiType,
}

/// `ffi_cif`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FfiCif {
    pub abi: FfiAbi,
    pub nargs: c_uint,
    pub arg_types: *mut *mut FfiType,
    pub rtype: *mut FfiType,
    pub bytes: c_uint,
    pub flags: c_uint,
    /// 32-bit Arm: libffi's `FFI_EXTRA_CIF_FIELDS` (`vfp_used`, `vfp_reg_free`,
    /// `vfp_nargs`, `vfp_args[16]`), which this library leaves zero.
    #[cfg(target_arch = "arm")]
    pub arm_extra: [u32; 6],
}

/// A closure callback: `fun(cif, ret, args, user_data)`.
pub type ClosureFun = unsafe extern "C" fn(*mut FfiCif, *mut c_void, *mut *mut c_void, *mut c_void);

/// libffi's `FFI_TRAMPOLINE_SIZE`: 32 on x86_64, 16 on i386, 24 on aarch64. On x86 the
/// dynamic layer's closure trampoline (written into `tramp`) has the same size; on aarch64
/// it needs 32 bytes, so `tramp` holds a 16-byte jump to it (closure.rs).
#[cfg(target_arch = "x86_64")]
pub const TRAMPOLINE_SIZE: usize = 32;
#[cfg(target_arch = "x86")]
pub const TRAMPOLINE_SIZE: usize = 16;
#[cfg(target_arch = "aarch64")]
pub const TRAMPOLINE_SIZE: usize = 24;
/// 32-bit Arm: 12 (the dynamic layer's trampoline is 16 bytes; `tramp` holds an 8-byte jump).
#[cfg(target_arch = "arm")]
pub const TRAMPOLINE_SIZE: usize = 12;

/// `ffi_closure`. C declares it `aligned(8)` on a typedef, which raises the alignment but
/// does not pad the size: 56 bytes on x86_64, 48 on aarch64, 24 on 32-bit Arm, 28 on i386 (where Rust cannot
/// express "size 28, alignment 8", so the struct is 4-aligned; the library never needs
/// more).
#[repr(C)]
#[cfg_attr(not(target_arch = "x86"), repr(align(8)))]
pub struct FfiClosure {
    pub tramp: [u8; TRAMPOLINE_SIZE],
    pub cif: *mut FfiCif,
    pub fun: Option<ClosureFun>,
    pub user_data: *mut c_void,
}

/// One `ffi_raw` (also `ffi_java_raw`): a union of one `ffi_arg` (8 bytes on x86_64 and
/// aarch64, 4 on i386 and 32-bit Arm).
pub type FfiRaw = FfiArg;

/// A raw closure callback: `fun(cif, ret, raw_args, user_data)`.
pub type RawFun = unsafe extern "C" fn(*mut FfiCif, *mut c_void, *mut FfiRaw, *mut c_void);

/// `ffi_raw_closure` and `ffi_java_raw_closure`: on x86_64, aarch64 and 32-bit Arm shaped
/// so that `translate_args` and `this_closure` sit where an `ffi_closure` has `fun` and
/// `user_data`; on i386
/// (`FFI_NATIVE_RAW_API`) without those two, so `fun` and `user_data` sit there instead.
#[repr(C)]
#[cfg_attr(not(target_arch = "x86"), repr(align(8)))]
pub struct FfiRawClosure {
    pub tramp: [u8; TRAMPOLINE_SIZE],
    pub cif: *mut FfiCif,
    #[cfg(not(target_arch = "x86"))]
    pub translate_args: Option<ClosureFun>,
    #[cfg(not(target_arch = "x86"))]
    pub this_closure: *mut c_void,
    pub fun: Option<RawFun>,
    pub user_data: *mut c_void,
}

/// `ffi_go_closure`.
#[repr(C)]
pub struct FfiGoClosure {
    pub tramp: *const c_void,
    pub cif: *mut FfiCif,
    pub fun: Option<ClosureFun>,
}

#[cfg(target_arch = "x86_64")]
const _: () = {
    assert!(size_of::<FfiType>() == 24);
    assert!(size_of::<FfiCif>() == 32);
    assert!(size_of::<FfiClosure>() == 56);
    assert!(offset_of!(FfiClosure, cif) == 32);
    assert!(offset_of!(FfiClosure, fun) == 40);
    assert!(offset_of!(FfiClosure, user_data) == 48);
    assert!(size_of::<FfiRawClosure>() == 72);
    assert!(offset_of!(FfiRawClosure, translate_args) == offset_of!(FfiClosure, fun));
    assert!(offset_of!(FfiRawClosure, this_closure) == offset_of!(FfiClosure, user_data));
    assert!(size_of::<FfiGoClosure>() == 24);
};

// The aarch64 layouts (ffi.h): as x86_64's, with a 24-byte trampoline.
#[cfg(target_arch = "aarch64")]
const _: () = {
    assert!(size_of::<FfiType>() == 24);
    assert!(size_of::<FfiCif>() == 32);
    assert!(size_of::<FfiClosure>() == 48);
    assert!(offset_of!(FfiClosure, cif) == 24);
    assert!(offset_of!(FfiClosure, fun) == 32);
    assert!(offset_of!(FfiClosure, user_data) == 40);
    assert!(size_of::<FfiRawClosure>() == 64);
    assert!(offset_of!(FfiRawClosure, translate_args) == offset_of!(FfiClosure, fun));
    assert!(offset_of!(FfiRawClosure, this_closure) == offset_of!(FfiClosure, user_data));
    assert!(size_of::<FfiGoClosure>() == 24);
    assert!(size_of::<FfiRaw>() == 8);
};

// The 32-bit Arm layouts (ffi.h): 4-byte pointers, the cif's VFP fields, a 12-byte
// trampoline, closures aligned to 8 (and so padded: `aligned(8)` on the struct there).
#[cfg(target_arch = "arm")]
const _: () = {
    assert!(size_of::<FfiType>() == 12);
    assert!(size_of::<FfiCif>() == 48);
    assert!(size_of::<FfiClosure>() == 24);
    assert!(core::mem::align_of::<FfiClosure>() == 8);
    assert!(core::mem::align_of::<FfiRawClosure>() == 8);
    assert!(offset_of!(FfiClosure, cif) == 12);
    assert!(offset_of!(FfiClosure, fun) == 16);
    assert!(offset_of!(FfiClosure, user_data) == 20);
    assert!(size_of::<FfiRawClosure>() == 32);
    assert!(offset_of!(FfiRawClosure, translate_args) == offset_of!(FfiClosure, fun));
    assert!(offset_of!(FfiRawClosure, this_closure) == offset_of!(FfiClosure, user_data));
    assert!(size_of::<FfiGoClosure>() == 12);
    assert!(size_of::<FfiRaw>() == 4);
};

// The i386 layouts (ffi.h): 4-byte pointers and size_t.
#[cfg(target_arch = "x86")]
const _: () = {
    assert!(size_of::<FfiType>() == 12);
    assert!(offset_of!(FfiType, alignment) == 4);
    assert!(offset_of!(FfiType, type_) == 6);
    assert!(offset_of!(FfiType, elements) == 8);
    assert!(size_of::<FfiCif>() == 24);
    assert!(offset_of!(FfiCif, rtype) == 12);
    assert!(offset_of!(FfiCif, bytes) == 16);
    assert!(offset_of!(FfiCif, flags) == 20);
    assert!(size_of::<FfiClosure>() == 28);
    assert!(offset_of!(FfiClosure, cif) == 16);
    assert!(offset_of!(FfiClosure, fun) == 20);
    assert!(offset_of!(FfiClosure, user_data) == 24);
    assert!(size_of::<FfiRawClosure>() == 28);
    assert!(offset_of!(FfiRawClosure, cif) == offset_of!(FfiClosure, cif));
    assert!(offset_of!(FfiRawClosure, fun) == offset_of!(FfiClosure, fun));
    assert!(offset_of!(FfiRawClosure, user_data) == offset_of!(FfiClosure, user_data));
    assert!(size_of::<FfiGoClosure>() == 12);
    assert!(size_of::<FfiRaw>() == 4);
};

/// An exported `ffi_type` object. C declares them `extern ffi_type` (not const), so they
/// live in writable memory; the library reads only their type codes.
#[repr(transparent)]
pub struct TypeObject(UnsafeCell<FfiType>);

// SAFETY: the library never writes the objects; C programs that write them are on their own,
// as with libffi.
unsafe impl Sync for TypeObject {}

impl TypeObject {
    const fn scalar(size: usize, align: u16, code: u16) -> Self {
        Self(UnsafeCell::new(FfiType {
            size,
            alignment: align,
            type_: code,
            elements: core::ptr::null_mut(),
        }))
    }

    const fn complex(size: usize, align: u16, elements: &'static ElementList) -> Self {
        Self(UnsafeCell::new(FfiType {
            size,
            alignment: align,
            type_: code::COMPLEX,
            elements: elements.0.get().cast(),
        }))
    }
}

/// The NULL-terminated element list of a complex type object.
#[repr(transparent)]
pub struct ElementList(UnsafeCell<[*const TypeObject; 2]>);

// SAFETY: as for TypeObject.
unsafe impl Sync for ElementList {}

macro_rules! type_objects {
    ($($name:ident = $size:expr, $align:expr, $code:expr;)*) => {$(
        #[no_mangle]
        #[allow(non_upper_case_globals)]
        pub static $name: TypeObject = TypeObject::scalar($size, $align, $code);
    )*};
}

/// Alignment of 64-bit integers and `double` (in aggregates): 8 on x86_64, 4 on i386.
pub(crate) const ALIGN_64: u16 = core::mem::align_of::<u64>() as u16;
/// Size and alignment of `long double`, as the dynamic layer's [`LongDouble`] has them: the
/// x87 format in 16/16 on x86_64 and 12/4 on i386; IEEE binary128 in 16/16 on aarch64;
/// `double` (8/8) on 32-bit Arm.
pub const LONG_DOUBLE: (usize, u16) = (
    size_of::<LongDouble>(),
    core::mem::align_of::<LongDouble>() as u16,
);
/// Size and alignment of a pointer.
pub(crate) const PTR: usize = size_of::<*const c_void>();
/// The type code of the exported `ffi_type_longdouble`: `FFI_TYPE_LONGDOUBLE`, which libffi's
/// 32-bit Arm build (no distinct `long double`) defines as `FFI_TYPE_DOUBLE`; there its
/// header also names `ffi_type_longdouble` `ffi_type_double`, and the object stays exported.
const LONG_DOUBLE_CODE: u16 = if cfg!(target_arch = "arm") {
    code::DOUBLE
} else {
    code::LONGDOUBLE
};

type_objects! {
    ffi_type_void = 1, 1, code::VOID;
    ffi_type_uint8 = 1, 1, code::UINT8;
    ffi_type_sint8 = 1, 1, code::SINT8;
    ffi_type_uint16 = 2, 2, code::UINT16;
    ffi_type_sint16 = 2, 2, code::SINT16;
    ffi_type_uint32 = 4, 4, code::UINT32;
    ffi_type_sint32 = 4, 4, code::SINT32;
    ffi_type_uint64 = 8, ALIGN_64, code::UINT64;
    ffi_type_sint64 = 8, ALIGN_64, code::SINT64;
    ffi_type_float = 4, 4, code::FLOAT;
    ffi_type_double = 8, ALIGN_64, code::DOUBLE;
    ffi_type_longdouble = LONG_DOUBLE.0, LONG_DOUBLE.1, LONG_DOUBLE_CODE;
    ffi_type_pointer = PTR, PTR as u16, code::POINTER;
}

// __int128 exists on the 64-bit targets only (libffi's FFI_TARGET_HAS_INT128).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
type_objects! {
    ffi_type_uint128 = 16, 16, code::UINT128;
    ffi_type_sint128 = 16, 16, code::SINT128;
}

static COMPLEX_FLOAT_ELEMENTS: ElementList =
    ElementList(UnsafeCell::new([&ffi_type_float, core::ptr::null()]));
static COMPLEX_DOUBLE_ELEMENTS: ElementList =
    ElementList(UnsafeCell::new([&ffi_type_double, core::ptr::null()]));
static COMPLEX_LONGDOUBLE_ELEMENTS: ElementList =
    ElementList(UnsafeCell::new([&ffi_type_longdouble, core::ptr::null()]));

#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ffi_type_complex_float: TypeObject = TypeObject::complex(8, 4, &COMPLEX_FLOAT_ELEMENTS);
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ffi_type_complex_double: TypeObject =
    TypeObject::complex(16, ALIGN_64, &COMPLEX_DOUBLE_ELEMENTS);
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ffi_type_complex_longdouble: TypeObject = TypeObject::complex(
    2 * LONG_DOUBLE.0,
    LONG_DOUBLE.1,
    &COMPLEX_LONGDOUBLE_ELEMENTS,
);

/// `FFI_VERSION_STRING`: the libffi release whose API this library provides.
pub const VERSION: &core::ffi::CStr = c"3.8.0";
/// `FFI_VERSION_NUMBER`.
pub const VERSION_NUMBER: core::ffi::c_ulong = 30800;

/// Keeps `c_char` in use for the version query's signature.
pub type CStrPtr = *const c_char;
