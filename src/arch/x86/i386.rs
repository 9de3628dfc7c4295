//! i386 classification (System V i386 psABI and the Windows-era conventions gcc and libffi
//! know on 32-bit x86) into a [`CallPlan`].
//!
//! Host-independent: it reads only type layouts, so its tables are tested on any host (on
//! x86_64 the layouts are x86_64's, which is why the tests below name sizes through the
//! types).
//!
//! Frame layout of a call (and of a closure's register save area):
//!
//! ```text
//!  0x00  eax edx ecx pad     the argument registers, 4 bytes each (only fastcall,
//!                            thiscall and register use them)
//!  0x10  stack arguments     (the callee's [esp + 4] after the call)
//! ```
//!
//! Every stack argument takes its size rounded up to 4 bytes, at a 4-byte aligned offset
//! (gcc aligns no i386 argument beyond 4, not even a 16-aligned struct). Integers narrower
//! than 4 bytes are widened to 4 (gcc callees re-extend them, clang callees rely on it).
//!
//! | convention   | registers (in order)  | stack order     | callee pops      | struct return pointer |
//! |--------------|-----------------------|-----------------|------------------|-----------------------|
//! | `SysV`       | none                  | right to left   | the sret pointer | first stack slot      |
//! | `MsCdecl`    | none                  | right to left   | nothing          | first stack slot      |
//! | `StdCall`    | none                  | right to left   | everything       | first stack slot      |
//! | `FastCall`   | ecx, edx              | right to left   | its stack        | ecx                   |
//! | `ThisCall`   | ecx                   | right to left   | its stack        | ecx                   |
//! | `Pascal`     | none                  | left to right   | everything       | refused               |
//! | `Register`   | eax, edx, ecx         | left to right   | everything       | refused               |
//!
//! Register assignment follows the compilers that define each convention:
//!
//! - fastcall and thiscall follow gcc (`-m32`, checked by compiling and reading the
//!   assembly): an integer or pointer of at most 4 bytes takes the next register if one is
//!   left; `float`, `double`, `long double` and `_Complex` go to the stack and take no
//!   register; a 64-bit integer goes to the stack and uses up two registers; a struct or
//!   union goes to the stack and uses up one register per 4 bytes (so after a 1..4-byte
//!   struct as the first fastcall argument, the next integer is in edx), except a struct
//!   gcc gives a floating-point mode (a single `float`, `double`, `long double` or complex
//!   member, possibly nested), which uses up nothing. libffi differs: it stops using
//!   registers after any struct.
//! - register (Borland's `register`, which gcc does not implement) follows libffi: integers
//!   and pointers of at most 4 bytes take eax, edx, ecx in order; nothing else uses them up.
//!
//! Results: integers and pointers in eax (64-bit: eax low, edx high), `float`, `double` and
//! `long double` in x87 st(0), `_Complex float` in eax:edx (smaller complex types in eax),
//! every struct or union and the larger complex types through a hidden pointer, which the
//! callee returns in eax. On Linux this is also what gcc's `ms_abi` does on i386: small
//! structs are not returned in registers (MSVC's Windows rule), and the caller pops the
//! hidden pointer, as libffi's `FFI_MS_CDECL` on non-Windows i386 builds. On Windows every
//! convention but `SysV` returns small aggregates in registers as mingw-w64's gcc does
//! ([`AggregateReturn::Registers`]).

use crate::dynamic::plan::{
    check_arg, frame_add, ret_widen, scalar_op, CallPlan, Move, MoveOp, PlanError, RetPlan, RetReg,
    ValueTypeError,
};
use crate::dynamic::types::{Type, TypeKind};

/// Frame offset of the eax slot.
pub const EAX: u32 = 0;
/// Frame offset of the edx slot.
pub const EDX: u32 = 4;
/// Frame offset of the ecx slot.
pub const ECX: u32 = 8;
/// Bytes of the register part of the frame.
pub const REG_BLOCK: u32 = 16;

/// The i386 calling conventions (libffi's i386 ABI set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Convention {
    /// System V i386 (cdecl): the default C ABI of i386 Unix.
    SysV,
    /// cdecl as Microsoft defines it (gcc's `ms_abi` on i386): the caller pops the hidden
    /// struct-return pointer.
    MsCdecl,
    /// `__stdcall`.
    StdCall,
    /// `__fastcall` (ecx, edx).
    FastCall,
    /// `__thiscall` (ecx).
    ThisCall,
    /// Pascal: left to right, callee pops.
    Pascal,
    /// Borland `register`: eax, edx, ecx, then left to right on the stack, callee pops.
    Register,
}

impl Convention {
    /// The argument registers' frame offsets, in assignment order.
    pub fn registers(self) -> &'static [u32] {
        match self {
            Self::FastCall => &[ECX, EDX],
            Self::ThisCall => &[ECX],
            Self::Register => &[EAX, EDX, ECX],
            _ => &[],
        }
    }

    /// Whether the first argument is pushed first (ends up at the highest address).
    pub fn left_to_right(self) -> bool {
        matches!(self, Self::Pascal | Self::Register)
    }

    /// Whether the callee pops its stack arguments.
    pub fn callee_pops(self) -> bool {
        !matches!(self, Self::SysV | Self::MsCdecl)
    }

    /// Whether a value of `ty` may travel in an argument register.
    fn in_register(ty: &Type) -> bool {
        matches!(ty.kind(), TypeKind::Pointer) || (ty.kind().is_integer() && ty.size() <= 4)
    }

    /// Registers a stack argument of `ty` uses up (gcc's fastcall and thiscall).
    fn registers_used_by_stack_arg(self, ty: &Type) -> usize {
        if !matches!(self, Self::FastCall | Self::ThisCall) {
            return 0;
        }
        match ty.kind() {
            TypeKind::U64 | TypeKind::I64 => 2,
            TypeKind::Struct | TypeKind::Union if !gcc_mode(ty).is_float() => ty.size().div_ceil(4),
            _ => 0,
        }
    }
}

/// Where structs, unions and arrays of 1, 2, 4 or 8 bytes come back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggregateReturn {
    /// Every aggregate through a hidden pointer: i386 System V, and gcc's `ms_abi` off
    /// Windows.
    Memory,
    /// As mingw-w64's gcc returns them on Windows, in every convention (its
    /// `MS_AGGREGATE_RETURN`): an aggregate of 1, 2, 4 or 8 bytes that gcc gives an integer
    /// machine mode in eax (eax:edx for 8 bytes); one whose only scalar is a `float`,
    /// `double` or `long double` (a floating-point mode) in st(0), `long double` included
    /// although it has 12 bytes; `_Complex float` wrapped in structs in eax:edx; every
    /// other aggregate through a hidden pointer, as before.
    Registers,
}

impl AggregateReturn {
    /// The target's rule for `conv`: [`Registers`](Self::Registers) on Windows, except for
    /// [`Convention::SysV`], which keeps i386 System V's rule everywhere (libffi's
    /// `FFI_SYSV`); [`Memory`](Self::Memory) elsewhere.
    pub fn native(conv: Convention) -> Self {
        if cfg!(windows) && conv != Convention::SysV {
            Self::Registers
        } else {
            Self::Memory
        }
    }
}

/// gcc's machine-mode class for a type (`compute_record_mode`, `mode_for_array`), as far as
/// i386 needs it: a floating-point mode uses up no fastcall/thiscall register, unlike the
/// integer modes and BLKmode, and decides where mingw-w64 returns a small aggregate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// An integer mode (QI, HI, SI, DI, TI): integers, pointers, and aggregates of 1, 2, 4
    /// or 8 bytes without a BLKmode member.
    Int,
    /// A floating-point or complex mode (SF, DF, XF, SC, DC, XC), of the scalar or of the
    /// only member as large as its aggregate: the scalar's kind.
    Float(TypeKind),
    /// BLKmode: held in memory.
    Blk,
}

impl Mode {
    fn is_float(self) -> bool {
        matches!(self, Mode::Float(_))
    }
}

/// The mode gcc gives `ty` on i386. A struct takes the mode of its member as large as
/// itself; a union only an integer one (else an integer mode of its size); any BLKmode
/// member makes the aggregate BLKmode; a one-element array takes its element's mode;
/// otherwise an integer mode of the size if there is one (1, 2, 4, 8 bytes), else BLKmode.
fn gcc_mode(ty: &Type) -> Mode {
    let int_of_size = |size| {
        if matches!(size, 1 | 2 | 4 | 8) {
            Mode::Int
        } else {
            Mode::Blk
        }
    };
    match ty.kind() {
        kind @ (TypeKind::F32 | TypeKind::F64 | TypeKind::LongDouble | TypeKind::Complex) => {
            Mode::Float(kind)
        }
        TypeKind::Struct | TypeKind::Union => {
            let mut whole = None;
            for member in ty.members() {
                let mode = gcc_mode(member);
                if mode == Mode::Blk {
                    return Mode::Blk;
                }
                if member.size() == ty.size() && whole.is_none() {
                    whole = Some(mode);
                }
            }
            match (ty.kind(), whole) {
                (TypeKind::Struct, Some(mode)) | (TypeKind::Union, Some(mode @ Mode::Int)) => mode,
                _ => int_of_size(ty.size()),
            }
        }
        TypeKind::Array if ty.len() == 1 => ty.element().map_or(Mode::Blk, gcc_mode),
        TypeKind::Array => int_of_size(ty.size()),
        _ => Mode::Int,
    }
}

/// Whether rustc returns a value of `ty` where mingw-w64's gcc does (i686 Windows, where
/// both return some aggregates in registers). rustc returns every 1-, 2-, 4- or 8-byte
/// aggregate in registers, in st(0) if it is a lone `f32` or `f64` (a union of one
/// included), else in eax (eax:edx); gcc keeps BLKmode ones in memory and returns unions in
/// eax whatever they hold.
pub fn rustc_returns_like_mingw(ty: &Type) -> bool {
    if !matches!(
        ty.kind(),
        TypeKind::Struct | TypeKind::Union | TypeKind::Array
    ) || !matches!(ty.size(), 1 | 2 | 4 | 8)
    {
        return true;
    }
    match ty.kind() {
        TypeKind::Union => {
            gcc_mode(ty) != Mode::Blk
                && !ty
                    .members()
                    .iter()
                    .any(|m| gcc_mode(m).is_float() && m.size() == ty.size())
        }
        _ => gcc_mode(ty) != Mode::Blk,
    }
}

/// Classifies a signature for `conv` (see [`CallPlan::build`]).
///
/// # Errors
/// A [`PlanError`] naming the argument (or the return) that cannot be passed by value.
pub fn plan(
    conv: Convention,
    args: &[Type],
    ret: &Type,
    nfixed: Option<usize>,
) -> Result<CallPlan, PlanError> {
    CallPlan::build(
        |args, ret, nfixed, plan| classify_signature(conv, args, ret, nfixed, plan),
        args,
        ret,
        nfixed,
    )
}

/// How a value of `ty` comes back, and whether through a hidden pointer.
fn ret_plan(ty: &Type, aggregates: AggregateReturn) -> Result<RetPlan, ValueTypeError> {
    let one = |reg, len, widen| RetPlan::regs(&[(reg, 0, len)], widen);
    let int64 = RetPlan::regs(&[(RetReg::Int0, 0, 4), (RetReg::Int1, 4, 4)], None);
    Ok(match ty.kind() {
        TypeKind::Void => RetPlan::Void,
        TypeKind::U128 | TypeKind::I128 => return Err(ValueTypeError::Unsupported),
        TypeKind::U64 | TypeKind::I64 => int64,
        TypeKind::F32 => one(RetReg::Vec0, 4, None),
        TypeKind::F64 => one(RetReg::Vec0, 8, None),
        TypeKind::LongDouble => RetPlan::X87 { count: 1 },
        // `_Complex float` (libffi also returns smaller complex types in registers, but
        // every complex Type has a floating-point element).
        TypeKind::Complex if ty.size() == 8 => int64,
        TypeKind::Struct | TypeKind::Union | TypeKind::Array
            if aggregates == AggregateReturn::Registers =>
        {
            match (gcc_mode(ty), ty.size()) {
                (Mode::Int, 1 | 2 | 4) => one(RetReg::Int0, ty.size() as u8, None),
                (Mode::Int, 8) => int64,
                // The only scalar: long double as the x87 value; float or double in st(0),
                // read back at its own width; _Complex float in eax:edx.
                (Mode::Float(TypeKind::LongDouble), _) => RetPlan::X87 { count: 1 },
                (Mode::Float(TypeKind::Complex), 8) => int64,
                (Mode::Float(TypeKind::F32 | TypeKind::F64), 4 | 8) => {
                    one(RetReg::Vec0, ty.size() as u8, None)
                }
                _ => RetPlan::Indirect { dst: 0 },
            }
        }
        TypeKind::Complex | TypeKind::Struct | TypeKind::Union | TypeKind::Array => {
            RetPlan::Indirect { dst: 0 } // the pointer's place is decided below
        }
        _ => one(RetReg::Int0, ty.size() as u8, ret_widen(ty)),
    })
}

/// The i386 classifier for `conv` with the target's aggregate returns
/// ([`AggregateReturn::native`]; see [`CallPlan::build`]).
///
/// # Errors
/// A [`PlanError`] naming the argument (or the return) that cannot be passed by value.
pub fn classify_signature(
    conv: Convention,
    args: &[Type],
    ret: &Type,
    nfixed: Option<usize>,
    plan: &mut CallPlan,
) -> Result<(), PlanError> {
    classify_signature_for(conv, AggregateReturn::native(conv), args, ret, nfixed, plan)
}

/// The i386 classifier for `conv`, returning aggregates by `aggregates` (see
/// [`CallPlan::build`]).
///
/// # Errors
/// A [`PlanError`] naming the argument (or the return) that cannot be passed by value.
pub fn classify_signature_for(
    conv: Convention,
    aggregates: AggregateReturn,
    args: &[Type],
    ret: &Type,
    nfixed: Option<usize>,
    plan: &mut CallPlan,
) -> Result<(), PlanError> {
    if let Some(n) = nfixed {
        if conv.callee_pops() {
            return Err(PlanError {
                arg: Some(n.min(args.len().saturating_sub(1))),
                reason: ValueTypeError::NotVariadicAbi,
            });
        }
    }
    let mut ret_plan =
        ret_plan(ret, aggregates).map_err(|reason| PlanError { arg: None, reason })?;
    let registers = conv.registers();
    let mut next_reg = 0usize;
    // Stack bytes before the first argument: the hidden pointer when it is on the stack.
    let mut stack = 0u32;
    let mut sret_on_stack = false;
    if let RetPlan::Indirect { dst } = &mut ret_plan {
        if conv.left_to_right() {
            return Err(PlanError {
                arg: None,
                reason: ValueTypeError::Unsupported,
            });
        }
        if let Some(&reg) = registers.first() {
            *dst = reg;
            next_reg = 1;
        } else {
            *dst = REG_BLOCK;
            stack = 4;
            sret_on_stack = true;
        }
    }

    let moves = &mut plan.moves;
    for (index, ty) in args.iter().enumerate() {
        check_arg(index, ty, nfixed.is_some_and(|n| index >= n))?;
        if matches!(ty.kind(), TypeKind::U128 | TypeKind::I128) {
            return Err(PlanError {
                arg: Some(index),
                reason: ValueTypeError::Unsupported,
            });
        }
        let arg = index as u16;
        let len = ty.size() as u32;
        if Convention::in_register(ty) && next_reg < registers.len() {
            moves.push(Move {
                arg,
                src: 0,
                op: scalar_op(ty.kind(), len),
                dst: registers[next_reg],
                len,
            });
            next_reg += 1;
            continue;
        }
        next_reg = (next_reg + conv.registers_used_by_stack_arg(ty)).min(registers.len());
        let op = if len <= 4 && !ty.kind().is_aggregate() {
            scalar_op(ty.kind(), len)
        } else {
            MoveOp::Copy
        };
        // Left-to-right conventions get their offsets below, once the total is known.
        moves.push(Move {
            arg,
            src: 0,
            op,
            dst: REG_BLOCK + stack,
            len,
        });
        stack = frame_add(stack, ty.size().next_multiple_of(4), Some(index))?;
    }
    if conv.left_to_right() {
        // The first stack argument was pushed first: mirror the offsets.
        for m in moves.iter_mut().filter(|m| m.dst >= REG_BLOCK) {
            let at = m.dst - REG_BLOCK;
            let slot = m.len.next_multiple_of(4);
            m.dst = REG_BLOCK + (stack - at - slot);
        }
    }
    let stack_size = frame_add(0, (stack as usize).next_multiple_of(16), None)?;
    let ret_scratch = frame_add(REG_BLOCK, stack_size as usize, None)?;
    plan.finish(ret_plan, ret, REG_BLOCK, stack_size, ret_scratch)?;
    plan.callee_pop = if conv.callee_pops() {
        stack
    } else if sret_on_stack && conv == Convention::SysV {
        4
    } else {
        0
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::plan::ArgSource;
    use Convention::*;

    /// Plans with i386 System V's aggregate returns on every host, Windows included
    /// (`mingw_returns_small_aggregates_in_registers` checks the other rule).
    fn plan(
        conv: Convention,
        args: &[Type],
        ret: &Type,
        nfixed: Option<usize>,
    ) -> Result<CallPlan, PlanError> {
        plan_for(conv, AggregateReturn::Memory, args, ret, nfixed)
    }

    fn plan_for(
        conv: Convention,
        aggregates: AggregateReturn,
        args: &[Type],
        ret: &Type,
        nfixed: Option<usize>,
    ) -> Result<CallPlan, PlanError> {
        CallPlan::build(
            |args, ret, nfixed, plan| {
                classify_signature_for(conv, aggregates, args, ret, nfixed, plan)
            },
            args,
            ret,
            nfixed,
        )
    }

    fn st(members: &[Type]) -> Type {
        Type::structure(members.iter().cloned()).unwrap()
    }

    /// The destination of each argument's single move.
    fn dsts(conv: Convention, args: &[Type], ret: &Type) -> (Vec<u32>, CallPlan) {
        let plan = plan(conv, args, ret, None).unwrap();
        let dsts = (0..args.len())
            .map(|i| {
                let moves = plan.moves_of(i);
                assert_eq!(moves.len(), 1, "argument {i} is one move");
                moves[0].dst
            })
            .collect();
        (dsts, plan)
    }

    const S: u32 = REG_BLOCK;

    #[test]
    fn cdecl_and_stdcall_use_the_stack_in_order() {
        let args = [
            Type::I8,
            Type::U16,
            Type::I32,
            Type::U64,
            Type::F32,
            Type::F64,
        ];
        for conv in [SysV, MsCdecl, StdCall] {
            let (d, plan) = dsts(conv, &args, &Type::I32);
            assert_eq!(d, [S, S + 4, S + 8, S + 12, S + 20, S + 24], "{conv:?}");
            assert_eq!(plan.stack_size, 32);
            let pop = if conv == StdCall { 32 } else { 0 };
            assert_eq!(plan.callee_pop, pop, "{conv:?}");
        }
        let plan = plan(SysV, &args, &Type::VOID, None).unwrap();
        assert_eq!(plan.moves_of(0)[0].op, MoveOp::SignExtend);
        assert_eq!(plan.moves_of(1)[0].op, MoveOp::ZeroExtend);
        assert_eq!(plan.moves_of(3)[0].op, MoveOp::Copy);
        assert_eq!(plan.moves_of(4)[0].op, MoveOp::ZeroExtend);
    }

    #[test]
    fn structs_take_rounded_slots_at_4_byte_alignment() {
        let s3 = st(&[Type::U8, Type::U8, Type::U8]);
        let wide = st(&[Type::F64, Type::I32]);
        let (d, plan) = dsts(
            SysV,
            &[Type::I32, s3.clone(), wide.clone(), Type::I32],
            &Type::VOID,
        );
        let after = S + 8 + wide.size().next_multiple_of(4) as u32;
        assert_eq!(d, [S, S + 4, S + 8, after]);
        assert_eq!(plan.moves_of(1)[0].op, MoveOp::Copy);
        assert_eq!(plan.moves_of(1)[0].len, 3);
    }

    #[test]
    fn fastcall_registers_follow_gcc() {
        // fast5: char in cl, short in dx, int on the stack.
        let (d, plan) = dsts(FastCall, &[Type::I8, Type::I16, Type::I32], &Type::I32);
        assert_eq!(d, [ECX, EDX, S]);
        assert_eq!(plan.callee_pop, 4);
        // fast4 / fast7: floating-point arguments take no register.
        let (d, _) = dsts(FastCall, &[Type::F32, Type::I32, Type::I32], &Type::I32);
        assert_eq!(d, [S, ECX, EDX]);
        let (d, plan) = dsts(FastCall, &[Type::I32, Type::F64, Type::I32], &Type::I32);
        assert_eq!(d, [ECX, S, EDX]);
        assert_eq!(plan.callee_pop, 8);
        // fast1 / fast2: a 64-bit integer uses up the registers.
        let (d, plan) = dsts(
            FastCall,
            &[Type::I32, Type::I64, Type::I32, Type::I32],
            &Type::I32,
        );
        assert_eq!(d, [ECX, S, S + 8, S + 12]);
        assert_eq!(plan.callee_pop, 16);
        let (d, _) = dsts(FastCall, &[Type::I64, Type::I32, Type::I32], &Type::I32);
        assert_eq!(d, [S, S + 8, S + 12]);
        // fast3 / fast6: a 1-byte struct uses up one register.
        let s1 = st(&[Type::I8]);
        let (d, _) = dsts(FastCall, &[s1.clone(), Type::I32, Type::I32], &Type::I32);
        assert_eq!(d, [S, EDX, S + 4]);
        let (d, _) = dsts(FastCall, &[Type::I32, s1, Type::I32], &Type::I32);
        assert_eq!(d, [ECX, S, S + 4]);
        // A struct with a floating-point mode (one float, double, long double or complex
        // member) uses up nothing; a union or a struct of two floats does.
        for one in [Type::F32, Type::F64, Type::complex_f32()] {
            let (d, _) = dsts(FastCall, &[st(&[one]), Type::I32, Type::I32], &Type::I32);
            assert_eq!(d, [S, ECX, EDX]);
        }
        let nested = st(&[st(&[Type::array(Type::F32, 1).unwrap()])]);
        let (d, _) = dsts(FastCall, &[nested, Type::I32], &Type::I32);
        assert_eq!(d, [S, ECX]);
        let two = st(&[Type::F32, Type::F32]);
        let (d, _) = dsts(FastCall, &[two, Type::I32], &Type::I32);
        assert_eq!(d, [S, S + 8]);
        let uni = Type::union([Type::F32]).unwrap();
        let (d, _) = dsts(FastCall, &[uni, Type::I32, Type::I32], &Type::I32);
        assert_eq!(d, [S, EDX, S + 4]);
        // f12: a 12-byte struct uses up everything.
        let s12 = st(&[Type::I32, Type::I32, Type::I32]);
        let (d, plan) = dsts(FastCall, &[Type::I32, s12, Type::I32], &Type::I32);
        assert_eq!(d, [ECX, S, S + 12]);
        assert_eq!(plan.callee_pop, 16);
    }

    #[test]
    fn thiscall_has_one_register() {
        let (d, plan) = dsts(
            ThisCall,
            &[Type::POINTER, Type::I32, Type::F32],
            &Type::VOID,
        );
        assert_eq!(d, [ECX, S, S + 4]);
        assert_eq!(plan.callee_pop, 8);
        // this2: a struct first uses up ecx.
        let (d, _) = dsts(ThisCall, &[st(&[Type::I8]), Type::I32], &Type::VOID);
        assert_eq!(d, [S, S + 4]);
        // this3: a float first does not.
        let (d, _) = dsts(ThisCall, &[Type::F32, Type::I32, Type::I32], &Type::VOID);
        assert_eq!(d, [S, ECX, S + 4]);
    }

    #[test]
    fn pascal_and_register_push_left_to_right() {
        let (d, plan) = dsts(Pascal, &[Type::I32, Type::U64, Type::I16], &Type::I32);
        assert_eq!(d, [S + 12, S + 4, S]);
        assert_eq!(plan.callee_pop, 16);
        let (d, plan) = dsts(
            Register,
            &[
                Type::I32,
                Type::F64,
                Type::I8,
                Type::POINTER,
                Type::I32,
                Type::F32,
            ],
            &Type::VOID,
        );
        assert_eq!(d, [EAX, S + 8, EDX, ECX, S + 4, S]);
        assert_eq!(plan.callee_pop, 16);
        let s8 = st(&[Type::I32, Type::I32]);
        for conv in [Pascal, Register] {
            let err = plan_err(conv, &[], &s8);
            assert_eq!(err.reason, ValueTypeError::Unsupported);
        }
    }

    fn plan_err(conv: Convention, args: &[Type], ret: &Type) -> PlanError {
        plan(conv, args, ret, None).unwrap_err()
    }

    #[test]
    fn struct_returns() {
        let s8 = st(&[Type::I32, Type::I32]);
        // ret_s8: hidden pointer at [esp + 4], `ret 4`.
        let p = plan(SysV, &[Type::I32], &s8, None).unwrap();
        assert_eq!(p.ret, RetPlan::Indirect { dst: S });
        assert_eq!(p.moves_of(0)[0].dst, S + 4);
        assert_eq!(p.callee_pop, 4);
        // ms_ret_s8: the same, but the caller pops.
        let p = plan(MsCdecl, &[Type::I32], &s8, None).unwrap();
        assert_eq!(p.ret, RetPlan::Indirect { dst: S });
        assert_eq!(p.callee_pop, 0);
        // std_ret_s8: `ret 8`.
        assert_eq!(
            plan(StdCall, &[Type::I32], &s8, None).unwrap().callee_pop,
            8
        );
        // fast_ret_s8: pointer in ecx, x in edx, y on the stack, `ret 4`.
        let (d, p) = dsts(FastCall, &[Type::I32, Type::I32], &s8);
        assert_eq!(p.ret, RetPlan::Indirect { dst: ECX });
        assert_eq!(d, [EDX, S]);
        assert_eq!(p.callee_pop, 4);
        // this_ret_s8: pointer in ecx, both on the stack, `ret 8`.
        let (d, p) = dsts(ThisCall, &[Type::I32, Type::I32], &s8);
        assert_eq!(p.ret, RetPlan::Indirect { dst: ECX });
        assert_eq!(d, [S, S + 4]);
        assert_eq!(p.callee_pop, 8);
        assert!(p.frame_size >= p.ret_scratch + s8.size() as u32);
    }

    /// The returns of mingw-w64's gcc 12 (`-O1 -S`, read): `struct { char a; }` and the other
    /// 1-, 2-, 4- and 8-byte integer-mode aggregates in eax (eax:edx), `{ float }`,
    /// `{ double }` and `{ long double }` in st(0), `{ float a, b; }` in eax:edx, and 3-,
    /// 6- and 12-byte ones, or 4 bytes with a BLKmode member, through the hidden pointer.
    #[test]
    fn mingw_returns_small_aggregates_in_registers() {
        let ret = |ty: &Type| {
            plan_for(MsCdecl, AggregateReturn::Registers, &[], ty, None)
                .unwrap()
                .ret
        };
        let regs = RetPlan::regs;
        let eax_edx = regs(&[(RetReg::Int0, 0, 4), (RetReg::Int1, 4, 4)], None);
        let array = |t: Type, n| Type::array(t, n).unwrap();
        assert_eq!(ret(&st(&[Type::U8])), regs(&[(RetReg::Int0, 0, 1)], None));
        assert_eq!(ret(&st(&[Type::I16])), regs(&[(RetReg::Int0, 0, 2)], None));
        assert_eq!(ret(&st(&[Type::I32])), regs(&[(RetReg::Int0, 0, 4)], None));
        assert_eq!(ret(&st(&[Type::I32, Type::I32])), eax_edx);
        assert_eq!(ret(&st(&[array(Type::U8, 8)])), eax_edx);
        assert_eq!(ret(&st(&[Type::F32, Type::F32])), eax_edx);
        assert_eq!(ret(&st(&[Type::complex_f32()])), eax_edx);
        assert_eq!(
            ret(&Type::union([Type::F32]).unwrap()),
            regs(&[(RetReg::Int0, 0, 4)], None)
        );
        assert_eq!(ret(&st(&[Type::F32])), regs(&[(RetReg::Vec0, 0, 4)], None));
        assert_eq!(
            ret(&st(&[st(&[array(Type::F64, 1)])])),
            regs(&[(RetReg::Vec0, 0, 8)], None)
        );
        assert_eq!(ret(&st(&[Type::LONG_DOUBLE])), RetPlan::X87 { count: 1 });
        let padded_f32 = st(&[Type::F32]).aligned(8).unwrap();
        assert_eq!(ret(&padded_f32), eax_edx);
        // Through the hidden pointer, which the caller pops (as for MsCdecl's other returns).
        for ty in [
            st(&[array(Type::U8, 3)]),
            st(&[array(Type::I16, 3)]),
            st(&[Type::I32; 3]),
            st(&[array(Type::U8, 3), Type::U8]), // 4 bytes, a BLKmode member
            st(&[Type::complex_f64()]),
            st(&[Type::I64, Type::I64]),
        ] {
            assert_eq!(ret(&ty), RetPlan::Indirect { dst: REG_BLOCK }, "{ty:?}");
        }
        // With Memory, every aggregate goes through the pointer; SysV keeps Memory anywhere.
        let memory = plan(MsCdecl, &[], &st(&[Type::I32]), None).unwrap();
        assert_eq!(memory.ret, RetPlan::Indirect { dst: REG_BLOCK });
        assert_eq!(AggregateReturn::native(SysV), AggregateReturn::Memory);
    }

    /// Where rustc's i686 Windows returns differ from gcc's (the typed layer refuses those).
    #[test]
    fn rustc_and_mingw_agree_on_most_small_aggregates() {
        let array = |t: Type, n| Type::array(t, n).unwrap();
        for (ty, agree) in [
            (st(&[Type::I32, Type::I32]), true),
            (st(&[Type::F32]), true),
            (st(&[Type::F64]), true),
            (st(&[array(Type::U8, 3)]), true), // memory for both
            (st(&[Type::I32; 3]), true),
            (Type::union([Type::I32, Type::U16]).unwrap(), true),
            (Type::union([Type::F32]).unwrap(), false), // rustc: st(0), gcc: eax
            (st(&[array(Type::U8, 3), Type::U8]), false), // rustc: eax, gcc: memory
        ] {
            assert_eq!(rustc_returns_like_mingw(&ty), agree, "{ty:?}");
        }
    }

    #[test]
    fn scalar_returns() {
        let regs = RetPlan::regs;
        let ret = |ty: &Type| plan(SysV, &[], ty, None).unwrap().ret;
        assert_eq!(ret(&Type::I8), regs(&[(RetReg::Int0, 0, 1)], Some(true)));
        assert_eq!(ret(&Type::U32), regs(&[(RetReg::Int0, 0, 4)], Some(false)));
        assert_eq!(
            ret(&Type::I64),
            regs(&[(RetReg::Int0, 0, 4), (RetReg::Int1, 4, 4)], None)
        );
        assert_eq!(ret(&Type::F32), regs(&[(RetReg::Vec0, 0, 4)], None));
        assert_eq!(ret(&Type::F64), regs(&[(RetReg::Vec0, 0, 8)], None));
        assert_eq!(ret(&Type::LONG_DOUBLE), RetPlan::X87 { count: 1 });
        assert_eq!(
            ret(&Type::complex_f32()),
            regs(&[(RetReg::Int0, 0, 4), (RetReg::Int1, 4, 4)], None)
        );
        assert!(matches!(
            ret(&Type::complex_f64()),
            RetPlan::Indirect { .. }
        ));
        assert_eq!(
            plan(SysV, &[], &Type::complex_f64(), None)
                .unwrap()
                .callee_pop,
            4
        );
        assert_eq!(
            plan_err(SysV, &[], &Type::I128).reason,
            ValueTypeError::Unsupported
        );
        assert_eq!(plan_err(SysV, &[Type::U128], &Type::VOID).arg, Some(0));
    }

    #[test]
    fn variadic_only_where_the_caller_pops() {
        let args = [Type::I32, Type::I32, Type::F64];
        for conv in [SysV, MsCdecl] {
            let p = plan(conv, &args, &Type::I32, Some(1)).unwrap();
            assert_eq!(p.moves_of(2)[0].dst, S + 8);
        }
        for conv in [StdCall, FastCall, ThisCall, Pascal, Register] {
            let err = plan(conv, &args, &Type::I32, Some(1)).unwrap_err();
            assert_eq!(err.reason, ValueTypeError::NotVariadicAbi, "{conv:?}");
        }
        let err = plan(SysV, &[Type::I32, Type::F32], &Type::VOID, Some(1)).unwrap_err();
        assert_eq!(err.reason, ValueTypeError::NotPromoted);
    }

    #[test]
    fn closures_find_every_argument_directly() {
        let p = plan(
            FastCall,
            &[Type::I32, Type::U64, Type::I8],
            &Type::VOID,
            None,
        )
        .unwrap();
        let (sources, scratch) = p.arg_sources([4, 8, 1].into_iter());
        assert_eq!(
            sources,
            [
                ArgSource::Direct(ECX),
                ArgSource::Direct(S),
                ArgSource::Direct(S + 8)
            ]
        );
        assert_eq!(scratch, 0);
    }
}
