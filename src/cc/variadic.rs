//! C-variadic thunks (being written).

/// Marker for C-variadic signatures (`unsafe extern "C" fn(T0.., ...) -> R`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Variadic;
