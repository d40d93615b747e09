//! The repository agrees with the code: `template.yaml`, `env.json` and `functions/`
//! with the endpoint table and the table schema, and the README's figures with
//! docs/performance.md.

mod docs;
mod template;
