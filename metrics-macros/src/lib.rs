//! Proc macros for Tachometer.
