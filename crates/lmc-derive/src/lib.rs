//! `#[derive(Signature)]` for lmc: typed signatures declared as Rust structs.
//!
//! The macro runs in three steps, each in its own module: `parse` reads the struct and its
//! attributes into a model, collecting every problem; `validate` checks the model as a
//! whole (roles, names, field types); `expand` writes the code. Every problem is reported
//! with a span, all at once, and the macro never panics.
//!
//! See the `lmc` crate's `typed` module for the user-facing documentation.

mod expand;
mod model;
mod parse;
mod types;
mod validate;

use proc_macro::TokenStream;

/// Derives `lmc::TypedSignature` for a struct whose fields are marked `#[input]` or
/// `#[output]`, and generates `<Name>Input` and `<Name>Output` structs.
///
/// - The struct's doc comment is the instructions (`#[signature(instructions = "...")]`
///   instead); each field's doc comment is its description.
/// - `#[field(desc = "...", prefix = "...", rename = "...")]` overrides a field's
///   description, prefix or prompt name.
/// - `#[signature(crate = "path")]` names the lmc crate when it cannot be found from
///   `Cargo.toml`.
#[proc_macro_derive(Signature, attributes(input, output, field, signature))]
pub fn derive_signature(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    parse::parse(&input)
        .and_then(validate::validate)
        .map(|checked| expand::expand(&checked))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
