//! Questions about request schemas in an OpenAPI document: the schema of a field, the rule it
//! states in words, the fields an object knows. The JSON body extractor answers malformed
//! requests with these; the document itself is built by `openapi` and handed to requests by
//! the router (a layer), so this file depends on no route.

use serde_json::{Value, json};

/// The OpenAPI document requests are checked against, as a request extension.
#[derive(Debug, Clone, Copy)]
pub struct Schemas(pub &'static Value);

/// The document `GET /openapi.json` serves (with the service's configuration), as a request
/// extension.
#[derive(Debug, Clone)]
pub struct Document(pub std::sync::Arc<Value>);

/// The schema of `path` (`a.b[0].c`) inside the component schema `root`, `$ref`s and
/// nullable wrappers resolved.
pub fn field_schema<'d>(doc: &'d Value, root: &str, path: &str) -> Option<&'d Value> {
    let mut schema = resolve(doc, doc.pointer(&format!("/components/schemas/{root}"))?)?;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, indices) = part.split_once('[').unwrap_or((part, ""));
        if !name.is_empty() {
            schema = resolve(doc, schema.get("properties")?.get(name)?)?;
        }
        for _ in indices.split('[').filter(|i| !i.is_empty()) {
            schema = resolve(doc, schema.get("items")?)?;
        }
    }
    Some(schema)
}

/// Where `value` has an array in a place the schema `root` wants an object: serde reads a
/// struct from an array too (field by field, in order), which the document does not allow.
pub fn array_for_object(doc: &Value, root: &str, value: &Value) -> Option<String> {
    fn walk(doc: &Value, schema: &Value, value: &Value, path: &str) -> Option<String> {
        let schema = resolve(doc, schema)?;
        match value {
            Value::Array(items) => {
                if schema.get("properties").is_some() {
                    return Some(path.to_owned());
                }
                let item = schema.get("items")?;
                items
                    .iter()
                    .enumerate()
                    .find_map(|(i, v)| walk(doc, item, v, &format!("{path}[{i}]")))
            }
            Value::Object(fields) => {
                let properties = schema.get("properties")?;
                fields.iter().find_map(|(name, v)| {
                    let child = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}.{name}")
                    };
                    walk(doc, properties.get(name)?, v, &child)
                })
            }
            _ => None,
        }
    }
    let schema = doc.pointer(&format!("/components/schemas/{root}"))?;
    walk(doc, schema, value, "")
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return resolve(doc, doc.pointer(reference.strip_prefix('#')?)?);
    }
    for combinator in ["oneOf", "anyOf"] {
        if let Some(variants) = schema.get(combinator).and_then(Value::as_array) {
            let concrete = variants
                .iter()
                .find(|v| v.get("type") != Some(&json!("null")))?;
            return resolve(doc, concrete);
        }
    }
    Some(schema)
}

/// The rule a schema states, in words: "must be an integer between 1 and 4".
pub fn describe(schema: &Value) -> String {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let names: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        return format!("must be one of {}", names.join(", "));
    }
    let kind = match &schema["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ => "",
    };
    let number = |key: &str| schema.get(key).and_then(Value::as_u64);
    match kind {
        "integer" => match (number("minimum"), number("maximum")) {
            (Some(min), Some(max)) => format!("must be an integer between {min} and {max}"),
            (Some(min), None) => format!("must be an integer of at least {min}"),
            _ => "must be an integer".into(),
        },
        "string" if schema.get("format") == Some(&json!("date-time")) => {
            "must be an RFC 3339 date-time, e.g. 2027-01-31T00:00:00Z".into()
        }
        "string" => match (number("minLength"), number("maxLength")) {
            (Some(min), Some(max)) => format!("must be a string of {min} to {max} characters"),
            _ => "must be a string".into(),
        },
        "array" => match (number("minItems"), number("maxItems")) {
            (Some(min), None) => format!("must be an array of at least {min} items"),
            (None, Some(max)) => format!("must be an array of at most {max} items"),
            _ => "must be an array".into(),
        },
        "object" => "must be a JSON object".into(),
        "boolean" => "must be true or false".into(),
        _ => "has an invalid value".into(),
    }
}

/// The fields an object schema at `path` (inside `root`) knows, for "unknown field" answers.
pub fn known_fields(doc: &Value, root: &str, path: &str) -> Vec<String> {
    field_schema(doc, root, path)
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}
