//! Type trees from the fuzzer's bytes, each layout checked against an independent model of
//! the C rules (used by `types_cif` and `classify`).

use closure_ffi::dynamic::types::{MAX_ALIGN, MAX_DEPTH, MAX_SIZE};
use closure_ffi::dynamic::{Type, TypeKind};

use crate::Reader;

/// Type nodes decoded per input (keeps every input cheap).
pub const MAX_NODES: u32 = 160;
/// Every scalar type (`void` first).
pub const SCALARS: [Type; 15] = [
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

/// Decodes `Type` trees from the input, checking each layout against the model.
pub struct Decoder<'a, 'b> {
    /// The input.
    pub r: &'b mut Reader<'a>,
    /// Nodes decoded so far (bounded by [`MAX_NODES`]).
    pub nodes: u32,
    /// Types decoded earlier, which later ones may reuse.
    pub pool: Vec<Type>,
}

/// Decodes a pool of one to six types, the first thing every Type-based target reads.
pub fn decode_pool(r: &mut Reader<'_>) -> Vec<Type> {
    let mut d = Decoder {
        r,
        nodes: 0,
        pool: Vec::new(),
    };
    let ntypes = 1 + d.r.below(6);
    for _ in 0..ntypes {
        let t = d.ty(0);
        d.pool.push(t);
    }
    d.pool
}

impl Decoder<'_, '_> {
    /// Decodes one type; a refused description is checked against the model and replaced
    /// by `u8` so that decoding goes on.
    pub fn ty(&mut self, depth: u32) -> Type {
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
    let _ = format!("{t:?}");
}

/// Significant bytes of the host's (x87) `long double`: 10 of its 16.
pub const X87_BYTES: usize = 10;

/// Byte ranges of a type's scalars that every transfer must preserve, a `long double`
/// counting `long_double` bytes ([`X87_BYTES`] for x86's ABIs, all 16 for AAPCS64's
/// binary128). Only for small types (the walk visits every array element).
pub fn scalar_ranges(t: &Type, long_double: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    t.for_each_scalar(0, &mut |off, kind| {
        let len = match kind {
            TypeKind::LongDouble => long_double,
            k => Type::scalar(k).map_or(0, |s| s.size()),
        };
        out.push((off, len));
    });
    out
}
