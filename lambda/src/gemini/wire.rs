//! JSON shapes of `generateContent` (v1beta), as far as this client uses them.
//!
//! Requests borrow from the caller's [`super::ImageRequest`]; responses ignore unknown fields
//! and default missing ones, because Google adds fields without notice.

use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerateContentRequest<'a> {
    pub contents: Vec<Content<'a>>,
    pub generation_config: GenerationConfig<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Content<'a> {
    pub role: &'static str,
    pub parts: Vec<RequestPart<'a>>,
}

/// A part is an object with exactly one of `text` / `inlineData`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum RequestPart<'a> {
    Text {
        text: &'a str,
    },
    InlineData {
        #[serde(rename = "inlineData")]
        inline_data: RequestBlob<'a>,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RequestBlob<'a> {
    pub mime_type: &'a str,
    /// Standard base64.
    pub data: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerationConfig<'a> {
    pub response_modalities: [&'static str; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_config: Option<ImageConfig<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImageConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_size: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct GenerateContentResponse {
    pub candidates: Vec<Candidate>,
    pub prompt_feedback: Option<PromptFeedback>,
    pub usage_metadata: Option<UsageMetadata>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Candidate {
    pub content: Option<CandidateContent>,
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CandidateContent {
    pub parts: Vec<ResponsePart>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ResponsePart {
    pub text: Option<String>,
    pub inline_data: Option<ResponseBlob>,
    /// Models that "think" (e.g. Gemini 3 Pro Image) send draft images marked `thought: true`
    /// before the final one; those are not results.
    pub thought: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ResponseBlob {
    pub mime_type: String,
    pub data: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PromptFeedback {
    pub block_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct UsageMetadata {
    pub prompt_token_count: u64,
    pub candidates_token_count: u64,
    /// Thinking (Gemini 3 Pro Image thinks by default), billed as output.
    pub thoughts_token_count: u64,
    pub total_token_count: u64,
}

/// Google's error envelope: `{"error": {"code", "message", "status", "details"}}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ErrorEnvelope {
    pub error: ErrorStatus,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ErrorStatus {
    pub message: String,
    pub status: String,
    pub details: Vec<ErrorDetail>,
}

/// One `google.rpc` detail; only the fields this client acts on.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ErrorDetail {
    /// `google.rpc.ErrorInfo.reason`, e.g. `API_KEY_INVALID`.
    pub reason: Option<String>,
    /// `google.rpc.RetryInfo.retryDelay`, e.g. `"37s"` or `"1.5s"`.
    pub retry_delay: Option<String>,
}
