//! `#[derive(CType)]`: the derived descriptions match rustc's layout (size, alignment and
//! every field offset, against `size_of`, `align_of` and `offset_of!`) for structs with
//! named and tuple fields, nested derived structs, arrays (nested, and through a `$t:ty`
//! fragment), `align(N)`, unions, type and const parameters; and derived structs travel by
//! value through a `Cif` call and a `TypedClosure`, to and from Rust `extern "C"` functions.
//! A wrong hand-written `CType` impl of a field type is caught (in debug builds) or refused.
//!
//! Misuses are in `tests/ui-derive/` (`tests/compile_fail_derive.rs`).
//!
//! Run with `cargo test --features proc_macros --test derive_ctype`.

#![cfg(all(
    feature = "proc_macros",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        all(any(target_arch = "aarch64", target_arch = "arm"), target_os = "linux")
    )
))]

use core::mem::{align_of, offset_of, size_of};

use closure_ffi::dynamic::{arg, Abi, CType, Cif, CifError, CodePtr, Complex, LongDouble, Type};

/// Checks `$t`'s derived description against rustc's layout of `$t`, field by field.
macro_rules! assert_layout {
    ($t:ty { $($field:tt),* $(,)? }) => {{
        let ty = <$t as CType>::ffi_type();
        assert_eq!(ty.size(), size_of::<$t>(), "size of {}", stringify!($t));
        assert_eq!(ty.align(), align_of::<$t>(), "alignment of {}", stringify!($t));
        assert_eq!(
            ty.offsets(),
            &[$(offset_of!($t, $field)),*][..],
            "offsets of {}",
            stringify!($t)
        );
        ty
    }};
}

#[derive(Clone, Copy, Debug, PartialEq, CType)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

/// Padding after `a` and `c`; a pointer member.
#[derive(Clone, Copy, Debug, PartialEq, CType)]
#[repr(C)]
struct Mixed {
    a: u8,
    b: f64,
    c: u16,
    d: *const u8,
}

#[derive(Clone, Copy, Debug, PartialEq, CType)]
#[repr(C)]
struct Pair(i32, u8);

#[derive(Clone, Copy, Debug, PartialEq, CType)]
#[repr(C)]
struct Outer {
    tag: u8,
    inner: Mixed,
    points: [Point; 2],
    grid: [[u16; 3]; 2],
    pair: Pair,
}

#[derive(Clone, Copy, Debug, PartialEq, CType)]
#[repr(C, align(32))]
struct Aligned32 {
    v: u32,
}

/// `align` in its own attribute.
#[derive(Clone, Copy, Debug, PartialEq, CType)]
#[repr(C)]
#[repr(align(16))]
struct Aligned16(u8, u16);

#[derive(Clone, Copy, CType)]
#[repr(C)]
union IntOrFloat {
    i: u32,
    f: f64,
    bytes: [u8; 12],
}

#[derive(Clone, Copy, Debug, PartialEq, CType)]
#[repr(C)]
struct Generic<T> {
    a: T,
    b: T,
    tail: [T; 3],
}

/// `Copy` without `T: Copy`: the derive bounds the field types, not `T`.
#[derive(Debug, PartialEq, CType)]
#[repr(C)]
struct Slice<T> {
    ptr: *const T,
    len: usize,
}

impl<T> Clone for Slice<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Slice<T> {}

#[derive(Clone, Copy, Debug, PartialEq, CType)]
#[repr(C)]
struct Buffer<const N: usize> {
    len: u32,
    data: [u8; N],
}

#[derive(Clone, Copy, Debug, PartialEq, CType)]
#[repr(C)]
struct Wide {
    ld: LongDouble,
    z: Complex<f32>,
    big: u128,
    flag: i8,
}

/// Field types that arrive as `$t:ty` fragments (invisible groups).
macro_rules! through_fragment {
    ($name:ident, $array:ty, $scalar:ty) => {
        #[derive(Clone, Copy, Debug, PartialEq, CType)]
        #[repr(C)]
        struct $name {
            array: $array,
            scalar: $scalar,
        }
    };
}

through_fragment!(Fragment, [[i16; 5]; 1], u64);

#[test]
fn layouts_match_rustc() {
    let point = assert_layout!(Point { x, y });
    assert_eq!(point, Type::structure([Type::F64, Type::F64]).unwrap());
    assert_layout!(Mixed { a, b, c, d });
    assert_layout!(Pair { 0, 1 });
    let outer = assert_layout!(Outer {
        tag,
        inner,
        points,
        grid,
        pair
    });
    let grid = &outer.members()[3];
    assert_eq!((grid.len(), grid.element().map(Type::len)), (2, Some(3)));
    assert_eq!(outer.members()[2].element(), Some(&point));

    let a32 = assert_layout!(Aligned32 { v });
    assert_eq!((a32.size(), a32.align()), (32, 32));
    let a16 = assert_layout!(Aligned16 { 0, 1 });
    assert_eq!((a16.size(), a16.align()), (16, 16));

    assert_layout!(Generic<u8> { a, b, tail });
    assert_layout!(Generic<Point> { a, b, tail });
    assert_layout!(Slice<String> { ptr, len });
    assert_layout!(Buffer<1> { len, data });
    assert_layout!(Buffer<13> { len, data });
    assert_layout!(Wide { ld, z, big, flag });
    assert_layout!(Fragment { array, scalar });
}

#[test]
fn unions_put_every_member_at_zero() {
    let ty = IntOrFloat::ffi_type();
    assert_eq!(
        (ty.size(), ty.align()),
        (size_of::<IntOrFloat>(), align_of::<IntOrFloat>())
    );
    assert_eq!(ty.offsets(), &[0, 0, 0]);
    assert_eq!(
        ty,
        Type::union([Type::U32, Type::F64, Type::array(Type::U8, 12).unwrap()]).unwrap()
    );
}

extern "C" fn mirror(p: Point) -> Point {
    Point { x: p.y, y: p.x }
}

extern "C" fn bump_mixed(m: Mixed) -> Mixed {
    Mixed {
        a: m.a + 1,
        b: m.b * 2.0,
        c: m.c + 3,
        d: m.d.wrapping_add(4),
    }
}

extern "C" fn swap_pair(p: Pair) -> Pair {
    Pair(p.0 * 2, p.1 + 1)
}

extern "C" fn rotate_outer(o: Outer) -> Outer {
    Outer {
        tag: o.tag.wrapping_add(1),
        inner: bump_mixed(o.inner),
        points: [o.points[1], o.points[0]],
        grid: [o.grid[1], o.grid[0]],
        pair: swap_pair(o.pair),
    }
}

extern "C" fn scale_generic(g: Generic<f32>) -> Generic<f32> {
    Generic {
        a: g.a * 2.0,
        b: g.b * 2.0,
        tail: g.tail.map(|x| x * 2.0),
    }
}

fn outer() -> Outer {
    Outer {
        tag: 7,
        inner: Mixed {
            a: 1,
            b: 2.5,
            c: 3,
            d: core::ptr::null::<u8>().wrapping_add(0x1000),
        },
        points: [Point { x: 1.0, y: 2.0 }, Point { x: 3.0, y: 4.0 }],
        grid: [[1, 2, 3], [4, 5, 6]],
        pair: Pair(-21, 9),
    }
}

/// Calls `f(value)` through a Cif built from the derived description of `S`.
fn call_by_value<S: CType>(f: extern "C" fn(S) -> S, value: S) -> S {
    let cif = Cif::new(Abi::DEFAULT, [S::ffi_type()], S::ffi_type()).unwrap();
    // SAFETY: `f` has the Cif's signature, `extern "C" fn(S) -> S`.
    unsafe { cif.call::<S>(CodePtr::new(f as *const _), &[arg(&value)]) }.unwrap()
}

#[test]
fn derived_structs_pass_by_value_through_a_cif() {
    // SSE class (two doubles), INTEGER class, memory class (> 16 bytes), nested.
    let p = Point { x: 1.0, y: -2.0 };
    assert_eq!(call_by_value(mirror, p), mirror(p));
    assert_eq!(call_by_value(swap_pair, Pair(4, 5)), Pair(8, 6));
    let m = outer().inner;
    assert_eq!(call_by_value(bump_mixed, m), bump_mixed(m));
    assert_eq!(call_by_value(rotate_outer, outer()), rotate_outer(outer()));
    let g = Generic {
        a: 1.5f32,
        b: -0.25,
        tail: [1.0, 2.0, 3.0],
    };
    assert_eq!(call_by_value(scale_generic, g), scale_generic(g));
}

#[test]
fn over_aligned_structs_are_described_but_not_passed_by_value() {
    assert!(matches!(
        Cif::new(Abi::DEFAULT, [Aligned32::ffi_type()], Type::VOID),
        Err(CifError::BadArgType { .. })
    ));
    // A pointer to one is fine, and so is a 16-byte alignment.
    Cif::new(
        Abi::DEFAULT,
        [<*const Aligned32>::ffi_type(), Aligned16::ffi_type()],
        Aligned16::ffi_type(),
    )
    .unwrap();
}

#[cfg(feature = "global_jit_alloc")]
#[test]
fn derived_structs_pass_by_value_through_a_typed_closure() {
    use closure_ffi::dynamic::TypedClosure;

    let shift = 10.0;
    let closure = TypedClosure::<extern "C" fn(Point) -> Point, _>::new(move |p: Point| Point {
        x: p.y + shift,
        y: p.x,
    })
    .unwrap();
    // SAFETY: the typed closure outlives every call through this pointer.
    let f = unsafe { closure.fn_ptr() };
    assert_eq!(f(Point { x: 1.0, y: 2.0 }), Point { x: 12.0, y: 1.0 });
    // And back through a Cif, as C would see it.
    assert_eq!(
        call_by_value(f, Point { x: 3.0, y: 4.0 }),
        Point { x: 14.0, y: 3.0 }
    );

    let tag = 100;
    let closure = TypedClosure::<extern "C" fn(Outer) -> Outer, _>::new(move |o: Outer| Outer {
        tag,
        ..rotate_outer(o)
    })
    .unwrap();
    // SAFETY: the typed closure outlives every call through this pointer.
    let rotated = (unsafe { closure.fn_ptr() })(outer());
    assert_eq!(
        rotated,
        Outer {
            tag: 100,
            ..rotate_outer(outer())
        }
    );
}

/// A deliberately wrong hand-written impl: describes an 8-byte type as 4 bytes (only
/// debug builds check layouts against rustc's, so only they use it).
#[cfg(debug_assertions)]
#[derive(Clone, Copy)]
#[repr(C)]
struct Narrowed(u64);

// SAFETY: deliberately wrong, to be caught by the derived impl below; no value of this type
// is ever passed through a Cif.
#[cfg(debug_assertions)]
unsafe impl CType for Narrowed {
    fn ffi_type() -> Type {
        Type::U32
    }
}

#[cfg(debug_assertions)]
#[derive(Clone, Copy, CType)]
#[repr(C)]
struct HoldsNarrowed {
    a: u8,
    n: Narrowed,
}

/// A deliberately wrong hand-written impl: describes a byte as `void`.
#[derive(Clone, Copy)]
#[repr(C)]
struct Voided(u8);

// SAFETY: deliberately wrong, to be refused by the derived impl below; no value of this
// type is ever passed through a Cif.
unsafe impl CType for Voided {
    fn ffi_type() -> Type {
        Type::VOID
    }
}

#[derive(Clone, Copy, CType)]
#[repr(C)]
struct HoldsVoided(u32, Voided);

#[cfg(debug_assertions)]
#[test]
#[should_panic(
    expected = "the C type built for `HoldsNarrowed` has another size than the Rust type"
)]
fn debug_builds_check_the_layout_against_rustc() {
    let _ = HoldsNarrowed::ffi_type();
}

#[test]
#[should_panic(expected = "`HoldsVoided` cannot be described as a C type")]
fn a_description_that_cannot_be_built_panics() {
    let _ = HoldsVoided::ffi_type();
}

/// The example of the derive's documentation (in `closure-ffi-macros`, which cannot run it).
#[test]
fn doc_example() -> Result<(), Box<dyn std::error::Error>> {
    #[derive(Clone, Copy, Debug, PartialEq, CType)]
    #[repr(C)]
    struct Point {
        x: f64,
        y: f64,
    }

    #[derive(Clone, Copy, Debug, PartialEq, CType)]
    #[repr(C, align(16))]
    struct Segment(Point, Point, [u16; 3]);

    assert_eq!(Point::ffi_type(), Type::structure([Type::F64, Type::F64])?);
    assert_eq!(Segment::ffi_type().size(), core::mem::size_of::<Segment>());

    extern "C" fn mirror(p: Point) -> Point {
        Point { x: p.y, y: p.x }
    }
    let cif = Cif::new(Abi::DEFAULT, [Point::ffi_type()], Point::ffi_type())?;
    let p = Point { x: 1.0, y: 2.0 };
    // SAFETY: `mirror` has the Cif's signature.
    let q: Point = unsafe { cif.call(CodePtr::new(mirror as *const _), &[arg(&p)]) }?;
    assert_eq!(q, Point { x: 2.0, y: 1.0 });
    Ok(())
}
