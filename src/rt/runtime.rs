//! [`Runtime`]: worker threads, each with its own scheduler; the builder,
//! the [`Handle`] other threads spawn through, serving, and shutdown.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::panic;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use super::join::{self, JoinError, JoinHandle};
use super::net::{socket, TcpListener, TcpStream};
use super::remote::{Message, Remote};
use super::scheduler::{with_scheduler, CancelCount, Config, Role, Scheduler};
use super::task::{self, spawn_on};
use super::timer::deadline_after;
use crate::stack::{DEFAULT_STACK_SIZE, MIN_STACK_SIZE};
use crate::{Backend, Coroutine, Yielder};

/// Configures a [`Runtime`].
#[derive(Clone, Debug)]
pub struct Builder {
    worker_threads: usize,
    config: Config,
    name: String,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            worker_threads: thread::available_parallelism().map_or(1, |n| n.get()),
            config: Config {
                stack_size: DEFAULT_STACK_SIZE,
                backend: Backend::default(),
            },
            name: "jmpco-worker".into(),
        }
    }
}

impl Builder {
    /// Defaults: one worker per core, [`DEFAULT_STACK_SIZE`] stacks, the
    /// default backend ([`Backend::Sjlj`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// How many worker threads (at least 1).
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.worker_threads = n.max(1);
        self
    }

    /// Usable stack bytes of every task, rounded up to whole pages (see
    /// [`crate::Builder::stack_size`]). [`build`](Self::build) refuses a size
    /// below [`MIN_STACK_SIZE`] (`InvalidInput`), and one no stack can be had
    /// for, with the stack's error: `InvalidInput` for a size that does not
    /// fit in an `isize` once rounded, the mapping's error (say,
    /// `OutOfMemory`) for one too large to map.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.config.stack_size = bytes;
        self
    }

    /// The switch every task uses. [`build`](Self::build) fails if it
    /// cannot run here (see [`crate::Builder::build`]).
    pub fn backend(mut self, backend: Backend) -> Self {
        self.config.backend = backend;
        self
    }

    /// The worker threads' name prefix (`<name>-<index>`).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Starts the workers; each has made its epoll instance when this
    /// returns.
    ///
    /// # Errors
    /// `InvalidInput` for a [stack size](Self::stack_size) below
    /// [`MIN_STACK_SIZE`]. Before any worker starts, one coroutine is made
    /// (and dropped) with the tasks' stack size and backend, so a setting no
    /// task could run with fails here, with that coroutine's error: a stack
    /// too large to map, or a [backend](Self::backend) that cannot run here.
    /// Then any error making a worker (its thread, its epoll instance).
    pub fn build(self) -> io::Result<Runtime> {
        probe_tasks(self.config)?;
        let cancelled: CancelCount = Arc::new(AtomicU64::new(0));
        let mut remotes = Vec::new();
        let mut threads = Vec::new();
        let shutdown_all = |remotes: &[Arc<Remote>], threads: Vec<thread::JoinHandle<()>>| {
            for r in remotes {
                r.send(Message::Shutdown(Some(Instant::now())));
            }
            for t in threads {
                let _ = t.join();
            }
        };
        for i in 0..self.worker_threads {
            let remote = match Remote::new() {
                Ok(r) => Arc::new(r),
                Err(e) => {
                    shutdown_all(&remotes, threads);
                    return Err(e);
                }
            };
            let (ready_tx, ready_rx) = mpsc::channel();
            let (config, r, c) = (self.config, remote.clone(), cancelled.clone());
            let spawned = thread::Builder::new()
                .name(format!("{}-{i}", self.name))
                .spawn(move || worker(config, r, c, ready_tx));
            let outcome = match spawned {
                Ok(t) => {
                    threads.push(t);
                    ready_rx
                        .recv()
                        .unwrap_or_else(|_| Err(io::Error::other("jmpco: a worker died")))
                }
                Err(e) => Err(e),
            };
            remotes.push(remote);
            if let Err(e) = outcome {
                shutdown_all(&remotes, threads);
                return Err(e);
            }
        }
        Ok(Runtime {
            handle: Handle {
                shared: Arc::new(Shared {
                    remotes,
                    next: AtomicUsize::new(0),
                }),
            },
            threads,
            cancelled,
        })
    }
}

/// Fails if no task could run with `config`: its stack size is below the
/// minimum, or one coroutine with its settings cannot be made here.
fn probe_tasks(config: Config) -> io::Result<()> {
    if config.stack_size < MIN_STACK_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "jmpco: runtime task stack size {} is below the minimum of {MIN_STACK_SIZE} bytes \
                 (jmpco::stack::MIN_STACK_SIZE)",
                config.stack_size
            ),
        ));
    }
    // A stack of its own, unmapped on drop, so the probe leaves nothing in
    // this thread's stack cache; a pooled stack fails for the same sizes.
    let probe = Coroutine::<(), (), ()>::builder()
        .stack_size(config.stack_size)
        .backend(config.backend)
        .pooled(false)
        .build(|_: &Yielder<(), ()>, ()| ());
    match probe {
        Ok(co) => {
            drop(co);
            Ok(())
        }
        Err(crate::Error::Io(e)) => Err(io::Error::new(
            e.kind(),
            format!(
                "jmpco: no runtime task can run with stack size {} and the {} backend: {e}",
                config.stack_size, config.backend
            ),
        )),
        Err(other) => Err(io::Error::other(format!(
            "jmpco: no runtime task can run with stack size {} and the {} backend: {other}",
            config.stack_size, config.backend
        ))),
    }
}

/// A worker thread: make the scheduler, report, run until shutdown.
fn worker(
    config: Config,
    remote: Arc<Remote>,
    cancelled: CancelCount,
    ready: mpsc::Sender<io::Result<()>>,
) {
    let sched = match Scheduler::new(config, remote, cancelled) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    if let Err(e) = sched.run() {
        eprintln!("jmpco: worker stopped: epoll_wait failed: {e}");
    }
}

struct Shared {
    remotes: Vec<Arc<Remote>>,
    next: AtomicUsize,
}

/// A `Send + Sync` handle to a runtime's workers: spawns from any thread.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// Spawns `f` as a task on the next worker (round robin).
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let n = self.shared.remotes.len();
        let i = self.shared.next.fetch_add(1, Ordering::Relaxed) % n;
        self.spawn_on(i, f)
    }

    /// Spawns `f` as a task on worker `index` (modulo the worker count).
    pub fn spawn_on<F, T>(&self, index: usize, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let remote = &self.shared.remotes[index % self.shared.remotes.len()];
        let (handle, completer) = join::channel_on(remote);
        let aborter = handle.abort_handle();
        remote.send(Message::Spawn(Box::new(move || {
            let end = completer.end_hook();
            // The completer stays here until the body takes it, so that if no
            // task can be made (no stack) it is still here to say why: the
            // failed spawn drops the body, and its clone of the slot, unrun.
            let slot = Rc::new(Cell::new(Some(completer)));
            let body_slot = slot.clone();
            let spawned = with_scheduler(|sched| {
                let sched = sched.expect("a spawn message runs on its worker");
                let key = sched.spawn(Role::Work, end, move || {
                    if let Some(completer) = body_slot.take() {
                        let value = f();
                        task::drop_task_locals();
                        completer.complete(Ok(value));
                    }
                })?;
                aborter.bind(sched.remote(), key);
                Ok(())
            });
            if let Err(e) = spawned {
                if let Some(completer) = slot.take() {
                    completer.complete(Err(JoinError::NotStarted(e)));
                }
            }
        })));
        handle
    }

    /// How many workers the runtime has.
    pub fn worker_threads(&self) -> usize {
        self.shared.remotes.len()
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("worker_threads", &self.worker_threads())
            .finish()
    }
}

/// What [`Runtime::shutdown`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Tasks cancelled (their stacks unwound) because they had not ended:
    /// accept loops, and connections still live at the deadline.
    pub cancelled: u64,
}

/// N worker threads, each running its own scheduler (ready queue, epoll,
/// timers). Tasks never migrate between workers.
///
/// Dropping the runtime shuts it down with no grace period: every task is
/// cancelled, and the drop returns when every worker thread has exited.
///
/// A runtime dropped in one of its own tasks cannot wait for the worker it
/// runs on, which exits only after the task has returned to its loop. Such
/// a drop tells every worker to shut down with no grace, joins the other
/// workers (their tasks are cancelled), and leaves its own worker to exit by
/// itself: the dropping task runs on until it returns, or until it parks,
/// where it is cancelled; that worker's other tasks are cancelled then. There
/// is no [`ShutdownReport`] that way; [`shutdown`](Self::shutdown) must be
/// called from outside the runtime.
pub struct Runtime {
    handle: Handle,
    threads: Vec<thread::JoinHandle<()>>,
    cancelled: CancelCount,
}

impl Runtime {
    /// A builder with the defaults.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A runtime with the defaults.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A handle for spawning from other threads.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns `f` on the next worker; see [`Handle::spawn`].
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.handle.spawn(f)
    }

    /// Runs `f` as a task on the first worker and blocks this thread until
    /// it returns; a panic in `f` continues here.
    ///
    /// # Panics
    /// If `f` panics, or if its task was cancelled or could not be started
    /// (the message then says which, and why).
    pub fn block_on<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.handle.spawn_on(0, f).join() {
            Ok(v) => v,
            Err(JoinError::Panicked(p)) => panic::resume_unwind(p),
            Err(JoinError::Cancelled) => panic!("jmpco: block_on task was cancelled"),
            Err(JoinError::NotStarted(e)) => {
                panic!("jmpco: block_on task could not be started: {e}")
            }
        }
    }

    /// Serves TCP on `addr`: every worker gets its own `SO_REUSEPORT`
    /// listener on the same port (so the kernel spreads connections among
    /// workers) and an accept loop that spawns `handler(stream)` as a task
    /// per connection, on that worker. Returns the bound address (useful
    /// with port 0). The accept loops stop when shutdown begins; a failed
    /// accept (say, out of fds) is logged and retried after 10 ms.
    pub fn serve<H>(&self, addr: SocketAddr, handler: H) -> io::Result<SocketAddr>
    where
        H: Fn(TcpStream) + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        // Bind every listener here, so errors surface now and the port is
        // known; they are moved to the workers as std sockets.
        let first = std::net::TcpListener::from(socket::listen(&addr, true)?);
        let bound = first.local_addr()?;
        let mut listeners = vec![first];
        for _ in 1..self.handle.worker_threads() {
            listeners.push(std::net::TcpListener::from(socket::listen(&bound, true)?));
        }
        for (i, std_listener) in listeners.into_iter().enumerate() {
            let handler = handler.clone();
            let remote = &self.handle.shared.remotes[i];
            remote.send(Message::Spawn(Box::new(move || {
                let spawned = with_scheduler(|sched| {
                    let sched = sched.expect("a spawn message runs on its worker");
                    spawn_on(sched, Role::Service, move || {
                        accept_loop(std_listener, handler)
                    })
                });
                if let Err(e) = spawned {
                    eprintln!("jmpco: cannot start an accept loop: {e}");
                }
            })));
        }
        Ok(bound)
    }

    /// Graceful shutdown: every worker stops accepting (its accept loops
    /// are cancelled, closing the listeners), lets live tasks run until
    /// `grace` has passed (they can see [`task::shutdown_requested`]), then
    /// cancels the rest (their stacks unwind, so their sockets close).
    /// A grace too large for an `Instant` (`Duration::MAX`) has no deadline:
    /// shutdown then waits for every task to end by itself. Returns when
    /// every worker thread has exited.
    ///
    /// # Panics
    /// At once, before any worker is told anything, if called from one of
    /// this runtime's own tasks: it would wait for its own worker thread,
    /// which cannot exit while the task runs. Call it from a thread outside
    /// the runtime (move the `Runtime` there, or keep it there and signal
    /// that thread). The panic then drops the runtime as it unwinds, which
    /// stops it as described on [`Runtime`].
    pub fn shutdown(mut self, grace: Duration) -> ShutdownReport {
        if let Some(index) = self.own_worker() {
            panic!(
                "jmpco: Runtime::shutdown called from one of the runtime's own tasks \
                 (on worker {index}): it would wait for its own worker thread to exit, \
                 which cannot happen while the task runs; call it from a thread outside \
                 the runtime (dropping the Runtime in a task stops it, without a grace \
                 period or a report)"
            );
        }
        self.stop(grace)
    }

    /// The index of the worker the caller runs on, if it is one of ours.
    fn own_worker(&self) -> Option<usize> {
        let me = thread::current().id();
        self.threads.iter().position(|t| t.thread().id() == me)
    }

    /// Tells every worker to shut down by `grace` and joins them, except
    /// the caller's own thread if it is one of them (a drop in one of our
    /// tasks): joining itself would fail, and it exits by itself once the
    /// task returns to its loop.
    fn stop(&mut self, grace: Duration) -> ShutdownReport {
        let deadline = deadline_after(grace);
        for r in &self.handle.shared.remotes {
            r.send(Message::Shutdown(deadline));
        }
        let me = thread::current().id();
        for t in self.threads.drain(..) {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
        ShutdownReport {
            cancelled: self.cancelled.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop(Duration::ZERO);
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("worker_threads", &self.handle.worker_threads())
            .finish()
    }
}

/// A worker's accept loop: one task per connection, on this worker.
fn accept_loop<H>(listener: std::net::TcpListener, handler: Arc<H>)
where
    H: Fn(TcpStream) + Send + Sync + 'static,
{
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => return eprintln!("jmpco: accept loop cannot start: {e}"),
    };
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let handler = handler.clone();
                let spawned = with_scheduler(|sched| {
                    let sched = sched.expect("an accept loop runs on its worker");
                    spawn_on(sched, Role::Work, move || handler(stream))
                });
                if let Err(e) = spawned {
                    eprintln!("jmpco: dropping a connection, cannot spawn its task: {e}");
                }
            }
            Err(e) => {
                eprintln!("jmpco: accept failed: {e}");
                task::sleep(Duration::from_millis(10));
            }
        }
    }
}
