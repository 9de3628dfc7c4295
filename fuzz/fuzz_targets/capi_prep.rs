//! Arbitrary bytes as a C `ffi_type` graph handed to the C API (the capi crate's rlib:
//! `ffi::ffi_prep_cif` and friends are its `#[no_mangle]` functions).
//!
//! The graph is built in memory from the input: up to 24 nodes with any type code, preset
//! or zero sizes and alignments (huge ones included), element lists that are NULL, empty,
//! or point at other nodes (cycles and shared sub-structs arise freely), at the library's
//! `ffi_type_*` objects, or end early. Must hold: `ffi_prep_cif`, `ffi_prep_cif_var`,
//! `ffi_get_struct_offsets` and the raw size queries return (no panic, no hang) with a valid
//! `ffi_status`; a prepared cif prepares again to the same signature; struct offsets are
//! aligned and increasing; and for signatures of reasonable size a call through
//! `ffi_call`, `ffi_raw_call` and `ffi_java_raw_call` into an `ffi_closure` (and into a raw
//! closure) of the same cif delivers every argument and the return value intact, as does
//! a call into real `extern "C"` functions for integer signatures.
#![no_main]

use std::cell::{Cell, RefCell};
use std::ffi::c_void;

use closure_ffi_fuzz::{normalize_long_double, Buf, Reader};
use ffi::ffi::{
    code, ffi_type_complex_double, ffi_type_complex_float, ffi_type_complex_longdouble,
    ffi_type_double, ffi_type_float, ffi_type_longdouble, ffi_type_pointer, ffi_type_sint16,
    ffi_type_sint32, ffi_type_sint64, ffi_type_sint8, ffi_type_uint128, ffi_type_uint64,
    ffi_type_uint8, ffi_type_void, FfiCif, FfiClosure, FfiRaw, FfiRawClosure, FfiType, TypeObject,
    FFI_OK,
};
use libfuzzer_sys::fuzz_target;

const MAX_NODES: usize = 24;
/// The round trip runs for values up to this size and this many arguments.
const ROUND_TRIP_VALUE: usize = 4096;
const ROUND_TRIP_ARGS: usize = 32;

fn obj(t: &'static TypeObject) -> *mut FfiType {
    (t as *const TypeObject).cast_mut().cast()
}

fn statics() -> [*mut FfiType; 16] {
    [
        obj(&ffi_type_sint32),
        obj(&ffi_type_double),
        obj(&ffi_type_float),
        obj(&ffi_type_longdouble),
        obj(&ffi_type_pointer),
        obj(&ffi_type_uint8),
        obj(&ffi_type_sint8),
        obj(&ffi_type_sint16),
        obj(&ffi_type_uint64),
        obj(&ffi_type_sint64),
        obj(&ffi_type_uint128),
        obj(&ffi_type_complex_float),
        obj(&ffi_type_complex_double),
        obj(&ffi_type_complex_longdouble),
        obj(&ffi_type_void),
        core::ptr::null_mut(),
    ]
}

/// The standard (size, alignment) of a scalar code.
fn standard(c: u16) -> Option<(usize, u16)> {
    Some(match c {
        code::UINT8 | code::SINT8 => (1, 1),
        code::UINT16 | code::SINT16 => (2, 2),
        code::INT | code::UINT32 | code::SINT32 | code::FLOAT => (4, 4),
        code::UINT64 | code::SINT64 | code::DOUBLE | code::POINTER => (8, 8),
        code::LONGDOUBLE | code::UINT128 | code::SINT128 => (16, 16),
        code::VOID => (1, 1),
        _ => return None,
    })
}

/// The type graph: nodes and their element lists, owned here, at fixed addresses.
struct Graph {
    nodes: Box<[FfiType]>,
    _lists: Vec<Box<[*mut FfiType]>>,
}

impl Graph {
    fn decode(r: &mut Reader<'_>) -> Graph {
        let n = 1 + r.below(MAX_NODES as u8) as usize;
        let mut nodes: Box<[FfiType]> = (0..n)
            .map(|_| FfiType {
                size: 0,
                alignment: 0,
                type_: 0,
                elements: core::ptr::null_mut(),
            })
            .collect();
        let base = nodes.as_mut_ptr();
        let statics = statics();
        let pick = |r: &mut Reader<'_>| -> *mut FfiType {
            match r.u8() {
                0 => core::ptr::null_mut(),
                b @ 1..=47 => statics[usize::from(b) % statics.len()],
                // SAFETY: an index into `nodes`, whose storage does not move.
                b => unsafe { base.add(usize::from(b) % n) },
            }
        };
        let mut lists = Vec::new();
        for i in 0..n {
            let c = match r.below(16) {
                0..=6 => code::STRUCT,
                7 => code::COMPLEX,
                8 => r.u16(),
                _ => r.below(18).into(),
            };
            let (size, alignment) = match (r.below(8), standard(c)) {
                (0..=5, Some(std)) => std,
                (0..=5, None) => (0, 0),
                (6, _) => (usize::from(r.u8()), u16::from(r.u8())),
                _ => (
                    [
                        usize::MAX,
                        i32::MAX as usize,
                        1 << 31,
                        1 << 40,
                        r.u64() as usize,
                    ][usize::from(r.below(5))],
                    r.u16(),
                ),
            };
            let elements = match r.below(8) {
                0 => core::ptr::null_mut(),
                k => {
                    let mut list: Box<[*mut FfiType]> =
                        (0..k).map(|_| pick(r)).collect::<Vec<_>>().into();
                    if c == code::COMPLEX && r.u8() & 1 == 0 {
                        list[0] = [
                            obj(&ffi_type_float),
                            obj(&ffi_type_double),
                            obj(&ffi_type_longdouble),
                        ][usize::from(r.below(3))];
                    }
                    *list.last_mut().expect("k >= 1") = core::ptr::null_mut();
                    let p = list.as_mut_ptr();
                    lists.push(list);
                    p
                }
            };
            // SAFETY: `i < n`; written through `base`, like every pointer to the nodes.
            unsafe {
                *base.add(i) = FfiType {
                    size,
                    alignment,
                    type_: c,
                    elements,
                }
            };
        }
        Graph {
            nodes,
            _lists: lists,
        }
    }

    fn pick(&mut self, r: &mut Reader<'_>) -> *mut FfiType {
        let statics = statics();
        match r.u8() {
            0 => core::ptr::null_mut(),
            b @ 1..=95 => statics[usize::from(b) % statics.len()],
            b => &mut self.nodes[usize::from(b) % self.nodes.len()],
        }
    }
}

fn valid_status(s: u32) -> bool {
    s <= 3
}

/// What a value of a prepared type must keep across a call: its scalars' byte ranges
/// (x87 values: 10 of 16 bytes), and where the `long double`s are.
#[derive(Default)]
struct Shape {
    ranges: Vec<(usize, usize)>,
    long_doubles: Vec<usize>,
}

/// Computes the shape of a prepared type as the library passes it (sequential structs,
/// ctypes-style unions and integer blobs decided from the preset layout), or `None` when
/// the walk exceeds `budget` nodes.
///
/// # Safety
/// `t` was accepted by `ffi_prep_cif` (valid, acyclic, laid out).
unsafe fn shape(t: *const FfiType, base: usize, out: &mut Shape, budget: &mut u32) -> Option<()> {
    *budget = budget.checked_sub(1)?;
    // SAFETY: valid (contract).
    let t = unsafe { &*t };
    if t.type_ == code::COMPLEX {
        // SAFETY: a complex type's list holds its part.
        let part = unsafe { &**t.elements }.type_;
        // The library goes by the part's code (its size field is not checked).
        let size = standard(part).map_or(0, |(size, _)| size);
        for i in 0..2 {
            scalar(part, base + i * size, out);
        }
        return Some(());
    }
    if t.type_ != code::STRUCT {
        scalar(t.type_, base, out);
        return Some(());
    }
    let mut members = Vec::new();
    let mut i = 0;
    // SAFETY: NULL-terminated (validated).
    while let Some(e) = unsafe { (*t.elements.add(i)).as_ref() } {
        members.push(e);
        i += 1;
    }
    let (mut size, mut align, mut largest) = (0usize, 1usize, 0usize);
    let mut offsets = Vec::new();
    for m in &members {
        let a = usize::from(m.alignment);
        size = size.next_multiple_of(a);
        offsets.push(size);
        size += m.size;
        align = align.max(a);
        largest = largest.max(m.size);
    }
    let size = size.next_multiple_of(align);
    let union_size = largest.next_multiple_of(align);
    let preset_align = usize::from(t.alignment);
    if t.size == size && preset_align == align {
        for (m, off) in members.iter().zip(&offsets) {
            // SAFETY: members of a validated struct.
            unsafe { shape(*m, base + off, out, budget) }?;
        }
    } else if t.size == union_size && preset_align == align {
        for m in &members {
            // SAFETY: as above.
            unsafe { shape(*m, base, out, budget) }?;
        }
    } else {
        // An integer blob (no floats, offsets unknown): every byte is data.
        out.ranges.push((base, t.size));
    }
    Some(())
}

fn scalar(c: u16, at: usize, out: &mut Shape) {
    let len = match c {
        code::LONGDOUBLE => {
            out.long_doubles.push(at);
            10
        }
        code::VOID => 0,
        c => standard(c).map_or(0, |(s, _)| s),
    };
    out.ranges.push((at, len));
}

/// What the closure callbacks compare against.
struct Expect {
    args: Vec<(Vec<u8>, Shape)>,
    ret: Vec<u8>,
    ret_code: u16,
    calls: Cell<u32>,
    failure: RefCell<Option<String>>,
}

impl Expect {
    /// Checks the arguments a callback got.
    ///
    /// # Safety
    /// `args` holds one valid pointer per expected argument.
    unsafe fn check_args(&self, args: *const *mut c_void, how: &str) {
        self.calls.set(self.calls.get() + 1);
        for (i, (want, shape)) in self.args.iter().enumerate() {
            // SAFETY: contract.
            let got =
                unsafe { std::slice::from_raw_parts((*args.add(i)).cast::<u8>(), want.len()) };
            for &(off, len) in &shape.ranges {
                if got[off..off + len] != want[off..off + len] {
                    self.failure.borrow_mut().get_or_insert_with(|| {
                        format!(
                            "{how}: argument {i} bytes {off}..{}: got {:02x?}, passed {:02x?}",
                            off + len,
                            &got[off..off + len],
                            &want[off..off + len]
                        )
                    });
                }
            }
        }
    }

    /// Stores the return value as a libffi callback does (integers narrower than 8 bytes
    /// widened to `ffi_arg`).
    ///
    /// # Safety
    /// `ret` has room for the return type and at least 8 bytes.
    unsafe fn store_ret(&self, ret: *mut c_void) {
        let widened = match self.ret_code {
            code::UINT8 => Some(u64::from(self.ret[0])),
            code::SINT8 => Some(i64::from(self.ret[0] as i8) as u64),
            code::UINT16 => Some(u64::from(u16::from_le_bytes([self.ret[0], self.ret[1]]))),
            code::SINT16 => Some(i64::from(i16::from_le_bytes([self.ret[0], self.ret[1]])) as u64),
            code::UINT32 => Some(u64::from(u32::from_le_bytes(
                self.ret[..4].try_into().unwrap(),
            ))),
            code::SINT32 | code::INT => {
                Some(i64::from(i32::from_le_bytes(self.ret[..4].try_into().unwrap())) as u64)
            }
            _ => None,
        };
        // SAFETY: contract.
        unsafe {
            match widened {
                Some(w) => ret.cast::<u64>().write_unaligned(w),
                None => std::ptr::copy_nonoverlapping(
                    self.ret.as_ptr(),
                    ret.cast::<u8>(),
                    self.ret.len(),
                ),
            }
        }
    }
}

unsafe extern "C" fn closure_fun(
    _cif: *mut FfiCif,
    ret: *mut c_void,
    args: *mut *mut c_void,
    user: *mut c_void,
) {
    // SAFETY: `user` is the Expect of the running input; the closure machinery passes the
    // cif's arguments and a return buffer.
    unsafe {
        let e = &*user.cast::<Expect>();
        e.check_args(args, "closure");
        e.store_ret(ret);
    }
}

unsafe extern "C" fn raw_closure_fun(
    cif: *mut FfiCif,
    ret: *mut c_void,
    raw: *mut FfiRaw,
    user: *mut c_void,
) {
    // SAFETY: as above; `raw` is a raw block for the cif.
    unsafe {
        let e = &*user.cast::<Expect>();
        let mut ptrs = vec![core::ptr::null_mut::<c_void>(); e.args.len().max(1)];
        ffi::ffi_raw_to_ptrarray(cif, raw, ptrs.as_mut_ptr());
        e.check_args(ptrs.as_ptr(), "raw closure");
        e.store_ret(ret);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let mut g = Graph::decode(&mut r);
    let abi = match r.below(10) {
        0..=5 => 2,
        6 => 3,
        7 => 4,
        8 => [0, 1, 5][usize::from(r.below(3))],
        _ => r.u32(),
    };
    let nargs = u32::from(r.below(12));
    let null_atypes = r.below(16) == 15;
    let mut atypes: Vec<*mut FfiType> = (0..nargs).map(|_| g.pick(&mut r)).collect();
    let rtype = match r.below(4) {
        0 => obj(&ffi_type_void),
        _ => g.pick(&mut r),
    };
    let variadic = r.below(4) == 3;
    let nfixed = u32::from(r.below(14));
    let atypes_ptr = if null_atypes {
        core::ptr::null_mut()
    } else {
        atypes.as_mut_ptr()
    };

    // SAFETY: a zeroed ffi_cif is a valid value to be written.
    let mut cif: FfiCif = unsafe { core::mem::zeroed() };
    // SAFETY: `cif` is writable, the types are valid graphs with NULL-terminated lists
    // (cycles and odd values are what the library must refuse), outliving the cif.
    let status = unsafe {
        if variadic {
            ffi::ffi_prep_cif_var(&mut cif, abi, nfixed, nargs, rtype, atypes_ptr)
        } else {
            ffi::ffi_prep_cif(&mut cif, abi, nargs, rtype, atypes_ptr)
        }
    };
    assert!(valid_status(status), "ffi_prep_cif: status {status}");

    // Struct offsets of a few nodes (laid out in place on success).
    for _ in 0..r.below(4) {
        let i = usize::from(r.u8()) % g.nodes.len();
        let t: *mut FfiType = &mut g.nodes[i];
        // SAFETY: a node of the graph.
        let count = unsafe {
            let list = (*t).elements;
            let mut k = 0;
            while !list.is_null() && !(*list.add(k)).is_null() {
                k += 1;
            }
            k
        };
        let mut offsets = vec![usize::MAX; count + 1];
        let off_abi = if r.u8() == 0 { r.u32() } else { 2 };
        let with_offsets = r.u8() & 3 != 0;
        let out = if with_offsets {
            offsets.as_mut_ptr()
        } else {
            core::ptr::null_mut()
        };
        // SAFETY: `out` has room for one offset per member.
        let s = unsafe { ffi::ffi_get_struct_offsets(off_abi, t, out) };
        assert!(valid_status(s), "ffi_get_struct_offsets: status {s}");
        if s == FFI_OK && with_offsets {
            // SAFETY: laid out: the members are valid.
            unsafe {
                let mut end = 0;
                for (k, &off) in offsets[..count].iter().enumerate() {
                    let m = &**(*t).elements.add(k);
                    assert!(
                        off >= end && off % usize::from(m.alignment) == 0,
                        "offset {off} of member {k}"
                    );
                    end = off + m.size;
                }
            }
            assert_eq!(
                offsets[count],
                usize::MAX,
                "offset written past the members"
            );
        }
        // SAFETY: a null type is refused.
        assert_ne!(
            unsafe { ffi::ffi_get_struct_offsets(2, core::ptr::null_mut(), out) },
            FFI_OK
        );
    }

    if status != FFI_OK {
        return;
    }
    assert!(cif.flags != 0 && cif.nargs == nargs && cif.abi == abi);
    // SAFETY: prepared.
    let (raw_size, java_size) = unsafe {
        (
            ffi::ffi_raw_size(&mut cif),
            ffi::ffi_java_raw_size(&mut cif),
        )
    };
    assert!(raw_size >= 8 * nargs as usize && java_size >= raw_size);

    // Preparing again (the structs now laid out) finds the same signature.
    // SAFETY: as above.
    let mut again: FfiCif = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    let status2 = unsafe {
        if variadic {
            ffi::ffi_prep_cif_var(&mut again, abi, nfixed, nargs, rtype, atypes_ptr)
        } else {
            ffi::ffi_prep_cif(&mut again, abi, nargs, rtype, atypes_ptr)
        }
    };
    assert_eq!(
        (status2, again.flags, again.bytes),
        (FFI_OK, cif.flags, cif.bytes),
        "prepared twice, differently"
    );

    // SAFETY: prepared: the types are valid and laid out.
    unsafe { round_trip(&mut cif, &mut r, variadic) };
});

/// Calls closures of the cif through the C API and checks what arrives on both sides.
///
/// # Safety
/// `cif` prepared.
unsafe fn round_trip(cif: &mut FfiCif, r: &mut Reader<'_>, variadic: bool) {
    let nargs = cif.nargs as usize;
    if nargs > ROUND_TRIP_ARGS {
        return;
    }
    let mut budget = 4096;
    let mut values = Vec::new();
    let mut bufs = Vec::new();
    for i in 0..nargs {
        // SAFETY: prepared types.
        let t = unsafe { &**cif.arg_types.add(i) };
        if t.size > ROUND_TRIP_VALUE {
            return;
        }
        let mut s = Shape::default();
        // SAFETY: prepared.
        if unsafe { shape(t, 0, &mut s, &mut budget) }.is_none() {
            return;
        }
        let mut b = Buf::new(t.size);
        r.fill(&mut b.bytes_mut()[..t.size]);
        for &at in &s.long_doubles {
            normalize_long_double(b.bytes_mut(), at);
        }
        values.push((b.bytes()[..t.size].to_vec(), s));
        bufs.push(b);
    }
    // SAFETY: prepared.
    let rt = unsafe { &*cif.rtype };
    if rt.size > ROUND_TRIP_VALUE {
        return;
    }
    let mut ret_shape = Shape::default();
    let ret_size = if rt.type_ == code::VOID { 0 } else { rt.size };
    // SAFETY: prepared.
    if ret_size > 0 && unsafe { shape(rt, 0, &mut ret_shape, &mut budget) }.is_none() {
        return;
    }
    let mut want_ret = Buf::new(ret_size);
    r.fill(&mut want_ret.bytes_mut()[..ret_size]);
    for &at in &ret_shape.long_doubles {
        normalize_long_double(want_ret.bytes_mut(), at);
    }
    let expect = Box::new(Expect {
        args: values,
        ret: want_ret.bytes()[..ret_size].to_vec(),
        ret_code: rt.type_,
        calls: Cell::new(0),
        failure: RefCell::new(None),
    });
    let user = (&*expect as *const Expect).cast_mut().cast::<c_void>();
    let mut avalue: Vec<*mut c_void> = bufs.iter_mut().map(Buf::ptr).collect();
    avalue.push(core::ptr::null_mut());

    let check = |rbuf: &Buf, how: &str| {
        if let Some(f) = expect.failure.borrow_mut().take() {
            panic!("{f} (call through {how})");
        }
        for &(off, len) in &ret_shape.ranges {
            assert_eq!(
                rbuf.bytes()[off..off + len],
                expect.ret[off..off + len],
                "return bytes {off}..{} through {how}",
                off + len
            );
        }
    };

    // An ffi_closure and a raw closure of the cif.
    let mut code_ptr: *mut c_void = core::ptr::null_mut();
    // SAFETY: `code_ptr` is writable.
    let closure =
        unsafe { ffi::ffi_closure_alloc(core::mem::size_of::<FfiClosure>(), &mut code_ptr) }
            .cast::<FfiClosure>();
    assert!(!closure.is_null(), "ffi_closure_alloc");
    // SAFETY: fresh closure memory; the cif and `expect` outlive the closure.
    let s = unsafe { ffi::ffi_prep_closure_loc(closure, cif, Some(closure_fun), user, code_ptr) };
    assert_eq!(s, FFI_OK, "ffi_prep_closure_loc of a prepared cif");
    let mut raw_code: *mut c_void = core::ptr::null_mut();
    // SAFETY: as above.
    let raw_closure =
        unsafe { ffi::ffi_closure_alloc(core::mem::size_of::<FfiRawClosure>(), &mut raw_code) }
            .cast::<FfiRawClosure>();
    assert!(!raw_closure.is_null());
    // SAFETY: as above.
    let s = unsafe {
        ffi::ffi_prep_raw_closure_loc(raw_closure, cif, Some(raw_closure_fun), user, raw_code)
    };
    assert_eq!(s, FFI_OK, "ffi_prep_raw_closure_loc of a prepared cif");
    // SAFETY: code addresses of closures of this signature.
    let (fun, raw_fun): (unsafe extern "C" fn(), unsafe extern "C" fn()) = unsafe {
        (
            core::mem::transmute(code_ptr),
            core::mem::transmute(raw_code),
        )
    };

    let mut calls = 0;
    for (target, name) in [(fun, "ffi_closure"), (raw_fun, "raw closure")] {
        let mut rbuf = Buf::new(ret_size.max(8));
        // SAFETY: the closure has the cif's signature; the values match its types.
        unsafe { ffi::ffi_call(cif, Some(target), rbuf.ptr(), avalue.as_mut_ptr()) };
        calls += 1;
        assert_eq!(expect.calls.get(), calls, "{name} not called");
        check(&rbuf, &format!("ffi_call into the {name}"));

        // The raw API: the values packed into raw slots, then called.
        for java in [false, true] {
            let size = if java {
                ffi::ffi_java_raw_size(cif)
            } else {
                ffi::ffi_raw_size(cif)
            };
            let mut raw = vec![0u64; size.div_ceil(8).max(1)];
            let mut rbuf = Buf::new(ret_size.max(8));
            // SAFETY: `raw` has the raw size; the values match the cif.
            unsafe {
                if java {
                    ffi::ffi_java_ptrarray_to_raw(cif, avalue.as_mut_ptr(), raw.as_mut_ptr());
                    ffi::ffi_java_raw_call(cif, Some(target), rbuf.ptr(), raw.as_mut_ptr());
                } else {
                    ffi::ffi_ptrarray_to_raw(cif, avalue.as_mut_ptr(), raw.as_mut_ptr());
                    ffi::ffi_raw_call(cif, Some(target), rbuf.ptr(), raw.as_mut_ptr());
                }
            }
            calls += 1;
            assert_eq!(
                expect.calls.get(),
                calls,
                "{name} not called through the raw API"
            );
            check(
                &rbuf,
                &format!(
                    "{} into the {name}",
                    if java {
                        "ffi_java_raw_call"
                    } else {
                        "ffi_raw_call"
                    }
                ),
            );
        }
    }

    // A cif whose flags were clobbered is prepared again from its fields.
    if !variadic {
        let mut copy = *cif;
        // Never prepared, or an index no signature has (a small number could name another
        // signature with the same ABI and argument count, which the library cannot tell).
        copy.flags = if r.u8() & 1 == 0 {
            0
        } else {
            0x8000_0000 | r.u32()
        };
        let mut rbuf = Buf::new(ret_size.max(8));
        // SAFETY: as above.
        unsafe { ffi::ffi_call(&mut copy, Some(fun), rbuf.ptr(), avalue.as_mut_ptr()) };
        calls += 1;
        assert_eq!(
            expect.calls.get(),
            calls,
            "clobbered flags: closure not called"
        );
        check(&rbuf, "ffi_call with clobbered flags");
    }

    // SAFETY: the closures are not called again.
    unsafe {
        ffi::ffi_closure_free(closure.cast());
        ffi::ffi_closure_free(raw_closure.cast());
    }
    drop(expect);

    // SAFETY: as above.
    unsafe { call_real(cif, &mut bufs, variadic) };
}

macro_rules! mixers {
    ($abi:literal, $($name:ident($($a:ident),*);)*) => {$(
        extern $abi fn $name($($a: u64),*) -> u64 {
            let h = 0x9E37_79B9_7F4A_7C15u64;
            $(let h = (h ^ $a).rotate_left(17).wrapping_mul(0x100_0000_01B3);)*
            h
        }
    )*};
}
mixers! { "C", c0(); c1(a); c2(a, b); c3(a, b, c); c4(a, b, c, d); c5(a, b, c, d, e); c6(a, b, c, d, e, f); }
mixers! { "win64", w0(); w1(a); w2(a, b); w3(a, b, c); w4(a, b, c, d); w5(a, b, c, d, e); w6(a, b, c, d, e, f); }

/// For a signature of 64-bit integers (at most six, not variadic), calls real functions of
/// that signature through `ffi_call` and compares with a direct call.
///
/// # Safety
/// `cif` prepared; `bufs` hold its argument values.
unsafe fn call_real(cif: &mut FfiCif, bufs: &mut [Buf], variadic: bool) {
    let int64 = |t: *const FfiType| {
        // SAFETY: prepared types.
        matches!(
            unsafe { (*t).type_ },
            code::UINT64 | code::SINT64 | code::POINTER
        )
    };
    let n = cif.nargs as usize;
    // SAFETY: prepared.
    if variadic
        || n > 6
        || !int64(cif.rtype)
        || !(0..n).all(|i| int64(unsafe { *cif.arg_types.add(i) }))
    {
        return;
    }
    let v: Vec<u64> = bufs
        .iter()
        .map(|b| u64::from_le_bytes(b.bytes()[..8].try_into().unwrap()))
        .collect();
    let a = |i: usize| v[i];
    // SAFETY: the function pointers are called with their own signatures below; through
    // ffi_call with the cif's, which is the same.
    let (f, want): (unsafe extern "C" fn(), u64) = unsafe {
        match (cif.abi, n) {
            (2, 0) => (core::mem::transmute(c0 as extern "C" fn() -> u64), c0()),
            (2, 1) => (
                core::mem::transmute(c1 as extern "C" fn(u64) -> u64),
                c1(a(0)),
            ),
            (2, 2) => (
                core::mem::transmute(c2 as extern "C" fn(u64, u64) -> u64),
                c2(a(0), a(1)),
            ),
            (2, 3) => (
                core::mem::transmute(c3 as extern "C" fn(u64, u64, u64) -> u64),
                c3(a(0), a(1), a(2)),
            ),
            (2, 4) => (
                core::mem::transmute(c4 as extern "C" fn(u64, u64, u64, u64) -> u64),
                c4(a(0), a(1), a(2), a(3)),
            ),
            (2, 5) => (
                core::mem::transmute(c5 as extern "C" fn(u64, u64, u64, u64, u64) -> u64),
                c5(a(0), a(1), a(2), a(3), a(4)),
            ),
            (2, 6) => (
                core::mem::transmute(c6 as extern "C" fn(u64, u64, u64, u64, u64, u64) -> u64),
                c6(a(0), a(1), a(2), a(3), a(4), a(5)),
            ),
            (_, 0) => (core::mem::transmute(w0 as extern "win64" fn() -> u64), w0()),
            (_, 1) => (
                core::mem::transmute(w1 as extern "win64" fn(u64) -> u64),
                w1(a(0)),
            ),
            (_, 2) => (
                core::mem::transmute(w2 as extern "win64" fn(u64, u64) -> u64),
                w2(a(0), a(1)),
            ),
            (_, 3) => (
                core::mem::transmute(w3 as extern "win64" fn(u64, u64, u64) -> u64),
                w3(a(0), a(1), a(2)),
            ),
            (_, 4) => (
                core::mem::transmute(w4 as extern "win64" fn(u64, u64, u64, u64) -> u64),
                w4(a(0), a(1), a(2), a(3)),
            ),
            (_, 5) => (
                core::mem::transmute(w5 as extern "win64" fn(u64, u64, u64, u64, u64) -> u64),
                w5(a(0), a(1), a(2), a(3), a(4)),
            ),
            _ => (
                core::mem::transmute(w6 as extern "win64" fn(u64, u64, u64, u64, u64, u64) -> u64),
                w6(a(0), a(1), a(2), a(3), a(4), a(5)),
            ),
        }
    };
    let mut avalue: Vec<*mut c_void> = bufs.iter_mut().map(Buf::ptr).collect();
    avalue.push(core::ptr::null_mut());
    let mut got = 0u64;
    // SAFETY: `f` has the cif's signature.
    unsafe {
        ffi::ffi_call(
            cif,
            Some(f),
            (&mut got as *mut u64).cast(),
            avalue.as_mut_ptr(),
        )
    };
    assert_eq!(got, want, "ffi_call of a real function");
}
