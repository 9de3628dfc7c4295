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
use closure_ffi::dynamic::plan::{CallPlan, MoveOp, RetPlan};
use closure_ffi::dynamic::types::{MAX_ALIGN, MAX_DEPTH, MAX_SIZE};
use closure_ffi::dynamic::{Abi, Cif, Closure, Type, TypeKind};
use closure_ffi_fuzz::{normalize_long_double, Buf, Reader};
use libfuzzer_sys::fuzz_target;

/// Type nodes decoded per input (keeps every input cheap).
const MAX_NODES: u32 = 160;
/// The round trip runs for frames and values up to these sizes.
const ROUND_TRIP_FRAME: u32 = 1 << 16;
const ROUND_TRIP_VALUE: usize = 4096;
const ROUND_TRIP_ARGS: usize = 64;

const SCALARS: [Type; 15] = [
    Type::VOID,
    Type::U8,
    Type::I8,
    Type::U16,
    Type::I16,
    Type::U32,
    Type::I32,
    Type::U64,
    Type::I64,
    Type::U128,
    Type::I128,
    Type::F32,
    Type::F64,
    Type::LONG_DOUBLE,
    Type::POINTER,
];

/// What the C rules say a type's layout is: (size, align, depth), or refused.
type Model = Option<(u128, u128, u32)>;

fn scalar_model(t: &Type) -> (u128, u128, u32) {
    let (size, align) = match t.kind() {
        TypeKind::Void | TypeKind::U8 | TypeKind::I8 => (1, 1),
        TypeKind::U16 | TypeKind::I16 => (2, 2),
        TypeKind::U32 | TypeKind::I32 | TypeKind::F32 => (4, 4),
        TypeKind::U64 | TypeKind::I64 | TypeKind::F64 | TypeKind::Pointer => (8, 8),
        _ => (16, 16),
    };
    (size, align, 0)
}

fn model_of(t: &Type) -> (u128, u128, u32) {
    (t.size() as u128, t.align() as u128, depth_of(t))
}

fn depth_of(t: &Type) -> u32 {
    if t.is_scalar() {
        return 0;
    }
    1 + match t.kind() {
        TypeKind::Struct | TypeKind::Union => t.members().iter().map(depth_of).max().unwrap_or(0),
        _ => t.element().map_or(0, depth_of),
    }
}

/// The aggregate checks every constructor ends with.
fn finish(size: u128, align: u128, depth: u32) -> Model {
    let size = size.next_multiple_of(align);
    (depth <= MAX_DEPTH && size <= MAX_SIZE as u128).then_some((size, align, depth))
}

struct Decoder<'a, 'b> {
    r: &'b mut Reader<'a>,
    nodes: u32,
    pool: Vec<Type>,
}

impl Decoder<'_, '_> {
    /// Decodes one type; a refused description is checked against the model and replaced
    /// by `u8` so that decoding goes on.
    fn ty(&mut self, depth: u32) -> Type {
        self.nodes += 1;
        let op = if self.nodes > MAX_NODES || depth > 6 {
            // Out of budget: a scalar (never void, so parents stay valid).
            1 + self.r.below(14)
        } else {
            self.r.below(23)
        };
        let (built, model): (Result<Type, _>, Model) = match op {
            0..=14 => {
                let t = SCALARS[op as usize].clone();
                assert!(t.is_scalar() && t.is_empty());
                let m = scalar_model(&t);
                assert_eq!((t.size() as u128, t.align() as u128), (m.0, m.1), "{t:?}");
                return t;
            }
            15 | 16 => {
                let n = self.r.below(6) as usize;
                let members: Vec<Type> = (0..n).map(|_| self.ty(depth + 1)).collect();
                let union = op == 16;
                let model = self.aggregate_model(&members, union);
                let built = if union {
                    Type::union(members.clone())
                } else {
                    Type::structure(members.clone())
                };
                if let Ok(t) = &built {
                    check_members(t, &members, union);
                }
                (built, model)
            }
            17 => {
                let element = self.ty(depth + 1);
                let len = match self.r.below(8) {
                    0 => 0,
                    1 => self.r.u32() as usize,
                    2 => self.r.u64() as usize,
                    3 => (MAX_SIZE / element.size().max(1)) + self.r.below(3) as usize,
                    _ => 1 + self.r.below(8) as usize,
                };
                let m = model_of(&element);
                let model = if element.kind() == TypeKind::Void || len == 0 {
                    None
                } else {
                    finish(m.0 * len as u128, m.1, m.2 + 1)
                };
                let built = Type::array(element.clone(), len);
                if let Ok(t) = &built {
                    assert_eq!(t.kind(), TypeKind::Array);
                    assert_eq!((t.element(), t.len()), (Some(&element), len));
                }
                (built, model)
            }
            18 | 21 => {
                let element = if op == 18 {
                    self.ty(depth + 1)
                } else {
                    [Type::F32, Type::F64, Type::LONG_DOUBLE][self.r.below(3) as usize].clone()
                };
                let model = matches!(
                    element.kind(),
                    TypeKind::F32 | TypeKind::F64 | TypeKind::LongDouble
                )
                .then(|| {
                    let m = model_of(&element);
                    (2 * m.0, m.1, 1)
                });
                let built = Type::complex(element.clone());
                if let Ok(t) = &built {
                    assert_eq!(
                        (t.kind(), t.element(), t.len()),
                        (TypeKind::Complex, Some(&element), 2)
                    );
                    let helper = match element.kind() {
                        TypeKind::F32 => Type::complex_f32(),
                        TypeKind::F64 => Type::complex_f64(),
                        _ => Type::complex_long_double(),
                    };
                    assert!(helper == *t && helper.same_layout(t));
                }
                (built, model)
            }
            19 => {
                let inner = self.ty(depth + 1);
                let align = match self.r.below(4) {
                    0 => self.r.u64() as usize,
                    _ => 1usize << self.r.below(14),
                };
                let m = model_of(&inner);
                let model = if matches!(inner.kind(), TypeKind::Struct | TypeKind::Union)
                    && align.is_power_of_two()
                    && align as u128 >= m.1
                    && align <= MAX_ALIGN
                {
                    finish(m.0, align as u128, m.2)
                } else {
                    None
                };
                let built = inner.aligned(align);
                if let Ok(t) = &built {
                    assert_eq!(t.kind(), inner.kind());
                    assert_eq!(t.members(), inner.members());
                    assert_eq!(t.offsets(), inner.offsets());
                }
                (built, model)
            }
            20 => {
                // A chain of single-member structs, possibly past MAX_DEPTH.
                let mut t = SCALARS[1 + self.r.below(14) as usize].clone();
                let mut m = Some(scalar_model(&t));
                for _ in 0..self.r.below(72) {
                    let built = Type::structure([t.clone()]);
                    m = m.and_then(|(s, a, d)| finish(s, a, d + 1));
                    assert_eq!(
                        built.is_ok(),
                        m.is_some(),
                        "chain: {built:?} vs model {m:?}"
                    );
                    match built {
                        Ok(b) => t = b,
                        Err(_) => break,
                    }
                }
                return t;
            }
            _ => match self.pool.len() {
                0 => return Type::I32,
                n => return self.pool[self.r.u8() as usize % n].clone(),
            },
        };
        match (built, model) {
            (Ok(t), Some(m)) => {
                assert_eq!(model_of(&t), m, "layout of {t:?} differs from the C rules");
                check_layout(&t);
                t
            }
            (Err(e), None) => {
                let _ = e.to_string();
                Type::U8
            }
            (built, model) => panic!("constructor gave {built:?}, the model {model:?}"),
        }
    }

    fn aggregate_model(&self, members: &[Type], union: bool) -> Model {
        if members.is_empty() || members.iter().any(|m| m.kind() == TypeKind::Void) {
            return None;
        }
        let (mut size, mut align, mut depth) = (0u128, 1u128, 0u32);
        for m in members {
            let (s, a, d) = model_of(m);
            size = if union {
                size.max(s)
            } else {
                size.next_multiple_of(a) + s
            };
            align = align.max(a);
            depth = depth.max(d);
        }
        finish(size, align, depth + 1)
    }
}

/// Members and offsets of a struct or union as built.
fn check_members(t: &Type, members: &[Type], union: bool) {
    assert_eq!(t.members(), members);
    assert_eq!(t.offsets().len(), members.len());
    let mut end = 0usize;
    for (m, &off) in members.iter().zip(t.offsets()) {
        assert_eq!(off % m.align(), 0, "misaligned member at {off}");
        if union {
            assert_eq!(off, 0);
        } else {
            assert!(off >= end, "offsets not increasing");
            end = off + m.size();
        }
        assert!(off + m.size() <= t.size(), "member past the end of {t:?}");
    }
}

fn check_layout(t: &Type) {
    assert!(t.align().is_power_of_two() && t.align() <= MAX_ALIGN);
    assert_eq!(
        t.size() % t.align(),
        0,
        "size not a multiple of the alignment"
    );
    assert!(t.size() >= 1 && t.size() <= MAX_SIZE);
    assert!(t.same_layout(&t.clone()));
    let _ = format!("{t:?}");
}

/// Byte ranges of a type's scalars that every transfer must preserve (x87 values: 10 of
/// their 16 bytes). Only for small types (the walk visits every array element).
fn scalar_ranges(t: &Type) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    t.for_each_scalar(0, &mut |off, kind| {
        let len = match kind {
            TypeKind::LongDouble => 10,
            k => Type::scalar(k).map_or(0, |s| s.size()),
        };
        out.push((off, len));
    });
    out
}

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
    let stack_end = u64::from(plan.reg_block) + u64::from(plan.stack_size);
    let frame = u64::from(plan.frame_size);
    assert!(stack_end <= frame, "stack arguments past the frame");
    assert!(u64::from(plan.ret_scratch) <= frame);

    // Frame bytes written, to check that no two writes overlap.
    // (start, len, what: a move index, or RET_POINTER / RET_SCRATCH; copies are marked
    // with COPY).
    const COPY: usize = 1 << 40;
    const RET_POINTER: usize = 1 << 41;
    const RET_SCRATCH: usize = 1 << 42;
    let mut writes: Vec<(u64, u64, usize)> = Vec::new();
    let mut last_arg = 0u16;
    for (i, m) in plan.moves.iter().enumerate() {
        assert!(m.arg >= last_arg, "moves not in argument order");
        last_arg = m.arg;
        let arg = usize::from(m.arg);
        assert!(arg < args.len(), "move of argument {arg} of {}", args.len());
        let size = args[arg].size() as u64;
        let (src, len, dst) = (u64::from(m.src), u64::from(m.len), u64::from(m.dst));
        assert!(
            len >= 1 && src + len <= size,
            "move {m:?} reads outside argument {arg} ({size} bytes)"
        );
        match m.op {
            MoveOp::ZeroExtend | MoveOp::SignExtend => {
                assert!(len <= 8, "{m:?}");
                assert!(dst + 8 <= stack_end, "{m:?} past the stack arguments");
                writes.push((dst, 8, i));
            }
            MoveOp::Copy => {
                assert!(dst + len <= stack_end, "{m:?} past the stack arguments");
                writes.push((dst, len, i));
            }
            MoveOp::Reference { copy } => {
                let copy = u64::from(copy);
                assert_eq!((src, len), (0, size), "{m:?}: partial reference");
                assert!(dst + 8 <= stack_end, "{m:?}");
                assert!(
                    copy >= stack_end && copy + len <= frame,
                    "{m:?}: copy outside the frame"
                );
                assert_eq!(copy % 16, 0, "{m:?}: copy misaligned");
                writes.push((dst, 8, i));
                writes.push((copy, len, COPY | i));
            }
        }
    }
    match plan.ret {
        RetPlan::Void => assert_eq!(ret.kind(), TypeKind::Void),
        RetPlan::Regs {
            parts,
            count,
            widen,
        } => {
            assert!((1..=2).contains(&count));
            for p in &parts[..usize::from(count)] {
                assert!(
                    p.len >= 1 && usize::from(p.off) + usize::from(p.len) <= ret.size(),
                    "{p:?} of {ret:?}"
                );
            }
            if widen.is_some() {
                assert!(ret.size() < 8);
            }
        }
        RetPlan::Indirect { dst } => {
            let dst = u64::from(dst);
            assert!(dst + 8 <= stack_end);
            writes.push((dst, 8, RET_POINTER));
            assert!(
                u64::from(plan.ret_scratch) + ret.size() as u64 <= frame,
                "return scratch"
            );
            writes.push((u64::from(plan.ret_scratch), ret.size() as u64, RET_SCRATCH));
        }
        RetPlan::X87 { count } => {
            assert_eq!(ret.size(), 16 * usize::from(count), "x87 return of {ret:?}");
        }
    }
    if small {
        writes.sort_unstable();
    }
    for w in writes.windows(2).filter(|_| small) {
        assert!(
            w[0].0 + w[0].1 <= w[1].0,
            "frame writes {:#x} and {:#x} overlap (move index, | {COPY:#x} for a copy, \
             {RET_POINTER:#x} return pointer, {RET_SCRATCH:#x} return scratch): {plan:?}",
            w[0].2,
            w[1].2,
        );
    }

    // The moves of each argument, in one pass (`moves_of` scans from the start).
    let mut by_arg: Vec<&[closure_ffi::dynamic::plan::Move]> = Vec::with_capacity(args.len());
    let mut start = 0;
    for i in 0..args.len() {
        let n = plan.moves[start..]
            .iter()
            .take_while(|m| usize::from(m.arg) == i)
            .count();
        by_arg.push(&plan.moves[start..start + n]);
        start += n;
    }
    assert_eq!(start, plan.moves.len());
    for (i, ty) in args.iter().enumerate() {
        let moves = by_arg[i];
        if i < 32 {
            assert_eq!(plan.moves_of(i), moves);
        }
        assert!(!moves.is_empty(), "argument {i} has no move");
        if i < ROUND_TRIP_ARGS && ty.size() <= ROUND_TRIP_VALUE {
            for (off, len) in scalar_ranges(ty) {
                for b in off..off + len {
                    assert!(
                        moves.iter().any(|m| (usize::from(m.src)
                            ..usize::from(m.src) + m.len as usize)
                            .contains(&b)
                            || matches!(m.op, MoveOp::Reference { .. })),
                        "byte {b} of argument {i} ({ty:?}) is not moved: {moves:?}"
                    );
                }
            }
        }
    }
    if let RetPlan::Regs { parts, count, .. } = plan.ret {
        if ret.size() <= ROUND_TRIP_VALUE {
            for (off, len) in scalar_ranges(ret) {
                for b in off..off + len {
                    assert!(
                        parts[..usize::from(count)]
                            .iter()
                            .any(
                                |p| (usize::from(p.off)..usize::from(p.off) + usize::from(p.len))
                                    .contains(&b)
                            ),
                        "byte {b} of the return value ({ret:?}) is not returned: {:?}",
                        plan.ret
                    );
                }
            }
        }
    }
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
                for (off, len) in scalar_ranges(t) {
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
            for (off, len) in scalar_ranges(&ret_ty).into_iter().filter(|_| ret_size > 0) {
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
