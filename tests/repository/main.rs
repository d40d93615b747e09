//! The repository agrees with the code: `template.yaml`, `env.json` and `functions/`
//! with the endpoint table and the table schema, the README's figures with
//! docs/performance.md, and the shared crate's imports with its layers.

mod docs;
mod layers;
mod operations;
mod template;
mod web_host;
