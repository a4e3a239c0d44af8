//! The locks of the core's cold paths — registration, a family's first sight of a label
//! set, a meter's 5 s tick, an HDR window's rotation, a callback gauge's swap — as
//! `std::sync` locks with `parking_lot`'s shape (no `Result` on `lock`).
//!
//! Recording never takes them. They replaced `parking_lot`, which brought six crates
//! into every build of a library that only records. As with `parking_lot`, a panic while
//! a lock is held does not poison it: every critical section here leaves its data valid
//! between statements (counts only grow, tables are published whole), so the next
//! holder proceeds with what is there.

use std::sync::{self, PoisonError, TryLockError};

pub(crate) use std::sync::{MutexGuard, RwLockReadGuard, RwLockWriteGuard};

/// A mutual-exclusion lock that ignores poisoning.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(sync::Mutex<T>);

impl<T> Mutex<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(sync::Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Exclusive access without locking (the caller owns the mutex).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.0.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// `None` if another thread holds the lock.
    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        match self.0.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

/// A reader-writer lock that ignores poisoning.
#[derive(Debug, Default)]
pub(crate) struct RwLock<T>(sync::RwLock<T>);

impl<T> RwLock<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(sync::RwLock::new(value))
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    #[test]
    fn a_panic_under_the_lock_does_not_poison_it() {
        let m = Mutex::new(1);
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let mut g = m.lock();
            *g = 2;
            panic!("while locked");
        }));
        assert_eq!(*m.lock(), 2);
        assert_eq!(m.try_lock().map(|g| *g), Some(2));

        let rw = RwLock::new(1);
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let mut g = rw.write();
            *g = 3;
            panic!("while write-locked");
        }));
        assert_eq!(*rw.read(), 3);
    }

    #[test]
    fn try_lock_fails_while_held() {
        let m = Mutex::new(());
        let held = m.lock();
        assert!(m.try_lock().is_none());
        drop(held);
        assert!(m.try_lock().is_some());
    }
}
