//! Input rules for `POST /v1/images`, independent of how the request arrived. The OpenAPI
//! document states the same rules from the same constants (`http::openapi`), so the document
//! and the server cannot disagree about what a valid request is.

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

    /// Rules that span fields, which no schema of a single field states: the request is
    /// well-formed but cannot be served as a whole (422, not 400).
    pub fn is_cross_field(&self) -> bool {
        matches!(
            self.issue,
            "too_many_in_total" | "needs_jpeg_or_webp" | "not_supported_by_model"
        )
    }
}

pub const MAX_PROMPT_CHARS: usize = 4000;
pub const MAX_REFERENCE_IMAGES: usize = 3;
pub const MIN_COUNT: u8 = 1;
pub const MAX_COUNT: u8 = 4;
/// The aspect ratios Gemini's image models accept.
pub const ASPECT_RATIOS: [&str; 10] = [
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
];

/// Control characters a prompt may not contain: every Unicode control (`Cc`) except tab, line
/// feed and carriage return. Inclusive ranges, so the document's pattern is built from them.
pub const FORBIDDEN_PROMPT_CHARS: [(char, char); 4] = [
    ('\u{0}', '\u{8}'),
    ('\u{b}', '\u{c}'),
    ('\u{e}', '\u{1f}'),
    ('\u{7f}', '\u{9f}'),
];

/// Unicode `White_Space`, what `str::trim` removes: a prompt needs one character outside it.
pub const WHITESPACE: [(char, char); 10] = [
    ('\u{9}', '\u{d}'),
    (' ', ' '),
    ('\u{85}', '\u{85}'),
    ('\u{a0}', '\u{a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
];

fn in_ranges(c: char, ranges: &[(char, char)]) -> bool {
    ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

/// The prompt rule as a regular expression (ECMA 262, as JSON Schema's `pattern`): allowed
/// characters only, at least one of them not whitespace.
pub fn prompt_pattern() -> String {
    let class = |ranges: &[&[(char, char)]]| {
        let mut out = String::from("[^");
        for (lo, hi) in ranges.iter().flat_map(|r| r.iter()) {
            out.push_str(&escape(*lo));
            if lo != hi {
                out.push('-');
                out.push_str(&escape(*hi));
            }
        }
        out.push(']');
        out
    };
    let allowed = class(&[&FORBIDDEN_PROMPT_CHARS]);
    let visible = class(&[&FORBIDDEN_PROMPT_CHARS, &WHITESPACE]);
    format!("^{allowed}*{visible}{allowed}*$")
}

fn escape(c: char) -> String {
    format!("\\u{:04x}", u32::from(c))
}

/// The formats images can be delivered in; `png` is what the models send.
pub const OUTPUT_FORMATS: [&str; 3] = ["png", "jpeg", "webp"];
pub const MIN_QUALITY: u8 = 1;
pub const MAX_QUALITY: u8 = 100;
/// JPEG quality when a request asks for JPEG and names none.
pub const DEFAULT_QUALITY: u8 = 90;
/// The output sizes Gemini's `imageConfig.imageSize` takes.
pub const IMAGE_SIZES: [&str; 3] = ["1K", "2K", "4K"];

/// The image sizes `model` can be asked for: Gemini 3 Pro Image takes `imageSize`; Gemini 2.5
/// Flash Image makes 1024 px images only and takes none.
pub fn image_sizes_of(model: &str) -> &'static [&'static str] {
    let model = model.strip_prefix("models/").unwrap_or(model);
    if model.starts_with("gemini-3-pro-image") {
        &IMAGE_SIZES
    } else {
        &[]
    }
}

/// The output fields of an image request: the format (and its quality), and a size `model`
/// must support.
pub fn validate_output(
    output_format: Option<&str>,
    quality: Option<u8>,
    image_size: Option<&str>,
    model: &str,
) -> Vec<Issue> {
    let mut issues = Vec::new();
    if let Some(format) = output_format
        && !OUTPUT_FORMATS.contains(&format)
    {
        issues.push(Issue::new(
            "output_format",
            "unsupported",
            format!(
                "output_format: must be one of {}",
                OUTPUT_FORMATS.join(", ")
            ),
        ));
    }
    if let Some(quality) = quality {
        if !(MIN_QUALITY..=MAX_QUALITY).contains(&quality) {
            issues.push(Issue::new(
                "quality",
                "out_of_range",
                format!("quality: must be an integer between {MIN_QUALITY} and {MAX_QUALITY}"),
            ));
        } else if !matches!(output_format, Some("jpeg" | "webp")) {
            issues.push(Issue::new(
                "quality",
                "needs_jpeg_or_webp",
                "quality: applies to output_format jpeg or webp (png is lossless)",
            ));
        }
    }
    if let Some(size) = image_size {
        if !IMAGE_SIZES.contains(&size) {
            issues.push(Issue::new(
                "image_size",
                "unsupported",
                format!("image_size: must be one of {}", IMAGE_SIZES.join(", ")),
            ));
        } else if !image_sizes_of(model).contains(&size) {
            issues.push(Issue::new(
                "image_size",
                "not_supported_by_model",
                format!("image_size: the model in use ({model}) does not take an image size"),
            ));
        }
    }
    issues
}

pub fn count_rule() -> String {
    format!("must be an integer between {MIN_COUNT} and {MAX_COUNT}")
}

pub fn aspect_ratio_rule() -> String {
    format!("must be one of {}", ASPECT_RATIOS.join(", "))
}

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
        issues.push(Issue::new(
            "prompt",
            "empty",
            "prompt: must contain a character that is not whitespace",
        ));
    } else if chars > MAX_PROMPT_CHARS {
        issues.push(Issue::new(
            "prompt",
            "too_long",
            format!("prompt: must be at most {MAX_PROMPT_CHARS} characters (got {chars})"),
        ));
    }
    if prompt
        .chars()
        .any(|c| in_ranges(c, &FORBIDDEN_PROMPT_CHARS))
    {
        issues.push(Issue::new(
            "prompt",
            "control_characters",
            "prompt: must not contain control characters other than tab and line breaks",
        ));
    }
    if let Some(ratio) = aspect_ratio
        && !ASPECT_RATIOS.contains(&ratio)
    {
        issues.push(Issue::new(
            "aspect_ratio",
            "unsupported",
            format!("aspect_ratio: {}", aspect_ratio_rule()),
        ));
    }
    if let Some(count) = count
        && !(MIN_COUNT..=MAX_COUNT).contains(&count)
    {
        issues.push(Issue::new(
            "count",
            "out_of_range",
            format!("count: {}", count_rule()),
        ));
    }
    let mut too_many = false;
    for (field, n) in [
        ("reference_images", inline_references),
        ("reference_upload_ids", uploaded_references),
    ] {
        if n > MAX_REFERENCE_IMAGES {
            too_many = true;
            issues.push(Issue::new(
                field,
                "too_many",
                format!("{field}: must be an array of at most {MAX_REFERENCE_IMAGES} items"),
            ));
        }
    }
    if !too_many && inline_references + uploaded_references > MAX_REFERENCE_IMAGES {
        issues.push(Issue::new(
            "reference_images",
            "too_many_in_total",
            format!(
                "reference_images: at most {MAX_REFERENCE_IMAGES} reference images, inline and uploaded together"
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
        assert_eq!(
            validate("x", None, None, 2, 2)
                .into_iter()
                .map(|i| i.issue)
                .collect::<Vec<_>>(),
            ["too_many_in_total"]
        );
        assert_eq!(issues("", Some("x"), Some(9), 4).len(), 4);
    }

    /// The tables the document's pattern is built from are exactly the rules of `std`.
    #[test]
    fn the_character_tables_are_the_standard_library_rules() {
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            assert_eq!(
                in_ranges(c, &FORBIDDEN_PROMPT_CHARS),
                c.is_control() && !matches!(c, '\n' | '\r' | '\t'),
                "{c:?}"
            );
            assert_eq!(in_ranges(c, &WHITESPACE), c.is_whitespace(), "{c:?}");
        }
    }

    #[test]
    fn output_rules_follow_the_format_and_the_model() {
        let issues = |f, q, s, m| -> Vec<&'static str> {
            validate_output(f, q, s, m)
                .into_iter()
                .map(|i| i.issue)
                .collect()
        };
        let flash = "gemini-2.5-flash-image";
        let pro = "models/gemini-3-pro-image-preview";
        assert!(issues(None, None, None, flash).is_empty());
        assert!(issues(Some("jpeg"), Some(75), None, flash).is_empty());
        assert!(issues(Some("webp"), None, Some("4K"), pro).is_empty());
        assert_eq!(issues(Some("gif"), None, None, flash), ["unsupported"]);
        assert_eq!(issues(Some("jpeg"), Some(0), None, flash), ["out_of_range"]);
        assert_eq!(
            issues(Some("jpeg"), Some(101), None, flash),
            ["out_of_range"]
        );
        assert!(issues(Some("webp"), Some(80), None, flash).is_empty());
        assert_eq!(
            issues(Some("png"), Some(80), None, flash),
            ["needs_jpeg_or_webp"]
        );
        assert_eq!(issues(None, Some(80), None, flash), ["needs_jpeg_or_webp"]);
        assert_eq!(issues(None, None, Some("8K"), pro), ["unsupported"]);
        assert_eq!(
            issues(None, None, Some("2K"), flash),
            ["not_supported_by_model"]
        );
        assert!(
            validate_output(None, Some(80), Some("2K"), flash)
                .iter()
                .all(Issue::is_cross_field)
        );
    }

    #[test]
    fn the_pattern_names_the_ranges() {
        let p = prompt_pattern();
        assert!(p.starts_with("^[^\\u0000-\\u0008\\u000b-\\u000c"), "{p}");
        assert!(p.contains("\\u3000]"), "{p}");
    }
}
