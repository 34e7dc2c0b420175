//! The DynamoDB table layout, defined once. The Terraform `database` module must declare the
//! same tables (a structure test in `tests/` compares them), and the DynamoDB adapter reads
//! and writes only these keys.

/// A global secondary index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexLayout {
    pub name: &'static str,
    pub hash_key: &'static str,
    pub range_key: Option<&'static str>,
    /// What the index copies: `ALL` attributes, or `KEYS_ONLY` (DynamoDB's projection types).
    pub projection: &'static str,
}

/// One table: every key attribute is a string (`S`), billing is on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableLayout {
    /// The table is named `<prefix>-<suffix>`, e.g. `imagegen-prod-jobs`.
    pub suffix: &'static str,
    /// The environment variable that gives the deployed table name to the functions.
    pub env_var: &'static str,
    pub hash_key: &'static str,
    pub range_key: Option<&'static str>,
    /// Epoch-seconds attribute DynamoDB's TTL deletes by.
    pub ttl_attribute: Option<&'static str>,
    pub indexes: &'static [IndexLayout],
}

/// Jobs by id; a tenant's jobs newest first through `by_tenant`; jobs still queued or running
/// by deadline through the sparse `open_by_deadline` (only open jobs carry its keys, and ended
/// ones whose webhook event is not queued yet: the janitor's work list).
pub const JOBS: TableLayout = TableLayout {
    suffix: "jobs",
    env_var: "IMAGEGEN_JOBS_TABLE",
    hash_key: "job_id",
    range_key: None,
    ttl_attribute: Some("expires_at"),
    indexes: &[
        IndexLayout {
            name: "by_tenant",
            hash_key: "tenant",
            range_key: Some("created_sort"),
            projection: "ALL",
        },
        // Ids only: the janitor reads each job afresh before it ends it.
        IndexLayout {
            name: "open_by_deadline",
            hash_key: "open",
            range_key: Some("deadline_sort"),
            projection: "KEYS_ONLY",
        },
    ],
};

/// The one value of the jobs' `open` key: every open job is in one index partition, which a
/// few thousand open jobs at a time fit easily.
pub const OPEN: &str = "open";

/// API keys by key id (only a SHA-256 of each secret is stored).
pub const API_KEYS: TableLayout = TableLayout {
    suffix: "api-keys",
    env_var: "IMAGEGEN_KEYS_TABLE",
    hash_key: "key_id",
    range_key: None,
    ttl_attribute: Some("expires_at"),
    indexes: &[IndexLayout {
        name: "by_tenant",
        hash_key: "tenant",
        range_key: None,
        projection: "ALL",
    }],
};

/// Rate-limit windows and quota counters, one item per counter and window.
pub const COUNTERS: TableLayout = TableLayout {
    suffix: "counters",
    env_var: "IMAGEGEN_COUNTERS_TABLE",
    hash_key: "pk",
    range_key: None,
    ttl_attribute: Some("expires_at"),
    indexes: &[],
};

/// `Idempotency-Key` records: the job a key produced and a hash of the request body.
pub const IDEMPOTENCY: TableLayout = TableLayout {
    suffix: "idempotency",
    env_var: "IMAGEGEN_IDEMPOTENCY_TABLE",
    hash_key: "pk",
    range_key: None,
    ttl_attribute: Some("expires_at"),
    indexes: &[],
};

/// Webhooks, one table for both of their records: a tenant's signing secrets under
/// `tenant#<tenant>` / `secret`, and each delivery attempt of a job's events under
/// `job#<job_id>` / `<attempted_at micros>#<message id>#<attempt>` (a job's attempts in the order
/// they were made, read with one query).
pub const WEBHOOKS: TableLayout = TableLayout {
    suffix: "webhooks",
    env_var: "IMAGEGEN_WEBHOOKS_TABLE",
    hash_key: "pk",
    range_key: Some("sk"),
    ttl_attribute: Some("expires_at"),
    indexes: &[],
};

/// Every table the service uses.
pub const TABLES: [TableLayout; 5] = [JOBS, API_KEYS, COUNTERS, IDEMPOTENCY, WEBHOOKS];
