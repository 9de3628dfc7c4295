//! Arbitrary bytes as `Type` trees and a `Cif` of the dynamic layer.
//!
//! Must hold: building types and preparing Cifs returns (no panic, no hang), every layout
//! matches an independent model of the C rules (including which descriptions are refused),
//! every prepared plan is self-consistent (stack and frame sizes, moves inside the frame and
//! not overlapping, every scalar byte of every argument moved), `reset` leaves clones alone,
//! `compile` works, and, for signatures of reasonable size, a call through the plan into a
//! closure of the same Cif delivers every argument and the return value intact (the
//! interpreted and the compiled caller, each into the generic and the compiled closure
//! entry).
//!
//! Input: a pool of types (constructors chosen byte by byte), then the signature (ABI,
//! variadic or not, fixed count, argument and return types from the pool), then a second
//! signature for `reset`, then the argument and return values of the round trip.
#![no_main]

use std::cell::RefCell;
use std::ffi::c_void;
use std::rc::Rc;

use closure_ffi::arch::x86::{sysv64, win64};
use closure_ffi::dynamic::plan::{CallPlan, RetPlan};
use closure_ffi::dynamic::{Abi, Cif, Closure, Type, TypeKind};
use closure_ffi_fuzz::plan::{check_plan_shape, CHECKED_ARGS, CHECKED_VALUE};
use closure_ffi_fuzz::types::{decode_pool, scalar_ranges, X87_BYTES};
use closure_ffi_fuzz::{normalize_long_double, Buf, Reader};
use libfuzzer_sys::fuzz_target;

/// The round trip runs for frames and values up to these sizes (those of the plan checks).
const ROUND_TRIP_FRAME: u32 = 1 << 16;
const ROUND_TRIP_VALUE: usize = CHECKED_VALUE;
const ROUND_TRIP_ARGS: usize = CHECKED_ARGS;

fn long_doubles(t: &Type) -> Vec<usize> {
    let mut out = Vec::new();
    t.for_each_scalar(0, &mut |off, kind| {
        if kind == TypeKind::LongDouble {
            out.push(off);
        }
    });
    out
}

fn classifier(
    abi: Abi,
) -> fn(
    &[Type],
    &Type,
    Option<usize>,
    &mut CallPlan,
) -> Result<(), closure_ffi::dynamic::plan::PlanError> {
    match abi {
        Abi::SysV64 => sysv64::classify_signature,
        _ => win64::classify_signature,
    }
}

/// The plan's invariants.
fn check_plan(cif: &Cif) {
    let plan = cif.plan();
    let (args, ret) = (cif.args(), cif.ret());
    // Signatures near the argument limit get the linear checks only (and are classified
    // again below, by `prepare`), so that they do not dominate the run time.
    let small = args.len() <= 1024;
    if small {
        assert_eq!(
            CallPlan::build(classifier(cif.abi()), args, ret, cif.nfixed()).as_ref(),
            Ok(plan),
            "classification is not deterministic"
        );
    }
    assert_eq!(cif.stack_bytes(), plan.stack_size as usize);
    assert_eq!(plan.stack_size % 16, 0, "stack size {}", plan.stack_size);
    assert_eq!(plan.frame_size % 16, 0, "frame size {}", plan.frame_size);
    if let RetPlan::Regs { count, .. } = plan.ret {
        assert!(count <= 2, "x86_64 returns in at most two registers");
    }
    check_plan_shape(plan, args, ret, 8, X87_BYTES, small);
    let (sources, scratch) = plan.arg_sources(args.iter().map(Type::size));
    assert_eq!(sources.len(), args.len());
    assert_eq!(scratch % 16, 0);
}

struct Signature {
    abi: Abi,
    args: Vec<Type>,
    ret: Type,
    nfixed: Option<usize>,
}

fn signature(r: &mut Reader<'_>, pool: &[Type]) -> Signature {
    let abi = if r.u8() & 1 == 0 {
        Abi::SysV64
    } else {
        Abi::Win64
    };
    let pick = |r: &mut Reader<'_>| match r.u8() {
        0xFF => Type::VOID,
        b => pool[usize::from(b) % pool.len()].clone(),
    };
    let nargs = match r.below(16) {
        // Past the argument limit, or just below it.
        15 if r.u8() == 0x5A => 65_530 + r.below(12) as usize,
        n => usize::from(n),
    };
    let mut args: Vec<Type> = (0..nargs.min(16)).map(|_| pick(r)).collect();
    while args.len() < nargs {
        let t = args[args.len() % 16].clone();
        args.push(t);
    }
    let ret = pick(r);
    let nfixed = match r.below(4) {
        2 => Some(r.u8() as usize),
        3 => Some(nargs.min(1 + r.below(4) as usize)),
        _ => None,
    };
    Signature {
        abi,
        args,
        ret,
        nfixed,
    }
}

fn prepare(sig: &Signature) -> Result<Cif, closure_ffi::dynamic::CifError> {
    let (args, ret) = (sig.args.iter().cloned(), sig.ret.clone());
    match sig.nfixed {
        Some(n) => Cif::new_variadic(sig.abi, args, n, ret),
        None => Cif::new(sig.abi, args, ret),
    }
}

fn reset(cif: &mut Cif, sig: &Signature) -> Result<(), closure_ffi::dynamic::CifError> {
    let (args, ret) = (sig.args.iter().cloned(), sig.ret.clone());
    match sig.nfixed {
        Some(n) => cif.reset_variadic(sig.abi, args, n, ret),
        None => cif.reset(sig.abi, args, ret),
    }
}

fn check_prepared(cif: &Cif, sig: &Signature) {
    assert_eq!(
        (cif.abi(), cif.args(), cif.ret(), cif.nfixed()),
        (sig.abi, &sig.args[..], &sig.ret, sig.nfixed)
    );
    check_plan(cif);
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let pool = decode_pool(&mut r);

    let sig = signature(&mut r, &pool);
    let cif = prepare(&sig);
    let other = signature(&mut r, &pool);
    let Ok(mut cif) = cif else {
        let _ = cif.map_err(|e| (e.to_string(), e.status()));
        return;
    };
    check_prepared(&cif, &sig);
    let plan = cif.plan().clone();

    // reset: in place when unshared, and never seen by a clone.
    let shared = r.u8() & 1 == 0;
    let clone = shared.then(|| cif.clone());
    match reset(&mut cif, &other) {
        Ok(()) => check_prepared(&cif, &other),
        Err(_) => {
            assert!(cif.args().is_empty() && cif.ret() == &Type::VOID && cif.nfixed().is_none());
            check_plan(&cif);
        }
    }
    let cif = match clone {
        Some(c) => c,
        None => match prepare(&sig) {
            Ok(c) => c,
            Err(e) => panic!("the same signature prepared once, then refused: {e}"),
        },
    };
    assert_eq!(
        cif.plan(),
        &plan,
        "the clone's plan changed, or preparing again differs"
    );
    assert_eq!(
        (cif.args(), cif.ret(), cif.nfixed()),
        (&sig.args[..], &sig.ret, sig.nfixed)
    );

    let mut compiled = cif.clone();
    let made = compiled.compile().is_ok_and(|made| made);
    // A compiled call stub implies code was made (a plan may get only a closure entry).
    assert!(!compiled.is_compiled() || made);
    assert_eq!(compiled.plan(), &plan);

    if plan.frame_size <= ROUND_TRIP_FRAME
        && sig.args.len() <= ROUND_TRIP_ARGS
        && sig.ret.size() <= ROUND_TRIP_VALUE
        && sig.args.iter().all(|t| t.size() <= ROUND_TRIP_VALUE)
    {
        round_trip(&cif, &compiled, &mut r);
    }
});

/// Calls closures of the Cif through the Cif, checking the values on both sides.
fn round_trip(plain: &Cif, compiled: &Cif, r: &mut Reader<'_>) {
    let mut args: Vec<Buf> = plain
        .args()
        .iter()
        .map(|t| {
            let mut b = Buf::new(t.size());
            r.fill(&mut b.bytes_mut()[..t.size()]);
            for off in long_doubles(t) {
                normalize_long_double(b.bytes_mut(), off);
            }
            b
        })
        .collect();
    let ret_ty = plain.ret().clone();
    let ret_size = if ret_ty.kind() == TypeKind::Void {
        0
    } else {
        ret_ty.size()
    };
    let mut want_ret = Buf::new(ret_size);
    r.fill(&mut want_ret.bytes_mut()[..ret_size]);
    if ret_size > 0 {
        for off in long_doubles(&ret_ty) {
            normalize_long_double(want_ret.bytes_mut(), off);
        }
    }
    let expected: Rc<Vec<Vec<u8>>> = Rc::new(
        args.iter()
            .zip(plain.args())
            .map(|(b, t)| b.bytes()[..t.size()].to_vec())
            .collect(),
    );
    let want_ret = Rc::new(want_ret.bytes()[..ret_size].to_vec());
    let failure: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
    let calls = Rc::new(RefCell::new(0u32));

    let make = |cif: &Cif| {
        let (expected, want_ret, failure, calls) = (
            expected.clone(),
            want_ret.clone(),
            failure.clone(),
            calls.clone(),
        );
        Closure::new(cif.clone(), move |a, ret| {
            *calls.borrow_mut() += 1;
            let cif = a.cif();
            for (i, t) in cif.args().iter().enumerate() {
                let p = a.ptr(i).expect("argument pointer").cast::<u8>();
                // SAFETY: the closure gets a pointer to each argument's value.
                let got = unsafe { std::slice::from_raw_parts(p, t.size()) };
                for (off, len) in scalar_ranges(t, X87_BYTES) {
                    if got[off..off + len] != expected[i][off..off + len] {
                        failure.borrow_mut().get_or_insert_with(|| {
                            format!("closure got argument {i} ({t:?}) bytes {off}..{}: {:02x?}, passed {:02x?}", off + len, &got[off..off + len], &expected[i][off..off + len])
                        });
                    }
                }
            }
            if !want_ret.is_empty() {
                // SAFETY: the return buffer holds the return type.
                unsafe { std::ptr::copy_nonoverlapping(want_ret.as_ptr(), ret.as_ptr().cast::<u8>(), want_ret.len()) };
            }
        })
        .expect("closure")
    };
    let closures = [make(plain), make(compiled)];
    let ptrs: Vec<*mut c_void> = args.iter_mut().map(Buf::ptr).collect();
    let mut n = 0;
    for caller in [plain, compiled] {
        for (which, closure) in closures.iter().enumerate() {
            let mut rbuf = Buf::new(ret_size.max(8) + 16);
            // SAFETY: the closure has the Cif's signature; the buffers hold its types.
            unsafe { caller.call_raw(closure.code_ptr(), rbuf.ptr(), ptrs.as_ptr()) };
            n += 1;
            assert_eq!(*calls.borrow(), n, "the closure was not called once");
            if let Some(f) = failure.borrow_mut().take() {
                panic!(
                    "{f} (caller compiled: {}, closure {which}) for {:?}",
                    caller.is_compiled(),
                    plain
                );
            }
            for (off, len) in scalar_ranges(&ret_ty, X87_BYTES)
                .into_iter()
                .filter(|_| ret_size > 0)
            {
                assert_eq!(
                    rbuf.bytes()[off..off + len],
                    want_ret[off..off + len],
                    "returned bytes {off}..{} (caller compiled: {}, closure {which}) for {plain:?}",
                    off + len,
                    caller.is_compiled()
                );
            }
        }
    }
    // The result may be discarded.
    // SAFETY: as above, with no return buffer.
    unsafe { compiled.call_raw(closures[0].code_ptr(), std::ptr::null_mut(), ptrs.as_ptr()) };
    // SAFETY: as above.
    unsafe { plain.call_interpreted(closures[1].code_ptr(), std::ptr::null_mut(), ptrs.as_ptr()) };
    assert_eq!(*calls.borrow(), n + 2);
    assert!(failure.borrow().is_none(), "{:?}", failure.borrow());
}
