//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod child;

use std::cell::Cell;
use std::rc::Rc;

/// Counts how many clones were made and how many were dropped.
#[derive(Debug)]
pub struct DropCounter {
    counts: Rc<(Cell<usize>, Cell<usize>)>,
}

impl DropCounter {
    pub fn new() -> Self {
        let counts = Rc::new((Cell::new(1), Cell::new(0)));
        DropCounter { counts }
    }

    /// Values made, including the first.
    pub fn created(&self) -> usize {
        self.counts.0.get()
    }

    pub fn dropped(&self) -> usize {
        self.counts.1.get()
    }
}

impl Clone for DropCounter {
    fn clone(&self) -> Self {
        self.counts.0.set(self.counts.0.get() + 1);
        DropCounter {
            counts: self.counts.clone(),
        }
    }
}

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.counts.1.set(self.counts.1.get() + 1);
    }
}
