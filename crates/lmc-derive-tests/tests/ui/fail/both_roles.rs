use my_lmc::Signature;

#[derive(Signature)]
struct S {
    #[input]
    q: String,
    #[input]
    #[output]
    a: String,
}

fn main() {}
