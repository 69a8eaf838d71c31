//! The host that runs tools. STUB.
