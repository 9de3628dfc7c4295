//! Bad input to the dynamic layer: malformed types, signatures that cannot be called, bad
//! ABI numbers and mismatched typed accesses. Every one is an error value with libffi's
//! status, never a panic.

#![cfg(any(
    target_arch = "x86_64",
    target_arch = "x86",
    all(target_arch = "aarch64", target_os = "linux"),
    all(target_arch = "arm", target_os = "linux")
))]

use core::ffi::c_void;

use closure_ffi::dynamic::plan::{ValueTypeError, MAX_ARGS};
// Links the C peer (the variadic callee of `va_with_n_arguments`).
use closure_ffi::dynamic::types::{MAX_ALIGN, MAX_DEPTH, MAX_SIZE};
use closure_ffi::dynamic::{
    Abi, CType, Cif, CifError, CodePtr, Status, Type, TypeError, TypeKind, TypedCif,
};
use closure_ffi_test_support as _;

/// The target's ABIs (on i386, those that return structs: pascal and register refuse to,
/// see tests/dynamic_i386.rs).
#[cfg(target_arch = "x86_64")]
const ABIS: &[Abi] = &[Abi::SysV64, Abi::Win64];
#[cfg(target_arch = "x86")]
const ABIS: &[Abi] = &[
    Abi::SysV,
    Abi::StdCall,
    Abi::FastCall,
    Abi::ThisCall,
    Abi::MsCdecl,
];
#[cfg(target_arch = "aarch64")]
const ABIS: &[Abi] = &[Abi::Aapcs64];
/// A second ABI of the target that can call variadic functions (aarch64 has one ABI).
#[cfg(target_arch = "arm")]
const ABIS: &[Abi] = &[Abi::Vfp, Abi::Aapcs];
#[cfg(target_arch = "x86_64")]
const OTHER: Abi = Abi::Win64;
#[cfg(target_arch = "x86")]
const OTHER: Abi = Abi::MsCdecl;
#[cfg(target_arch = "aarch64")]
const OTHER: Abi = Abi::Aapcs64;
#[cfg(target_arch = "arm")]
const OTHER: Abi = Abi::Aapcs;
/// The target's ABIs that can call variadic functions.
#[cfg(any(target_arch = "x86_64", target_arch = "arm"))]
const VARIADIC_ABIS: &[Abi] = ABIS;
#[cfg(target_arch = "x86")]
const VARIADIC_ABIS: &[Abi] = &[Abi::SysV, Abi::MsCdecl];
#[cfg(target_arch = "aarch64")]
const VARIADIC_ABIS: &[Abi] = ABIS;

fn st<const N: usize>(members: [Type; N]) -> Type {
    Type::structure(members).expect("a valid struct")
}

/// The error of a signature that must be refused.
fn cif_err<const N: usize>(abi: Abi, args: [Type; N], ret: Type) -> CifError {
    Cif::new(abi, args, ret).expect_err("the signature must be refused")
}

#[test]
fn empty_aggregates() {
    assert_eq!(Type::structure([]), Err(TypeError::Empty));
    assert_eq!(Type::union([]), Err(TypeError::Empty));
    assert_eq!(Type::structure(Vec::new()), Err(TypeError::Empty));
}

#[test]
fn void_inside_aggregates() {
    assert_eq!(Type::structure([Type::VOID]), Err(TypeError::VoidMember));
    assert_eq!(
        Type::structure([Type::I32, Type::VOID, Type::I32]),
        Err(TypeError::VoidMember)
    );
    assert_eq!(
        Type::union([Type::F64, Type::VOID]),
        Err(TypeError::VoidMember)
    );
    assert_eq!(Type::array(Type::VOID, 4), Err(TypeError::VoidMember));
    assert_eq!(Type::complex(Type::VOID), Err(TypeError::BadComplexElement));
    for element in [
        Type::I32,
        Type::POINTER,
        Type::complex_f64(),
        st([Type::F64]),
    ] {
        assert_eq!(
            Type::complex(element.clone()),
            Err(TypeError::BadComplexElement),
            "{element:?}"
        );
    }
}

#[test]
fn zero_length_and_oversized_arrays() {
    assert_eq!(Type::array(Type::I32, 0), Err(TypeError::ZeroLength));
    assert_eq!(Type::array(st([Type::U8]), 0), Err(TypeError::ZeroLength));
    // Multiplication overflow, and sizes just past the limit.
    assert_eq!(
        Type::array(Type::U64, usize::MAX / 4),
        Err(TypeError::TooLarge)
    );
    assert_eq!(Type::array(Type::U8, usize::MAX), Err(TypeError::TooLarge));
    assert_eq!(
        Type::array(Type::U8, MAX_SIZE + 1),
        Err(TypeError::TooLarge)
    );
    let largest = Type::array(Type::U8, MAX_SIZE).expect("exactly the limit");
    assert_eq!(largest.size(), MAX_SIZE);
    assert_eq!(
        Type::structure([largest.clone(), Type::U8]),
        Err(TypeError::TooLarge)
    );
    // Padding alone can push a struct past the limit.
    assert_eq!(
        Type::structure([largest, Type::U64]),
        Err(TypeError::TooLarge)
    );
}

#[test]
fn bad_alignments() {
    // Not a power of two, or below the natural alignment (that of an int64_t: 8 on x86_64,
    // 4 on i386), or too large.
    let s = st([Type::I64, Type::U8]);
    let below = Type::I64.align() / 2;
    for align in [0, 3, below, 6, 12, 1 << 20, MAX_ALIGN * 2, usize::MAX] {
        assert_eq!(
            s.aligned(align),
            Err(TypeError::BadAlignment(align)),
            "{align}"
        );
    }
    let u = Type::union([Type::I32, Type::U8]).unwrap();
    assert_eq!(u.aligned(2), Err(TypeError::BadAlignment(2)));
    // Only structs and unions take an alignment.
    assert_eq!(Type::I32.aligned(8), Err(TypeError::BadAlignment(8)));
    let arr = Type::array(Type::U8, 3).unwrap();
    assert_eq!(arr.aligned(8), Err(TypeError::BadAlignment(8)));
    assert_eq!(
        Type::complex_f32().aligned(16),
        Err(TypeError::BadAlignment(16))
    );
    // The largest alignment is fine; the size follows it.
    let a = s.aligned(MAX_ALIGN).expect("MAX_ALIGN is allowed");
    assert_eq!((a.size(), a.align()), (MAX_ALIGN, MAX_ALIGN));
    let a = u.aligned(4).expect("the natural alignment is allowed");
    assert_eq!((a.size(), a.align()), (4, 4));
}

#[test]
fn nesting_deeper_than_max_depth() {
    let nest = |wrap: &dyn Fn(Type) -> Result<Type, TypeError>| {
        let mut ty = Type::U8;
        for level in 0..MAX_DEPTH {
            ty = wrap(ty).unwrap_or_else(|e| panic!("level {level}: {e}"));
        }
        (ty.clone(), wrap(ty))
    };
    let (deepest, too_deep) = nest(&|t| Type::structure([t]));
    assert_eq!(too_deep, Err(TypeError::TooDeep));
    assert_eq!(Type::union([deepest.clone()]), Err(TypeError::TooDeep));
    assert_eq!(Type::array(deepest.clone(), 2), Err(TypeError::TooDeep));
    let (_, too_deep) = nest(&|t| Type::array(t, 1));
    assert_eq!(too_deep, Err(TypeError::TooDeep));
    let (_, too_deep) = nest(&|t| Type::union([Type::U8, t]));
    assert_eq!(too_deep, Err(TypeError::TooDeep));
    // The deepest allowed type is usable in a signature (a 1-byte struct).
    for &abi in ABIS {
        let cif = Cif::new(abi, [deepest.clone()], deepest.clone()).expect("depth MAX_DEPTH");
        assert_eq!(cif.args()[0].size(), 1);
    }
}

#[test]
fn arrays_and_void_as_arguments() {
    let arr = Type::array(Type::I32, 2).unwrap();
    for &abi in ABIS {
        assert_eq!(
            cif_err(abi, [Type::VOID], Type::VOID),
            CifError::BadArgType {
                index: 0,
                reason: ValueTypeError::Void
            }
        );
        assert_eq!(
            cif_err(abi, [Type::I32, Type::F64, arr.clone()], Type::VOID),
            CifError::BadArgType {
                index: 2,
                reason: ValueTypeError::Array
            }
        );
        assert_eq!(
            cif_err(abi, [Type::I32, Type::VOID, arr.clone()], Type::VOID),
            CifError::BadArgType {
                index: 1,
                reason: ValueTypeError::Void
            },
            "the first bad argument is reported"
        );
        assert_eq!(
            cif_err(abi, [], arr.clone()),
            CifError::BadReturnType(ValueTypeError::Array)
        );
        // An array inside a struct is fine.
        assert!(Cif::new(abi, [st([arr.clone()])], st([arr.clone()])).is_ok());
    }
}

#[test]
fn over_aligned_values() {
    let over = st([Type::I32]).aligned(32).unwrap();
    let ok16 = st([Type::I32]).aligned(16).unwrap();
    for &abi in ABIS {
        assert_eq!(
            cif_err(abi, [Type::I64, over.clone()], Type::VOID),
            CifError::BadArgType {
                index: 1,
                reason: ValueTypeError::OverAligned
            }
        );
        let err = cif_err(abi, [Type::I64], over.clone());
        assert_eq!(err, CifError::BadReturnType(ValueTypeError::OverAligned));
        assert_eq!(err.status(), Status::BadTypedef);
        // Nested: the outer struct inherits the alignment.
        let outer = st([Type::U8, over.clone()]);
        assert_eq!(
            cif_err(abi, [outer.clone()], Type::VOID),
            CifError::BadArgType {
                index: 0,
                reason: ValueTypeError::OverAligned
            }
        );
        assert!(Cif::new(abi, [ok16.clone()], ok16.clone()).is_ok());
    }
}

#[test]
fn frames_past_4_gib_are_refused() {
    let huge = st([Type::array(Type::U8, MAX_SIZE - 7).unwrap()]);
    for &abi in ABIS {
        let err = cif_err(abi, [huge.clone(), huge.clone(), huge.clone()], Type::VOID);
        assert!(
            matches!(
                err,
                CifError::BadArgType {
                    reason: ValueTypeError::TooLarge,
                    ..
                }
            ),
            "{abi:?}: {err:?}"
        );
        assert_eq!(err.status(), Status::BadArgType);
    }
}

#[test]
fn unpromoted_variadic_arguments() {
    for &abi in VARIADIC_ABIS {
        for (ty, kind) in [
            (Type::F32, TypeKind::F32),
            (Type::I8, TypeKind::I8),
            (Type::U8, TypeKind::U8),
            (Type::I16, TypeKind::I16),
            (Type::U16, TypeKind::U16),
        ] {
            let err = Cif::new_variadic(abi, [Type::POINTER, Type::I32, ty.clone()], 1, Type::I32)
                .expect_err("unpromoted");
            assert_eq!(
                err,
                CifError::BadArgType {
                    index: 2,
                    reason: ValueTypeError::NotPromoted
                },
                "{abi:?} {kind:?}"
            );
            assert_eq!(err.status(), Status::BadArgType);
            // As a fixed argument the same type is fine.
            assert!(Cif::new_variadic(abi, [ty.clone(), Type::I32], 1, Type::I32).is_ok());
        }
        // Promoted types, pointers, structs and long double are fine as variable arguments.
        let fine = [
            Type::I32,
            Type::U32,
            Type::I64,
            Type::F64,
            Type::POINTER,
            Type::LONG_DOUBLE,
            st([Type::F32, Type::F32]),
            st([Type::U8]),
        ];
        assert!(Cif::new_variadic(abi, fine, 1, Type::VOID).is_ok());
        // Void and arrays are refused as variable arguments too.
        let arr = Type::array(Type::I32, 2).unwrap();
        assert_eq!(
            Cif::new_variadic(abi, [Type::POINTER, arr], 1, Type::VOID).unwrap_err(),
            CifError::BadArgType {
                index: 1,
                reason: ValueTypeError::Array
            }
        );
    }
}

#[test]
fn bad_fixed_counts() {
    for &abi in VARIADIC_ABIS {
        let err = Cif::new_variadic(abi, [Type::POINTER, Type::I32], 0, Type::I32).unwrap_err();
        assert_eq!(
            err,
            CifError::BadFixedCount {
                nfixed: 0,
                ntotal: 2
            }
        );
        assert_eq!(err.status(), Status::BadArgType);
        assert_eq!(
            Cif::new_variadic(abi, [Type::POINTER, Type::I32], 3, Type::I32).unwrap_err(),
            CifError::BadFixedCount {
                nfixed: 3,
                ntotal: 2
            }
        );
        assert_eq!(
            Cif::new_variadic(abi, [], 0, Type::I32).unwrap_err(),
            CifError::BadFixedCount {
                nfixed: 0,
                ntotal: 0
            }
        );
        assert_eq!(
            Cif::new_variadic(abi, [Type::I32], usize::MAX, Type::I32).unwrap_err(),
            CifError::BadFixedCount {
                nfixed: usize::MAX,
                ntotal: 1
            }
        );
        // All arguments fixed is allowed.
        let cif = Cif::new_variadic(abi, [Type::POINTER, Type::I32], 2, Type::I32).unwrap();
        assert_eq!(cif.nfixed(), Some(2));
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn abi_numbers_follow_libffi() {
    for raw in [0, 1, 5, 6, 99, u32::MAX] {
        let err = Abi::from_raw(raw).unwrap_err();
        assert_eq!(err, CifError::BadAbi(raw));
        assert_eq!(err.status(), Status::BadAbi);
    }
    assert_eq!(Abi::from_raw(2), Ok(Abi::SysV64));
    assert_eq!(Abi::from_raw(3), Ok(Abi::Win64));
    assert_eq!(Abi::from_raw(4), Ok(Abi::Win64));
    assert_eq!((Abi::SysV64.to_raw(), Abi::Win64.to_raw()), (2, 3));
    for &abi in ABIS {
        assert_eq!(Abi::from_raw(abi.to_raw()), Ok(abi));
    }
    assert_eq!(Abi::UNIX64, Abi::SysV64);
    assert_eq!(
        (Abi::WIN64, Abi::EFI64, Abi::GNUW64),
        (Abi::Win64, Abi::Win64, Abi::Win64)
    );
    let host = if cfg!(windows) {
        Abi::Win64
    } else {
        Abi::SysV64
    };
    assert_eq!(Abi::DEFAULT, host);
    // The i386 family's ABIs are refused by Cif::new, not a crash.
    for abi in [
        Abi::SysV,
        Abi::StdCall,
        Abi::ThisCall,
        Abi::FastCall,
        Abi::MsCdecl,
        Abi::Pascal,
        Abi::Register,
    ] {
        let err = Cif::new(abi, [Type::I32], Type::I32).unwrap_err();
        assert_eq!(
            (err, err.status()),
            (CifError::BadAbi(abi.to_raw()), Status::BadAbi)
        );
    }
}

#[cfg(target_arch = "x86")]
#[test]
fn abi_numbers_follow_libffi() {
    for raw in [0, 2, 9, 99, u32::MAX] {
        let err = Abi::from_raw(raw).unwrap_err();
        assert_eq!(err, CifError::BadAbi(raw));
        assert_eq!(err.status(), Status::BadAbi);
    }
    for &abi in ABIS.iter().chain(&[Abi::Pascal, Abi::Register]) {
        assert_eq!(Abi::from_raw(abi.to_raw()), Ok(abi));
    }
    assert_eq!(
        (Abi::STDCALL, Abi::THISCALL, Abi::FASTCALL),
        (Abi::StdCall, Abi::ThisCall, Abi::FastCall)
    );
    assert_eq!(
        (Abi::MS_CDECL, Abi::PASCAL, Abi::REGISTER),
        (Abi::MsCdecl, Abi::Pascal, Abi::Register)
    );
    // The C ABI: Microsoft's cdecl on Windows (libffi's FFI_DEFAULT_ABI there).
    let host = if cfg!(windows) {
        Abi::MsCdecl
    } else {
        Abi::SysV
    };
    assert_eq!(Abi::DEFAULT, host);
    // The other family's ABIs are refused by Cif::new, not a crash.
    for abi in [Abi::SysV64, Abi::Win64] {
        let err = Cif::new(abi, [Type::I32], Type::I32).unwrap_err();
        assert_eq!(
            (err, err.status()),
            (CifError::BadAbi(abi.to_raw()), Status::BadAbi)
        );
    }
}

#[cfg(target_arch = "aarch64")]
#[test]
fn abi_numbers_follow_libffi() {
    // libffi's aarch64 build: SYSV = 1; WIN64 = 2 is the Windows ABI, not implemented here.
    for raw in [0, 2, 3, 99, u32::MAX] {
        let err = Abi::from_raw(raw).unwrap_err();
        assert_eq!(err, CifError::BadAbi(raw));
        assert_eq!(err.status(), Status::BadAbi);
    }
    assert_eq!(Abi::from_raw(1), Ok(Abi::Aapcs64));
    assert_eq!(Abi::DEFAULT, Abi::Aapcs64);
    // The other families' ABIs are refused by Cif::new, not a crash.
    for abi in [
        Abi::SysV64,
        Abi::Win64,
        Abi::SysV,
        Abi::StdCall,
        Abi::Aapcs,
        Abi::Vfp,
    ] {
        let err = Cif::new(abi, [Type::I32], Type::I32).unwrap_err();
        assert_eq!(
            (err, err.status()),
            (CifError::BadAbi(abi.to_raw()), Status::BadAbi)
        );
    }
}

#[cfg(target_arch = "arm")]
#[test]
fn abi_numbers_follow_libffi() {
    for raw in [0, 3, 4, 99, u32::MAX] {
        let err = Abi::from_raw(raw).unwrap_err();
        assert_eq!(err, CifError::BadAbi(raw));
        assert_eq!(err.status(), Status::BadAbi);
    }
    assert_eq!(Abi::from_raw(1), Ok(Abi::Aapcs));
    assert_eq!(Abi::from_raw(2), Ok(Abi::Vfp));
    for &abi in ABIS {
        assert_eq!(Abi::from_raw(abi.to_raw()), Ok(abi));
    }
    assert_eq!(Abi::DEFAULT, Abi::Vfp);
    // The other families' ABIs are refused by Cif::new, not a crash.
    for abi in [
        Abi::SysV64,
        Abi::Win64,
        Abi::SysV,
        Abi::StdCall,
        Abi::Aapcs64,
    ] {
        let err = Cif::new(abi, [Type::I32], Type::I32).unwrap_err();
        assert_eq!(
            (err, err.status()),
            (CifError::BadAbi(abi.to_raw()), Status::BadAbi)
        );
    }
}

#[test]
fn statuses_have_libffis_numbers() {
    assert_eq!(Status::Ok as u32, 0);
    assert_eq!(Status::BadTypedef as u32, 1);
    assert_eq!(Status::BadAbi as u32, 2);
    assert_eq!(Status::BadArgType as u32, 3);
    let arg = CifError::BadArgType {
        index: 0,
        reason: ValueTypeError::Void,
    };
    let cases = [
        (CifError::BadAbi(0), 2),
        (arg, 3),
        (
            CifError::BadFixedCount {
                nfixed: 0,
                ntotal: 1,
            },
            3,
        ),
        (CifError::BadReturnType(ValueTypeError::Array), 1),
    ];
    for (err, status) in cases {
        assert_eq!(err.status() as u32, status, "{err:?}");
    }
}

#[cfg(feature = "std")]
#[test]
fn errors_display_and_are_std_errors() {
    use std::error::Error;

    let type_errors = [
        TypeError::Empty,
        TypeError::VoidMember,
        TypeError::ZeroLength,
        TypeError::BadComplexElement,
        TypeError::BadAlignment(3),
        TypeError::TooLarge,
        TypeError::TooDeep,
    ];
    for err in type_errors {
        let boxed: Box<dyn Error> = Box::new(err);
        assert!(!boxed.to_string().is_empty(), "{err:?}");
    }
    assert!(TypeError::BadAlignment(3).to_string().contains('3'));
    let cif_errors = [
        CifError::BadAbi(99),
        CifError::BadArgType {
            index: 7,
            reason: ValueTypeError::NotPromoted,
        },
        CifError::BadReturnType(ValueTypeError::OverAligned),
        CifError::BadFixedCount {
            nfixed: 5,
            ntotal: 2,
        },
    ];
    for err in cif_errors {
        let boxed: Box<dyn Error> = Box::new(err);
        assert!(!boxed.to_string().is_empty(), "{err:?}");
    }
    assert!(CifError::BadAbi(99).to_string().contains("99"));
    assert!(cif_errors[1].to_string().contains('7'));
}

/// An over-aligned user struct: no Cif can pass it by value.
#[repr(C, align(32))]
#[derive(Clone, Copy)]
struct Over {
    x: i32,
}

// SAFETY: the Type is a struct of one i32, aligned to 32: exactly this layout.
unsafe impl CType for Over {
    fn ffi_type() -> Type {
        st([Type::I32]).aligned(32).expect("a valid alignment")
    }
}

#[test]
fn typed_signatures_with_unpassable_types() {
    assert_eq!(size_of::<Over>(), Over::ffi_type().size());
    let err = TypedCif::<extern "C" fn(i32, Over)>::new().unwrap_err();
    assert_eq!(
        err,
        CifError::BadArgType {
            index: 1,
            reason: ValueTypeError::OverAligned
        }
    );
    #[cfg(target_arch = "x86_64")]
    let err = TypedCif::<extern "win64" fn() -> Over>::new().unwrap_err();
    #[cfg(target_arch = "x86")]
    let err = TypedCif::<extern "stdcall" fn() -> Over>::new().unwrap_err();
    #[cfg(target_arch = "aarch64")]
    let err = TypedCif::<extern "C" fn() -> Over>::new().unwrap_err();
    #[cfg(target_arch = "arm")]
    let err = TypedCif::<extern "aapcs" fn() -> Over>::new().unwrap_err();
    assert_eq!(err, CifError::BadReturnType(ValueTypeError::OverAligned));
    #[cfg(feature = "global_jit_alloc")]
    {
        use closure_ffi::dynamic::{TypedClosure, TypedClosureError};
        let err = TypedClosure::<extern "C" fn(Over) -> i32, _>::new(|o: Over| o.x)
            .err()
            .expect("refused");
        assert_eq!(
            err,
            TypedClosureError::Cif(CifError::BadArgType {
                index: 0,
                reason: ValueTypeError::OverAligned
            })
        );
        assert!(!err.to_string().is_empty());
    }
}

/// Mismatched typed reads and writes inside a closure are errors, not undefined behaviour.
#[cfg(feature = "global_jit_alloc")]
#[test]
fn closure_arguments_and_results_are_type_checked() {
    use std::sync::Mutex;

    use closure_ffi::dynamic::{CallError, Closure};

    let seen = Mutex::new(Vec::new());
    let cif = Cif::new(Abi::DEFAULT, [Type::I32, Type::F64], Type::I16).unwrap();
    let closure = Closure::new(cif, |args, ret| {
        let mut seen = seen.lock().unwrap();
        seen.push(format!("{:?}", args.get::<i32>(2).map(|_| ())));
        seen.push(format!("{:?}", args.get::<i64>(0).map(|_| ())));
        seen.push(format!("{:?}", args.get::<f32>(1).map(|_| ())));
        seen.push(format!("{:?}", args.ptr(2)));
        seen.push(format!("{:?}", args.get::<f64>(1)));
        // The largest index is an error too, not an overflow.
        seen.push(format!("{:?}", args.get::<i32>(usize::MAX).map(|_| ())));
        let wrong = ret.set(7i32);
        seen.push(format!("{wrong:?}"));
    })
    .expect("closure memory");
    // SAFETY: the closure is `int16_t (int32_t, double)` in the default ABI.
    let f: extern "C" fn(i32, f64) -> i16 = unsafe { closure.fn_ptr() };
    f(1, 2.5);
    let want = [
        format!(
            "{:?}",
            Err::<(), _>(CallError::ArgCount {
                expected: 2,
                got: 3
            })
        ),
        format!("{:?}", Err::<(), _>(CallError::ArgType { index: 0 })),
        format!("{:?}", Err::<(), _>(CallError::ArgType { index: 1 })),
        "None".to_string(),
        "Ok(2.5)".to_string(),
        format!(
            "{:?}",
            Err::<(), _>(CallError::ArgCount {
                expected: 2,
                got: usize::MAX
            })
        ),
        format!("{:?}", Err::<(), _>(CallError::RetType)),
    ];
    assert_eq!(*seen.lock().unwrap(), want);
}

/// Calls `dyn_va_sysv` (test-support/c/dynamic.c; `i386_vfmt` or `arm_vfmt`, the same
/// formula, on those targets) with `n` int64_t variable arguments.
fn va_with_n_arguments(n: usize) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    let va = closure_ffi_test_support::dynamic::sysv().va;
    #[cfg(target_arch = "x86")]
    let va = {
        // The same formula in test-support/c/dynamic_i386.c.
        extern "C" {
            fn i386_vfmt();
        }
        i386_vfmt as *const c_void
    };
    #[cfg(target_arch = "aarch64")]
    let va = {
        // The same formula in test-support/c/dynamic_aarch64.c.
        extern "C" {
            fn a64_vfmt();
        }
        a64_vfmt as *const c_void
    };
    #[cfg(target_arch = "arm")]
    let va = {
        // The same formula in test-support/c/dynamic_arm.c.
        extern "C" {
            fn arm_vfmt();
        }
        arm_vfmt as *const c_void
    };
    let letters = std::ffi::CString::new("l".repeat(n)).unwrap();
    let letters_ptr = letters.as_ptr();
    let values: Vec<i64> = (0..n as i64).map(|i| i % 1000 - 500).collect();
    let mut types = vec![Type::POINTER];
    types.extend(std::iter::repeat_n(Type::I64, n));
    // `dyn_va_sysv` is System V on every x86_64 host (Abi::DEFAULT is Win64 on Windows).
    #[cfg(target_arch = "x86_64")]
    let abi = Abi::SysV64;
    #[cfg(not(target_arch = "x86_64"))]
    let abi = Abi::DEFAULT;
    let cif = Cif::new_variadic(abi, types, 1, Type::F64).unwrap();
    let mut avalue: Vec<*mut c_void> = vec![(&letters_ptr as *const *const core::ffi::c_char)
        .cast_mut()
        .cast()];
    avalue.extend(
        values
            .iter()
            .map(|v| (v as *const i64).cast_mut().cast::<c_void>()),
    );
    let mut got = 0f64;
    // SAFETY: `dyn_va` reads `n` int64_t variable arguments; the frame (8 bytes each) fits
    // the test thread's stack.
    unsafe {
        cif.call_raw(
            CodePtr::new(va),
            (&mut got as *mut f64).cast(),
            avalue.as_ptr(),
        )
    };
    let want = values
        .iter()
        .zip(1..)
        .map(|(&v, k)| f64::from(k) * v as f64)
        .sum();
    (got, want)
}

#[test]
fn many_arguments() {
    let (got, want) = va_with_n_arguments(1000);
    assert_eq!(got, want);
}

#[test]
fn more_than_65536_arguments_are_refused() {
    let n = 70_000;
    let mut types = vec![Type::POINTER];
    types.extend(std::iter::repeat_n(Type::I64, n));
    for &abi in VARIADIC_ABIS {
        let err = Cif::new_variadic(abi, types.clone(), 1, Type::F64).unwrap_err();
        assert_eq!(
            err,
            CifError::BadArgType {
                index: MAX_ARGS,
                reason: ValueTypeError::TooLarge
            }
        );
    }
}

#[test]
fn reset_reprepares_in_place_and_leaves_sharers_alone() {
    let mut cif = Cif::new(Abi::DEFAULT, [Type::I32], Type::I32).unwrap();
    let kept = cif.clone();
    cif.reset(Abi::DEFAULT, [Type::F64, Type::F64], Type::F64)
        .unwrap();
    assert_eq!(cif.args(), &[Type::F64, Type::F64]);
    assert_eq!(kept.args(), &[Type::I32], "a clone keeps its signature");
    let err = cif
        .reset(Abi::DEFAULT, [Type::I32, Type::VOID], Type::I32)
        .unwrap_err();
    assert_eq!(
        err,
        CifError::BadArgType {
            index: 1,
            reason: ValueTypeError::Void
        }
    );
    assert_eq!(
        (cif.args(), cif.ret()),
        (&[][..], &Type::VOID),
        "() -> void after an error"
    );
    let err = cif
        .reset_variadic(Abi::DEFAULT, [Type::I32], 2, Type::VOID)
        .unwrap_err();
    assert_eq!(
        err,
        CifError::BadFixedCount {
            nfixed: 2,
            ntotal: 1
        }
    );
    cif.reset_variadic(OTHER, [Type::POINTER, Type::F64], 1, Type::I32)
        .unwrap();
    assert_eq!((cif.abi(), cif.nfixed()), (OTHER, Some(1)));
}
