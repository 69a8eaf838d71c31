//! The Lua state and the standard library overrides (print, io, os.exit, ilua.display).
//! STUB: to be implemented.

use super::{EngineConfig, EngineEvent, EngineIo, EngineRequest};

/// One Lua 5.4 state, with output captured into [`EngineEvent`]s.
pub struct Engine {
    _config: EngineConfig,
    _io: EngineIo,
}

impl Engine {
    /// Creates the Lua state. Call it on the thread that will run the engine.
    pub fn new(config: EngineConfig, io: EngineIo) -> Result<Engine, String> {
        Ok(Engine {
            _config: config,
            _io: io,
        })
    }

    /// Runs one request to completion, passing its events to `sink` in order. The last
    /// event is the request's `*Done` event.
    pub fn handle(&mut self, _request: EngineRequest, _sink: &mut dyn FnMut(EngineEvent)) {
        todo!("engine")
    }
}
