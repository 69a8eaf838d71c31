//! The Jupyter wire format. STUB.
