// Every supported field type, user enums and nested structs deriving JsonSchema included.
use std::collections::{BTreeMap, HashMap, VecDeque};

use my_lmc::schemars::JsonSchema;
use my_lmc::{Signature, TypedSignature};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "my_lmc::schemars")]
#[serde(rename_all = "UPPERCASE")]
enum Level {
    Low,
    High,
}

/// An enum with data is fine when it derives JsonSchema: it becomes a nested object.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "my_lmc::schemars")]
enum Shape {
    Circle { radius: f64 },
    Square(f64),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "my_lmc::schemars")]
struct Point {
    x: i32,
    y: i32,
}

type Label = String;

#[derive(Signature)]
#[signature(instructions = "Fill in everything.")]
struct Everything {
    #[input]
    r#type: String,
    #[input]
    #[field(rename = "given_points", desc = "points to consider", prefix = "Points:")]
    points: Vec<Point>,
    #[output]
    a: i8,
    #[output]
    b: u128,
    #[output]
    c: f32,
    #[output]
    d: bool,
    #[output]
    e: VecDeque<String>,
    #[output]
    f: Option<Vec<Level>>,
    #[output]
    g: HashMap<String, Level>,
    #[output]
    h: BTreeMap<String, Option<i64>>,
    #[output]
    i: std::vec::Vec<(Point)>,
    #[output]
    j: Shape,
    #[output]
    k: Label,
    #[output]
    l: serde_json::Value,
}

fn main() {
    let sig = Everything::signature();
    let names: Vec<String> = sig.fields().map(|f| format!("{}: {}", f.name, f.ty.python_name())).collect();
    assert_eq!(
        names,
        [
            "type: str",
            "given_points: list[Point]",
            "a: int",
            "b: int",
            "c: float",
            "d: bool",
            "e: list[str]",
            "f: Union[list[Literal['LOW', 'HIGH']], NoneType]",
            "g: dict[str, Literal['LOW', 'HIGH']]",
            "h: dict[str, Union[int, NoneType]]",
            "i: list[Point]",
            "j: Shape",
            "k: str",
            "l: Any",
        ]
    );
    assert_eq!(sig.input("given_points").map(|f| f.prefix.as_str()), Some("Points:"));
}
