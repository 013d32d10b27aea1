//! Data: examples, predictions and (later) dataset loading.

mod example;

pub use example::{Example, FieldAccessError, Fields, Prediction};
