//! Rate limiting with a token bucket.

use std::time::{Duration, Instant};

pub mod clock;

/// The largest burst any bucket allows.
pub const MAX_BURST: u32 = 1_000;

/// A token bucket that refills at a fixed rate.
#[derive(Debug, Clone)]
pub struct Bucket {
    capacity: u32,
    tokens: f64,
    refilled: Instant,
}

/// Why a request was refused.
pub enum Refusal {
    Empty { retry_after: Duration },
    TooLarge,
}

pub trait Limiter {
    fn try_acquire(&mut self, tokens: u32) -> Result<(), Refusal>;
}

impl Bucket {
    /// A full bucket of `capacity` tokens.
    pub fn new(capacity: u32) -> Self {
        Bucket { capacity, tokens: capacity as f64, refilled: Instant::now() }
    }

    pub fn available(&self) -> u32 {
        self.tokens as u32
    }

    fn refill(&mut self, now: Instant) {}
}

impl Limiter for Bucket {
    fn try_acquire(&mut self, tokens: u32) -> Result<(), Refusal> {
        Ok(())
    }
}

fn elapsed_secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

macro_rules! bucket {
    ($n:expr) => { Bucket::new($n) };
}
