//! What an adapter produces and an LM consumes: chat messages and an optional response format.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions and format (the first message).
    System,
    /// Inputs: demo inputs and the current request.
    User,
    /// Outputs: demo outputs (and, in a conversation, earlier replies).
    Assistant,
}

impl Role {
    /// The wire name: `system`, `user`, `assistant`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// Who says it.
    pub role: Role,
    /// The text.
    pub content: String,
}

impl Message {
    /// A message with `role` and `content`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message { role, content: content.into() }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

/// Structured-output request sent with a prompt (OpenAI's `response_format` shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Any JSON object (JSON mode), used when the outputs cannot be described exactly
    /// (open-ended `dict` fields).
    JsonObject,
    /// A JSON object matching a schema (structured outputs).
    JsonSchema {
        /// The schema and its name.
        json_schema: JsonSchemaFormat,
    },
}

/// The `json_schema` member of [`ResponseFormat::JsonSchema`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// The schema's name (`DSPyProgramOutputs`, as DSPy sends it).
    pub name: String,
    /// Whether the provider must follow the schema exactly.
    pub strict: bool,
    /// The JSON Schema of the reply object.
    pub schema: Value,
}

/// A rendered prompt: the messages to send and, for the JSON adapter, the response format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// The chat messages, system first.
    pub messages: Vec<Message>,
    /// The structured-output request, when the adapter asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
}
