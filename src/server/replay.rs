//! DPoP proof replay detection (RFC 9449 section 11.1): each proof's `jti` is
//! remembered, per key, for as long as the proof would be accepted.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::Mutex;

use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};

/// What a replay store keys its entries by: SHA-256 over the proof key's thumbprint and
/// the proof's `jti`, so entries have a fixed size whatever the client sends and two
/// clients cannot collide by choosing the same `jti`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplayKey([u8; 32]);

impl ReplayKey {
    /// The key for a proof made with the key of thumbprint `jkt` and carrying `jti`.
    pub fn new(jkt: &str, jti: &str) -> Self {
        let mut h = Sha256::new();
        h.update(jkt.as_bytes());
        h.update([0]);
        h.update(jti.as_bytes());
        Self(h.finalize().into())
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplayKey(..)")
    }
}

/// Why a replay store could not answer. The validator then refuses the proof (fails
/// closed) with 503 and logs the error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayStoreError {
    /// The in-process store holds its maximum number of live entries.
    #[error("the DPoP replay store is full ({0} live proofs)")]
    Full(usize),
    /// The store's backend failed (for example Redis is unreachable).
    #[error("the DPoP replay store is unavailable: {0}")]
    Backend(String),
}

/// Remembers DPoP proofs to detect replays. Implementations must be atomic: of two
/// concurrent calls with the same key, exactly one sees it as new.
pub trait ReplayStore: Send + Sync + fmt::Debug {
    /// Records `key` for `ttl` seconds from `now` (clock seconds). `Ok(true)` if the key
    /// was not recorded yet (the proof is fresh), `Ok(false)` if it was (a replay).
    fn check_and_record(
        &self,
        key: ReplayKey,
        ttl: u64,
        now: u64,
    ) -> BoxFuture<'_, Result<bool, ReplayStoreError>>;
}

/// The in-process replay store: right for a single API instance (use the Redis store,
/// feature `redis`, for several).
///
/// Memory is bounded: at most `capacity` live entries (about 100 bytes each, so the
/// default of 100,000 is about 10 MB). Expired entries are dropped first; when every
/// entry is still live the store is full and refuses new proofs (fail closed: the
/// request gets 503) until entries expire, one proof window later at most. Only
/// holders of valid DPoP-bound access tokens can add entries, since the proof is
/// recorded after every other check passed.
#[derive(Debug)]
pub struct InMemoryReplayStore {
    capacity: usize,
    state: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    seen: HashSet<ReplayKey>,
    /// Entries by expiry. Not insertion order: validators sharing the store may have
    /// different proof windows, and a clock set back makes later entries expire
    /// earlier than those recorded before it.
    order: BTreeSet<(u64, ReplayKey)>,
}

/// Default capacity of [`InMemoryReplayStore`].
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

impl Default for InMemoryReplayStore {
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY_CAPACITY)
    }
}

impl InMemoryReplayStore {
    /// A store holding at most `capacity` live proofs.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            state: Mutex::new(Entries::default()),
        }
    }

    /// How many entries the store holds now (live or expired but not yet dropped).
    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.seen.len()).unwrap_or(0)
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn record(&self, key: ReplayKey, ttl: u64, now: u64) -> Result<bool, ReplayStoreError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| ReplayStoreError::Backend("poisoned lock".into()))?;
        let Entries { seen, order } = &mut *state;
        while let Some(&(expires, old)) = order.first() {
            if expires > now {
                break;
            }
            order.pop_first();
            seen.remove(&old);
        }
        if seen.contains(&key) {
            return Ok(false);
        }
        if seen.len() >= self.capacity {
            return Err(ReplayStoreError::Full(self.capacity));
        }
        seen.insert(key);
        order.insert((now.saturating_add(ttl), key));
        Ok(true)
    }
}

impl ReplayStore for InMemoryReplayStore {
    fn check_and_record(
        &self,
        key: ReplayKey,
        ttl: u64,
        now: u64,
    ) -> BoxFuture<'_, Result<bool, ReplayStoreError>> {
        let result = self.record(key, ttl, now);
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn replays_are_detected_until_the_window_ends() {
        let store = InMemoryReplayStore::new(10);
        let k = ReplayKey::new("thumb", "jti-1");
        assert_eq!(store.record(k, 90, 1000), Ok(true));
        assert_eq!(store.record(k, 90, 1089), Ok(false));
        // Another key with the same jti is a different proof.
        assert_eq!(
            store.record(ReplayKey::new("other", "jti-1"), 90, 1000),
            Ok(true)
        );
        // After the window the entry is dropped (the proof itself is expired by then).
        assert_eq!(store.record(k, 90, 1090), Ok(true));
    }

    /// A flood at the bound: memory stays at `capacity` entries, new proofs are refused
    /// (fail closed) while all entries are live, and accepted again as they expire.
    #[test]
    fn bounded_under_a_flood_and_fails_closed_at_the_bound() {
        let store = InMemoryReplayStore::new(1000);
        for i in 0..1000 {
            let key = ReplayKey::new("k", &i.to_string());
            assert_eq!(store.record(key, 90, 1000 + i / 100), Ok(true));
        }
        for i in 0..5000 {
            let key = ReplayKey::new("flood", &i.to_string());
            assert_eq!(
                store.record(key, 90, 1050),
                Err(ReplayStoreError::Full(1000))
            );
        }
        assert_eq!(store.len(), 1000);
        // Known proofs are still recognized as replays at the bound.
        assert_eq!(
            store.record(ReplayKey::new("k", "999"), 90, 1050),
            Ok(false)
        );
        // The first 100 entries (recorded at 1000) expire at 1090.
        assert_eq!(
            store.record(ReplayKey::new("late", "x"), 90, 1090),
            Ok(true)
        );
        assert_eq!(store.len(), 901);
    }

    /// Entries expire by their own time, whatever the order they came in: a longer
    /// window (another validator sharing the store) or a clock set back does not hold
    /// up the expiry of the entries recorded after it.
    #[test]
    fn each_entry_expires_at_its_own_time() {
        let store = InMemoryReplayStore::new(2);
        let (a, b) = (ReplayKey::new("k", "a"), ReplayKey::new("k", "b"));
        // Recorded while the clock was ahead (or by a validator with a long window).
        assert_eq!(store.record(a, 90, 10_000), Ok(true));
        // The clock is set back.
        assert_eq!(store.record(b, 90, 100), Ok(true));
        // b expired at 190: its place is free although a is still live.
        assert_eq!(store.record(ReplayKey::new("k", "c"), 90, 200), Ok(true));
        assert_eq!(store.len(), 2);
        assert_eq!(store.record(a, 90, 200), Ok(false));
    }
}
