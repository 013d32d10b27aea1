//! `RetryLm`: retries transient failures with exponential backoff and full jitter, honouring
//! the server's `Retry-After`, bounded in attempts and in total time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rand::Rng;

use super::{Lm, LmError, LmIdentity, LmRequest, LmResponse};

/// How retries are paced and bounded.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retries).
    pub max_attempts: u32,
    /// The first backoff; each retry doubles it (before jitter).
    pub base_delay: Duration,
    /// The largest backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a longer request gives up instead of waiting.
    pub max_retry_after: Duration,
    /// No retry starts after this much time since the first attempt.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            max_total: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based) after `error`: the server's
    /// `Retry-After` when given (capped), else exponential backoff with full jitter. `None`
    /// when the server asks for longer than the cap.
    pub fn delay(&self, retry: u32, error: &LmError) -> Option<Duration> {
        if let Some(wait) = error.retry_after() {
            return (wait <= self.max_retry_after).then_some(wait);
        }
        let exp = self.base_delay.saturating_mul(1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX));
        let cap = exp.min(self.max_delay);
        // Full jitter spreads retries of many concurrent requests apart.
        let jittered = rand::rng().random_range(0.5..=1.0) * cap.as_secs_f64();
        Some(Duration::from_secs_f64(jittered))
    }
}

/// Retries retryable errors of the wrapped LM (see [`LmError::is_retryable`]). Each retry
/// emits a `tracing` warning and is counted in the reply's `retries`.
#[derive(Debug, Clone)]
pub struct RetryLm {
    inner: Arc<dyn Lm>,
    policy: RetryPolicy,
}

impl RetryLm {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Lm>, policy: RetryPolicy) -> Self {
        RetryLm { inner, policy }
    }
}

impl Lm for RetryLm {
    fn identity(&self) -> LmIdentity {
        self.inner.identity()
    }

    fn complete<'a>(&'a self, request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>> {
        Box::pin(async move {
            let started = Instant::now();
            let mut retries = 0u32;
            loop {
                match self.inner.complete(request).await {
                    Ok(mut response) => {
                        response.retries += retries;
                        return Ok(response);
                    }
                    Err(error) if error.is_retryable() && retries + 1 < self.policy.max_attempts => {
                        let Some(delay) = self.policy.delay(retries, &error) else {
                            return Err(error);
                        };
                        if started.elapsed() + delay > self.policy.max_total {
                            return Err(error);
                        }
                        retries += 1;
                        tracing::warn!(
                            lm = %self.inner.identity(),
                            retry = retries,
                            delay_ms = delay.as_millis() as u64,
                            error = %error,
                            "retrying LM request"
                        );
                        tokio::time::sleep(delay).await;
                    }
                    Err(error) => return Err(error),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let policy = RetryPolicy::default();
        let limited = |secs| LmError::RateLimited {
            provider: "p".into(),
            body: String::new(),
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(policy.delay(0, &limited(3)), Some(Duration::from_secs(3)));
        assert_eq!(policy.delay(0, &limited(3600)), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..Default::default()
        };
        let err = LmError::Transport { provider: "p".into(), message: String::new() };
        let first = policy.delay(0, &err).unwrap();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
        let late = policy.delay(12, &err).unwrap();
        assert!(late <= Duration::from_secs(1) && late >= Duration::from_millis(500), "{late:?}");
    }
}
