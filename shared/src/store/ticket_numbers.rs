//! The ticket number counter (`TKT-001`, `TKT-002`, …).

use super::StoreError;
use std::future::Future;

/// Hands out ticket numbers 1, 2, 3, … atomically; a number is never handed out twice.
pub trait TicketNumbers {
    fn next_ticket_number(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
