//! Handing a stream's windows to another thread for inference.
//!
//! A file scorer on two cores computes the front end of the next windows
//! while the network runs on the previous ones: the stream (deferred) hands
//! its waiting windows out as a [`Batch`], any thread runs it
//! ([`Batch::infer`]), and the stream takes the results back
//! ([`Stream::apply_batch`](super::Stream::apply_batch)).
//!
//! Results may come back in any order; the stream accounts them in window
//! order, so scores, the per-window queue and `speech_seconds` are exactly
//! those of a stream that scored every window itself. The [`Ledger`] keeps
//! what came back early (or was scored on the stream's own thread meanwhile)
//! until the windows before it are back.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result, Status};
use crate::model::Model;

/// Results kept waiting for an earlier batch to come back; past this many
/// windows the oldest batch out is written off (its windows are lost, and
/// applying it later says so), so a batch never returned cannot grow a
/// stream without bound.
pub const MAX_HELD_WINDOWS: usize = 1024;

/// Which stream, and which of its lives (a reset starts a new one), a batch
/// belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Owner {
    stream: u64,
    generation: u64,
}

impl Owner {
    pub(super) fn new() -> Owner {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Owner {
            stream: NEXT.fetch_add(1, Ordering::Relaxed),
            generation: 0,
        }
    }
}

/// Windows handed out by [`Stream::take_batch`](super::Stream::take_batch):
/// the backend input of each (features, or samples when the backend
/// computes the front end). `Send`: run it on any thread, then give it back
/// to the stream it came from.
pub struct Batch {
    model: Model,
    owner: Owner,
    seq: u64,
    input: Vec<f32>,
    windows: usize,
    result: Option<Result<Scored>>,
}

/// Calibrated logits and raw outputs of a batch's windows.
pub(super) struct Scored {
    pub(super) logits: Vec<f32>,
    pub(super) raw: Vec<f32>,
}

impl Batch {
    /// Windows in the batch.
    pub fn windows(&self) -> usize {
        self.windows
    }

    /// Runs the network on the batch's windows and keeps the result for
    /// [`Stream::apply_batch`](super::Stream::apply_batch) (which runs a
    /// batch not run yet itself). Running it again does nothing.
    pub fn infer(&mut self) -> Result<()> {
        if self.result.is_none() {
            let mut logits = vec![0.0; self.windows];
            let mut raw = Vec::new();
            let run = self
                .model
                .run_windows(&self.input, self.windows, &mut raw, &mut logits);
            self.result = Some(run.map(|()| Scored { logits, raw }));
        }
        match &self.result {
            Some(Err(e)) => Err(e.clone()),
            _ => Ok(()),
        }
    }
}

/// One group of windows not yet accounted, in window order.
struct Entry {
    /// The batch number when handed out; `None`: scored on the stream's
    /// own thread while earlier windows were out.
    seq: Option<u64>,
    spans: Vec<(u64, u64)>,
    result: Option<Scored>,
}

/// Windows now accounted in order: their spans and results, oldest first.
pub(super) type Groups = Vec<(Vec<(u64, u64)>, Scored)>;

/// The windows a stream handed out and the results waiting on them.
pub(super) struct Ledger {
    owner: Owner,
    next_seq: u64,
    entries: VecDeque<Entry>,
    /// Windows in `entries` that have results.
    held: usize,
    /// Spare input buffers, reused by the next batches.
    spare: Vec<Vec<f32>>,
}

impl Ledger {
    pub(super) fn new() -> Ledger {
        Ledger {
            owner: Owner::new(),
            next_seq: 0,
            entries: VecDeque::new(),
            held: 0,
            spare: Vec::new(),
        }
    }

    /// Whether results must wait: windows before them are out.
    pub(super) fn busy(&self) -> bool {
        !self.entries.is_empty()
    }

    /// Batches handed out and not given back: the entries without results
    /// (results scored on the stream's thread always come with theirs).
    pub(super) fn out(&self) -> usize {
        self.entries.iter().filter(|e| e.result.is_none()).count()
    }

    /// Records windows handed out and packs their input into a batch.
    pub(super) fn hand_out(
        &mut self,
        model: &Model,
        spans: Vec<(u64, u64)>,
        input: &[f32],
    ) -> Batch {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(input);
        let seq = self.next_seq;
        self.next_seq += 1;
        let windows = spans.len();
        self.entries.push_back(Entry {
            seq: Some(seq),
            spans,
            result: None,
        });
        Batch {
            model: model.clone(),
            owner: self.owner,
            seq,
            input: buf,
            windows,
            result: None,
        }
    }

    /// Keeps results scored on the stream's thread behind the windows out.
    /// Returns the groups this completed (see [`Ledger::write_off`]).
    pub(super) fn hold(&mut self, spans: Vec<(u64, u64)>, scored: Scored) -> Groups {
        self.held += spans.len();
        self.entries.push_back(Entry {
            seq: None,
            spans,
            result: Some(scored),
        });
        self.write_off(MAX_HELD_WINDOWS)
    }

    /// Writes off the oldest batches out while more than `limit` windows
    /// wait behind them (`limit` 0: every batch out; giving one back later
    /// fails), and returns the groups this completed.
    pub(super) fn write_off(&mut self, limit: usize) -> Groups {
        let mut done = self.ready();
        while !self.entries.is_empty() && (limit == 0 || self.held > limit) {
            // The front is out (a front with results is accounted at once).
            self.entries.pop_front();
            done.extend(self.ready());
        }
        done
    }

    /// Takes a batch back: the groups now complete (account them even when
    /// the batch failed), and whether it was scored. A batch of a life of
    /// the stream that a reset ended is ignored.
    pub(super) fn give_back(&mut self, mut batch: Batch) -> (Groups, Result<()>) {
        if batch.owner.stream != self.owner.stream {
            let e = Error::new(
                Status::InvalidArg,
                "the batch was taken from another stream",
            );
            return (Vec::new(), Err(e));
        }
        if batch.owner.generation != self.owner.generation {
            return (Vec::new(), Ok(()));
        }
        let Some(at) = self.entries.iter().position(|e| e.seq == Some(batch.seq)) else {
            let e = Error::new(
                Status::InvalidArg,
                format!(
                    "batch {} was written off (more than {MAX_HELD_WINDOWS} later windows \
                     waited on it, or Stream::write_off_batches): its {} windows are lost",
                    batch.seq, batch.windows
                ),
            );
            return (Vec::new(), Err(e));
        };
        let outcome = batch.infer();
        if self.spare.len() < 2 {
            self.spare.push(std::mem::take(&mut batch.input));
        }
        match batch.result.take() {
            Some(Ok(scored)) => {
                self.held += scored.logits.len();
                self.entries[at].result = Some(scored);
                (self.write_off(MAX_HELD_WINDOWS), Ok(()))
            }
            _ => {
                let lost = self.entries.remove(at).map_or(0, |e| e.spans.len());
                let e = outcome
                    .err()
                    .unwrap_or_else(|| Error::new(Status::Backend, "the batch has no result"));
                let e = Error::new(e.status, format!("{} ({lost} windows lost)", e.message));
                (self.ready(), Err(e))
            }
        }
    }

    /// Takes the complete groups at the front, oldest first.
    fn ready(&mut self) -> Groups {
        let mut done = Vec::new();
        while self.entries.front().is_some_and(|e| e.result.is_some()) {
            let e = self.entries.pop_front().expect("front exists");
            let scored = e.result.expect("checked");
            self.held -= e.spans.len();
            if !e.spans.is_empty() {
                done.push((e.spans, scored));
            }
        }
        done
    }

    /// Forgets every window out: batches taken before are ignored when
    /// given back.
    pub(super) fn reset(&mut self) {
        self.entries.clear();
        self.held = 0;
        self.owner.generation += 1;
    }
}
