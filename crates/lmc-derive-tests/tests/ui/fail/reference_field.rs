use my_lmc::Signature;

#[derive(Signature)]
struct S {
    #[input]
    q: &'static str,
    #[output]
    a: String,
}

fn main() {}
