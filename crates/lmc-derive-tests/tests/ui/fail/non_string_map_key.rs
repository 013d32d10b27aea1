use std::collections::HashMap;

use my_lmc::Signature;

#[derive(Signature)]
struct S {
    #[input]
    q: String,
    #[output]
    counts: HashMap<i32, String>,
}

fn main() {}
