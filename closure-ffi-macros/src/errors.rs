//! Error collection shared by the validation steps of every macro: a misuse is reported
//! with all the others found in the same input, not one compile at a time.

/// Collects every error instead of stopping at the first.
#[derive(Default)]
pub struct Errors(pub Option<syn::Error>);

impl Errors {
    /// Adds `error` to those collected.
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Adds an error spanned on `tokens`.
    pub fn spanned(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// `value` if no error was collected, else every error combined.
    pub fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}
