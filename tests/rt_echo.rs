//! The echo server over loopback: the byte-stream rule, backpressure,
//! resets and half-closes. Every test runs for both backends with 1 and 2
//! worker threads (`sjlj_1::*`, `sjlj_2::*`, `ucontext_1::*`, `ucontext_2::*`).

mod rt_support;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use jmpco::Backend;
use rt_support::{client, echo_server, linger_zero, pattern, read_n, watchdog};

macro_rules! matrix {
    ($($name:ident),* $(,)?) => {
        mod sjlj_1 { $( #[test] fn $name() { super::$name(jmpco::Backend::Sjlj, 1) } )* }
        mod sjlj_2 { $( #[test] fn $name() { super::$name(jmpco::Backend::Sjlj, 2) } )* }
        mod ucontext_1 { $( #[test] fn $name() { super::$name(jmpco::Backend::Ucontext, 1) } )* }
        mod ucontext_2 { $( #[test] fn $name() { super::$name(jmpco::Backend::Ucontext, 2) } )* }
    };
}

matrix!(
    small_writes_coalesce_and_large_writes_split_yet_echo_byte_exactly,
    sixteen_mib_echo_while_client_writes_and_reads_concurrently,
    client_reset_mid_stream_does_not_disturb_the_others,
    half_closed_client_gets_all_its_bytes_then_eof,
    connections_spread_over_every_worker,
);

fn small_writes_coalesce_and_large_writes_split_yet_echo_byte_exactly(b: Backend, w: usize) {
    watchdog(60, "byte_stream", || {
        let (rt, addr) = echo_server(w, b);
        let data = pattern(3 << 20, 7);
        let mut s = client(addr);
        let mut writer = s.try_clone().unwrap();
        let to_send = data.clone();
        let sender = thread::spawn(move || {
            // 3,000 tiny writes (Nagle and the server's reads merge them),
            // then writes of 1 MiB (the kernel and the server split them).
            let mut at = 0;
            for i in 0..3000 {
                let n = 1 + i % 13;
                writer.write_all(&to_send[at..at + n]).unwrap();
                at += n;
            }
            for chunk in to_send[at..].chunks(1 << 20) {
                writer.write_all(chunk).unwrap();
            }
        });
        let got = read_n(&mut s, data.len()).unwrap();
        sender.join().unwrap();
        assert!(got == data, "echo differs from what was sent");
        rt.shutdown(Duration::ZERO);
    });
}

fn sixteen_mib_echo_while_client_writes_and_reads_concurrently(b: Backend, w: usize) {
    watchdog(120, "16mib", || {
        let (rt, addr) = echo_server(w, b);
        let data = pattern(16 << 20, 11);
        let mut s = client(addr);
        let mut writer = s.try_clone().unwrap();
        let to_send = data.clone();
        let sender = thread::spawn(move || writer.write_all(&to_send).unwrap());
        let mut got = Vec::with_capacity(data.len());
        let mut buf = vec![0u8; 64 * 1024];
        let mut reads = 0;
        while got.len() < data.len() {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "EOF after {} bytes", got.len());
            got.extend_from_slice(&buf[..n]);
            reads += 1;
        }
        sender.join().unwrap();
        assert!(got == data, "16 MiB echo differs");
        assert!(
            reads > 16,
            "the echo came in {reads} reads: no partial writes?"
        );
        rt.shutdown(Duration::ZERO);
    });
}

fn client_reset_mid_stream_does_not_disturb_the_others(b: Backend, w: usize) {
    watchdog(60, "reset", || {
        let (rt, addr) = echo_server(w, b);
        let mut good: Vec<_> = (0..8).map(|_| client(addr)).collect();
        for (i, s) in good.iter_mut().enumerate() {
            s.write_all(&pattern(1000, i as u64)).unwrap();
            assert_eq!(read_n(s, 1000).unwrap(), pattern(1000, i as u64));
        }
        // Several clients send a lot without reading, then reset (RST): the
        // server is mid-write to them.
        for i in 0..4 {
            let mut bad = client(addr);
            let mut sent = 0;
            bad.set_write_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            while sent < 4 << 20 {
                match bad.write(&pattern(64 * 1024, i)) {
                    Ok(n) => sent += n,
                    Err(_) => break,
                }
            }
            linger_zero(&bad);
            drop(bad);
        }
        thread::sleep(Duration::from_millis(50));
        for (i, s) in good.iter_mut().enumerate() {
            let msg = pattern(5000, 100 + i as u64);
            s.write_all(&msg).unwrap();
            assert_eq!(read_n(s, msg.len()).unwrap(), msg, "client {i} disturbed");
        }
        rt.shutdown(Duration::ZERO);
    });
}

fn half_closed_client_gets_all_its_bytes_then_eof(b: Backend, w: usize) {
    watchdog(60, "half_close", || {
        let (rt, addr) = echo_server(w, b);
        let data = pattern(256 * 1024, 3);
        let mut s = client(addr);
        let mut writer = s.try_clone().unwrap();
        let to_send = data.clone();
        let sender = thread::spawn(move || {
            writer.write_all(&to_send).unwrap();
            writer.shutdown(Shutdown::Write).unwrap();
        });
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap(); // ends at the server's EOF
        sender.join().unwrap();
        assert!(got == data, "got {} of {} bytes", got.len(), data.len());
        rt.shutdown(Duration::ZERO);
    });
}

fn connections_spread_over_every_worker(b: Backend, w: usize) {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    watchdog(60, "spread", || {
        let rt = jmpco::rt::Runtime::builder()
            .worker_threads(w)
            .backend(b)
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let seen2 = seen.clone();
        let addr = rt
            .serve("127.0.0.1:0".parse().unwrap(), move |s| {
                seen2
                    .lock()
                    .unwrap()
                    .insert(thread::current().name().unwrap().to_owned());
                rt_support::echo(s);
            })
            .unwrap();
        for i in 0..64 {
            let mut s = client(addr);
            s.write_all(&[i]).unwrap();
            assert_eq!(read_n(&mut s, 1).unwrap(), [i]);
        }
        assert_eq!(seen.lock().unwrap().len(), w, "{:?}", seen.lock().unwrap());
        rt.shutdown(Duration::ZERO);
    });
}
