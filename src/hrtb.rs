//! `bare_hrtb!`: bare function pointer types with higher-ranked lifetimes (being written).
