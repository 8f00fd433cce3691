//! A scheduler on the caller's own thread, run on demand: what the C API's
//! runtime tier (`jmpco_spawn`, `jmpco_run`, `jmpco_wait_fd`,
//! `jmpco_sleep_ms`) stands on.
//!
//! A [`Runtime`](super::Runtime) owns worker threads, each looping until
//! shutdown. A C program wants the other shape: spawn coroutines on the
//! thread it is on, then run them there until they have all ended. So each
//! thread may have one *local* scheduler (the same [`Scheduler`]: ready
//! queue, epoll, timers), made lazily by the first [`spawn_local`] and
//! kept, with its epoll fd and mailbox eventfd, until the thread exits.
//! [`run_local`] runs it with [`Scheduler::run_until_idle`].
//!
//! Tasks spawned here are *foreign*: their bodies are C, so they are never
//! unwound. The local scheduler only drops tasks when the thread exits
//! with tasks it never ran; those are abandoned (their stacks freed as
//! they are).
//!
//! The waits ([`wait_fd_in_task`], [`sleep_in_task`]) work in any task of
//! this thread's running scheduler (a local one, or a runtime worker's when
//! C code runs in a Rust task). They borrow the scheduler (`with_task`) and
//! own nothing across the suspension, so a task parked in them can be
//! abandoned without leaking the scheduler. A task that cannot park (being
//! cancelled, or unwinding) gets [`WaitError::Cancelled`].

use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::remote::Remote;
use super::scheduler::{with_scheduler, with_task, Config, ParkRefused, Scheduler};
use super::timer::deadline_after;
use super::Interest;
use crate::Backend;

/// This thread's local scheduler; cancels (abandons) what it never ran
/// when the thread exits.
struct Local(Rc<Scheduler>);

impl Drop for Local {
    fn drop(&mut self) {
        self.0.cancel_remaining();
    }
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// Why [`run_local`] did not run.
#[derive(Debug)]
pub(crate) enum RunError {
    /// A scheduler loop already runs on this thread (the caller is one of
    /// its tasks, or something such a task called).
    Busy,
    /// The event loop failed (`epoll_wait`).
    Io(io::Error),
}

/// Why a wait did not end with the fd ready.
#[derive(Debug)]
pub(crate) enum WaitError {
    /// The caller is not a task of a running scheduler of this thread.
    NotTask,
    /// The timeout passed first.
    TimedOut,
    /// The fd could not be polled or registered (epoll refuses it), or was
    /// closed while the task waited.
    Refused,
    /// The task cannot park: it is being cancelled, or unwinding a panic.
    Cancelled,
}

/// Queues `body` as a foreign (C) task on this thread's scheduler: the one
/// whose loop is running, if the caller is inside it, else the local
/// scheduler, made now if needed. `stack_size` and `backend` are the
/// task's own. Fails if the scheduler or the stack cannot be made.
pub(crate) fn spawn_local(
    stack_size: usize,
    backend: Backend,
    body: impl FnOnce() + 'static,
) -> io::Result<()> {
    let config = Config {
        stack_size,
        backend,
    };
    with_scheduler(|running| match running {
        Some(sched) => sched.spawn_with(config, false, true, None, body),
        None => local_scheduler()?.spawn_with(config, false, true, None, body),
    })
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

/// Runs this thread's local scheduler until every task on it has ended
/// (at once if it has none, or was never made).
pub(crate) fn run_local() -> Result<(), RunError> {
    if with_scheduler(|s| s.is_some()) {
        return Err(RunError::Busy);
    }
    let Some(sched) = LOCAL.with(|l| l.borrow().as_ref().map(|Local(s)| s.clone())) else {
        return Ok(());
    };
    sched.run_until_idle().map_err(RunError::Io)
}

/// Whether the caller is a task of this thread's running scheduler.
pub(crate) fn in_task() -> bool {
    with_task(|task| task.is_some())
}

/// Parks the calling task until `fd` is ready for `interest` (at once if it
/// is ready now: level semantics) or `timeout` passes.
pub(crate) fn wait_fd_in_task(
    fd: RawFd,
    interest: Interest,
    timeout: Option<Duration>,
) -> Result<(), WaitError> {
    if !in_task() {
        return Err(WaitError::NotTask);
    }
    match super::wait_fd(fd, interest, timeout) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(WaitError::TimedOut),
        Err(e) if ParkRefused::is(&e) => Err(WaitError::Cancelled),
        Err(_) => Err(WaitError::Refused),
    }
}

/// Parks the calling task for at least `duration`; zero yields: the
/// other ready tasks run first.
pub(crate) fn sleep_in_task(duration: Duration) -> Result<(), WaitError> {
    let deadline = deadline_after(duration);
    with_task(|task| {
        let Some((sched, _)) = task else {
            return Err(WaitError::NotTask);
        };
        if duration.is_zero() {
            return sched.yield_now().map_err(|_| WaitError::Cancelled);
        }
        while deadline.is_none_or(|d| Instant::now() < d) {
            sched.park(deadline).map_err(|_| WaitError::Cancelled)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::os::unix::net::UnixStream;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    use super::{
        in_task, run_local, sleep_in_task, spawn_local, wait_fd_in_task, RunError, WaitError,
    };
    use crate::rt::Interest;
    use crate::stack::DEFAULT_STACK_SIZE;
    use crate::Backend;

    fn spawn(body: impl FnOnce() + 'static) {
        spawn_local(DEFAULT_STACK_SIZE, Backend::default(), body).expect("spawn a local task");
    }

    /// Each test runs on a fresh thread: a fresh local scheduler.
    fn on_a_new_thread(test: impl FnOnce() + Send + 'static) {
        std::thread::spawn(test).join().expect("the test thread");
    }

    #[test]
    fn run_local_runs_every_task_to_its_end_then_returns() {
        on_a_new_thread(|| {
            assert!(run_local().is_ok(), "nothing spawned: returns at once");
            let log = Rc::new(RefCell::new(Vec::new()));
            for i in 0..3 {
                let log = log.clone();
                spawn(move || {
                    log.borrow_mut().push(i);
                    sleep_in_task(Duration::from_millis(5)).expect("in a task");
                    log.borrow_mut().push(10 + i);
                });
            }
            assert!(log.borrow().is_empty());
            run_local().expect("run");
            assert_eq!(*log.borrow(), [0, 1, 2, 10, 11, 12]);
            // Usable again.
            let l = log.clone();
            spawn(move || l.borrow_mut().push(99));
            run_local().expect("run again");
            assert_eq!(log.borrow().last(), Some(&99));
        });
    }

    #[test]
    fn run_local_inside_a_task_is_busy_and_waits_outside_are_not_tasks() {
        on_a_new_thread(|| {
            assert!(!in_task());
            assert!(matches!(
                sleep_in_task(Duration::ZERO),
                Err(WaitError::NotTask)
            ));
            let busy = Rc::new(Cell::new(false));
            let b = busy.clone();
            spawn(move || {
                assert!(in_task());
                b.set(matches!(run_local(), Err(RunError::Busy)));
            });
            run_local().expect("run");
            assert!(busy.get());
        });
    }

    #[test]
    fn wait_fd_in_task_is_level_triggered_and_times_out() {
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
                    .push(wait_fd_in_task(fd, Interest::READABLE, t).is_ok());
                o.borrow_mut()
                    .push(wait_fd_in_task(fd, Interest::READABLE, t).is_ok());
                let mut buf = [0u8; 8];
                assert_eq!(std::io::Read::read(&mut &a, &mut buf).expect("read"), 1);
                let start = Instant::now();
                let timed_out = matches!(
                    wait_fd_in_task(fd, Interest::READABLE, t),
                    Err(WaitError::TimedOut)
                );
                o.borrow_mut().push(timed_out && start.elapsed() >= ms30);
                drop(b);
            });
            run_local().expect("run");
            assert_eq!(*outcomes.borrow(), [true, true, true]);
        });
    }

    #[test]
    fn a_foreign_task_parked_on_a_runtime_worker_is_abandoned_at_shutdown() {
        let rt = crate::rt::Runtime::builder()
            .worker_threads(1)
            .build()
            .expect("runtime");
        let (parked_tx, parked_rx) = std::sync::mpsc::channel();
        rt.block_on(move || {
            // C code running in a Rust task spawns on the worker's scheduler.
            spawn(move || {
                parked_tx.send(()).expect("report");
                let _ = sleep_in_task(Duration::from_secs(60));
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
