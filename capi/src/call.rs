//! `ffi_prep_cif`, `ffi_prep_cif_var`, `ffi_call`, call plans, struct offsets and the
//! version queries.

use core::ffi::{c_char, c_uint, c_ulong, c_void};

use closure_ffi::dynamic::CodePtr;

use crate::ffi::{
    code, FfiAbi, FfiCif, FfiClosure, FfiStatus, FfiType, FFI_BAD_ABI, FFI_BAD_ARGTYPE,
    FFI_BAD_TYPEDEF, FFI_DEFAULT_ABI, FFI_OK, VERSION, VERSION_NUMBER,
};
use crate::prep::{self, Signature};

/// A function to call, as C passes it (`void (*)(void)`).
pub type Fn0 = Option<unsafe extern "C" fn()>;

/// Prepares `cif` for calls with `nargs` arguments of types `atypes` returning `rtype`.
///
/// Struct types with size 0 get their layout written in place. Returns `FFI_BAD_ABI` for an
/// ABI this target does not have, `FFI_BAD_TYPEDEF` for a malformed type (null, empty or
/// too deep struct, unknown code, vector) and `FFI_BAD_ARGTYPE` for a null `cif`, a null
/// `atypes` with arguments, or an argument that cannot be passed by value.
///
/// # Safety
/// `cif` must be writable; `rtype` and `atypes[0..nargs]` must be valid type graphs that
/// outlive the cif.
#[no_mangle]
pub unsafe extern "C" fn ffi_prep_cif(
    cif: *mut FfiCif,
    abi: FfiAbi,
    nargs: c_uint,
    rtype: *mut FfiType,
    atypes: *mut *mut FfiType,
) -> FfiStatus {
    // SAFETY: forwarded contract.
    unsafe { prep::prepare(cif, abi, None, nargs, rtype, atypes) }
}

/// Prepares `cif` for a variadic call with `nfixedargs` fixed arguments out of
/// `ntotalargs`. Variadic arguments must be promoted (`FFI_BAD_ARGTYPE` for `float` or an
/// integer narrower than `int`), and `1 <= nfixedargs <= ntotalargs`.
///
/// # Safety
/// As [`ffi_prep_cif`] with `ntotalargs` types.
#[no_mangle]
pub unsafe extern "C" fn ffi_prep_cif_var(
    cif: *mut FfiCif,
    abi: FfiAbi,
    nfixedargs: c_uint,
    ntotalargs: c_uint,
    rtype: *mut FfiType,
    atypes: *mut *mut FfiType,
) -> FfiStatus {
    if nfixedargs == 0 || nfixedargs > ntotalargs {
        return FFI_BAD_ARGTYPE;
    }
    // SAFETY: forwarded contract.
    unsafe { prep::prepare(cif, abi, Some(nfixedargs), ntotalargs, rtype, atypes) }
}

/// Calls `fun` with the arguments `avalue` points to and stores the result at `rvalue`
/// (integers narrower than `ffi_arg`, 8 bytes on x86_64 and 4 on i386, widened to a whole
/// `ffi_arg`; `rvalue` may be null). A null `cif`, `fun`, or `avalue` with arguments, or a
/// cif that cannot be prepared, makes the call a no-op.
///
/// # Safety
/// `cif` prepared; `fun` a function of its signature; `avalue[i]` pointing to a value of
/// argument type `i`; `rvalue` null or room for `max(size, sizeof(ffi_arg))` bytes.
#[no_mangle]
pub unsafe extern "C" fn ffi_call(
    cif: *mut FfiCif,
    fun: Fn0,
    rvalue: *mut c_void,
    avalue: *mut *mut c_void,
) {
    // SAFETY: forwarded contract.
    if let Some(sig) = unsafe { prep::signature_of(cif) } {
        // SAFETY: forwarded contract.
        unsafe { call(sig, fun, rvalue, avalue) }
    }
}

/// Runs a call through a prepared signature.
///
/// # Safety
/// As [`ffi_call`].
#[inline(always)]
pub(crate) unsafe fn call(
    sig: &Signature,
    fun: Fn0,
    rvalue: *mut c_void,
    avalue: *mut *mut c_void,
) {
    let Some(fun) = fun else { return };
    if avalue.is_null() && sig.nargs > 0 {
        return;
    }
    // SAFETY: forwarded contract.
    unsafe {
        sig.cif.call_raw(
            CodePtr::new(fun as *const c_void),
            rvalue,
            avalue.cast_const(),
        )
    }
}

/// An `ffi_call_plan`: the prepared signature, looked up once.
pub struct CallPlan {
    sig: &'static Signature,
}

/// Allocates a call plan for `cif` (libffi 3.7). Null for a null or unpreparable cif.
///
/// # Safety
/// `cif` null or prepared (see [`ffi_call`]).
#[no_mangle]
pub unsafe extern "C" fn ffi_call_plan_alloc(cif: *mut FfiCif) -> *mut CallPlan {
    // SAFETY: forwarded contract.
    match unsafe { prep::signature_of(cif) } {
        Some(sig) => Box::into_raw(Box::new(CallPlan { sig })),
        None => core::ptr::null_mut(),
    }
}

/// Calls through a plan, as [`ffi_call`] does. A null plan is a no-op.
///
/// # Safety
/// `plan` null or from [`ffi_call_plan_alloc`] and not freed; the rest as [`ffi_call`].
#[no_mangle]
pub unsafe extern "C" fn ffi_call_plan_invoke(
    plan: *const CallPlan,
    fun: Fn0,
    rvalue: *mut c_void,
    avalue: *mut *mut c_void,
) {
    if !plan.is_null() {
        // SAFETY: a live plan (contract); forwarded contract.
        unsafe { call((*plan).sig, fun, rvalue, avalue) }
    }
}

/// Frees a plan; null is fine.
///
/// # Safety
/// `plan` null or from [`ffi_call_plan_alloc`], not freed before nor used after.
#[no_mangle]
pub unsafe extern "C" fn ffi_call_plan_free(plan: *mut CallPlan) {
    if !plan.is_null() {
        // SAFETY: contract.
        drop(unsafe { Box::from_raw(plan) });
    }
}

/// The bytes a plan occupies (0 for null). The compiled code it runs belongs to the
/// signature, shared by every cif and plan of that signature.
///
/// # Safety
/// `plan` null or live.
#[no_mangle]
pub unsafe extern "C" fn ffi_call_plan_size(plan: *const CallPlan) -> usize {
    if plan.is_null() {
        0
    } else {
        core::mem::size_of::<CallPlan>()
    }
}

/// Lays out `struct_type` in place and stores its members' offsets at `offsets` (unless
/// null). `FFI_BAD_ABI` for an unknown ABI, `FFI_BAD_TYPEDEF` for anything but a valid struct.
///
/// # Safety
/// `struct_type` null or a valid type graph; `offsets` null or room for one `size_t` per
/// member.
#[no_mangle]
pub unsafe extern "C" fn ffi_get_struct_offsets(
    abi: FfiAbi,
    struct_type: *mut FfiType,
    offsets: *mut usize,
) -> FfiStatus {
    if closure_ffi::dynamic::Abi::from_raw(abi).is_err() {
        return FFI_BAD_ABI;
    }
    // SAFETY: contract.
    if struct_type.is_null() || unsafe { (*struct_type).type_ } != code::STRUCT {
        return FFI_BAD_TYPEDEF;
    }
    // SAFETY: forwarded contract.
    if let Err(status) = unsafe { prep::layout(struct_type) } {
        return status;
    }
    if !offsets.is_null() {
        // SAFETY: laid out: the elements are valid and have their sizes.
        unsafe {
            let elements = (*struct_type).elements;
            let mut offset = 0usize;
            let mut i = 0;
            while !(*elements.add(i)).is_null() {
                let e = &**elements.add(i);
                offset = offset.next_multiple_of(usize::from(e.alignment));
                *offsets.add(i) = offset;
                offset += e.size;
                i += 1;
            }
        }
    }
    FFI_OK
}

/// `FFI_VERSION_STRING` of the libffi API this library provides.
#[no_mangle]
pub extern "C" fn ffi_get_version() -> *const c_char {
    VERSION.as_ptr()
}

/// `FFI_VERSION_NUMBER` (major * 10000 + minor * 100 + patch).
#[no_mangle]
pub extern "C" fn ffi_get_version_number() -> c_ulong {
    VERSION_NUMBER
}

/// `FFI_DEFAULT_ABI`.
#[no_mangle]
pub extern "C" fn ffi_get_default_abi() -> c_uint {
    FFI_DEFAULT_ABI
}

/// `sizeof(ffi_closure)`.
#[no_mangle]
pub extern "C" fn ffi_get_closure_size() -> usize {
    core::mem::size_of::<FfiClosure>()
}
