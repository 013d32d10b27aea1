use my_lmc::Signature;

#[derive(Signature)]
struct S {
    #[input]
    q: String,
    #[output]
    a: Box<dyn std::fmt::Display>,
}

fn main() {}
