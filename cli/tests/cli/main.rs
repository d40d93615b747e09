//! The `supportzen` binary, run as an operator runs it: one test binary, one module per
//! area.

mod commands;
mod events;
mod outbox;
