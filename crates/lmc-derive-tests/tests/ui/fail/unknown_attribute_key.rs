use my_lmc::Signature;

#[derive(Signature)]
#[signature(instruction = "typo")]
struct S {
    #[input]
    #[field(description = "typo")]
    q: String,
    #[output]
    a: String,
}

fn main() {}
