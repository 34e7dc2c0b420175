//! The AWS adapters and the whole job flow against an AWS emulator, over HTTP: LocalStack
//! (Docker, through testcontainers) or moto_server. `cargo xtask integration` picks and
//! starts the emulator and runs this file; see `imagegen_tests::aws` for the harness.
//!
//! Every test creates its own uniquely named tables, bucket, queues and secret, so the tests
//! run in parallel on one emulator with no resets.

// Assertions unwrap, in helpers too (clippy's allow-unwrap-in-tests covers only #[test] fns).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "aws/dynamo.rs"]
mod dynamo;
#[path = "aws/flow.rs"]
mod flow;
#[path = "aws/keys.rs"]
mod keys;
#[path = "aws/s3.rs"]
mod s3;
#[path = "aws/webhooks.rs"]
mod webhooks;
