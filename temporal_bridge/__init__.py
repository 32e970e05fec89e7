"""temporal_bridge: durable Lua workflows on Temporal behind the Host seam."""
