//! The dynamic layer: call C functions whose signatures are read at run time, and hand C a
//! callback built from a run-time description.
//!
//! `cargo run --example dynamic` calls a few libc/libm functions found with `dlsym`, from
//! prototypes written as text; `cargo run --example dynamic -- 'double hypot(double, double)' 3 4`
//! calls any function of the supported shapes with arguments from the command line.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    demo::run()
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn main() {
    println!("the dynamic layer example runs on x86_64 Linux");
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod demo {
    use std::ffi::{c_void, CString};

    use closure_ffi::dynamic::{Abi, Cif, Closure, CodePtr, Type};

    /// A value of one of the scalar types the prototypes may name.
    #[derive(Clone, Copy, Debug)]
    enum Value {
        Int(i64),
        Double(f64),
        Ptr(*const c_void),
    }

    /// Maps a C type name to its descriptor.
    fn c_type(name: &str) -> Result<Type, String> {
        Ok(match name.trim() {
            "void" => Type::VOID,
            "int" => Type::SINT,
            "unsigned" | "unsigned int" => Type::UINT,
            "long" => Type::SLONG,
            "size_t" | "unsigned long" => Type::ULONG,
            "double" => Type::F64,
            "float" => Type::F32,
            t if t.ends_with('*') => Type::POINTER,
            other => return Err(format!("unsupported type `{other}`")),
        })
    }

    /// Parses `ret name(arg, arg, ...)`: the return type, the name, the argument types and
    /// the number of fixed arguments if the list ends in `...`.
    fn parse(proto: &str) -> Result<(Type, String, Vec<Type>, Option<usize>), String> {
        let (head, rest) = proto.split_once('(').ok_or("expected `ret name(args)`")?;
        let args = rest
            .trim()
            .strip_suffix(')')
            .ok_or("expected `)` at the end")?;
        let (ret, name) = head
            .trim()
            .rsplit_once(' ')
            .ok_or("expected a return type")?;
        let (ret, name) = match name.strip_prefix('*') {
            Some(name) => (format!("{ret}*"), name),
            None => (ret.to_string(), name),
        };
        let mut types = Vec::new();
        let mut nfixed = None;
        for arg in args
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty() && *a != "void")
        {
            if arg == "..." {
                nfixed = Some(types.len());
            } else {
                types.push(c_type(arg)?);
            }
        }
        Ok((c_type(&ret)?, name.to_string(), types, nfixed))
    }

    /// Finds `name` in the process or in libm.
    fn lookup(name: &str) -> Result<CodePtr, String> {
        let cname = CString::new(name).map_err(|e| e.to_string())?;
        // SAFETY: dlsym/dlopen with valid C strings; libm stays loaded (never dlclosed).
        let ptr = unsafe {
            let mut ptr = libc::dlsym(libc::RTLD_DEFAULT, cname.as_ptr());
            if ptr.is_null() {
                let libm = libc::dlopen(c"libm.so.6".as_ptr(), libc::RTLD_NOW);
                if !libm.is_null() {
                    ptr = libc::dlsym(libm, cname.as_ptr());
                }
            }
            ptr
        };
        if ptr.is_null() {
            return Err(format!("`{name}` not found"));
        }
        Ok(CodePtr::new(ptr))
    }

    /// Calls the function of prototype `proto` with `args` (strings become `char *`).
    fn call(proto: &str, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
        let (ret, name, mut types, nfixed) = parse(proto)?;
        let mut strings = Vec::new();
        let mut values = Vec::new();
        for (i, text) in args.iter().enumerate() {
            let declared = types.get(i).cloned();
            let value = match declared.as_ref().map(Type::kind) {
                Some(k) if k.is_integer() => Value::Int(text.parse()?),
                Some(closure_ffi::dynamic::TypeKind::F64) => Value::Double(text.parse()?),
                Some(closure_ffi::dynamic::TypeKind::Pointer) => {
                    strings.push(CString::new(*text)?);
                    Value::Ptr(
                        strings
                            .last()
                            .map_or(std::ptr::null(), |s| s.as_ptr().cast()),
                    )
                }
                Some(_) => return Err(format!("argument {i}: unsupported type").into()),
                // A variadic argument: its type comes from its text (promoted types only).
                None if text.contains('.') => Value::Double(text.parse()?),
                None => match text.parse() {
                    Ok(n) => Value::Int(n),
                    Err(_) => {
                        strings.push(CString::new(*text)?);
                        Value::Ptr(
                            strings
                                .last()
                                .map_or(std::ptr::null(), |s| s.as_ptr().cast()),
                        )
                    }
                },
            };
            if declared.is_none() {
                types.push(match value {
                    Value::Int(_) => Type::I64,
                    Value::Double(_) => Type::F64,
                    Value::Ptr(_) => Type::POINTER,
                });
            }
            values.push(value);
        }
        if values.len() != types.len() {
            return Err(format!("{name} takes {} arguments", types.len()).into());
        }
        let cif = match nfixed {
            Some(n) => Cif::new_variadic(Abi::DEFAULT, types.clone(), n, ret.clone())?,
            None => Cif::new(Abi::DEFAULT, types.clone(), ret.clone())?,
        };
        // Each value, narrowed to its declared C type, in 8 bytes of storage.
        let mut storage: Vec<u64> = values
            .iter()
            .zip(&types)
            .map(|(v, t)| match (*v, t.kind()) {
                (Value::Int(n), _) => n as u64,
                (Value::Double(x), closure_ffi::dynamic::TypeKind::F32) => {
                    (x as f32).to_bits().into()
                }
                (Value::Double(x), _) => x.to_bits(),
                (Value::Ptr(p), _) => p as u64,
            })
            .collect();
        let avalue: Vec<*mut c_void> = storage.iter_mut().map(|v| (v as *mut u64).cast()).collect();
        let mut result = [0u64; 2];
        // SAFETY: the Cif was built from the function's prototype, every argument points to
        // storage of its type, and `result` holds any scalar return.
        unsafe { cif.call_raw(lookup(&name)?, result.as_mut_ptr().cast(), avalue.as_ptr()) };
        Ok(match ret.kind() {
            closure_ffi::dynamic::TypeKind::Void => "(void)".to_string(),
            closure_ffi::dynamic::TypeKind::F64 => f64::from_bits(result[0]).to_string(),
            closure_ffi::dynamic::TypeKind::F32 => f32::from_bits(result[0] as u32).to_string(),
            closure_ffi::dynamic::TypeKind::Pointer => format!("{:#x}", result[0]),
            k if k.is_signed() => (result[0] as i64).to_string(),
            _ => result[0].to_string(),
        })
    }

    /// Sorts with libc's `qsort` and a comparator whose signature is built at run time.
    fn sort_with_dynamic_comparator() -> Result<Vec<i32>, Box<dyn std::error::Error>> {
        let cmp_cif = Cif::new(Abi::DEFAULT, [Type::POINTER, Type::POINTER], Type::SINT)?;
        let descending = Closure::new(cmp_cif, |args, ret| {
            // SAFETY: qsort passes two pointers to elements of the i32 array.
            let (a, b) = unsafe {
                let a = *args.get::<*const i32>(0).unwrap_or(std::ptr::null());
                let b = *args.get::<*const i32>(1).unwrap_or(std::ptr::null());
                (a, b)
            };
            let _ = ret.set(b.cmp(&a) as i32);
        })?;
        let mut data = vec![3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
        // SAFETY: the closure has qsort's comparator signature and outlives the call (and
        // every call qsort makes through `cmp`).
        unsafe {
            let cmp: extern "C" fn(*const c_void, *const c_void) -> i32 = descending.fn_ptr();
            libc::qsort(data.as_mut_ptr().cast(), data.len(), 4, Some(cmp));
        }
        Ok(data)
    }

    pub fn run() -> Result<(), Box<dyn std::error::Error>> {
        let argv: Vec<String> = std::env::args().skip(1).collect();
        if let Some((proto, args)) = argv.split_first() {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            println!("{proto} -> {}", call(proto, &args)?);
            return Ok(());
        }
        for (proto, args) in [
            ("double pow(double, double)", &["2.0", "10.0"][..]),
            ("double hypot(double, double)", &["3.0", "4.0"]),
            ("size_t strlen(const char *)", &["closure-ffi"]),
            ("long labs(long)", &["-42"]),
            (
                "int printf(const char *, ...)",
                &[
                    "printf through a variadic Cif: %s %ld %.2f\n",
                    "ok",
                    "7",
                    "2.50",
                ],
            ),
        ] {
            println!("{proto} with {args:?} -> {}", call(proto, args)?);
        }
        let sorted = sort_with_dynamic_comparator()?;
        println!("qsort with a dynamic closure comparator (descending): {sorted:?}");
        assert_eq!(sorted, [9, 6, 5, 5, 4, 3, 3, 2, 1, 1]);
        Ok(())
    }
}
