//! Closures: `ffi_closure_alloc`, `ffi_closure_free`, `ffi_prep_closure_loc` and
//! `ffi_prep_closure`.
//!
//! `ffi_closure_alloc` takes memory from closure-ffi's JIT allocator, which maps it twice
//! (W^X): the caller writes through the returned pointer and calls `*code`, a different
//! address. `ffi_prep_closure_loc` builds a dynamic-layer closure whose trampoline
//! (`FFI_TRAMPOLINE_SIZE` bytes: 32 on x86_64, 16 on i386) is written into the
//! `ffi_closure`'s own `tramp` field (through an allocator that hands out exactly that
//! memory; on aarch64 and 32-bit Arm the field holds a jump to it, [`Placed`]) and whose
//! callback reads `cif`, `fun` and `user_data` from the closure when it
//! runs, as libffi's does. Raw closures (raw.rs) use the same machinery with a callback of
//! their own ([`prepare_at`]). A registry maps each closure's writable address
//! to its code address and to the dynamic-layer object, which `ffi_closure_free` drops.

use core::ffi::c_void;
use std::collections::HashMap;
use std::sync::Mutex;

use closure_ffi::dynamic::{Cif, RawCallback, RawClosure};
use closure_ffi::jit_alloc::{GlobalJitAlloc, JitAlloc, JitAllocError};

use crate::ffi::{
    ClosureFun, FfiCif, FfiClosure, FfiStatus, FFI_BAD_ARGTYPE, FFI_BAD_TYPEDEF, FFI_OK,
    TRAMPOLINE_SIZE,
};
use crate::prep::{self, FxBuild};

/// An allocator that hands out one `ffi_closure`'s trampoline field.
///
/// On aarch64 libffi's field (24 bytes) is smaller than the dynamic layer's trampoline (32:
/// two instructions, a `udf` and two literals), and on 32-bit Arm (12 against 16), so the
/// trampoline goes into a block of its own from the global JIT allocator, and the field
/// gets a jump to it (aarch64 below; 32-bit Arm at [`jump`]):
///
/// ```text
///   +0  58000050  ldr x16, #8     x16 = the literal at +8
///   +4  d61f0200  br x16          x16 is IP0, free at a call; x17 is left for the trampoline
///   +8  <the trampoline's code address, 8 bytes>
///   +16 zero
/// ```
pub(crate) struct Placed {
    rx: *const u8,
    rw: *mut u8,
    /// aarch64: the trampoline's own block (code address), null until allocated.
    #[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
    block: core::cell::Cell<*const u8>,
}

impl Placed {
    fn new(rx: *const u8, rw: *mut u8) -> Placed {
        Placed {
            rx,
            rw,
            #[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
            block: core::cell::Cell::new(core::ptr::null()),
        }
    }
}

#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
impl JitAlloc for Placed {
    fn alloc(&self, size: usize) -> Result<(*const u8, *mut u8), JitAllocError> {
        if size > TRAMPOLINE_SIZE {
            return Err(JitAllocError);
        }
        Ok((self.rx, self.rw))
    }

    unsafe fn release(&self, _rx: *const u8) -> Result<(), JitAllocError> {
        // The memory belongs to the ffi_closure (and so to ffi_closure_free or the caller).
        Ok(())
    }
}

/// `ldr x16, #8` (LDR literal, 64-bit, imm19 = 2, Rt = 16).
#[cfg(target_arch = "aarch64")]
const LDR_X16_8: u32 = 0x5800_0000 | (2 << 5) | 16;
/// `br x16` (Rn = 16).
#[cfg(target_arch = "aarch64")]
const BR_X16: u32 = 0xD61F_0000 | (16 << 5);

/// The jump written into `tramp` on 32-bit Arm (A32, as libffi's trampolines; a Thumb
/// caller reaches it with `blx`): `ldr pc, [pc, #-4]` (pc reads as +8, so it loads the
/// word at +4) and the trampoline's code address there (bit 0 set on T32 builds, which
/// `ldr pc` honours). 8 bytes of the 12.
#[cfg(target_arch = "arm")]
fn jump(code: *const u8) -> [u8; TRAMPOLINE_SIZE] {
    let mut jump = [0u8; TRAMPOLINE_SIZE];
    jump[0..4].copy_from_slice(&0xE51F_F004u32.to_le_bytes());
    let code = code as u32 | u32::from(cfg!(closure_ffi_thumb));
    jump[4..8].copy_from_slice(&code.to_le_bytes());
    jump
}

/// The jump written into `tramp` on aarch64 (layout above).
#[cfg(target_arch = "aarch64")]
fn jump(code: *const u8) -> [u8; TRAMPOLINE_SIZE] {
    let mut jump = [0u8; TRAMPOLINE_SIZE];
    jump[0..4].copy_from_slice(&LDR_X16_8.to_le_bytes());
    jump[4..8].copy_from_slice(&BR_X16.to_le_bytes());
    jump[8..16].copy_from_slice(&(code as u64).to_le_bytes());
    jump
}

#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
impl JitAlloc for Placed {
    fn alloc(&self, size: usize) -> Result<(*const u8, *mut u8), JitAllocError> {
        if !self.block.get().is_null() {
            // One trampoline per ffi_closure.
            return Err(JitAllocError);
        }
        let (rx, rw) = GlobalJitAlloc.alloc(size)?;
        let jump = jump(rx);
        // SAFETY: `self.rw` is the writable view of the ffi_closure's `tramp` field
        // (TRAMPOLINE_SIZE bytes, the caller's contract in prepare_at); `self.rx` is its
        // executable view, which the flush only names for cache maintenance.
        unsafe {
            core::ptr::copy_nonoverlapping(jump.as_ptr(), self.rw, TRAMPOLINE_SIZE);
            self.flush_instruction_cache(self.rx, TRAMPOLINE_SIZE);
        }
        self.block.set(rx);
        Ok((rx, rw))
    }

    unsafe fn release(&self, rx: *const u8) -> Result<(), JitAllocError> {
        // The field belongs to the ffi_closure; the trampoline's block is ours.
        self.block.set(core::ptr::null());
        // SAFETY: `rx` came from GlobalJitAlloc in alloc (the caller's contract).
        unsafe { GlobalJitAlloc.release(rx) }
    }
}

/// What the registry knows about one closure.
struct Slot {
    /// The code address when the memory came from [`ffi_closure_alloc`], else null.
    rx: *const u8,
    /// The dynamic-layer closure behind the trampoline, once prepared.
    closure: Option<RawClosure<Placed>>,
}

/// The registry of closures, by writable address.
struct Registry(HashMap<usize, Slot, FxBuild>);

// SAFETY: the slots hold addresses and closures whose callbacks only read the ffi_closure;
// the registry moves them between threads under its lock, never sharing them unlocked.
unsafe impl Send for Registry {}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry(HashMap::with_hasher(FxBuild)));

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Allocates a closure of `size` bytes (at least `sizeof(ffi_closure)`) and stores its code
/// address at `*code`. Returns the writable address, or null when `code` is null or the
/// allocator fails. The two addresses differ: write through one, call the other.
///
/// # Safety
/// `code` null or writable.
#[no_mangle]
pub unsafe extern "C" fn ffi_closure_alloc(size: usize, code: *mut *mut c_void) -> *mut c_void {
    if code.is_null() {
        return core::ptr::null_mut();
    }
    let size = size.max(core::mem::size_of::<FfiClosure>());
    let Ok((rx, rw)) = GlobalJitAlloc.alloc(size) else {
        return core::ptr::null_mut();
    };
    // SAFETY: `rw` is the writable view of `size` fresh bytes; `code` is writable.
    unsafe {
        core::ptr::write_bytes(rw, 0, size);
        *code = rx.cast_mut().cast();
    }
    registry().0.insert(rw as usize, Slot { rx, closure: None });
    rw.cast()
}

/// Frees a closure from [`ffi_closure_alloc`] (its writable address). Null, and addresses
/// the library did not allocate, are ignored; a closure prepared in foreign memory releases
/// its bookkeeping.
///
/// # Safety
/// No thread may call the closure afterwards.
#[no_mangle]
pub unsafe extern "C" fn ffi_closure_free(writable: *mut c_void) {
    if writable.is_null() {
        return;
    }
    let slot = registry().0.remove(&(writable as usize));
    if let Some(slot) = slot {
        drop(slot.closure);
        if !slot.rx.is_null() {
            // SAFETY: `rx` came from GlobalJitAlloc in ffi_closure_alloc and is released
            // once (the slot is gone); the caller no longer calls it.
            let _ = unsafe { GlobalJitAlloc.release(slot.rx) };
        }
    }
}

/// Calls the closure's `fun` with the `cif`, `user_data` it holds now.
unsafe extern "C" fn dispatch(
    _cif: *const Cif,
    ret: *mut c_void,
    args: *const *mut c_void,
    closure: *mut c_void,
) {
    let closure = closure.cast::<FfiClosure>();
    // SAFETY: `closure` is the ffi_closure's code address, readable while it is callable.
    let (cif, fun, user_data) = unsafe { ((*closure).cif, (*closure).fun, (*closure).user_data) };
    if let Some(fun) = fun {
        // SAFETY: the closure's contract: `fun` takes this cif's arguments.
        unsafe { fun(cif, ret, args.cast_mut(), user_data) }
    }
}

/// Prepares `closure` so that calling `codeloc` runs `fun(cif, ret, args, user_data)`.
/// `FFI_BAD_ARGTYPE` for a null closure, cif, fun or codeloc; the cif's status if it cannot
/// be prepared.
///
/// For memory from [`ffi_closure_alloc`] the code address recorded there is used (so the
/// deprecated [`ffi_prep_closure`], which passes the closure itself, works too).
///
/// # Safety
/// `closure` writable for `sizeof(ffi_closure)` bytes, `codeloc` its executable address;
/// `cif` prepared and outliving the closure; `fun` a valid callback for it.
#[no_mangle]
pub unsafe extern "C" fn ffi_prep_closure_loc(
    closure: *mut FfiClosure,
    cif: *mut FfiCif,
    fun: Option<ClosureFun>,
    user_data: *mut c_void,
    codeloc: *mut c_void,
) -> FfiStatus {
    if closure.is_null() || fun.is_none() {
        return FFI_BAD_ARGTYPE;
    }
    // SAFETY: forwarded contract; `dispatch` reads an ffi_closure, which `closure` is, and
    // the fields are written (through the writable address) before it can run.
    unsafe {
        prepare_at(closure.cast(), cif, codeloc, dispatch, || {
            (*closure).cif = cif;
            (*closure).fun = fun;
            (*closure).user_data = user_data;
        })
    }
}

/// Makes the closure memory at `closure` (writable address; `codeloc` the executable one)
/// run `callback(_, ret, args, code address)` with `cif`'s signature: the trampoline goes
/// into its first `FFI_TRAMPOLINE_SIZE` bytes. `fill` writes the caller's fields once the
/// cif is known to be usable (under the registry's lock). `FFI_BAD_ARGTYPE` for a null
/// closure, cif or codeloc; `FFI_BAD_TYPEDEF` for a cif that cannot be prepared.
///
/// # Safety
/// `closure` writable for the closure structure `callback` reads (through the code address
/// it receives as user data), `codeloc` its executable address; `cif` prepared and
/// outliving the closure.
pub(crate) unsafe fn prepare_at(
    closure: *mut u8,
    cif: *mut FfiCif,
    codeloc: *mut c_void,
    callback: RawCallback,
    fill: impl FnOnce(),
) -> FfiStatus {
    if closure.is_null() || cif.is_null() || codeloc.is_null() {
        return FFI_BAD_ARGTYPE;
    }
    // SAFETY: forwarded contract.
    let Some(sig) = (unsafe { prep::signature_of(cif) }) else {
        return FFI_BAD_TYPEDEF;
    };
    let mut registry = registry();
    let slot = registry.0.entry(closure as usize).or_insert(Slot {
        rx: core::ptr::null(),
        closure: None,
    });
    let rx = if slot.rx.is_null() {
        codeloc.cast_const().cast::<u8>()
    } else {
        slot.rx
    };
    fill();
    let placed = Placed::new(rx, closure);
    // SAFETY: `callback` reads the closure structure at `rx`, which lives as long as the
    // trampoline it contains.
    let made =
        unsafe { RawClosure::from_raw_in(sig.cif.clone(), callback, rx.cast_mut().cast(), placed) };
    match made {
        Ok(new) => {
            let old = slot.closure.replace(new);
            drop(registry);
            drop(old);
            FFI_OK
        }
        Err(_) => FFI_BAD_TYPEDEF,
    }
}

/// [`ffi_prep_closure_loc`] with the closure as its own code address (deprecated in libffi).
///
/// # Safety
/// As [`ffi_prep_closure_loc`].
#[no_mangle]
pub unsafe extern "C" fn ffi_prep_closure(
    closure: *mut FfiClosure,
    cif: *mut FfiCif,
    fun: Option<ClosureFun>,
    user_data: *mut c_void,
) -> FfiStatus {
    // SAFETY: forwarded contract.
    unsafe { ffi_prep_closure_loc(closure, cif, fun, user_data, closure.cast()) }
}
