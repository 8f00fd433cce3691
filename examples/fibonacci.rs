//! The README's and the crate docs' example: a generator of Fibonacci
//! numbers, suspended after each one.
//!
//! Run: `cargo run --example fibonacci`

use jmpco::{Coroutine, CoroutineResult};

fn main() {
    let mut fib: Coroutine<(), u64, &str> = Coroutine::new(|yielder, ()| {
        let (mut a, mut b) = (0, 1);
        while a < 50 {
            yielder.suspend(a);
            (a, b) = (b, a + b);
        }
        "done"
    });
    let mut seen = Vec::new();
    while let CoroutineResult::Yield(n) = fib.resume(()) {
        seen.push(n);
    }
    assert_eq!(seen, [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
    assert_eq!(fib.state(), jmpco::State::Term);
    println!("{seen:?}, then {:?}", fib.state());
}
