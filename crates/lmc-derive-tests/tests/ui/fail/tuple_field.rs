use my_lmc::Signature;

#[derive(Signature)]
struct S {
    #[input]
    q: String,
    #[output]
    pair: (i32, i32),
}

fn main() {}
