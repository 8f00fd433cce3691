//! The core test matrix: every behaviour of `Coroutine`, run once per
//! backend (`sjlj::*`, `ucontext::*` and `asm::*`). Tests that must crash the process
//! run their scenario in a child process (see `support/child.rs`).

mod support;

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use jmpco::{Backend, Coroutine, CoroutineResult, Error, State};
use support::child;
use support::DropCounter;

/// Instantiates each listed `fn name(backend: Backend)` as `sjlj::name`,
/// `ucontext::name` and `asm::name`.
macro_rules! matrix {
    ($($name:ident),* $(,)?) => {
        mod sjlj {
            $( #[test] fn $name() { super::$name(jmpco::Backend::Sjlj) } )*
        }
        mod ucontext {
            $( #[test] fn $name() { super::$name(jmpco::Backend::Ucontext) } )*
        }
        mod asm {
            $( #[test] fn $name() { super::$name(jmpco::Backend::Asm) } )*
        }
    };
}

matrix!(
    value_ping_pong,
    first_resume_input_is_the_body_argument,
    owned_values_cross_without_leaks_or_double_drops,
    nested_coroutines_track_current,
    hundred_thousand_alive_at_once_then_dropped,
    panic_becomes_except_and_resurfaces,
    drop_while_suspended_runs_destructors,
    drop_unstarted_drops_closure_without_running_it,
    drop_after_body_catches_cancel_and_suspends_again_leaks_its_stack,
    suspended_again_with_a_panicking_value_never_hands_its_live_stack_on,
    body_that_keeps_swallowing_its_cancellation_is_leaked_not_hung,
    cancel_payload_reraised_elsewhere_is_an_ordinary_panic,
    destructor_panic_during_cancel_surfaces_from_drop,
    destructor_panic_while_unwinding_a_cancel_aborts_the_process,
    suspend_while_unwinding_a_panic_aborts_instead_of_leaking_the_unwind,
    coroutine_resumed_during_a_panic_runs_to_its_end_but_cannot_suspend,
    panic_out_of_an_unstarted_closure_drop_surfaces_and_frees_the_stack,
    drop_while_thread_is_panicking_still_unwinds_coroutine,
    resume_after_term_is_an_error,
    resume_after_except_is_an_error,
    resume_panics_with_clear_message_when_finished,
    reset_reuses_the_stack,
    reset_of_unfinished_coroutine_is_refused,
    current_inside_and_outside,
    ids_first_asked_inside_stay_the_same_outside_and_across_reset,
    suspend_outside_own_coroutine_panics,
    deep_recursion_close_to_the_stack_size,
    stack_overflow_aborts_with_message,
    overflow_on_a_spawned_thread_is_reported_too,
    faults_outside_guards_keep_their_default_action,
    backtrace_inside_coroutine_completes,
    closure_too_big_for_the_stack_is_an_error,
    fresh_stacks_work_like_pooled_ones,
);

fn build<I: 'static, Y: 'static, R: 'static>(
    backend: Backend,
    body: impl FnOnce(&jmpco::Yielder<I, Y>, I) -> R + 'static,
) -> Coroutine<I, Y, R> {
    Coroutine::builder()
        .backend(backend)
        .build(body)
        .expect("a coroutine")
}

fn value_ping_pong(backend: Backend) {
    let mut co = build(backend, |y, mut n: u64| {
        for _ in 0..1000 {
            n = y.suspend(n * 2);
        }
        n + 1
    });
    assert_eq!(co.state(), State::Ready);
    for i in 0..1000u64 {
        assert_eq!(co.resume(i), CoroutineResult::Yield(i * 2));
        assert_eq!(co.state(), State::Hold);
    }
    assert_eq!(co.resume(7), CoroutineResult::Return(8));
    assert_eq!(co.state(), State::Term);
}

fn first_resume_input_is_the_body_argument(backend: Backend) {
    let mut co = build(backend, |y, first: &'static str| {
        let second = y.suspend(first.len());
        format!("{first}+{second}")
    });
    assert_eq!(co.resume("abc"), CoroutineResult::Yield(3));
    assert_eq!(
        co.resume("de"),
        CoroutineResult::Return("abc+de".to_string())
    );
}

fn owned_values_cross_without_leaks_or_double_drops(backend: Backend) {
    let drops = DropCounter::new();
    let d = drops.clone();
    let mut co = build(backend, move |y, input: DropCounter| {
        drop(input);
        for _ in 0..10 {
            let got = y.suspend(d.clone());
            drop(got);
        }
        d.clone()
    });
    let mut yielded = Vec::new();
    let mut input = drops.clone();
    loop {
        match co.resume(input) {
            CoroutineResult::Yield(v) => yielded.push(v),
            CoroutineResult::Return(v) => {
                yielded.push(v);
                break;
            }
        }
        input = drops.clone();
    }
    assert_eq!(yielded.len(), 11);
    drop(yielded);
    drop(co);
    // 11 inputs and 11 outputs made and dropped, the body's own clone too.
    assert_eq!(
        drops.created(),
        drops.dropped() + 1,
        "only `drops` itself is alive"
    );
}

fn nested_coroutines_track_current(backend: Backend) {
    let mut outer = build(backend, move |y, ()| {
        let outer_id = jmpco::current().expect("inside outer");
        assert_eq!(outer_id, y.id());
        let mut inner = Coroutine::builder()
            .backend(backend)
            .build(move |yi: &jmpco::Yielder<(), _>, ()| {
                let inner_id = jmpco::current().expect("inside inner");
                yi.suspend((inner_id, 1));
                (jmpco::current().unwrap(), 2)
            })
            .unwrap();
        let (inner_id, one) = inner.resume(()).as_yield().unwrap();
        assert_eq!(one, 1);
        assert_eq!(inner_id, inner.id());
        assert_ne!(inner_id, outer_id);
        assert_eq!(
            jmpco::current(),
            Some(outer_id),
            "back in outer after inner yields"
        );
        y.suspend(10);
        let (again, two) = inner.resume(()).as_return().unwrap();
        assert_eq!((again, two), (inner_id, 2));
        assert_eq!(jmpco::current(), Some(outer_id));
        20
    });
    assert_eq!(outer.resume(()), CoroutineResult::Yield(10));
    assert_eq!(jmpco::current(), None);
    assert_eq!(outer.resume(()), CoroutineResult::Return(20));
}

fn hundred_thousand_alive_at_once_then_dropped(backend: Backend) {
    let count = 100_000;
    let drops = DropCounter::new();
    let mut all = Vec::with_capacity(count);
    for i in 0..count {
        let d = drops.clone();
        let mut co = Coroutine::builder()
            .backend(backend)
            .stack_size(16 * 1024)
            .build(move |y: &jmpco::Yielder<(), usize>, ()| {
                let _alive = d;
                y.suspend(i);
                unreachable!("never resumed a second time");
            })
            .expect("a coroutine");
        assert_eq!(co.resume(()), CoroutineResult::Yield(i));
        all.push(co);
    }
    assert!(all.iter().all(|c| c.state() == State::Hold));
    assert_eq!(drops.dropped(), 0);
    drop(all);
    assert_eq!(drops.dropped(), count, "every suspended body was unwound");
}

fn panic_becomes_except_and_resurfaces(backend: Backend) {
    let mut co = build(backend, |y: &jmpco::Yielder<(), ()>, ()| {
        y.suspend(());
        panic!("boom from the body");
    });
    co.resume(());
    let caught = panic::catch_unwind(AssertUnwindSafe(|| co.resume(())));
    let payload = caught.expect_err("the body's panic resurfaces");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom from the body"));
    assert_eq!(co.state(), State::Except);
    assert_eq!(jmpco::current(), None);
}

fn drop_while_suspended_runs_destructors(backend: Backend) {
    let drops = DropCounter::new();
    let d = drops.clone();
    let mut co = build(backend, move |y: &jmpco::Yielder<(), ()>, ()| {
        let _a = d.clone();
        let _b = Box::new([d.clone(), d.clone()]);
        loop {
            y.suspend(());
        }
    });
    co.resume(());
    co.resume(());
    assert_eq!(drops.dropped(), 0);
    drop(co);
    // _a, both in _b, and `d` moved into the closure.
    assert_eq!(drops.dropped(), 4);
}

fn drop_unstarted_drops_closure_without_running_it(backend: Backend) {
    let drops = DropCounter::new();
    let ran = Rc::new(Cell::new(false));
    let (d, r) = (drops.clone(), ran.clone());
    let co = build(backend, move |_: &jmpco::Yielder<(), ()>, ()| {
        r.set(true);
        drop(d);
    });
    assert_eq!(co.state(), State::Ready);
    drop(co);
    assert!(!ran.get());
    assert_eq!(drops.dropped(), 1);
}

fn drop_after_body_catches_cancel_and_suspends_again_leaks_its_stack(backend: Backend) {
    let drops = DropCounter::new();
    let d = drops.clone();
    let mut co = build(backend, move |y: &jmpco::Yielder<(), ()>, ()| {
        let _kept = d;
        // A stubborn body: swallows the first unwinding and suspends again.
        let _ = panic::catch_unwind(AssertUnwindSafe(|| y.suspend(())));
        y.suspend(());
    });
    co.resume(());
    let bottom = co.stack_bottom();
    drop(co);
    // Not asked twice: its frames (and `_kept`) stay where they are, and the
    // stack is never handed to another coroutine.
    assert_eq!(drops.dropped(), 0);
    let next = build(backend, |_: &jmpco::Yielder<(), ()>, ()| ());
    assert_ne!(next.stack_bottom(), bottom, "a live stack was reused");
}

/// Issue: a body caught its cancellation and suspended again, yielding a
/// value whose destructor panics; the panic unwound out of `drop` and the
/// stack went back to the pool with the body's frames alive.
fn suspended_again_with_a_panicking_value_never_hands_its_live_stack_on(backend: Backend) {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("the yielded value's destructor");
        }
    }
    const PATTERN: [u8; 512] = [0x5a; 512];
    let local_at = Rc::new(Cell::new(0usize));
    let at = local_at.clone();
    let mut co = build(backend, move |y: &jmpco::Yielder<(), PanicOnDrop>, ()| {
        // A local on the coroutine's stack that something could borrow.
        let local = std::hint::black_box(PATTERN);
        at.set(local.as_ptr() as usize);
        let _ = panic::catch_unwind(AssertUnwindSafe(|| y.suspend(PanicOnDrop)));
        y.suspend(PanicOnDrop);
        std::hint::black_box(&local);
    });
    let first = co.resume(()).as_yield().expect("first suspend");
    std::mem::forget(first);
    let bottom = co.stack_bottom();
    let caught = panic::catch_unwind(AssertUnwindSafe(move || drop(co)));
    let payload = caught.expect_err("the value's panic comes out of drop");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"the yielded value's destructor")
    );
    // Other coroutines run and scribble over their stacks: none gets that one.
    for _ in 0..8 {
        let mut other = build(backend, |_: &jmpco::Yielder<(), ()>, ()| {
            std::hint::black_box([0xa5u8; 2048]);
        });
        assert_ne!(other.stack_bottom(), bottom, "a live stack was reused");
        other.resume(());
    }
    // SAFETY: the leaked stack stays mapped and nothing else uses it; the
    // address is that of a live 512-byte local on it.
    let still = unsafe { std::slice::from_raw_parts(local_at.get() as *const u8, 512) };
    assert_eq!(
        still,
        &PATTERN[..],
        "the leaked stack's frames were overwritten"
    );
}

/// Issue: `loop { let _ = catch_unwind(|| y.suspend(())); }` made `drop` hang.
fn body_that_keeps_swallowing_its_cancellation_is_leaked_not_hung(backend: Backend) {
    let scenario = format!("swallow-{}", backend.name());
    if child::is(&scenario) {
        let mut co = build(backend, |y: &jmpco::Yielder<(), ()>, ()| loop {
            let _ = panic::catch_unwind(AssertUnwindSafe(|| y.suspend(())));
        });
        co.resume(());
        eprintln!("child: coroutine {} is dropped", co.id());
        drop(co);
        eprintln!("child: drop returned");
        return;
    }
    let out = child::run(
        &format!(
            "{}::body_that_keeps_swallowing_its_cancellation_is_leaked_not_hung",
            backend.name()
        ),
        &scenario,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let id = out
        .stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("child: coroutine ")?
                .strip_suffix(" is dropped")
        })
        .expect("the child printed its coroutine id");
    let report = format!("jmpco: coroutine {id} suspended again instead of unwinding");
    assert_eq!(out.stderr.matches(&report).count(), 1, "{out:?}");
    assert!(out.stderr.contains("child: drop returned"), "{out:?}");
}

/// Issue: a body kept its cancellation payload and another coroutine
/// re-raised it; the process aborted with an internal error.
fn cancel_payload_reraised_elsewhere_is_an_ordinary_panic(backend: Backend) {
    type Payload = Box<dyn std::any::Any + Send>;
    let kept: Rc<Cell<Option<Payload>>> = Rc::new(Cell::new(None));
    let k = kept.clone();
    let mut thief = build(backend, move |y: &jmpco::Yielder<(), ()>, ()| {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| y.suspend(()))) {
            k.set(Some(payload));
        }
    });
    thief.resume(());
    drop(thief);
    let payload = kept.take().expect("the body caught its cancellation");
    let mut raiser = build(backend, move |_: &jmpco::Yielder<(), ()>, ()| {
        panic::resume_unwind(payload)
    });
    let caught = panic::catch_unwind(AssertUnwindSafe(|| raiser.resume(())));
    assert!(
        caught.is_err(),
        "the re-raised payload resurfaces in the resumer"
    );
    assert_eq!(raiser.state(), State::Except);
}

fn destructor_panic_during_cancel_surfaces_from_drop(backend: Backend) {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                panic!("destructor panicked");
            }
        }
    }
    // Unwinding (a cancel) is in progress while the destructor runs, so it
    // does not panic; a panic in a destructor of the *finishing* body does.
    let mut co = build(backend, |y: &jmpco::Yielder<(), ()>, ()| {
        let guard = PanicOnDrop;
        y.suspend(());
        drop(guard);
    });
    co.resume(());
    let caught = panic::catch_unwind(AssertUnwindSafe(|| co.resume(())));
    assert!(caught.is_err());
    assert_eq!(co.state(), State::Except);

    // A body that panics while being cancelled: the panic leaves `drop`.
    let mut co = build(backend, |y: &jmpco::Yielder<(), ()>, ()| {
        let result = panic::catch_unwind(AssertUnwindSafe(|| y.suspend(())));
        if result.is_err() {
            panic!("panicked while cancelled");
        }
    });
    co.resume(());
    let caught = panic::catch_unwind(AssertUnwindSafe(move || drop(co)));
    let payload = caught.expect_err("the panic comes out of drop");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"panicked while cancelled")
    );
}

/// A destructor that panics while the cancellation unwinds is a panic
/// during unwinding: Rust aborts, and `drop` cannot report it.
fn destructor_panic_while_unwinding_a_cancel_aborts_the_process(backend: Backend) {
    let scenario = format!("cancel-dtor-panic-{}", backend.name());
    if child::is(&scenario) {
        struct AlwaysPanics;
        impl Drop for AlwaysPanics {
            fn drop(&mut self) {
                panic!("destructor panicked during the cancel");
            }
        }
        let mut co = build(backend, |y: &jmpco::Yielder<(), ()>, ()| {
            let _guard = AlwaysPanics;
            y.suspend(());
        });
        co.resume(());
        drop(co);
        unreachable!("the destructor's panic during unwinding aborts");
    }
    let out = child::run(
        &format!(
            "{}::destructor_panic_while_unwinding_a_cancel_aborts_the_process",
            backend.name()
        ),
        &scenario,
    );
    assert_eq!(out.signal, Some(libc::SIGABRT), "{out:?}");
    assert!(
        out.stderr.contains("destructor panicked during the cancel"),
        "{out:?}"
    );
}

/// Issue: a destructor run by the body's panic suspended; the resumer (and
/// everything after it) saw `std::thread::panicking()` for a panic not its
/// own. Now the suspend itself panics, during unwinding: the process aborts
/// with a message naming the coroutine.
fn suspend_while_unwinding_a_panic_aborts_instead_of_leaking_the_unwind(backend: Backend) {
    let scenario = format!("suspend-unwinding-{}", backend.name());
    if child::is(&scenario) {
        struct SuspendsOnDrop<'a>(&'a jmpco::Yielder<(), ()>);
        impl Drop for SuspendsOnDrop<'_> {
            fn drop(&mut self) {
                self.0.suspend(());
            }
        }
        let mut co = build(backend, |y: &jmpco::Yielder<(), ()>, ()| {
            let _guard = SuspendsOnDrop(y);
            panic!("the body's own panic");
        });
        eprintln!("child: coroutine {} starts", co.id());
        let _ = co.resume(());
        eprintln!(
            "child: resumer sees panicking() = {}",
            std::thread::panicking()
        );
        unreachable!("the suspend while unwinding aborts");
    }
    let out = child::run(
        &format!(
            "{}::suspend_while_unwinding_a_panic_aborts_instead_of_leaking_the_unwind",
            backend.name()
        ),
        &scenario,
    );
    assert_eq!(out.signal, Some(libc::SIGABRT), "{out:?}");
    let id = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("child: coroutine ")?.strip_suffix(" starts"))
        .expect("the child printed its coroutine id");
    let expected = format!("jmpco: coroutine {id} cannot suspend while the thread unwinds");
    assert!(out.stderr.contains(&expected), "{out:?}");
    assert!(!out.stderr.contains("resumer sees"), "{out:?}");
}

/// std keeps one panic count per thread, so a suspend cannot tell the
/// body's unwind from its resumer's: a coroutine resumed from a destructor
/// during a panic may run to its end, but its suspend panics (the body ends
/// `Except`, and the panic continues in the resumer), and the resumer's
/// unwind continues afterwards as if nothing happened.
fn coroutine_resumed_during_a_panic_runs_to_its_end_but_cannot_suspend(backend: Backend) {
    struct ResumesOnDrop {
        finisher: Coroutine<(), u32, u32>,
        generator: Coroutine<(), u32, ()>,
        seen: Rc<Cell<Vec<String>>>,
    }
    impl Drop for ResumesOnDrop {
        fn drop(&mut self) {
            let mut seen = self.seen.take();
            seen.push(format!("{:?}", self.finisher.resume(())));
            let refused = panic::catch_unwind(AssertUnwindSafe(|| self.generator.resume(())));
            let payload = refused.expect_err("the suspend is refused");
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            seen.push(message);
            seen.push(format!("{:?}", self.generator.state()));
            self.seen.set(seen);
        }
    }
    let seen = Rc::new(Cell::new(Vec::new()));
    let guard = ResumesOnDrop {
        finisher: build(backend, |_: &jmpco::Yielder<(), u32>, ()| 41 + 1),
        generator: build(backend, |y: &jmpco::Yielder<(), u32>, ()| {
            y.suspend(1);
        }),
        seen: seen.clone(),
    };
    let result = panic::catch_unwind(AssertUnwindSafe(move || {
        let _guard = guard;
        panic!("the resumer's panic");
    }));
    assert!(result.is_err());
    assert!(!std::thread::panicking(), "no unwind is left behind");
    let seen = seen.take();
    assert_eq!(seen[0], "Return(42)");
    assert!(
        seen[1].contains("cannot suspend while the thread unwinds"),
        "{seen:?}"
    );
    assert_eq!(seen[2], "Except");
}

/// A capture of an unstarted closure whose destructor panics: the panic
/// continues from `drop`, and the stack (with no frame on it) is reused.
fn panic_out_of_an_unstarted_closure_drop_surfaces_and_frees_the_stack(backend: Backend) {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("a capture's destructor");
        }
    }
    let capture = PanicOnDrop;
    let co = build(backend, move |_: &jmpco::Yielder<(), ()>, ()| drop(capture));
    let bottom = co.stack_bottom();
    let caught = panic::catch_unwind(AssertUnwindSafe(move || drop(co)));
    assert!(caught.is_err());
    let next = build(backend, |_: &jmpco::Yielder<(), ()>, ()| ());
    assert_eq!(
        next.stack_bottom(),
        bottom,
        "the free stack went back to the pool"
    );
}

fn drop_while_thread_is_panicking_still_unwinds_coroutine(backend: Backend) {
    let drops = DropCounter::new();
    let d = drops.clone();
    let result = panic::catch_unwind(AssertUnwindSafe(move || {
        let mut co = build(backend, move |y: &jmpco::Yielder<(), ()>, ()| {
            let _kept = d;
            y.suspend(());
        });
        co.resume(());
        panic!("outer panic while a coroutine is suspended");
    }));
    assert!(result.is_err());
    assert_eq!(drops.dropped(), 1);
}

fn resume_after_term_is_an_error(backend: Backend) {
    let mut co = build(backend, |_: &jmpco::Yielder<(), ()>, ()| 5);
    assert_eq!(co.resume(()), CoroutineResult::Return(5));
    assert!(matches!(
        co.try_resume(()),
        Err(Error::Finished(State::Term))
    ));
    assert_eq!(co.state(), State::Term, "a refused resume changes nothing");
}

fn resume_after_except_is_an_error(backend: Backend) {
    let mut co = build(backend, |_: &jmpco::Yielder<(), ()>, ()| panic!("x"));
    let _ = panic::catch_unwind(AssertUnwindSafe(|| co.resume(())));
    assert!(matches!(
        co.try_resume(()),
        Err(Error::Finished(State::Except))
    ));
}

fn resume_panics_with_clear_message_when_finished(backend: Backend) {
    let mut co = build(backend, |_: &jmpco::Yielder<(), ()>, ()| ());
    co.resume(());
    let payload = panic::catch_unwind(AssertUnwindSafe(|| co.resume(()))).unwrap_err();
    let message = payload
        .downcast_ref::<String>()
        .expect("a formatted message");
    assert!(
        message.contains("cannot resume a finished coroutine"),
        "{message}"
    );
}

fn reset_reuses_the_stack(backend: Backend) {
    let mut co = build(backend, |y: &jmpco::Yielder<u32, u32>, n| y.suspend(n) + 1);
    let (id, bottom) = (co.id(), co.stack_bottom());
    assert_eq!(co.resume(1), CoroutineResult::Yield(1));
    assert_eq!(co.resume(2), CoroutineResult::Return(3));
    co.reset(|y, n| y.suspend(n * 10) * 10)
        .expect("reset a finished coroutine");
    assert_eq!(co.state(), State::Ready);
    assert_eq!(
        (co.id(), co.stack_bottom()),
        (id, bottom),
        "same id, same stack"
    );
    assert_eq!(co.resume(4), CoroutineResult::Yield(40));
    assert_eq!(co.resume(5), CoroutineResult::Return(50));
    // And from Except.
    co.reset(|_, _| panic!("fails")).unwrap();
    let _ = panic::catch_unwind(AssertUnwindSafe(|| co.resume(0)));
    co.reset(|_, n| n).unwrap();
    assert_eq!(co.resume(9), CoroutineResult::Return(9));
}

fn reset_of_unfinished_coroutine_is_refused(backend: Backend) {
    let mut co = build(backend, |y: &jmpco::Yielder<(), ()>, ()| y.suspend(()));
    assert!(matches!(
        co.reset(|_, ()| ()),
        Err(Error::NotFinished(State::Ready))
    ));
    co.resume(());
    assert!(matches!(
        co.reset(|_, ()| ()),
        Err(Error::NotFinished(State::Hold))
    ));
    assert_eq!(co.resume(()), CoroutineResult::Return(()));
}

fn current_inside_and_outside(backend: Backend) {
    assert_eq!(jmpco::current(), None);
    let mut co = build(backend, |y: &jmpco::Yielder<(), _>, ()| {
        let first = jmpco::current();
        y.suspend(first);
        jmpco::current()
    });
    let id = co.id();
    assert_eq!(co.resume(()), CoroutineResult::Yield(Some(id)));
    assert_eq!(jmpco::current(), None);
    assert_eq!(co.resume(()), CoroutineResult::Return(Some(id)));
    assert_eq!(jmpco::current(), None);
}

/// A coroutine's id is drawn when first asked for, wherever that is: here
/// inside (`current`) before its owner or anyone else asked. It must be the
/// one the owner sees afterwards, stay across `reset`, and differ from every
/// other coroutine's, asked before or after.
fn ids_first_asked_inside_stay_the_same_outside_and_across_reset(backend: Backend) {
    let before = build(backend, |_: &jmpco::Yielder<(), ()>, ()| ()).id();
    let mut co = build(backend, |_: &jmpco::Yielder<(), ()>, ()| jmpco::current());
    let never_asked = build(backend, |_: &jmpco::Yielder<(), ()>, ()| ());
    let inside = co
        .resume(())
        .as_return()
        .unwrap()
        .expect("inside a coroutine");
    assert_eq!(co.id(), inside);
    co.reset(|_, ()| jmpco::current()).unwrap();
    assert_eq!(co.id(), inside, "reset keeps the id");
    assert_eq!(co.resume(()).as_return().unwrap(), Some(inside));
    let after = build(backend, |_: &jmpco::Yielder<(), ()>, ()| ()).id();
    let ids = [before, inside, never_asked.id(), after];
    for (i, a) in ids.iter().enumerate() {
        assert_ne!(a.as_u64(), 0);
        for b in &ids[i + 1..] {
            assert_ne!(a, b, "ids {ids:?}");
        }
    }
    // Asking again gives the same answer.
    assert_eq!(never_asked.id(), ids[2]);
}

/// Only debug builds check: safe code cannot commit this misuse (see
/// `Yielder`'s docs), so release builds skip the check, and this test,
/// which needs `unsafe` to smuggle the yielder, would be undefined
/// behaviour there.
fn suspend_outside_own_coroutine_panics(backend: Backend) {
    if !cfg!(debug_assertions) {
        return;
    }
    let mut outer = build(backend, move |y: &jmpco::Yielder<(), ()>, ()| {
        // Smuggle the outer yielder's address into a nested coroutine.
        let outer_yielder = y as *const jmpco::Yielder<(), ()> as usize;
        let mut inner = Coroutine::builder()
            .backend(backend)
            .build(move |_: &jmpco::Yielder<(), ()>, ()| {
                // SAFETY: the outer body is suspended in `resume` below, so
                // its yielder is alive; using it from here is the misuse.
                let wrong = unsafe { &*(outer_yielder as *const jmpco::Yielder<(), ()>) };
                panic::catch_unwind(AssertUnwindSafe(|| wrong.suspend(()))).is_err()
            })
            .unwrap();
        assert_eq!(inner.resume(()), CoroutineResult::Return(true));
    });
    assert_eq!(outer.resume(()), CoroutineResult::Return(()));
}

/// Recurses `depth` times with a 1 KiB frame each.
#[inline(never)]
fn recurse(depth: usize) -> usize {
    let mut frame = [0u8; 1024];
    frame[depth % 1024] = depth as u8;
    let below = if depth == 0 { 0 } else { recurse(depth - 1) };
    std::hint::black_box(&mut frame);
    below + frame[depth % 1024] as usize
}

fn deep_recursion_close_to_the_stack_size(backend: Backend) {
    let size = 256 * 1024;
    // Leave ~15% for the control block, contexts and test-harness frames.
    let depth = size * 85 / 100 / 1100;
    let mut co = Coroutine::builder()
        .backend(backend)
        .stack_size(size)
        .build(move |_: &jmpco::Yielder<(), ()>, ()| recurse(depth))
        .unwrap();
    assert!(co.resume(()).as_return().is_some());
}

/// On a pooled stack (in a slab) and on a fresh one (a mapping of its own):
/// the handler finds the coroutine through the stack registry either way.
fn stack_overflow_aborts_with_message(backend: Backend) {
    for pooled in [true, false] {
        let scenario = format!("overflow-{}-{pooled}", backend.name());
        if child::is(&scenario) {
            let mut co = Coroutine::builder()
                .backend(backend)
                .stack_size(32 * 1024)
                .pooled(pooled)
                .build(|_: &jmpco::Yielder<(), ()>, ()| {
                    recurse(1_000_000);
                })
                .unwrap();
            eprintln!("child: coroutine {} starts", co.id());
            co.resume(());
            unreachable!("the overflow must abort");
        }
        let out = child::run(
            &format!("{}::stack_overflow_aborts_with_message", backend.name()),
            &scenario,
        );
        assert_eq!(
            out.signal,
            Some(libc::SIGABRT),
            "child died by SIGABRT (pooled: {pooled}): {out:?}"
        );
        let id = out
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("child: coroutine ")?.strip_suffix(" starts"))
            .expect("the child printed its coroutine id");
        let expected = format!("jmpco: coroutine {id} overflowed its 32768-byte stack");
        assert!(out.stderr.contains(&expected), "stderr: {}", out.stderr);
    }
}

fn overflow_on_a_spawned_thread_is_reported_too(backend: Backend) {
    let scenario = format!("thread-overflow-{}", backend.name());
    if child::is(&scenario) {
        std::thread::spawn(move || {
            let mut co = Coroutine::builder()
                .backend(backend)
                .stack_size(16 * 1024)
                .build(|_: &jmpco::Yielder<(), ()>, ()| {
                    recurse(1_000_000);
                })
                .unwrap();
            co.resume(());
        })
        .join()
        .unwrap();
        unreachable!("the overflow must abort");
    }
    let test = format!(
        "{}::overflow_on_a_spawned_thread_is_reported_too",
        backend.name()
    );
    let out = child::run(&test, &scenario);
    assert_eq!(out.signal, Some(libc::SIGABRT), "{out:?}");
    // Nobody asked this coroutine its id: the handler draws it, and it is
    // a real one (never 0).
    let id: u64 = out
        .stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("jmpco: coroutine ")?
                .strip_suffix(" overflowed its 16384-byte stack")
        })
        .unwrap_or_else(|| panic!("no overflow message: {}", out.stderr))
        .parse()
        .expect("a numeric id");
    assert_ne!(id, 0);
}

fn faults_outside_guards_keep_their_default_action(backend: Backend) {
    let scenario = format!("wild-write-{}", backend.name());
    if child::is(&scenario) {
        let mut co = build(backend, |_: &jmpco::Yielder<(), ()>, ()| {
            // A fault that is not an overflow: jmpco must pass it on.
            // SAFETY: deliberately invalid; this child process is meant to die.
            unsafe { std::ptr::write_volatile(16 as *mut u64, 1) };
        });
        co.resume(());
        unreachable!("the wild write must kill the process");
    }
    let test = format!(
        "{}::faults_outside_guards_keep_their_default_action",
        backend.name()
    );
    let out = child::run(&test, &scenario);
    assert_eq!(out.signal, Some(libc::SIGSEGV), "{out:?}");
    assert!(!out.stderr.contains("overflowed"), "{}", out.stderr);
}

#[inline(never)]
fn capture_in_body() -> String {
    std::backtrace::Backtrace::force_capture().to_string()
}

fn backtrace_inside_coroutine_completes(backend: Backend) {
    let mut co = build(backend, |_: &jmpco::Yielder<(), ()>, ()| capture_in_body());
    let trace = co.resume(()).as_return().unwrap();
    assert!(
        trace.contains("capture_in_body"),
        "the trace names the body's function: {trace}"
    );
    assert!(
        trace.contains("coroutine::entry::entry"),
        "it reaches the entry: {trace}"
    );
    // The walk stops at the entry instead of wandering into the resumer's
    // stack or garbage: only a handful of frames follow it.
    let frames = trace
        .lines()
        .filter(|l| {
            l.trim_start()
                .as_bytes()
                .first()
                .is_some_and(u8::is_ascii_digit)
        })
        .count();
    assert!(frames < 20, "{frames} frames: {trace}");
}

fn closure_too_big_for_the_stack_is_an_error(backend: Backend) {
    let big = [7u8; 64 * 1024];
    let result = Coroutine::builder()
        .backend(backend)
        .stack_size(16 * 1024)
        .build(move |_: &jmpco::Yielder<(), ()>, ()| big[0]);
    let Err(Error::Io(e)) = result else {
        panic!("expected an Io error");
    };
    assert!(e.to_string().contains("too little room"), "{e}");
}

/// Fresh stacks switch, and `current()` finds them (each is a mapping of
/// its own in the stack registry), also after others were unmapped.
fn fresh_stacks_work_like_pooled_ones(backend: Backend) {
    let fresh = || {
        Coroutine::builder()
            .backend(backend)
            .pooled(false)
            .build(
                |y: &jmpco::Yielder<u8, (u8, Option<jmpco::CoroutineId>)>, n| {
                    y.suspend((n, jmpco::current())) + 1
                },
            )
            .unwrap()
    };
    let mut dropped = fresh();
    assert!(dropped.resume(0).as_yield().is_some());
    drop(dropped);
    let mut co = fresh();
    assert_eq!(co.resume(1), CoroutineResult::Yield((1, Some(co.id()))));
    assert_eq!(co.resume(2), CoroutineResult::Return(3));
    assert_eq!(jmpco::current(), None);
}

#[test]
fn zero_stack_size_is_invalid_input() {
    let result = Coroutine::builder()
        .stack_size(0)
        .build(|_: &jmpco::Yielder<(), ()>, ()| ());
    assert!(matches!(result, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::InvalidInput));
}

#[test]
fn backends_parse_from_their_names() {
    for b in Backend::ALL {
        assert_eq!(b.name().parse::<Backend>(), Ok(b));
    }
    assert!("fibers"
        .parse::<Backend>()
        .unwrap_err()
        .contains("unknown backend"));
}
