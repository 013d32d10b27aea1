use my_lmc::Signature;

#[derive(Signature)]
struct S {
    #[input]
    q: String,
    #[output]
    a: String,
    forgot: String,
}

fn main() {}
