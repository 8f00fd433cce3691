//! A scheduler on the caller's own thread, run on demand: the other shape
//! of runtime, which the C API's runtime tier stands on.
//!
//! A [`Runtime`](super::Runtime) owns worker threads, each looping until
//! shutdown. Some callers want to spawn tasks on the thread they are on and
//! then run them there until they have all ended. So each thread may have
//! one *local* scheduler (the same [`Scheduler`]: ready queue, epoll,
//! timers), made lazily by the first [`spawn_here`] and kept, with its
//! epoll fd and mailbox eventfd, until the thread exits. [`run_here`] runs
//! it with [`Scheduler::run_until_idle`].
//!
//! Each task brings its own [`CancelPolicy`]. A task is aborted only by
//! [`abort`], and the local scheduler cancels the tasks it never ran to
//! their end when the thread exits (tasks made with
//! [`CancelPolicy::refuse`] are abandoned then, as teardown always does).
//!
//! A task here parks with the runtime's own waits ([`wait_fd`](super::wait_fd),
//! [`try_sleep`](super::task::try_sleep)); those borrow the scheduler and own
//! nothing across a park, so a task made with [`CancelPolicy::refuse`]
//! (which teardown abandons) may use them.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};

use super::arena::Key;
use super::remote::{Message, Remote};
use super::scheduler::{with_scheduler, CancelPolicy, Config, EndHook, Role, Scheduler};
use crate::Backend;

/// This thread's local scheduler; cancels what it never ran to the end
/// when the thread exits.
struct Local(Rc<Scheduler>);

impl Drop for Local {
    fn drop(&mut self) {
        self.0.cancel_remaining();
        // Messages posted from now on (an abort from another thread, a wake
        // of a task that was here) have no loop to read them.
        drop(self.0.remote().close());
    }
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// Why [`run_here`] did not run.
#[derive(Debug)]
pub(crate) enum RunError {
    /// A scheduler loop already runs on this thread (the caller is one of
    /// its tasks, or something such a task called).
    Busy,
    /// The event loop failed (`epoll_wait`).
    Io(io::Error),
}

/// Queues `body` as a task on this thread's scheduler: the one whose loop
/// is running, if the caller is inside it (a runtime worker's, say), else
/// the local scheduler, made now if needed. `stack_size`, `backend` and
/// `on_cancel` are the task's own; `end` hears how it ended if it produced
/// no value (see [`Scheduler::spawn`]). Returns the scheduler's mailbox and
/// the task's key there, for [`abort`]. Fails if the scheduler or the stack
/// cannot be made.
pub(crate) fn spawn_here(
    stack_size: usize,
    backend: Backend,
    on_cancel: CancelPolicy,
    end: Option<Arc<dyn EndHook>>,
    body: impl FnOnce() + 'static,
) -> io::Result<(Arc<Remote>, Key)> {
    let config = Config {
        stack_size,
        backend,
    };
    let spawn = |sched: &Scheduler| {
        let key = sched.spawn_with(config, Role::Work, on_cancel, end, body)?;
        Ok((sched.remote().clone(), key))
    };
    with_scheduler(|running| match running {
        Some(sched) => spawn(sched),
        None => spawn(&*local_scheduler()?),
    })
}

/// Whether the scheduler whose mailbox is `remote` is this thread's: the
/// one whose loop runs here, or this thread's local one.
pub(crate) fn is_this_threads(remote: &Weak<Remote>) -> bool {
    let is = |sched: &Scheduler| std::ptr::eq(remote.as_ptr(), Arc::as_ptr(sched.remote()));
    with_scheduler(|running| running.is_some_and(is))
        || LOCAL
            .try_with(|l| l.borrow().as_ref().is_some_and(|Local(s)| is(s)))
            .unwrap_or(false)
}

/// Aborts task `key` of the scheduler whose mailbox is `remote`
/// ([`Scheduler::abort`]): directly if that is this thread's scheduler
/// (running, or the local one while it does not run), else through the
/// mailbox, which its loop reads between turns (a message to a scheduler
/// that is gone is dropped).
pub(crate) fn abort(remote: &Arc<Remote>, key: Key) {
    let here = with_scheduler(|running| match running {
        Some(sched) if Arc::ptr_eq(sched.remote(), remote) => {
            sched.abort(key);
            true
        }
        Some(_) => false,
        None => {
            let local = LOCAL
                .try_with(|l| l.borrow().as_ref().map(|Local(s)| s.clone()))
                .ok()
                .flatten();
            match local {
                Some(sched) if Arc::ptr_eq(sched.remote(), remote) => {
                    sched.abort(key);
                    true
                }
                _ => false,
            }
        }
    });
    if !here {
        remote.send(Message::Abort(key));
    }
}

/// This thread's local scheduler, made if there is none.
fn local_scheduler() -> io::Result<Rc<Scheduler>> {
    LOCAL.with(|l| {
        let mut local = l.borrow_mut();
        if let Some(Local(sched)) = &*local {
            return Ok(sched.clone());
        }
        let config = Config {
            stack_size: crate::stack::DEFAULT_STACK_SIZE,
            backend: Backend::default(),
        };
        let sched = Scheduler::new(
            config,
            Arc::new(Remote::new()?),
            Arc::new(AtomicU64::new(0)),
        )?;
        *local = Some(Local(sched.clone()));
        Ok(sched)
    })
}

/// This thread's local scheduler, if it has been made (running or not).
pub(crate) fn made_here() -> Option<Rc<Scheduler>> {
    LOCAL.with(|l| l.borrow().as_ref().map(|Local(s)| s.clone()))
}

/// Runs this thread's local scheduler until every task on it has ended
/// (at once if it has none, or was never made).
pub(crate) fn run_here() -> Result<(), RunError> {
    if with_scheduler(|s| s.is_some()) {
        return Err(RunError::Busy);
    }
    let Some(sched) = made_here() else {
        return Ok(());
    };
    sched.run_until_idle().map_err(RunError::Io)
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::os::unix::net::UnixStream;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    use super::{run_here, spawn_here, CancelPolicy, RunError};
    use crate::rt::task::{in_task, try_sleep};
    use crate::rt::{wait_fd, Interest};
    use crate::stack::DEFAULT_STACK_SIZE;
    use crate::Backend;

    /// Spawns a task that is abandoned at teardown, like the C tier's.
    fn spawn(body: impl FnOnce() + 'static) {
        // SAFETY: the tests' bodies hold nothing with a destructor across a
        // park but what they are willing to leak (channel ends, `Rc`s of
        // test state), and park only in the runtime's own waits.
        let refuse = unsafe { CancelPolicy::refuse() };
        spawn_here(DEFAULT_STACK_SIZE, Backend::default(), refuse, None, body)
            .expect("spawn a local task");
    }

    /// Each test runs on a fresh thread: a fresh local scheduler.
    fn on_a_new_thread(test: impl FnOnce() + Send + 'static) {
        std::thread::spawn(test).join().expect("the test thread");
    }

    #[test]
    fn run_here_runs_every_task_to_its_end_then_returns() {
        on_a_new_thread(|| {
            assert!(run_here().is_ok(), "nothing spawned: returns at once");
            let log = Rc::new(RefCell::new(Vec::new()));
            for i in 0..3 {
                let log = log.clone();
                spawn(move || {
                    log.borrow_mut().push(i);
                    try_sleep(Duration::from_millis(5))
                        .expect("in a task")
                        .expect("parks");
                    log.borrow_mut().push(10 + i);
                });
            }
            assert!(log.borrow().is_empty());
            run_here().expect("run");
            assert_eq!(*log.borrow(), [0, 1, 2, 10, 11, 12]);
            // Usable again.
            let l = log.clone();
            spawn(move || l.borrow_mut().push(99));
            run_here().expect("run again");
            assert_eq!(log.borrow().last(), Some(&99));
        });
    }

    #[test]
    fn run_here_inside_a_task_is_busy_and_waits_outside_are_not_tasks() {
        on_a_new_thread(|| {
            assert!(!in_task());
            assert!(try_sleep(Duration::ZERO).is_none());
            let busy = Rc::new(Cell::new(false));
            let b = busy.clone();
            spawn(move || {
                assert!(in_task());
                b.set(matches!(run_here(), Err(RunError::Busy)));
            });
            run_here().expect("run");
            assert!(busy.get());
        });
    }

    #[test]
    fn wait_fd_in_a_local_task_is_level_triggered_and_times_out() {
        on_a_new_thread(|| {
            let (a, b) = UnixStream::pair().expect("socketpair");
            a.set_nonblocking(true).expect("non-blocking");
            std::io::Write::write_all(&mut &b, b"x").expect("write");
            let fd = std::os::fd::AsRawFd::as_raw_fd(&a);
            let outcomes = Rc::new(RefCell::new(Vec::new()));
            let o = outcomes.clone();
            spawn(move || {
                let ms30 = Duration::from_millis(30);
                let t = Some(ms30);
                // Buffered data: ready now, and still ready (nothing read).
                o.borrow_mut()
                    .push(wait_fd(fd, Interest::READABLE, t).is_ok());
                o.borrow_mut()
                    .push(wait_fd(fd, Interest::READABLE, t).is_ok());
                let mut buf = [0u8; 8];
                assert_eq!(std::io::Read::read(&mut &a, &mut buf).expect("read"), 1);
                let start = Instant::now();
                let timed_out = wait_fd(fd, Interest::READABLE, t)
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::TimedOut);
                o.borrow_mut().push(timed_out && start.elapsed() >= ms30);
                drop(b);
            });
            run_here().expect("run");
            assert_eq!(*outcomes.borrow(), [true, true, true]);
        });
    }

    #[test]
    fn an_abandoning_task_parked_on_a_runtime_worker_is_abandoned_at_shutdown() {
        let rt = crate::rt::Runtime::builder()
            .worker_threads(1)
            .build()
            .expect("runtime");
        let (parked_tx, parked_rx) = std::sync::mpsc::channel();
        rt.block_on(move || {
            // C code running in a Rust task spawns on the worker's scheduler.
            spawn(move || {
                parked_tx.send(()).expect("report");
                let _ = try_sleep(Duration::from_secs(60));
                unreachable!("an abandoned task never resumes");
            });
        });
        parked_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the task started");
        let start = Instant::now();
        let report = rt.shutdown(Duration::ZERO);
        assert_eq!(report.cancelled, 1);
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn tasks_never_run_are_freed_when_the_thread_exits() {
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let r = ran.clone();
        on_a_new_thread(move || {
            spawn(move || r.store(true, std::sync::atomic::Ordering::Relaxed));
        });
        assert!(!ran.load(std::sync::atomic::Ordering::Relaxed));
    }
}
