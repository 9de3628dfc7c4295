//! C type descriptors and their layout.
//!
//! A [`Type`] is immutable once built: aggregates compute their size, alignment and member
//! offsets when they are constructed (by the host's C layout rules), so a `Type` can be
//! shared between threads and Cifs without the in-place layout step that libffi's
//! `ffi_prep_cif` performs on `ffi_type` objects. Scalars are plain values; aggregates are
//! reference-counted, so cloning a `Type` never copies a member list.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

/// The deepest nesting of aggregates a [`Type`] may have.
///
/// Classification and layout recurse over members; the bound keeps that recursion (and the
/// drop of a deep type) far from any stack limit. C compilers accept much less in practice.
pub const MAX_DEPTH: u32 = 64;

/// The largest alignment an aggregate may ask for with [`Type::aligned`], in bytes.
pub const MAX_ALIGN: usize = 4096;

/// The largest size of a [`Type`], in bytes. Larger layouts are refused as malformed; a
/// C object that size could not be passed or returned by value anyway.
pub const MAX_SIZE: usize = i32::MAX as usize;

/// What kind of C type a [`Type`] is.
///
/// The integer kinds name their width and signedness; `Pointer` is any data or function
/// pointer. `LongDouble` is the target's `long double` (the x87 80-bit format on x86_64,
/// stored in 16 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TypeKind {
    /// `void`: only valid as a return type.
    Void,
    /// `uint8_t`.
    U8,
    /// `int8_t`.
    I8,
    /// `uint16_t`.
    U16,
    /// `int16_t`.
    I16,
    /// `uint32_t`.
    U32,
    /// `int32_t`.
    I32,
    /// `uint64_t`.
    U64,
    /// `int64_t`.
    I64,
    /// `unsigned __int128`.
    U128,
    /// `__int128`.
    I128,
    /// `float`.
    F32,
    /// `double`.
    F64,
    /// `long double`.
    LongDouble,
    /// Any pointer.
    Pointer,
    /// `_Complex` of a floating-point type (the element is [`Type::element`]).
    Complex,
    /// A struct with members at increasing offsets.
    Struct,
    /// A union: every member at offset 0.
    Union,
    /// A fixed-length array (only as a member of an aggregate: C passes arrays by address).
    Array,
}

impl TypeKind {
    /// Whether this is one of the integer kinds (not pointers).
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            Self::U8
                | Self::I8
                | Self::U16
                | Self::I16
                | Self::U32
                | Self::I32
                | Self::U64
                | Self::I64
                | Self::U128
                | Self::I128
        )
    }

    /// Whether this is a signed integer kind.
    pub fn is_signed(self) -> bool {
        matches!(
            self,
            Self::I8 | Self::I16 | Self::I32 | Self::I64 | Self::I128
        )
    }

    /// Whether this is `float`, `double` or `long double`.
    pub fn is_float(self) -> bool {
        matches!(self, Self::F32 | Self::F64 | Self::LongDouble)
    }

    /// Whether this is a struct, union, array or complex type.
    pub fn is_aggregate(self) -> bool {
        matches!(
            self,
            Self::Struct | Self::Union | Self::Array | Self::Complex
        )
    }
}

/// Why a type description was refused (libffi's `FFI_BAD_TYPEDEF`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypeError {
    /// A struct or union with no members (libffi refuses empty element lists; C has no
    /// empty structs).
    Empty,
    /// `void` used as a member, array element or complex element.
    VoidMember,
    /// An array of length zero.
    ZeroLength,
    /// A complex type whose element is not `float`, `double` or `long double`.
    BadComplexElement,
    /// An alignment that is not a power of two, is smaller than the type's natural
    /// alignment, or exceeds [`MAX_ALIGN`].
    BadAlignment(usize),
    /// A size larger than [`MAX_SIZE`].
    TooLarge,
    /// Aggregates nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("a struct or union needs at least one member"),
            Self::VoidMember => f.write_str("void cannot be a member or element type"),
            Self::ZeroLength => f.write_str("an array needs at least one element"),
            Self::BadComplexElement => {
                f.write_str("a complex type's element must be f32, f64 or long double")
            }
            Self::BadAlignment(align) => write!(
                f,
                "alignment {align} is not a power of two between the natural alignment and \
                 {MAX_ALIGN}"
            ),
            Self::TooLarge => write!(f, "the type is larger than {MAX_SIZE} bytes"),
            Self::TooDeep => write!(f, "aggregates are nested deeper than {MAX_DEPTH} levels"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TypeError {}

/// A C type: its kind, size, alignment and, for aggregates, its members and their offsets.
///
/// Scalars are constants (`Type::I32`, `Type::F64`, `Type::POINTER`...); aggregates are
/// built with [`structure`](Type::structure), [`union`](Type::union),
/// [`array`](Type::array) and [`complex`](Type::complex), which lay them out by the
/// target's C rules and refuse malformed descriptions with a [`TypeError`].
///
/// ```
/// use closure_ffi::dynamic::Type;
///
/// // struct { float f; int32_t i; uint16_t h; uint8_t b; }
/// let s = Type::structure([Type::F32, Type::I32, Type::U16, Type::U8])?;
/// assert_eq!((s.size(), s.align()), (12, 4));
/// assert_eq!(s.offsets(), &[0, 4, 8, 10]);
/// # Ok::<(), closure_ffi::dynamic::TypeError>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct Type(Repr);

#[derive(Clone)]
enum Repr {
    Scalar(TypeKind),
    Aggregate(Arc<Aggregate>),
}

#[derive(PartialEq)]
struct Aggregate {
    kind: TypeKind,
    size: usize,
    align: usize,
    depth: u32,
    /// Structs and unions: the members. Arrays and complex types: the one element type.
    members: Vec<Type>,
    /// Structs and unions: the member offsets. Arrays and complex types: empty.
    offsets: Vec<usize>,
    /// Arrays: the length. Complex types: 2.
    len: usize,
}

impl PartialEq for Repr {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Repr::Scalar(a), Repr::Scalar(b)) => a == b,
            (Repr::Aggregate(a), Repr::Aggregate(b)) => Arc::ptr_eq(a, b) || **a == **b,
            _ => false,
        }
    }
}

/// Size and alignment of each scalar kind on the target (x86_64 System V / Win64 data model:
/// `long double` is the x87 format in 16 bytes, `__int128` is 16-byte aligned; i386: 64-bit
/// integers and `double` are 4-byte aligned in aggregates, as Rust's own `u64` and `f64`,
/// and `long double` is the x87 format in 12 bytes, 4-byte aligned; 32-bit ARM: `long
/// double` is `double`).
const fn scalar_layout(kind: TypeKind) -> (usize, usize) {
    match kind {
        TypeKind::Void => (1, 1),
        TypeKind::U8 | TypeKind::I8 => (1, 1),
        TypeKind::U16 | TypeKind::I16 => (2, 2),
        TypeKind::U32 | TypeKind::I32 | TypeKind::F32 => (4, 4),
        TypeKind::U64 | TypeKind::I64 => (8, core::mem::align_of::<u64>()),
        TypeKind::F64 => (8, core::mem::align_of::<f64>()),
        TypeKind::Pointer => (
            core::mem::size_of::<usize>(),
            core::mem::align_of::<usize>(),
        ),
        // Rust's alignment: 16 where C has `__int128` (x86_64, aarch64), 8 on 32-bit Arm,
        // whose C has none (the classifiers there refuse it).
        TypeKind::U128 | TypeKind::I128 => (16, core::mem::align_of::<u128>()),
        TypeKind::LongDouble if cfg!(target_arch = "x86") => (12, 4),
        // 32-bit ARM: `long double` is `double`.
        TypeKind::LongDouble if cfg!(target_arch = "arm") => (8, 8),
        TypeKind::LongDouble => (16, 16),
        // Aggregates are never scalars; these values are never read.
        TypeKind::Complex | TypeKind::Struct | TypeKind::Union | TypeKind::Array => (0, 1),
    }
}

impl Type {
    /// `void` (return type only).
    pub const VOID: Type = Type(Repr::Scalar(TypeKind::Void));
    /// `uint8_t`.
    pub const U8: Type = Type(Repr::Scalar(TypeKind::U8));
    /// `int8_t`.
    pub const I8: Type = Type(Repr::Scalar(TypeKind::I8));
    /// `uint16_t`.
    pub const U16: Type = Type(Repr::Scalar(TypeKind::U16));
    /// `int16_t`.
    pub const I16: Type = Type(Repr::Scalar(TypeKind::I16));
    /// `uint32_t`.
    pub const U32: Type = Type(Repr::Scalar(TypeKind::U32));
    /// `int32_t`.
    pub const I32: Type = Type(Repr::Scalar(TypeKind::I32));
    /// `uint64_t`.
    pub const U64: Type = Type(Repr::Scalar(TypeKind::U64));
    /// `int64_t`.
    pub const I64: Type = Type(Repr::Scalar(TypeKind::I64));
    /// `unsigned __int128`.
    pub const U128: Type = Type(Repr::Scalar(TypeKind::U128));
    /// `__int128`.
    pub const I128: Type = Type(Repr::Scalar(TypeKind::I128));
    /// `float`.
    pub const F32: Type = Type(Repr::Scalar(TypeKind::F32));
    /// `double`.
    pub const F64: Type = Type(Repr::Scalar(TypeKind::F64));
    /// `long double` (x87 extended precision in 16 bytes on x86_64).
    pub const LONG_DOUBLE: Type = Type(Repr::Scalar(TypeKind::LongDouble));
    /// Any pointer (`void *`, `T *`, function pointers).
    pub const POINTER: Type = Type(Repr::Scalar(TypeKind::Pointer));

    /// The C `unsigned char`.
    pub const UCHAR: Type = Type::U8;
    /// The C `signed char`.
    pub const SCHAR: Type = Type::I8;
    /// The C `unsigned short`.
    pub const USHORT: Type = Type::U16;
    /// The C `short`.
    pub const SSHORT: Type = Type::I16;
    /// The C `unsigned int`.
    pub const UINT: Type = Type::U32;
    /// The C `int`.
    pub const SINT: Type = Type::I32;
    /// The C `unsigned long` (the pointer width on LP64 targets, 32 bits on Windows).
    pub const ULONG: Type = if cfg!(windows) || core::mem::size_of::<usize>() == 4 {
        Type::U32
    } else {
        Type::U64
    };
    /// The C `long`.
    pub const SLONG: Type = if cfg!(windows) || core::mem::size_of::<usize>() == 4 {
        Type::I32
    } else {
        Type::I64
    };
    /// `size_t`.
    pub const USIZE: Type = if core::mem::size_of::<usize>() == 4 {
        Type::U32
    } else {
        Type::U64
    };
    /// `ssize_t` / `ptrdiff_t`.
    pub const ISIZE: Type = if core::mem::size_of::<usize>() == 4 {
        Type::I32
    } else {
        Type::I64
    };

    /// A scalar type of the given kind, or `None` for the aggregate kinds.
    pub const fn scalar(kind: TypeKind) -> Option<Type> {
        match kind {
            TypeKind::Complex | TypeKind::Struct | TypeKind::Union | TypeKind::Array => None,
            _ => Some(Type(Repr::Scalar(kind))),
        }
    }

    /// A struct of `members` in order, laid out by the C rules: each member at the next
    /// offset that is a multiple of its alignment, the struct aligned to its most aligned
    /// member and padded to a multiple of that alignment.
    ///
    /// # Errors
    /// [`TypeError::Empty`] without members, [`TypeError::VoidMember`],
    /// [`TypeError::TooLarge`], [`TypeError::TooDeep`].
    pub fn structure(members: impl IntoIterator<Item = Type>) -> Result<Type, TypeError> {
        let members: Vec<Type> = members.into_iter().collect();
        let mut offsets = Vec::with_capacity(members.len());
        let mut size = 0usize;
        let mut align = 1usize;
        for member in &members {
            member.check_member()?;
            let offset = size.next_multiple_of(member.align());
            offsets.push(offset);
            size = offset
                .checked_add(member.size())
                .ok_or(TypeError::TooLarge)?;
            align = align.max(member.align());
        }
        Self::aggregate(TypeKind::Struct, members, offsets, size, align, 0)
    }

    /// A union of `members`: all at offset 0, the size of the largest padded to the largest
    /// alignment.
    ///
    /// ```
    /// use closure_ffi::dynamic::Type;
    /// let u = Type::union([Type::U8, Type::F32, Type::array(Type::U16, 5)?])?;
    /// assert_eq!((u.size(), u.align()), (12, 4));
    /// # Ok::<(), closure_ffi::dynamic::TypeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`structure`](Type::structure).
    pub fn union(members: impl IntoIterator<Item = Type>) -> Result<Type, TypeError> {
        let members: Vec<Type> = members.into_iter().collect();
        let mut size = 0;
        let mut align = 1;
        for member in &members {
            member.check_member()?;
            size = size.max(member.size());
            align = align.max(member.align());
        }
        let offsets = alloc::vec![0; members.len()];
        Self::aggregate(TypeKind::Union, members, offsets, size, align, 0)
    }

    /// An array of `len` elements, as a struct or union member (`T m[len]`).
    ///
    /// # Errors
    /// [`TypeError::ZeroLength`], [`TypeError::VoidMember`], [`TypeError::TooLarge`],
    /// [`TypeError::TooDeep`].
    pub fn array(element: Type, len: usize) -> Result<Type, TypeError> {
        element.check_member()?;
        if len == 0 {
            return Err(TypeError::ZeroLength);
        }
        let size = element.size().checked_mul(len).ok_or(TypeError::TooLarge)?;
        let align = element.align();
        Self::aggregate(
            TypeKind::Array,
            alloc::vec![element],
            Vec::new(),
            size,
            align,
            len,
        )
    }

    /// `_Complex element`, for `element` one of [`F32`](Type::F32), [`F64`](Type::F64),
    /// [`LONG_DOUBLE`](Type::LONG_DOUBLE): two elements, real then imaginary.
    ///
    /// # Errors
    /// [`TypeError::BadComplexElement`] for any other element.
    pub fn complex(element: Type) -> Result<Type, TypeError> {
        if !matches!(
            element.kind(),
            TypeKind::F32 | TypeKind::F64 | TypeKind::LongDouble
        ) {
            return Err(TypeError::BadComplexElement);
        }
        Ok(Self::complex_of(element))
    }

    /// `_Complex element` for a floating-point scalar `element`: two of them, at most 32
    /// bytes and one level deep, so none of the aggregate limits can fail.
    fn complex_of(element: Type) -> Type {
        let (size, align) = (element.size() * 2, element.align());
        Type(Repr::Aggregate(Arc::new(Aggregate {
            kind: TypeKind::Complex,
            size,
            align,
            depth: 1,
            members: alloc::vec![element],
            offsets: Vec::new(),
            len: 2,
        })))
    }

    /// `float _Complex`.
    pub fn complex_f32() -> Type {
        Self::complex_of(Type::F32)
    }

    /// `double _Complex`.
    pub fn complex_f64() -> Type {
        Self::complex_of(Type::F64)
    }

    /// `long double _Complex`.
    pub fn complex_long_double() -> Type {
        Self::complex_of(Type::LONG_DOUBLE)
    }

    /// This aggregate with its alignment raised to `align` (C's
    /// `__attribute__((aligned(align)))` on a struct or union), its size padded to match.
    ///
    /// # Errors
    /// [`TypeError::BadAlignment`] unless `align` is a power of two, at least the current
    /// alignment and at most [`MAX_ALIGN`], or if `self` is not a struct or union.
    pub fn aligned(&self, align: usize) -> Result<Type, TypeError> {
        let Repr::Aggregate(agg) = &self.0 else {
            return Err(TypeError::BadAlignment(align));
        };
        if !matches!(agg.kind, TypeKind::Struct | TypeKind::Union)
            || !align.is_power_of_two()
            || align < agg.align
            || align > MAX_ALIGN
        {
            return Err(TypeError::BadAlignment(align));
        }
        Self::aggregate(
            agg.kind,
            agg.members.clone(),
            agg.offsets.clone(),
            agg.size,
            align,
            agg.len,
        )
    }

    fn aggregate(
        kind: TypeKind,
        members: Vec<Type>,
        offsets: Vec<usize>,
        size: usize,
        align: usize,
        len: usize,
    ) -> Result<Type, TypeError> {
        if members.is_empty() {
            return Err(TypeError::Empty);
        }
        let depth = 1 + members.iter().map(Type::depth).max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(TypeError::TooDeep);
        }
        let size = size
            .checked_next_multiple_of(align)
            .ok_or(TypeError::TooLarge)?;
        if size > MAX_SIZE {
            return Err(TypeError::TooLarge);
        }
        Ok(Type(Repr::Aggregate(Arc::new(Aggregate {
            kind,
            size,
            align,
            depth,
            members,
            offsets,
            len,
        }))))
    }

    fn check_member(&self) -> Result<(), TypeError> {
        if self.kind() == TypeKind::Void {
            Err(TypeError::VoidMember)
        } else {
            Ok(())
        }
    }

    fn depth(&self) -> u32 {
        match &self.0 {
            Repr::Scalar(_) => 0,
            Repr::Aggregate(agg) => agg.depth,
        }
    }

    /// What kind of type this is.
    #[inline]
    pub fn kind(&self) -> TypeKind {
        match &self.0 {
            Repr::Scalar(kind) => *kind,
            Repr::Aggregate(agg) => agg.kind,
        }
    }

    /// The size in bytes (`sizeof`). `void` reports 1, as libffi's `ffi_type_void` does.
    #[inline]
    pub fn size(&self) -> usize {
        match &self.0 {
            Repr::Scalar(kind) => scalar_layout(*kind).0,
            Repr::Aggregate(agg) => agg.size,
        }
    }

    /// The alignment in bytes (`_Alignof`).
    #[inline]
    pub fn align(&self) -> usize {
        match &self.0 {
            Repr::Scalar(kind) => scalar_layout(*kind).1,
            Repr::Aggregate(agg) => agg.align,
        }
    }

    /// The members of a struct or union; the single element type of an array or complex
    /// type; empty for scalars.
    pub fn members(&self) -> &[Type] {
        match &self.0 {
            Repr::Scalar(_) => &[],
            Repr::Aggregate(agg) => &agg.members,
        }
    }

    /// The member offsets of a struct or union (libffi's `ffi_get_struct_offsets`); empty
    /// for other types.
    pub fn offsets(&self) -> &[usize] {
        match &self.0 {
            Repr::Aggregate(agg) if matches!(agg.kind, TypeKind::Struct | TypeKind::Union) => {
                &agg.offsets
            }
            _ => &[],
        }
    }

    /// The element type of an array or complex type.
    pub fn element(&self) -> Option<&Type> {
        match &self.0 {
            Repr::Aggregate(agg) if matches!(agg.kind, TypeKind::Array | TypeKind::Complex) => {
                agg.members.first()
            }
            _ => None,
        }
    }

    /// The number of elements of an array (2 for a complex type, 0 otherwise).
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Aggregate(agg) => agg.len,
            Repr::Scalar(_) => 0,
        }
    }

    /// Whether two types describe the same C type: same kinds, layout and members.
    #[inline]
    pub fn same_layout(&self, other: &Type) -> bool {
        self == other
    }

    /// Whether this is an array or complex type with no elements (never: such types are
    /// refused at construction); `true` for scalars and structs, whose [`len`](Type::len)
    /// is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is a scalar (not an aggregate).
    pub fn is_scalar(&self) -> bool {
        matches!(self.0, Repr::Scalar(_))
    }

    /// Calls `visit(offset, kind)` for every scalar inside this type, with its byte offset
    /// from `base`, in increasing member order (array elements and complex parts expanded,
    /// union members all at the union's offset).
    pub fn for_each_scalar(&self, base: usize, visit: &mut impl FnMut(usize, TypeKind)) {
        match &self.0 {
            Repr::Scalar(kind) => visit(base, *kind),
            Repr::Aggregate(agg) => match agg.kind {
                TypeKind::Struct | TypeKind::Union => {
                    for (member, offset) in agg.members.iter().zip(&agg.offsets) {
                        member.for_each_scalar(base + offset, visit);
                    }
                }
                _ => {
                    let element = &agg.members[0];
                    for i in 0..agg.len {
                        element.for_each_scalar(base + i * element.size(), visit);
                    }
                }
            },
        }
    }
}

/// A lazily built, shared [`Type`] (used by `#[derive(CType)]` expansions).
#[doc(hidden)]
pub struct TypeCell(spin::Once<Type>);

impl TypeCell {
    /// An empty cell.
    pub const fn new() -> Self {
        Self(spin::Once::new())
    }

    /// The cell's type, built by `init` on first use.
    pub fn get_or_init(&self, init: impl FnOnce() -> Type) -> Type {
        self.0.call_once(init).clone()
    }
}

impl Default for TypeCell {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Scalar(kind) => write!(f, "{kind:?}"),
            Repr::Aggregate(agg) => match agg.kind {
                TypeKind::Array => write!(f, "[{:?}; {}]", agg.members[0], agg.len),
                TypeKind::Complex => write!(f, "Complex<{:?}>", agg.members[0]),
                kind => {
                    write!(f, "{kind:?}")?;
                    f.debug_list().entries(&agg.members).finish()?;
                    if agg.align != agg.members.iter().map(Type::align).max().unwrap_or(1) {
                        write!(f, " align({})", agg.align)?;
                    }
                    Ok(())
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_layout_follows_c_rules() {
        let s = Type::structure([Type::U8, Type::F64, Type::U16]).unwrap();
        let nested = Type::structure([Type::U8, s.clone(), Type::U8]).unwrap();
        if cfg!(all(target_arch = "x86", not(windows))) {
            // i386 System V: double is 4-byte aligned in aggregates (8 on Windows).
            assert_eq!((s.size(), s.align(), s.offsets()), (16, 4, &[0, 4, 12][..]));
            assert_eq!((nested.size(), nested.offsets()), (24, &[0, 4, 20][..]));
        } else {
            assert_eq!((s.size(), s.align(), s.offsets()), (24, 8, &[0, 8, 16][..]));
            assert_eq!((nested.size(), nested.offsets()), (40, &[0, 8, 32][..]));
        }
        let arr = Type::structure([Type::U8, Type::array(Type::U16, 3).unwrap()]).unwrap();
        assert_eq!(
            (arr.size(), arr.align(), arr.offsets()),
            (8, 2, &[0, 2][..])
        );
        let ld = Type::structure([Type::U8, Type::LONG_DOUBLE]).unwrap();
        assert_eq!(Type::complex_f32().size(), 8);
        if cfg!(target_arch = "x86") {
            // i386: long double is 12 bytes, 4-byte aligned.
            assert_eq!((ld.size(), ld.align()), (16, 4));
            assert_eq!(Type::complex_long_double().size(), 24);
        } else if cfg!(target_arch = "arm") {
            // 32-bit ARM: long double is double.
            assert_eq!((ld.size(), ld.align()), (16, 8));
            assert_eq!(Type::complex_long_double().size(), 16);
        } else {
            assert_eq!((ld.size(), ld.align()), (32, 16));
            assert_eq!(Type::complex_long_double().size(), 32);
        }
    }

    #[test]
    fn malformed_types_are_errors() {
        assert_eq!(Type::structure([]), Err(TypeError::Empty));
        assert_eq!(Type::union([]), Err(TypeError::Empty));
        assert_eq!(Type::structure([Type::VOID]), Err(TypeError::VoidMember));
        assert_eq!(Type::array(Type::U8, 0), Err(TypeError::ZeroLength));
        assert_eq!(
            Type::array(Type::U64, usize::MAX / 4),
            Err(TypeError::TooLarge)
        );
        assert_eq!(Type::complex(Type::I32), Err(TypeError::BadComplexElement));
        let s = Type::structure([Type::F64]).unwrap();
        assert_eq!(s.aligned(3), Err(TypeError::BadAlignment(3)));
        assert_eq!(s.aligned(2), Err(TypeError::BadAlignment(2)));
        assert_eq!(s.aligned(1 << 20), Err(TypeError::BadAlignment(1 << 20)));
        assert_eq!(Type::I32.aligned(8), Err(TypeError::BadAlignment(8)));
        let a = s.aligned(32).unwrap();
        assert_eq!((a.size(), a.align()), (32, 32));
        let mut deep = Type::U8;
        for _ in 0..MAX_DEPTH {
            deep = Type::structure([deep]).unwrap();
        }
        assert_eq!(Type::structure([deep]), Err(TypeError::TooDeep));
    }

    #[test]
    fn scalars_are_visited_with_offsets() {
        let s = Type::structure([
            Type::U8,
            Type::array(Type::F32, 2).unwrap(),
            Type::union([Type::U16, Type::F64]).unwrap(),
        ])
        .unwrap();
        let mut seen = Vec::new();
        s.for_each_scalar(0, &mut |off, kind| seen.push((off, kind)));
        // i386 System V aligns double to 4 in aggregates, Windows to 8.
        let u = if cfg!(all(target_arch = "x86", not(windows))) {
            12
        } else {
            16
        };
        assert_eq!(
            seen,
            [
                (0, TypeKind::U8),
                (4, TypeKind::F32),
                (8, TypeKind::F32),
                (u, TypeKind::U16),
                (u, TypeKind::F64)
            ]
        );
    }
}
