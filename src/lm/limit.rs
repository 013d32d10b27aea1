//! `LimitedLm`: bounds concurrent requests per (provider, model) and adapts the bound:
//! halve on a rate limit, grow by one after a window of successes (AIMD).

use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::{Lm, LmError, LmIdentity, LmRequest, LmResponse};

/// An adaptive concurrency limit.
#[derive(Debug)]
pub struct AdaptiveLimit {
    semaphore: Semaphore,
    state: Mutex<LimitState>,
}

#[derive(Debug)]
struct LimitState {
    /// The limit in force.
    current: usize,
    /// The configured ceiling.
    max: usize,
    /// Permits to retire as they come back (after a decrease while they were in use).
    debt: usize,
    /// Successes since the last change.
    successes: usize,
}

impl AdaptiveLimit {
    /// A limit starting at (and never above) `max` concurrent requests (at least 1).
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        AdaptiveLimit {
            semaphore: Semaphore::new(max),
            state: Mutex::new(LimitState { current: max, max, debt: 0, successes: 0 }),
        }
    }

    /// The limit in force now.
    pub fn current(&self) -> usize {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).current
    }

    async fn acquire(&self) -> Option<SemaphorePermit<'_>> {
        // The semaphore is never closed, so this only fails if it were; run unlimited then.
        self.semaphore.acquire().await.ok()
    }

    /// Returns a permit after a call, adjusting the limit by its outcome.
    fn release(&self, permit: Option<SemaphorePermit<'_>>, rate_limited: bool) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if rate_limited {
            let halved = (state.current / 2).max(1);
            // Retire idle permits now; those in use are retired as they come back.
            let reduce = state.current - halved;
            state.debt += reduce - self.semaphore.forget_permits(reduce);
            state.current = halved;
            state.successes = 0;
        } else {
            state.successes += 1;
            if state.successes >= state.current && state.current < state.max {
                state.successes = 0;
                state.current += 1;
                if state.debt > 0 {
                    state.debt -= 1;
                } else {
                    self.semaphore.add_permits(1);
                }
            }
        }
        if let Some(permit) = permit {
            if state.debt > 0 {
                state.debt -= 1;
                permit.forget();
            }
        }
    }
}

/// Runs the wrapped LM under an [`AdaptiveLimit`] (shared by every `LimitedLm` of the same
/// provider and model).
#[derive(Debug, Clone)]
pub struct LimitedLm {
    inner: Arc<dyn Lm>,
    limit: Arc<AdaptiveLimit>,
}

impl LimitedLm {
    /// Wraps `inner` under `limit`.
    pub fn new(inner: Arc<dyn Lm>, limit: Arc<AdaptiveLimit>) -> Self {
        LimitedLm { inner, limit }
    }
}

impl Lm for LimitedLm {
    fn identity(&self) -> LmIdentity {
        self.inner.identity()
    }

    fn complete<'a>(&'a self, request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>> {
        Box::pin(async move {
            let permit = self.limit.acquire().await;
            let result = self.inner.complete(request).await;
            let rate_limited = matches!(&result, Err(e) if e.is_rate_limit());
            self.limit.release(permit, rate_limited);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_on_rate_limits_and_grows_back_slowly() {
        let limit = AdaptiveLimit::new(8);
        limit.release(None, true);
        assert_eq!(limit.current(), 4);
        limit.release(None, true);
        assert_eq!(limit.current(), 2);
        for _ in 0..2 {
            limit.release(None, false);
        }
        assert_eq!(limit.current(), 3);
        for _ in 0..100 {
            limit.release(None, false);
        }
        assert_eq!(limit.current(), 8, "never above the ceiling");
        assert_eq!(limit.semaphore.available_permits(), 8, "permits follow the limit");
    }
}
