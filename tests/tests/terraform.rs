//! The Terraform's structure, read with hcl-rs: module conventions, staging/prod parity, prod's
//! guards, locked remote state, least-privilege IAM, the DynamoDB layout the service uses, and
//! the deployed pieces of each concern. One file per concern under `terraform/`; the shared
//! reading of the HCL is `terraform/support.rs`.
//!
//! These run without providers or credentials; `terraform validate` runs in CI.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report (clippy.toml allows it in #[test] fns only)"
)]

// Reading the Terraform: parsed files, blocks, attributes, what the roots pass to modules.
#[path = "terraform/support.rs"]
mod support;

// Every module's files, docs and version pins; every variable and output described.
#[path = "terraform/modules.rs"]
mod modules;

// Staging and prod: the same roots, different values; prod's guards.
#[path = "terraform/environments.rs"]
mod environments;

// Remote state in S3, locked and encrypted; no backend in the bootstrap.
#[path = "terraform/remote_state.rs"]
mod remote_state;

// IAM: no wildcard actions in an Allow.
#[path = "terraform/iam.rs"]
mod iam;

// DynamoDB: the tables the service's code uses.
#[path = "terraform/database.rs"]
mod database;

// SQS: each queue feeds the worker and dead-letters to an alarmed queue; the webhooks' queues.
#[path = "terraform/queues.rs"]
mod queues;

// S3: every bucket is hardened once, by modules/bucket; the bootstrap's buckets keep their state.
#[path = "terraform/buckets.rs"]
mod buckets;

// API Gateway: the account's logging role lives in the bootstrap only.
#[path = "terraform/api_gateway.rs"]
mod api_gateway;

// The settings the functions read against what the environments set.
#[path = "terraform/settings.rs"]
mod settings;

// The janitor's schedule.
#[path = "terraform/janitor.rs"]
mod janitor;

// Downloads through CloudFront: nosniff on every response, signed URLs only.
#[path = "terraform/downloads.rs"]
mod downloads;

// Keys made over HTTP on the gateway: the api's REST API id and its API Gateway permissions.
#[path = "terraform/gateway_keys.rs"]
mod gateway_keys;

// CI validates every module and environment.
#[path = "terraform/ci.rs"]
mod ci;

// The deploy role and workflow.
#[path = "terraform/deploy.rs"]
mod deploy;

// Each environment's budget and cost anomaly monitor see its own spend.
#[path = "terraform/cost.rs"]
mod cost;

// Least privilege per environment: deploy roles, the plan role, permissions boundaries.
#[path = "terraform/roles.rs"]
mod roles;
