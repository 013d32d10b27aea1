//! Step 1: read the struct and its attributes, collecting every problem.

use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Expr, ExprLit, Fields, Lit, LitStr, Meta};

use crate::model::{FieldModel, Role, SignatureModel};

/// Accumulates errors so that one run of the macro reports all of them.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}

pub(crate) fn parse(input: &DeriveInput) -> syn::Result<SignatureModel> {
    let mut errors = Errors::default();
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &input.generics,
            "a signature cannot be generic: declare one struct per signature with concrete field types",
        ));
    }
    let named = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => Some(named),
            other => {
                errors.push(syn::Error::new_spanned(
                    other,
                    "#[derive(Signature)] needs a struct with named fields, each marked #[input] or #[output]",
                ));
                None
            }
        },
        Data::Enum(e) => {
            errors.push(syn::Error::new(
                e.enum_token.span,
                "#[derive(Signature)] goes on a struct; for a set of labels, use an enum deriving JsonSchema as a field type",
            ));
            None
        }
        Data::Union(u) => {
            errors.push(syn::Error::new(u.union_token.span, "#[derive(Signature)] goes on a struct, not a union"));
            None
        }
    };

    let mut instructions = doc_text(&input.attrs);
    let mut krate = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("signature")) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("instructions") {
                instructions = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("crate") {
                krate = Some(meta.value()?.parse::<LitStr>()?.parse::<syn::Path>()?);
            } else {
                return Err(
                    meta.error("unknown #[signature] key; expected `instructions = \"...\"` or `crate = \"path\"`")
                );
            }
            Ok(())
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("input") || a.path().is_ident("output") || a.path().is_ident("field"))
    {
        errors
            .push(syn::Error::new(attr.span(), "this attribute goes on a field; on the struct, use #[signature(...)]"));
    }

    let fields =
        named.map(|n| n.named.iter().filter_map(|f| parse_field(f, &mut errors)).collect()).unwrap_or_default();
    errors.finish(SignatureModel { ident: input.ident.clone(), vis: input.vis.clone(), instructions, krate, fields })
}

fn parse_field(field: &syn::Field, errors: &mut Errors) -> Option<FieldModel> {
    let ident = field.ident.clone()?;
    let mut role: Option<(Role, proc_macro2::Span)> = None;
    let mut name = ident.to_string().trim_start_matches("r#").to_string();
    let mut name_span = ident.span();
    let mut desc = doc_text(&field.attrs).map(|d| d.trim().to_string());
    let mut prefix = None;
    for attr in &field.attrs {
        let this_role = if attr.path().is_ident("input") {
            Role::Input
        } else if attr.path().is_ident("output") {
            Role::Output
        } else if attr.path().is_ident("field") {
            let result = attr.parse_nested_meta(|meta| {
                let value = || -> syn::Result<LitStr> { meta.value()?.parse::<LitStr>() };
                if meta.path.is_ident("desc") {
                    desc = Some(value()?.value());
                } else if meta.path.is_ident("prefix") {
                    prefix = Some(value()?.value());
                } else if meta.path.is_ident("rename") {
                    let lit = value()?;
                    name = lit.value();
                    name_span = lit.span();
                } else {
                    return Err(meta.error(
                        "unknown #[field] key; expected `desc = \"...\"`, `prefix = \"...\"` or `rename = \"...\"`",
                    ));
                }
                Ok(())
            });
            if let Err(e) = result {
                errors.push(e);
            }
            continue;
        } else if attr.path().is_ident("signature") {
            errors.push(syn::Error::new(attr.span(), "#[signature(...)] goes on the struct, not on a field"));
            continue;
        } else {
            continue;
        };
        if !matches!(attr.meta, Meta::Path(_)) {
            errors.push(syn::Error::new(
                attr.meta.span(),
                "#[input] and #[output] take no arguments; use #[field(...)] for options",
            ));
        }
        match role {
            Some((previous, _)) if previous != this_role => errors.push(syn::Error::new_spanned(
                attr,
                format!("`{ident}` is marked both #[input] and #[output]; a field is one or the other"),
            )),
            Some(_) => errors.push(syn::Error::new_spanned(attr, "duplicate attribute")),
            None => role = Some((this_role, attr.span())),
        }
    }
    Some(FieldModel {
        ident,
        vis: field.vis.clone(),
        ty: field.ty.clone(),
        role,
        name,
        name_span,
        desc,
        prefix,
        docs: field.attrs.iter().filter(|a| a.path().is_ident("doc")).cloned().collect(),
    })
}

/// The text of `///` doc comments: one line per attribute, without the leading space
/// rustdoc keeps. `None` when there are none.
fn doc_text(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| line.strip_prefix(' ').map(str::to_string).unwrap_or(line))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}
