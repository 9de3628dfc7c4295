//! The 32-bit ARM family (A32 and T32).
pub mod aapcs32;
#[cfg(target_arch = "arm")]
pub(crate) mod dyncall;
