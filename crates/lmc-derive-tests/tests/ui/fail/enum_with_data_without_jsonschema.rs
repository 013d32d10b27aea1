use my_lmc::Signature;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Answer {
    Number(i64),
    Text { value: String },
}

#[derive(Signature)]
struct S {
    #[input]
    q: String,
    #[output]
    a: Answer,
}

fn main() {}
