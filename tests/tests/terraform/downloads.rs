//! Downloads carry `X-Content-Type-Options: nosniff`. A presigned S3 GET cannot add that header,
//! so generated images are served by a CloudFront distribution (modules/downloads) whose every
//! behaviour adds it through a response headers policy and serves only URLs signed with the
//! key the api reads from Secrets Manager; the bucket lets that distribution read `generated/`
//! and nothing else, and the api no longer reads generated objects itself.

use std::collections::BTreeMap;

use hcl::{Block, Body, Expression, Object, ObjectKey};

use super::support::{
    STACK, TfFile, address, assert_none, attr, blocks, function_environments, key_name, label,
    literal_str, parse, project_root, str_attr, text, tf_files,
};

const DOWNLOADS: &str = "modules/downloads";

// ---------------------------------------------------------------------------------------------
// Helpers

/// The `resource` blocks of type `kind` among `files`.
fn resources<'a>(files: &'a [TfFile], kind: &str) -> Vec<&'a Block> {
    files
        .iter()
        .flat_map(|f| blocks(&f.body, "resource"))
        .filter(|b| label(b, 0) == kind)
        .collect()
}

/// The one resource of type `kind` in modules/downloads, or a problem.
fn the_one<'a>(files: &'a [TfFile], kind: &str, problems: &mut Vec<String>) -> Option<&'a Block> {
    let found = resources(files, kind);
    match found.as_slice() {
        [one] => Some(one),
        _ => {
            problems.push(format!(
                "{DOWNLOADS}: expected one {kind}, found {}",
                found.len()
            ));
            None
        }
    }
}

/// `kind.name.attribute`, the reference to an attribute of a resource block.
fn reference(block: &Block, attribute: &str) -> String {
    format!("{}.{}.{attribute}", label(block, 0), label(block, 1))
}

/// A string as written: a literal without its quotes, a template or reference as HCL text
/// (`"${aws_s3_bucket.this.arn}/generated/*"` keeps its quotes, `module.x.y` has none).
fn shown(expr: &Expression) -> String {
    literal_str(expr).map_or_else(|| text(expr), str::to_owned)
}

/// The items of a list expression, each [`shown`]; a non-list is one item.
fn items(expr: Option<&Expression>) -> Vec<String> {
    match expr {
        Some(Expression::Array(items)) => items.iter().map(shown).collect(),
        Some(other) => vec![shown(other)],
        None => Vec::new(),
    }
}

fn is_true(expr: Option<&Expression>) -> bool {
    matches!(expr, Some(Expression::Bool(true)))
}

fn field<'a>(object: &'a Object<ObjectKey, Expression>, name: &str) -> Option<&'a Expression> {
    object
        .iter()
        .find(|(k, _)| key_name(k) == name)
        .map(|(_, v)| v)
}

/// Objects shaped like IAM statements (with `actions`) in `expr`, through lists, `concat(…)`
/// and conditionals: the `policy_statements` of the lambda_function and github_oidc modules.
fn statement_objects<'a>(expr: &'a Expression, out: &mut Vec<&'a Object<ObjectKey, Expression>>) {
    match expr {
        Expression::Object(object) if field(object, "actions").is_some() => out.push(object),
        Expression::Array(list) => list.iter().for_each(|e| statement_objects(e, out)),
        Expression::FuncCall(call) => call.args.iter().for_each(|e| statement_objects(e, out)),
        Expression::Conditional(c) => {
            statement_objects(&c.true_expr, out);
            statement_objects(&c.false_expr, out);
        }
        Expression::Parenthesis(inner) => statement_objects(inner, out),
        // `{ for e, settings in var.deploy_environments : e => [...] }`: one environment's list.
        Expression::ForExpr(for_expr) => statement_objects(&for_expr.value_expr, out),
        _ => {}
    }
}

/// The statements of an `aws_iam_policy_document`: `statement` blocks, and the `content` of
/// `dynamic "statement"` blocks with their `for_each` as HCL text.
fn policy_statements(document: &Block) -> Vec<(Option<String>, &Body)> {
    let mut out = Vec::new();
    for inner in document.body().blocks() {
        match inner.identifier() {
            "statement" => out.push((None, inner.body())),
            "dynamic" if label(inner, 0) == "statement" => {
                let for_each = attr(inner.body(), "for_each").map(text);
                for content in blocks(inner.body(), "content") {
                    out.push((for_each.clone(), content.body()));
                }
            }
            _ => {}
        }
    }
    out
}

/// The stack's locals and module calls.
struct Root {
    locals: BTreeMap<String, Expression>,
    modules: BTreeMap<String, Block>,
}

fn root() -> Root {
    let files = tf_files(STACK);
    let locals = files
        .iter()
        .flat_map(|f| blocks(&f.body, "locals"))
        .flat_map(|b| b.body().attributes())
        .map(|a| (a.key().to_owned(), a.expr().clone()))
        .collect();
    let modules = files
        .iter()
        .flat_map(|f| blocks(&f.body, "module"))
        .map(|b| (label(b, 0).to_owned(), b.clone()))
        .collect();
    Root { locals, modules }
}

impl Root {
    /// Argument `name` of module `module` as HCL text.
    fn argument(&self, module: &str, name: &str) -> Option<String> {
        self.modules
            .get(module)
            .and_then(|m| attr(m.body(), name))
            .map(text)
    }

    /// The IAM statements given to a lambda_function module, following `local.…`.
    fn function_statements(&self, module: &str) -> Vec<Object<ObjectKey, Expression>> {
        let Some(expr) = self
            .modules
            .get(module)
            .and_then(|m| attr(m.body(), "policy_statements"))
        else {
            return Vec::new();
        };
        let resolved = text(expr)
            .strip_prefix("local.")
            .and_then(|l| self.locals.get(l))
            .unwrap_or(expr);
        let mut out = Vec::new();
        statement_objects(resolved, &mut out);
        out.into_iter().cloned().collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The distribution

/// What keeps X-Content-Type-Options (and the CSP) on every response of `policy`.
fn header_problems(policy: &Block) -> Vec<String> {
    let at = format!("{DOWNLOADS}: {}", address(policy));
    let Some(headers) = blocks(policy.body(), "security_headers_config").next() else {
        return vec![format!(
            "{at}: no security_headers_config, so no X-Content-Type-Options: nosniff"
        )];
    };
    let mut problems = Vec::new();
    match blocks(headers.body(), "content_type_options").next() {
        None => problems.push(format!(
            "{at}: no content_type_options, so downloads lack X-Content-Type-Options: nosniff"
        )),
        Some(nosniff) if !is_true(attr(nosniff.body(), "override")) => problems.push(format!(
            "{at}: content_type_options.override must be true (the header must not depend on the object)"
        )),
        Some(_) => {}
    }
    match blocks(headers.body(), "content_security_policy").next() {
        Some(csp)
            if str_attr(csp.body(), "content_security_policy") == Some("default-src 'none'")
                && is_true(attr(csp.body(), "override")) => {}
        _ => problems.push(format!(
            "{at}: content_security_policy must be \"default-src 'none'\" with override = true"
        )),
    }
    problems
}

#[test]
fn every_download_behaviour_sends_nosniff_and_requires_a_signature() {
    let files = tf_files(DOWNLOADS);
    let mut problems = Vec::new();
    let policies = resources(&files, "aws_cloudfront_response_headers_policy");
    let key_groups = resources(&files, "aws_cloudfront_key_group");
    let public_keys = resources(&files, "aws_cloudfront_public_key");
    let access_controls = resources(&files, "aws_cloudfront_origin_access_control");
    let Some(distribution) = the_one(&files, "aws_cloudfront_distribution", &mut problems) else {
        assert_none(problems, "the download distribution");
        return;
    };
    let body = distribution.body();
    let at = format!("{DOWNLOADS}: {}", address(distribution));

    let defaults = blocks(body, "default_cache_behavior").count();
    if defaults != 1 {
        problems.push(format!(
            "{at}: expected one default_cache_behavior, found {defaults}"
        ));
    }
    // Every behaviour, not just the default: another path pattern must not escape the headers
    // or the signature.
    for behaviour in
        blocks(body, "default_cache_behavior").chain(blocks(body, "ordered_cache_behavior"))
    {
        let b = behaviour.body();
        let at = format!("{at} {}", behaviour.identifier());
        match attr(b, "response_headers_policy_id").map(text) {
            None => problems.push(format!(
                "{at}: no response_headers_policy_id, so no X-Content-Type-Options: nosniff"
            )),
            Some(id) => match policies.iter().find(|p| id == reference(p, "id")) {
                Some(policy) => problems.extend(header_problems(policy)),
                None => problems.push(format!(
                    "{at}: response_headers_policy_id = {id} is not the module's response headers policy"
                )),
            },
        }
        let groups = items(attr(b, "trusted_key_groups"));
        let known = |g: &String| key_groups.iter().any(|k| *g == reference(k, "id"));
        if groups.is_empty() || !groups.iter().all(known) {
            problems.push(format!(
                "{at}: trusted_key_groups must be the module's key groups (signed URLs only), found {groups:?}"
            ));
        }
        if attr(b, "trusted_signers").is_some() {
            problems.push(format!(
                "{at}: trusted_signers (root-account key pairs) must not be trusted besides the key group"
            ));
        }
        let methods = items(attr(b, "allowed_methods"));
        if methods.is_empty() || methods.iter().any(|m| m != "GET" && m != "HEAD") {
            problems.push(format!(
                "{at}: allowed_methods must be GET and HEAD only, found {methods:?}"
            ));
        }
        match str_attr(b, "viewer_protocol_policy") {
            Some("https-only" | "redirect-to-https") => {}
            other => problems.push(format!(
                "{at}: viewer_protocol_policy must be https-only (or redirect-to-https), found {other:?}"
            )),
        }
    }

    // The bucket is read through an origin access control that signs every request.
    let origins: Vec<&Block> = blocks(body, "origin").collect();
    if origins.len() != 1 {
        problems.push(format!(
            "{at}: expected one origin (the bucket), found {}",
            origins.len()
        ));
    }
    for origin in origins {
        let id = attr(origin.body(), "origin_access_control_id").map(text);
        match access_controls.iter().find(|c| id.as_deref() == Some(reference(c, "id").as_str())) {
            Some(control) => {
                let c = control.body();
                if str_attr(c, "origin_access_control_origin_type") != Some("s3")
                    || str_attr(c, "signing_behavior") != Some("always")
                    || str_attr(c, "signing_protocol") != Some("sigv4")
                {
                    problems.push(format!(
                        "{DOWNLOADS}: {} must be an s3 origin access control that always signs with sigv4",
                        address(control)
                    ));
                }
            }
            None => problems.push(format!(
                "{at}: the origin's origin_access_control_id is {id:?}, not the module's origin access control"
            )),
        }
        if attr(origin.body(), "custom_origin_config").is_some()
            || blocks(origin.body(), "custom_origin_config")
                .next()
                .is_some()
        {
            problems.push(format!(
                "{at}: the origin is the bucket's REST endpoint, not a custom origin"
            ));
        }
    }

    // Each key group trusts only the module's own public keys.
    for group in &key_groups {
        let keys = items(attr(group.body(), "items"));
        if keys.is_empty()
            || !keys
                .iter()
                .all(|k| public_keys.iter().any(|p| *k == reference(p, "id")))
        {
            problems.push(format!(
                "{DOWNLOADS}: {} must hold only the module's public keys, found {keys:?}",
                address(group)
            ));
        }
    }
    assert_none(
        problems,
        "downloads could be served without nosniff or without a signature",
    );
}

#[test]
fn the_secret_pairs_the_registered_public_key_with_its_private_half() {
    let files = tf_files(DOWNLOADS);
    let mut problems = Vec::new();
    let (Some(private), Some(public), Some(version)) = (
        the_one(&files, "tls_private_key", &mut problems),
        the_one(&files, "aws_cloudfront_public_key", &mut problems),
        the_one(&files, "aws_secretsmanager_secret_version", &mut problems),
    ) else {
        assert_none(problems, "the download signing key");
        return;
    };
    if str_attr(private.body(), "algorithm") != Some("RSA")
        || attr(private.body(), "rsa_bits").map(text).as_deref() != Some("2048")
    {
        problems.push(format!(
            "{DOWNLOADS}: the signing key must be RSA 2048 (what the api's signer reads)"
        ));
    }
    if attr(public.body(), "encoded_key").map(text) != Some(reference(private, "public_key_pem")) {
        problems.push(format!(
            "{DOWNLOADS}: aws_cloudfront_public_key.encoded_key must be {}",
            reference(private, "public_key_pem")
        ));
    }
    // Replacing the key creates the new public key first, so its name must differ.
    let create_first = blocks(public.body(), "lifecycle")
        .any(|l| is_true(attr(l.body(), "create_before_destroy")));
    if !create_first {
        problems.push(format!(
            "{DOWNLOADS}: aws_cloudfront_public_key needs lifecycle {{ create_before_destroy = true }}"
        ));
    }
    if !matches!(
        attr(public.body(), "name"),
        Some(Expression::TemplateExpr(_))
    ) {
        problems.push(format!(
            "{DOWNLOADS}: aws_cloudfront_public_key.name must carry a per-key suffix (names are unique per account)"
        ));
    }

    if attr(version.body(), "secret_id").map(text).as_deref() != Some("var.signing_key_secret_arn")
    {
        problems.push(format!(
            "{DOWNLOADS}: the secret version must be written to var.signing_key_secret_arn"
        ));
    }
    // The JSON the api parses: {"key_pair_id": …, "private_key_pem": …}, both from this key.
    let value = match attr(version.body(), "secret_string") {
        Some(Expression::FuncCall(call)) if call.name.name.as_str() == "jsonencode" => {
            match call.args.as_slice() {
                [Expression::Object(object)] => Some(object),
                _ => None,
            }
        }
        _ => None,
    };
    match value {
        None => problems.push(format!(
            "{DOWNLOADS}: secret_string must be jsonencode({{ key_pair_id = …, private_key_pem = … }})"
        )),
        Some(object) => {
            let keys: Vec<String> = object.iter().map(|(k, _)| key_name(k)).collect();
            if keys.len() != 2 {
                problems.push(format!(
                    "{DOWNLOADS}: the secret's JSON has {keys:?}, the api reads key_pair_id and private_key_pem"
                ));
            }
            for (key, want) in [
                ("key_pair_id", reference(public, "id")),
                ("private_key_pem", reference(private, "private_key_pem_pkcs8")),
            ] {
                let got = field(object, key).map(text);
                if got.as_deref() != Some(want.as_str()) {
                    problems.push(format!(
                        "{DOWNLOADS}: the secret's {key} is {got:?}, expected {want}"
                    ));
                }
            }
        }
    }

    // The private key leaves the module only through the secret.
    for file in &files {
        for output in blocks(&file.body, "output") {
            let value = attr(output.body(), "value").map(text).unwrap_or_default();
            if value.contains("tls_private_key") || value.contains("secret_string") {
                problems.push(format!(
                    "{}: output \"{}\" exposes the signing key",
                    file.path,
                    label(output, 0)
                ));
            }
        }
    }
    assert_none(problems, "the download signing key");
}

// ---------------------------------------------------------------------------------------------
// The bucket

#[test]
fn the_bucket_lets_only_the_download_distribution_read_generated_images() {
    // The image bucket is modules/bucket, called by modules/storage as module.bucket: the bucket
    // module's own document holds the denies (and no Allow: buckets.rs), and the storage module
    // brings the CloudFront statement through the module's policy_documents.
    let storage = tf_files("modules/storage");
    let bucket = tf_files("modules/bucket");
    let mut problems = Vec::new();
    let mut cloudfront = Vec::new();
    let mut denies = Vec::new();
    for (dir, files) in [("modules/storage", &storage), ("modules/bucket", &bucket)] {
        let documents = files
            .iter()
            .flat_map(|f| blocks(&f.body, "data"))
            .filter(|b| label(b, 0) == "aws_iam_policy_document");
        for document in documents {
            // A document switched by count holds its statements only when the count is 1.
            let count = attr(document.body(), "count").map(text);
            for (for_each, statement) in policy_statements(document) {
                if str_attr(statement, "effect") == Some("Deny") {
                    denies.extend(str_attr(statement, "sid").map(str::to_owned));
                }
                let principals: Vec<String> = blocks(statement, "principals")
                    .flat_map(|p| items(attr(p.body(), "identifiers")))
                    .collect();
                if principals.iter().any(|p| p == "cloudfront.amazonaws.com") {
                    let switch = for_each.or_else(|| count.clone());
                    cloudfront.push((dir, switch, document, statement));
                }
            }
        }
    }
    for sid in ["DenyInsecureTransport", "DenyOutdatedTls"] {
        if !denies.iter().any(|d| d == sid) {
            problems.push(format!(
                "modules/bucket: the bucket policy lost its {sid} statement"
            ));
        }
    }
    match cloudfront.as_slice() {
        [(dir, switch, document, statement)] => {
            let at = "modules/storage: the CloudFront statement";
            if *dir != "modules/storage" {
                problems.push(format!(
                    "{dir}: the CloudFront statement would admit the distribution to every bucket"
                ));
            }
            // A static switch: the statement's presence never waits for the distribution's ARN.
            if let Some(switch) = switch
                && (!switch.contains("var.cloudfront_downloads_enabled") || switch.contains("arn"))
            {
                problems.push(format!(
                    "{at}: its switch {switch} must depend on var.cloudfront_downloads_enabled only"
                ));
            }
            // The statement's document is what the storage module adds to the bucket's policy.
            let json = format!(
                "data.aws_iam_policy_document.{}{}.json",
                label(document, 1),
                if attr(document.body(), "count").is_some() { "[*]" } else { "" }
            );
            let added = storage
                .iter()
                .flat_map(|f| blocks(&f.body, "module"))
                .filter(|m| label(m, 0) == "bucket")
                .filter_map(|m| attr(m.body(), "policy_documents"))
                .any(|documents| {
                    let documents = text(documents);
                    documents == json || documents == format!("[{json}]")
                });
            if !added {
                problems.push(format!(
                    "{at}: module.bucket's policy_documents must be {json}"
                ));
            }
            if str_attr(statement, "effect").unwrap_or("Allow") != "Allow" {
                problems.push(format!("{at} must allow"));
            }
            let actions = items(attr(statement, "actions"));
            if actions != ["s3:GetObject"] {
                problems.push(format!("{at}: actions are {actions:?}, not [\"s3:GetObject\"]"));
            }
            let resources = items(attr(statement, "resources"));
            if resources != [r#""${module.bucket.arn}/generated/*""#] {
                problems.push(format!(
                    "{at}: resources are {resources:?}, not generated/* of the bucket"
                ));
            }
            let conditions: Vec<(String, String, Vec<String>)> = blocks(statement, "condition")
                .map(|c| {
                    (
                        str_attr(c.body(), "test").unwrap_or_default().to_owned(),
                        str_attr(c.body(), "variable").unwrap_or_default().to_ascii_lowercase(),
                        items(attr(c.body(), "values")),
                    )
                })
                .collect();
            let source_arn = conditions.iter().any(|(test, variable, values)| {
                test == "StringEquals"
                    && variable == "aws:sourcearn"
                    && values == &["var.cloudfront_distribution_arn"]
            });
            if !source_arn {
                problems.push(format!(
                    "{at}: needs condition StringEquals AWS:SourceArn = [var.cloudfront_distribution_arn] (any distribution could read otherwise), found {conditions:?}"
                ));
            }
        }
        found => problems.push(format!(
            "modules/storage: expected one bucket policy statement for cloudfront.amazonaws.com, found {}",
            found.len()
        )),
    }

    let root = root();
    let at = format!("{STACK}: module.storage");
    if root
        .argument("storage", "cloudfront_downloads_enabled")
        .as_deref()
        != Some("true")
    {
        problems.push(format!("{at} must set cloudfront_downloads_enabled = true"));
    }
    if root
        .argument("storage", "cloudfront_distribution_arn")
        .as_deref()
        != Some("module.downloads.distribution_arn")
    {
        problems.push(format!(
            "{at} must set cloudfront_distribution_arn = module.downloads.distribution_arn"
        ));
    }
    if root.argument("storage", "kms_key_arn").is_some() {
        problems.push(format!(
            "{at}: SSE-KMS needs a key policy grant for CloudFront, which nothing manages"
        ));
    }
    assert_none(problems, "the bucket's CloudFront access");
}

// ---------------------------------------------------------------------------------------------
// The functions

const BASE_URL: &str = "IMAGEGEN_DOWNLOAD_BASE_URL";
const SIGNING_KEY: &str = "IMAGEGEN_DOWNLOAD_SIGNING_KEY_SECRET_ARN";

#[test]
fn only_the_api_gets_the_download_url_and_the_signing_key() {
    let mut problems = Vec::new();
    let functions = function_environments();
    let root = root();
    let at = STACK;
    match functions.get("api") {
        None => problems.push(format!("{at}: no module.api")),
        Some(vars) => {
            for (var, want) in [
                (BASE_URL, r#""https://${module.downloads.domain_name}""#),
                (SIGNING_KEY, "module.download_signing_key.secret_arn"),
            ] {
                if vars.get(var).map(String::as_str) != Some(want) {
                    problems.push(format!(
                        "{at}: module.api sets {var} = {:?}, expected {want}",
                        vars.get(var)
                    ));
                }
            }
        }
    }
    for (function, vars) in functions.iter().filter(|(f, _)| *f != "api") {
        for var in [BASE_URL, SIGNING_KEY] {
            if vars.contains_key(var) {
                problems.push(format!("{at}: module.{function} must not get {var}"));
            }
        }
    }
    // The secret the api reads is the one the downloads module writes, and only the api
    // is its reader.
    let checks = [
        ("downloads", "source", r#""../../modules/downloads""#),
        (
            "downloads",
            "signing_key_secret_arn",
            "module.download_signing_key.secret_arn",
        ),
        (
            "download_signing_key",
            "source",
            r#""../../modules/secrets""#,
        ),
        (
            "download_signing_key",
            "name",
            r#""${local.project}/${var.settings.environment}/download-signing-key""#,
        ),
        (
            "download_signing_key",
            "reader_role_arns",
            "[module.api.role_arn]",
        ),
    ];
    for (module, argument, want) in checks {
        // Without layout: the formatter spreads a list over lines.
        let got = root
            .argument(module, argument)
            .map(|g| g.split_whitespace().collect::<String>());
        if got.as_deref() != Some(want) {
            problems.push(format!(
                "{at}: module.{module}.{argument} is {got:?}, expected {want}"
            ));
        }
    }
    assert_none(problems, "the download settings of the functions");
}

#[test]
fn the_api_role_reads_exactly_the_signing_key_and_no_generated_object() {
    let mut problems = Vec::new();
    let root = root();
    let at = STACK;
    let api = root.function_statements("api");
    if api.is_empty() {
        problems.push(format!("{at}: module.api has no policy_statements"));
    }
    let secrets: Vec<_> = api
        .iter()
        .filter(|s| {
            items(field(s, "actions"))
                .iter()
                .any(|a| a.starts_with("secretsmanager:"))
        })
        .collect();
    match secrets.as_slice() {
        [statement] => {
            let actions = items(field(statement, "actions"));
            let resources = items(field(statement, "resources"));
            if actions != ["secretsmanager:GetSecretValue"]
                || resources != ["module.download_signing_key.secret_arn"]
            {
                problems.push(format!(
                    "{at}: the api's Secrets Manager statement allows {actions:?} on {resources:?}, expected GetSecretValue on module.download_signing_key.secret_arn"
                ));
            }
        }
        found => problems.push(format!(
            "{at}: the api role needs one Secrets Manager statement (the signing key), found {}",
            found.len()
        )),
    }
    // Downloads go through CloudFront: the api role reads no generated object.
    for statement in &api {
        let actions = items(field(statement, "actions"));
        let resources = items(field(statement, "resources"));
        if actions.iter().any(|a| a == "s3:GetObject")
            && resources.iter().any(|r| r.contains("generated/"))
        {
            problems.push(format!(
                "{at}: the api role may still read generated/ objects ({:?})",
                field(statement, "sid").map(shown)
            ));
        }
    }
    for statement in root.function_statements("worker") {
        if items(field(&statement, "resources"))
            .iter()
            .any(|r| r.contains("download_signing_key"))
        {
            problems.push(format!(
                "{at}: the worker role must not read the signing key"
            ));
        }
    }
    assert_none(problems, "the api role and the download signing key");
}

// ---------------------------------------------------------------------------------------------
// The deploy role

/// The calls Terraform's AWS provider makes for each resource type of modules/downloads.
const CALLS: [(&str, &[&str]); 8] = [
    (
        "aws_cloudfront_distribution",
        &[
            "cloudfront:CreateDistribution",
            "cloudfront:DeleteDistribution",
            "cloudfront:GetDistribution",
            "cloudfront:ListTagsForResource",
            "cloudfront:TagResource",
            "cloudfront:UntagResource",
            "cloudfront:UpdateDistribution",
        ],
    ),
    (
        "aws_cloudfront_public_key",
        &[
            "cloudfront:CreatePublicKey",
            "cloudfront:DeletePublicKey",
            "cloudfront:GetPublicKey",
            "cloudfront:UpdatePublicKey",
        ],
    ),
    (
        "aws_cloudfront_key_group",
        &[
            "cloudfront:CreateKeyGroup",
            "cloudfront:DeleteKeyGroup",
            "cloudfront:GetKeyGroup",
            "cloudfront:UpdateKeyGroup",
        ],
    ),
    (
        "aws_cloudfront_origin_access_control",
        &[
            "cloudfront:CreateOriginAccessControl",
            "cloudfront:DeleteOriginAccessControl",
            "cloudfront:GetOriginAccessControl",
            "cloudfront:UpdateOriginAccessControl",
        ],
    ),
    (
        "aws_cloudfront_response_headers_policy",
        &[
            "cloudfront:CreateResponseHeadersPolicy",
            "cloudfront:DeleteResponseHeadersPolicy",
            "cloudfront:GetResponseHeadersPolicy",
            "cloudfront:UpdateResponseHeadersPolicy",
        ],
    ),
    (
        "aws_cloudfront_cache_policy",
        &["cloudfront:GetCachePolicy", "cloudfront:ListCachePolicies"],
    ),
    (
        "aws_secretsmanager_secret_version",
        &[
            "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue",
        ],
    ),
    // Generated locally by the tls provider: no AWS call.
    ("tls_private_key", &[]),
];

/// Actions that IAM authorizes on no resource (the Service Authorization Reference lists no
/// resource type for them): a statement scoped to ARNs never matches them.
const UNSCOPED: [&str; 9] = [
    "cloudfront:CreateDistribution",
    "cloudfront:CreatePublicKey",
    "cloudfront:GetPublicKey",
    "cloudfront:UpdatePublicKey",
    "cloudfront:DeletePublicKey",
    "cloudfront:CreateKeyGroup",
    "cloudfront:CreateOriginAccessControl",
    "cloudfront:CreateResponseHeadersPolicy",
    "cloudfront:ListCachePolicies",
];

#[test]
fn the_ci_deploy_role_may_manage_the_download_resources_and_only_the_signing_key_value() {
    let path = "environments/bootstrap/deploy_policy.tf";
    let file = parse(&project_root().join(path));
    let statements: Vec<Object<ObjectKey, Expression>> = blocks(&file.body, "locals")
        .filter_map(|l| attr(l.body(), "deploy_statements"))
        .flat_map(|e| {
            let mut out = Vec::new();
            statement_objects(e, &mut out);
            out.into_iter().cloned().collect::<Vec<_>>()
        })
        .collect();
    assert!(
        statements.len() >= 30,
        "{path}: found only {} deploy statements",
        statements.len()
    );
    let mut problems = Vec::new();

    // Every resource and data source type of the module is in the table above.
    let files = tf_files(DOWNLOADS);
    for block in files
        .iter()
        .flat_map(|f| f.body.blocks())
        .filter(|b| matches!(b.identifier(), "resource" | "data"))
    {
        if !CALLS.iter().any(|(kind, _)| *kind == label(block, 0)) {
            problems.push(format!(
                "{DOWNLOADS}: {} {} is new: add the calls Terraform makes for it to CALLS (and to the deploy role)",
                block.identifier(),
                label(block, 0)
            ));
        }
    }

    for (kind, actions) in CALLS {
        for action in actions.iter().copied() {
            let granting: Vec<_> = statements
                .iter()
                .filter(|s| items(field(s, "actions")).iter().any(|a| a == action))
                .collect();
            if granting.is_empty() {
                problems.push(format!("{path}: nothing allows {action} ({kind})"));
            }
            if UNSCOPED.contains(&action)
                && !granting
                    .iter()
                    .any(|s| items(field(s, "resources")) == ["*"])
            {
                problems.push(format!(
                    "{path}: {action} takes no resource, so it needs a statement on \"*\""
                ));
            }
        }
    }

    // The value of a secret passes through CI only for the signing key, which Terraform
    // generates: never for every secret of an environment (the Gemini key among them).
    for statement in &statements {
        let actions = items(field(statement, "actions"));
        let denies = field(statement, "effect").and_then(literal_str) == Some("Deny");
        if denies
            || !actions.iter().any(|a| {
                a == "secretsmanager:GetSecretValue" || a == "secretsmanager:PutSecretValue"
            })
        {
            continue;
        }
        let resources = field(statement, "resources").map(text).unwrap_or_default();
        if !resources.contains("/download-signing-key-") || resources.contains("/*") {
            problems.push(format!(
                "{path}: {:?} lets CI read or write secret values beyond the download signing key: {resources}",
                field(statement, "sid").map(shown)
            ));
        }
    }
    assert_none(
        problems,
        "the deploy role cannot manage modules/downloads as Terraform does",
    );
}
