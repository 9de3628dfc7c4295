//! The output contract of every relocator: a template prologue, relocated once, ready to be
//! copied for each thunk.
//!
//! A relocator (one per architecture family, in `src/arch/`) turns the bytes of a thunk
//! template, from its entry to the end of its stub, into a [`PreparedTemplate`]. Everything in
//! it is computed once per template and reused for every thunk:
//!
//! ```text
//!  PreparedTemplate::code (copied verbatim into each thunk's executable memory)
//!  +-------------------------------+----------------------+------------+----------------+
//!  | relocated prologue            | stub: load closure   | jump back  | literal pool   |
//!  | (PC-relative forms rewritten) | ptr (imm patched at  | to the     | (absolute      |
//!  |                               |  `closure_slot`)     | template   |  addresses)    |
//!  +-------------------------------+----------------------+------------+----------------+
//! ```
//!
//! Instantiating a thunk is then: copy `code`, store the closure pointer at `closure_slot`,
//! apply the (usually empty) list of position-dependent [`Fixup`]s.

use alloc::boxed::Box;
use core::fmt;

/// A position-dependent patch applied to each copy of a prepared template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fixup {
    /// A 32-bit little-endian displacement at offset `at`, relative to the end of the 4
    /// displacement bytes (`at + 4`), that must point to the absolute address `target`.
    /// Used for x86 `call/jmp rel32` on 32-bit targets, where every address is in range.
    Rel32 {
        /// Offset of the displacement inside [`PreparedTemplate::code`].
        at: usize,
        /// Absolute target address.
        target: u64,
    },
    /// An AArch64 `B` word at offset `at` (4-byte aligned) whose imm26 must reach the
    /// absolute address `target` (±128 MiB); applying it fails with
    /// [`RelocError::OutOfRange`] when the copy is placed too far away.
    Branch26 {
        /// Offset of the `B` word inside [`PreparedTemplate::code`].
        at: usize,
        /// Absolute target address.
        target: u64,
    },
}

/// A thunk template's prologue and stub, relocated once and reusable for every thunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedTemplate {
    /// The bytes to copy into each thunk (relocated prologue, stub, jump back, literals).
    pub code: Box<[u8]>,
    /// Offset in `code` of the pointer-sized little-endian slot that receives the closure
    /// pointer.
    pub closure_slot: usize,
    /// Patches that depend on the address the copy is placed at.
    pub fixups: Box<[Fixup]>,
}

/// Why a thunk template could not be relocated. Relocation fails closed: an instruction it
/// cannot move, or a displacement out of range, is one of these, never a truncation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelocError {
    /// No thunk stub (magic constant) was found within the bounded scan window.
    StubNotFound,
    /// The stub was found but does not have the expected shape (wrong placeholder,
    /// wrong jump target, unexpected operand size).
    MalformedStub,
    /// The disassembler could not decode the instruction at `offset` (from the entry).
    Decode {
        /// Offset of the undecodable instruction from the template entry.
        offset: usize,
    },
    /// The instruction at `offset` cannot be relocated (e.g. a RIP-relative operand with no
    /// rewrite rule, a `ret`, an indirect branch).
    Unsupported {
        /// Offset of the instruction from the template entry.
        offset: usize,
        /// What the instruction is, in a few words.
        what: &'static str,
    },
    /// A displacement does not fit its field after relocation.
    OutOfRange {
        /// Offset of the instruction from the template entry.
        offset: usize,
    },
    /// The disassembler could not be initialised.
    Disassembler,
}

impl fmt::Display for RelocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelocError::StubNotFound => {
                f.write_str("thunk stub not found in the template prologue (bounded scan)")
            }
            RelocError::MalformedStub => f.write_str("thunk stub has an unexpected shape"),
            RelocError::Decode { offset } => {
                write!(
                    f,
                    "cannot decode the template instruction at entry+{offset:#x}"
                )
            }
            RelocError::Unsupported { offset, what } => {
                write!(f, "cannot relocate {what} at entry+{offset:#x}")
            }
            RelocError::OutOfRange { offset } => {
                write!(
                    f,
                    "displacement out of range after relocation at entry+{offset:#x}"
                )
            }
            RelocError::Disassembler => f.write_str("the disassembler could not be initialised"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RelocError {}
