//! Input rules for `POST /v1/images`, independent of how the request arrived.

/// One problem with one field; the HTTP layer lists these in the error envelope's `details`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub field: String,
    pub issue: &'static str,
    pub message: String,
}

impl Issue {
    pub fn new(field: impl Into<String>, issue: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            issue,
            message: message.into(),
        }
    }
}

pub const MAX_PROMPT_CHARS: usize = 4000;
pub const MAX_REFERENCE_IMAGES: usize = 3;
pub const MAX_COUNT: u8 = 4;
/// The aspect ratios Gemini's image models accept.
pub const ASPECT_RATIOS: [&str; 10] = [
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
];

/// The scalar fields of an image request, checked together so the client sees every problem.
pub fn validate(
    prompt: &str,
    aspect_ratio: Option<&str>,
    count: Option<u8>,
    inline_references: usize,
    uploaded_references: usize,
) -> Vec<Issue> {
    let mut issues = Vec::new();
    let chars = prompt.chars().count();
    if prompt.trim().is_empty() {
        issues.push(Issue::new("prompt", "empty", "prompt must not be empty"));
    } else if chars > MAX_PROMPT_CHARS {
        issues.push(Issue::new(
            "prompt",
            "too_long",
            format!("prompt must be 1..={MAX_PROMPT_CHARS} characters, got {chars}"),
        ));
    }
    if prompt
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        issues.push(Issue::new(
            "prompt",
            "control_characters",
            "prompt contains control characters",
        ));
    }
    if let Some(ratio) = aspect_ratio
        && !ASPECT_RATIOS.contains(&ratio)
    {
        issues.push(Issue::new(
            "aspect_ratio",
            "unsupported",
            format!("aspect_ratio must be one of {}", ASPECT_RATIOS.join(", ")),
        ));
    }
    if let Some(count) = count
        && !(1..=MAX_COUNT).contains(&count)
    {
        issues.push(Issue::new(
            "count",
            "out_of_range",
            format!("count must be 1..={MAX_COUNT}"),
        ));
    }
    if inline_references + uploaded_references > MAX_REFERENCE_IMAGES {
        issues.push(Issue::new(
            "reference_images",
            "too_many",
            format!(
                "at most {MAX_REFERENCE_IMAGES} reference images (inline and uploaded together)"
            ),
        ));
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(
        prompt: &str,
        ratio: Option<&str>,
        count: Option<u8>,
        refs: usize,
    ) -> Vec<&'static str> {
        validate(prompt, ratio, count, refs, 0)
            .into_iter()
            .map(|i| i.issue)
            .collect()
    }

    #[test]
    fn a_plain_request_passes() {
        assert!(issues("a red fox", Some("16:9"), Some(4), 3).is_empty());
    }

    #[test]
    fn each_rule_reports_its_own_issue() {
        assert_eq!(issues("   ", None, None, 0), ["empty"]);
        assert_eq!(issues(&"é".repeat(4001), None, None, 0), ["too_long"]);
        assert!(issues(&"é".repeat(4000), None, None, 0).is_empty());
        assert_eq!(issues("x\u{0}", None, None, 0), ["control_characters"]);
        assert_eq!(issues("x", Some("7:3"), None, 0), ["unsupported"]);
        assert_eq!(issues("x", None, Some(0), 0), ["out_of_range"]);
        assert_eq!(issues("x", None, Some(5), 0), ["out_of_range"]);
        assert_eq!(issues("x", None, None, 4), ["too_many"]);
        assert_eq!(issues("", Some("x"), Some(9), 4).len(), 4);
    }
}
