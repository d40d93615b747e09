//! The rules every store keeps, run on SQLite and on DynamoDB Local; DynamoDB's round
//! trips and failures; the events both stores' writes yield: one test binary, one module
//! per area.

mod agent_store_rules;
mod backfill;
mod due_work_rules;
mod erasure;
mod event_journal;
mod handler_race;
mod message_limits;
mod parity;
mod production_files;
mod production_mail;
mod ratings;
mod read_marks;
mod realtime_store_rules;
mod round_trips;
mod store_faults;
mod store_rules;
