//! The Jupyter kernel state machine. STUB.
