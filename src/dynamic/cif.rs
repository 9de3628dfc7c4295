//! [`Cif`]: a signature and its call plan, and calls through it.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ffi::c_void;
use core::fmt;

use super::plan::{CallPlan, PlanError, ValueTypeError};
use super::types::Type;
use super::Abi;
use crate::arch::dyncall::{self, Convention};

/// A Cif's argument types: inline up to six (no allocation for common signatures).
type ArgTypes = smallvec::SmallVec<[Type; 6]>;

/// libffi's `ffi_status` values, for mapping errors onto its C API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Status {
    /// `FFI_OK`.
    Ok = 0,
    /// `FFI_BAD_TYPEDEF`.
    BadTypedef = 1,
    /// `FFI_BAD_ABI`.
    BadAbi = 2,
    /// `FFI_BAD_ARGTYPE`.
    BadArgType = 3,
}

/// Why a [`Cif`] could not be prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CifError {
    /// The ABI is not one this target implements (libffi's `FFI_BAD_ABI`).
    BadAbi(u32),
    /// An argument cannot be passed by value (libffi's `FFI_BAD_ARGTYPE`).
    BadArgType {
        /// The argument index.
        index: usize,
        /// Why.
        reason: ValueTypeError,
    },
    /// The return type cannot be returned by value (libffi's `FFI_BAD_TYPEDEF`).
    BadReturnType(ValueTypeError),
    /// A variadic signature with more fixed arguments than arguments, or none at all
    /// (libffi's `FFI_BAD_ARGTYPE`).
    BadFixedCount {
        /// The fixed-argument count asked for.
        nfixed: usize,
        /// The total argument count.
        ntotal: usize,
    },
}

impl CifError {
    /// The libffi status this error corresponds to.
    pub fn status(&self) -> Status {
        match self {
            Self::BadAbi(_) => Status::BadAbi,
            Self::BadReturnType(_) => Status::BadTypedef,
            Self::BadArgType { .. } | Self::BadFixedCount { .. } => Status::BadArgType,
        }
    }
}

impl fmt::Display for CifError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadAbi(abi) => write!(f, "ABI {abi} is not supported on this target"),
            Self::BadArgType { index, reason } => write!(f, "argument {index}: {reason}"),
            Self::BadReturnType(reason) => write!(f, "return type: {reason}"),
            Self::BadFixedCount { nfixed, ntotal } => write!(
                f,
                "a variadic signature needs 1..={ntotal} fixed arguments, not {nfixed}"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CifError {}

impl From<PlanError> for CifError {
    fn from(err: PlanError) -> Self {
        match err.arg {
            Some(index) => Self::BadArgType {
                index,
                reason: err.reason,
            },
            None => Self::BadReturnType(err.reason),
        }
    }
}

/// The address of a function to call through a [`Cif`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct CodePtr(pub *const c_void);

impl CodePtr {
    /// Wraps a code address.
    pub const fn new(ptr: *const c_void) -> Self {
        Self(ptr)
    }

    /// The address as a raw pointer.
    pub const fn as_ptr(self) -> *const c_void {
        self.0
    }
}

// SAFETY: a code address is plain data; calling through it is what is unsafe.
unsafe impl Send for CodePtr {}
// SAFETY: as above.
unsafe impl Sync for CodePtr {}

/// A call interface: an ABI, argument types, a return type and the call plan computed from
/// them once, at construction.
///
/// Calls ([`call_raw`](Cif::call_raw), [`call`](Cif::call)) and closures
/// ([`Closure`](super::Closure)) follow the plan; they never classify, allocate or lock. A
/// `Cif` is immutable, `Send` and `Sync`; cloning it copies the plan.
///
/// ```
/// use closure_ffi::dynamic::{arg, Abi, Cif, CodePtr, Type};
///
/// extern "C" fn add(a: i64, b: i32) -> i64 { a + b as i64 }
///
/// let cif = Cif::new(Abi::DEFAULT, [Type::I64, Type::I32], Type::I64)?;
/// let sum: i64 = unsafe { cif.call(CodePtr::new(add as *const _), &[arg(&40i64), arg(&2i32)]) }?;
/// assert_eq!(sum, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Cif {
    /// The signature and its plan, shared by clones (closures hold one).
    inner: Arc<CifInner>,
    /// The compiled stub's entry, copied out of `inner.stub` so that a call reads one field.
    entry: Option<dyncall::StubEntry>,
}

#[derive(Clone, Debug)]
struct CifInner {
    abi: Abi,
    /// The executor's convention for `abi`.
    conv: Convention,
    nfixed: Option<usize>,
    args: ArgTypes,
    ret: Type,
    plan: CallPlan,
    #[cfg(all(feature = "global_jit_alloc", target_arch = "x86_64"))]
    stub: Option<Arc<dyncall::Compiled>>,
}

impl Cif {
    /// Prepares a Cif (libffi's `ffi_prep_cif`).
    ///
    /// # Errors
    /// [`CifError::BadAbi`] for an ABI the target does not implement,
    /// [`CifError::BadArgType`] for an argument that cannot be passed by value (`void`, an
    /// array, alignment above 16), [`CifError::BadReturnType`] for such a return type.
    pub fn new(
        abi: Abi,
        args: impl IntoIterator<Item = Type>,
        ret: Type,
    ) -> Result<Self, CifError> {
        Self::prepare(abi, args, ret, None)
    }

    /// Prepares a Cif for a variadic function called with `args`, the first `nfixed` of them
    /// fixed (libffi's `ffi_prep_cif_var`).
    ///
    /// The variadic arguments must already have C's default promotions applied: `f64` for
    /// `float`, `i32`/`u32` for narrower integers.
    ///
    /// # Errors
    /// As [`new`](Cif::new); also [`CifError::BadFixedCount`] unless
    /// `1 <= nfixed <= args.len()`, and [`CifError::BadArgType`] with
    /// [`ValueTypeError::NotPromoted`] for an unpromoted variadic argument.
    pub fn new_variadic(
        abi: Abi,
        args: impl IntoIterator<Item = Type>,
        nfixed: usize,
        ret: Type,
    ) -> Result<Self, CifError> {
        Self::prepare(abi, args, ret, Some(nfixed))
    }

    fn prepare(
        abi: Abi,
        args: impl IntoIterator<Item = Type>,
        ret: Type,
        nfixed: Option<usize>,
    ) -> Result<Self, CifError> {
        let mut cif = Self {
            inner: Arc::new(CifInner::empty()),
            entry: None,
        };
        cif.prepare_in_place(abi, args, ret, nfixed)?;
        Ok(cif)
    }

    /// Prepares this Cif again for another signature, reusing its storage when no clone or
    /// closure shares it (like `ffi_prep_cif` into a caller-owned `ffi_cif`). Any compiled
    /// stub is dropped. On error the Cif describes `() -> void`.
    ///
    /// ```
    /// use closure_ffi::dynamic::{Abi, Cif, Type};
    ///
    /// let mut cif = Cif::new(Abi::DEFAULT, [], Type::VOID)?;
    /// cif.reset(Abi::DEFAULT, [Type::I32, Type::F64], Type::F64)?;
    /// assert_eq!(cif.args(), &[Type::I32, Type::F64]);
    /// # Ok::<(), closure_ffi::dynamic::CifError>(())
    /// ```
    ///
    /// # Errors
    /// As [`new`](Cif::new).
    pub fn reset(
        &mut self,
        abi: Abi,
        args: impl IntoIterator<Item = Type>,
        ret: Type,
    ) -> Result<(), CifError> {
        self.prepare_in_place(abi, args, ret, None)
    }

    /// [`reset`](Cif::reset) for a variadic signature (see [`new_variadic`](Cif::new_variadic)).
    ///
    /// # Errors
    /// As [`new_variadic`](Cif::new_variadic).
    pub fn reset_variadic(
        &mut self,
        abi: Abi,
        args: impl IntoIterator<Item = Type>,
        nfixed: usize,
        ret: Type,
    ) -> Result<(), CifError> {
        self.prepare_in_place(abi, args, ret, Some(nfixed))
    }

    fn prepare_in_place(
        &mut self,
        abi: Abi,
        args: impl IntoIterator<Item = Type>,
        ret: Type,
        nfixed: Option<usize>,
    ) -> Result<(), CifError> {
        self.entry = None;
        match Arc::get_mut(&mut self.inner) {
            Some(cif) => cif.reinit(abi, args, ret, nfixed),
            None => {
                // Shared with clones or closures: they keep the old signature.
                let mut fresh = CifInner::empty();
                let result = fresh.reinit(abi, args, ret, nfixed);
                self.inner = Arc::new(fresh);
                result
            }
        }
    }
}

impl CifInner {
    /// Describes another signature, reusing the storage; `() -> void` on error.
    fn reinit(
        &mut self,
        abi: Abi,
        args: impl IntoIterator<Item = Type>,
        ret: Type,
        nfixed: Option<usize>,
    ) -> Result<(), CifError> {
        #[cfg(all(feature = "global_jit_alloc", target_arch = "x86_64"))]
        {
            self.stub = None;
        }
        self.abi = abi;
        self.nfixed = nfixed;
        self.args.clear();
        self.args.extend(args);
        self.ret = ret;
        let result = match abi.convention() {
            Some(conv) => {
                self.conv = conv;
                self.plan_in_place()
            }
            None => {
                self.abi = Abi::DEFAULT;
                self.conv = Convention::DEFAULT;
                Err(CifError::BadAbi(abi.to_raw()))
            }
        };
        if result.is_err() {
            self.args.clear();
            self.ret = Type::VOID;
            self.nfixed = None;
            // `() -> void` always has a plan.
            let _ = self.plan_in_place();
        }
        result
    }

    /// `() -> void` for the default ABI, before classification.
    #[inline(always)]
    fn empty() -> Self {
        Self {
            abi: Abi::DEFAULT,
            conv: Convention::DEFAULT,
            nfixed: None,
            args: ArgTypes::new(),
            ret: Type::VOID,
            plan: CallPlan::default(),
            #[cfg(all(feature = "global_jit_alloc", target_arch = "x86_64"))]
            stub: None,
        }
    }

    /// Classifies `args`/`ret` into `plan`.
    fn plan_in_place(&mut self) -> Result<(), CifError> {
        if let Some(nfixed) = self.nfixed {
            if nfixed == 0 || nfixed > self.args.len() {
                return Err(CifError::BadFixedCount {
                    nfixed,
                    ntotal: self.args.len(),
                });
            }
        }
        let (args, ret, nfixed) = (&self.args[..], &self.ret, self.nfixed);
        self.conv.classify(args, ret, nfixed, &mut self.plan)?;
        Ok(())
    }
}

impl Cif {
    /// Compiles the plan into a call stub in the global JIT allocator: machine code that
    /// loads each argument straight into its register or stack slot. Later calls through
    /// this Cif (and its clones) run the stub, and closures created from it afterwards get a
    /// compiled entry that stores each incoming register straight where the callback reads
    /// it. Returns whether code was made: plans with
    /// shapes the compiler does not cover (Win64, integer pieces of 3, 5, 6 or 7 bytes,
    /// more than a page of stack arguments) keep the interpreted executor, which is correct
    /// for every plan. On i386, aarch64 and 32-bit ARM nothing is compiled (`Ok(false)`):
    /// every call and closure runs the interpreted executor.
    ///
    /// Preparing stays cheap, compiling costs one small JIT allocation: compile the Cifs of
    /// hot signatures (libffi 3.7's `ffi_call_plan_alloc` plays the same role).
    ///
    /// System V plans are compiled on every x86_64 host (on Windows too, where the default
    /// is Win64):
    ///
    /// ```
    /// use closure_ffi::dynamic::{Abi, Cif, CodePtr, Type};
    ///
    /// extern "C" fn add(a: u64, b: u64) -> u64 { a + b }
    ///
    /// let mut cif = Cif::new(Abi::DEFAULT, [Type::U64, Type::U64], Type::U64)?;
    /// assert_eq!(cif.compile()?, cfg!(all(target_arch = "x86_64", not(windows))));
    /// let (a, b, mut r) = (2u64, 40u64, 0u64);
    /// let args = [&a as *const u64 as *mut _, &b as *const u64 as *mut _];
    /// unsafe { cif.call_raw(CodePtr::new(add as *const _), &mut r as *mut u64 as *mut _, args.as_ptr()) };
    /// assert_eq!(r, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`JitAllocError`](crate::JitAllocError) if the allocator fails (the Cif stays usable).
    #[cfg(feature = "global_jit_alloc")]
    pub fn compile(&mut self) -> Result<bool, crate::JitAllocError> {
        #[cfg(target_arch = "x86_64")]
        {
            if self.inner.stub.is_none() {
                let inner = &self.inner;
                let stub = dyncall::Compiled::compile(inner.conv, &inner.plan, inner.args.len())?;
                self.entry = stub.as_ref().and_then(dyncall::Compiled::call_entry);
                Arc::make_mut(&mut self.inner).stub = stub.map(Arc::new);
            }
            Ok(self.inner.stub.is_some())
        }
        #[cfg(not(target_arch = "x86_64"))]
        Ok(false)
    }

    /// The compiled closure entry, if [`compile`](Cif::compile) made one.
    pub(crate) fn compiled_closure_entry(&self) -> Option<*const u8> {
        #[cfg(all(feature = "global_jit_alloc", target_arch = "x86_64"))]
        return self.inner.stub.as_ref().and_then(|s| s.closure_entry());
        #[cfg(not(all(feature = "global_jit_alloc", target_arch = "x86_64")))]
        None
    }

    /// The executor's convention.
    #[inline]
    pub(crate) fn convention(&self) -> Convention {
        self.inner.conv
    }

    /// Whether calls run a compiled stub ([`compile`](Cif::compile)).
    pub fn is_compiled(&self) -> bool {
        self.entry.is_some()
    }

    /// The ABI.
    #[inline]
    pub fn abi(&self) -> Abi {
        self.inner.abi
    }

    /// The argument types.
    #[inline]
    pub fn args(&self) -> &[Type] {
        &self.inner.args
    }

    /// The return type.
    #[inline]
    pub fn ret(&self) -> &Type {
        &self.inner.ret
    }

    /// The number of fixed arguments of a variadic Cif, `None` otherwise.
    pub fn nfixed(&self) -> Option<usize> {
        self.inner.nfixed
    }

    /// The call plan: where each argument and the return value go.
    #[inline]
    pub fn plan(&self) -> &CallPlan {
        &self.inner.plan
    }

    /// Bytes of stack arguments a call pushes (libffi's `cif->bytes`).
    pub fn stack_bytes(&self) -> usize {
        self.inner.plan.stack_size as usize
    }

    /// Calls `fun` with the arguments `avalue` points to, storing the result at `rvalue`
    /// (libffi's `ffi_call`).
    ///
    /// Integer results narrower than a register are widened to libffi's `ffi_arg` (sign- or
    /// zero-extended to 8 bytes on x86_64 and aarch64, to 4 bytes on i386 and ARM); `rvalue`
    /// may be null to discard the result.
    ///
    /// # Safety
    /// - `fun` must be a function with exactly this signature and ABI;
    /// - `avalue` must point to one pointer per element of [`args`](Self::args), each to a
    ///   readable value of the matching argument type;
    /// - `rvalue` must be null or point to a writable buffer of at least the size of
    ///   [`ret`](Self::ret), and at least 8 bytes, aligned for the return type.
    #[inline]
    pub unsafe fn call_raw(&self, fun: CodePtr, rvalue: *mut c_void, avalue: *const *mut c_void) {
        if let Some(entry) = self.entry {
            // SAFETY: the stub was compiled from this Cif's plan and lives as long as the
            // Cif (`stub`); forwarded contract.
            return unsafe { entry(fun.0.cast(), rvalue.cast(), avalue.cast()) };
        }
        // SAFETY: forwarded contract.
        unsafe { self.call_interpreted(fun, rvalue, avalue) }
    }

    /// [`call_raw`](Cif::call_raw) without the compiled stub: the plan's interpreter.
    ///
    /// # Safety
    /// As [`call_raw`](Cif::call_raw).
    #[inline(never)]
    pub unsafe fn call_interpreted(
        &self,
        fun: CodePtr,
        rvalue: *mut c_void,
        avalue: *const *mut c_void,
    ) {
        // SAFETY: forwarded contract.
        unsafe {
            dyncall::call(
                self.inner.conv,
                &self.inner.plan,
                fun.0.cast(),
                rvalue.cast(),
                avalue.cast(),
            )
        }
    }

    /// Calls `fun` with typed arguments, checking their number and types and the return
    /// type against the Cif, and returns the result. (With more than 32 arguments the
    /// argument-pointer array is allocated; [`call_raw`](Cif::call_raw) never allocates.)
    ///
    /// # Errors
    /// [`CallError`] if the argument count, an argument type or `R` does not match.
    ///
    /// # Safety
    /// `fun` must be a function with exactly this signature and ABI, and any pointer
    /// arguments must satisfy what it expects of them.
    pub unsafe fn call<R: super::CType>(
        &self,
        fun: CodePtr,
        args: &[super::Arg<'_>],
    ) -> Result<R, CallError> {
        if args.len() != self.inner.args.len() {
            return Err(CallError::ArgCount {
                expected: self.inner.args.len(),
                got: args.len(),
            });
        }
        for (index, (arg, ty)) in args.iter().zip(self.inner.args.iter()).enumerate() {
            if !(arg.ty)().same_layout(ty) {
                return Err(CallError::ArgType { index });
            }
        }
        if !R::ffi_type().same_layout(&self.inner.ret) {
            return Err(CallError::RetType);
        }
        let mut ret = super::typed::RetBuf::<R>::new();
        let ptrs: Vec<*mut c_void>;
        // Up to 32 arguments the pointer array lives on the stack; past that (rare) it is
        // one allocation.
        let mut inline = [core::ptr::null_mut(); 32];
        let avalue = if args.len() <= inline.len() {
            for (slot, arg) in inline.iter_mut().zip(args) {
                *slot = arg.ptr;
            }
            inline.as_ptr()
        } else {
            ptrs = args.iter().map(|a| a.ptr).collect();
            ptrs.as_ptr()
        };
        // SAFETY: the arguments match the Cif's types (checked above), `ret` holds at least
        // 8 bytes aligned for R, and `fun` matches by the caller's contract.
        unsafe {
            self.call_raw(fun, ret.as_mut_ptr(), avalue);
            Ok(ret.read())
        }
    }
}

/// Why a checked call was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// The number of arguments differs from the Cif's.
    ArgCount {
        /// The Cif's argument count.
        expected: usize,
        /// The number passed.
        got: usize,
    },
    /// Argument `index` has a different type than the Cif's.
    ArgType {
        /// The argument index.
        index: usize,
    },
    /// The requested return type differs from the Cif's.
    RetType,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ArgCount { expected, got } => {
                write!(f, "the Cif takes {expected} arguments, {got} were passed")
            }
            Self::ArgType { index } => write!(f, "argument {index} does not match the Cif's type"),
            Self::RetType => f.write_str("the return type does not match the Cif's"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CallError {}
