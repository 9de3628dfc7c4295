//! Arbitrary signatures through every host-independent classifier: x86_64 System V and Win64,
//! the seven i386 conventions, AAPCS64, and 32-bit Arm's base standard and VFP variant. (`types_cif` goes further for the host's own ABIs: it
//! calls through the plans; here the plans of the other targets are checked as data.)
//!
//! Must hold: classification returns (no panic, no hang), is deterministic, and a plan it
//! makes satisfies the frame contract (`closure_ffi_fuzz::plan::check_plan_shape`: moves
//! inside arguments and frame, no overlapping writes, every scalar byte moved) with the
//! ABI's slot size, plus each family's own rules (i386: who pops how much; variadic
//! signatures only in caller-pops conventions). A refusal names an argument that exists.
//!
//! The types are the host's (x86_64) layouts, which are also AAPCS64's (`long double` is 16
//! bytes in both), and i386's and Arm's except for pointers (8 bytes) and `long double` (16
//! bytes, not 12 or 8): the i386 classifiers are given signatures without pointers, the Arm
//! ones signatures without pointers and `long double`.
//!
//! Input: a pool of types (as in `types_cif`), then the signature: argument count, argument
//! and return types from the pool, variadic or not.
#![no_main]

use closure_ffi::arch::aarch64::aapcs64;
use closure_ffi::arch::arm::aapcs32;
use closure_ffi::arch::x86::i386::{self, Convention};
use closure_ffi::arch::x86::{sysv64, win64};
use closure_ffi::dynamic::plan::{CallPlan, MoveOp, PlanError, RetPlan, MAX_ARGS};
use closure_ffi::dynamic::{Type, TypeKind};
use closure_ffi_fuzz::plan::check_plan_shape;
use closure_ffi_fuzz::types::{decode_pool, X87_BYTES};
use closure_ffi_fuzz::Reader;
use libfuzzer_sys::fuzz_target;

/// A classifier: x86_64's two, i386's for one convention, AAPCS64, or 32-bit Arm's for one
/// standard.
#[derive(Clone, Copy, Debug)]
enum Classifier {
    SysV64,
    Win64,
    I386(Convention),
    Aapcs64,
    Arm(aapcs32::Convention),
}

const CLASSIFIERS: [Classifier; 12] = [
    Classifier::SysV64,
    Classifier::Win64,
    Classifier::I386(Convention::SysV),
    Classifier::I386(Convention::MsCdecl),
    Classifier::I386(Convention::StdCall),
    Classifier::I386(Convention::FastCall),
    Classifier::I386(Convention::ThisCall),
    Classifier::I386(Convention::Pascal),
    Classifier::I386(Convention::Register),
    Classifier::Aapcs64,
    Classifier::Arm(aapcs32::Convention::Aapcs),
    Classifier::Arm(aapcs32::Convention::Vfp),
];

impl Classifier {
    fn plan(self, args: &[Type], ret: &Type, nfixed: Option<usize>) -> Result<CallPlan, PlanError> {
        match self {
            Classifier::SysV64 => sysv64::plan(args, ret, nfixed),
            Classifier::Win64 => win64::plan(args, ret, nfixed),
            Classifier::I386(conv) => i386::plan(conv, args, ret, nfixed),
            Classifier::Aapcs64 => aapcs64::plan(args, ret, nfixed),
            Classifier::Arm(conv) => aapcs32::plan(conv, args, ret, nfixed),
        }
    }

    /// The stack slot (and pointer) size.
    fn slot(self) -> u64 {
        match self {
            Classifier::I386(_) | Classifier::Arm(_) => 4,
            _ => 8,
        }
    }

    /// Significant bytes of a `long double` (the host's 16-byte type): AAPCS64's binary128
    /// has all 16, x87's 10 (Arm never sees one).
    fn long_double(self) -> usize {
        match self {
            Classifier::Aapcs64 => 16,
            _ => X87_BYTES,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let pool = decode_pool(&mut r);
    let pick = |r: &mut Reader<'_>| match r.u8() {
        0xFF => Type::VOID,
        b => pool[usize::from(b) % pool.len()].clone(),
    };
    let nargs = usize::from(r.below(24));
    let args: Vec<Type> = (0..nargs).map(|_| pick(&mut r)).collect();
    let ret = pick(&mut r);
    let nfixed = match r.below(4) {
        2 => Some(usize::from(r.u8())),
        3 => Some(nargs.min(1 + usize::from(r.below(4)))),
        _ => None,
    };

    // Types are laid out for the host (x86_64): a pointer is 8 bytes, which no i386 or Arm
    // signature can contain, and `long double` 16, which no Arm one can; those classifiers
    // only see signatures without them.
    let values = || args.iter().chain([&ret]);
    let has_pointer = values().any(|t| holds(t, TypeKind::Pointer));
    let has_long_double = values().any(|t| holds(t, TypeKind::LongDouble));

    for name in CLASSIFIERS {
        let conv = match name {
            Classifier::I386(_) if has_pointer => continue,
            Classifier::Arm(_) if has_pointer || has_long_double => continue,
            Classifier::I386(conv) => Some(conv),
            _ => None,
        };
        let plan = name.plan(&args, &ret, nfixed);
        assert_eq!(
            name.plan(&args, &ret, nfixed),
            plan,
            "{name:?}: classification is not deterministic"
        );
        match plan {
            Ok(plan) => {
                check_plan_shape(&plan, &args, &ret, name.slot(), name.long_double(), true);
                if let Some(conv) = conv {
                    check_i386(conv, &plan, nfixed);
                } else {
                    assert_eq!(plan.callee_pop, 0, "{name:?}: only i386 callees pop");
                }
            }
            Err(e) => {
                assert!(
                    e.arg.is_none_or(|a| a < args.len()
                        || (args.is_empty() && a == 0)
                        || a == MAX_ARGS),
                    "{name:?}: refusal names argument {:?} of {}",
                    e.arg,
                    args.len()
                );
                let _ = e.reason.to_string();
            }
        }
    }
});

/// Whether `t` holds a scalar of `kind` (a walk over the type tree, not over every array
/// element).
fn holds(t: &Type, kind: TypeKind) -> bool {
    match t.kind() {
        k if k == kind => true,
        TypeKind::Struct | TypeKind::Union => t.members().iter().any(|m| holds(m, kind)),
        _ => t.element().is_some_and(|e| holds(e, kind)),
    }
}

/// The i386 pop rules: callee-pops conventions remove every stack argument (the bytes up to
/// the end of the last one, 4-aligned: `stack_size` may be padded past them); System V's
/// callee pops only the hidden struct-return pointer; ms_cdecl's callee pops nothing.
fn check_i386(conv: Convention, plan: &CallPlan, nfixed: Option<usize>) {
    let indirect = match plan.ret {
        RetPlan::Indirect { dst } => Some(dst),
        _ => None,
    };
    let stack_end = |dst: u32, len: u32| (dst >= plan.reg_block).then(|| dst + len);
    let used = plan
        .moves
        .iter()
        .filter_map(|m| {
            let len = match m.op {
                MoveOp::Copy => m.len,
                _ => 4,
            };
            stack_end(m.dst, len)
        })
        .chain(indirect.and_then(|dst| stack_end(dst, 4)))
        .max()
        .map_or(0, |end| (end - plan.reg_block).next_multiple_of(4));
    let expected = match conv {
        Convention::SysV => 4 * u32::from(indirect.is_some()),
        Convention::MsCdecl => 0,
        _ => {
            assert!(nfixed.is_none(), "{conv:?} accepted a variadic signature");
            used
        }
    };
    assert_eq!(
        plan.callee_pop, expected,
        "{conv:?}: callee pop of {plan:?}"
    );
}
