//! Arbitrary signatures through every host-independent classifier: x86_64 System V and Win64
//! and the seven i386 conventions. (`types_cif` goes further for the host's own ABIs: it
//! calls through the plans; here the plans of the other targets are checked as data.)
//!
//! Must hold: classification returns (no panic, no hang), is deterministic, and a plan it
//! makes satisfies the frame contract (`closure_ffi_fuzz::plan::check_plan_shape`: moves
//! inside arguments and frame, no overlapping writes, every scalar byte moved) with the
//! ABI's slot size, plus each family's own rules (i386: who pops how much; variadic
//! signatures only in caller-pops conventions). A refusal names an argument that exists.
//!
//! The types are the host's (x86_64) layouts, which are also i386's except for pointers
//! (8 bytes) and `long double` (16 bytes, not 12: its bytes are still all moved); the i386
//! classifiers are only given signatures without pointers.
//!
//! Input: a pool of types (as in `types_cif`), then the signature: argument count, argument
//! and return types from the pool, variadic or not.
#![no_main]

use closure_ffi::arch::x86::i386::{self, Convention};
use closure_ffi::arch::x86::{sysv64, win64};
use closure_ffi::dynamic::plan::{CallPlan, MoveOp, PlanError, RetPlan, MAX_ARGS};
use closure_ffi::dynamic::{Type, TypeKind};
use closure_ffi_fuzz::plan::check_plan_shape;
use closure_ffi_fuzz::types::Decoder;
use closure_ffi_fuzz::Reader;
use libfuzzer_sys::fuzz_target;

type Classifier = fn(&[Type], &Type, Option<usize>, &mut CallPlan) -> Result<(), PlanError>;

/// A classifier, its stack slot (and pointer) size, and its i386 convention if it has one.
const CLASSIFIERS: [(&str, u64, Classifier, Option<Convention>); 9] = [
    ("sysv64", 8, sysv64::classify_signature, None),
    ("win64", 8, win64::classify_signature, None),
    (
        "i386 sysv",
        4,
        |a, r, n, p| i386::classify_signature(Convention::SysV, a, r, n, p),
        Some(Convention::SysV),
    ),
    (
        "i386 ms_cdecl",
        4,
        |a, r, n, p| i386::classify_signature(Convention::MsCdecl, a, r, n, p),
        Some(Convention::MsCdecl),
    ),
    (
        "i386 stdcall",
        4,
        |a, r, n, p| i386::classify_signature(Convention::StdCall, a, r, n, p),
        Some(Convention::StdCall),
    ),
    (
        "i386 fastcall",
        4,
        |a, r, n, p| i386::classify_signature(Convention::FastCall, a, r, n, p),
        Some(Convention::FastCall),
    ),
    (
        "i386 thiscall",
        4,
        |a, r, n, p| i386::classify_signature(Convention::ThisCall, a, r, n, p),
        Some(Convention::ThisCall),
    ),
    (
        "i386 pascal",
        4,
        |a, r, n, p| i386::classify_signature(Convention::Pascal, a, r, n, p),
        Some(Convention::Pascal),
    ),
    (
        "i386 register",
        4,
        |a, r, n, p| i386::classify_signature(Convention::Register, a, r, n, p),
        Some(Convention::Register),
    ),
];

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let mut d = Decoder {
        r: &mut r,
        nodes: 0,
        pool: Vec::new(),
    };
    let ntypes = 1 + d.r.below(6);
    for _ in 0..ntypes {
        let t = d.ty(0);
        d.pool.push(t);
    }
    let pool = d.pool;
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

    // Types are laid out for the host (x86_64): a pointer is 8 bytes, which no i386
    // signature can contain, so the i386 classifiers only see pointer-free signatures.
    let host_only = args.iter().chain([&ret]).any(has_pointer);

    for (name, slot, classifier, conv) in CLASSIFIERS {
        if conv.is_some() && host_only {
            continue;
        }
        let plan = CallPlan::build(classifier, &args, &ret, nfixed);
        assert_eq!(
            CallPlan::build(classifier, &args, &ret, nfixed),
            plan,
            "{name}: classification is not deterministic"
        );
        match plan {
            Ok(plan) => {
                check_plan_shape(&plan, &args, &ret, slot, true);
                if let Some(conv) = conv {
                    check_i386(conv, &plan, nfixed);
                } else {
                    assert_eq!(plan.callee_pop, 0, "{name}: x86_64 callees pop nothing");
                }
            }
            Err(e) => {
                assert!(
                    e.arg.is_none_or(|a| a < args.len()
                        || (args.is_empty() && a == 0)
                        || a == MAX_ARGS),
                    "{name}: refusal names argument {:?} of {}",
                    e.arg,
                    args.len()
                );
                let _ = e.reason.to_string();
            }
        }
    }
});

/// Whether `t` holds a pointer (a walk over the type tree, not over every array element).
fn has_pointer(t: &Type) -> bool {
    match t.kind() {
        TypeKind::Pointer => true,
        TypeKind::Struct | TypeKind::Union => t.members().iter().any(has_pointer),
        _ => t.element().is_some_and(has_pointer),
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
