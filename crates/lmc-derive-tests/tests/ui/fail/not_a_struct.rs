use my_lmc::Signature;

#[derive(Signature)]
enum E {
    A,
}

#[derive(Signature)]
struct Tuple(String, String);

fn main() {}
