use my_lmc::Signature;

#[derive(Signature)]
struct S {
    #[input]
    q: (String, String),
    #[output]
    a: &'static str,
    #[output]
    #[field(rename = "9lives")]
    b: String,
}

fn main() {}
