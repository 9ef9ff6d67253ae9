//! Scores all open live streams together: each live stream is deferred
//! (a push computes its windows' features but holds them back), and on every
//! tick one round scores the held windows of every stream in shared backend
//! batches ([`dfd::infer_streams`]), then wakes the streams that got results.
//! Hundreds of calls then cost a few backend calls per tick instead of one
//! per window, and the scores are those each stream would get alone.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use crate::scan::Scorer;

/// One live stream as the batcher sees it.
pub struct LiveStream {
    /// Taken out when the stream ends.
    scorer: Mutex<Option<Scorer>>,
    /// Signalled after a round scored some of this stream's windows.
    pub scored: Notify,
}

impl LiveStream {
    /// The stream's scorer (`None` once ended); held only for a push or to
    /// read results.
    pub fn scorer(&self) -> MutexGuard<'_, Option<Scorer>> {
        self.scorer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct Batcher {
    tick: Duration,
    streams: Mutex<Vec<Weak<LiveStream>>>,
}

impl Batcher {
    pub fn new(tick: Duration) -> Self {
        Batcher {
            tick,
            streams: Mutex::new(Vec::new()),
        }
    }

    /// Takes a stream into the rounds until the returned handle is dropped.
    pub fn join(&self, scorer: Scorer) -> Arc<LiveStream> {
        let live = Arc::new(LiveStream {
            scorer: Mutex::new(Some(scorer)),
            scored: Notify::new(),
        });
        self.streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&live));
        live
    }

    /// Runs a round every tick, forever (off the async threads), telling
    /// `done` what each round that scored something did.
    pub async fn run(self: Arc<Self>, done: impl Fn(dfd::InferReport)) {
        let mut tick = tokio::time::interval(self.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let me = Arc::clone(&self);
            // A panic in a round (an Err here) lost that round's windows only.
            if let Ok(Some(report)) = tokio::task::spawn_blocking(move || me.round()).await {
                done(report);
            }
        }
    }

    /// One round: the held windows of every open stream, scored together;
    /// `None` when no stream held any.
    pub fn round(&self) -> Option<dfd::InferReport> {
        let open: Vec<Arc<LiveStream>> = {
            let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
            streams.retain(|w| w.strong_count() > 0);
            streams.iter().filter_map(Weak::upgrade).collect()
        };
        // Locked in registration order; a stream's own task only ever
        // holds its own lock, so this cannot deadlock.
        let mut scorers: Vec<MutexGuard<'_, Option<Scorer>>> =
            open.iter().map(|s| s.scorer()).collect();
        let waiting: Vec<usize> = (0..open.len())
            .filter(|&i| scorers[i].as_ref().is_some_and(|s| s.pending_windows() > 0))
            .collect();
        if waiting.is_empty() {
            return None;
        }
        let mut streams: Vec<&mut dfd::Stream> = scorers
            .iter_mut()
            .filter_map(|s| s.as_mut()?.stream_mut())
            .filter(|s| s.pending_windows() > 0)
            .collect();
        // A backend error loses the windows of the failed call (each stream
        // still ends with a result); there is nobody to tell but the streams.
        let report = dfd::infer_streams(&mut streams).unwrap_or_default();
        drop(streams);
        drop(scorers);
        for i in waiting {
            open[i].scored.notify_one();
        }
        Some(report)
    }
}
