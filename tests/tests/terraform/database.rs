//! DynamoDB: the database module declares exactly the tables, keys, indexes and TTLs the
//! service's code uses (`imagegen::store::layout`), and every function is given every table's
//! name from that module.

use std::collections::{BTreeMap, BTreeSet};

use hcl::{Body, Expression};
use imagegen::store::layout::{TABLES, TableLayout};

use super::support::{
    STACK, address, assert_none, attr, blocks, function_environments, label, str_attr, text,
    tf_files,
};

/// A declared index: (hash key, range key, projection type).
type DeclaredIndex = (Option<String>, Option<String>, Option<String>);

/// A table as the database module declares it.
#[derive(Debug, Default)]
struct DeclaredTable {
    resource: String,
    hash_key: Option<String>,
    range_key: Option<String>,
    attributes: BTreeMap<String, String>,
    ttl: Option<(String, bool)>,
    billing_mode: Option<String>,
    indexes: BTreeMap<String, DeclaredIndex>,
    local_indexes: usize,
}

fn declared_tables() -> (String, BTreeMap<String, DeclaredTable>) {
    let mut tables = BTreeMap::new();
    let mut path = String::new();
    for file in tf_files("modules/database") {
        for block in blocks(&file.body, "resource").filter(|b| label(b, 0) == "aws_dynamodb_table")
        {
            path.clone_from(&file.path);
            let body = block.body();
            let name = attr(body, "name").map(text).unwrap_or_default();
            let suffix = name
                .trim_matches('"')
                .strip_prefix("${var.name_prefix}-")
                .unwrap_or(&name)
                .to_owned();
            let string = |b: &Body, key| str_attr(b, key).map(str::to_owned);
            let table = DeclaredTable {
                resource: address(block),
                hash_key: string(body, "hash_key"),
                range_key: string(body, "range_key"),
                attributes: blocks(body, "attribute")
                    .map(|a| {
                        (
                            string(a.body(), "name").unwrap_or_default(),
                            string(a.body(), "type").unwrap_or_default(),
                        )
                    })
                    .collect(),
                ttl: blocks(body, "ttl").next().map(|t| {
                    (
                        string(t.body(), "attribute_name").unwrap_or_default(),
                        matches!(attr(t.body(), "enabled"), Some(Expression::Bool(true))),
                    )
                }),
                billing_mode: string(body, "billing_mode"),
                indexes: blocks(body, "global_secondary_index")
                    .map(|i| {
                        (
                            string(i.body(), "name").unwrap_or_default(),
                            (
                                string(i.body(), "hash_key"),
                                string(i.body(), "range_key"),
                                string(i.body(), "projection_type"),
                            ),
                        )
                    })
                    .collect(),
                local_indexes: blocks(body, "local_secondary_index").count(),
            };
            tables.insert(suffix, table);
        }
    }
    (path, tables)
}

fn compare_table(layout: &TableLayout, table: &DeclaredTable, at: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expect = |what: &str, want: Option<&str>, got: Option<&str>| {
        if want != got {
            problems.push(format!(
                "{at}: {what} is {got:?}, the service uses {want:?}"
            ));
        }
    };
    expect("hash_key", Some(layout.hash_key), table.hash_key.as_deref());
    expect("range_key", layout.range_key, table.range_key.as_deref());
    expect(
        "ttl.attribute_name",
        layout.ttl_attribute,
        table
            .ttl
            .as_ref()
            .filter(|(_, on)| *on)
            .map(|(name, _)| name.as_str()),
    );
    expect(
        "billing_mode",
        Some("PAY_PER_REQUEST"),
        table.billing_mode.as_deref(),
    );

    for index in layout.indexes {
        match table.indexes.get(index.name) {
            None => problems.push(format!(
                "{at}: global_secondary_index \"{}\" is missing",
                index.name
            )),
            Some((hash, range, projection)) => {
                if hash.as_deref() != Some(index.hash_key) || range.as_deref() != index.range_key {
                    problems.push(format!(
                        "{at}: index \"{}\" is keyed ({hash:?}, {range:?}), the service uses ({:?}, {:?})",
                        index.name, index.hash_key, index.range_key
                    ));
                }
                if projection.as_deref() != Some(index.projection) {
                    problems.push(format!(
                        "{at}: index \"{}\" projects {projection:?}, the service reads {}",
                        index.name, index.projection
                    ));
                }
            }
        }
    }
    for name in table.indexes.keys() {
        if !layout.indexes.iter().any(|i| i.name == name) {
            problems.push(format!(
                "{at}: global_secondary_index \"{name}\" is not in the service's layout (lambda/src/store/layout.rs)"
            ));
        }
    }
    if table.local_indexes > 0 {
        problems.push(format!(
            "{at}: local secondary indexes are not in the service's layout"
        ));
    }

    // DynamoDB wants exactly the key attributes declared, each a string here.
    let keys: BTreeSet<&str> = [Some(layout.hash_key), layout.range_key]
        .into_iter()
        .chain(
            layout
                .indexes
                .iter()
                .flat_map(|i| [Some(i.hash_key), i.range_key]),
        )
        .flatten()
        .collect();
    let declared: BTreeSet<&str> = table.attributes.keys().map(String::as_str).collect();
    if keys != declared {
        problems.push(format!(
            "{at}: attribute blocks declare {declared:?}; the keys are {keys:?}"
        ));
    }
    for (name, type_) in &table.attributes {
        if type_ != "S" {
            problems.push(format!(
                "{at}: attribute \"{name}\" has type {type_:?}, not \"S\""
            ));
        }
    }
    problems
}

#[test]
fn the_database_module_declares_exactly_the_tables_the_service_uses() {
    let (path, tables) = declared_tables();
    let mut problems = Vec::new();
    for layout in TABLES {
        match tables.get(layout.suffix) {
            None => problems.push(format!(
                "modules/database: no aws_dynamodb_table named \"${{var.name_prefix}}-{}\"",
                layout.suffix
            )),
            Some(table) => problems.extend(compare_table(
                &layout,
                table,
                &format!("{path}: {}", table.resource),
            )),
        }
    }
    for (suffix, table) in &tables {
        if !TABLES.iter().any(|t| t.suffix == suffix) {
            problems.push(format!(
                "{path}: {} (\"{suffix}\") is not a table of the service's layout (lambda/src/store/layout.rs)",
                table.resource
            ));
        }
    }
    assert_none(
        problems,
        "the database module and the service's table layout differ",
    );
}

#[test]
fn every_function_gets_every_table_name_from_the_database_module() {
    let mut problems = Vec::new();
    let functions = function_environments();
    if functions.is_empty() {
        problems.push(format!("{STACK}: no lambda_function modules"));
    }
    for (function, vars) in functions {
        let at = format!("{STACK}: module.{function}");
        for table in TABLES {
            let want = format!(
                "module.database.{}_table_name",
                table.suffix.replace('-', "_")
            );
            match vars.get(table.env_var) {
                None => problems.push(format!(
                    "{at}: environment_variables has no {} (the {} table's name)",
                    table.env_var, table.suffix
                )),
                Some(got) if *got != want => {
                    problems.push(format!("{at}: {} = {got}, expected {want}", table.env_var))
                }
                Some(_) => {}
            }
        }
    }
    assert_none(problems, "functions are missing table names");
}
