use my_lmc::Signature;

#[derive(Signature)]
struct S {
    #[input]
    q: String,
}

fn main() {}
