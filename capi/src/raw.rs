//! The raw API (`ffi_raw`: arguments packed in `ffi_arg`-sized slots, 8 bytes on x86_64, 4
//! on i386) and the deprecated Java raw API, both on top of the pointer-array calls and
//! closures.
//!
//! Raw slots: integers narrower than a slot are widened (sign or zero) into one slot, a
//! float sits in the low 4 bytes of one, every other scalar takes its size rounded up to
//! whole slots (x86_64: pointers, 64-bit values and doubles one, `long double` and 128-bit
//! integers two; i386: pointers and 32-bit values one, 64-bit values and doubles two, `long
//! double` three); structs and complex values are passed as a pointer in one slot. Java raw
//! differs only for 64-bit integers and doubles, which take two slots (on x86_64 the value
//! in the first), as Java's operand stack does. Both layouts are used consistently by the
//! size, conversion, call and closure functions. (libffi's own little-endian Java
//! conversion disagrees with its size function for those types on x86_64; the Java raw
//! API's only client, gcj, is gone.)
//!
//! On x86_64 libffi translates too (`FFI_NATIVE_RAW_API` 0). On i386 libffi's raw API is
//! native (`FFI_NATIVE_RAW_API` 1): for scalars the raw block is the argument stack image,
//! which is exactly the layout above, so translating gives the same results; the Java raw
//! call and Java raw closures do not exist there (and are not defined here). Unlike libffi's
//! i386 port, a raw call with a struct argument passes the struct its slot points to (libffi
//! would pass the pointer's bytes), and raw closures accept struct and `long double`
//! arguments and every ABI (libffi: `FFI_BAD_TYPEDEF`, and `FFI_BAD_ABI` beyond SYSV and
//! THISCALL).

use core::ffi::c_void;

use closure_ffi::dynamic::Cif;

use crate::call::Fn0;
use crate::closure::prepare_at;
use crate::ffi::{
    code, FfiCif, FfiRaw, FfiRawClosure, FfiStatus, FfiType, RawFun, FFI_BAD_ARGTYPE,
};

/// Bytes of one raw slot (`FFI_SIZEOF_ARG`).
const SLOT: usize = core::mem::size_of::<FfiRaw>();

/// Raw or Java raw.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Raw,
    Java,
}

/// Slots an argument of type `t` takes.
fn slots(t: &FfiType, flavor: Flavor) -> usize {
    match t.type_ {
        code::STRUCT | code::COMPLEX => 1,
        code::UINT64 | code::SINT64 | code::DOUBLE if flavor == Flavor::Java => 2,
        _ => t.size.div_ceil(SLOT).max(1),
    }
}

/// The cif's argument types, or an empty list for a null cif.
///
/// # Safety
/// `cif` null or prepared.
unsafe fn arg_types<'a>(cif: *const FfiCif) -> &'a [*mut FfiType] {
    // SAFETY: a prepared cif has `nargs` valid types.
    unsafe {
        if cif.is_null() || (*cif).arg_types.is_null() {
            return &[];
        }
        core::slice::from_raw_parts((*cif).arg_types, (*cif).nargs as usize)
    }
}

/// Bytes of a raw argument block for `cif`.
unsafe fn size(cif: *const FfiCif, flavor: Flavor) -> usize {
    // SAFETY: forwarded contract; prepared types are valid.
    unsafe { arg_types(cif) }
        .iter()
        .map(|&t| SLOT * slots(unsafe { &*t }, flavor))
        .sum()
}

/// Packs the values `args` points to into raw slots.
unsafe fn to_raw(cif: *const FfiCif, args: *const *mut c_void, raw: *mut FfiRaw, flavor: Flavor) {
    let mut at = raw;
    // SAFETY: `args` has one pointer per argument and `raw` room for `size(cif)` bytes
    // (contract); each pointer points to a value of its type.
    unsafe {
        for (i, &t) in arg_types(cif).iter().enumerate() {
            let t = &*t;
            let value = *args.add(i);
            let n = slots(t, flavor);
            core::ptr::write_bytes(at, 0, n);
            // Narrow integers widened to a whole slot (`ffi_arg`/`ffi_sarg`).
            let word: Option<FfiRaw> = match t.type_ {
                code::UINT8 => Some(FfiRaw::from(*value.cast::<u8>())),
                code::SINT8 => Some(isize::from(*value.cast::<i8>()) as FfiRaw),
                code::UINT16 => Some(FfiRaw::from(value.cast::<u16>().read_unaligned())),
                code::SINT16 => Some(isize::from(value.cast::<i16>().read_unaligned()) as FfiRaw),
                code::UINT32 => Some(value.cast::<u32>().read_unaligned() as FfiRaw),
                code::SINT32 | code::INT => Some(value.cast::<i32>().read_unaligned() as FfiRaw),
                code::STRUCT | code::COMPLEX => Some(value as FfiRaw),
                _ => None,
            };
            match word {
                Some(word) => *at = word,
                None => core::ptr::copy_nonoverlapping(value.cast::<u8>(), at.cast::<u8>(), t.size),
            }
            at = at.add(n);
        }
    }
}

/// Points `args` at the values in raw slots.
unsafe fn to_ptrarray(
    cif: *const FfiCif,
    raw: *mut FfiRaw,
    args: *mut *mut c_void,
    flavor: Flavor,
) {
    let mut at = raw;
    // SAFETY: as for `to_raw`.
    unsafe {
        for (i, &t) in arg_types(cif).iter().enumerate() {
            let t = &*t;
            *args.add(i) = match t.type_ {
                code::STRUCT | code::COMPLEX => *at as *mut c_void,
                _ => at.cast(),
            };
            at = at.add(slots(t, flavor));
        }
    }
}

/// Runs `f` with a pointer array of `n` entries (on the stack for up to 32).
fn with_ptrs<R>(n: usize, f: impl FnOnce(*mut *mut c_void) -> R) -> R {
    if n <= 32 {
        let mut ptrs = [core::ptr::null_mut::<c_void>(); 32];
        f(ptrs.as_mut_ptr())
    } else {
        let mut ptrs = vec![core::ptr::null_mut::<c_void>(); n];
        f(ptrs.as_mut_ptr())
    }
}

/// Runs `f` with a zeroed raw block of `bytes` bytes (on the stack for up to 64 slots).
fn with_raw<R>(bytes: usize, f: impl FnOnce(*mut FfiRaw) -> R) -> R {
    let n = bytes.div_ceil(SLOT);
    if n <= 64 {
        let mut raw: [FfiRaw; 64] = [0; 64];
        f(raw.as_mut_ptr())
    } else {
        let mut raw: Vec<FfiRaw> = vec![0; n];
        f(raw.as_mut_ptr())
    }
}

unsafe fn raw_call(
    cif: *mut FfiCif,
    fun: Fn0,
    rvalue: *mut c_void,
    raw: *mut FfiRaw,
    flavor: Flavor,
) {
    // SAFETY: forwarded contract.
    let n = unsafe { arg_types(cif) }.len();
    with_ptrs(n, |ptrs| {
        // SAFETY: forwarded contract; `ptrs` has `n` entries.
        unsafe {
            to_ptrarray(cif, raw, ptrs, flavor);
            crate::call::ffi_call(cif, fun, rvalue, ptrs);
        }
    })
}

/// A raw closure's callback: repacks the arguments and calls the raw closure's `fun` with
/// its `cif` and `user_data` (read from the raw closure when it runs, as libffi does).
///
/// # Safety
/// `closure` is the code address of a prepared raw closure, `args` its arguments.
unsafe fn translate(
    ret: *mut c_void,
    args: *const *mut c_void,
    closure: *mut c_void,
    flavor: Flavor,
) {
    let closure = closure.cast::<FfiRawClosure>();
    // SAFETY: the raw closure is readable while it is callable.
    let (cif, fun, user_data) = unsafe { ((*closure).cif, (*closure).fun, (*closure).user_data) };
    let Some(fun) = fun else { return };
    // SAFETY: the cif is the closure's (prepared).
    let bytes = unsafe { size(cif, flavor) };
    with_raw(bytes, |raw| {
        // SAFETY: `args` holds the cif's arguments; `raw` has room for them.
        unsafe {
            to_raw(cif, args, raw, flavor);
            fun(cif, ret, raw, user_data);
        }
    })
}

unsafe extern "C" fn translate_raw(
    _cif: *const Cif,
    ret: *mut c_void,
    args: *const *mut c_void,
    cl: *mut c_void,
) {
    // SAFETY: called by the closure machinery with its own arguments.
    unsafe { translate(ret, args, cl, Flavor::Raw) }
}

unsafe extern "C" fn translate_java(
    _cif: *const Cif,
    ret: *mut c_void,
    args: *const *mut c_void,
    cl: *mut c_void,
) {
    // SAFETY: as above.
    unsafe { translate(ret, args, cl, Flavor::Java) }
}

/// x86_64's `translate_args` field: libffi's raw closures run it through the ordinary
/// closure path. Here the dynamic closure calls [`translate_raw`] directly; the field is
/// filled for programs that look at it, and does the same when called.
#[cfg(not(target_arch = "x86"))]
unsafe extern "C" fn translate_args(
    _cif: *mut FfiCif,
    ret: *mut c_void,
    args: *mut *mut c_void,
    cl: *mut c_void,
) {
    // SAFETY: libffi's contract for translate_args: `cl` is the raw closure.
    unsafe { translate(ret, args, cl, Flavor::Raw) }
}

#[cfg(not(target_arch = "x86"))]
unsafe extern "C" fn translate_args_java(
    _cif: *mut FfiCif,
    ret: *mut c_void,
    args: *mut *mut c_void,
    cl: *mut c_void,
) {
    // SAFETY: as above.
    unsafe { translate(ret, args, cl, Flavor::Java) }
}

unsafe fn prep_raw_closure(
    closure: *mut FfiRawClosure,
    cif: *mut FfiCif,
    fun: Option<RawFun>,
    user_data: *mut c_void,
    codeloc: *mut c_void,
    flavor: Flavor,
) -> FfiStatus {
    if closure.is_null() || fun.is_none() {
        return FFI_BAD_ARGTYPE;
    }
    let callback: closure_ffi::dynamic::RawCallback = match flavor {
        Flavor::Raw => translate_raw,
        Flavor::Java => translate_java,
    };
    // SAFETY: writable for sizeof(ffi_raw_closure) bytes, which `translate` reads through
    // the code address (contract); the fields are written before the code can run.
    unsafe {
        prepare_at(closure.cast(), cif, codeloc, callback, || {
            (*closure).cif = cif;
            (*closure).fun = fun;
            (*closure).user_data = user_data;
            #[cfg(not(target_arch = "x86"))]
            {
                (*closure).translate_args = Some(match flavor {
                    Flavor::Raw => translate_args,
                    Flavor::Java => translate_args_java,
                });
                (*closure).this_closure = closure.cast();
            }
        })
    }
}

/// The size and conversion functions of one flavor.
macro_rules! raw_conversions {
    ($flavor:expr, $size:ident, $to_raw:ident, $to_ptrarray:ident) => {
        /// Bytes of the raw argument block for `cif` (0 for null).
        ///
        /// # Safety
        /// `cif` null or prepared.
        #[no_mangle]
        pub unsafe extern "C" fn $size(cif: *mut FfiCif) -> usize {
            // SAFETY: forwarded contract.
            unsafe { size(cif, $flavor) }
        }

        /// Packs the argument values into raw slots.
        ///
        /// # Safety
        /// `cif` prepared, `args` one valid pointer per argument, `raw` room for the raw
        /// size.
        #[no_mangle]
        pub unsafe extern "C" fn $to_raw(
            cif: *mut FfiCif,
            args: *mut *mut c_void,
            raw: *mut FfiRaw,
        ) {
            if !args.is_null() && !raw.is_null() {
                // SAFETY: forwarded contract.
                unsafe { to_raw(cif, args, raw, $flavor) }
            }
        }

        /// Points `args` at the argument values in raw slots.
        ///
        /// # Safety
        /// `cif` prepared, `raw` a raw block for it, `args` room for one pointer per
        /// argument.
        #[no_mangle]
        pub unsafe extern "C" fn $to_ptrarray(
            cif: *mut FfiCif,
            raw: *mut FfiRaw,
            args: *mut *mut c_void,
        ) {
            if !args.is_null() && !raw.is_null() {
                // SAFETY: forwarded contract.
                unsafe { to_ptrarray(cif, raw, args, $flavor) }
            }
        }
    };
}

/// The call and closure functions of one flavor.
macro_rules! raw_calls {
    ($flavor:expr, $call:ident, $prep:ident, $prep_loc:ident) => {
        /// `ffi_call` with the arguments in raw slots.
        ///
        /// # Safety
        /// As `ffi_call`, with `raw` a raw block for the cif.
        #[no_mangle]
        pub unsafe extern "C" fn $call(
            cif: *mut FfiCif,
            fun: Fn0,
            rvalue: *mut c_void,
            raw: *mut FfiRaw,
        ) {
            if !raw.is_null() {
                // SAFETY: forwarded contract.
                unsafe { raw_call(cif, fun, rvalue, raw, $flavor) }
            }
        }

        /// Prepares a raw closure: calling `codeloc` runs `fun(cif, ret, raw_args, user_data)`.
        ///
        /// # Safety
        /// As `ffi_prep_closure_loc`, for a closure of `sizeof(ffi_raw_closure)` bytes.
        #[no_mangle]
        pub unsafe extern "C" fn $prep_loc(
            closure: *mut FfiRawClosure,
            cif: *mut FfiCif,
            fun: Option<RawFun>,
            user_data: *mut c_void,
            codeloc: *mut c_void,
        ) -> FfiStatus {
            // SAFETY: forwarded contract.
            unsafe { prep_raw_closure(closure, cif, fun, user_data, codeloc, $flavor) }
        }

        /// The raw closure as its own code address.
        ///
        /// # Safety
        /// As the `_loc` form.
        #[no_mangle]
        pub unsafe extern "C" fn $prep(
            closure: *mut FfiRawClosure,
            cif: *mut FfiCif,
            fun: Option<RawFun>,
            user_data: *mut c_void,
        ) -> FfiStatus {
            // SAFETY: forwarded contract.
            unsafe { prep_raw_closure(closure, cif, fun, user_data, closure.cast(), $flavor) }
        }
    };
}

raw_conversions!(
    Flavor::Raw,
    ffi_raw_size,
    ffi_ptrarray_to_raw,
    ffi_raw_to_ptrarray
);
raw_calls!(
    Flavor::Raw,
    ffi_raw_call,
    ffi_prep_raw_closure,
    ffi_prep_raw_closure_loc
);
raw_conversions!(
    Flavor::Java,
    ffi_java_raw_size,
    ffi_java_ptrarray_to_raw,
    ffi_java_raw_to_ptrarray
);
// libffi's i386 build (FFI_NATIVE_RAW_API) has no Java raw call nor Java raw closures.
#[cfg(not(target_arch = "x86"))]
raw_calls!(
    Flavor::Java,
    ffi_java_raw_call,
    ffi_prep_java_raw_closure,
    ffi_prep_java_raw_closure_loc
);
