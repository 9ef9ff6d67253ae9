//! Handing a stream's windows to another thread (`Stream::take_batch`,
//! `Batch::infer`, `Stream::apply_batch`), with the built-in model on the
//! CPU plugin: whatever the thread or the order the batches come back in,
//! the stream's scores and per-window results are those it gets scoring
//! every window itself.

mod common;

use std::sync::mpsc;

use common::*;
use dfd::model::MAX_BATCH;
use dfd::stream::MAX_HELD_WINDOWS;
use dfd::{Batch, Model, Score, Status, Stream, WindowScore};

fn model() -> Model {
    Model::load_builtin(&cpu_options()).unwrap()
}

/// `seconds` of the committed 16 kHz speech clip, looped at a different
/// gain each time so that windows differ.
fn audio(seconds: usize) -> Vec<f32> {
    let clip = speech();
    (0..)
        .flat_map(|k| {
            let gain = 0.3 + 0.15 * (k % 5) as f32;
            clip.iter().map(move |x| x * gain)
        })
        .take(seconds * 16000)
        .collect()
}

/// Pushes `pcm` in 20 ms chunks; `between` sees the stream after each.
fn push_all(s: &mut Stream, pcm: &[f32], mut between: impl FnMut(&mut Stream)) {
    for c in pcm.chunks(320) {
        s.push(c).unwrap();
        between(s);
    }
}

/// A deferred 16 kHz mono stream: its windows wait to be taken.
fn deferred(model: &Model) -> Stream {
    let mut s = Stream::new(model, 16000, 1).unwrap();
    s.set_deferred(true).unwrap();
    s
}

/// The stream scoring every window itself.
fn alone(model: &Model, pcm: &[f32]) -> (Score, Vec<WindowScore>) {
    let mut s = Stream::new(model, 16000, 1).unwrap();
    push_all(&mut s, pcm, |_| {});
    s.flush().unwrap();
    (s.score(), take_windows(&mut s))
}

fn assert_same(got: &(Score, Vec<WindowScore>), want: &(Score, Vec<WindowScore>), what: &str) {
    assert!(got.0.windows > 5, "{what}: too few windows to tell");
    assert_eq!(got.0, want.0, "{what}");
    assert_eq!(got.1, want.1, "{what}");
}

#[test]
fn batches_run_on_another_thread_give_the_scores_of_the_stream_alone() {
    let model = model();
    let pcm = audio(40);
    let want = alone(&model, &pcm);
    let mut s = deferred(&model);
    let (to_net, jobs) = mpsc::channel::<Batch>();
    let (to_stream, done) = mpsc::channel::<Batch>();
    let net = std::thread::spawn(move || {
        for mut b in jobs {
            b.infer().unwrap();
            to_stream.send(b).unwrap();
        }
    });
    let mut windows = Vec::new();
    let mut sent = 0;
    push_all(&mut s, &pcm, |s| {
        while let Some(b) = s.take_batch() {
            to_net.send(b).unwrap();
            sent += 1;
        }
        while let Ok(b) = done.try_recv() {
            s.apply_batch(b).unwrap();
        }
        windows.extend(take_windows(s));
    });
    // flush scores its last windows itself; they wait behind the batches out.
    s.flush().unwrap();
    assert!(s.take_batch().is_none());
    drop(to_net);
    for b in done {
        s.apply_batch(b).unwrap();
    }
    net.join().unwrap();
    assert!(sent > 30, "{sent} batches: the windows did not go out");
    assert_eq!(s.batches_out(), 0);
    windows.extend(take_windows(&mut s));
    assert_same(&(s.score(), windows), &want, "other thread");
}

#[test]
fn batches_given_back_in_any_order_are_accounted_in_window_order() {
    let model = model();
    let pcm = audio(30);
    let want = alone(&model, &pcm);
    let mut s = deferred(&model);
    let mut out = Vec::new();
    push_all(&mut s, &pcm, |s| out.extend(s.take_batch()));
    s.flush().unwrap();
    assert!(out.len() > 20);
    assert_eq!(s.batches_out(), out.len());
    // Nothing is accounted while the first batch is out.
    let first = out.remove(0);
    for b in out.into_iter().rev() {
        s.apply_batch(b).unwrap();
        assert_eq!(s.score().windows, 0);
        assert!(s.next_window().is_none());
        assert_eq!(s.score().unscored, None, "windows are out, not missing");
    }
    s.apply_batch(first).unwrap();
    assert_same(&(s.score(), take_windows(&mut s)), &want, "reverse order");
}

#[test]
fn windows_scored_on_the_streams_thread_wait_behind_the_batches_out() {
    let model = model();
    let pcm = audio(60);
    let want = alone(&model, &pcm);
    let mut s = deferred(&model);
    let split = pcm.len() / 3;
    let mut out = Vec::new();
    push_all(&mut s, &pcm[..split], |s| out.extend(s.take_batch()));
    let taken: usize = out.iter().map(Batch::windows).sum();
    assert!(out.len() > 10);
    // One push of 40 s: the stream fills its queue (MAX_BATCH) and scores
    // it itself, more than once, while the batches are out.
    s.push(&pcm[split..]).unwrap();
    assert!(want.0.windows as usize - taken > 2 * MAX_BATCH);
    assert_eq!(s.score().windows, 0, "later windows must wait");
    s.flush().unwrap();
    for b in out {
        s.apply_batch(b).unwrap();
    }
    assert_same(
        &(s.score(), take_windows(&mut s)),
        &want,
        "scored meanwhile",
    );
}

#[test]
fn a_batch_taken_before_a_reset_is_ignored() {
    let model = model();
    let pcm = audio(12);
    let mut s = deferred(&model);
    push_all(&mut s, &pcm, |_| {});
    let old = s.take_batch().expect("windows wait");
    s.reset();
    assert_eq!(s.batches_out(), 0);
    s.apply_batch(old).unwrap();
    assert_eq!(s.score().windows, 0, "the old audio is forgotten");
    // The stream works as new.
    let want = alone(&model, &pcm[..8 * 16000]);
    push_all(&mut s, &pcm[..8 * 16000], |s| {
        if let Some(b) = s.take_batch() {
            s.apply_batch(b).unwrap();
        }
    });
    s.flush().unwrap();
    assert_same(&(s.score(), take_windows(&mut s)), &want, "after reset");
}

#[test]
fn a_batch_of_another_stream_is_refused_and_stays_out() {
    let model = model();
    let pcm = audio(6);
    let mut a = Stream::new(&model, 16000, 1).unwrap();
    let mut b = Stream::new(&model, 16000, 1).unwrap();
    a.set_deferred(true).unwrap();
    push_all(&mut a, &pcm, |_| {});
    let batch = a.take_batch().expect("windows wait");
    let e = b.apply_batch(batch).unwrap_err();
    assert_eq!(e.status, Status::InvalidArg);
    assert!(e.message.contains("another stream"), "{e}");
    // The batch is gone; its stream gives up on it and goes on.
    assert_eq!(a.batches_out(), 1);
    assert_eq!(a.write_off_batches(), 1);
    assert_eq!(a.batches_out(), 0);
}

/// A deferred stream of `pcm` whose first batch (after `first` seconds)
/// is kept out while every later batch goes and comes back at once;
/// flushed. Returns the stream, the kept batch and the windows of `pcm`
/// scored alone.
fn one_batch_kept_out(model: &Model, pcm: &[f32], first: usize) -> (Stream, Batch, u64) {
    let all = alone(model, pcm).0.windows;
    let mut s = deferred(model);
    push_all(&mut s, &pcm[..first * 16000], |_| {});
    let kept = s.take_batch().expect("windows wait");
    push_all(&mut s, &pcm[first * 16000..], |s| {
        if let Some(b) = s.take_batch() {
            s.apply_batch(b).unwrap();
        }
    });
    s.flush().unwrap();
    (s, kept, all)
}

#[test]
fn writing_off_a_lost_batch_accounts_what_waited_on_it() {
    let (mut s, lost, all) = one_batch_kept_out(&model(), &audio(30), 5);
    assert_eq!(s.score().windows, 0, "everything waits on the lost batch");
    assert_eq!(s.write_off_batches(), 1);
    assert_eq!(s.score().windows + lost.windows() as u64, all);
    let e = s.apply_batch(lost).unwrap_err();
    assert!(e.message.contains("written off"), "{e}");
}

#[test]
fn a_stuck_batch_is_written_off_while_later_batches_come_back() {
    let (mut s, stuck, all) = one_batch_kept_out(&model(), &audio(MAX_HELD_WINDOWS + 40), 4);
    assert_eq!(s.batches_out(), 0, "written off");
    assert_eq!(s.score().windows + stuck.windows() as u64, all);
    assert!(s.apply_batch(stuck).is_err());
}

#[test]
fn a_batch_never_given_back_is_written_off_after_max_held_windows() {
    let model = model();
    // The first batch, then more than MAX_HELD_WINDOWS windows (hop 1 s).
    let seconds = MAX_HELD_WINDOWS + 40;
    let pcm = audio(seconds);
    let mut s = deferred(&model);
    push_all(&mut s, &pcm[..4 * 16000], |_| {});
    let lost = s.take_batch().expect("windows wait");
    let lost_windows = lost.windows() as u64;
    push_all(&mut s, &pcm[4 * 16000..], |_| {});
    s.flush().unwrap();
    assert_eq!(s.batches_out(), 0, "written off");
    let alone = alone(&model, &pcm).0;
    assert_eq!(s.score().windows + lost_windows, alone.windows);
    assert!(
        s.score().windows as usize > MAX_HELD_WINDOWS,
        "the windows after it are accounted"
    );
    let e = s.apply_batch(lost).unwrap_err();
    assert_eq!(e.status, Status::InvalidArg);
    assert!(e.message.contains("lost"), "{e}");
}

#[test]
fn a_batch_is_send() {
    fn send<T: Send>() {}
    send::<Batch>();
}
