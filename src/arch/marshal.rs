//! What every plan executor (x86_64's `x86/dyncall/`, i686's `x86/dyncall32/`, aarch64's
//! `aarch64/dyncall/`, 32-bit Arm's `arm/dyncall/`) does the same way, in machine words
//! (`usize`: 8 bytes on x86_64 and aarch64, 4 on i686 and Arm): loading argument bytes zero- or
//! sign-extended to a word, narrowing a returned word to libffi's `ffi_arg` rules, the call
//! trampolines' context and the frame they have filled by a plan, in a closure entry the
//! scratch layout and the argument pointers decoded from the incoming frame, and moving a
//! result between the return registers and the return buffer in both directions
//! ([`RetBlock`]: each executor lays its registers out for its assembly and says where a
//! plan's parts are in them).

use crate::dynamic::plan::{ArgSource, CallPlan, MoveOp, RetPlan, RetReg};

const WORD: usize = core::mem::size_of::<usize>();

/// Loads `len` (1..=word) bytes zero-extended to a word.
///
/// # Safety
/// `src..src + len` must be readable.
#[inline(always)]
pub(crate) unsafe fn load_zx(src: *const u8, len: u32) -> usize {
    // SAFETY: in every arm, the caller guarantees `len` readable bytes at `src`.
    unsafe {
        match len {
            8 if WORD == 8 => src.cast::<usize>().read_unaligned(),
            4 => src.cast::<u32>().read_unaligned() as usize,
            1 => *src as usize,
            2 => src.cast::<u16>().read_unaligned() as usize,
            len => {
                let mut bytes = [0u8; WORD];
                core::ptr::copy_nonoverlapping(src, bytes.as_mut_ptr(), (len as usize).min(WORD));
                usize::from_le_bytes(bytes)
            }
        }
    }
}

/// Loads `len` (1, 2 or 4) bytes sign-extended to a word.
///
/// # Safety
/// `src..src + len` must be readable.
#[inline(always)]
pub(crate) unsafe fn load_sx(src: *const u8, len: u32) -> isize {
    // SAFETY: in every arm, the caller guarantees `len` readable bytes at `src`.
    unsafe {
        match len {
            1 => *src.cast::<i8>() as isize,
            2 => src.cast::<i16>().read_unaligned() as isize,
            4 => src.cast::<i32>().read_unaligned() as isize,
            _ => load_zx(src, len) as isize,
        }
    }
}

/// The low `len` bytes of `value`, sign- or zero-extended to a word (libffi's `ffi_arg`).
pub(crate) fn extend(value: usize, len: u8, signed: bool) -> usize {
    let shift = usize::BITS - 8 * u32::from(len.clamp(1, WORD as u8));
    if signed {
        (((value << shift) as isize) >> shift) as usize
    } else {
        (value << shift) >> shift
    }
}

/// Fills a call frame by `plan`: every move from the argument values into the frame
/// (extended, copied, or copied to a scratch area whose address is passed), and the hidden
/// return pointer (`rvalue`, or the plan's scratch when it is null).
///
/// # Safety
/// `avalue` holds one readable pointer per argument of the plan's signature, each to a
/// value of its type; `frame` has `plan.frame_size` writable bytes; `rvalue` is null or
/// large enough for the return type.
#[inline]
pub(crate) unsafe fn fill_frame(
    plan: &CallPlan,
    avalue: *const *const u8,
    rvalue: *mut u8,
    frame: *mut u8,
) {
    // SAFETY: see the function's contract; every offset below comes from the plan, which
    // sized the frame to hold it, and every read stays within an argument's declared size.
    unsafe {
        for m in plan.moves.iter() {
            let src = (*avalue.add(m.arg as usize)).add(m.src as usize);
            let dst = frame.add(m.dst as usize);
            match m.op {
                MoveOp::ZeroExtend => dst.cast::<usize>().write_unaligned(load_zx(src, m.len)),
                MoveOp::SignExtend => dst.cast::<isize>().write_unaligned(load_sx(src, m.len)),
                MoveOp::Copy => core::ptr::copy_nonoverlapping(src, dst, m.len as usize),
                MoveOp::Reference { copy } => {
                    let copy = frame.add(copy as usize);
                    core::ptr::copy_nonoverlapping(src, copy, m.len as usize);
                    dst.cast::<*mut u8>().write_unaligned(copy);
                }
            }
        }
        if let RetPlan::Indirect { dst } = plan.ret {
            let buf = if rvalue.is_null() {
                frame.add(plan.ret_scratch as usize)
            } else {
                rvalue
            };
            frame
                .add(dst as usize)
                .cast::<*mut u8>()
                .write_unaligned(buf);
        }
    }
}

/// What a call trampoline reads (the plan, the argument values, the callee and the frame
/// size it reserves) and writes (the result registers, `ret`, laid out by the executor).
/// The assembly addresses the fields by `offset_of!`.
#[repr(C)]
pub(crate) struct CallCtx<R> {
    pub(crate) plan: *const CallPlan,
    pub(crate) avalue: *const *const u8,
    pub(crate) fun: *const u8,
    pub(crate) frame_size: usize,
    pub(crate) rvalue: *mut u8,
    pub(crate) ret: R,
}

impl<R> CallCtx<R> {
    /// The context of one call of `fun` by `plan`.
    pub(crate) fn new(
        plan: &CallPlan,
        fun: *const u8,
        rvalue: *mut u8,
        avalue: *const *const u8,
        ret: R,
    ) -> Self {
        Self {
            plan,
            avalue,
            fun,
            frame_size: plan.frame_size as usize,
            rvalue,
            ret,
        }
    }
}

/// Fills a call frame by the context's plan: the `marshal` callback the call trampolines
/// make (x86_64's, which call it with the System V convention on every host, through a
/// wrapper).
///
/// # Safety
/// `ctx` is the trampoline's context, whose plan, argument values and return buffer the
/// executor's `call` was given under [`fill_frame`]'s contract; `frame` has
/// `plan.frame_size` writable bytes.
pub(crate) unsafe extern "C" fn marshal_call<R>(ctx: *const CallCtx<R>, frame: *mut u8) {
    // SAFETY: see the function's contract, which is `fill_frame`'s.
    unsafe {
        let ctx = &*ctx;
        fill_frame(&*ctx.plan, ctx.avalue, ctx.rvalue, frame);
    }
}

/// Calls `fun` by `plan` through an executor's `trampoline`, its result registers starting
/// as `ret`, then copies the result into `rvalue` by the plan ([`store_ret`]; nothing if
/// `rvalue` is null): the end of every executor's `call`.
///
/// `trampoline` gets the `*mut CallCtx<R>` and calls the executor's call trampoline with it
/// (assembly that reserves the frame, has [`marshal_call`] fill it, calls and stores the
/// result registers into the context's `ret`; declared untyped, as the plan inside is not
/// FFI-safe). A closure rather than a function pointer: x86_64 picks its trampoline by
/// convention inside it, and the direct calls keep its interpreted calls 4 instructions
/// shorter (callgrind, `scripts/callgrind-dynamic add2_ours`).
///
/// # Safety
/// `trampoline` calls the executor's call trampoline for the register layout `R`; `fun` has
/// the signature `plan` was made from, in its convention; `avalue` holds one valid pointer
/// per argument, each to a value of the argument's type; `rvalue` is null or writable for
/// the return type's size (and for a machine word when the plan widens an integer).
#[inline(always)]
pub(crate) unsafe fn call_by_plan<R: RetBlock>(
    trampoline: impl FnOnce(*mut core::ffi::c_void),
    plan: &CallPlan,
    fun: *const u8,
    rvalue: *mut u8,
    avalue: *const *const u8,
    ret: R,
) {
    let mut ctx = CallCtx::new(plan, fun, rvalue, avalue, ret);
    // The trampoline follows the plan, which matches `fun`'s signature by the caller's
    // contract; `ctx` lives across the call.
    trampoline((&mut ctx as *mut CallCtx<R>).cast());
    if rvalue.is_null() {
        return;
    }
    // SAFETY: `rvalue` is large enough for the return type (caller's contract), and the
    // plan's parts lie within it.
    unsafe { store_ret(&plan.ret, &mut ctx.ret, rvalue) }
}

/// An executor's result registers: the block its call trampoline stores after the call and
/// its closure entry loads before returning.
pub(crate) trait RetBlock {
    /// The bytes of `reg` for a part of `len` bytes (`len` tells i386's `float` from its
    /// `double` slot). `Int0` has at least a machine word.
    fn reg(&mut self, reg: RetReg, len: u8) -> &mut [u8];

    /// The slot of x87 value `index` (st(0), st(1)), at least 10 bytes, on x86 only.
    fn x87(&mut self, _index: usize) -> Option<&mut [u8]> {
        None
    }
}

/// Bytes of an x87 `long double`'s value (the rest of its slot is padding).
const X87_VALUE: usize = 10;

/// Copies a call's result registers into its return buffer by `ret`, widening an integer
/// narrower than a register to a machine word (libffi's `ffi_arg`).
///
/// # Safety
/// `rvalue` must be writable for the return type's size, and for a machine word when the
/// plan widens.
pub(crate) unsafe fn store_ret(ret: &RetPlan, regs: &mut impl RetBlock, rvalue: *mut u8) {
    // SAFETY: the buffer is the caller's (see the function's contract); every part lies
    // within the return type (the plan's invariant), and no copy reads past its register's
    // bytes.
    unsafe {
        match *ret {
            RetPlan::Void | RetPlan::Indirect { .. } => {}
            RetPlan::Regs {
                parts,
                widen: Some(signed),
                ..
            } => {
                let word = load_zx(regs.reg(RetReg::Int0, parts[0].len).as_ptr(), WORD as u32);
                let value = extend(word, parts[0].len, signed);
                rvalue.cast::<usize>().write_unaligned(value);
            }
            RetPlan::Regs {
                parts,
                count,
                widen: None,
            } => {
                for part in &parts[..usize::from(count)] {
                    let src = regs.reg(part.reg, part.len);
                    let len = usize::from(part.len).min(src.len());
                    let dst = rvalue.add(usize::from(part.off));
                    core::ptr::copy_nonoverlapping(src.as_ptr(), dst, len);
                }
            }
            RetPlan::X87 { count } => {
                for i in 0..usize::from(count) {
                    if let Some(slot) = regs.x87(i) {
                        let len = X87_VALUE.min(slot.len());
                        core::ptr::copy_nonoverlapping(slot.as_ptr(), rvalue.add(16 * i), len);
                    }
                }
            }
        }
    }
}

/// Loads a closure's result from its return buffer `value` into the result registers by
/// `ret`: the value's parts, an integer widened to a machine word, or for an indirect
/// return the buffer's address in the first integer register.
///
/// # Safety
/// `value` must be readable for the return type's size (the closure's return buffer).
pub(crate) unsafe fn load_ret(ret: &RetPlan, regs: &mut impl RetBlock, value: *const u8) {
    // SAFETY: as in `store_ret`, the other way round.
    unsafe {
        match *ret {
            RetPlan::Void => {}
            RetPlan::Indirect { .. } => {
                let int0 = regs.reg(RetReg::Int0, WORD as u8);
                int0[..WORD].copy_from_slice(&(value as usize).to_ne_bytes());
            }
            RetPlan::Regs {
                parts,
                widen: Some(signed),
                ..
            } => {
                let len = parts[0].len.min(WORD as u8);
                let word = extend(load_zx(value, u32::from(len)), len, signed);
                regs.reg(RetReg::Int0, len)[..WORD].copy_from_slice(&word.to_ne_bytes());
            }
            RetPlan::Regs {
                parts,
                count,
                widen: None,
            } => {
                for part in &parts[..usize::from(count)] {
                    let dst = regs.reg(part.reg, part.len);
                    let len = usize::from(part.len).min(dst.len());
                    let src = value.add(usize::from(part.off));
                    core::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), len);
                }
            }
            RetPlan::X87 { count } => {
                for i in 0..usize::from(count) {
                    if let Some(slot) = regs.x87(i) {
                        let len = X87_VALUE.min(slot.len());
                        core::ptr::copy_nonoverlapping(value.add(16 * i), slot.as_mut_ptr(), len);
                    }
                }
            }
        }
    }
}

/// The start of every closure's data, read by the executor's entry (`scratch_bytes` at
/// offset 0) and by [`invoke_closure`].
#[repr(C)]
pub(crate) struct ClosureHeader {
    /// Bytes of scratch the entry reserves below its save area (a multiple of 16): see
    /// [`scratch_bytes`].
    pub scratch_bytes: usize,
    /// The Cif's plan.
    pub plan: *const CallPlan,
    /// Where each argument is found (`nargs` entries, from [`CallPlan::arg_sources`]).
    pub sources: *const ArgSource,
    /// The number of arguments.
    pub nargs: usize,
    /// Runs the user's callback: `(header, ret, args)`.
    pub invoke: InvokeFn,
}

const _: () = assert!(core::mem::offset_of!(ClosureHeader, scratch_bytes) == 0);

/// A closure's callback dispatcher: `(header, ret, args)`; a panic cannot unwind out of it
/// (it aborts). System V on x86_64 on every host, because compiled closure entries call it
/// that way; the C convention elsewhere.
#[cfg(target_arch = "x86_64")]
pub(crate) type InvokeFn = unsafe extern "sysv64" fn(*const ClosureHeader, *mut u8, *const *mut u8);
/// A closure's callback dispatcher: `(header, ret, args)`; a panic cannot unwind out of it
/// (it aborts).
#[cfg(not(target_arch = "x86_64"))]
pub(crate) type InvokeFn = unsafe extern "C" fn(*const ClosureHeader, *mut u8, *const *mut u8);

/// A closure call, once its entry has saved the argument registers: decodes the arguments
/// by the plan ([`decode_args`]), runs the callback, and returns the return buffer it
/// filled, for [`load_ret`].
///
/// # Safety
/// `header` is a live closure's header; `saves`, `stack` and `scratch` are as
/// [`decode_args`] requires for its plan.
pub(crate) unsafe fn invoke_closure(
    header: *const ClosureHeader,
    saves: *mut u8,
    stack: *const u8,
    scratch: *mut u8,
) -> *mut u8 {
    // SAFETY: see the function's contract: the header's plan, sources and dispatcher are
    // the closure's own, alive while it can be called.
    unsafe {
        let plan = &*(*header).plan;
        let sources = core::slice::from_raw_parts((*header).sources, (*header).nargs);
        let (ret, ptrs) = decode_args(plan, sources, saves, stack, scratch);
        ((*header).invoke)(header, ret, ptrs);
        ret
    }
}

/// Bytes of a closure's return buffer, at the start of its scratch.
const RET_BUF: usize = 32;

/// Offset of the argument pointer array in a closure's scratch.
const PTRS: usize = RET_BUF;

/// Offset of the assembly area (split arguments put back together) in a closure's scratch.
fn assembly_offset(nargs: usize) -> usize {
    PTRS + (core::mem::size_of::<*mut u8>() * nargs).next_multiple_of(16)
}

/// Scratch a closure needs: a 32-byte return buffer, the argument pointer array and the
/// area where split arguments are assembled.
pub(crate) fn scratch_bytes(nargs: usize, assembly: u32) -> usize {
    assembly_offset(nargs) + assembly as usize
}

/// Decodes a closure call's arguments from the frame its entry saved, by the plan: writes
/// one pointer per argument into the scratch's pointer array (to the saved register or
/// stack slot, through a passed reference, or to the argument assembled from its pieces)
/// and returns that array with the return buffer (the caller's hidden pointer for indirect
/// returns, else the scratch's zeroed buffer).
///
/// Frame offsets of the plan below `plan.reg_block` index `saves` (the register part the
/// entry stored); the others index the caller's stack arguments at `stack`.
///
/// # Safety
/// `sources` are the plan's argument sources; `saves` holds the plan's register part and
/// `stack` the caller's stack arguments for this very signature; `scratch` has
/// [`scratch_bytes`]`(sources.len(), ..)` writable bytes for this plan, 16-aligned.
pub(crate) unsafe fn decode_args(
    plan: &CallPlan,
    sources: &[ArgSource],
    saves: *mut u8,
    stack: *const u8,
    scratch: *mut u8,
) -> (*mut u8, *mut *mut u8) {
    let locate = |dst: u32| -> *mut u8 {
        // SAFETY: the plan's offsets lie within the register part or the caller's stack
        // arguments (the function's contract).
        unsafe {
            if dst < plan.reg_block {
                saves.add(dst as usize)
            } else {
                stack.add((dst - plan.reg_block) as usize).cast_mut()
            }
        }
    };
    // SAFETY: every write below stays in the scratch, sized by `scratch_bytes` for this
    // plan; reads come from slots the plan names, each `len` bytes long.
    unsafe {
        core::ptr::write_bytes(scratch, 0, RET_BUF);
        let ptrs = scratch.add(PTRS).cast::<*mut u8>();
        let assembly = scratch.add(assembly_offset(sources.len()));
        for (i, &source) in sources.iter().enumerate() {
            let ptr = match source {
                ArgSource::Direct(dst) => locate(dst),
                ArgSource::Reference(dst) => locate(dst).cast::<*mut u8>().read_unaligned(),
                ArgSource::Assembled { at, start, end } => {
                    let temp = assembly.add(at as usize);
                    for m in &plan.moves[start as usize..end as usize] {
                        core::ptr::copy_nonoverlapping(
                            locate(m.dst),
                            temp.add(m.src as usize),
                            m.len as usize,
                        );
                    }
                    temp
                }
            };
            ptrs.add(i).write(ptr);
        }
        let ret = match plan.ret {
            RetPlan::Indirect { dst } => locate(dst).cast::<*mut u8>().read_unaligned(),
            _ => scratch,
        };
        (ret, ptrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A register block with two words and two 16-byte vectors.
    #[derive(Default)]
    struct Block {
        int: [[u8; WORD]; 2],
        vec: [[u8; 16]; 2],
    }

    impl RetBlock for Block {
        fn reg(&mut self, reg: RetReg, _len: u8) -> &mut [u8] {
            match reg {
                RetReg::Int0 => &mut self.int[0],
                RetReg::Int1 => &mut self.int[1],
                RetReg::Vec0 => &mut self.vec[0],
                _ => &mut self.vec[1],
            }
        }
    }

    #[test]
    fn results_go_between_registers_and_buffer_by_the_plan() {
        // A 12-byte struct: 8 bytes from Vec0, 4 from Int0.
        let plan = RetPlan::regs(&[(RetReg::Vec0, 0, 8), (RetReg::Int0, 8, 4)], None);
        let value: [u8; 12] = core::array::from_fn(|i| i as u8 + 1);
        let mut block = Block::default();
        let mut back = [0xEEu8; 16];
        // SAFETY: `value` holds the 12-byte type and `back` 16 bytes.
        unsafe {
            load_ret(&plan, &mut block, value.as_ptr());
            store_ret(&plan, &mut block, back.as_mut_ptr());
        }
        assert_eq!(block.vec[0][..8], value[..8]);
        assert_eq!(block.int[0][..4], value[8..]);
        assert_eq!(back[..12], value, "the value comes back");
        assert_eq!(back[12..], [0xEE; 4], "nothing written past it");

        // A signed char is widened to a machine word both ways.
        let plan = RetPlan::regs(&[(RetReg::Int0, 0, 1)], Some(true));
        let mut block = Block::default();
        let mut word = [0u8; WORD];
        // SAFETY: one byte read, one word written.
        unsafe {
            load_ret(&plan, &mut block, [0x80u8].as_ptr());
            store_ret(&plan, &mut block, word.as_mut_ptr());
        }
        assert_eq!(usize::from_ne_bytes(block.int[0]), usize::MAX - 127);
        assert_eq!(usize::from_ne_bytes(word), usize::MAX - 127);

        // An indirect result hands back the buffer's address.
        let mut block = Block::default();
        let buffer = [0u8; 32];
        // SAFETY: nothing is read for an indirect return.
        unsafe { load_ret(&RetPlan::Indirect { dst: 0 }, &mut block, buffer.as_ptr()) };
        assert_eq!(usize::from_ne_bytes(block.int[0]), buffer.as_ptr() as usize);
    }

    #[test]
    fn extension() {
        let sign = |bits: u64| bits as usize;
        assert_eq!(extend(0xFFFF_FF80, 1, false), 0x80);
        assert_eq!(extend(0x0000_0180, 1, true), usize::MAX - 127);
        assert_eq!(extend(0x1234_8000, 2, true), usize::MAX - 0x7FFF);
        assert_eq!(extend(0x1234_8000, 2, false), 0x8000);
        assert_eq!(extend(usize::MAX, WORD as u8, false), usize::MAX);
        assert_eq!(extend(sign(0x7FFF_FFFF), 4, true), 0x7FFF_FFFF);
    }

    #[test]
    fn loads_extend_by_width() {
        let bytes = [0x80u8, 0xFF, 0xFF, 0xFF, 0x12, 0x34, 0x56, 0x78];
        // SAFETY: every read stays within `bytes`.
        unsafe {
            assert_eq!(load_zx(bytes.as_ptr(), 1), 0x80);
            assert_eq!(load_sx(bytes.as_ptr(), 1), -128);
            assert_eq!(load_zx(bytes.as_ptr(), 2), 0xFF80);
            assert_eq!(load_sx(bytes.as_ptr(), 2), -128);
            assert_eq!(load_sx(bytes.as_ptr(), 4), -128);
            assert_eq!(load_zx(bytes.as_ptr(), 3), 0xFF_FF80);
            assert_eq!(load_zx(bytes.as_ptr(), 4), 0xFFFF_FF80);
        }
    }
}
