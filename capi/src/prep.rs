//! Preparing a C `ffi_cif`: validating the caller's `ffi_type` graph, laying structs out in
//! place, and interning the signature, so that preparing a signature seen before (CPython's
//! ctypes prepares one for every call) is a walk of the types and one hash lookup.
//!
//! An interned [`Signature`] holds a compiled [`Cif`] and lives for the rest of the process.
//! `ffi_cif.flags` holds its index + 1 (0 = not prepared), so `ffi_call` finds it with two
//! loads and checks it against the cif's `abi` and `nargs`; a cif whose flags do not match
//! (never prepared, or copied from garbage) is prepared again from its fields.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::RwLock;

use closure_ffi::dynamic::{Abi, Cif, Type};
use smallvec::SmallVec;

use crate::ffi::{
    code, FfiAbi, FfiCif, FfiStatus, FfiType, FFI_BAD_ABI, FFI_BAD_ARGTYPE, FFI_BAD_TYPEDEF,
    FFI_OK, LONG_DOUBLE,
};

/// Nesting deeper than this is refused (it is also the dynamic layer's limit).
const MAX_DEPTH: u32 = 64;
/// Type nodes visited while preparing one signature (16 Mi). Shared sub-structs are visited
/// once per use, so a malicious DAG would otherwise take exponential time; the limit is high
/// because ctypes describes an array member as one element per item.
const MAX_NODES: u32 = 1 << 24;

/// A prepared signature.
pub(crate) struct Signature {
    /// The dynamic layer's Cif, compiled when the JIT allocator allowed it.
    pub cif: Cif,
    /// `ffi_cif.abi` as the caller gave it.
    pub abi: FfiAbi,
    /// `ffi_cif.nargs`.
    pub nargs: u32,
    /// The code of the closure Go closures of this signature share (go/), 0 if it could
    /// not be made.
    pub go_code: std::sync::OnceLock<usize>,
}

// ---- the intern table -----------------------------------------------------------------

const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;
const CHUNKS: usize = 1024;
/// At most this many distinct signatures are interned (4 Mi); preparing more fails with
/// `FFI_BAD_TYPEDEF`.
const MAX_SIGNATURES: u32 = (CHUNK * CHUNKS) as u32;

type Chunk = [AtomicPtr<Signature>; CHUNK];

/// Signatures by index: chunks allocated on demand, entries written once.
static ENTRIES: [AtomicPtr<Chunk>; CHUNKS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; CHUNKS];
static COUNT: AtomicU32 = AtomicU32::new(0);
/// Index of each interned signature by its key.
static INDEX: RwLock<HashMap<Box<[u32]>, u32, FxBuild>> =
    RwLock::new(HashMap::with_hasher(FxBuild));

/// The signature with this index, if there is one.
#[inline]
pub(crate) fn signature(index: u32) -> Option<&'static Signature> {
    let chunk = ENTRIES
        .get((index >> CHUNK_BITS) as usize)?
        .load(Ordering::Acquire);
    if chunk.is_null() {
        return None;
    }
    // SAFETY: chunks are never freed once published.
    let entry = unsafe { &(*chunk)[index as usize & (CHUNK - 1)] }.load(Ordering::Acquire);
    // SAFETY: entries are leaked boxes, published once, never freed.
    (!entry.is_null()).then(|| unsafe { &*entry })
}

/// Interns a new signature under `key`, returning its index (another thread may have
/// interned the same key meanwhile: then that index).
fn intern(
    key: &[u32],
    make: impl FnOnce() -> Result<Signature, FfiStatus>,
) -> Result<u32, FfiStatus> {
    let sig = make()?;
    let mut index = INDEX.write().unwrap_or_else(|e| e.into_inner());
    if let Some(&found) = index.get(key) {
        return Ok(found);
    }
    let n = COUNT.load(Ordering::Relaxed);
    if n >= MAX_SIGNATURES {
        return Err(FFI_BAD_TYPEDEF);
    }
    let slot = &ENTRIES[(n >> CHUNK_BITS) as usize];
    let mut chunk = slot.load(Ordering::Acquire);
    if chunk.is_null() {
        let fresh: Box<Chunk> = Box::new([const { AtomicPtr::new(core::ptr::null_mut()) }; CHUNK]);
        chunk = Box::into_raw(fresh);
        slot.store(chunk, Ordering::Release);
    }
    // SAFETY: the chunk is published and never freed; the write lock serializes writers.
    unsafe { &(*chunk)[n as usize & (CHUNK - 1)] }
        .store(Box::into_raw(Box::new(sig)), Ordering::Release);
    COUNT.store(n + 1, Ordering::Relaxed);
    index.insert(key.into(), n);
    Ok(n)
}

/// FxHash (rustc's hasher): the keys are short sequences of small integers, not attacker
/// controlled in a way that matters (a collision costs a comparison).
#[derive(Clone, Copy, Default)]
pub(crate) struct FxBuild;

pub(crate) struct Fx(u64);

impl BuildHasher for FxBuild {
    type Hasher = Fx;
    fn build_hasher(&self) -> Fx {
        Fx(0)
    }
}

impl Fx {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

// ---- walking the C type graph ---------------------------------------------------------

/// Layout of a C type.
#[derive(Clone, Copy)]
struct Layout {
    size: usize,
    align: usize,
    /// Whether a floating-point scalar is inside (which decides register classes).
    floats: bool,
}

/// The layout of a scalar type code on the target (as the exported type objects have it),
/// and the code it is keyed as. `None` for codes that are not scalars of this target
/// (`__int128` on i386).
#[inline(always)]
fn scalar(code: u16) -> Option<(Layout, u16)> {
    use crate::ffi::{ALIGN_64, PTR};
    let (size, align, key) = match code {
        code::UINT8 | code::SINT8 => (1, 1, code),
        code::UINT16 | code::SINT16 => (2, 2, code),
        code::UINT32 | code::SINT32 | code::FLOAT => (4, 4, code),
        // FFI_TYPE_INT has no predefined object; it is C's int.
        code::INT => (4, 4, code::SINT32),
        code::UINT64 | code::SINT64 | code::DOUBLE => (8, usize::from(ALIGN_64), code),
        code::POINTER => (PTR, PTR, code),
        code::LONGDOUBLE => (LONG_DOUBLE.0, usize::from(LONG_DOUBLE.1), code),
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        code::UINT128 | code::SINT128 => (16, 16, code),
        _ => return None,
    };
    let floats = matches!(code, code::FLOAT | code::DOUBLE | code::LONGDOUBLE);
    Some((
        Layout {
            size,
            align,
            floats,
        },
        key,
    ))
}

/// Validates a type graph, lays out structs in place (libffi's semantics: a struct whose
/// size is 0 gets its size and alignment written) and appends the type's key.
struct Walker<'k> {
    key: &'k mut Key,
    nodes: u32,
}

impl Walker<'_> {
    /// # Safety
    /// `ty` must be null or point to a readable `ffi_type` whose element lists are
    /// NULL-terminated arrays of such pointers; struct types must be writable.
    unsafe fn walk(&mut self, ty: *mut FfiType, depth: u32) -> Result<Layout, FfiStatus> {
        self.nodes += 1;
        if ty.is_null() || depth > MAX_DEPTH || self.nodes > MAX_NODES {
            return Err(FFI_BAD_TYPEDEF);
        }
        // SAFETY: non-null, readable by the caller's contract.
        let t = unsafe { &mut *ty };
        if let Some((layout, key)) = scalar(t.type_) {
            // A scalar object with another size or alignment than its code's is not a type
            // this library can pass (libffi would use the code and the odd size together).
            if t.size != layout.size || usize::from(t.alignment) != layout.align {
                return Err(FFI_BAD_TYPEDEF);
            }
            self.key.push(u32::from(key));
            return Ok(layout);
        }
        match t.type_ {
            code::STRUCT => {
                if t.elements.is_null() {
                    return Err(FFI_BAD_TYPEDEF);
                }
                let start = self.key.len();
                self.key.push(u32::from(code::STRUCT));
                self.key.push(0);
                let (mut offset, mut align, mut count) = (0usize, 1usize, 0u32);
                let (mut largest, mut floats) = (0usize, false);
                loop {
                    // SAFETY: the list is NULL-terminated (contract); we stop at NULL.
                    let element = unsafe { *t.elements.add(count as usize) };
                    if element.is_null() {
                        break;
                    }
                    // SAFETY: as for `ty`.
                    let inner = unsafe { self.walk(element, depth + 1) }?;
                    offset = offset.next_multiple_of(inner.align);
                    offset = offset.checked_add(inner.size).ok_or(FFI_BAD_TYPEDEF)?;
                    align = align.max(inner.align);
                    largest = largest.max(inner.size);
                    floats |= inner.floats;
                    count += 1;
                }
                let size = offset.next_multiple_of(align);
                if count == 0 || size > i32::MAX as usize {
                    return Err(FFI_BAD_TYPEDEF);
                }
                self.key[start + 1] = count;
                let layout = Layout {
                    size,
                    align,
                    floats,
                };
                if t.size == 0 {
                    // libffi's in-place layout.
                    t.size = size;
                    t.alignment = align as u16;
                    return Ok(layout);
                }
                let preset = Layout {
                    size: t.size,
                    align: usize::from(t.alignment),
                    floats,
                };
                match preset_kind(preset, layout, largest.next_multiple_of(align)) {
                    Some(Preset::Struct) => {}
                    Some(Preset::Union) => self.key[start] = UNION_KEY,
                    Some(Preset::Blob) => {
                        self.key.truncate(start);
                        self.key
                            .extend([BLOB_KEY, t.size as u32, u32::from(t.alignment)]);
                    }
                    None => return Err(FFI_BAD_TYPEDEF),
                }
                Ok(preset)
            }
            code::COMPLEX => {
                if t.elements.is_null() {
                    return Err(FFI_BAD_TYPEDEF);
                }
                // SAFETY: a complex type's list holds its part type.
                let part = unsafe { *t.elements };
                if part.is_null() {
                    return Err(FFI_BAD_TYPEDEF);
                }
                // SAFETY: as for `ty`.
                let part_code = unsafe { (*part).type_ };
                let (part_layout, key) = match part_code {
                    code::FLOAT | code::DOUBLE | code::LONGDOUBLE => {
                        scalar(part_code).ok_or(FFI_BAD_TYPEDEF)?
                    }
                    _ => return Err(FFI_BAD_TYPEDEF),
                };
                self.key.extend([u32::from(code::COMPLEX), u32::from(key)]);
                let layout = Layout {
                    size: 2 * part_layout.size,
                    align: part_layout.align,
                    floats: true,
                };
                self.settle(t, layout)
            }
            // void (outside a return), vectors, unknown codes.
            _ => Err(FFI_BAD_TYPEDEF),
        }
    }

    /// Writes a computed complex layout into a type whose size is 0, or checks it against
    /// the one the caller set.
    fn settle(&mut self, t: &mut FfiType, layout: Layout) -> Result<Layout, FfiStatus> {
        if t.size == 0 {
            t.size = layout.size;
            t.alignment = layout.align as u16;
            Ok(layout)
        } else if t.size == layout.size && usize::from(t.alignment) == layout.align {
            Ok(layout)
        } else {
            Err(FFI_BAD_TYPEDEF)
        }
    }
}

/// Key words of the aggregates [`preset_kind`] reinterprets (beyond the type codes).
const UNION_KEY: u32 = 0x1_0000;
const BLOB_KEY: u32 = 0x1_0001;

/// How a struct type whose size the caller preset (CPython's ctypes does, for every
/// structure and union) is passed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Preset {
    /// The preset layout is the members' sequential layout: an ordinary struct.
    Struct,
    /// The preset layout is the members' union layout (all at offset 0): ctypes describes a
    /// union as a struct of its members with the union's size.
    Union,
    /// Integer-only members whose real offsets are unknown (ctypes' bit fields share storage
    /// units): as long as no member is under-aligned, every eightbyte is INTEGER whatever the
    /// offsets, so the struct passes like integer bytes of its size and alignment. (On i386
    /// every struct argument is stack bytes, and a struct returned in eax:edx is integer
    /// bytes, so the same holds there.)
    Blob,
}

/// Classifies a preset layout, or refuses it (`None`): floats at unknown offsets, or members
/// aligned above the preset alignment (a packed struct, whose misaligned members make the
/// psABI pass it in memory, which the members do not tell).
fn preset_kind(preset: Layout, sequential: Layout, union_size: usize) -> Option<Preset> {
    if preset.size == sequential.size && preset.align == sequential.align {
        Some(Preset::Struct)
    } else if preset.size == union_size && preset.align == sequential.align {
        Some(Preset::Union)
    } else if !sequential.floats
        && preset.align >= sequential.align
        && preset.align.is_power_of_two()
        && preset.align <= 16
        && preset.size % preset.align == 0
        // The limit computed layouts have: a larger preset size would overflow the offsets
        // of an enclosing struct.
        && preset.size <= i32::MAX as usize
    {
        Some(Preset::Blob)
    } else {
        None
    }
}

/// Builds the dynamic layer's Types for graphs [`Walker`] accepted, each distinct struct
/// node once: a sub-struct shared by several members (or types) becomes one shared Type, so
/// a DAG costs its distinct nodes, not its expansion (up to [`MAX_NODES`] visits, which
/// rebuilt and rescanned per use took minutes and gigabytes).
#[derive(Default)]
struct Builder {
    /// Struct nodes already converted, by address: the Type and whether a floating-point
    /// scalar is inside it.
    memo: HashMap<usize, (Type, bool), FxBuild>,
    /// Struct Types built (each distinct node once).
    #[cfg(test)]
    built: u32,
}

impl Builder {
    /// The Type of `ty` and whether a floating-point scalar is inside it.
    ///
    /// # Safety
    /// As for [`Walker::walk`], and the graph must have been walked successfully.
    unsafe fn convert(&mut self, ty: *const FfiType) -> Result<(Type, bool), FfiStatus> {
        // SAFETY: validated by the walk.
        let t = unsafe { &*ty };
        let scalar = |code| match code {
            code::UINT8 => Type::U8,
            code::SINT8 => Type::I8,
            code::UINT16 => Type::U16,
            code::SINT16 => Type::I16,
            code::UINT32 => Type::U32,
            code::SINT32 | code::INT => Type::I32,
            code::UINT64 => Type::U64,
            code::SINT64 => Type::I64,
            code::UINT128 => Type::U128,
            code::SINT128 => Type::I128,
            code::FLOAT => Type::F32,
            code::DOUBLE => Type::F64,
            code::LONGDOUBLE => Type::LONG_DOUBLE,
            _ => Type::POINTER,
        };
        match t.type_ {
            code::VOID => Ok((Type::VOID, false)),
            code::STRUCT => {
                if let Some(done) = self.memo.get(&(ty as usize)) {
                    return Ok(done.clone());
                }
                let mut members = Vec::new();
                let mut floats = false;
                let mut i = 0;
                loop {
                    // SAFETY: NULL-terminated, validated.
                    let element = unsafe { *t.elements.add(i) };
                    if element.is_null() {
                        break;
                    }
                    // SAFETY: validated.
                    let (member, member_floats) = unsafe { self.convert(element) }?;
                    members.push(member);
                    floats |= member_floats;
                    i += 1;
                }
                let built = Self::structure(t, members, floats)?;
                #[cfg(test)]
                {
                    self.built += 1;
                }
                self.memo.insert(ty as usize, built.clone());
                Ok(built)
            }
            code::COMPLEX => {
                // SAFETY: validated: a float part type.
                let part = scalar(unsafe { (**t.elements).type_ });
                let complex = Type::complex(part).map_err(|_| FFI_BAD_TYPEDEF)?;
                Ok((complex, true))
            }
            other => {
                let ty = scalar(other);
                let floats = ty.kind().is_float();
                Ok((ty, floats))
            }
        }
    }

    /// The Type of struct node `t` with these members, as its preset layout says
    /// ([`preset_kind`]).
    fn structure(t: &FfiType, members: Vec<Type>, floats: bool) -> Result<(Type, bool), FfiStatus> {
        let sequential = Type::structure(members.iter().cloned()).map_err(|_| FFI_BAD_TYPEDEF)?;
        let preset = Layout {
            size: t.size,
            align: usize::from(t.alignment),
            floats: false,
        };
        let layout = Layout {
            size: sequential.size(),
            align: sequential.align(),
            floats,
        };
        let union_size = members
            .iter()
            .map(Type::size)
            .max()
            .unwrap_or(0)
            .next_multiple_of(layout.align);
        match preset_kind(preset, layout, union_size) {
            Some(Preset::Struct) => Ok((sequential, floats)),
            Some(Preset::Union) => Type::union(members)
                .map(|u| (u, floats))
                .map_err(|_| FFI_BAD_TYPEDEF),
            // Integer units only (a blob has no floats), as wide as the preset alignment
            // ([`blob_unit`]): an ABI that takes an aggregate's alignment from its members
            // (32-bit Arm's doubleword rule and AArch64's even register pairs, as gcc
            // applies them) then sees the preset alignment, which libffi passes by.
            Some(Preset::Blob) => {
                let unit = blob_unit(usize::from(t.alignment));
                Type::array(unit.clone(), t.size / unit.size())
                    .and_then(|units| Type::structure([units]))
                    .and_then(|blob| blob.aligned(usize::from(t.alignment)))
                    .map(|blob| (blob, false))
                    .map_err(|_| FFI_BAD_TYPEDEF)
            }
            None => Err(FFI_BAD_TYPEDEF),
        }
    }
}

/// The unsigned integer type a blob of preset alignment `align` is made of: as wide as
/// `align`, up to the widest integer the target's C has (`__int128` on x86_64 and aarch64,
/// 8 bytes on the 32-bit targets). [`preset_kind`] checked that `align` divides the size.
fn blob_unit(align: usize) -> Type {
    match align {
        0 | 1 => Type::U8,
        2 => Type::U16,
        4 => Type::U32,
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        16.. => Type::U128,
        _ => Type::U64,
    }
}

/// A signature's key: its ABI, fixed and total argument counts, then the return and
/// argument types in prefix order (a scalar is its code; a struct is STRUCT, its member
/// count and its members; a complex type is COMPLEX and its part's code). Short keys stay
/// on the stack.
type Key = SmallVec<[u32; 48]>;

/// libffi's `ffi_prep_cif_core`: validates, lays out, interns, fills the cif.
///
/// # Safety
/// `cif` null or writable; `rtype` and the first `nargs` entries of `atypes` null or valid
/// type graphs (see [`Walker::walk`]).
pub(crate) unsafe fn prepare(
    cif: *mut FfiCif,
    abi: FfiAbi,
    nfixed: Option<u32>,
    nargs: u32,
    rtype: *mut FfiType,
    atypes: *mut *mut FfiType,
) -> FfiStatus {
    if cif.is_null() || (atypes.is_null() && nargs > 0) {
        return FFI_BAD_ARGTYPE;
    }
    let Ok(dyn_abi) = Abi::from_raw(abi) else {
        return FFI_BAD_ABI;
    };
    // SAFETY: non-null, writable by contract.
    let c = unsafe { &mut *cif };
    c.abi = abi;
    c.nargs = nargs;
    c.arg_types = atypes;
    c.rtype = rtype;
    c.bytes = 0;
    c.flags = 0;
    if rtype.is_null() {
        return FFI_BAD_TYPEDEF;
    }
    let mut key = Key::new();
    key.push(abi);
    key.push(nfixed.unwrap_or(u32::MAX));
    key.push(nargs);
    // SAFETY: contract.
    let found = unsafe { walk_signature(&mut key, nargs, rtype, atypes) }.and_then(|()| {
        let hit = INDEX
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key[..])
            .copied();
        match hit {
            Some(index) => Ok(index),
            // SAFETY: the graph was walked.
            None => intern(&key, || unsafe {
                build(dyn_abi, abi, nfixed, nargs, rtype, atypes)
            }),
        }
    });
    match found {
        Ok(index) => {
            // Interned signatures are never removed.
            let Some(sig) = signature(index) else {
                return FFI_BAD_TYPEDEF;
            };
            c.bytes = u32::try_from(sig.cif.stack_bytes()).unwrap_or(u32::MAX);
            c.flags = index + 1;
            FFI_OK
        }
        Err(status) => status,
    }
}

/// Walks the return type and the arguments, appending their keys.
///
/// # Safety
/// As [`prepare`] (`rtype` non-null).
#[inline(always)]
unsafe fn walk_signature(
    key: &mut Key,
    nargs: u32,
    rtype: *mut FfiType,
    atypes: *mut *mut FfiType,
) -> Result<(), FfiStatus> {
    let mut walker = Walker { key, nodes: 0 };
    for i in 0..=nargs as usize {
        let ty = if i == 0 {
            rtype
        } else {
            // SAFETY: `atypes` has `nargs` entries (contract).
            unsafe { *atypes.add(i - 1) }
        };
        if ty.is_null() {
            return Err(FFI_BAD_TYPEDEF);
        }
        // SAFETY: contract.
        let t = unsafe { &*ty };
        // The common case, a scalar with its standard layout, without the recursion.
        if let Some((layout, code)) = scalar(t.type_) {
            if t.size == layout.size && usize::from(t.alignment) == layout.align {
                walker.key.push(u32::from(code));
                continue;
            }
        }
        if t.type_ == code::VOID {
            // void is a return type only.
            if i > 0 {
                return Err(FFI_BAD_ARGTYPE);
            }
            walker.key.push(u32::from(code::VOID));
            continue;
        }
        // SAFETY: contract.
        unsafe { walker.walk(ty, 0) }?;
    }
    Ok(())
}

/// Builds a signature for a validated type graph.
///
/// # Safety
/// The graph was accepted by [`Walker`].
unsafe fn build(
    dyn_abi: Abi,
    abi: FfiAbi,
    nfixed: Option<u32>,
    nargs: u32,
    rtype: *mut FfiType,
    atypes: *mut *mut FfiType,
) -> Result<Signature, FfiStatus> {
    let mut builder = Builder::default();
    // SAFETY: validated.
    let (ret, _) = unsafe { builder.convert(rtype) }?;
    let mut args = Vec::with_capacity(nargs as usize);
    for i in 0..nargs as usize {
        // SAFETY: validated.
        args.push(unsafe { builder.convert(*atypes.add(i)) }?.0);
    }
    let cif = match nfixed {
        Some(nfixed) => Cif::new_variadic(dyn_abi, args, nfixed as usize, ret),
        None => Cif::new(dyn_abi, args, ret),
    };
    let mut cif = cif.map_err(|e| e.status() as FfiStatus)?;
    // A Cif that cannot be compiled (the allocator failed) still calls correctly.
    let _ = cif.compile();
    Ok(Signature {
        cif,
        abi,
        nargs,
        go_code: std::sync::OnceLock::new(),
    })
}

/// The signature a prepared cif refers to, preparing it again from its fields when its
/// flags do not name one that matches.
///
/// # Safety
/// `cif` null or a readable `ffi_cif` whose type pointers satisfy [`prepare`]'s contract.
#[inline]
pub(crate) unsafe fn signature_of(cif: *const FfiCif) -> Option<&'static Signature> {
    if cif.is_null() {
        return None;
    }
    // SAFETY: non-null, readable.
    let c = unsafe { &*cif };
    if let Some(sig) = c.flags.checked_sub(1).and_then(signature) {
        if sig.nargs == c.nargs && sig.abi == c.abi {
            return Some(sig);
        }
    }
    let mut copy = *c;
    // SAFETY: forwarded contract; `copy` is ours to write.
    let status = unsafe { prepare(&mut copy, c.abi, None, c.nargs, c.rtype, c.arg_types) };
    (status == FFI_OK)
        .then(|| signature(copy.flags - 1))
        .flatten()
}

/// Validates one type graph and lays its structs out in place.
///
/// # Safety
/// As for [`Walker::walk`].
pub(crate) unsafe fn layout(ty: *mut FfiType) -> Result<(), FfiStatus> {
    let mut key = Key::new();
    let mut walker = Walker {
        key: &mut key,
        nodes: 0,
    };
    // SAFETY: forwarded contract.
    unsafe { walker.walk(ty, 0) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::ffi_type_sint32;

    /// A chain of `depth` structs, each holding two of the one below (the bottom: two
    /// `int`s): `depth` nodes whose expansion has 2^(depth+1) - 1.
    #[expect(
        clippy::vec_box,
        reason = "the nodes point at each other: each needs an address that pushing keeps"
    )]
    fn doubling_chain(depth: usize) -> (Vec<Box<FfiType>>, Vec<Box<[*mut FfiType; 3]>>) {
        let mut nodes: Vec<Box<FfiType>> = Vec::new();
        let mut lists = Vec::new();
        let mut below = (&ffi_type_sint32 as *const crate::ffi::TypeObject)
            .cast_mut()
            .cast::<FfiType>();
        for _ in 0..depth {
            let mut list = Box::new([below, below, core::ptr::null_mut()]);
            let mut node = Box::new(FfiType {
                size: 0,
                alignment: 0,
                type_: code::STRUCT,
                elements: list.as_mut_ptr(),
            });
            below = &mut *node;
            nodes.push(node);
            lists.push(list);
        }
        (nodes, lists)
    }

    #[test]
    fn preset_sizes_past_the_size_limit_are_refused() {
        // Found by fuzz/fuzz_targets/capi_prep.rs: an integer struct with a preset size near
        // usize::MAX passed as a blob, and the offsets of a struct holding it overflowed
        // (a panic in debug builds, a wrapped layout written in place in release builds).
        let int64 = (&crate::ffi::ffi_type_sint64 as *const crate::ffi::TypeObject)
            .cast_mut()
            .cast::<FfiType>();
        let uint8 = (&crate::ffi::ffi_type_uint8 as *const crate::ffi::TypeObject)
            .cast_mut()
            .cast::<FfiType>();
        let mut blob_elements = [int64, core::ptr::null_mut()];
        for size in [usize::MAX - 7, usize::MAX / 2, i32::MAX as usize + 1] {
            let mut blob = FfiType {
                size,
                alignment: 8,
                type_: code::STRUCT,
                elements: blob_elements.as_mut_ptr(),
            };
            let mut outer_elements = [
                &mut blob as *mut FfiType,
                uint8,
                int64,
                core::ptr::null_mut(),
            ];
            let mut outer = FfiType {
                size: 0,
                alignment: 0,
                type_: code::STRUCT,
                elements: outer_elements.as_mut_ptr(),
            };
            // SAFETY: valid graphs that we own.
            unsafe {
                assert_eq!(layout(&mut blob), Err(FFI_BAD_TYPEDEF), "size {size:#x}");
                assert_eq!(layout(&mut outer), Err(FFI_BAD_TYPEDEF), "size {size:#x}");
            }
            assert_eq!(outer.size, 0, "nothing laid out in place");
        }
        // The largest preset size still passes as integer bytes.
        let mut blob = FfiType {
            size: i32::MAX as usize - 7,
            alignment: 8,
            type_: code::STRUCT,
            elements: blob_elements.as_mut_ptr(),
        };
        // SAFETY: as above.
        assert_eq!(unsafe { layout(&mut blob) }, Ok(()));
    }

    #[test]
    fn shared_sub_structs_become_one_type_each() {
        // Found by fuzz/fuzz_targets/capi_prep.rs: 23 such nodes made ffi_prep_cif rebuild
        // (and rescan) a Type per use of each node, 21 s and 0.9 GB for one cif.
        let depth = 16;
        let (mut nodes, _lists) = doubling_chain(depth);
        let top: *mut FfiType = &mut **nodes.last_mut().unwrap();
        // SAFETY: a valid, acyclic graph that we own.
        unsafe { layout(top) }.unwrap();
        let mut builder = Builder::default();
        // SAFETY: walked by `layout`.
        let (ty, floats) = unsafe { builder.convert(top) }.unwrap();
        assert_eq!(builder.built, depth as u32, "each struct node built once");
        assert!(!floats);
        assert_eq!((ty.size(), ty.align()), (4 << depth, 4));
        assert_eq!(ty.members()[0].size(), 4 << (depth - 1));
    }

    #[test]
    fn blobs_are_made_of_units_as_aligned_as_the_preset() {
        // Bit-field structs described by their members' types with a preset size of 16,
        // which neither the members' sequential nor their union layout explains: blobs.
        // 32-bit Arm takes an aggregate's doubleword alignment from its members (as gcc
        // does), so the members must carry the preset alignment. 32-bit C has no 16-byte
        // integer: 8-byte units there.
        let widest = if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            16
        } else {
            8
        };
        let cases: [(&[Type], usize, usize); 4] = [
            (&[Type::I16, Type::I16], 2, 2),
            (&[Type::I32, Type::I32], 4, 4),
            (&[Type::I64, Type::I64, Type::I32], 8, 8),
            (&[Type::I64, Type::I64, Type::I32], 16, widest),
        ];
        for (members, align, unit) in cases {
            let node = FfiType {
                size: 16,
                alignment: align as u16,
                type_: code::STRUCT,
                elements: core::ptr::null_mut(),
            };
            let (blob, floats) = Builder::structure(&node, members.to_vec(), false)
                .unwrap_or_else(|e| panic!("preset alignment {align}: {e:?}"));
            assert!(!floats);
            assert_eq!(
                (blob.size(), blob.align()),
                (16, align),
                "preset alignment {align}"
            );
            let units = blob.members()[0].element().expect("an array of units");
            assert_eq!(units.size(), unit, "preset alignment {align}");
            // The classifier reads the host's layouts: on i386 an 8-byte integer is
            // 4-aligned, so the Arm rule is only checked where it is 8-aligned, as on Arm.
            if Type::U64.align() == 8 {
                assert_eq!(
                    closure_ffi::arch::arm::aapcs32::doubleword(&blob),
                    align >= 8,
                    "preset alignment {align}"
                );
            }
        }
    }
}
