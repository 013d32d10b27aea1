//! Data: examples, predictions and (later) dataset loading.

pub mod dataset;
mod example;

pub use example::{Example, FieldAccessError, Fields, Prediction};
