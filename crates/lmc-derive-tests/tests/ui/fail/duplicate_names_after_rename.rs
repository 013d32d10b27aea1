use my_lmc::Signature;

#[derive(Signature)]
struct S {
    #[input]
    question: String,
    #[input]
    #[field(rename = "question")]
    context: String,
    #[output]
    answer: String,
}

fn main() {}
