//! Issue 13's traffic policy, end to end: the gateway on 127.0.0.1:0 in front
//! of one small subgraph whose received requests are counted, so a refused
//! request is shown to have cost the subgraphs nothing.

mod limits;
