//! Compile budgets: limits on LM calls, tokens and dollars, and the meter that enforces them.

use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::artifact::CompileCost;
use crate::module::RunTotals;

/// Optional limits on what a compile may use, checked before each program run; the compile
/// then stops cleanly with what it has.
///
/// A run reserves one call per predictor before it starts, so `max_calls` is never exceeded
/// by runs in flight (a run that fails early gives back what it did not use). Tokens and
/// dollars are known only when a run ends: runs in flight (at most the concurrency) may finish
/// past those limits.
///
/// The figures count every call the compile makes, cache hits included, and dollars by the
/// calls' usage, so a compile stops at about the same point whether or not its replies come
/// from a cache (the cache only makes it cheaper).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// LM calls (program, teacher and judge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_calls: Option<u64>,
    /// Tokens, input plus output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_usd: Option<f64>,
}

impl Budget {
    /// No limits.
    pub fn unlimited() -> Self {
        Budget::default()
    }
}

/// A budget limit was reached.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("budget reached: {what}")]
pub struct BudgetExceeded {
    /// Which limit, with the figures, e.g. `120 of 100 LM calls`.
    pub what: String,
}

/// What a compile has used so far, against its budget. Shared by every part of a compile.
#[derive(Debug, Default)]
pub struct Meter {
    budget: Budget,
    used: Mutex<Used>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Used {
    totals: RunTotals,
    judge_usd: f64,
    /// Calls reserved by runs in flight.
    reserved_calls: u64,
}

impl Meter {
    /// A meter for `budget`.
    pub fn new(budget: Budget) -> Self {
        Meter { budget, used: Mutex::default() }
    }

    /// The budget.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Reserves `calls` LM calls for a run about to start: `Err` when a limit has been reached
    /// or the calls would pass `max_calls`. [`add`](Self::add) releases the reservation.
    pub fn reserve(&self, calls: u64) -> Result<(), BudgetExceeded> {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        Self::check_used(&self.budget, &used)?;
        if let Some(max) = self.budget.max_calls {
            let committed = used.totals.calls + used.reserved_calls;
            if committed + calls > max {
                return Err(BudgetExceeded { what: format!("{committed} of {max} LM calls") });
            }
        }
        used.reserved_calls += calls;
        Ok(())
    }

    /// Adds one run's totals (and what its metric's judge cost), releasing the `reserved`
    /// calls it was started with.
    pub fn add(&self, totals: &RunTotals, judge_usd: f64, reserved: u64) {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        used.reserved_calls = used.reserved_calls.saturating_sub(reserved);
        used.totals.merge(totals);
        used.judge_usd += judge_usd;
    }

    /// Totals so far.
    pub fn totals(&self) -> RunTotals {
        self.used.lock().unwrap_or_else(PoisonError::into_inner).totals
    }

    /// Dollars so far by usage, program and judge.
    pub fn usd(&self) -> f64 {
        let used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        used.totals.program_cost_usd + used.judge_usd
    }

    /// `Err` when a limit has been reached.
    pub fn check(&self) -> Result<(), BudgetExceeded> {
        let used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        Self::check_used(&self.budget, &used)
    }

    fn check_used(budget: &Budget, used: &Used) -> Result<(), BudgetExceeded> {
        let totals = used.totals;
        let usd = totals.program_cost_usd + used.judge_usd;
        if let Some(max) = budget.max_calls {
            if totals.calls >= max {
                return Err(BudgetExceeded { what: format!("{} of {max} LM calls", totals.calls) });
            }
        }
        if let Some(max) = budget.max_tokens {
            let tokens = totals.usage.total_tokens();
            if tokens >= max {
                return Err(BudgetExceeded { what: format!("{tokens} of {max} tokens") });
            }
        }
        if let Some(max) = budget.max_usd {
            if usd >= max {
                return Err(BudgetExceeded { what: format!("${usd:.4} of ${max:.4}") });
            }
        }
        Ok(())
    }

    /// The compile cost for the artifact: calls, tokens, dollars by usage (`None` when some
    /// call's model has no price).
    pub fn cost(&self) -> CompileCost {
        let totals = self.totals();
        CompileCost {
            calls: totals.calls,
            input_tokens: totals.usage.input_tokens,
            output_tokens: totals.usage.output_tokens,
            usd: (totals.unpriced_calls == 0).then(|| round_usd(self.usd())),
            proposer: None,
        }
    }
}

/// Dollars rounded to a nanodollar, so sums in different orders print the same.
pub(crate) fn round_usd(usd: f64) -> f64 {
    (usd * 1e9).round() / 1e9
}
