//! Dynamic closures: executable code with a [`Cif`]'s signature that calls Rust code.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ffi::c_void;
use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;

use super::cif::{CallError, Cif, CodePtr};
use super::plan::ArgSource;
use super::typed::CType;
use super::types::Type;
use crate::arch::dyncall::{self, ClosureHeader, TRAMPOLINE_SIZE};
#[cfg(feature = "global_jit_alloc")]
use crate::jit_alloc::GlobalJitAlloc;
use crate::jit_alloc::{JitAlloc, JitAllocError, ProtectJitAccess};

/// A C-style closure callback, libffi's `fun(cif, ret, args, user_data)`.
pub type RawCallback = unsafe extern "C" fn(
    cif: *const Cif,
    ret: *mut c_void,
    args: *const *mut c_void,
    user_data: *mut c_void,
);

/// Why a closure could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClosureError {
    /// The JIT allocator failed.
    Alloc(JitAllocError),
}

impl fmt::Display for ClosureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Alloc(_) => f.write_str("the JIT allocator could not provide closure memory"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ClosureError {}

/// The arguments of one closure call.
pub struct Args<'c> {
    cif: &'c Cif,
    ptrs: *const *mut c_void,
}

impl<'c> Args<'c> {
    pub(crate) fn new(cif: &'c Cif, ptrs: *const *mut c_void) -> Self {
        Self { cif, ptrs }
    }

    /// The closure's Cif.
    #[inline]
    pub fn cif(&self) -> &'c Cif {
        self.cif
    }

    /// The number of arguments.
    #[inline]
    pub fn len(&self) -> usize {
        self.cif.args().len()
    }

    /// Whether the signature takes no arguments.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The address of argument `index`'s value (valid during the call), or `None` past the
    /// end.
    #[inline]
    pub fn ptr(&self, index: usize) -> Option<*mut c_void> {
        // SAFETY: the entry built one pointer per argument of the Cif.
        (index < self.len()).then(|| unsafe { *self.ptrs.add(index) })
    }

    /// The value of argument `index` as a `T`, checked against the Cif's type.
    ///
    /// # Errors
    /// [`CallError::ArgCount`] past the last argument, [`CallError::ArgType`] if the Cif's
    /// type is not `T`'s.
    #[inline]
    pub fn get<T: CType>(&self, index: usize) -> Result<T, CallError> {
        let ptr = self.ptr(index).ok_or(CallError::ArgCount {
            expected: self.len(),
            got: index.saturating_add(1),
        })?;
        if !T::ffi_type().same_layout(&self.cif.args()[index]) {
            return Err(CallError::ArgType { index });
        }
        // SAFETY: the value has T's C type (checked) and T: CType has that layout.
        Ok(unsafe { ptr.cast::<T>().read_unaligned() })
    }

    /// The value of argument `index` as a `T`, unchecked.
    ///
    /// # Safety
    /// `index` must be in bounds and the argument's type must be `T`'s C type.
    #[inline]
    pub unsafe fn get_unchecked<T: Copy>(&self, index: usize) -> T {
        // SAFETY: forwarded contract.
        unsafe { (*self.ptrs.add(index)).cast::<T>().read_unaligned() }
    }
}

/// Where a closure call's return value goes.
pub struct Ret<'c> {
    ty: &'c Type,
    ptr: *mut c_void,
}

impl Ret<'_> {
    /// The return type.
    #[inline]
    pub fn ty(&self) -> &Type {
        self.ty
    }

    /// The return buffer: at least `max(size, 8)` bytes, aligned for the type. Integers
    /// narrower than 8 bytes may be written either at their own width or widened to 8 bytes
    /// (libffi's `ffi_arg` on x86_64 and aarch64; on i386 and ARM `ffi_arg` is 4 bytes, and
    /// either of the three widths is read correctly).
    #[inline]
    pub fn as_ptr(&self) -> *mut c_void {
        self.ptr
    }

    /// Stores the return value, checked against the Cif's return type.
    ///
    /// # Errors
    /// [`CallError::RetType`] if the Cif's return type is not `T`'s.
    #[inline]
    pub fn set<T: CType>(self, value: T) -> Result<(), CallError> {
        if !T::ffi_type().same_layout(self.ty) {
            return Err(CallError::RetType);
        }
        // SAFETY: the buffer holds the Cif's return type, which is T's.
        unsafe { self.ptr.cast::<T>().write_unaligned(value) };
        Ok(())
    }
}

/// What a closure's code finds through r10: the header the entry reads, the Cif, and the
/// state the callback runs with.
#[repr(C)]
struct ClosureData<S> {
    header: ClosureHeader,
    cif: Cif,
    sources: Vec<ArgSource>,
    state: S,
}

/// The state of a [`RawClosure`]: a C callback and its user data.
pub struct RawState {
    callback: RawCallback,
    user_data: *mut c_void,
}

macro_rules! closure_struct {
    ($($default:ty)?) => {
        /// A dynamic closure: executable code with its Cif's signature that calls `F`, a
        /// Rust closure `Fn(&Args, Ret)`.
        ///
        /// The code pointer ([`code_ptr`](Closure::code_ptr), [`fn_ptr`](Closure::fn_ptr)) is
        /// valid while the `Closure` lives. It is `Send` when `F` is, `Sync` when `F` is
        /// (calls from several threads share `&F`). A panic in `F` aborts the process: it
        /// cannot unwind through the C caller.
        ///
        /// ```
        /// use closure_ffi::dynamic::{Abi, Cif, Closure, Type};
        ///
        /// let cif = Cif::new(Abi::DEFAULT, [Type::U8], Type::U8)?;
        /// let inc = Closure::new(cif, |args, ret| {
        ///     ret.set(args.get::<u8>(0).unwrap().wrapping_add(1)).unwrap()
        /// })?;
        /// let f: extern "C" fn(u8) -> u8 = unsafe { inc.fn_ptr() };
        /// assert_eq!(f(255), 0);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub struct Closure<F, A: JitAlloc $(= $default)?> {
            data: NonNull<ClosureData<F>>,
            rx: *const u8,
            alloc: A,
            _owns: PhantomData<ClosureData<F>>,
        }
    };
}

#[cfg(feature = "global_jit_alloc")]
closure_struct!(GlobalJitAlloc);
#[cfg(not(feature = "global_jit_alloc"))]
closure_struct!();

/// A dynamic closure over a C-style [`RawCallback`] and a `user_data` pointer (libffi's
/// `ffi_prep_closure_loc`). Neither `Send` nor `Sync`: the user data is a raw pointer.
pub type RawClosure<A> = Closure<RawState, A>;

// SAFETY: the closure owns its data (`F`, the Cif) and its code; moving it to another
// thread moves `F` (and the allocator handle).
unsafe impl<F: Send, A: JitAlloc + Send> Send for Closure<F, A> {}
// SAFETY: through `&Closure` other threads can only call the code, which reads the Cif
// (immutable, Sync) and calls `&F`, so `F: Sync` suffices.
unsafe impl<F: Sync, A: JitAlloc + Sync> Sync for Closure<F, A> {}

#[cfg(feature = "global_jit_alloc")]
impl<F: Fn(&Args<'_>, Ret<'_>)> Closure<F, GlobalJitAlloc> {
    /// Creates a closure with `cif`'s signature that calls `fun`, in the global JIT
    /// allocator.
    ///
    /// # Errors
    /// [`ClosureError::Alloc`] if executable memory is not available.
    pub fn new(cif: Cif, fun: F) -> Result<Self, ClosureError> {
        Self::new_in(cif, fun, GlobalJitAlloc)
    }
}

impl<F: Fn(&Args<'_>, Ret<'_>), A: JitAlloc> Closure<F, A> {
    /// Creates a closure with `cif`'s signature that calls `fun`, in `alloc`.
    ///
    /// # Errors
    /// [`ClosureError::Alloc`] if `alloc` fails.
    pub fn new_in(cif: Cif, fun: F, alloc: A) -> Result<Self, ClosureError> {
        Self::build(cif, fun, alloc)
    }
}

#[cfg(feature = "global_jit_alloc")]
impl RawClosure<GlobalJitAlloc> {
    /// Creates a closure with `cif`'s signature that calls `callback(cif, ret, args,
    /// user_data)`, in the global JIT allocator.
    ///
    /// # Errors
    /// [`ClosureError::Alloc`] if executable memory is not available.
    ///
    /// # Safety
    /// `callback` is called with `user_data` whenever the code runs: `user_data` must stay
    /// valid for what `callback` does with it while the closure can be called.
    pub unsafe fn from_raw(
        cif: Cif,
        callback: RawCallback,
        user_data: *mut c_void,
    ) -> Result<Self, ClosureError> {
        // SAFETY: forwarded contract.
        unsafe { Self::from_raw_in(cif, callback, user_data, GlobalJitAlloc) }
    }
}

impl<A: JitAlloc> RawClosure<A> {
    /// [`from_raw`](RawClosure::from_raw) in `alloc`.
    ///
    /// # Errors
    /// [`ClosureError::Alloc`] if `alloc` fails.
    ///
    /// # Safety
    /// As [`from_raw`](RawClosure::from_raw).
    pub unsafe fn from_raw_in(
        cif: Cif,
        callback: RawCallback,
        user_data: *mut c_void,
        alloc: A,
    ) -> Result<Self, ClosureError> {
        Self::build(
            cif,
            RawState {
                callback,
                user_data,
            },
            alloc,
        )
    }
}

impl<F: ClosureCallback, A: JitAlloc> Closure<F, A> {
    pub(crate) fn build(cif: Cif, state: F, alloc: A) -> Result<Self, ClosureError> {
        let invoke = invoke_state::<F>;
        let conv = cif.convention();
        // A compiled entry finds the arguments itself; the generic one needs their sources.
        let (sources, assembly) = if cif.compiled_closure_entry().is_some() {
            (Vec::new(), 0)
        } else {
            cif.plan().arg_sources(cif.args().iter().map(Type::size))
        };
        let header = ClosureHeader {
            scratch_bytes: dyncall::scratch_bytes(sources.len(), assembly),
            plan: core::ptr::null(),
            sources: sources.as_ptr(),
            nargs: sources.len(),
            invoke,
        };
        let data = Box::into_raw(Box::new(ClosureData {
            header,
            cif,
            sources,
            state,
        }));
        // SAFETY: `data` is a fresh, uniquely owned allocation; from here on it is only
        // accessed through this raw pointer (never a moved Box), so the code can hold it.
        // (The `sources` buffer did not move with its Vec.)
        unsafe { (*data).header.plan = (*data).cif.plan() };
        let (rx, rw) = match crate::jit_alloc::alloc_code(&alloc, TRAMPOLINE_SIZE) {
            Ok(views) => views,
            Err(err) => {
                // SAFETY: `data` came from Box::into_raw above and nothing else holds it.
                drop(unsafe { Box::from_raw(data) });
                return Err(ClosureError::Alloc(err));
            }
        };
        // SAFETY: `data` is live; its Cif (which owns any compiled entry) lives as long as
        // the closure.
        let entry = unsafe { (*data).cif.compiled_closure_entry() }
            .unwrap_or_else(|| dyncall::closure_entry(conv));
        let code = dyncall::trampoline(rx, data.cast(), entry);
        // SAFETY: `rw` is the writable view of TRAMPOLINE_SIZE fresh bytes; the order is
        // write, then make executable, then flush.
        unsafe {
            alloc.protect_jit_memory(rx, TRAMPOLINE_SIZE, ProtectJitAccess::ReadWrite);
            core::ptr::copy_nonoverlapping(code.as_ptr(), rw, TRAMPOLINE_SIZE);
            alloc.protect_jit_memory(rx, TRAMPOLINE_SIZE, ProtectJitAccess::ReadExecute);
            alloc.flush_instruction_cache(rx, TRAMPOLINE_SIZE);
        }
        Ok(Self {
            // SAFETY: Box::into_raw never returns null.
            data: unsafe { NonNull::new_unchecked(data) },
            rx,
            alloc,
            _owns: PhantomData,
        })
    }
}

impl<F, A: JitAlloc> Closure<F, A> {
    /// The closure's Cif.
    pub fn cif(&self) -> &Cif {
        // SAFETY: `data` is alive while `self` is.
        unsafe { &self.data.as_ref().cif }
    }

    /// The executable address (libffi's `codeloc`).
    pub fn code_ptr(&self) -> CodePtr {
        CodePtr::new(crate::arch::native::thunk_address(self.rx).cast())
    }

    /// The code as a function pointer of type `T`.
    ///
    /// # Safety
    /// `T` must be a function-pointer type with exactly the Cif's signature and ABI, and the
    /// pointer must not be called after the closure is dropped.
    pub unsafe fn fn_ptr<T: Copy>(&self) -> T {
        const { assert!(core::mem::size_of::<T>() == core::mem::size_of::<*const c_void>()) };
        let code = self.code_ptr().as_ptr();
        // SAFETY: T is pointer-sized (checked at compile time) and a function-pointer type
        // by the caller's contract.
        unsafe { core::mem::transmute_copy::<*const c_void, T>(&code) }
    }
}

impl<F, A: JitAlloc> Drop for Closure<F, A> {
    fn drop(&mut self) {
        // SAFETY: the code is no longer callable by the contract of `fn_ptr`/`code_ptr`
        // (callers must not use it after drop); `rx` came from this allocator; `data` came
        // from Box::into_raw in `build` and is released once, here.
        unsafe {
            let _ = self.alloc.release(self.rx);
            drop(Box::from_raw(self.data.as_ptr()));
        }
    }
}

impl<F, A: JitAlloc> fmt::Debug for Closure<F, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Closure")
            .field("code", &self.rx)
            .field("cif", self.cif())
            .finish()
    }
}

/// What a closure's state does when the code is called. Implemented for Rust closures
/// `Fn(&Args, Ret)`, for [`RawState`] and for typed closures' state.
pub trait ClosureCallback {
    /// Handles one call: `args` holds one pointer per argument of `cif`, `ret` is the return
    /// buffer.
    ///
    /// # Safety
    /// Called only by the closure entry, with the arguments it decoded by `cif`'s plan.
    unsafe fn invoke(&self, cif: &Cif, args: *const *mut c_void, ret: *mut c_void);
}

impl<F: Fn(&Args<'_>, Ret<'_>)> ClosureCallback for F {
    unsafe fn invoke(&self, cif: &Cif, args: *const *mut c_void, ret: *mut c_void) {
        self(
            &Args { cif, ptrs: args },
            Ret {
                ty: cif.ret(),
                ptr: ret,
            },
        );
    }
}

impl ClosureCallback for RawState {
    unsafe fn invoke(&self, cif: &Cif, args: *const *mut c_void, ret: *mut c_void) {
        // SAFETY: the callback was promised valid with its user data (`from_raw`).
        unsafe { (self.callback)(cif, ret, args, self.user_data) }
    }
}

/// Defines `invoke_state`, a closure's callback runner (the `invoke` of its header), in the
/// executor's calling convention for it (`arch::marshal::InvokeFn`).
macro_rules! invoke_state {
    ($abi:literal) => {
        /// Runs a closure's callback: the `invoke` of its header.
        ///
        /// # Safety
        /// Called by the entry with the header of a live `ClosureData<S>`, and the ret/args
        /// the entry built by its plan.
        unsafe extern $abi fn invoke_state<S: ClosureCallback>(
            header: *const ClosureHeader,
            ret: *mut u8,
            args: *const *mut u8,
        ) {
            // SAFETY: the header is the first field of a repr(C) ClosureData<S>.
            unsafe {
                let data = &*header.cast::<ClosureData<S>>();
                data.state.invoke(&data.cif, args.cast(), ret.cast());
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
invoke_state!("sysv64");
#[cfg(any(target_arch = "x86", target_arch = "aarch64", target_arch = "arm"))]
invoke_state!("C");
