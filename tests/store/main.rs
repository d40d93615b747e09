//! The rules every store keeps, run on SQLite and on DynamoDB Local; DynamoDB's round
//! trips and failures; the events both stores' writes yield: one test binary, one module
//! per area.

mod agent_store_rules;
mod handler_race;
mod parity;
mod production_files;
mod ratings;
mod realtime_store_rules;
mod round_trips;
mod store_faults;
mod store_rules;
