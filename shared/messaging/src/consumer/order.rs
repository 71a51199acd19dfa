//! One referral's deliveries one after another, in the order they arrived,
//! while other referrals' run side by side (`in_order_per_correlation`).
//!
//! Each delivery enters a queue of turns keyed by its correlation id when it
//! arrives (in delivery order), and waits for the turn before it to end,
//! i.e. for that delivery to be settled. Nothing is kept for an id once its
//! last turn ends.

use super::{Admission, Admitted};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;

/// Per id, the latest turn: its ticket and what ends when it does.
type Latest = HashMap<String, (u64, oneshot::Receiver<()>)>;

/// An admission (`ConsumerSpec::admission`) under which deliveries with the
/// same correlation id (one referral's events) are handled one after
/// another, in the order they arrived, while other referrals' run side by
/// side: order without `concurrency: 1`. Only within this process: replicas
/// still share the queue, so a handler must still cope with an event ahead
/// of its predecessor. A delivery without a correlation id waits for nothing.
pub fn in_order_per_correlation() -> Admission {
    let turns = Turns::default();
    Arc::new(move |correlation| {
        let turn = correlation.map(|id| turns.enter(id));
        Box::pin(async move {
            let mut turn = turn;
            if let Some(turn) = &mut turn {
                turn.wait().await;
            }
            Box::new(turn) as Admitted
        })
    })
}

#[derive(Clone, Default)]
struct Turns {
    latest: Arc<Mutex<Latest>>,
    tickets: Arc<AtomicU64>,
}

struct Turn {
    turns: Turns,
    key: String,
    ticket: u64,
    before: Option<oneshot::Receiver<()>>,
    /// Dropped with the turn (after `Drop::drop`), which lets the next go.
    _ended: oneshot::Sender<()>,
}

impl Turns {
    /// Called in arrival order: the delivery's place behind earlier ones of `key`.
    fn enter(&self, key: &str) -> Turn {
        let (ended, after) = oneshot::channel();
        let ticket = self.tickets.fetch_add(1, Ordering::Relaxed);
        let before = self
            .lock()
            .insert(key.to_owned(), (ticket, after))
            .map(|(_, before)| before);
        Turn {
            turns: self.clone(),
            key: key.to_owned(),
            ticket,
            before,
            _ended: ended,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Latest> {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn ids_waited_on(&self) -> usize {
        self.lock().len()
    }
}

impl Turn {
    /// Until every earlier delivery of the same id has been settled.
    async fn wait(&mut self) {
        if let Some(before) = self.before.take() {
            // Err means it ended: its sender is dropped, never used.
            let _ = before.await;
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut latest = self.turns.lock();
        if latest
            .get(&self.key)
            .is_some_and(|(t, _)| *t == self.ticket)
        {
            latest.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    const SOON: Duration = Duration::from_millis(100);

    #[tokio::test]
    async fn one_ids_turns_follow_each_other_and_other_ids_do_not_wait() {
        let turns = Turns::default();
        let mut first = turns.enter("a");
        let mut second = turns.enter("a");
        let mut third = turns.enter("a");
        let mut other = turns.enter("b");
        tokio::time::timeout(SOON, first.wait()).await.unwrap();
        tokio::time::timeout(SOON, other.wait()).await.unwrap();
        assert!(tokio::time::timeout(SOON, second.wait()).await.is_err());
        drop(first);
        tokio::time::timeout(SOON, second.wait()).await.unwrap();
        assert!(tokio::time::timeout(SOON, third.wait()).await.is_err());
        drop(second);
        tokio::time::timeout(SOON, third.wait()).await.unwrap();
        drop((third, other));
        assert_eq!(turns.ids_waited_on(), 0, "nothing kept once the turns end");
    }

    #[tokio::test]
    async fn a_turn_that_ends_before_the_next_arrives_leaves_nothing_to_wait_for() {
        let turns = Turns::default();
        drop(turns.enter("a"));
        let mut next = turns.enter("a");
        tokio::time::timeout(SOON, next.wait()).await.unwrap();
    }
}
