//! Call plans: where every argument and the return value go, decided once per Cif.
//!
//! An ABI classifier (`src/arch/<arch>/`) turns a signature into a [`CallPlan`]; the native
//! executor only follows it. The plan is written in terms of a *frame*: the bytes an
//! outgoing call builds below the stack pointer before it loads the argument registers.
//!
//! ```text
//!  frame offset 0                 reg_block             reg_block + stack_size    frame_size
//!  | argument registers (per ABI) | stack arguments, in order | by-reference copies, sret |
//! ```
//!
//! The register part's layout belongs to the ABI (System V: six GPRs then eight SSE
//! eightbytes; Win64: four XMM eightbytes, then the four home slots that begin the stack
//! arguments; i386: eax, edx, ecx in 4-byte slots; AArch64: x0-x7, x8, q0-q7; 32-bit ARM:
//! s0..s15, then r0..r3 right below the stack arguments). The executor loads registers from
//! the register part, then points the
//! stack pointer at `reg_block`, so the stack arguments sit where the callee expects them.
//!
//! A dynamic closure reads the same plan backwards: its entry saves the argument registers
//! in the register-part layout, and a frame offset at or past `reg_block` is found in the
//! caller's stack arguments.

use alloc::vec::Vec;

use smallvec::SmallVec;

use super::types::{Type, TypeKind};

/// How one piece of an argument gets into the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoveOp {
    /// Load `len` (1..=8) bytes, zero-extend to a slot, store the slot. A slot is 8 bytes on
    /// x86_64 and AArch64 and 4 bytes on i386 and ARM (where `len` is at most 4).
    ZeroExtend,
    /// Load `len` (1, 2 or 4) bytes, sign-extend to a slot (8 bytes on x86_64, 4 on i386 and
    /// ARM), store the slot.
    SignExtend,
    /// Copy `len` bytes as they are (an argument passed in stack memory, the whole of a
    /// 16-byte register value, or on AArch64 a composite of up to 16 bytes into one or two
    /// consecutive x register slots, the bytes past it left unspecified).
    Copy,
    /// Copy the argument's `len` bytes to the frame at `copy`, then store the address of that
    /// copy (8 bytes) at `dst`: an argument passed by reference to a caller-owned copy.
    Reference {
        /// Frame offset of the copy.
        copy: u32,
    },
}

/// One step of marshalling: `len` bytes at `src` within argument `arg`'s value go to frame
/// offset `dst` by `op`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    /// The argument index.
    pub arg: u16,
    /// Byte offset within the argument's value (a register-sized piece: below 64).
    pub src: u16,
    /// What to do.
    pub op: MoveOp,
    /// Frame offset of the destination.
    pub dst: u32,
    /// Number of bytes read from the argument.
    pub len: u32,
}

/// The register a part of a returned value comes back in. The names are the ABI's:
///
/// | | x86_64 | i386 | AArch64 | ARM (VFP) |
/// |-|--------|------|---------|-----------|
/// | `Int0`, `Int1` | rax, rdx | eax, edx | x0, x1 | r0, r1 |
/// | `Vec0`..`Vec3` | xmm0, xmm1 | st(0) | v0..v3 | d0..d3 |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RetReg {
    /// The first integer return register (rax; eax on i386).
    #[default]
    Int0,
    /// The second integer return register (rdx; edx on i386).
    Int1,
    /// The first floating-point return register: xmm0 (up to 16 bytes) on x86_64; on i386
    /// the x87 st(0), holding a `float` (`len` 4) or a `double` (`len` 8).
    Vec0,
    /// The second vector return register (xmm1).
    Vec1,
    /// The third vector return register (homogeneous aggregates on ARM: v2, d2).
    Vec2,
    /// The fourth vector return register (homogeneous aggregates on ARM: v3, d3).
    Vec3,
}

/// A part of the return value: `len` bytes at `off` in the value come from `reg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RetPart {
    /// Where the bytes come from.
    pub reg: RetReg,
    /// Byte offset in the returned value.
    pub off: u8,
    /// Number of bytes (1..=16).
    pub len: u8,
}

/// How the return value comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetPlan {
    /// Nothing (`void`).
    Void,
    /// In registers, one to four parts (four: a homogeneous aggregate on ARM).
    Regs {
        /// The parts; `parts[..count]` are used (the rest are `RetPart::default()`).
        parts: [RetPart; 4],
        /// How many parts.
        count: u8,
        /// For integers narrower than a register: the value is widened (sign-extended if
        /// `true`, else zero-extended) to a full register-sized `ffi_arg` in the return
        /// buffer, as libffi does. `None` for everything else.
        widen: Option<bool>,
    },
    /// Through memory: the caller passes the address of the return buffer as a hidden
    /// argument at frame offset `dst` (on AArch64 the x8 slot); on x86 the callee returns
    /// that address in the first integer register (AArch64 callees need not: executors
    /// never read it back).
    Indirect {
        /// Frame offset of the hidden pointer.
        dst: u32,
    },
    /// On the x87 register stack: one value (`long double`, st0) or two (`long double
    /// _Complex`: real part in st0, imaginary part in st1), each stored in 16 bytes.
    X87 {
        /// 1 or 2.
        count: u8,
    },
}

impl RetPlan {
    /// A return in registers from `(register, offset, length)` parts, in order: at most four
    /// (any more are ignored, and no classifier makes more).
    #[inline]
    pub fn regs(parts: &[(RetReg, u8, u8)], widen: Option<bool>) -> RetPlan {
        let mut all = [RetPart::default(); 4];
        for (slot, &(reg, off, len)) in all.iter_mut().zip(parts) {
            *slot = RetPart { reg, off, len };
        }
        RetPlan::Regs {
            parts: all,
            count: parts.len().min(4) as u8,
            widen,
        }
    }
}

/// Where a closure finds one incoming argument, derived from the plan's moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgSource {
    /// The value is in one place: the frame location of the argument's single move.
    Direct(u32),
    /// The value is spread over the moves `start..end` (a struct in two registers) and is
    /// assembled in the closure's scratch area at offset `at`.
    Assembled {
        /// Scratch offset of the assembled copy.
        at: u32,
        /// First move of the argument.
        start: u32,
        /// One past its last move.
        end: u32,
    },
    /// The frame location holds the address of the value.
    Reference(u32),
}

/// The moves of a plan: inline up to eight (no allocation for common signatures).
pub type Moves = SmallVec<[Move; 8]>;

const _: () = assert!(core::mem::size_of::<Move>() == 20);

/// The classification of a whole signature for one ABI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallPlan {
    /// Marshalling steps, grouped by argument in argument order.
    pub moves: Moves,
    /// How the return value comes back.
    pub ret: RetPlan,
    /// Bytes of the register part at the start of the frame.
    pub reg_block: u32,
    /// Bytes of stack arguments after the register part (a multiple of 16).
    pub stack_size: u32,
    /// Total frame bytes (a multiple of 16), copies and the sret scratch included.
    pub frame_size: u32,
    /// Frame offset of scratch space for an indirect return when the caller gives no
    /// return buffer.
    pub ret_scratch: u32,
    /// Bytes of stack arguments the callee removes when it returns (`ret N` on i386:
    /// stdcall, fastcall, thiscall, pascal, register, and the hidden struct-return pointer
    /// of System V i386). Always 0 on x86_64.
    pub callee_pop: u32,
}

impl Default for CallPlan {
    /// An empty plan (no arguments, void return), to be filled by a classifier.
    fn default() -> Self {
        Self {
            moves: Moves::new(),
            ret: RetPlan::Void,
            reg_block: 0,
            stack_size: 0,
            frame_size: 0,
            ret_scratch: 0,
            callee_pop: 0,
        }
    }
}

impl CallPlan {
    /// Classifies a signature into a new plan with `classifier`, an ABI's classifier that
    /// fills a plan (its moves already cleared) once the argument count and the return
    /// type passed the checks every ABI shares. `nfixed` is the number of fixed arguments
    /// of a variadic signature (`None` if it is not variadic).
    ///
    /// # Errors
    /// A [`PlanError`] naming the argument (or the return) that cannot be passed by value.
    pub fn build(
        classifier: impl FnOnce(&[Type], &Type, Option<usize>, &mut CallPlan) -> Result<(), PlanError>,
        args: &[Type],
        ret: &Type,
        nfixed: Option<usize>,
    ) -> Result<Self, PlanError> {
        let mut plan = Self::default();
        plan.rebuild(classifier, args, ret, nfixed)?;
        Ok(plan)
    }

    /// [`build`](CallPlan::build) into this plan, reusing its storage (left unspecified on
    /// error).
    ///
    /// # Errors
    /// As [`build`](CallPlan::build).
    pub fn rebuild(
        &mut self,
        classifier: impl FnOnce(&[Type], &Type, Option<usize>, &mut CallPlan) -> Result<(), PlanError>,
        args: &[Type],
        ret: &Type,
        nfixed: Option<usize>,
    ) -> Result<(), PlanError> {
        check_count(args.len())?;
        check_ret(ret)?;
        self.moves.clear();
        self.callee_pop = 0;
        classifier(args, ret, nfixed, self)
    }

    /// A classifier's last step, once the moves are made: records the return plan `ret`,
    /// the register part's and the stack arguments' sizes, and lays out the rest of the
    /// frame: the return scratch at `ret_scratch` (16-aligned, past everything the moves
    /// write), an indirect result's buffer after it, the whole rounded up to 16.
    ///
    /// # Errors
    /// A [`PlanError`] for the return if the frame would overflow.
    #[inline]
    pub(crate) fn finish(
        &mut self,
        ret: RetPlan,
        ret_ty: &Type,
        reg_block: u32,
        stack_size: u32,
        ret_scratch: u32,
    ) -> Result<(), PlanError> {
        let mut end = ret_scratch;
        if let RetPlan::Indirect { .. } = ret {
            end = frame_add(end, ret_ty.size(), None)?;
        }
        self.ret = ret;
        self.reg_block = reg_block;
        self.stack_size = stack_size;
        self.frame_size = frame_add(0, (end as usize).next_multiple_of(16), None)?;
        self.ret_scratch = ret_scratch;
        Ok(())
    }

    /// The moves of argument `arg`: a binary search, as the moves are in argument order (a
    /// loop over every argument stays O(n log n); a scan made compiling a 65536-argument
    /// Cif take seconds).
    pub fn moves_of(&self, arg: usize) -> &[Move] {
        let start = self.moves.partition_point(|m| usize::from(m.arg) < arg);
        let len = self.moves[start..].partition_point(|m| usize::from(m.arg) == arg);
        &self.moves[start..start + len]
    }

    /// Where a closure finds each of `arg_sizes.len()` arguments, and the bytes of scratch
    /// it needs to assemble the split ones (a multiple of 16).
    pub fn arg_sources(
        &self,
        arg_sizes: impl ExactSizeIterator<Item = usize>,
    ) -> (Vec<ArgSource>, u32) {
        let mut sources = Vec::with_capacity(arg_sizes.len());
        let mut scratch = 0u32;
        let mut start = 0usize;
        for (arg, size) in arg_sizes.enumerate() {
            let count = self.moves[start..]
                .iter()
                .take_while(|m| m.arg as usize == arg)
                .count();
            let end = start + count;
            let moves = &self.moves[start..end];
            let source = match moves {
                [m] => match m.op {
                    MoveOp::Reference { .. } => ArgSource::Reference(m.dst),
                    _ => ArgSource::Direct(m.dst),
                },
                // The same value stored twice (Win64 floats: XMM and GPR): a closure reads
                // the first copy, which is the one a prototyped caller sets.
                [first, rest @ ..]
                    if rest
                        .iter()
                        .all(|m| m.src == first.src && m.len == first.len) =>
                {
                    ArgSource::Direct(first.dst)
                }
                _ => {
                    let at = scratch;
                    scratch += (size as u32).next_multiple_of(16);
                    ArgSource::Assembled {
                        at,
                        start: start as u32,
                        end: end as u32,
                    }
                }
            };
            sources.push(source);
            start = end;
        }
        (sources, scratch)
    }
}

/// Why a type cannot be passed or returned by value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueTypeError {
    /// `void` as an argument.
    Void,
    /// An array: C passes arrays by address; wrap it in a struct to pass it by value.
    Array,
    /// Alignment above 16 bytes: no x86_64 ABI passes such values by value portably.
    OverAligned,
    /// A `float` or an integer narrower than `int` among the variadic arguments: C promotes
    /// those (to `double` and `int`), so the Cif must name the promoted type.
    NotPromoted,
    /// The value does not fit the frame limits (sizes are 32-bit in a plan), or the
    /// signature has more than [`MAX_ARGS`] arguments.
    TooLarge,
    /// A typed signature (a Rust function-pointer type) with `long double` in it, on an ABI
    /// where Rust passes [`LongDouble`](crate::dynamic::LongDouble) differently from C's
    /// `long double` (System V: a 16-byte struct in two registers, not x87 in memory;
    /// AAPCS64: a 16-byte struct in two x registers, not a q register).
    NoRustEquivalent,
    /// The ABI has no way to pass or return this type: `__int128` on i386, or a struct
    /// returned through the pascal or register conventions (which no reference compiler
    /// defines).
    Unsupported,
    /// A variadic signature in a convention where the callee pops its arguments: only the
    /// caller-pops conventions (cdecl: i386 System V and ms_cdecl) can be variadic.
    NotVariadicAbi,
}

/// The most arguments a signature may have (argument indices are 16-bit in a plan).
pub const MAX_ARGS: usize = u16::MAX as usize + 1;

/// Refuses signatures with more than [`MAX_ARGS`] arguments.
fn check_count(nargs: usize) -> Result<(), PlanError> {
    if nargs > MAX_ARGS {
        return Err(PlanError {
            arg: Some(MAX_ARGS),
            reason: ValueTypeError::TooLarge,
        });
    }
    Ok(())
}

impl core::fmt::Display for ValueTypeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Void => "void cannot be an argument type",
            Self::Array => "arrays cannot be passed by value (wrap the array in a struct)",
            Self::OverAligned => "types aligned to more than 16 bytes cannot be passed by value",
            Self::NotPromoted => {
                "variadic arguments must be promoted: use f64 for float and i32/u32 for \
                 narrower integers"
            }
            Self::TooLarge => {
                "the argument frame would exceed 4 GiB, or there are over 65536 arguments"
            }
            Self::NoRustEquivalent => {
                "long double has no Rust equivalent in this ABI: a Rust function-pointer type \
                 passes LongDouble as a 16-byte struct; describe the signature with a Cif instead"
            }
            Self::Unsupported => "this ABI has no way to pass or return this type",
            Self::NotVariadicAbi => {
                "only caller-pops conventions (cdecl, ms_cdecl) can call variadic functions"
            }
        })
    }
}

/// A classifier's refusal: which value (an argument index, or `None` for the return type)
/// and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanError {
    /// The argument index, or `None` for the return value.
    pub arg: Option<usize>,
    /// Why.
    pub reason: ValueTypeError,
}

/// Checks what every ABI requires of an argument type: not void, not an array, alignment at
/// most 16, and, for variadic arguments, C's default promotions already applied.
pub(crate) fn check_arg(index: usize, ty: &Type, variadic: bool) -> Result<(), PlanError> {
    let reason = match ty.kind() {
        TypeKind::Void => Some(ValueTypeError::Void),
        TypeKind::Array => Some(ValueTypeError::Array),
        TypeKind::F32 | TypeKind::U8 | TypeKind::I8 | TypeKind::U16 | TypeKind::I16 if variadic => {
            Some(ValueTypeError::NotPromoted)
        }
        _ if ty.align() > 16 => Some(ValueTypeError::OverAligned),
        _ => None,
    };
    match reason {
        Some(reason) => Err(PlanError {
            arg: Some(index),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks a return type: anything but an array or an over-aligned type.
fn check_ret(ty: &Type) -> Result<(), PlanError> {
    let reason = match ty.kind() {
        TypeKind::Array => Some(ValueTypeError::Array),
        _ if ty.align() > 16 => Some(ValueTypeError::OverAligned),
        _ => None,
    };
    match reason {
        Some(reason) => Err(PlanError { arg: None, reason }),
        None => Ok(()),
    }
}

/// `a + b` for frame arithmetic, refusing frames past 4 GiB.
pub(crate) fn frame_add(a: u32, b: usize, arg: Option<usize>) -> Result<u32, PlanError> {
    u32::try_from(b)
        .ok()
        .and_then(|b| a.checked_add(b))
        .filter(|&sum| sum <= u32::MAX - 64)
        .ok_or(PlanError {
            arg,
            reason: ValueTypeError::TooLarge,
        })
}

/// The move that loads an integer or pointer scalar of `len` bytes into an 8-byte slot.
pub(crate) fn scalar_op(kind: TypeKind, len: u32) -> MoveOp {
    if kind.is_signed() && len < 8 {
        MoveOp::SignExtend
    } else {
        MoveOp::ZeroExtend
    }
}

/// The widening of a returned integer narrower than 8 bytes (`Some(signed)`), if any.
pub(crate) fn ret_widen(ty: &Type) -> Option<bool> {
    let kind = ty.kind();
    (matches!(kind, TypeKind::Pointer) || kind.is_integer())
        .then_some(kind.is_signed())
        .filter(|_| ty.size() < 8)
}

/// gcc's `aapcs_vfp_sub_candidate`, which AAPCS64 (homogeneous floating-point aggregates)
/// and the AAPCS VFP variant (VFP candidates) share: `ty` as `count` floating-point
/// elements of one base, as `(base, bytes per element, count)`, or `None` if it holds
/// anything else, mixes bases, has padding at any level (an over-aligned member, even
/// inside a union, disqualifies it) or holds more than 4. A union counts as many elements
/// as its largest member. `base_of` gives a scalar's base and size, or `None`.
pub(crate) fn homogeneous_float<B: Copy + PartialEq>(
    ty: &Type,
    base_of: &impl Fn(&Type) -> Option<(B, usize)>,
) -> Option<(B, usize, usize)> {
    let (base, bytes, count) = match ty.kind() {
        TypeKind::Complex | TypeKind::Array => {
            let (base, bytes, count) = homogeneous_float(ty.element()?, base_of)?;
            (base, bytes, count.checked_mul(ty.len())?)
        }
        TypeKind::Struct | TypeKind::Union => {
            let mut found: Option<(B, usize)> = None;
            let mut count = 0usize;
            for member in ty.members() {
                let (b, bytes, n) = homogeneous_float(member, base_of)?;
                if found.is_some_and(|(f, _)| f != b) {
                    return None;
                }
                found = Some((b, bytes));
                count = if ty.kind() == TypeKind::Struct {
                    count + n
                } else {
                    count.max(n)
                };
                if count > 4 {
                    return None;
                }
            }
            let (base, bytes) = found?;
            (base, bytes, count)
        }
        _ => {
            let (base, bytes) = base_of(ty)?;
            return Some((base, bytes, 1));
        }
    };
    // No padding: the type is exactly its elements.
    (count <= 4 && ty.size() == count * bytes).then_some((base, bytes, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_of_finds_each_arguments_moves_quickly() {
        // Found by fuzz/fuzz_targets/types_cif.rs: Cif::compile on 65536 arguments called
        // moves_of per argument, and a scan per call made that quadratic (a timeout).
        let mut args: Vec<Type> = (0..MAX_ARGS).map(|_| Type::I32).collect();
        args[0] = Type::structure([Type::F64, Type::I64]).unwrap(); // xmm0 and rdi
        let plan = crate::arch::x86::sysv64::plan(&args, &Type::VOID, None).unwrap();
        let mut expected = plan.moves.iter();
        for arg in 0..MAX_ARGS {
            let moves = plan.moves_of(arg);
            assert_eq!(moves.len(), if arg == 0 { 2 } else { 1 }, "argument {arg}");
            for m in moves {
                assert_eq!(Some(m), expected.next());
            }
        }
        assert!(plan.moves_of(MAX_ARGS).is_empty());
        assert!(CallPlan::default().moves_of(0).is_empty());
    }
}
