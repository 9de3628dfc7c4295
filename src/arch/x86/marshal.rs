//! What both plan executors (x86_64's `dyncall/`, i686's `dyncall32/`) do the same way, in
//! machine words (`usize`: 8 bytes on x86_64, 4 on i686): loading argument bytes zero- or
//! sign-extended to a word, narrowing a returned word to libffi's `ffi_arg` rules, and
//! filling a call frame by a plan.

use crate::dynamic::plan::{CallPlan, MoveOp, RetPlan};

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
