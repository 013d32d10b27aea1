//! What the derive reads from a struct.

use proc_macro2::Span;

/// Input or output.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Input,
    Output,
}

/// One struct field, as declared.
pub(crate) struct FieldModel {
    /// The Rust identifier.
    pub(crate) ident: syn::Ident,
    /// The field's visibility (the generated structs keep it).
    pub(crate) vis: syn::Visibility,
    /// The Rust type.
    pub(crate) ty: syn::Type,
    /// `#[input]` / `#[output]`, with the attribute's span; `None` when unmarked.
    pub(crate) role: Option<(Role, Span)>,
    /// The name in prompts: the identifier, or `#[field(rename = "...")]`.
    pub(crate) name: String,
    /// Where the name comes from, for duplicate-name errors.
    pub(crate) name_span: Span,
    /// The description: doc comment, or `#[field(desc = "...")]`.
    pub(crate) desc: Option<String>,
    /// `#[field(prefix = "...")]`.
    pub(crate) prefix: Option<String>,
    /// The doc attributes, copied onto the generated structs' fields.
    pub(crate) docs: Vec<syn::Attribute>,
}

/// The whole struct.
pub(crate) struct SignatureModel {
    pub(crate) ident: syn::Ident,
    pub(crate) vis: syn::Visibility,
    /// Doc comment or `#[signature(instructions = "...")]`.
    pub(crate) instructions: Option<String>,
    /// `#[signature(crate = "...")]`.
    pub(crate) krate: Option<syn::Path>,
    pub(crate) fields: Vec<FieldModel>,
}
