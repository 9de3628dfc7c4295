//! What every plan executor (x86_64's `x86/dyncall/`, i686's `x86/dyncall32/`, aarch64's
//! `aarch64/dyncall/`, 32-bit Arm's `arm/dyncall/`) does the same way, in machine words
//! (`usize`: 8 bytes on x86_64 and aarch64, 4 on i686 and Arm): loading argument bytes zero- or
//! sign-extended to a word, narrowing a returned word to libffi's `ffi_arg` rules, filling
//! a call frame by a plan, and, in a closure entry, the scratch layout and the argument
//! pointers decoded from the incoming frame.

use crate::dynamic::plan::{ArgSource, CallPlan, MoveOp, RetPlan};

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
