//! Tests of the stream layer, one file per rule family.
