//! A short-lived cache of the spreads list, one entry per filter, so that many clients asking
//! at once cost one database read a second instead of one each (docs/benchmarks.md). An entry
//! serves for [`TTL`]; when it is missing or old, one request reads while the others wait for
//! its answer instead of all reading at once. Every write through this server (an alias set)
//! empties the cache,
//! so the server's own writes are read back at once; syncs by other processes show within
//! [`TTL`]. It never holds more than [`MAX_ENTRIES`] filters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::combos::SpreadFilter;

/// How long an answer is served again.
pub const TTL: Duration = Duration::from_secs(1);
/// More distinct filters than this and the cache starts over.
const MAX_ENTRIES: usize = 256;

pub struct Cache<T> {
    entries: Mutex<HashMap<SpreadFilter, (Instant, Arc<T>)>>,
    /// Held by the one request reading from the database.
    loading: tokio::sync::Mutex<()>,
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Cache {
            entries: Mutex::new(HashMap::new()),
            loading: tokio::sync::Mutex::new(()),
        }
    }
}

impl<T> Cache<T> {
    /// The answer for `filter` if it is younger than [`TTL`] at `now`.
    pub fn get(&self, filter: &SpreadFilter, now: Instant) -> Option<Arc<T>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(filter)
            .filter(|(at, _)| now.saturating_duration_since(*at) < TTL)
            .map(|(_, value)| value.clone())
    }

    pub fn put(&self, filter: SpreadFilter, value: Arc<T>, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(filter, (now, value));
    }

    /// The answer for `filter`: from the cache, or from `load` — run by one caller at a time,
    /// the others then finding its answer.
    pub async fn get_or_load<E, F>(
        &self,
        filter: &SpreadFilter,
        load: impl FnOnce() -> F,
    ) -> Result<Arc<T>, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        if let Some(hit) = self.get(filter, Instant::now()) {
            return Ok(hit);
        }
        let _loading = self.loading.lock().await;
        let now = Instant::now();
        if let Some(hit) = self.get(filter, now) {
            return Ok(hit);
        }
        let value = Arc::new(load().await?);
        self.put(filter.clone(), value.clone(), now);
        Ok(value)
    }

    /// Forgets everything: the data changed.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(limit: i64) -> SpreadFilter {
        SpreadFilter {
            limit,
            ..SpreadFilter::default()
        }
    }

    #[test]
    fn an_answer_serves_for_its_ttl_and_per_filter() {
        let cache = Cache::default();
        let t0 = Instant::now();
        cache.put(filter(100), Arc::new(1), t0);
        assert_eq!(cache.get(&filter(100), t0 + TTL / 2).as_deref(), Some(&1));
        assert_eq!(cache.get(&filter(10), t0), None, "another filter");
        assert_eq!(cache.get(&filter(100), t0 + TTL), None, "too old");
    }

    #[tokio::test]
    async fn a_miss_loads_once_and_a_hit_does_not_load() {
        let cache = Cache::default();
        let loaded = std::sync::atomic::AtomicUsize::new(0);
        let load = || async {
            loaded.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // The second caller arrives while the first is still reading.
            tokio::task::yield_now().await;
            Ok::<_, ()>(7)
        };
        let f = filter(1);
        let (a, b) = tokio::join!(cache.get_or_load(&f, load), cache.get_or_load(&f, load));
        assert_eq!((*a.expect("a"), *b.expect("b")), (7, 7));
        assert_eq!(loaded.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn clearing_forgets_and_the_size_is_bounded() {
        let cache = Cache::default();
        let t0 = Instant::now();
        cache.put(filter(1), Arc::new(1), t0);
        cache.clear();
        assert_eq!(cache.get(&filter(1), t0), None);
        for limit in 0..(MAX_ENTRIES as i64 + 10) {
            cache.put(filter(limit), Arc::new(limit), t0);
        }
        assert!(cache.entries.lock().expect("lock").len() <= MAX_ENTRIES);
    }
}
