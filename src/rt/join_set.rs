//! [`JoinSet`]: a dynamic set of tasks, joined in the order they end.

use std::fmt;

use super::channel::{self, Receiver, Sender};
use super::join::{AbortHandle, JoinError, JoinHandle};
use super::runtime::Handle;
use super::task;

/// A set of tasks whose results come out in the order the tasks end.
/// Dropping the set aborts every task still in it.
///
/// ```
/// use jmpco::rt::{JoinSet, Runtime};
///
/// let rt = Runtime::builder().worker_threads(1).build()?;
/// let sum = rt.block_on(|| {
///     let mut set = JoinSet::new();
///     for i in 1..=3 {
///         set.spawn(move || i * 10);
///     }
///     let mut sum = 0;
///     while let Some(result) = set.join_next() {
///         sum += result.unwrap();
///     }
///     sum
/// });
/// assert_eq!(sum, 60);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct JoinSet<T> {
    tasks: Vec<(u64, JoinHandle<T>)>,
    next: u64,
    /// Each task sends its number here when its body is done (returned,
    /// unwound, or dropped unstarted).
    ended_tx: Sender<u64>,
    ended_rx: Receiver<u64>,
}

/// Sends its task's number when the task's body is done, however it ends.
struct Ended {
    id: u64,
    tx: Sender<u64>,
}

impl Drop for Ended {
    fn drop(&mut self) {
        // Unbounded: never parks, so this works while unwinding too.
        let _ = self.tx.try_send(self.id);
    }
}

impl<T: 'static> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        let (ended_tx, ended_rx) = channel::unbounded();
        JoinSet {
            tasks: Vec::new(),
            next: 0,
            ended_tx,
            ended_rx,
        }
    }

    fn ended(&mut self) -> Ended {
        self.next += 1;
        Ended {
            id: self.next,
            tx: self.ended_tx.clone(),
        }
    }

    /// Spawns `f` on the caller's worker (see [`spawn`](super::spawn)).
    ///
    /// # Panics
    /// As [`spawn`](super::spawn): off the workers' threads, or without a
    /// stack for the task.
    pub fn spawn<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + 'static,
    {
        let ended = self.ended();
        let id = ended.id;
        let handle = task::spawn(move || {
            let _ended = ended;
            f()
        });
        let abort = handle.abort_handle();
        self.tasks.push((id, handle));
        abort
    }

    /// Spawns `f` on a worker of `runtime` (see [`Handle::spawn`]), from
    /// anywhere.
    pub fn spawn_on<F>(&mut self, runtime: &Handle, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send,
    {
        let ended = self.ended();
        let id = ended.id;
        let handle = runtime.spawn(move || {
            let _ended = ended;
            f()
        });
        let abort = handle.abort_handle();
        self.tasks.push((id, handle));
        abort
    }

    /// Tasks not joined yet.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether every task has been joined.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Waits for the next task to end and returns how it ended; `None` once
    /// the set is empty. A task parks, a thread blocks.
    pub fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        while !self.tasks.is_empty() {
            match self.ended_rx.recv() {
                Ok(id) => {
                    if let Some(result) = self.take(id) {
                        return Some(result);
                    }
                }
                // Only when the calling task cannot park: it is ending.
                Err(_) => return Some(Err(JoinError::Cancelled)),
            }
        }
        None
    }

    /// [`join_next`](Self::join_next) without waiting: `None` if no task
    /// has ended yet (or the set is empty).
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        while let Ok(id) = self.ended_rx.try_recv() {
            if let Some(result) = self.take(id) {
                return Some(result);
            }
        }
        None
    }

    /// Removes task `id` and joins it (its end is a moment away, if not
    /// there yet: its body is done).
    fn take(&mut self, id: u64) -> Option<Result<T, JoinError>> {
        let at = self.tasks.iter().position(|(i, _)| *i == id)?;
        let (_, handle) = self.tasks.swap_remove(at);
        Some(handle.join())
    }

    /// Aborts every task still in the set (they stay in it until joined).
    pub fn abort_all(&mut self) {
        for (_, handle) in &self.tasks {
            handle.abort();
        }
    }

    /// Aborts every task and waits for them all to end.
    pub fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().is_some() {}
    }
}

impl<T: 'static> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        for (_, handle) in &self.tasks {
            handle.abort();
        }
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet")
            .field("len", &self.tasks.len())
            .finish()
    }
}
