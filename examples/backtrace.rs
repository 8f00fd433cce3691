//! A backtrace taken inside a coroutine ends at the coroutine's entry, for
//! every backend. Also the target of the gdb test (`tests/gdb.rs`), which
//! breaks in the switch as the coroutine suspends, and in `deepest_frame`
//! once it runs again, and checks gdb's `bt` both times.
//!
//! Run: `cargo run --example backtrace [sjlj|ucontext|asm]`

use jmpco::{Backend, Coroutine, Yielder};

/// Suspends once, then takes the trace (the gdb test breaks here).
#[inline(never)]
fn deepest_frame(yielder: &Yielder<(), ()>) -> String {
    yielder.suspend(());
    std::backtrace::Backtrace::force_capture().to_string()
}

#[inline(never)]
fn middle_frame(depth: u32, yielder: &Yielder<(), ()>) -> String {
    if depth == 0 {
        deepest_frame(yielder)
    } else {
        middle_frame(depth - 1, yielder)
    }
}

fn main() {
    let backends: Vec<Backend> = match std::env::args().nth(1) {
        Some(name) => vec![name.parse().unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        })],
        None => Backend::ALL.to_vec(),
    };
    for backend in backends {
        let mut co: Coroutine<(), (), String> = Coroutine::builder()
            .backend(backend)
            .build(|yielder: &Yielder<(), ()>, ()| middle_frame(2, yielder))
            .expect("a coroutine");
        co.resume(()).as_yield().expect("the body suspends once");
        let trace = co.resume(()).as_return().expect("then returns");
        println!("--- inside a {backend} coroutine:\n{trace}");
    }
}
