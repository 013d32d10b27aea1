use my_lmc::Signature;

#[derive(Signature)]
struct S {
    #[output]
    a: String,
}

fn main() {}
