//! The native server shell: everything that needs the operating system (files, sockets, clocks).

pub mod file_store;
