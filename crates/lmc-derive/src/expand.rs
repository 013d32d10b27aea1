//! Step 3: write the code.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::Role;
use crate::validate::{Checked, CheckedField};

pub(crate) fn expand(checked: &Checked) -> TokenStream {
    let krate = &checked.krate;
    let private = quote!(#krate::typed::__private);
    let name = &checked.model.ident;
    let vis = &checked.model.vis;
    let input_ident = format_ident!("{}Input", name);
    let output_ident = format_ident!("{}Output", name);
    let serde_path = format!("{}::typed::__private::serde", krate.to_string().replace(' ', ""));
    let inputs: Vec<&CheckedField> = checked.fields.iter().filter(|f| f.role == Role::Input).collect();
    let outputs: Vec<&CheckedField> = checked.fields.iter().filter(|f| f.role == Role::Output).collect();

    let struct_fields = |fields: &[&CheckedField]| -> Vec<TokenStream> {
        fields
            .iter()
            .map(|f| {
                let (ident, ty, vis, rename) = (&f.field.ident, &f.field.ty, &f.field.vis, &f.field.name);
                let docs = if f.field.docs.is_empty() {
                    let text = format!("The `{rename}` field.");
                    quote!(#[doc = #text])
                } else {
                    let docs = &f.field.docs;
                    quote!(#(#docs)*)
                };
                quote! {
                    #docs
                    #[serde(rename = #rename)]
                    #vis #ident: #ty
                }
            })
            .collect()
    };
    let input_fields = struct_fields(&inputs);
    let output_fields = struct_fields(&outputs);
    let input_doc = format!("The inputs of the [`{name}`] signature.");
    let output_doc = format!("The outputs of the [`{name}`] signature.");

    let field_values = |fields: &[&CheckedField]| -> Vec<TokenStream> {
        fields
            .iter()
            .map(|f| {
                let prompt_name = &f.field.name;
                let ty = &f.field_type;
                let desc = f.field.desc.as_ref().map(|d| quote!(.with_description(#d)));
                let prefix = f.field.prefix.as_ref().map(|p| quote!(.with_prefix(#p)));
                quote!(#private::Field::new(#prompt_name, #ty) #desc #prefix)
            })
            .collect()
    };
    let input_values = field_values(&inputs);
    let output_values = field_values(&outputs);
    let instructions = match &checked.model.instructions {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    };

    let locals: Vec<_> = outputs.iter().map(|f| format_ident!("__lmc_{}", f.field.ident)).collect();
    let idents: Vec<_> = outputs.iter().map(|f| &f.field.ident).collect();
    let takes = outputs.iter().zip(&locals).map(|(f, local)| {
        let (ty, prompt_name) = (&f.field.ty, &f.field.name);
        let rust_type = quote!(#ty).to_string().replace(' ', "");
        quote! {
            let #local = #private::take_field::<#ty>(fields, #prompt_name, #rust_type, &mut problems);
        }
    });

    let input_idents: Vec<_> = inputs.iter().map(|f| &f.field.ident).collect();
    quote! {
        // Splitting the declaration into its typed halves also reads every declared field, so
        // the declaration struct raises no dead-code warnings.
        impl ::core::convert::From<#name> for (#input_ident, #output_ident) {
            fn from(value: #name) -> Self {
                (
                    #input_ident { #(#input_idents: value.#input_idents),* },
                    #output_ident { #(#idents: value.#idents),* },
                )
            }
        }

        #[doc = #input_doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, #private::serde::Serialize, #private::serde::Deserialize)]
        #[serde(crate = #serde_path)]
        #vis struct #input_ident {
            #(#input_fields,)*
        }

        #[doc = #output_doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, #private::serde::Serialize, #private::serde::Deserialize)]
        #[serde(crate = #serde_path)]
        #vis struct #output_ident {
            #(#output_fields,)*
        }

        impl #krate::TypedSignature for #name {
            type Input = #input_ident;
            type Output = #output_ident;

            fn signature() -> #private::Signature {
                #private::signature(
                    #instructions,
                    ::std::vec![#(#input_values),*],
                    ::std::vec![#(#output_values),*],
                )
            }

            fn output_from_fields(
                fields: &#private::Fields,
            ) -> ::core::result::Result<Self::Output, ::std::vec::Vec<#private::ParseProblem>> {
                let mut problems = ::std::vec::Vec::new();
                #(#takes)*
                match (#(#locals,)*) {
                    (#(::core::option::Option::Some(#locals),)*) => ::core::result::Result::Ok(#output_ident { #(#idents: #locals),* }),
                    _ => ::core::result::Result::Err(problems),
                }
            }
        }
    }
}
