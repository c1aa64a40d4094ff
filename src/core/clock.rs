//! Injectable time source: every expiry check reads a [`Clock`], so tests move time
//! instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A source of the current time in seconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> u64;
}

/// The system clock (not available on `wasm32-unknown-unknown`, where the browser
/// platform supplies its own).
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that stands still until moved: for tests.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock showing `now` seconds since the epoch.
    pub fn new(now: u64) -> Self {
        Self(Arc::new(AtomicU64::new(now)))
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }

    /// Sets the clock to `now`.
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// How far the provider's clock is ahead of the local one, in seconds (negative when
/// behind). All expiry math runs in the provider's time, so a client clock that is
/// minutes off neither logs the user out early nor keeps an expired token.
///
/// Estimated from a token the provider just issued: its `iat` is the provider's time
/// when it answered, which is taken to be the midpoint of the request (half the round
/// trip on each side), so the estimate is off by at most half the round trip plus
/// one second of `iat` rounding. Defaults to zero (clocks assumed in agreement).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ServerTimeOffset(i64);

impl ServerTimeOffset {
    /// No offset.
    pub const ZERO: Self = Self(0);

    /// The offset seen in a token issued at `iat` (provider time) by a request sent at
    /// `sent_at` and answered at `received_at` (local time, seconds since the epoch).
    /// Only use the `iat` of a token that came straight from the provider over TLS (a
    /// token response), never of one a third party could replay.
    pub fn from_issued_at(iat: u64, sent_at: u64, received_at: u64) -> Self {
        let (early, late) = if sent_at <= received_at {
            (sent_at, received_at)
        } else {
            (received_at, sent_at)
        };
        let midpoint = early / 2 + late / 2 + (early % 2 + late % 2) / 2;
        Self(saturating_diff(iat, midpoint))
    }

    /// An offset of `seconds` (positive: the provider is ahead).
    pub fn from_seconds(seconds: i64) -> Self {
        Self(seconds)
    }

    /// The offset in seconds (positive: the provider is ahead).
    pub fn seconds(self) -> i64 {
        self.0
    }

    /// The provider's time at local time `local_now`.
    pub fn server_time(self, local_now: u64) -> u64 {
        local_now.saturating_add_signed(self.0)
    }

    /// The local time at provider time `server_time` (e.g. to arm a local timer for
    /// a token's expiry).
    pub fn local_time(self, server_time: u64) -> u64 {
        server_time.saturating_add_signed(self.0.saturating_neg())
    }
}

/// `a - b` as a signed number, saturating at the `i64` range.
fn saturating_diff(a: u64, b: u64) -> i64 {
    if a >= b {
        i64::try_from(a - b).unwrap_or(i64::MAX)
    } else {
        i64::try_from(b - a).map_or(i64::MIN, |d| -d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_time_offset_from_iat() {
        // Provider 300 s ahead; the request took 2 s.
        let o = ServerTimeOffset::from_issued_at(1_300, 999, 1_001);
        assert_eq!(o.seconds(), 300);
        assert_eq!(o.server_time(2_000), 2_300);
        assert_eq!(o.local_time(2_300), 2_000);
        // Provider 300 s behind.
        let o = ServerTimeOffset::from_issued_at(700, 1_000, 1_000);
        assert_eq!(o.seconds(), -300);
        assert_eq!(o.server_time(2_000), 1_700);
        assert_eq!(o.local_time(1_700), 2_000);
        // Clocks agree.
        assert_eq!(
            ServerTimeOffset::from_issued_at(1_000, 999, 1_001),
            ServerTimeOffset::ZERO
        );
        // A clock that jumped back during the request still gives a midpoint.
        assert_eq!(
            ServerTimeOffset::from_issued_at(1_000, 1_001, 999).seconds(),
            0
        );
        // Extremes saturate instead of overflowing.
        assert_eq!(
            ServerTimeOffset::from_issued_at(u64::MAX, 0, 0).seconds(),
            i64::MAX
        );
        assert_eq!(
            ServerTimeOffset::from_issued_at(0, u64::MAX, u64::MAX).seconds(),
            i64::MIN
        );
        assert_eq!(ServerTimeOffset::from_seconds(-10).server_time(5), 0);
        assert_eq!(
            ServerTimeOffset::from_seconds(10).server_time(u64::MAX),
            u64::MAX
        );
        assert_eq!(
            ServerTimeOffset::from_seconds(i64::MIN).local_time(1),
            u64::try_from(i64::MAX).unwrap() + 1
        );
        assert_eq!(ServerTimeOffset::from_seconds(5).local_time(3), 0);
    }

    #[test]
    fn manual_clock_moves() {
        let c = ManualClock::new(100);
        let c2 = c.clone();
        c.advance(5);
        assert_eq!(c2.now(), 105);
        c.set(1);
        assert_eq!(c2.now(), 1);
    }

    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now() > 1_577_836_800);
    }
}
