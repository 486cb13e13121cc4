//! Memory adapters of the ports: the query index ([`MemoryIndex`]), Athena's query history
//! ([`MemoryAthena`]) and the Glue Data Catalog ([`MemoryCatalog`]), each keeping the part of the AWS contract the decisions depend on, with
//! the faults AWS answers with injectable.

mod catalog;
mod history;
mod index;

pub use catalog::MemoryCatalog;
pub use history::MemoryAthena;
pub use index::{MemoryIndex, FINISHED_PAGE_ITEMS};

/// Why a memory adapter's call failed: the faults AWS answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemoryError {
    /// `TransactionCanceledException` (`TransactionConflict`) on every attempt.
    Conflict { attempts: u32 },
    /// A throttling error of the named service after the SDK's retries.
    Throttled(&'static str),
    /// A request AWS refuses (the message says which rule it broke).
    Invalid(String),
}

impl std::fmt::Display for MemoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MemoryError::Conflict { attempts } => write!(
                f,
                "TransactWriteItems: TransactionConflict on each of {attempts} attempts"
            ),
            MemoryError::Throttled(service) => write!(f, "{service}: throttled"),
            MemoryError::Invalid(why) => write!(f, "invalid request: {why}"),
        }
    }
}

impl std::error::Error for MemoryError {}

#[cfg(test)]
pub(crate) mod tests_support {
    /// Runs a future a memory adapter answers without ever waiting.
    pub fn ready<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => unreachable!("the memory adapters never wait"),
        }
    }
}
