//! One file per resource; each handler carries its OpenAPI description.

pub mod admin;
pub mod images;
pub mod jobs;
pub mod meta;
pub mod uploads;
pub mod usage;
pub mod webhooks;
