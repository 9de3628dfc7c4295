//! A drop-in libffi: `ffi.h` and `libffi.so.8` on closure-ffi's dynamic layer.
#![cfg_attr(not(all(target_arch = "x86_64", target_os = "linux")), allow(unused))]
