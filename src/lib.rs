//! # jmpco: stackful coroutines on a setjmp/longjmp switch
//!
//! A coroutine is a function with a stack of its own that can stop in the
//! middle ([`Yielder::suspend`]) and be continued later ([`Coroutine::resume`]).
//! Switching between coroutines is a user-space jump of a few dozen
//! nanoseconds, and a parked coroutine costs one touched stack page, where
//! a thread costs a kernel switch and megabytes of reserved stack: the
//! reason to serve one client per coroutine instead of one per thread.
//!
//! (The *seed notes*, "the notes" below, are the design notes jmpco grew
//! from: they argue that a thread costs megabytes of stack and a kernel
//! switch where a coroutine costs a page and a user-space switch, and they
//! name what this crate keeps: three ways to switch, five states, `GetThis`
//! and `Reset`.)
//!
//! The switch itself is a small C shim (`csrc/`): `_setjmp`/`_longjmp` plus
//! a stack-pointer move to enter a fresh stack ([`Backend::Sjlj`], the
//! default), `ucontext` ([`Backend::Ucontext`], the classic
//! `swapcontext` way) as the baseline to compare with, and a hand-written
//! x86-64 switch ([`Backend::Asm`]).
//!
//! ## The model
//! * [`Coroutine<I, Y, R>`](Coroutine) takes `I` on every resume, yields `Y`,
//!   returns `R`. Its [`State`] is one of five: `Ready`, `Exec`, `Hold`,
//!   `Term`, `Except`.
//! * Coroutines nest: a body may create and resume others. [`current`] is the
//!   running one (a coroutine class's `GetThis`).
//! * A panic in a body is caught on the coroutine's stack, the coroutine
//!   becomes `Except`, and the panic continues in the resumer.
//! * Dropping a suspended coroutine unwinds its stack, so its locals are
//!   dropped (see the failure model below for every edge of that).
//! * Stacks come from a per-thread pool of `mmap`ed, guard-protected stacks
//!   ([`stack`]); overflowing one aborts with a message naming the coroutine.
//! * A coroutine is not `Send`: it stays on the thread that made it.
//! * C programs get the same coroutines through [`ffi`], whose exports are
//!   declared in the generated header `include/jmpco.h`.
//! * [`rt`] is an epoll runtime built on them: one coroutine per client,
//!   `TcpStream`s that park the coroutine instead of the thread, timers,
//!   worker threads and graceful shutdown.
//!
//! ## Example
//! `examples/fibonacci.rs`, the same as in the README (a test keeps the
//! three identical); it prints `[0, 1, 1, 2, 3, 5, 8, 13, 21, 34], then Term`.
#![doc = "```"]
#![doc = include_str!("../examples/fibonacci.rs")]
#![doc = "```"]
//!
//! ## Failure model
//!
#![doc = include_str!("failure_model.md")]

mod coroutine;
#[allow(non_camel_case_types)]
pub mod ffi;
mod overflow;
pub mod rt;
pub mod stack;
mod switch;
#[doc(hidden)]
pub mod sys;

pub use coroutine::{
    current, Builder, Coroutine, CoroutineId, CoroutineResult, Error, State, Yielder,
};
pub use switch::Backend;
