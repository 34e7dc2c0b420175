//! S3: every bucket is hardened once. modules/bucket holds the only `aws_s3_bucket` and the only
//! hardening resources (public access block, ownership, encryption, versioning, TLS-only policy,
//! lifecycle, logging); environments/bootstrap and modules/storage create their buckets through
//! it. The buckets the bootstrap and the storage module declared themselves before are moved
//! into the module calls, so existing state buckets are kept, not re-created.

use std::collections::{BTreeMap, BTreeSet};

use hcl::{Block, Body, Expression};

use super::support::{
    TfFile, address, all_tf_files, assert_none, attr, blocks, label, literal_str, str_attr, text,
    tf_files,
};

const BUCKET: &str = "modules/bucket";

/// The resources that make up a hardened bucket: declared in modules/bucket and nowhere else.
const BUCKET_RESOURCES: [&str; 9] = [
    "aws_s3_bucket",
    "aws_s3_bucket_acl",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_logging",
];

fn resources<'a>(files: &'a [TfFile], kind: &str) -> Vec<&'a Block> {
    files
        .iter()
        .flat_map(|f| blocks(&f.body, "resource"))
        .filter(|b| label(b, 0) == kind)
        .collect()
}

/// The literal strings of a list expression.
fn literals(expr: Option<&Expression>) -> Vec<&str> {
    match expr {
        Some(Expression::Array(items)) => items.iter().filter_map(literal_str).collect(),
        _ => Vec::new(),
    }
}

fn is_true(body: &Body, key: &str) -> bool {
    matches!(attr(body, key), Some(Expression::Bool(true)))
}

/// The module calls of a folder whose source is modules/bucket, by label.
fn bucket_module_calls(dir: &str) -> BTreeMap<String, Block> {
    tf_files(dir)
        .iter()
        .flat_map(|f| blocks(&f.body, "module"))
        .filter(|b| str_attr(b.body(), "source").is_some_and(|s| s.ends_with("/bucket")))
        .map(|b| (label(b, 0).to_owned(), b.clone()))
        .collect()
}

/// `(from, to)` of each `moved` block of a folder, as HCL text.
fn moved_blocks(dir: &str) -> BTreeSet<(String, String)> {
    tf_files(dir)
        .iter()
        .flat_map(|f| blocks(&f.body, "moved"))
        .map(|m| {
            let end = |key| attr(m.body(), key).map(text).unwrap_or_default();
            (end("from"), end("to"))
        })
        .collect()
}

/// Where a resource of modules/bucket is inside a call of it: `[0]` when it has a count.
fn in_module(module: &str, kind: &str) -> String {
    let files = tf_files(BUCKET);
    let counted = resources(&files, kind)
        .iter()
        .any(|r| label(r, 1) == "this" && attr(r.body(), "count").is_some());
    format!("{module}.{kind}.this{}", if counted { "[0]" } else { "" })
}

#[test]
fn every_bucket_and_its_hardening_are_declared_only_in_the_bucket_module() {
    let mut problems = Vec::new();
    for file in all_tf_files() {
        if file.path.starts_with(&format!("{BUCKET}/")) {
            continue;
        }
        for block in blocks(&file.body, "resource") {
            if BUCKET_RESOURCES.contains(&label(block, 0)) {
                problems.push(format!(
                    "{}: {} is declared outside {BUCKET}: create the bucket with module \"…\" {{ source = \"…/modules/bucket\" }}",
                    file.path,
                    address(block)
                ));
            }
        }
    }
    // The bootstrap's three buckets and the image bucket go through the module.
    let bootstrap = bucket_module_calls("environments/bootstrap");
    for call in ["buckets", "access_logs"] {
        if !bootstrap.contains_key(call) {
            problems.push(format!(
                "environments/bootstrap: no module \"{call}\" of {BUCKET}"
            ));
        }
    }
    if let Some(buckets) = bootstrap.get("buckets")
        && attr(buckets.body(), "for_each").map(text).as_deref() != Some("local.buckets")
    {
        problems.push(
            "environments/bootstrap: module.buckets must create one bucket per local.buckets (state, artifacts)"
                .to_owned(),
        );
    }
    if !bucket_module_calls("modules/storage").contains_key("bucket") {
        problems.push(format!("modules/storage: no module \"bucket\" of {BUCKET}"));
    }
    assert_none(problems, "S3 buckets hardened outside modules/bucket");
}

#[test]
fn the_bucket_module_blocks_public_access_encrypts_versions_and_denies_plain_http() {
    let files = tf_files(BUCKET);
    let mut problems = Vec::new();
    let the_one = |kind: &str, problems: &mut Vec<String>| -> Option<&Block> {
        match resources(&files, kind).as_slice() {
            [one] if attr(one.body(), "count").is_none() => Some(*one),
            found => {
                problems.push(format!(
                    "{BUCKET}: expected one {kind} for every bucket (no count), found {}",
                    found.len()
                ));
                None
            }
        }
    };

    the_one("aws_s3_bucket", &mut problems);
    if let Some(block) = the_one("aws_s3_bucket_public_access_block", &mut problems) {
        for flag in [
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ] {
            if !is_true(block.body(), flag) {
                problems.push(format!("{BUCKET}: {flag} must be true"));
            }
        }
    }
    if let Some(block) = the_one("aws_s3_bucket_ownership_controls", &mut problems) {
        let ownership =
            blocks(block.body(), "rule").find_map(|r| str_attr(r.body(), "object_ownership"));
        if ownership != Some("BucketOwnerEnforced") {
            problems.push(format!(
                "{BUCKET}: object_ownership is {ownership:?}: ACLs must be disabled (BucketOwnerEnforced)"
            ));
        }
    }
    if let Some(block) = the_one(
        "aws_s3_bucket_server_side_encryption_configuration",
        &mut problems,
    ) {
        let algorithm = blocks(block.body(), "rule")
            .flat_map(|r| blocks(r.body(), "apply_server_side_encryption_by_default"))
            .find_map(|d| attr(d.body(), "sse_algorithm").map(text));
        if !algorithm
            .as_deref()
            .is_some_and(|a| a.contains("AES256") && a.contains("aws:kms"))
        {
            problems.push(format!(
                "{BUCKET}: default encryption must be SSE-S3 or SSE-KMS, found {algorithm:?}"
            ));
        }
    }
    if let Some(block) = the_one("aws_s3_bucket_versioning", &mut problems) {
        let status = blocks(block.body(), "versioning_configuration")
            .find_map(|v| attr(v.body(), "status").map(text))
            .unwrap_or_default();
        let default_on = files
            .iter()
            .flat_map(|f| blocks(&f.body, "variable"))
            .find(|v| label(v, 0) == "versioning_enabled")
            .is_some_and(|v| is_true(v.body(), "default"));
        if !status.contains("\"Enabled\"") || !default_on {
            problems.push(format!(
                "{BUCKET}: versioning must be Enabled by default, found status = {status}"
            ));
        }
    }

    // The policy: the module's own document denies plain HTTP and old TLS and allows nothing.
    if let Some(policy) = the_one("aws_s3_bucket_policy", &mut problems) {
        let document = attr(policy.body(), "policy").map(text).unwrap_or_default();
        let name = document
            .strip_prefix("data.aws_iam_policy_document.")
            .and_then(|d| d.strip_suffix(".json"))
            .unwrap_or_default();
        let found = files
            .iter()
            .flat_map(|f| blocks(&f.body, "data"))
            .find(|d| label(d, 0) == "aws_iam_policy_document" && label(d, 1) == name);
        match found {
            None => problems.push(format!(
                "{BUCKET}: the bucket policy is {document}, not one of the module's documents"
            )),
            Some(document) => problems.extend(tls_only_problems(document)),
        }
    }

    // Every bucket aborts incomplete multipart uploads: a rule written out, not a caller's.
    if let Some(lifecycle) = the_one("aws_s3_bucket_lifecycle_configuration", &mut problems) {
        let aborts = blocks(lifecycle.body(), "rule").any(|rule| {
            let whole_bucket = blocks(rule.body(), "filter").all(|f| {
                f.body().attributes().next().is_none() && f.body().blocks().next().is_none()
            });
            whole_bucket
                && str_attr(rule.body(), "status") == Some("Enabled")
                && blocks(rule.body(), "abort_incomplete_multipart_upload")
                    .next()
                    .is_some()
        });
        if !aborts {
            problems.push(format!(
                "{BUCKET}: the lifecycle has no rule, written out, that aborts incomplete multipart uploads in the whole bucket"
            ));
        }
    }
    assert_none(problems, "the bucket module's hardening");
}

/// What keeps a bucket policy document TLS-only: the two denies, on the bucket and its objects,
/// and no Allow of the module's own (callers bring theirs through policy_documents).
fn tls_only_problems(document: &Block) -> Vec<String> {
    let at = format!("{BUCKET}: {}", address(document));
    let mut problems = Vec::new();
    let statements: Vec<&Body> = blocks(document.body(), "statement")
        .map(Block::body)
        .collect();
    if blocks(document.body(), "dynamic").next().is_some() {
        problems.push(format!(
            "{at}: dynamic statements: the module's own statements are the denies"
        ));
    }
    for (sid, key, test, value) in [
        (
            "DenyInsecureTransport",
            "aws:SecureTransport",
            "Bool",
            "false",
        ),
        ("DenyOutdatedTls", "s3:TlsVersion", "NumericLessThan", "1.2"),
    ] {
        let Some(statement) = statements.iter().find(|s| str_attr(s, "sid") == Some(sid)) else {
            problems.push(format!("{at}: no {sid} statement"));
            continue;
        };
        if str_attr(statement, "effect") != Some("Deny") {
            problems.push(format!("{at}: {sid} must deny"));
        }
        let actions = attr(statement, "actions").map(text).unwrap_or_default();
        let resources = attr(statement, "resources").map(text).unwrap_or_default();
        if !actions.contains("\"s3:*\"")
            || !resources.contains("aws_s3_bucket.this.arn")
            || !resources.contains("\"${aws_s3_bucket.this.arn}/*\"")
        {
            problems.push(format!(
                "{at}: {sid} must deny s3:* on the bucket and its objects, found {actions} on {resources}"
            ));
        }
        let conditioned = blocks(statement, "condition").any(|c| {
            str_attr(c.body(), "test") == Some(test)
                && str_attr(c.body(), "variable") == Some(key)
                && literals(attr(c.body(), "values")) == [value]
        });
        if !conditioned {
            problems.push(format!(
                "{at}: {sid} needs condition {test} {key} = [\"{value}\"]"
            ));
        }
    }
    for statement in &statements {
        if str_attr(statement, "effect").unwrap_or("Allow") != "Deny" {
            problems.push(format!(
                "{at}: an Allow ({:?}) would apply to every bucket; pass it in policy_documents",
                str_attr(statement, "sid")
            ));
        }
    }
    problems
}

#[test]
fn the_buckets_declared_before_the_module_are_moved_into_it_not_recreated() {
    let mut problems = Vec::new();

    // environments/bootstrap: aws_s3_bucket*.this["state" | "artifacts"] and *.access_logs.
    let bootstrap = moved_blocks("environments/bootstrap");
    let mut wanted = Vec::new();
    for key in ["state", "artifacts"] {
        for kind in BUCKET_RESOURCES
            .iter()
            .filter(|k| **k != "aws_s3_bucket_acl")
        {
            wanted.push((
                format!("{kind}.this[\"{key}\"]"),
                in_module(&format!("module.buckets[\"{key}\"]"), kind),
            ));
        }
    }
    // The access-log bucket never logged into itself.
    for kind in BUCKET_RESOURCES
        .iter()
        .filter(|k| !["aws_s3_bucket_acl", "aws_s3_bucket_logging"].contains(*k))
    {
        wanted.push((
            format!("{kind}.access_logs"),
            in_module("module.access_logs", kind),
        ));
    }
    for (from, to) in &wanted {
        if !bootstrap.contains(&(from.clone(), to.clone())) {
            problems.push(format!(
                "environments/bootstrap: no moved {{ from = {from}, to = {to} }}: an existing bootstrap would destroy it and create a new one"
            ));
        }
    }

    // modules/storage: the image bucket's resources, each once at module.bucket.
    let storage = moved_blocks("modules/storage");
    for kind in BUCKET_RESOURCES
        .iter()
        .filter(|k| **k != "aws_s3_bucket_acl")
    {
        let from = format!("{kind}.this");
        // A resource that had a count before (logging) moves as a whole, keys and all.
        let to = if *kind == "aws_s3_bucket_logging" {
            format!("module.bucket.{kind}.this")
        } else {
            in_module("module.bucket", kind)
        };
        if !storage.contains(&(from.clone(), to.clone())) {
            problems.push(format!(
                "modules/storage: no moved {{ from = {from}, to = {to} }}: every image bucket would be re-created"
            ));
        }
    }

    // Every moved block of a bucket's resource lands on a resource of modules/bucket.
    let declared: BTreeSet<String> = tf_files(BUCKET)
        .iter()
        .flat_map(|f| blocks(&f.body, "resource"))
        .map(address)
        .collect();
    for (dir, moved) in [
        ("environments/bootstrap", &bootstrap),
        ("modules/storage", &storage),
    ] {
        for (from, to) in moved.iter().filter(|(from, _)| from.contains("aws_s3_")) {
            let resource = to
                .find(".aws_")
                .map_or(to.as_str(), |i| &to[i + 1..])
                .trim_end_matches("[0]");
            if !to.starts_with("module.") || !declared.contains(resource) {
                problems.push(format!(
                    "{dir}: moved {{ from = {from} }} goes to {to}, which is not a resource of modules/bucket"
                ));
            }
        }
    }
    assert_none(problems, "buckets that would be re-created");
}
