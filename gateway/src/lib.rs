//! The Switchyard federation gateway (landing in the gateway issue).
