//! Mapping Rust field types to prompt types, as DSPy maps the same Python types.
//!
//! Known standard types map syntactically (`String` → `str`, `Vec<T>` → `list[T]`, ...);
//! any other named type is asked for its JSON Schema (`JsonSchema`), which covers user enums
//! (labels), structs (nested objects) and aliases. Types that can never work (tuples,
//! references, trait objects, non-string map keys) are errors here, with their span.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericArgument, PathArguments, Type};

/// An expression of type `FieldType` for `ty`, using `private` (the path of lmc's
/// `typed::__private`), or an error for an unsupported type.
pub(crate) fn field_type_expr(ty: &Type, private: &TokenStream) -> syn::Result<TokenStream> {
    match ty {
        Type::Paren(inner) => field_type_expr(&inner.elem, private),
        Type::Group(inner) => field_type_expr(&inner.elem, private),
        Type::Path(path) if path.qself.is_none() => path_type(path, ty, private),
        Type::Path(_) => Ok(fallback(ty, private)),
        Type::Tuple(t) if t.elems.is_empty() => {
            Err(syn::Error::new_spanned(ty, "`()` cannot be a signature field; remove the field or give it a type"))
        }
        Type::Tuple(_) => Err(syn::Error::new_spanned(ty,
            "tuples are not supported in signatures; use a struct deriving JsonSchema (named parts) or Vec<T>",
        )),
        Type::Reference(_) => Err(syn::Error::new_spanned(ty,
            "references are not supported in signatures; use an owned type (`String` for `&str`, `Vec<T>` for `&[T]`)",
        )),
        Type::TraitObject(_) | Type::ImplTrait(_) => Err(syn::Error::new_spanned(ty,
            "trait objects are not supported in signatures; use a concrete type (an enum or struct deriving JsonSchema)",
        )),
        Type::Array(_) | Type::Slice(_) => {
            Err(syn::Error::new_spanned(ty, "arrays and slices are not supported in signatures; use Vec<T>"))
        }
        _ => Err(syn::Error::new_spanned(ty,
            "this type is not supported in signatures; use String, numbers, bool, Vec<T>, Option<T>, HashMap<String, T>, or a type deriving JsonSchema",
        )),
    }
}

/// Anything else: read the prompt type from the type's JSON Schema. The span makes a missing
/// `JsonSchema` impl point at the field's type.
fn fallback(ty: &Type, private: &TokenStream) -> TokenStream {
    quote_spanned! {ty.span()=> #private::field_type_of::<#ty>() }
}

fn path_type(path: &syn::TypePath, ty: &Type, private: &TokenStream) -> syn::Result<TokenStream> {
    let Some(last) = path.path.segments.last() else {
        return Ok(fallback(ty, private));
    };
    let name = last.ident.to_string();
    let args: Vec<&Type> = match &last.arguments {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let ft = quote!(#private::FieldType);
    Ok(match (name.as_str(), args.as_slice()) {
        ("String", []) => quote!(#ft::Str),
        ("i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64" | "u128" | "usize", []) => {
            quote!(#ft::Int)
        }
        ("f32" | "f64", []) => quote!(#ft::Float),
        ("bool", []) => quote!(#ft::Bool),
        ("Vec" | "VecDeque", [item]) => {
            let item = field_type_expr(item, private)?;
            quote!(#ft::list(#item))
        }
        ("Option", [inner]) => {
            let inner = field_type_expr(inner, private)?;
            quote!(#ft::optional(#inner))
        }
        ("HashMap" | "BTreeMap" | "IndexMap", [key, value]) => {
            if !is_string(key) {
                return Err(syn::Error::new_spanned(
                    key,
                    "map keys must be `String` in signatures (JSON object keys are strings); use HashMap<String, T>",
                ));
            }
            let value = field_type_expr(value, private)?;
            quote!(#ft::dict(#value))
        }
        _ => {
            // Generic arguments of other types are still checked for the impossible cases.
            for arg in &args {
                reject_impossible(arg)?;
            }
            fallback(ty, private)
        }
    })
}

fn is_string(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "String" && s.arguments.is_none()))
}

/// Errors for argument types that can never be signature values, wherever they appear.
fn reject_impossible(ty: &Type) -> syn::Result<()> {
    match ty {
        Type::Reference(_) | Type::TraitObject(_) | Type::ImplTrait(_) | Type::Tuple(_) => {
            field_type_expr(ty, &TokenStream::new()).map(|_| ())
        }
        _ => Ok(()),
    }
}
