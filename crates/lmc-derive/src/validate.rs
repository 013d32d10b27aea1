//! Step 2: check the model as a whole.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::{FieldModel, Role, SignatureModel};
use crate::parse::Errors;
use crate::types::field_type_expr;

/// A field that passed validation, with its role and prompt-type expression.
pub(crate) struct CheckedField {
    pub(crate) field: FieldModel,
    pub(crate) role: Role,
    pub(crate) field_type: TokenStream,
}

/// The validated signature.
pub(crate) struct Checked {
    pub(crate) model: SignatureModel,
    pub(crate) krate: TokenStream,
    pub(crate) fields: Vec<CheckedField>,
}

pub(crate) fn validate(mut model: SignatureModel) -> syn::Result<Checked> {
    let mut errors = Errors::default();
    let krate = crate_path(&model);
    let private = quote!(#krate::typed::__private);
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut fields = Vec::new();
    let mut unmarked = false;
    let (mut inputs, mut outputs) = (0, 0);
    for field in std::mem::take(&mut model.fields) {
        let role = match field.role {
            Some((role, _)) => {
                // Counted before the type check, so a bad type does not also read as "no outputs".
                match role {
                    Role::Input => inputs += 1,
                    Role::Output => outputs += 1,
                }
                role
            }
            None => {
                unmarked = true;
                errors.push(syn::Error::new(
                    field.ident.span(),
                    format!("mark `{}` with #[input] or #[output]", field.ident),
                ));
                continue;
            }
        };
        if !is_identifier(&field.name) {
            errors.push(syn::Error::new(
                field.name_span,
                format!(
                    "`{}` is not a valid field name: use letters, digits and `_`, not starting with a digit",
                    field.name
                ),
            ));
        }
        if let Some(other) = seen.insert(field.name.clone(), field.ident.to_string()) {
            errors.push(syn::Error::new(
                field.name_span,
                format!(
                    "two fields are named `{}` in the prompt (`{other}` and `{}`); rename one",
                    field.name, field.ident
                ),
            ));
        }
        match field_type_expr(&field.ty, &private) {
            Ok(field_type) => fields.push(CheckedField { field, role, field_type }),
            Err(e) => errors.push(e),
        }
    }
    // With unmarked fields, "no inputs" may just be the same mistake; say it once.
    let all_marked = !unmarked;
    if all_marked && inputs == 0 {
        errors.push(syn::Error::new(model.ident.span(), "a signature needs at least one #[input] field"));
    }
    if all_marked && outputs == 0 {
        errors.push(syn::Error::new(model.ident.span(), "a signature needs at least one #[output] field"));
    }
    errors.finish(Checked { model, krate, fields })
}

/// The path of the lmc crate: `#[signature(crate = "...")]`, or the name under which the
/// user's `Cargo.toml` depends on `lmc` (it may be renamed), or `::lmc`.
fn crate_path(model: &SignatureModel) -> TokenStream {
    if let Some(path) = &model.krate {
        return quote!(#path);
    }
    match proc_macro_crate::crate_name("lmc") {
        Ok(proc_macro_crate::FoundCrate::Name(name)) => {
            let ident = syn::Ident::new(&name, proc_macro2::Span::call_site());
            quote!(::#ident)
        }
        // Inside lmc itself, `extern crate self as lmc` makes `::lmc` resolve.
        Ok(proc_macro_crate::FoundCrate::Itself) | Err(_) => quote!(::lmc),
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}
