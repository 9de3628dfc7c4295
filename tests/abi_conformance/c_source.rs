//! The C peer of a run: for each signature `i`, a callee `f_i` that checks its arguments
//! against the baked values and returns the baked result, and a caller `call_i` that calls
//! a function pointer with the baked arguments and checks its result.
//!
//! Values are baked as bytes (unions of a byte array and the value's type), so no C literal
//! can round, and compared on their significant bytes only (`same`, over `(offset, len)`
//! tables). The first mismatch is recorded in globals the Rust side reads ([`support`]).

use std::fmt::Write;

use closure_ffi::dynamic::{Abi, Type, TypeKind};

use crate::signature::{natural_align, scalar_c_name, Signature, Value};

/// Bytes of a mismatching value the C side keeps for the report.
pub const FAIL_BYTES: usize = 512;

/// Declarations and helpers every source file starts with.
const PRELUDE: &str = r#"#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

extern int g_fail_count, g_fail_sig, g_fail_arg;
extern unsigned g_fail_len;
extern unsigned char g_fail_got[];

#define unused __attribute__((unused))

/* Whether `got` and `want` agree on the byte ranges `r` = {n, off0, len0, off1, ...}. */
static unused int same(const void *got, const void *want, const unsigned short *r) {
    const unsigned char *a = got, *b = want;
    for (unsigned i = 0; i < r[0]; i++)
        if (memcmp(a + r[1 + 2 * i], b + r[1 + 2 * i], r[2 + 2 * i]) != 0)
            return 0;
    return 1;
}

/* Records a mismatch; the first one keeps its place (arg -1: the return value). */
static unused void fail(int sig, int arg, const void *got, unsigned len) {
    if (g_fail_count++ == 0) {
        g_fail_sig = sig;
        g_fail_arg = arg;
        g_fail_len = len < FAIL_BYTES ? len : FAIL_BYTES;
        memcpy(g_fail_got, got, g_fail_len);
    }
}

static unused void check(int sig, int arg, const void *got, const void *want, unsigned len,
                  const unsigned short *r) {
    if (!same(got, want, r))
        fail(sig, arg, got, len);
}
"#;

/// The file that defines the failure record.
pub fn support() -> String {
    format!(
        "int g_fail_count, g_fail_sig = -1, g_fail_arg;\nunsigned g_fail_len;\n\
         unsigned char g_fail_got[{FAIL_BYTES}];\n"
    )
}

/// Two source files for `sigs`: the callees, and the callers, each with the types and
/// values they use.
///
/// gcc 12 at -O1 compiles a file with `ms_abi` callees and callers through `ms_abi` pointers
/// several times slower than the two halves apart, so they stay apart.
pub fn sources(sigs: &[Signature]) -> [String; 2] {
    let prelude = format!("#define FAIL_BYTES {FAIL_BYTES}\n{PRELUDE}");
    let (mut callees, mut callers) = (prelude.clone(), prelude);
    for sig in sigs {
        let mut common = String::new();
        let (callee, caller) = SigEmitter {
            out: &mut common,
            sig,
            next_type: 0,
        }
        .emit();
        callees.push_str(&common);
        callees.push_str(&callee);
        callers.push_str(&common);
        callers.push_str(&caller);
    }
    [callees, callers]
}

/// Whether Win64 passes a value of this type as the address of a copy: anything but 1, 2,
/// 4 or 8 bytes, and `__int128` and `long double`.
///
/// gcc 12's `__builtin_va_arg` on a `__builtin_ms_va_list` reads such values in place, as
/// if they were passed by value, although gcc's own callers pass them by reference (as the
/// Microsoft ABI says: its `va_arg` dereferences them). The callees read them as MSVC's
/// `va_arg` does: a pointer, then the value.
fn win64_by_reference(ty: &Type) -> bool {
    !matches!(ty.size(), 1 | 2 | 4 | 8)
        || matches!(
            ty.kind(),
            TypeKind::U128 | TypeKind::I128 | TypeKind::LongDouble
        )
}

struct SigEmitter<'a> {
    out: &'a mut String,
    sig: &'a Signature,
    next_type: usize,
}

impl SigEmitter<'_> {
    /// Writes the signature's types and values to `self.out` and returns the callee and the
    /// caller.
    fn emit(mut self) -> (String, String) {
        let sig = self.sig;
        let i = sig.index;
        writeln!(self.out, "\n/* {} */", sig.prototype().replace("*/", "* /")).unwrap();
        let ret = self.c_type(&sig.ret);
        let params: Vec<String> = sig.args.iter().map(|ty| self.c_type(ty)).collect();
        for (j, (value, ty)) in sig.arg_values.iter().zip(&params).enumerate() {
            self.value(&format!("a{i}_{j}"), ty, value);
        }
        if let Some(value) = &sig.ret_value {
            self.value(&format!("r{i}"), &ret, value);
        }

        let attr = crate::signature::c_attribute(sig.abi);
        let (va_list, va_start, va_arg, va_end) = match sig.abi {
            Abi::Win64 => (
                "__builtin_ms_va_list",
                "__builtin_ms_va_start",
                "__builtin_va_arg",
                "__builtin_ms_va_end",
            ),
            _ => ("va_list", "va_start", "va_arg", "va_end"),
        };
        let nfixed = sig.nfixed.unwrap_or(params.len());
        let mut decl: Vec<String> = params[..nfixed]
            .iter()
            .enumerate()
            .map(|(j, ty)| format!("{ty} p{j}"))
            .collect();
        let mut types: Vec<String> = params[..nfixed].to_vec();
        if sig.nfixed.is_some() {
            decl.push("...".to_owned());
            types.push("...".to_owned());
        }
        if decl.is_empty() {
            decl.push("void".to_owned());
            types.push("void".to_owned());
        }
        let (mut callee, mut caller) = (String::new(), String::new());

        // The callee.
        let out = &mut callee;
        writeln!(out, "{attr}{ret} f_{i}({}) {{", decl.join(", ")).unwrap();
        for j in 0..nfixed {
            writeln!(
                out,
                "    check({i}, {j}, &p{j}, a{i}_{j}.b, sizeof p{j}, a{i}_{j}_r);"
            )
            .unwrap();
        }
        if nfixed < params.len() {
            writeln!(
                out,
                "    {va_list} ap;\n    {va_start}(ap, p{});",
                nfixed - 1
            )
            .unwrap();
            for (j, ty) in params.iter().enumerate().skip(nfixed) {
                let read = if sig.abi == Abi::Win64 && win64_by_reference(&sig.args[j]) {
                    format!("*{va_arg}(ap, {ty} *)")
                } else {
                    format!("{va_arg}(ap, {ty})")
                };
                writeln!(
                    out,
                    "    {{ {ty} v = {read}; \
                     check({i}, {j}, &v, a{i}_{j}.b, sizeof v, a{i}_{j}_r); }}"
                )
                .unwrap();
            }
            writeln!(out, "    {va_end}(ap);").unwrap();
        }
        if sig.ret_value.is_some() {
            writeln!(out, "    return r{i}.v;").unwrap();
        }
        writeln!(out, "}}").unwrap();

        // The caller.
        let out = &mut caller;
        writeln!(
            out,
            "int call_{i}({ret} ({attr}*fp)({})) {{",
            types.join(", ")
        )
        .unwrap();
        let call_args: Vec<String> = (0..params.len()).map(|j| format!("a{i}_{j}.v")).collect();
        let call = format!("fp({})", call_args.join(", "));
        if sig.ret_value.is_some() {
            writeln!(
                out,
                "    {ret} r = {call};\n    if (!same(&r, r{i}.b, r{i}_r)) {{\n        \
                 fail({i}, -1, &r, sizeof r);\n        return 1;\n    }}"
            )
            .unwrap();
        } else {
            writeln!(out, "    {call};").unwrap();
        }
        writeln!(out, "    return 0;\n}}").unwrap();
        (callee, caller)
    }

    /// A `static const` value of C type `ty` given by its bytes (`name.b`, readable as
    /// `name.v`), and its significant byte ranges (`name_r`).
    fn value(&mut self, name: &str, ty: &str, value: &Value) {
        let bytes: Vec<String> = value.bytes.iter().map(u8::to_string).collect();
        let mut ranges = vec![value.ranges.len().to_string()];
        for (off, len) in &value.ranges {
            ranges.push(off.to_string());
            ranges.push(len.to_string());
        }
        writeln!(
            self.out,
            "static const union {{ unsigned char b[{}]; {ty} v; }} {name} = {{{{{}}}}};\n\
             static const unsigned short {name}_r[] = {{{}}};",
            value.bytes.len(),
            bytes.join(","),
            ranges.join(",")
        )
        .unwrap();
    }

    /// A C type name for `ty`, emitting typedefs (with layout assertions from the library's
    /// layout) for aggregates and their members first.
    fn c_type(&mut self, ty: &Type) -> String {
        match ty.kind() {
            TypeKind::Complex => format!("{} _Complex", scalar_c_name(ty.members()[0].kind())),
            TypeKind::Array => {
                let element = self.c_type(&ty.members()[0]);
                let name = self.fresh_name();
                writeln!(self.out, "typedef {element} {name}[{}];", ty.len()).unwrap();
                self.assert_layout(&name, ty, &[]);
                name
            }
            kind @ (TypeKind::Struct | TypeKind::Union) => {
                let members: Vec<String> = ty.members().iter().map(|m| self.c_type(m)).collect();
                let name = self.fresh_name();
                let keyword = if kind == TypeKind::Struct {
                    "struct"
                } else {
                    "union"
                };
                let attr = if ty.align() != natural_align(ty) {
                    format!(" __attribute__((aligned({})))", ty.align())
                } else {
                    String::new()
                };
                let fields: String = members
                    .iter()
                    .enumerate()
                    .map(|(k, m)| format!(" {m} m{k};"))
                    .collect();
                writeln!(self.out, "typedef {keyword}{attr} {{{fields} }} {name};").unwrap();
                let offsets: Vec<String> = ty
                    .offsets()
                    .iter()
                    .enumerate()
                    .map(|(k, off)| format!("offsetof({name}, m{k}) == {off}"))
                    .collect();
                self.assert_layout(&name, ty, &offsets);
                name
            }
            kind => scalar_c_name(kind).to_owned(),
        }
    }

    /// A compile-time check that gcc lays `name` out as the library's `ty`.
    fn assert_layout(&mut self, name: &str, ty: &Type, offsets: &[String]) {
        let mut conds = vec![
            format!("sizeof({name}) == {}", ty.size()),
            format!("_Alignof({name}) == {}", ty.align()),
        ];
        conds.extend_from_slice(offsets);
        writeln!(
            self.out,
            "_Static_assert({}, \"library layout of {name}: size {}, align {}, offsets {:?}\");",
            conds.join(" && "),
            ty.size(),
            ty.align(),
            ty.offsets()
        )
        .unwrap();
    }

    fn fresh_name(&mut self) -> String {
        self.next_type += 1;
        format!("t{}_{}", self.sig.index, self.next_type)
    }
}
