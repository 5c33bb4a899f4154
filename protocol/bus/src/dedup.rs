use std::collections::{HashMap, VecDeque};

use uuid::Uuid;

/// A bounded set of message ids already handed to a handler, for dropping
/// redeliveries and duplicates.
///
/// It remembers the last `capacity` ids; older ones are forgotten, so handlers must
/// still be idempotent for redeliveries older than that (the orchestrator's are, by
/// keying their effects on the message id in the database).
#[derive(Debug)]
pub struct SeenIds {
    capacity: usize,
    next: u64,
    order: VecDeque<(Uuid, u64)>,
    live: HashMap<Uuid, u64>,
}

impl SeenIds {
    pub fn new(capacity: usize) -> SeenIds {
        let capacity = capacity.max(1);
        SeenIds {
            capacity,
            next: 0,
            order: VecDeque::with_capacity(capacity),
            live: HashMap::with_capacity(capacity),
        }
    }

    pub fn contains(&self, id: &Uuid) -> bool {
        self.live.contains_key(id)
    }

    /// Records `id`; returns false if it was already there.
    pub fn insert(&mut self, id: Uuid) -> bool {
        if self.live.contains_key(&id) {
            return false;
        }
        let seq = self.next;
        self.next += 1;
        self.live.insert(id, seq);
        self.order.push_back((id, seq));
        while self.live.len() > self.capacity {
            let Some((old, old_seq)) = self.order.pop_front() else {
                break;
            };
            if self.live.get(&old) == Some(&old_seq) {
                self.live.remove(&old);
            }
        }
        // Entries removed by `forget` leave stale slots behind; keep the queue bounded.
        if self.order.len() > self.capacity.saturating_mul(2) {
            let live = &self.live;
            self.order.retain(|(id, seq)| live.get(id) == Some(seq));
        }
        true
    }

    /// Forgets `id`, so that its next delivery is handled again (after a requeue).
    pub fn forget(&mut self, id: &Uuid) {
        self.live.remove(id);
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_most_recent_ids_only() {
        let mut seen = SeenIds::new(3);
        let ids: Vec<Uuid> = (1..=5).map(Uuid::from_u128).collect();
        assert!(seen.insert(ids[0]));
        assert!(!seen.insert(ids[0]));
        for id in &ids[1..] {
            assert!(seen.insert(*id));
        }
        assert_eq!(seen.len(), 3);
        assert!(!seen.contains(&ids[0]) && !seen.contains(&ids[1]));
        assert!(ids[2..].iter().all(|id| seen.contains(id)));
        assert!(seen.insert(ids[0]), "a forgotten id is new again");
    }

    #[test]
    fn forgotten_ids_are_new_again_and_eviction_respects_reinsertion() {
        let mut seen = SeenIds::new(2);
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        seen.insert(a);
        seen.forget(&a);
        assert!(!seen.contains(&a));
        assert!(seen.insert(a), "re-inserted after forget");
        seen.insert(b);
        // The stale first slot of `a` must not evict its live re-insertion.
        assert!(seen.contains(&a) && seen.contains(&b));
        seen.insert(c);
        assert!(!seen.contains(&a) && seen.contains(&b) && seen.contains(&c));
        for i in 10..1000 {
            seen.insert(Uuid::from_u128(i));
            seen.forget(&Uuid::from_u128(i));
        }
        assert!(seen.order.len() <= 4);
    }

    #[test]
    fn zero_capacity_is_treated_as_one() {
        let mut seen = SeenIds::new(0);
        assert!(seen.insert(Uuid::from_u128(1)));
        assert!(!seen.insert(Uuid::from_u128(1)));
        assert!(seen.insert(Uuid::from_u128(2)));
        assert_eq!(seen.len(), 1);
    }
}
